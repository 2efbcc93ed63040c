//! `sha256:<hex>` digests and streaming hashers. Only sha256 is accepted: it is what every
//! registry and `docker save` produce, and one algorithm keeps the blob layout flat.

use crate::error::ImageError;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read, Write};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parse `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, ImageError> {
        let bad = |reason: &str| ImageError::InvalidDigest {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("only sha256:<64 hex> digests are supported"))?;
        if !is_hex64(hex) {
            return Err(bad("expected 64 lowercase hex characters after sha256:"));
        }
        Ok(Digest(s.to_string()))
    }

    pub fn from_hex(hex: &str) -> Result<Digest, ImageError> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes what is read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// Read the rest of the stream (tar readers stop before trailing padding) and finish.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            Digest(format!("sha256:{}", hex::encode(self.hasher.finalize()))),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads from `inner`, copying everything read into `copy` (when present) and hashing it.
pub struct TeeReader<R, W> {
    inner: HashingReader<R>,
    copy: Option<W>,
}

impl<R: Read, W: Write> TeeReader<R, W> {
    pub fn new(inner: R, copy: Option<W>) -> Self {
        TeeReader {
            inner: HashingReader::new(inner),
            copy,
        }
    }
    pub fn finish(mut self) -> io::Result<(Digest, u64, Option<W>)> {
        io::copy(&mut self, &mut io::sink())?;
        let copy = self.copy.take();
        let (d, n) = self.inner.finish()?;
        Ok((d, n, copy))
    }
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.copy.as_mut() {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hash() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(Digest::parse("sha256:ABC").is_err());
        assert!(Digest::parse("sha512:00").is_err());
        let (h, n) = HashingReader::new(&b"abc"[..]).finish().unwrap();
        assert_eq!((h, n), (d, 3));
    }
}
