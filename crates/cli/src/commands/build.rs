//! `vessel build`: tar the context (honouring .dockerignore, as the docker CLI does), send it
//! to `POST /build`, print the daemon's progress stream.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use vessel_builder::dockerignore::Ignore;

use crate::client::{query, Client};
use crate::http::Body;

#[derive(clap::Args)]
pub struct Args {
    /// Name and optionally a tag in the 'name:tag' format
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// Name of the Dockerfile (default: 'PATH/Dockerfile')
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Networking mode for the RUN instructions during build (host or none)
    #[arg(long)]
    network: Option<String>,
    /// Always attempt to pull a newer version of the image (images are local: no effect)
    #[arg(long)]
    pull: bool,
    /// Remove intermediate containers after a successful build (always done)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    rm: bool,
    /// Always remove intermediate containers (always done)
    #[arg(long)]
    force_rm: bool,
    /// PATH | - (a context tar, or a Dockerfile, on stdin)
    context: String,
}

fn key_values(list: &[String], from_env: bool) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for kv in list {
        match kv.split_once('=') {
            Some((k, v)) => {
                m.insert(k.to_string(), v.to_string());
            }
            // `--build-arg NAME` takes the value from the environment, as docker does.
            None if from_env => {
                if let Ok(v) = std::env::var(kv) {
                    m.insert(kv.clone(), v);
                }
            }
            None => {
                m.insert(kv.clone(), String::new());
            }
        }
    }
    m
}

/// Append `dir` (context-relative `rel`) to the tar, skipping what .dockerignore excludes.
fn add_tree(
    b: &mut tar::Builder<Vec<u8>>,
    root: &Path,
    rel: &str,
    ignore: &Ignore,
) -> anyhow::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in names {
        let name = n.to_string_lossy();
        let r = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let keep_always = r == "Dockerfile" || r == ".dockerignore";
        let excluded = ignore.excluded(&r) && !keep_always;
        let full = root.join(&r);
        let md = std::fs::symlink_metadata(&full)?;
        if excluded && !(md.is_dir() && ignore.has_exceptions()) {
            continue;
        }
        if !excluded {
            let mut h = tar::Header::new_gnu();
            h.set_metadata_in_mode(&md, tar::HeaderMode::Deterministic);
            h.set_mtime(std::os::unix::fs::MetadataExt::mtime(&md).max(0) as u64);
            if md.file_type().is_symlink() {
                b.append_link(&mut h, &r, std::fs::read_link(&full)?)?;
            } else if md.is_file() {
                b.append_data(&mut h, &r, std::fs::File::open(&full)?)?;
            } else if md.is_dir() {
                b.append_data(&mut h, &r, io::empty())?;
            }
        }
        if md.is_dir() {
            add_tree(b, root, &r, ignore)?;
        }
    }
    Ok(())
}

