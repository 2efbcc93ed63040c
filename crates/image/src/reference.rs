//! Docker-style image references (github.com/distribution/reference grammar), normalized the
//! way Docker does: `busybox` → `docker.io/library/busybox:latest`.

use crate::error::ImageError;
use crate::Reference;
use std::fmt;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

fn bad(input: &str, reason: impl Into<String>) -> ImageError {
    ImageError::InvalidReference {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// A path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run: ".", "_", "__", or one or more "-"
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(d: &str) -> bool {
    let valid_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(v6) = d.strip_prefix('[') {
        let Some((inner, rest)) = v6.split_once(']') else {
            return false;
        };
        let port_ok = rest.is_empty() || rest.strip_prefix(':').is_some_and(valid_port);
        return port_ok
            && !inner.is_empty()
            && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    let host = match d.split_once(':') {
        Some((h, p)) if valid_port(p) => h,
        Some(_) => return false,
        None => d,
    };
    !host.is_empty()
        && host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl Reference {
    /// Parse and normalize a reference. A missing tag becomes `latest` unless a digest is given.
    pub fn parse(input: &str) -> Result<Reference, ImageError> {
        if input.is_empty() {
            return Err(bad(input, "the reference is empty"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                input,
                "a 64-character hexadecimal string is an image id, not a repository name; use sha256:<id>",
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                crate::digest::Digest::parse(d).map_err(|_| {
                    bad(
                        input,
                        "the digest must be sha256: followed by 64 lowercase hex characters",
                    )
                })?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(
                    input,
                    format!(
                        "tag {t:?} must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"
                    ),
                ));
            }
        }
        if name.is_empty() {
            return Err(bad(input, "the repository name is empty"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_domain(first) {
                    return Err(bad(
                        input,
                        format!("registry host {first:?} is not a valid host[:port]"),
                    ));
                }
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad(input, "repository names must be lowercase"));
        }
        if let Some(c) = path.split('/').find(|c| !valid_path_component(c)) {
            return Err(bad(
                input,
                format!(
                    "path component {c:?} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
                ),
            ));
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(bad(
                input,
                "the repository name is longer than 255 characters",
            ));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository as Docker prints it: `busybox`, `user/app`, `localhost:5000/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The reference as Docker prints it in RepoTags: `busybox:latest`.
    pub fn familiar(&self) -> String {
        self.render(&self.familiar_name())
    }

    /// The same reference with a different tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    fn render(&self, name: &str) -> String {
        let mut s = name.to_string();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&self.name()))
    }
}

impl std::str::FromStr for Reference {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalizes_like_docker() {
        let table: &[(&str, &str, &str)] = &[
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            (
                "library/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "index.docker.io/library/busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
            (
                "localhost:5000/x/y:t",
                "localhost:5000/x/y:t",
                "localhost:5000/x/y:t",
            ),
            (
                "localhost/app",
                "localhost/app:latest",
                "localhost/app:latest",
            ),
            (
                "quay.io/a/b-c__d.e",
                "quay.io/a/b-c__d.e:latest",
                "quay.io/a/b-c__d.e:latest",
            ),
            (
                "Registry.Example.COM:443/x",
                "Registry.Example.COM:443/x:latest",
                "Registry.Example.COM:443/x:latest",
            ),
            ("[::1]:5000/x:t", "[::1]:5000/x:t", "[::1]:5000/x:t"),
        ];
        for (input, full, familiar) in table {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), *full, "{input}");
            assert_eq!(r.familiar(), *familiar, "{input}");
        }
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        assert_eq!(r.familiar(), format!("busybox@{D}"));
        let r = Reference::parse(&format!("localhost:5000/x:t@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("t"));
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "x");
    }

    #[test]
    fn rejects_bad_syntax_with_reason() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("Foo:bar", "must be lowercase"),
            ("docker.io/Foo", "must be lowercase"),
            ("busybox:", "tag"),
            ("busybox:-x", "tag"),
            ("busybox:a/b", "registry host"),
            ("a//b", "path component"),
            ("a_-b", "path component"),
            ("-a", "path component"),
            ("busybox@sha256:abc", "digest"),
            ("busybox@md5:0123", "digest"),
            ("local host/x", "path component"),
            ("exa_mple.com/x", "registry host"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "image id",
            ),
        ];
        for (input, want) in table {
            let e = Reference::parse(input).expect_err(input).to_string();
            assert!(e.contains(want), "{input:?}: {e}");
            assert!(
                e.contains(&format!("{input:?}")),
                "{e} should name the input"
            );
        }
        let long = format!("{}x", "a/".repeat(130));
        assert!(Reference::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("255"));
    }
}
