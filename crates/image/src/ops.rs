//! Queries and tag/remove/prune/gc over the index.

use crate::digest::{is_hex64, Digest};
use crate::error::ImageError;
use crate::index::{ImageRecord, Index};
use crate::snapshot::chain_ids;
use crate::{
    DiskUsage, HistoryEntry, ImageDetails, ImageStore, ImageSummary, ImageUser, PruneReport,
    Reference, RemoveEvent,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::MutexGuard;

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

/// How a name resolved: through a tag (the normalized reference) or by id.
pub(crate) enum Resolved {
    Tag(String, String),
    Id(String),
}

impl Resolved {
    pub fn id(&self) -> &str {
        match self {
            Resolved::Tag(_, id) | Resolved::Id(id) => id,
        }
    }
}

/// Docker's lookup order: full id, reference, then unique id prefix.
pub(crate) fn resolve_in(idx: &Index, name: &str) -> Result<Resolved, ImageError> {
    let not_found = || ImageError::NotFound(name.to_string());
    let hex = name.strip_prefix("sha256:");
    if let Some(h) = hex {
        if is_hex64(h) {
            return idx
                .images
                .contains_key(name)
                .then(|| Resolved::Id(name.to_string()))
                .ok_or_else(not_found);
        }
    }
    let parsed = Reference::parse(name);
    if let Ok(r) = &parsed {
        if let Some(id) = idx.tags.get(&r.to_string()) {
            return Ok(Resolved::Tag(r.to_string(), id.clone()));
        }
        if let Some(d) = &r.digest {
            let by_digest = format!("{}@{d}", r.name());
            if let Some((id, _)) = idx
                .images
                .iter()
                .find(|(_, rec)| rec.repo_digests.contains(&by_digest))
            {
                return Ok(Resolved::Id(id.clone()));
            }
        }
    }
    let prefix = hex.unwrap_or(name);
    if !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        let matches: Vec<&String> = idx
            .images
            .keys()
            .filter(|id| id[7..].starts_with(prefix))
            .collect();
        return match matches.len() {
            0 => Err(not_found()),
            1 => Ok(Resolved::Id(matches[0].clone())),
            n => Err(ImageError::AmbiguousId {
                prefix: name.to_string(),
                count: n,
            }),
        };
    }
    match parsed {
        Err(e) => Err(e),
        Ok(_) => Err(not_found()),
    }
}

impl ImageStore {
    /// The image id (`sha256:<hex>`) a reference, full id or unique id prefix names.
    pub fn resolve(&self, name: &str) -> Result<String, ImageError> {
        Ok(resolve_in(&self.index(), name)?.id().to_string())
    }

