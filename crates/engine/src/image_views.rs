//! The JSON shapes of image replies at API 1.41, built from what the image store reports.
//! 1.41 fields that newer APIs dropped (`VirtualSize`, `ContainerConfig`, `Container`,
//! `DockerVersion`, `Parent`) are kept: docker-compose 1.29 reads `ContainerConfig`.

use serde_json::{json, Map, Value};
use vessel_image::{ImageDetails, ImageSummary, RemoveEvent};

use crate::timefmt::{parse_rfc3339, rfc3339_nano};

/// Go's zero `time.Time`, which Docker prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One row of `GET /images/json`.
pub fn summary_json(s: &ImageSummary) -> Value {
    let (tags, digests) = if s.repo_tags.is_empty() && s.repo_digests.is_empty() {
        // What dockerd 20.10 reports for an untagged image.
        (json!(["<none>:<none>"]), json!(["<none>@<none>"]))
    } else {
        (json!(s.repo_tags), json!(s.repo_digests))
    };
    json!({
        "Containers": -1,
        "Created": s.created,
        "Id": s.id,
        "Labels": if s.labels.is_empty() { Value::Null } else { json!(s.labels) },
        "ParentId": "",
        "RepoDigests": digests,
        "RepoTags": tags,
        "SharedSize": -1,
        "Size": s.size,
        "VirtualSize": s.size,
    })
}

/// A container config with every key Docker prints, overlaid with what the image has.
fn container_config(v: Option<&Value>) -> Value {
    let mut base = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(Value::Object(over)), Value::Object(b)) = (v, &mut base) {
        for (k, val) in over {
            b.insert(k.clone(), val.clone());
        }
    }
    base
}

fn str_field<'a>(config: &'a Value, key: &str) -> &'a str {
    config.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `GET /images/{name}/json`.
pub fn inspect_json(d: &ImageDetails) -> Value {
    let c = &d.config;
    let created = match c.get("created").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => rfc3339_nano(d.summary.created, 0),
    };
    let mut out = json!({
        "Id": d.summary.id,
        "RepoTags": d.summary.repo_tags,
        "RepoDigests": d.summary.repo_digests,
        "Parent": str_field(c, "parent"),
        "Comment": str_field(c, "comment"),
        "Created": created,
        "Container": str_field(c, "container"),
        "ContainerConfig": container_config(c.get("container_config")),
        "DockerVersion": str_field(c, "docker_version"),
        "Author": str_field(c, "author"),
        "Config": container_config(c.get("config")),
        "Architecture": str_field(c, "architecture"),
        "Os": str_field(c, "os"),
        "Size": d.summary.size,
        "VirtualSize": d.summary.size,
        "GraphDriver": {"Data": {}, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": d.diff_ids},
        "Metadata": {"LastTagTime": ZERO_TIME},
    });
    if let Some(variant) = c.get("variant").and_then(Value::as_str) {
        out["Variant"] = json!(variant);
    }
    out
}

