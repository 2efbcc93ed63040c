//! process.args, process.env and process.cwd, merged from the create request and the image the
//! way moby's `daemon.merge` + `getEntrypointAndArgs` + `CreateDaemonEnvironment` do.

use crate::create::{non_empty, ContainerConfig};
use crate::image::ImageConfig;
use crate::SpecError;

/// Docker's default PATH for Linux containers (`system.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the engine's init (tini) is bind-mounted for `--init`. `/dev` is a tmpfs the runtime
/// creates, so the bind needs no mount point in the image and works with a read-only rootfs.
pub const INIT_PATH: &str = "/dev/init";

/// Entrypoint + Cmd, as moby merges them:
/// - a create request with a non-empty `Entrypoint` replaces the image's entrypoint, and then
///   only the request's own `Cmd` is used (the image's Cmd belongs to the image's entrypoint);
///   `Entrypoint: [""]` (`--entrypoint ""`) resets the entrypoint to nothing;
/// - otherwise `Cmd` comes from the request, or else from the image, and the entrypoint from the
///   image unless the request sent an explicit empty list.
pub fn merge_args(create: &ContainerConfig, image: &ImageConfig) -> Result<Vec<String>, SpecError> {
    let create_cmd = create.cmd.clone().unwrap_or_default();
    let (entrypoint, cmd) = match &create.entrypoint {
        Some(ep) if !ep.is_empty() => {
            let ep = if ep.len() == 1 && ep[0].is_empty() {
                Vec::new()
            } else {
                ep.clone()
            };
            (ep, create_cmd)
        }
        explicit => {
            let cmd = if create_cmd.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                create_cmd
            };
            let ep = match explicit {
                None => image.entrypoint.clone().unwrap_or_default(),
                Some(_) => Vec::new(),
            };
            (ep, cmd)
        }
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() || args[0].is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// `["/dev/init", "--", args...]` for `--init` (tini reaps zombies and forwards signals).
pub fn with_init(args: Vec<String>) -> Vec<String> {
    [INIT_PATH.to_string(), "--".to_string()]
        .into_iter()
        .chain(args)
        .collect()
}

/// Replace entries of `base` by key with `overrides` (moby's `ReplaceOrAppendEnvValues`): a
/// bare `KEY` in the overrides removes the key.
pub fn replace_or_append_env(base: &mut Vec<String>, overrides: &[String]) {
    for e in overrides {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        let pos = base
            .iter()
            .position(|b| b.split_once('=').map_or(b.as_str(), |(k, _)| k) == key);
        match (pos, e.contains('=')) {
            (Some(i), true) => base[i] = e.clone(),
            (None, true) => base.push(e.clone()),
            (Some(i), false) => {
                base.remove(i);
            }
            (None, false) => {}
        }
    }
}

/// Final environment: `PATH` (default), `HOSTNAME`, `TERM=xterm` with a TTY, then the image's
/// env and the request's env, each replacing earlier values by key.
pub fn merge_env(create: &ContainerConfig, image: &ImageConfig, hostname: &str) -> Vec<String> {
    let mut config_env = image.env.clone().unwrap_or_default();
    replace_or_append_env(&mut config_env, create.env.as_deref().unwrap_or_default());

    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if create.tty.unwrap_or(false) {
        env.push("TERM=xterm".to_string());
    }
    replace_or_append_env(&mut env, &config_env);
    env
}

/// process.cwd: the request's WorkingDir, the image's, or `/`. Docker cleans the path and
/// requires it to be absolute.
pub fn working_dir(create: &ContainerConfig, image: &ImageConfig) -> Result<String, SpecError> {
    let wd = non_empty(&create.working_dir)
        .or(non_empty(&image.working_dir))
        .unwrap_or("/");
    if !wd.starts_with('/') {
        return Err(SpecError::InvalidResource {
            flag: "workdir",
            value: wd.to_string(),
            reason: "the working directory is invalid, it needs to be an absolute path".into(),
        });
    }
    Ok(clean_path(wd))
}

/// Lexical `filepath.Clean` for absolute paths.
pub(crate) fn clean_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Option<Vec<String>> {
        Some(xs.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn entrypoint_cmd_table() {
        let img = |ep: Option<Vec<String>>, cmd: Option<Vec<String>>| ImageConfig {
            entrypoint: ep,
            cmd,
            ..Default::default()
        };
        let cfg = |ep: Option<Vec<String>>, cmd: Option<Vec<String>>| ContainerConfig {
            entrypoint: ep,
            cmd,
            ..Default::default()
        };
        type Case<'a> = (
            Option<Vec<String>>,
            Option<Vec<String>>,
            Option<Vec<String>>,
            Option<Vec<String>>,
            Option<&'a [&'a str]>,
        );
        let cases: Vec<Case> = vec![
            // image ep, image cmd, create ep, create cmd, expected
            (None, v(&["sh"]), None, None, Some(&["sh"])),
            (
                None,
                v(&["sh"]),
                None,
                v(&["echo", "hi"]),
                Some(&["echo", "hi"]),
            ),
            (v(&["/ep"]), v(&["a"]), None, None, Some(&["/ep", "a"])),
            (v(&["/ep"]), v(&["a"]), None, v(&["b"]), Some(&["/ep", "b"])),
            (v(&["/ep"]), v(&["a"]), v(&["/new"]), None, Some(&["/new"])),
            (
                v(&["/ep"]),
                v(&["a"]),
                v(&["/new"]),
                v(&["b"]),
                Some(&["/new", "b"]),
            ),
            (v(&["/ep"]), v(&["a"]), v(&[""]), v(&["b"]), Some(&["b"])),
            (v(&["/ep"]), v(&["a"]), v(&[""]), None, None),
            (v(&["/ep"]), v(&["a"]), Some(vec![]), None, Some(&["a"])),
            (None, None, None, None, None),
            (None, None, None, Some(vec![]), None),
        ];
        for (i, (iep, icmd, cep, ccmd, want)) in cases.into_iter().enumerate() {
            let got = merge_args(&cfg(cep, ccmd), &img(iep, icmd));
            match want {
                Some(w) => assert_eq!(got.unwrap(), w, "case {i}"),
                None => assert!(
                    matches!(got, Err(SpecError::NoCommand)),
                    "case {i}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn env_merge_order_and_defaults() {
        let image = ImageConfig {
            env: v(&["PATH=/img/bin", "A=1", "B=2"]),
            ..Default::default()
        };
        let create = ContainerConfig {
            env: v(&["B=3", "C=4", "A"]),
            tty: Some(true),
            ..Default::default()
        };
        let env = merge_env(&create, &image, "abc");
        assert_eq!(
            env,
            ["PATH=/img/bin", "HOSTNAME=abc", "TERM=xterm", "B=3", "C=4"]
        );

        let env = merge_env(&ContainerConfig::default(), &ImageConfig::default(), "h");
        assert_eq!(
            env,
            [format!("PATH={DEFAULT_PATH}"), "HOSTNAME=h".to_string()]
        );
    }

    #[test]
    fn workdir() {
        let mut c = ContainerConfig::default();
        let mut i = ImageConfig::default();
        assert_eq!(working_dir(&c, &i).unwrap(), "/");
        i.working_dir = Some("/app/".into());
        assert_eq!(working_dir(&c, &i).unwrap(), "/app");
        c.working_dir = Some("/data/./x/..".into());
        assert_eq!(working_dir(&c, &i).unwrap(), "/data");
        c.working_dir = Some("rel".into());
        assert!(working_dir(&c, &i).is_err());
    }

    #[test]
    fn init_prefix() {
        assert_eq!(with_init(vec!["sh".into()]), ["/dev/init", "--", "sh"]);
    }
}
