//! On-disk cache of compiled programs, so that starting the same profile again (Docker's
//! default one is on nearly every container) costs a file read instead of a libseccomp run.
//!
//! File `<dir>/<sha256 hex>.bpf`:
//!   magic (8) | flags u32 | wants_listener u8 | 3 zero bytes | count u32 |
//!   count × (code u16, jt u8, jf u8, k u32) | sha256 of everything before it (32)
//! Integers are little-endian. Anything that does not parse is a miss and gets rewritten.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use super::{CompiledFilter, SockFilter, BPF_MAXINSNS};

/// Bumped whenever the file layout or the compiler's semantics change.
const MAGIC: &[u8; 8] = b"VSLBPF\x00\x01";
const HEADER: usize = 8 + 4 + 1 + 3 + 4;
const INSN: usize = 8;
const DIGEST: usize = 32;

/// Hex sha256 over what determines the program: our format/semantics version, the
/// libseccomp version, the machine (native arch is implicit in every filter) and the
/// section's JSON. serde_json writes struct fields in declaration order, so equal sections
/// give equal bytes.
pub(super) fn key(seccomp: &LinuxSeccomp, library_version: &str) -> String {
    // The listener fields are per container and do not change the program; leaving them in
    // would give every container with an agent its own entry.
    let mut section = seccomp.clone();
    section.set_listener_path(None);
    section.set_listener_metadata(None);
    // Serialising plain enums, strings and integers cannot fail.
    let json = serde_json::to_vec(&section).unwrap_or_default();

    let mut hash = Sha256::new();
    for part in [
        MAGIC.as_slice(),
        library_version.as_bytes(),
        std::env::consts::ARCH.as_bytes(),
        &json,
    ] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.bpf"))
}

/// The cached filter, or None on a miss, a short or corrupt file, or any read error.
pub(super) fn read(dir: &Path, key: &str) -> Option<CompiledFilter> {
    let mut file = OpenOptions::new()
        .read(true)
        // A symlink planted in the cache must not redirect us to another file.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path(dir, key))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    decode(&bytes)
}

fn decode(bytes: &[u8]) -> Option<CompiledFilter> {
    let body_len = bytes.len().checked_sub(DIGEST)?;
    let (body, digest) = bytes.split_at(body_len);
    if body.len() < HEADER || &body[..8] != MAGIC || Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let flags = u32::from_le_bytes(body[8..12].try_into().ok()?);
    let wants_listener = match body[12] {
        0 => false,
        1 => true,
        _ => return None,
    };
    let count = u32::from_le_bytes(body[16..20].try_into().ok()?) as usize;
    let insns = &body[HEADER..];
    if count == 0 || count > BPF_MAXINSNS || insns.len() != count * INSN {
        return None;
    }
    let program = insns
        .chunks_exact(INSN)
        .map(|insn| SockFilter {
            code: u16::from_le_bytes([insn[0], insn[1]]),
            jt: insn[2],
            jf: insn[3],
            k: u32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]),
        })
        .collect();
    Some(CompiledFilter {
        program,
        flags: libc::c_ulong::from(flags),
        wants_listener,
    })
}

fn encode(filter: &CompiledFilter) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + filter.program.len() * INSN + DIGEST);
    out.extend_from_slice(MAGIC);
    // Every SECCOMP_FILTER_FLAG_* bit is below 1 << 32, and c_ulong is 32 bits on some
    // targets, so the file keeps 32.
    out.extend_from_slice(&((filter.flags & 0xffff_ffff) as u32).to_le_bytes());
    out.extend_from_slice(&[u8::from(filter.wants_listener), 0, 0, 0]);
    out.extend_from_slice(&(filter.program.len() as u32).to_le_bytes());
    for insn in &filter.program {
        out.extend_from_slice(&insn.code.to_le_bytes());
        out.extend_from_slice(&[insn.jt, insn.jf]);
        out.extend_from_slice(&insn.k.to_le_bytes());
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

/// Write the entry atomically: readers see the old file, no file, or the whole new one,
/// even with several runtimes starting containers at once.
pub(super) fn write(dir: &Path, key: &str, filter: &CompiledFilter) -> io::Result<()> {
    // Only root may write here: a writable cache lets its writer pick every filter.
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{key}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_new(&tmp, &encode(filter)).and_then(|()| fs::rename(&tmp, path(dir, key)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(bytes)?;
    // Without it a crash after the rename could leave a named but empty file; that is
    // only a miss, but the fsync is cheap next to the compile it saves.
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CompiledFilter {
        CompiledFilter {
            program: vec![
                SockFilter {
                    code: 0x20,
                    jt: 0,
                    jf: 0,
                    k: 4,
                },
                SockFilter {
                    code: 0x06,
                    jt: 1,
                    jf: 2,
                    k: 0x7fff_0000,
                },
            ],
            flags: libc::SECCOMP_FILTER_FLAG_LOG,
            wants_listener: true,
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        assert_eq!(decode(&encode(&sample())), Some(sample()));
    }

    #[test]
    fn truncated_or_flipped_files_are_misses() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert_eq!(decode(&bytes[..len]), None, "prefix of {len} bytes");
        }
        let mut flipped = bytes.clone();
        flipped[HEADER + 3] ^= 0x40;
        assert_eq!(decode(&flipped), None);
    }

    #[test]
    fn key_ignores_listener_fields_but_not_version() {
        let mut spec = LinuxSeccomp::default();
        let base = key(&spec, "2.5.4");
        spec.set_listener_path(Some("/run/agent.sock".into()));
        spec.set_listener_metadata(Some("pod-a".into()));
        assert_eq!(key(&spec, "2.5.4"), base);
        assert_ne!(key(&spec, "2.6.0"), base);
        assert_eq!(base.len(), 64);
    }
}
