//! The image config a build step edits: Docker's JSON document (`config`, `rootfs`,
//! `history`, `created`), key order fixed by serde_json's sorted maps so that equal inputs
//! give byte-equal configs (and equal image ids).

use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub doc: Value,
}

/// Docker's default shell for shell forms.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

impl ImageConfig {
    pub fn scratch() -> ImageConfig {
        ImageConfig {
            doc: json!({
                "architecture": host_arch(),
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }),
        }
    }

    pub fn from_bytes(b: &[u8]) -> Result<ImageConfig, serde_json::Error> {
        let mut doc: Value = serde_json::from_slice(b)?;
        if !doc.is_object() {
            doc = ImageConfig::scratch().doc;
        }
        // Fields of the container that built the parent describe that build, not ours.
        if let Some(m) = doc.as_object_mut() {
            m.remove("container");
            m.remove("container_config");
        }
        let mut c = ImageConfig { doc };
        c.cfg();
        Ok(c)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.doc).unwrap_or_default()
    }

    /// The `config` section, created when missing.
    pub fn cfg(&mut self) -> &mut Map<String, Value> {
        let root = self
            .doc
            .as_object_mut()
            .expect("config document is an object");
        let c = root
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        if !c.is_object() {
            *c = Value::Object(Map::new());
        }
        c.as_object_mut().expect("just made an object")
    }

    fn cfg_ref(&self) -> Option<&Map<String, Value>> {
        self.doc.get("config")?.as_object()
    }

    pub fn strings(&self, key: &str) -> Option<Vec<String>> {
        let v = self.cfg_ref()?.get(key)?.as_array()?;
        Some(
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
        )
    }

    pub fn string(&self, key: &str) -> String {
        self.cfg_ref()
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    pub fn env(&self) -> Vec<String> {
        self.strings("Env").unwrap_or_default()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|(k, _)| k).unwrap_or(e) == key)
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
        self.cfg().insert("Env".into(), json!(env));
    }

    pub fn shell(&self) -> Vec<String> {
        self.strings("Shell")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(default_shell)
    }

    pub fn set(&mut self, key: &str, v: Value) {
        self.cfg().insert(key.into(), v);
    }

    /// Add `key` to an object-valued field (`ExposedPorts`, `Volumes`).
    pub fn add_to_set(&mut self, field: &str, key: &str) {
        let c = self.cfg();
        let m = c.entry(field).or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        if let Some(m) = m.as_object_mut() {
            m.insert(key.into(), json!({}));
        }
    }

    pub fn add_label(&mut self, k: &str, v: &str) {
        let c = self.cfg();
        let m = c
            .entry("Labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !m.is_object() {
            *m = Value::Object(Map::new());
        }
        if let Some(m) = m.as_object_mut() {
            m.insert(k.into(), json!(v));
        }
    }

    /// Record a step: a new layer when `diff_id` is given, else an `empty_layer` history row.
    pub fn record(&mut self, created: &str, created_by: &str, diff_id: Option<&str>) {
        let root = self
            .doc
            .as_object_mut()
            .expect("config document is an object");
        root.insert("created".into(), json!(created));
        if let Some(d) = diff_id {
            let rootfs = root
                .entry("rootfs")
                .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
            if let Some(ids) = rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
                ids.push(json!(d));
            } else {
                rootfs["diff_ids"] = json!([d]);
            }
        }
        let mut h = json!({"created": created, "created_by": created_by});
        if diff_id.is_none() {
            h["empty_layer"] = json!(true);
        }
        match root.get_mut("history").and_then(Value::as_array_mut) {
            Some(a) => a.push(h),
            None => {
                root.insert("history".into(), json!([h]));
            }
        }
    }
}
