//! A blob download as a `Read` that survives dropped connections: on a transient error it
//! reconnects with `Range: bytes=N-` from where it stopped (or skips N bytes when the
//! server ignores ranges), and it enforces the descriptor's size. The digest is checked by
//! the consumer (the image store hashes what it reads).

use std::io::{self, Read};

use crate::client::{backoff, Body, RegistryClient};
use crate::error::DistError;

/// Reconnections allowed per blob before giving up.
const MAX_RESUMES: u32 = 5;

pub struct BlobReader<'c> {
    client: &'c RegistryClient,
    url: String,
    scopes: Vec<String>,
    digest: String,
    size: u64,
    pos: u64,
    resumes: u32,
    inner: Option<Box<dyn Read + Send + Sync>>,
}

impl<'c> BlobReader<'c> {
    /// `url` is the blob's URL (registry or a foreign layer's `urls` entry).
    pub fn new(
        client: &'c RegistryClient,
        url: String,
        scopes: Vec<String>,
        digest: &str,
        size: u64,
    ) -> BlobReader<'c> {
        BlobReader {
            client,
            url,
            scopes,
            digest: digest.to_string(),
            size,
            pos: 0,
            resumes: 0,
            inner: None,
        }
    }

    /// Bytes delivered so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn connect(&mut self) -> io::Result<()> {
        let mut headers = Vec::new();
        if self.pos > 0 {
            headers.push(("Range", format!("bytes={}-", self.pos)));
        }
        let reply = self
            .client
            .send("GET", &self.url, &self.scopes, &headers, Body::Empty)
            .map_err(io::Error::other)?;
        let mut reader: Box<dyn Read + Send + Sync> = match reply.status {
            206 => reply.into_reader(),
            200 => {
                let mut r = reply.into_reader();
                // The server ignored the range: skip what we already have.
                let skip = self.pos;
                let skipped = io::copy(&mut (&mut r).take(skip), &mut io::sink())?;
                if skipped != skip {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short blob"));
                }
                r
            }
            404 => {
                return Err(io::Error::other(DistError::Status {
                    what: "blob",
                    url: self.url.clone(),
                    status: 404,
                    body: format!("blob unknown: {}", self.digest),
                }))
            }
            status => {
                let body = reply.error_text();
                return Err(io::Error::other(DistError::Status {
                    what: "blob",
                    url: self.url.clone(),
                    status,
                    body,
                }));
            }
        };
        // Never read past the declared size: a registry sending more is lying about the
        // descriptor, and we must not feed unbounded data to the store.
        let remaining = self.size - self.pos;
        reader = Box::new(reader.take(remaining + 1));
        self.inner = Some(reader);
        Ok(())
    }

    fn retryable(e: &io::Error) -> bool {
        match e.get_ref().and_then(|i| i.downcast_ref::<DistError>()) {
            Some(DistError::Unreachable { .. }) => true,
            Some(DistError::Status { status, .. }) => *status >= 500 || *status == 429,
            Some(_) => false,
            None => true,
        }
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.inner.is_none() {
                if let Err(e) = self.connect() {
                    if Self::retryable(&e) && self.resumes < MAX_RESUMES {
                        self.resumes += 1;
                        backoff(self.resumes);
                        continue;
                    }
                    return Err(e);
                }
            }
            let Some(inner) = self.inner.as_mut() else {
                continue;
            };
            match inner.read(buf) {
                Ok(0) if self.pos == self.size => return Ok(0),
                Ok(0) => {
                    // Connection closed early: resume from here.
                    self.inner = None;
                    if self.resumes >= MAX_RESUMES {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "blob {} ended after {} of {} bytes",
                                self.digest, self.pos, self.size
                            ),
                        ));
                    }
                    self.resumes += 1;
                    tracing::debug!("blob {} cut at {}; resuming", self.digest, self.pos);
                    backoff(self.resumes);
                }
                Ok(n) => {
                    if self.pos + n as u64 > self.size {
                        return Err(io::Error::other(DistError::SizeMismatch {
                            digest: self.digest.clone(),
                            expected: self.size,
                            actual: self.pos + n as u64,
                        }));
                    }
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.inner = None;
                    if self.resumes >= MAX_RESUMES {
                        return Err(e);
                    }
                    self.resumes += 1;
                    tracing::debug!("blob {} failed at {}: {e}; resuming", self.digest, self.pos);
                    backoff(self.resumes);
                }
            }
        }
    }
}
