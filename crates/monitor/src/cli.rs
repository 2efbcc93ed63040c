//! The command line the daemon uses (see README.md). Hand-parsed: a flag parser library
//! would cost more binary and memory than the whole monitor.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const USAGE: &str = "usage: vessel-monitor --id ID --bundle DIR --runtime PATH \
[--runtime-root DIR] --dir STATE_DIR [--tty] [--stdin] [--log-path FILE] \
[--log-max-size BYTES] [--log-max-files N] [--runtime-arg ARG ...]";

pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const DEFAULT_LOG_MAX_FILES: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: PathBuf,
    pub runtime_root: Option<PathBuf>,
    pub dir: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub log_path: PathBuf,
    pub log_max_size: u64,
    pub log_max_files: u32,
    pub runtime_args: Vec<OsString>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<Args>),
    Help,
    Version,
}

/// Parse the arguments after argv[0]. Paths are made absolute against `cwd`, because the
/// monitor changes to `/` so it never pins the caller's directory.
pub fn parse(argv: impl IntoIterator<Item = OsString>, cwd: &Path) -> Result<Parsed, String> {
    let mut it = argv.into_iter();
    let (mut id, mut bundle, mut runtime, mut root, mut dir, mut log_path) =
        (None, None, None, None, None, None);
    let (mut tty, mut stdin) = (false, false);
    let (mut max_size, mut max_files) = (DEFAULT_LOG_MAX_SIZE, DEFAULT_LOG_MAX_FILES);
    let mut runtime_args = Vec::new();
    while let Some(arg) = it.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("unexpected argument {a:?}\n{USAGE}"))?;
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(OsString::from(v))),
            _ => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--id" => id = Some(string(value("--id")?, "--id")?),
            "--bundle" => bundle = Some(cwd.join(value("--bundle")?)),
            "--runtime" => runtime = Some(PathBuf::from(value("--runtime")?)),
            "--runtime-root" => root = Some(cwd.join(value("--runtime-root")?)),
            "--dir" => dir = Some(cwd.join(value("--dir")?)),
            "--log-path" => log_path = Some(cwd.join(value("--log-path")?)),
            "--log-max-size" => max_size = number(value("--log-max-size")?, "--log-max-size")?,
            "--log-max-files" => {
                max_files = number(value("--log-max-files")?, "--log-max-files")?;
                if max_files == 0 {
                    return Err("--log-max-files must be at least 1".into());
                }
            }
            "--runtime-arg" => runtime_args.push(value("--runtime-arg")?),
            "--tty" | "-t" => tty = true,
            "--stdin" | "-i" => stdin = true,
            "--help" | "-h" => return Ok(Parsed::Help),
            "--version" | "-v" => return Ok(Parsed::Version),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let missing = |name: &str| format!("{name} is required\n{USAGE}");
    let id = id.ok_or_else(|| missing("--id"))?;
    if id.is_empty() || id.contains('/') {
        return Err(format!("--id {id:?} must be a non-empty name without '/'"));
    }
    let dir = dir.ok_or_else(|| missing("--dir"))?;
    let runtime = runtime.ok_or_else(|| missing("--runtime"))?;
    // A bare name is looked up in PATH by exec; a relative path is taken from cwd.
    let runtime = if runtime.components().count() > 1 {
        cwd.join(runtime)
    } else {
        runtime
    };
    Ok(Parsed::Run(Box::new(Args {
        id,
        bundle: bundle.ok_or_else(|| missing("--bundle"))?,
        runtime,
        runtime_root: root,
        log_path: log_path.unwrap_or_else(|| dir.join("log.json")),
        dir,
        tty,
        stdin,
        log_max_size: max_size,
        log_max_files: max_files,
        runtime_args,
    })))
}

fn string(v: OsString, name: &str) -> Result<String, String> {
    v.into_string()
        .map_err(|v| format!("{name} {v:?} is not valid UTF-8"))
}

fn number<T: std::str::FromStr>(v: OsString, name: &str) -> Result<T, String> {
    let s = string(v, name)?;
    s.parse()
        .map_err(|_| format!("{name} {s:?} is not a non-negative integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Args, String> {
        match parse(args.iter().map(OsString::from), Path::new("/cwd"))? {
            Parsed::Run(a) => Ok(*a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_the_full_contract() {
        let a = run(&[
            "--id",
            "c1",
            "--bundle",
            "b",
            "--runtime",
            "/usr/sbin/runc",
            "--runtime-root=/run/r",
            "--dir",
            "/s",
            "--tty",
            "--stdin",
            "--log-max-size",
            "1024",
            "--log-max-files=2",
            "--runtime-arg",
            "--debug",
            "--runtime-arg=--systemd-cgroup",
        ])
        .unwrap();
        assert_eq!(a.id, "c1");
        assert_eq!(a.bundle, Path::new("/cwd/b"));
        assert_eq!(a.runtime_root.as_deref(), Some(Path::new("/run/r")));
        assert_eq!(a.log_path, Path::new("/s/log.json"));
        assert!(a.tty && a.stdin);
        assert_eq!((a.log_max_size, a.log_max_files), (1024, 2));
        assert_eq!(a.runtime_args, ["--debug", "--systemd-cgroup"]);
    }

    #[test]
    fn defaults_bound_the_log() {
        let a = run(&[
            "--id",
            "c",
            "--bundle",
            "/b",
            "--runtime",
            "runc",
            "--dir",
            "/s",
        ])
        .unwrap();
        assert_eq!(a.log_max_size, DEFAULT_LOG_MAX_SIZE);
        assert_eq!(a.log_max_files, DEFAULT_LOG_MAX_FILES);
        assert_eq!(a.runtime, Path::new("runc"));
        assert!(!a.tty && !a.stdin && a.runtime_root.is_none());
    }

    #[test]
    fn rejects_bad_input_with_the_flag_named() {
        let e = run(&["--id", "c", "--bundle", "/b", "--runtime", "r"]).unwrap_err();
        assert!(e.starts_with("--dir is required"), "{e}");
        let e = run(&["--id", "c", "--log-max-size", "big"]).unwrap_err();
        assert!(e.contains("--log-max-size \"big\""), "{e}");
        let e = run(&["--bogus"]).unwrap_err();
        assert!(e.contains("--bogus"), "{e}");
        let e = run(&[
            "--id",
            "a/b",
            "--bundle",
            "/b",
            "--runtime",
            "r",
            "--dir",
            "/s",
        ]);
        assert!(e.unwrap_err().contains("without '/'"));
    }
}
