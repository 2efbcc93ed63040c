//! `docker import --change`: the Dockerfile instructions that only edit the image config
//! (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).

use crate::error::ImageError;
use serde_json::{json, Map, Value};

/// Apply one change line to a Docker image config's `config` object.
pub fn apply(config: &mut Map<String, Value>, line: &str) -> Result<(), ImageError> {
    let bad = |reason: &str| ImageError::InvalidChange {
        change: line.to_string(),
        reason: reason.to_string(),
    };
    let line_t = line.trim();
    let (instr, args) = line_t
        .split_once(char::is_whitespace)
        .unwrap_or((line_t, ""));
    let args = args.trim();
    if args.is_empty() {
        return Err(bad("the instruction needs an argument"));
    }
    let exec_or_shell = |a: &str| -> Result<Value, ImageError> {
        if a.starts_with('[') {
            let v: Vec<String> = serde_json::from_str(a)
                .map_err(|_| bad("the exec form must be a JSON array of strings"))?;
            Ok(json!(v))
        } else {
            Ok(json!(["/bin/sh", "-c", a]))
        }
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), exec_or_shell(args)?);
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), exec_or_shell(args)?);
        }
        "ENV" => {
            let pairs = key_values(args).ok_or_else(|| bad("use ENV key=value ..."))?;
            let env = config.entry("Env").or_insert_with(|| json!([]));
            let list = env.as_array_mut().ok_or_else(|| bad("Env is not a list"))?;
            for (k, v) in pairs {
                list.retain(|e| e.as_str().and_then(|s| s.split_once('=')).map(|p| p.0) != Some(&k));
                list.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let pairs = key_values(args).ok_or_else(|| bad("use LABEL key=value ..."))?;
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            for (k, v) in pairs {
                labels[k] = json!(v);
            }
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for p in args.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(bad("ports look like 80, 80/tcp or 53/udp"));
                }
                ports[format!("{num}/{proto}")] = json!({});
            }
        }
        "VOLUME" => {
            let list: Vec<String> = if args.starts_with('[') {
                serde_json::from_str(args).map_err(|_| bad("VOLUME takes a JSON array or paths"))?
            } else {
                args.split_whitespace().map(str::to_string).collect()
            };
            let vols = config.entry("Volumes").or_insert_with(|| json!({}));
            for v in list {
                vols[v] = json!({});
            }
        }
        "USER" => {
            config.insert("User".into(), json!(args));
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), json!(args));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(args));
        }
        "ONBUILD" => {
            let list = config.entry("OnBuild").or_insert_with(|| json!([]));
            if let Some(l) = list.as_array_mut() {
                l.push(json!(args));
            }
        }
        _ => {
            return Err(bad(
                "only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR can be changed",
            ))
        }
    }
    Ok(())
}

/// `k=v k2="v 2"` or the legacy `k v` form.
fn key_values(s: &str) -> Option<Vec<(String, String)>> {
    if !s.split_whitespace().next()?.contains('=') {
        let (k, v) = s.split_once(char::is_whitespace)?;
        return Some(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                val.push(c);
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c.is_whitespace() {
                    break;
                }
                val.push(c);
                chars.next();
            }
        }
        if key.is_empty() {
            return None;
        }
        out.push((key, val));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_changes() {
        let mut c = Map::new();
        for l in [
            "CMD [\"/bin/sh\"]",
            "ENV A=1 B=\"two words\"",
            "ENV A 3",
            "EXPOSE 80 53/udp",
            "LABEL x=y",
            "WORKDIR /srv",
            "ENTRYPOINT echo hi",
        ] {
            apply(&mut c, l).unwrap();
        }
        let v = Value::Object(c.clone());
        assert_eq!(v["Cmd"], json!(["/bin/sh"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(v["Env"], json!(["B=two words", "A=3"]));
        assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(v["Labels"]["x"], "y");
        let e = apply(&mut c, "RUN rm -rf /").unwrap_err().to_string();
        assert!(e.contains("RUN rm -rf /") && e.contains("only CMD"), "{e}");
    }
}