/// The context tar and the Dockerfile's name in it.
fn context_tar(a: &Args) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    if a.context == "-" {
        let mut input = Vec::new();
        io::stdin().lock().read_to_end(&mut input)?;
        let is_tar = input.len() >= 262 && &input[257..262] == b"ustar";
        let is_gz = input.starts_with(&[0x1f, 0x8b]);
        if is_tar || is_gz {
            return Ok((input, a.file.clone()));
        }
        // A Dockerfile on stdin, with an empty context.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(input.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "Dockerfile", &input[..])?;
        return Ok((b.into_inner()?, None));
    }
    let root = std::fs::canonicalize(&a.context)
        .with_context(|| format!("unable to prepare context: path {:?} not found", a.context))?;
    let ignore = std::fs::read_to_string(root.join(".dockerignore"))
        .map(|t| Ignore::parse(&t))
        .unwrap_or_default();
    let mut b = tar::Builder::new(Vec::new());
    add_tree(&mut b, &root, "", &ignore)?;
    // `-f` is relative to the current directory; one outside the context is sent along.
    let mut dockerfile = None;
    if let Some(f) = &a.file {
        let p = std::fs::canonicalize(f).with_context(|| format!("Dockerfile {f} not found"))?;
        match p.strip_prefix(&root) {
            Ok(rel) => dockerfile = Some(rel.to_string_lossy().into_owned()),
            Err(_) => {
                let text = std::fs::read(&p)?;
                let name = ".vessel-dockerfile";
                let mut h = tar::Header::new_gnu();
                h.set_size(text.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, name, &text[..])?;
                dockerfile = Some(name.to_string());
            }
        }
    }
    Ok((b.into_inner()?, dockerfile))
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let (tar, dockerfile) = context_tar(&a)?;
    let mut build_args = key_values(&a.build_args, true);
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        build_args.entry("SOURCE_DATE_EPOCH".into()).or_insert(v);
    }
    let labels = key_values(&a.labels, false);
    let mut pairs: Vec<(&str, Option<String>)> =
        a.tags.iter().map(|t| ("t", Some(t.clone()))).collect();
    pairs.push((
        "dockerfile",
        dockerfile.or_else(|| Some("Dockerfile".into())),
    ));
    if !build_args.is_empty() {
        pairs.push(("buildargs", Some(serde_json::to_string(&build_args)?)));
    }
    if !labels.is_empty() {
        pairs.push(("labels", Some(serde_json::to_string(&labels)?)));
    }
    pairs.push(("nocache", super::qbool(a.no_cache)));
    pairs.push(("target", a.target.clone()));
    pairs.push(("q", super::qbool(a.quiet)));
    pairs.push(("networkmode", a.network.clone()));
    pairs.push(("pull", super::qbool(a.pull)));
    pairs.push(("rm", super::qbool(a.rm)));
    pairs.push(("forcerm", super::qbool(a.force_rm)));
    let mut body: &[u8] = &tar;
    let resp = c.request(
        "POST",
        &format!("/build{}", query(&pairs)),
        Body::Stream(&mut body, "application/x-tar"),
    )?;
    let mut out = io::stdout().lock();
    for msg in serde_json::Deserializer::from_reader(resp).into_iter::<Value>() {
        let msg = msg.context("reading the daemon's build output")?;
        if let Some(e) = msg["errorDetail"]["message"]
            .as_str()
            .or(msg["error"].as_str())
        {
            let code = msg["errorDetail"]["code"].as_i64().unwrap_or(1) as i32;
            return Err(super::Exit(if code == 0 { 1 } else { code }, e.to_string()).into());
        }
        if let Some(s) = msg["stream"].as_str() {
            out.write_all(s.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn context_tar_honours_dockerignore() {
        let d = tempfile::tempdir().unwrap();
        let w = |p: &str, c: &str| {
            let full = d.path().join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, c).unwrap();
        };
        w("Dockerfile", "FROM x\n");
        w(".dockerignore", "*.log\nDockerfile\nbuild\n!build/keep\n");
        w("a.log", "");
        w("src/main.c", "");
        w("build/out", "");
        w("build/keep", "");
        let mut b = tar::Builder::new(Vec::new());
        let ignore =
            Ignore::parse(&std::fs::read_to_string(d.path().join(".dockerignore")).unwrap());
        add_tree(&mut b, d.path(), "", &ignore).unwrap();
        let names = entries(&b.into_inner().unwrap());
        assert_eq!(
            names,
            vec![
                ".dockerignore",
                "Dockerfile",
                "build/keep",
                "src",
                "src/main.c"
            ]
        );
    }

    #[test]
    fn build_args_from_env_and_values() {
        std::env::set_var("VESSEL_TEST_BUILD_ARG_X", "from-env");
        let m = key_values(
            &[
                "A=1".into(),
                "VESSEL_TEST_BUILD_ARG_X".into(),
                "UNSET_VESSEL_ARG".into(),
            ],
            true,
        );
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(
            m.get("VESSEL_TEST_BUILD_ARG_X").map(String::as_str),
            Some("from-env")
        );
        assert!(!m.contains_key("UNSET_VESSEL_ARG"));
    }
}