    pub(crate) fn read_config(&self, id: &str) -> Result<serde_json::Value, ImageError> {
        let d = Digest::parse(id)?;
        let bytes = self.blobs.read(&d)?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::InvalidConfig {
            id: id.to_string(),
            reason: e.to_string(),
        })
    }

    fn summary(
        &self,
        idx: &Index,
        id: &str,
        rec: &ImageRecord,
    ) -> Result<ImageSummary, ImageError> {
        let config = self.read_config(id)?;
        Ok(summary_of(idx, id, rec, &config))
    }

    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let idx = self.index();
        let mut out = idx
            .images
            .iter()
            .map(|(id, rec)| self.summary(&idx, id, rec))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Resolve by reference, full id, or unique id prefix.
    pub fn inspect(&self, name: &str) -> Result<ImageDetails, ImageError> {
        let idx = self.index();
        let id = resolve_in(&idx, name)?.id().to_string();
        let rec = &idx.images[&id];
        let config = self.read_config(&id)?;
        Ok(ImageDetails {
            summary: summary_of(&idx, &id, rec, &config),
            diff_ids: rec.layers.iter().map(|l| l.diff_id.clone()).collect(),
            config,
        })
    }

    /// The typed image config (for generating a container's OCI spec).
    pub fn image_config(
        &self,
        name: &str,
    ) -> Result<oci_spec::image::ImageConfiguration, ImageError> {
        let id = self.resolve(name)?;
        let bytes = self.blobs.read(&Digest::parse(&id)?)?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::InvalidConfig {
            id,
            reason: e.to_string(),
        })
    }

    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let target_ref = Reference::parse(target)?;
        if target_ref.digest.is_some() {
            return Err(ImageError::InvalidReference {
                input: target.to_string(),
                reason: "a tag target cannot contain a digest; use name:tag".into(),
            });
        }
        let w = self.lock();
        let mut idx = (*self.index()).clone();
        let id = resolve_in(&idx, source)?.id().to_string();
        idx.tags.insert(target_ref.to_string(), id);
        self.publish(&w, idx)
    }

    /// Untag/delete without asking the daemon about containers (see [`ImageStore::remove_with`]).
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        self.remove_with(name, force, &|_| None)
    }

    /// `docker rmi`: untag a reference; delete the image once no tag is left. `in_use` maps an
    /// image id to a container using it. Without `force`, deleting an image in use is a
    /// conflict naming the container; with `force` an image used by a running container is
    /// only untagged (it stays, dangling), as Docker does.
    pub fn remove_with(
        &self,
        name: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> Option<ImageUser>,
    ) -> Result<Vec<RemoveEvent>, ImageError> {
        let w = self.lock();
        let mut idx = (*self.index()).clone();
        let resolved = resolve_in(&idx, name)?;
        let id = resolved.id().to_string();
        let tags = idx.tags_of(&id);
        let user = in_use(&id);
        let mut events = Vec::new();
        match &resolved {
            Resolved::Tag(r, _) => {
                if tags.len() == 1 && !force {
                    if let Some(u) = &user {
                        return Err(ImageError::Conflict {
                            name: format!("repository reference {:?}", familiar(r)),
                            reason: format!(
                                "container {} is using its referenced image {} (stop and remove it first, or force)",
                                u.container,
                                short_id(&id)
                            ),
                        });
                    }
                }
                idx.tags.remove(r);
                events.push(RemoveEvent::Untagged(familiar(r)));
                if tags.len() > 1 || user.is_some() {
                    self.publish(&w, idx)?;
                    return Ok(events);
                }
            }
            Resolved::Id(_) => {
                if let Some(u) = &user {
                    if u.running || !force {
                        let how = if u.running {
                            "cannot be forced"
                        } else {
                            "must be forced"
                        };
                        let state = if u.running { "running" } else { "stopped" };
                        return Err(ImageError::Conflict {
                            name: short_id(&id).to_string(),
                            reason: format!(
                                "{how} - image is being used by {state} container {}",
                                u.container
                            ),
                        });
                    }
                }
                if tags.len() > 1 && !force {
                    return Err(ImageError::Conflict {
                        name: short_id(&id).to_string(),
                        reason: "must be forced - image is referenced in multiple repositories"
                            .into(),
                    });
                }
                for t in &tags {
                    idx.tags.remove(t);
                    events.push(RemoveEvent::Untagged(familiar(t)));
                }
            }
        }
        idx.images.remove(&id);
        idx.tags.retain(|_, v| *v != id);
        self.publish(&w, idx)?;
        events.push(RemoveEvent::Deleted(id));
        let (snaps, _) = self.gc_locked(&w)?;
        events.extend(snaps.into_iter().map(RemoveEvent::Deleted));
        Ok(events)
    }

    /// `docker image prune`: delete dangling (untagged) images, or with `dangling_only = false`
    /// every image no container uses.
    pub fn prune(
        &self,
        dangling_only: bool,
        in_use: &dyn Fn(&str) -> Option<ImageUser>,
    ) -> Result<PruneReport, ImageError> {
        let w = self.lock();
        let mut idx = (*self.index()).clone();
        let mut report = PruneReport::default();
        let victims: Vec<String> = idx
            .images
            .keys()
            .filter(|id| in_use(id).is_none())
            .filter(|id| !dangling_only || idx.tags_of(id).is_empty())
            .cloned()
            .collect();
        for id in &victims {
            for t in idx.tags_of(id) {
                idx.tags.remove(&t);
                report.deleted.push(RemoveEvent::Untagged(familiar(&t)));
            }
            idx.images.remove(id);
            report.deleted.push(RemoveEvent::Deleted(id.clone()));
        }
        self.publish(&w, idx)?;
        let (snaps, bytes) = self.gc_locked(&w)?;
        report
            .deleted
            .extend(snaps.into_iter().map(RemoveEvent::Deleted));
        report.space_reclaimed = bytes;
        Ok(report)
    }

    /// Delete blobs and snapshots no image (and no container rootfs) references.
    pub fn gc(&self) -> Result<u64, ImageError> {
        let w = self.lock();
        Ok(self.gc_locked(&w)?.1)
    }

    /// Returns the deleted snapshot chain ids and the blob bytes reclaimed.
    pub(crate) fn gc_locked(
        &self,
        _w: &MutexGuard<'_, ()>,
    ) -> Result<(Vec<String>, u64), ImageError> {
        let idx = self.index();
        let mut blobs = BTreeSet::new();
        let mut chains = BTreeSet::new();
        for (id, rec) in &idx.images {
            blobs.insert(id.clone());
            for l in &rec.layers {
                blobs.insert(l.diff_id.clone());
                chains.insert(l.chain_id.clone());
            }
        }
        chains.extend(self.container_chains()?);
        let leased = self.leases.all();
        blobs.extend(leased.iter().cloned());
        chains.extend(leased);
        let mut reclaimed = 0;
        for d in self.blobs.list()? {
            if !blobs.contains(d.as_str()) {
                reclaimed += self.blobs.size(&d).unwrap_or(0);
                self.blobs.remove(&d)?;
            }
        }
        let mut removed = Vec::new();
        for c in self.snaps.list()? {
            if !chains.contains(c.as_str()) {
                self.snaps.remove(&c)?;
                removed.push(c.to_string());
            }
        }
        Ok((removed, reclaimed))
    }

    /// `docker history`, newest first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, ImageError> {
        let idx = self.index();
        let id = resolve_in(&idx, name)?.id().to_string();
        let rec = &idx.images[&id];
        let config = self.read_config(&id)?;
        let mut layers = rec.layers.iter();
        let mut out = Vec::new();
        let hist = config["history"].as_array().cloned().unwrap_or_default();
        for h in &hist {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty {
                0
            } else {
                layers.next().map_or(0, |l| l.size)
            };
            out.push(HistoryEntry {
                id: "<missing>".into(),
                created: h["created"]
                    .as_str()
                    .and_then(crate::timefmt::parse_rfc3339)
                    .unwrap_or(0),
                created_by: h["created_by"].as_str().unwrap_or("").to_string(),
                size,
                comment: h["comment"].as_str().unwrap_or("").to_string(),
                tags: Vec::new(),
                empty_layer: empty,
            });
        }
        // Layers the history does not describe (images built by tools that skip history).
        for l in layers {
            out.push(HistoryEntry {
                id: "<missing>".into(),
                created: rec.created,
                created_by: String::new(),
                size: l.size,
                comment: String::new(),
                tags: Vec::new(),
                empty_layer: false,
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = id.clone();
            top.tags = idx.tags_of(&id).iter().map(|t| familiar(t)).collect();
        }
        Ok(out)
    }

    pub fn disk_usage(&self) -> Result<DiskUsage, ImageError> {
        let mut blobs_size = 0;
        for d in self.blobs.list()? {
            blobs_size += self.blobs.size(&d).unwrap_or(0);
        }
        Ok(DiskUsage {
            blobs_size,
            images: self.list()?,
        })
    }

    /// Add an image whose blobs and snapshots are already stored; tags move to it.
    pub(crate) fn add_to_index(
        idx: &mut Index,
        id: &Digest,
        diff_ids: &[Digest],
        sizes: &[u64],
        created: i64,
        tags: &[Reference],
    ) {
        let chains = chain_ids(diff_ids);
        let layers = diff_ids
            .iter()
            .zip(&chains)
            .zip(sizes)
            .map(|((d, c), s)| crate::index::LayerRecord {
                diff_id: d.to_string(),
                chain_id: c.to_string(),
                size: *s,
            })
            .collect();
        let added = crate::timefmt::now().0;
        idx.images.entry(id.to_string()).or_insert(ImageRecord {
            layers,
            created,
            added,
            repo_digests: Vec::new(),
        });
        for t in tags {
            idx.tags.insert(t.to_string(), id.to_string());
        }
    }
}

fn summary_of(
    idx: &Index,
    id: &str,
    rec: &ImageRecord,
    config: &serde_json::Value,
) -> ImageSummary {
    let mut repo_tags = Vec::new();
    let mut repo_digests = rec
        .repo_digests
        .iter()
        .map(|d| familiar(d))
        .collect::<Vec<_>>();
    for t in idx.tags_of(id) {
        if t.contains('@') {
            repo_digests.push(familiar(&t));
        } else {
            repo_tags.push(familiar(&t));
        }
    }
    let labels: HashMap<String, String> = config["config"]["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    ImageSummary {
        id: id.to_string(),
        repo_tags,
        repo_digests,
        created: rec.created,
        size: rec.layers.iter().map(|l| l.size).sum(),
        labels,
    }
}
