//! Dockerfile builder: what `vessel build` and the Docker API's `POST /build` (the legacy
//! builder protocol) run.
//!
//! [`build`] parses the Dockerfile ([`parser`], [`instructions`], [`expand`]), plans the
//! stages the target needs ([`plan`]), then runs each step against an [`ImageStore`]:
//! metadata steps edit the config, RUN runs a container ([`run`]), COPY/ADD copy from the
//! [`context`] or another stage; each step's result is an image, found again through the
//! [`cache`] on a rebuild. Progress is reported as the legacy JSON stream ([`progress`]).

pub mod cache;
pub mod context;
mod copy;
pub mod dockerignore;
pub mod error;
mod executor;
pub mod expand;
pub mod fsroot;
mod gofmt;
mod imgconfig;
pub mod instructions;
mod lock;
pub mod parser;
pub mod plan;
pub mod progress;
pub mod run;

pub use context::Context;
pub use error::{BuildError, ParseError};
pub use progress::{Event, Progress};
pub use run::RunConfig;

use std::collections::BTreeMap;
use std::io::Read;
use vessel_image::ImageStore;

/// What a build is asked to do (the `docker build` flags / `POST /build` query).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `-f`: the Dockerfile's path inside the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// `-t`, repeatable.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub target: Option<String>,
    /// `--label`: added to the final image as a last LABEL step.
    pub labels: BTreeMap<String, String>,
    /// `-q`: report only the image id.
    pub quiet: bool,
    /// `SOURCE_DATE_EPOCH`: config and history times, and layer mtimes clamped, for
    /// reproducible image ids.
    pub source_date_epoch: Option<i64>,
    /// `--network`: for RUN steps without their own `--network` (`None` unless `Host`).
    pub network: instructions::Network,
    pub run: RunConfig,
}

impl BuildOptions {
    pub fn new(run: RunConfig) -> BuildOptions {
        BuildOptions {
            dockerfile: None,
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            no_cache: false,
            target: None,
            labels: BTreeMap::new(),
            quiet: false,
            source_date_epoch: None,
            network: instructions::Network::None,
            run,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildResult {
    /// `sha256:…` of the final image.
    pub id: String,
    /// The tags applied, in familiar form (`x:latest`).
    pub tags: Vec<String>,
}

/// Build the Dockerfile of `ctx` into `store`.
pub fn build(
    store: &ImageStore,
    ctx: &Context,
    opts: &BuildOptions,
    progress: &mut dyn Progress,
) -> Result<BuildResult, BuildError> {
    let refs = opts
        .tags
        .iter()
        .map(|t| vessel_image::Reference::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    run::sweep_stale(store, &opts.run);
    let text = ctx.read_dockerfile(opts.dockerfile.as_deref())?;
    let df = parser::parse(&text)?;
    let plan = plan::plan(&df, opts.target.as_deref())?;
    let total: usize = plan
        .needed
        .iter()
        .map(|&i| plan.stages[i].lines.len())
        .sum::<usize>()
        + usize::from(!opts.labels.is_empty());
    let created = match opts.source_date_epoch {
        Some(e) => format_rfc3339(e, 0),
        None => {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
        }
    };
    let quiet = opts.quiet;
    let mut filtered = |ev: Event| {
        if !quiet {
            progress.emit(ev)
        }
    };
    let mut ex = executor::Executor {
        store,
        ctx,
        opts,
        progress: &mut filtered,
        escape: df.directives.escape,
        cache: cache::Cache::open(store.root()),
        created,
        consumed: Default::default(),
        step: 0,
        total,
    };
    let id = ex.run_plan(&plan)?;
    let unused: Vec<&str> = opts
        .build_args
        .keys()
        .filter(|k| !ex.consumed.contains(*k) && !executor::PROXY_ARGS.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    drop(ex);
    let mut say = |s: String| filtered(Event::Stream(s));
    if !unused.is_empty() {
        say(format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            unused.join(" ")
        ));
    }
    filtered(Event::Aux(id.clone()));
    filtered(Event::Stream(format!(
        "Successfully built {}\n",
        progress::short_id(&id)
    )));
    let mut tags = Vec::new();
    for (t, r) in opts.tags.iter().zip(&refs) {
        store.tag(&id, t)?;
        let fam = r.familiar();
        filtered(Event::Stream(format!("Successfully tagged {fam}\n")));
        tags.push(fam);
    }
    if quiet {
        progress.emit(Event::Stream(format!("{id}\n")));
    }
    Ok(BuildResult { id, tags })
}

/// Build from a context tar (what `POST /build` receives); the tar is unpacked under the
/// store root and removed afterwards.
pub fn build_tar(
    store: &ImageStore,
    context_tar: &mut dyn Read,
    opts: &BuildOptions,
    progress: &mut dyn Progress,
) -> Result<BuildResult, BuildError> {
    let ctx = Context::from_tar(context_tar, store.root())?;
    build(store, &ctx, opts, progress)
}

/// A random 32-hex-character id (container ids, temp names).
pub(crate) fn unique_id() -> String {
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok();
    if !ok {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[8..12].copy_from_slice(&std::process::id().to_le_bytes());
        b[12..].copy_from_slice(&(N.fetch_add(1, Ordering::Relaxed) as u32).to_le_bytes());
    }
    hex::encode(b)
}

/// `2024-01-02T03:04:05.123456789Z` (nanoseconds only when non-zero), as Docker writes
/// `created`.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}")
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(super::format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::format_rfc3339(1_700_000_000, 5),
            "2023-11-14T22:13:20.000000005Z"
        );
    }
}