/// `GET /images/{name}/history`: newest first; only the newest entry carries the id and tags.
pub fn history_json(d: &ImageDetails) -> Value {
    let empty = Vec::new();
    let history = d
        .config
        .get("history")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let non_empty_layers = history
        .iter()
        .filter(|h| {
            !h.get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .count();
    // Per-layer sizes are not reported by the store; a single layer gets the whole size.
    let layer_size = |is_empty: bool| {
        if !is_empty && non_empty_layers == 1 {
            d.summary.size
        } else {
            0
        }
    };
    let mut rows: Vec<Map<String, Value>> = history
        .iter()
        .map(|h| {
            let is_empty = h
                .get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let created = h
                .get("created")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
                .unwrap_or(d.summary.created);
            let mut row = Map::new();
            row.insert("Id".into(), json!("<missing>"));
            row.insert("Created".into(), json!(created));
            row.insert("CreatedBy".into(), json!(str_field(h, "created_by")));
            row.insert("Tags".into(), Value::Null);
            row.insert("Size".into(), json!(layer_size(is_empty)));
            row.insert("Comment".into(), json!(str_field(h, "comment")));
            row
        })
        .collect();
    if rows.is_empty() {
        rows = d
            .diff_ids
            .iter()
            .map(|_| {
                let mut row = Map::new();
                row.insert("Id".into(), json!("<missing>"));
                row.insert("Created".into(), json!(d.summary.created));
                row.insert("CreatedBy".into(), json!(""));
                row.insert("Tags".into(), Value::Null);
                row.insert(
                    "Size".into(),
                    json!(if d.diff_ids.len() == 1 {
                        d.summary.size
                    } else {
                        0
                    }),
                );
                row.insert("Comment".into(), json!(""));
                row
            })
            .collect();
    }
    rows.reverse();
    if let Some(newest) = rows.first_mut() {
        newest.insert("Id".into(), json!(d.summary.id));
        if !d.summary.repo_tags.is_empty() {
            newest.insert("Tags".into(), json!(d.summary.repo_tags));
        }
    }
    Value::Array(rows.into_iter().map(Value::Object).collect())
}

/// `DELETE /images/{name}` and prune entries.
pub fn remove_event_json(e: &RemoveEvent) -> Value {
    match e {
        RemoveEvent::Untagged(r) => json!({"Untagged": r}),
        RemoveEvent::Deleted(id) => json!({"Deleted": id}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn details(tags: &[&str], config: Value) -> ImageDetails {
        ImageDetails {
            summary: ImageSummary {
                id: "sha256:abc".into(),
                repo_tags: tags.iter().map(|s| s.to_string()).collect(),
                repo_digests: vec![],
                created: 1_795_322_886,
                size: 1000,
                labels: HashMap::new(),
            },
            config,
            diff_ids: vec!["sha256:l1".into()],
        }
    }

    #[test]
    fn untagged_summary_is_none() {
        let d = details(&[], json!({}));
        let v = summary_json(&d.summary);
        assert_eq!(v["RepoTags"], json!(["<none>:<none>"]));
        assert_eq!(v["Labels"], Value::Null);
        assert_eq!(v["VirtualSize"], 1000);
    }

    #[test]
    fn inspect_shape() {
        let d = details(
            &["bb:latest"],
            json!({"architecture":"amd64","os":"linux","comment":"Imported from -",
                   "created":"2026-11-22T04:48:06.424152572Z","config":{"Cmd":["sh"]}}),
        );
        let v = inspect_json(&d);
        assert_eq!(v["Config"]["Cmd"], json!(["sh"]));
        assert_eq!(v["Config"]["Hostname"], "");
        assert_eq!(v["ContainerConfig"]["Cmd"], Value::Null);
        assert_eq!(v["Comment"], "Imported from -");
        assert_eq!(v["RootFS"], json!({"Type":"layers","Layers":["sha256:l1"]}));
        assert_eq!(v["Created"], "2026-11-22T04:48:06.424152572Z");
        let v = inspect_json(&details(&[], json!({})));
        assert_eq!(v["Created"], "2026-11-22T04:48:06Z");
    }

    #[test]
    fn history_newest_first() {
        let d = details(
            &["bb:latest"],
            json!({"history":[
                {"created":"2026-11-22T04:48:06Z","created_by":"ADD rootfs","comment":"c"},
                {"created":"2026-11-22T04:48:07Z","created_by":"CMD [\"sh\"]","empty_layer":true}
            ]}),
        );
        let v = history_json(&d);
        assert_eq!(v[0]["Id"], "sha256:abc");
        assert_eq!(v[0]["Tags"], json!(["bb:latest"]));
        assert_eq!(v[0]["Size"], 0);
        assert_eq!(v[1]["Id"], "<missing>");
        assert_eq!(v[1]["Size"], 1000);
        assert_eq!(v[1]["Created"], 1_795_322_886);
        let v = history_json(&details(&[], json!({})));
        assert_eq!(v.as_array().unwrap().len(), 1);
    }
}
