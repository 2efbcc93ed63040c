//! `GET /system/df` (`docker system df [-v]`): space used by images, containers' writable
//! layers and volumes, and what is in use.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};

use crate::api::{blocking, ok_json, AppState};
use crate::errors::ApiError;
use crate::filters::Filters;

/// Apparent size of a tree (hard links counted once), as Docker's `directory.Size`. Errors
/// below the root (a file removed meanwhile) are skipped: this is an estimate, not a lock.
pub fn tree_size(root: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.nlink() <= 1 || seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    total
}

pub async fn system_df(State(s): State<AppState>) -> Result<Response, ApiError> {
    let containers = s.containers.clone();
    let images = s.images.clone();
    let store = s.store.clone();
    let volumes_dir = s.config.root.join("volumes");
    let body = blocking(move || {
        let records = containers.all()?;
        let summaries = images.list()?;
        let (layers_size, image_root) = match images.store() {
            Some(st) => (
                st.disk_usage()?.blobs_size,
                Some(st.root().join("containers")),
            ),
            None => (summaries.iter().map(|i| i.size).sum(), None),
        };
        let mut users: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &records {
            *users.entry(r.image_id.as_str()).or_default() += 1;
        }
        let images_json: Vec<Value> = summaries
            .iter()
            .map(|i| {
                json!({
                    "Id": i.id,
                    "ParentId": "",
                    "RepoTags": i.repo_tags,
                    "RepoDigests": i.repo_digests,
                    "Created": i.created,
                    "Size": i.size,
                    "SharedSize": -1,
                    "VirtualSize": i.size,
                    "Labels": i.labels,
                    "Containers": users.get(i.id.as_str()).copied().unwrap_or(0),
                })
            })
            .collect();
        let image_size: BTreeMap<&str, u64> =
            summaries.iter().map(|i| (i.id.as_str(), i.size)).collect();
        let now = crate::containers::now_secs();
        let containers_json: Vec<Value> = records
            .iter()
            .map(|r| {
                let rw = image_root
                    .as_ref()
                    .map(|root| tree_size(&root.join(&r.id).join("upper")))
                    .unwrap_or(0);
                let mut row = r.summary(now);
                row["SizeRw"] = json!(rw);
                row["SizeRootFs"] =
                    json!(rw + image_size.get(r.image_id.as_str()).copied().unwrap_or(0));
                row
            })
            .collect();
        let vol_users = crate::volumes::volume_users(&store)?;
        let volumes_json: Vec<Value> =
            crate::volumes::list(&store, &volumes_dir, &Filters::default())
                .map_err(|e| ApiError::Io {
                    context: format!("listing volumes: {}", e.message()),
                    source: std::io::Error::other("volume listing failed"),
                })?
                .into_iter()
                .map(|mut v| {
                    let name = v["Name"].as_str().unwrap_or_default().to_string();
                    let size = tree_size(&volumes_dir.join(&name).join("_data"));
                    let refs = vol_users.get(&name).map(Vec::len).unwrap_or(0);
                    v["UsageData"] = json!({"Size": size, "RefCount": refs});
                    v
                })
                .collect();
        Ok(json!({
            "LayersSize": layers_size,
            "Images": images_json,
            "Containers": containers_json,
            "Volumes": volumes_json,
            "BuildCache": [],
        }))
    })
    .await?;
    Ok(ok_json(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_size_counts_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![0u8; 24]).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("sub/a2")).unwrap();
        assert_eq!(tree_size(dir.path()), 1024);
        assert_eq!(tree_size(&dir.path().join("missing")), 0);
    }
}
