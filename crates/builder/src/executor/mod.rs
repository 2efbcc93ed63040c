//! Runs the planned stages step by step: expansion, cache lookup, then the step itself, each
//! step committed as an (untagged) image whose id the next step builds on, as Docker's legacy
//! builder does.

mod layers;

use crate::cache::{step_key, Cache};
use crate::context::Context;
use crate::error::BuildError;
use crate::expand::Vars;
use crate::gofmt::{self, plain_list, quoted_list};
use crate::imgconfig::ImageConfig;
use crate::instructions::{resolve, Instr};
use crate::parser::{parse, Line};
use crate::plan::{stage_ref, Plan};
use crate::progress::{short_id, Event, Progress};
use crate::run::StepRootfs;
use crate::BuildOptions;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use vessel_image::ImageStore;

/// Build args usable in RUN without an ARG line, and kept out of history and cache keys.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The result of a finished stage, for later `FROM <stage>` and `COPY --from`.
#[derive(Clone)]
struct StageResult {
    id: String,
    config: ImageConfig,
}

/// A metadata step's edit of the stage, replayed on a cache hit for builder-side state.
type Apply = Box<dyn FnOnce(&mut StageState)>;

struct StageState {
    /// Current image id; `None` for `FROM scratch` before the first step.
    id: Option<String>,
    config: ImageConfig,
    /// ARGs declared in this stage, with their values (unset ones are absent).
    args: BTreeMap<String, String>,
    cmd_set: bool,
}

pub(crate) struct Executor<'a> {
    pub store: &'a ImageStore,
    pub ctx: &'a Context,
    pub opts: &'a BuildOptions,
    pub progress: &'a mut dyn Progress,
    pub escape: char,
    pub cache: Cache,
    pub created: String,
    /// Build args some ARG declared (for the "not consumed" warning).
    pub consumed: BTreeSet<String>,
    pub step: usize,
    pub total: usize,
}

fn say(p: &mut dyn Progress, s: impl Into<String>) {
    p.emit(Event::Stream(s.into()));
}

