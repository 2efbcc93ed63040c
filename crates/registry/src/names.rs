//! Repository names, tags and digests, as the distribution spec's grammar defines them
//! ("Pulling manifests": `<name>` and `<reference>`). A name that passes [`valid_name`] is also
//! a safe relative path: every component starts with `[a-z0-9]`, so `..`, `.` and empty
//! components (path traversal) can never pass.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// Longest repository name accepted (the spec's `<name>` limit for interoperability).
pub const MAX_NAME_LEN: usize = 255;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
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

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// A sha256 content digest (the only algorithm this registry stores).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("digest has no algorithm prefix")]
    NoAlgorithm,
    #[error("unsupported digest algorithm {0:?}")]
    Algorithm(String),
    #[error("sha256 digest must be 64 lowercase hex characters")]
    Encoding,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (algo, hex) = s.split_once(':').ok_or(DigestError::NoAlgorithm)?;
        if algo != "sha256" {
            return Err(DigestError::Algorithm(algo.to_string()));
        }
        Self::from_hex(hex)
    }

    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x))
        {
            return Err(DigestError::Encoding);
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    pub fn of(data: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(data))
    }

    pub fn from_hasher(h: Sha256) -> Self {
        Digest {
            hex: hex::encode(h.finalize()),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// A reference with a `:` is a digest (tags cannot hold one).
    pub fn parse(s: &str) -> Result<Self, crate::error::ApiError> {
        use crate::error::{ApiError, Code};
        if s.contains(':') {
            Digest::parse(s)
                .map(Reference::Digest)
                .map_err(|e| ApiError::detail(Code::DigestInvalid, e.to_string()))
        } else if valid_tag(s) {
            Ok(Reference::Tag(s.to_string()))
        } else {
            Err(ApiError::detail(
                Code::TagInvalid,
                format!("invalid tag {s:?}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/busybox", "a/b/c", "a.b_c__d---e/f0", "x9/y-z"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a//b", "/a", "a/", "..", "a/../b", "a/./b", ".a", "a.", "a..b", "a___b",
            "a_-b", "a:b", "a%2e", "a b", "_layers",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags() {
        for ok in ["latest", "v1.0", "_x", "A-b.c_d", &"t".repeat(128)] {
            assert!(valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"t".repeat(129), "a b"] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(Digest::parse("e3b0"), Err(DigestError::NoAlgorithm));
        assert!(matches!(
            Digest::parse("md5:abc"),
            Err(DigestError::Algorithm(_))
        ));
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::Encoding));
        let upper = d.to_string().to_uppercase().replace("SHA256", "sha256");
        assert_eq!(Digest::parse(&upper), Err(DigestError::Encoding));
        assert_eq!(
            Digest::parse("sha256:../../etc/passwd"),
            Err(DigestError::Encoding)
        );
    }

    #[test]
    fn references() {
        assert_eq!(Reference::parse("v1").unwrap(), Reference::Tag("v1".into()));
        assert!(matches!(
            Reference::parse(&Digest::of(b"x").to_string()),
            Ok(Reference::Digest(_))
        ));
        assert_eq!(
            Reference::parse("sha256:zz").unwrap_err().code,
            crate::error::Code::DigestInvalid
        );
        assert_eq!(
            Reference::parse("..").unwrap_err().code,
            crate::error::Code::TagInvalid
        );
    }
}
