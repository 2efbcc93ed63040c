//! Offline garbage collection: mark every blob a repository's manifests reference (and the
//! manifests themselves), sweep the rest. Run it while no server writes to the root: an
//! upload finishing during the sweep could lose its blob before its manifest arrives.

use std::collections::HashSet;

use crate::error::RegistryError;
use crate::manifest;
use crate::names::Digest;
use crate::storage::{list_names, Storage};

/// What a collection found (and removed, unless it was a dry run).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub kept_blobs: usize,
    pub removed_blobs: usize,
    pub removed_bytes: u64,
    /// Repository links to blobs that are gone or unreferenced, also removed.
    pub removed_links: usize,
    pub dry_run: bool,
}

pub fn gc(root: &std::path::Path, dry_run: bool) -> Result<GcReport, RegistryError> {
    let store = Storage::new(root);
    let mut marked: HashSet<Digest> = HashSet::new();
    let mut report = GcReport {
        dry_run,
        ..Default::default()
    };
    for repo in store.list_repos()? {
        let mut repo_marked = HashSet::new();
        for d in store.list_manifests(&repo)? {
            let Some(body) = store.read_blob(&d)? else {
                continue;
            };
            repo_marked.insert(d.clone());
            // A stored manifest was valid when pushed; one that is no longer JSON is
            // corruption, and gc must not delete what it cannot account for.
            if let Err(source) = serde_json::from_slice::<serde_json::Value>(&body) {
                return Err(RegistryError::CorruptManifest {
                    digest: d.to_string(),
                    path: store.blob_path(&d),
                    source,
                });
            }
            if let Ok(m) = manifest::parse(&body, None) {
                repo_marked.extend(m.blobs.into_iter().map(|b| b.digest));
            }
        }
        // Layer links nothing references any more go with their blobs.
        let layers = store
            .root()
            .join("repositories")
            .join(&repo)
            .join("_layers/sha256");
        for h in list_names(&layers)? {
            let keep = Digest::from_hex(&h)
                .map(|d| repo_marked.contains(&d))
                .unwrap_or(false);
            if !keep {
                report.removed_links += 1;
                if !dry_run {
                    let _ = std::fs::remove_file(layers.join(&h));
                }
            }
        }
        marked.extend(repo_marked);
    }
    for h in list_names(&store.blobs_dir())? {
        let p = store.blobs_dir().join(&h);
        let keep = Digest::from_hex(&h)
            .map(|d| marked.contains(&d))
            .unwrap_or(false);
        if keep {
            report.kept_blobs += 1;
            continue;
        }
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        report.removed_blobs += 1;
        report.removed_bytes += size;
        if !dry_run {
            std::fs::remove_file(&p).map_err(RegistryError::io("removing", &p))?;
        }
    }
    Ok(report)
}