impl Executor<'_> {
    pub(crate) fn run_plan(&mut self, plan: &Plan) -> Result<String, BuildError> {
        // Meta ARGs: visible to FROM lines only (and to stages that redeclare them).
        let mut meta = Vars::new();
        for l in &plan.meta_args {
            if let Instr::Arg(list) = resolve(l, &meta, self.escape)? {
                for (k, default) in list {
                    self.consumed.insert(k.clone());
                    if let Some(v) = self.opts.build_args.get(&k).cloned().or(default) {
                        meta.insert(k, v);
                    }
                }
            }
        }
        let mut results: BTreeMap<usize, StageResult> = BTreeMap::new();
        let last = *plan.needed.last().expect("a plan has a target");
        for &i in &plan.needed {
            let stage = &plan.stages[i];
            let mut lines = stage.lines.clone();
            if i == last && !self.opts.labels.is_empty() {
                // Docker's legacy builder appends the --label options as a last LABEL step.
                let text = self
                    .opts
                    .labels
                    .iter()
                    .map(|(k, v)| label_pair(k, v))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut l = parse(&format!("LABEL {text}\n"))?.lines.remove(0);
                l.line = lines.last().map(|l| l.line).unwrap_or(0);
                lines.push(l);
            }
            let res = self.run_stage(plan, i, &lines, &meta, &results)?;
            results.insert(i, res);
        }
        Ok(results[&last].id.clone())
    }

    fn run_stage(
        &mut self,
        plan: &Plan,
        index: usize,
        lines: &[Line],
        meta: &Vars,
        done: &BTreeMap<usize, StageResult>,
    ) -> Result<StageResult, BuildError> {
        let from = &lines[0];
        self.header(from);
        let Instr::From { image, .. } = resolve(from, meta, self.escape)? else {
            return Err(BuildError::invalid(from.line, "expected FROM"));
        };
        let mut st = if image == "scratch" {
            StageState {
                id: None,
                config: ImageConfig::scratch(),
                args: BTreeMap::new(),
                cmd_set: false,
            }
        } else if let Some(dep) =
            stage_ref(&plan.stages, index, &image).filter(|_| !image.contains([':', '/', '@']))
        {
            let r = done.get(&dep).ok_or_else(|| {
                BuildError::invalid(from.line, format!("stage {image} was not built"))
            })?;
            StageState {
                id: Some(r.id.clone()),
                config: r.config.clone(),
                args: BTreeMap::new(),
                cmd_set: false,
            }
        } else {
            let base = |e| BuildError::BaseImage {
                line: from.line,
                image: image.clone(),
                source: e,
            };
            let id = self.store.resolve(&image).map_err(base)?;
            let bytes = self.store.config_bytes(&id).map_err(base)?;
            let config = ImageConfig::from_bytes(&bytes).map_err(|e| {
                BuildError::invalid(from.line, format!("image {image}: config is not JSON: {e}"))
            })?;
            StageState {
                id: Some(id),
                config,
                args: BTreeMap::new(),
                cmd_set: false,
            }
        };
        say(
            self.progress,
            format!(" ---> {}\n", st.id.as_deref().map(short_id).unwrap_or("")),
        );
        // ONBUILD triggers of the base run first, then are cleared from the new image.
        let triggers = st.config.strings("OnBuild").unwrap_or_default();
        if !triggers.is_empty() {
            st.config.set("OnBuild", Value::Null);
            let n = triggers.len();
            let s = if n == 1 { "" } else { "s" };
            say(self.progress, format!("# Executing {n} build trigger{s}\n"));
            for t in &triggers {
                let mut l = parse(&format!("{t}\n"))
                    .map_err(|e| {
                        BuildError::invalid(
                            from.line,
                            format!("ONBUILD trigger {t:?}: {}", e.message),
                        )
                    })?
                    .lines
                    .remove(0);
                l.line = from.line;
                self.step_in_stage(&mut st, &l, meta, done, plan, index)?;
            }
        }
        for l in &lines[1..] {
            self.header(l);
            self.step_in_stage(&mut st, l, meta, done, plan, index)?;
        }
        let id = match st.id {
            Some(id) => id,
            // `FROM scratch` with no steps: an image with no layers.
            None => self.commit(&mut st.config, None, "")?,
        };
        Ok(StageResult {
            id,
            config: st.config,
        })
    }

    fn header(&mut self, l: &Line) {
        self.step += 1;
        say(
            self.progress,
            format!("Step {}/{} : {}\n", self.step, self.total, l.original),
        );
    }

    /// Variables for expansion: declared ARGs, overridden by ENV.
    fn vars(st: &StageState) -> Vars {
        let mut v: Vars = st.args.clone();
        for e in st.config.env() {
            let (k, val) = e.split_once('=').unwrap_or((&e, ""));
            v.insert(k.to_string(), val.to_string());
        }
        v
    }

    fn step_in_stage(
        &mut self,
        st: &mut StageState,
        l: &Line,
        meta: &Vars,
        done: &BTreeMap<usize, StageResult>,
        plan: &Plan,
        index: usize,
    ) -> Result<(), BuildError> {
        let instr = resolve(l, &Self::vars(st), self.escape)?;
        // Docker prefixes metadata steps with the shell in effect (the new one for SHELL).
        let shell = st.config.shell().join(" ");
        let nop = |s: &str| format!("{shell} #(nop) {s}");
        match instr {
            Instr::From { .. } => Err(BuildError::invalid(l.line, "FROM inside a stage")),
            Instr::Run { cmd, network } => self.run_step(st, l, cmd, network),
            Instr::Copy(spec) => self.copy_step(st, l, &spec, done, plan, index),
            Instr::Arg(list) => {
                let mut shown = Vec::new();
                for (k, default) in list {
                    self.consumed.insert(k.clone());
                    let v = self
                        .opts
                        .build_args
                        .get(&k)
                        .cloned()
                        .or(default.clone())
                        .or_else(|| meta.get(&k).cloned());
                    shown.push(match &default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    match v {
                        Some(v) => st.args.insert(k, v),
                        None => st.args.remove(&k),
                    };
                }
                let by = nop(&format!(" ARG {}", shown.join(" ")));
                self.meta_step(st, &by, |_| {})
            }
            other => {
                let (by, apply): (String, Apply) = match other {
                    Instr::Env(kv) => {
                        let text = kv
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ");
                        (
                            nop(&format!(" ENV {text}")),
                            Box::new(move |s: &mut StageState| {
                                for (k, v) in &kv {
                                    s.config.set_env(k, v);
                                }
                            }),
                        )
                    }
                    Instr::Label(kv) => {
                        let text = kv
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ");
                        (
                            nop(&format!(" LABEL {text}")),
                            Box::new(move |s: &mut StageState| {
                                for (k, v) in &kv {
                                    s.config.add_label(k, v);
                                }
                            }),
                        )
                    }
                    Instr::Workdir(w) => {
                        let cur = st.config.string("WorkingDir");
                        let abs = if w.starts_with('/') {
                            w
                        } else {
                            format!(
                                "{}/{w}",
                                if cur.is_empty() {
                                    ""
                                } else {
                                    cur.trim_end_matches('/')
                                }
                            )
                        };
                        let abs =
                            format!("/{}", crate::fsroot::clean_rel(&abs).unwrap_or_default());
                        (
                            nop(&format!("WORKDIR {abs}")),
                            Box::new(move |s: &mut StageState| {
                                s.config.set("WorkingDir", json!(abs))
                            }),
                        )
                    }
                    Instr::User(u) => (
                        nop(&format!(" USER {u}")),
                        Box::new(move |s: &mut StageState| s.config.set("User", json!(u))),
                    ),
                    Instr::Expose { ports, raw } => (
                        nop(&format!(" EXPOSE {}", raw.join(" "))),
                        Box::new(move |s: &mut StageState| {
                            for p in &ports {
                                s.config.add_to_set("ExposedPorts", p);
                            }
                        }),
                    ),
                    Instr::Volume(vs) => (
                        nop(&format!(" VOLUME {}", plain_list(&vs))),
                        Box::new(move |s: &mut StageState| {
                            for v in &vs {
                                s.config.add_to_set("Volumes", v);
                            }
                        }),
                    ),
                    Instr::StopSignal(sig) => (
                        nop(&format!(" STOPSIGNAL {sig}")),
                        Box::new(move |s: &mut StageState| s.config.set("StopSignal", json!(sig))),
                    ),
                    Instr::Shell(sh) => (
                        format!("{} #(nop)  SHELL {}", sh.join(" "), plain_list(&sh)),
                        Box::new(move |s: &mut StageState| s.config.set("Shell", json!(sh))),
                    ),
                    Instr::Cmd(c) => {
                        let argv = c.argv(&st.config.shell());
                        (
                            nop(&format!(" CMD {}", quoted_list(&argv))),
                            Box::new(move |s: &mut StageState| {
                                s.config.set("Cmd", json!(argv));
                                s.cmd_set = true;
                            }),
                        )
                    }
                    Instr::Entrypoint(c) => {
                        let argv = c.argv(&st.config.shell());
                        (
                            nop(&format!(" ENTRYPOINT {}", quoted_list(&argv))),
                            Box::new(move |s: &mut StageState| {
                                s.config.set("Entrypoint", json!(argv));
                                // An inherited CMD belonged to the old entrypoint.
                                if !s.cmd_set {
                                    s.config.set("Cmd", Value::Null);
                                }
                            }),
                        )
                    }
                    Instr::Healthcheck(h) => {
                        let mut v = json!({"Test": h.test});
                        for (k, x) in [
                            ("Interval", h.interval),
                            ("Timeout", h.timeout),
                            ("StartPeriod", h.start_period),
                            ("StartInterval", h.start_interval),
                            ("Retries", h.retries),
                        ] {
                            if let Some(x) = x {
                                v[k] = json!(x);
                            }
                        }
                        (
                            nop(&format!(" HEALTHCHECK {}", gofmt::healthcheck(&h))),
                            Box::new(move |s: &mut StageState| s.config.set("Healthcheck", v)),
                        )
                    }
                    Instr::OnBuild(t) => (
                        nop(&format!(" ONBUILD {t}")),
                        Box::new(move |s: &mut StageState| {
                            let mut list = s.config.strings("OnBuild").unwrap_or_default();
                            list.push(t);
                            s.config.set("OnBuild", json!(list));
                        }),
                    ),
                    Instr::Maintainer(m) => (
                        nop(&format!(" MAINTAINER {m}")),
                        Box::new(move |s: &mut StageState| {
                            if let Some(o) = s.config.doc.as_object_mut() {
                                o.insert("author".into(), json!(m));
                            }
                        }),
                    ),
                    Instr::From { .. } | Instr::Run { .. } | Instr::Copy(_) | Instr::Arg(_) => {
                        unreachable!("handled above")
                    }
                };
                self.meta_step(st, &by, apply)
            }
        }
    }

    /// The parent part of a step key; SOURCE_DATE_EPOCH is part of it, since it changes
    /// every `created` time and so every image id.
    fn parent_key(&self, st: &StageState) -> String {
        let p = st.id.clone().unwrap_or_else(|| "scratch".into());
        match self.opts.source_date_epoch {
            Some(e) => format!("{p} source-date-epoch={e}"),
            None => p,
        }
    }

    /// Look up `key`; on a hit move the stage to the cached image and say so.
    fn cached(&mut self, st: &mut StageState, key: &str) -> Result<bool, BuildError> {
        if self.opts.no_cache {
            return Ok(false);
        }
        let Some(id) = self.cache.get(key) else {
            return Ok(false);
        };
        let Ok(bytes) = self.store.config_bytes(&id) else {
            return Ok(false); // the image was removed since
        };
        let Ok(cfg) = ImageConfig::from_bytes(&bytes) else {
            return Ok(false);
        };
        say(self.progress, " ---> Using cache\n");
        say(self.progress, format!(" ---> {}\n", short_id(&id)));
        st.config = cfg;
        st.id = Some(id);
        Ok(true)
    }

    fn finish_step(
        &mut self,
        st: &mut StageState,
        key: &str,
        id: String,
    ) -> Result<(), BuildError> {
        self.cache.put(key, &id)?;
        say(self.progress, format!(" ---> {}\n", short_id(&id)));
        st.id = Some(id);
        Ok(())
    }

    fn meta_step(
        &mut self,
        st: &mut StageState,
        created_by: &str,
        apply: impl FnOnce(&mut StageState),
    ) -> Result<(), BuildError> {
        let key = step_key(&self.parent_key(st), created_by, "");
        let cmd_set = st.cmd_set;
        if self.cached(st, &key)? {
            // The cached config holds the result; replay only the builder-side state.
            let mut scratch = StageState {
                id: None,
                config: st.config.clone(),
                args: BTreeMap::new(),
                cmd_set,
            };
            apply(&mut scratch);
            st.cmd_set = scratch.cmd_set;
            return Ok(());
        }
        apply(st);
        let id = self.commit(&mut st.config, None, created_by)?;
        self.finish_step(st, &key, id)
    }

    /// Commit `config` (plus an optional layer tar file) as an image; returns its id.
    fn commit(
        &mut self,
        config: &mut ImageConfig,
        layer: Option<&std::path::Path>,
        created_by: &str,
    ) -> Result<String, BuildError> {
        let ingest = self.store.ingest();
        let diff = match layer {
            Some(p) => {
                let mut f = fs::File::open(p).map_err(|source| BuildError::ContextIo {
                    path: p.to_path_buf(),
                    source,
                })?;
                Some(ingest.put_layer_tar(&mut f, "build step")?.0)
            }
            None => None,
        };
        if !created_by.is_empty() || diff.is_some() {
            config.record(&self.created, created_by, diff.as_ref().map(|d| d.as_str()));
        } else if let Some(o) = config.doc.as_object_mut() {
            o.insert("created".into(), json!(self.created));
        }
        let loaded = ingest.commit(&config.to_bytes(), None, &[])?;
        Ok(loaded.id)
    }

    /// Write the layer of a prepared step rootfs and commit it.
    fn commit_rootfs(
        &mut self,
        st: &mut StageState,
        rootfs: &StepRootfs,
        line: usize,
        created_by: &str,
    ) -> Result<String, BuildError> {
        let upper = rootfs.upper(line)?;
        let tmp =
            crate::context::TempDir::new(self.store.root(), "build-layer").map_err(|source| {
                BuildError::ContextIo {
                    path: self.store.root().to_path_buf(),
                    source,
                }
            })?;
        let file = tmp.path().join("layer.tar");
        let mut out = fs::File::create(&file).map_err(|source| BuildError::ContextIo {
            path: file.clone(),
            source,
        })?;
        vessel_image::write_layer_from_upper(&upper, &mut out, self.opts.source_date_epoch)?;
        drop(out);
        self.commit(&mut st.config, Some(&file), created_by)
    }
}

/// One `--label` as the legacy builder writes it into its LABEL line: `"key"='value'`
/// (double quotes for a value that itself holds a single quote). No newline may reach the
/// parser, so they are escaped.
fn label_pair(k: &str, v: &str) -> String {
    let key = serde_json::to_string(k).unwrap_or_default();
    if v.contains(['\'', '\n', '\\']) {
        let v = serde_json::to_string(v).unwrap_or_default();
        format!("{key}={v}")
    } else {
        format!("{key}='{v}'")
    }
}
