//! The steps that produce a layer: RUN (a container on an overlay of the parent) and
//! COPY/ADD (files copied into such an overlay of the parent, or into an empty image after
//! `FROM scratch`). Both look the step up in the cache first.

use super::{say, Executor, StageResult, StageState, PROXY_ARGS};
use crate::cache::step_key;
use crate::copy::{self, Perms};
use crate::error::BuildError;
use crate::instructions::{Command, CopySpec, Network};
use crate::parser::Line;
use crate::plan::{stage_ref, Plan};
use crate::run::{self, RunSpec, StepRootfs};
use std::collections::BTreeMap;

impl Executor<'_> {
    pub(super) fn run_step(
        &mut self,
        st: &mut StageState,
        l: &Line,
        cmd: Command,
        network: Network,
    ) -> Result<(), BuildError> {
        let argv = cmd.argv(&st.config.shell());
        // Build args reach RUN as environment (ENV wins); proxies without being declared.
        let mut arg_env: BTreeMap<String, String> = st.args.clone();
        for p in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(*p) {
                arg_env.insert(p.to_string(), v.clone());
            }
        }
        let image_env = st.config.env();
        arg_env.retain(|k, _| {
            !image_env
                .iter()
                .any(|e| e.split('=').next() == Some(k.as_str()))
        });
        let recorded: Vec<String> = arg_env
            .iter()
            .filter(|(k, _)| !PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // Docker records (and reports) the argv joined by spaces, for both forms.
        let shown = argv.join(" ");
        let created_by = if recorded.is_empty() {
            shown.clone()
        } else {
            format!("|{} {} {shown}", recorded.len(), recorded.join(" "))
        };
        let network = match network {
            Network::Default => self.opts.network,
            explicit => explicit,
        };
        let net = match network {
            Network::Host => "host",
            Network::None | Network::Default => "none",
        };
        let key = step_key(
            &self.parent_key(st),
            &format!(
                "RUN {} network={net}",
                serde_json::to_string(&argv).unwrap_or_default()
            ),
            &recorded.join("\n"),
        );
        if self.cached(st, &key)? {
            return Ok(());
        }
        let parent = st.id.clone().ok_or_else(|| {
            BuildError::invalid(
                l.line,
                "RUN needs a base image with a shell, not FROM scratch alone",
            )
        })?;
        let rootfs = StepRootfs::prepare(self.store, &parent, l.line)?;
        let short = rootfs
            .id
            .trim_start_matches("vessel-build-")
            .chars()
            .take(12)
            .collect::<String>();
        say(self.progress, format!(" ---> Running in {short}\n"));
        let mut env = image_env;
        env.extend(arg_env.iter().map(|(k, v)| format!("{k}={v}")));
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        let display = shown.clone();
        let spec = RunSpec {
            line: l.line,
            argv,
            env,
            user: st.config.string("User"),
            workdir: st.config.string("WorkingDir"),
            network,
            display: &display,
        };
        run::run(&self.opts.run, &rootfs, &spec, self.progress)?;
        let id = self.commit_rootfs(st, &rootfs, l.line, &created_by)?;
        drop(rootfs);
        say(
            self.progress,
            format!("Removing intermediate container {short}\n"),
        );
        self.finish_step(st, &key, id)
    }

    pub(super) fn copy_step(
        &mut self,
        st: &mut StageState,
        l: &Line,
        spec: &CopySpec,
        done: &BTreeMap<usize, StageResult>,
        plan: &Plan,
        index: usize,
    ) -> Result<(), BuildError> {
        let kw = if spec.add { "ADD" } else { "COPY" };
        let settings = format!(
            "{kw} chown={:?} chmod={:?} dest={} workdir={}",
            spec.chown,
            spec.chmod,
            spec.dest,
            st.config.string("WorkingDir")
        );
        // Sources: the context, or the rootfs of a stage or image (mounted only on a miss:
        // an image is immutable, so its id and the source names make the key).
        let src_id = match &spec.from {
            None => None,
            Some(f) => Some(
                match stage_ref(&plan.stages, index, f).and_then(|i| done.get(&i)) {
                    Some(r) => r.id.clone(),
                    None => self.store.resolve(f).map_err(|e| BuildError::BaseImage {
                        line: l.line,
                        image: f.clone(),
                        source: e,
                    })?,
                },
            ),
        };
        let mut src_rootfs = None;
        let (items, content) = match &src_id {
            Some(id) => {
                let names: Vec<&str> = spec
                    .sources
                    .iter()
                    .map(|s| match s {
                        crate::instructions::Source::Path(p) => p.as_str(),
                        crate::instructions::Source::Inline { name, .. } => name.as_str(),
                    })
                    .collect();
                let content = format!("{id} {}", names.join(" "));
                let key = step_key(&self.parent_key(st), &settings, &content);
                if self.cached(st, &key)? {
                    return Ok(());
                }
                let r = StepRootfs::prepare(self.store, id, l.line)?;
                let items = copy::match_sources(spec, &copy::From::Rootfs(&r.merged), l.line)?;
                src_rootfs = Some(r);
                (items, content)
            }
            None => {
                let items = copy::match_sources(spec, &copy::From::Context(self.ctx), l.line)?;
                let content = copy::content_hash(&items, Some(self.ctx), l.line)?;
                (items, content)
            }
        };
        let ctx = if src_rootfs.is_none() {
            Some(self.ctx)
        } else {
            None
        };
        let kind = if items.len() > 1 {
            "multi"
        } else if matches!(items.first(), Some(copy::Item::Path(m)) if m.host.is_dir()) {
            "dir"
        } else {
            "file"
        };
        let from_txt = spec
            .from
            .as_deref()
            .map(|f| format!("--from={f} "))
            .unwrap_or_default();
        let created_by = format!(
            "/bin/sh -c #(nop) {kw} {from_txt}{kind}:{} in {} ",
            content_hash_str(&content),
            spec.dest
        );
        let key = step_key(&self.parent_key(st), &settings, &content);
        if src_id.is_none() && self.cached(st, &key)? {
            return Ok(());
        }
        let rootfs = match &st.id {
            Some(id) => StepRootfs::prepare(self.store, id, l.line)?,
            None => {
                // FROM scratch: start from an empty image so the step has an overlay.
                let id = self.commit(&mut st.config, None, "")?;
                st.id = Some(id.clone());
                StepRootfs::prepare(self.store, &id, l.line)?
            }
        };
        let (uid, gid) = match &spec.chown {
            None => (0, 0),
            Some(c) => {
                let cred = vessel_specgen::resolve_user(c, &rootfs.merged)
                    .map_err(|e| BuildError::invalid(l.line, format!("{kw} --chown={c}: {e}")))?;
                (cred.0, cred.1)
            }
        };
        let perms = Perms {
            uid,
            gid,
            chmod: spec.chmod,
        };
        copy::execute(
            spec,
            &items,
            ctx,
            &rootfs.merged,
            &st.config.string("WorkingDir"),
            &perms,
            l.line,
        )?;
        drop(src_rootfs);
        let id = self.commit_rootfs(st, &rootfs, l.line, &created_by)?;
        drop(rootfs);
        self.finish_step(st, &key, id)
    }
}

fn content_hash_str(content: &str) -> String {
    if content.len() == 64 && content.bytes().all(|b| b.is_ascii_hexdigit()) {
        content.to_string()
    } else {
        crate::cache::step_key("", content, "")
    }
}
