//! docker-archive: `manifest.json` = `[{Config, RepoTags, Layers}]`. Read both the legacy form
//! (`<hex>.json`, `<id>/layer.tar`) and docker 25+'s (paths into `blobs/sha256/`). Written in
//! the legacy form with `VERSION`/`json` per layer and `repositories`, which docker 20.10 and
//! podman both load.

use super::{digest_in_path, Plan, PlanLayer, Spool};
use crate::digest::Digest;
use crate::error::{ImageError, IoCtx};
use crate::ops::{resolve_in, Resolved};
use crate::snapshot::chain_ids;
use crate::{ImageStore, Reference};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

pub fn plans(spool: &Spool) -> Result<Vec<Plan>, ImageError> {
    let (_, v) = spool.read_json("manifest.json")?;
    let entries: Vec<ManifestEntry> =
        serde_json::from_value(v).map_err(|source| ImageError::ArchiveJson {
            path: "manifest.json".into(),
            source,
        })?;
    entries
        .into_iter()
        .map(|e| {
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Plan {
                config_digest: digest_in_path(&e.config),
                config: e.config,
                layers: e
                    .layers
                    .into_iter()
                    .map(|p| PlanLayer {
                        digest: p
                            .trim_start_matches("./")
                            .strip_prefix("blobs/sha256/")
                            .and_then(|h| Digest::from_hex(h).ok()),
                        path: p,
                    })
                    .collect(),
                tags,
            })
        })
        .collect()
}

struct Out<'a> {
    b: tar::Builder<&'a mut dyn Write>,
    mtime: u64,
}

impl Out<'_> {
    fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ImageError> {
        let mut h = header(
            data.len() as u64,
            self.mtime,
            tar::EntryType::Regular,
            0o644,
        );
        self.b
            .append_data(&mut h, path, data)
            .map_err(|e| ImageError::io("write archive entry", std::path::Path::new(path), e))
    }
    fn dir(&mut self, path: &str) -> Result<(), ImageError> {
        let mut h = header(0, self.mtime, tar::EntryType::Directory, 0o755);
        self.b
            .append_data(&mut h, path, std::io::empty())
            .map_err(|e| ImageError::io("write archive entry", std::path::Path::new(path), e))
    }
}

fn header(size: u64, mtime: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h
}

impl ImageStore {
    /// Write a docker-archive of the given references or ids (readable by `docker load` and
    /// `podman load`). Layers are written once even when images share them.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        let idx = self.index();
        // image id → tags requested for it, in request order.
        let mut order: Vec<String> = Vec::new();
        let mut tags: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
        for n in names {
            let r = resolve_in(&idx, n)?;
            let id = r.id().to_string();
            if !order.contains(&id) {
                order.push(id.clone());
            }
            let entry = tags.entry(id).or_default();
            if let Resolved::Tag(full, _) = r {
                let r = Reference::parse(&full)?;
                if r.tag.is_some() && r.digest.is_none() && !entry.contains(&r) {
                    entry.push(r);
                }
            }
        }
        let mut o = Out {
            b: tar::Builder::new(out),
            mtime: 0,
        };
        let mut written: HashSet<String> = HashSet::new();
        let mut manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for id in &order {
            let rec = &idx.images[id];
            let d = Digest::parse(id)?;
            o.mtime = rec.created.max(0) as u64;
            let diff_ids: Vec<Digest> = rec
                .layers
                .iter()
                .map(|l| Digest::parse(&l.diff_id))
                .collect::<Result<_, _>>()?;
            let chains = chain_ids(&diff_ids);
            let mut layer_paths = Vec::new();
            for (i, (diff, chain)) in diff_ids.iter().zip(&chains).enumerate() {
                // The legacy v1 layer id: unique per position in the chain.
                let v1 = chain.hex().to_string();
                let path = format!("{v1}/layer.tar");
                layer_paths.push(path.clone());
                if !written.insert(v1.clone()) {
                    continue;
                }
                o.dir(&format!("{v1}/"))?;
                o.file(&format!("{v1}/VERSION"), b"1.0")?;
                let mut json = serde_json::json!({
                    "id": v1,
                    "created": crate::timefmt::format_rfc3339(rec.created, 0),
                    "container_config": {},
                });
                if i > 0 {
                    json["parent"] = chains[i - 1].hex().into();
                }
                o.file(&format!("{v1}/json"), json.to_string().as_bytes())?;
                let blob = self.blobs.path(diff);
                let f = self.blobs.open_blob(diff)?;
                let size = f.metadata().ctx("stat", &blob)?.len();
                let mut h = header(size, o.mtime, tar::EntryType::Regular, 0o644);
                o.b.append_data(&mut h, &path, f)
                    .ctx("write layer", &blob)?;
            }
            o.file(&format!("{}.json", d.hex()), &self.blobs.read(&d)?)?;
            let refs = &tags[id];
            for r in refs {
                let top = chains
                    .last()
                    .map(|c| c.hex().to_string())
                    .unwrap_or_default();
                repositories
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(r.tag.clone().unwrap_or_default(), top);
            }
            manifest.push(ManifestEntry {
                config: format!("{}.json", d.hex()),
                repo_tags: (!refs.is_empty())
                    .then(|| refs.iter().map(Reference::familiar).collect()),
                layers: layer_paths,
            });
        }
        let m = serde_json::to_vec(&manifest).expect("manifest serializes");
        o.file("manifest.json", &m)?;
        if !repositories.is_empty() {
            o.file(
                "repositories",
                &serde_json::to_vec(&repositories).expect("serializes"),
            )?;
        }
        o.b.into_inner()
            .map_err(|e| ImageError::io("finish archive", std::path::Path::new("(output)"), e))?;
        Ok(())
    }
}
