//! The container log in Docker's json-file format: one JSON object per line,
//! `{"log":"…","stream":"stdout","time":"…"}`, split on newlines, rotated by size.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::timefmt::rfc3339_nano;

/// Docker's json-file driver also cuts lines at 16 KiB; the rest follows in the next entry.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 1,
    Stderr = 2,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    /// 0 = never rotate.
    max_size: u64,
    max_files: u32,
    /// The unterminated tail of each stream, waiting for its newline.
    partial: [Vec<u8>; 2],
    scratch: Vec<u8>,
}

impl LogFile {
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> io::Result<LogFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
            scratch: Vec::new(),
        })
    }

    /// Log a chunk read from the container; complete lines are written now.
    pub fn write(&mut self, stream: Stream, mut data: &[u8], now: SystemTime) {
        let time = rfc3339_nano(now);
        let idx = stream as usize - 1;
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = data.split_at(pos + 1);
            data = rest;
            if self.partial[idx].is_empty() {
                self.emit(stream, line, &time);
            } else {
                let mut joined = std::mem::take(&mut self.partial[idx]);
                joined.extend_from_slice(line);
                self.emit_long(stream, &joined, &time);
                joined.clear();
                self.partial[idx] = joined;
            }
        }
        self.partial[idx].extend_from_slice(data);
        let full = self.partial[idx].len() / MAX_LINE * MAX_LINE;
        if full > 0 {
            let mut pending = std::mem::take(&mut self.partial[idx]);
            self.emit_long(stream, &pending[..full], &time);
            pending.drain(..full);
            self.partial[idx] = pending;
        }
    }

    /// Write the unterminated tails (at exit: nothing more will complete them).
    pub fn flush_partial(&mut self, now: SystemTime) {
        let time = rfc3339_nano(now);
        for stream in [Stream::Stdout, Stream::Stderr] {
            let pending = std::mem::take(&mut self.partial[stream as usize - 1]);
            if !pending.is_empty() {
                self.emit_long(stream, &pending, &time);
            }
        }
    }

    fn emit_long(&mut self, stream: Stream, line: &[u8], time: &str) {
        for piece in line.chunks(MAX_LINE) {
            self.emit(stream, piece, time);
        }
    }

    fn emit(&mut self, stream: Stream, line: &[u8], time: &str) {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.extend_from_slice(b"{\"log\":\"");
        escape_json(line, &mut out);
        out.extend_from_slice(b"\",\"stream\":\"");
        out.extend_from_slice(stream.name().as_bytes());
        out.extend_from_slice(b"\",\"time\":\"");
        out.extend_from_slice(time.as_bytes());
        out.extend_from_slice(b"\"}\n");
        if self.max_size > 0 && self.size > 0 && self.size + out.len() as u64 > self.max_size {
            self.rotate();
        }
        // A full disk must not stop the container: the entry is lost, the loop goes on.
        if let Some(f) = &mut self.file {
            if f.write_all(&out).is_ok() {
                self.size += out.len() as u64;
            }
        }
        self.scratch = out;
    }

    /// log.json → log.json.1 → … keeping `max_files` files in total (Docker's scheme).
    fn rotate(&mut self) {
        if self.max_files <= 1 {
            if let Some(f) = &self.file {
                if f.set_len(0).is_ok() {
                    self.size = 0;
                }
            }
            return;
        }
        self.file = None;
        for i in (1..self.max_files - 1).rev() {
            let _ = std::fs::rename(numbered(&self.path, i), numbered(&self.path, i + 1));
        }
        let _ = std::fs::rename(&self.path, numbered(&self.path, 1));
        self.file = open_append(&self.path).ok();
        self.size = 0;
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    File::options().create(true).append(true).open(path)
}

fn numbered(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// JSON string body for arbitrary bytes; invalid UTF-8 becomes U+FFFD, as in Docker.
pub fn escape_json(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn escapes_control_quotes_and_bad_utf8() {
        let mut out = Vec::new();
        escape_json(b"a\"b\\c\n\x01\xff\xc3\xa9", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\\"b\\\\c\\n\\u0001\u{fffd}é"
        );
    }

    #[test]
    fn splits_lines_and_keeps_partial_tails_per_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut log = LogFile::open(&path, 0, 1).unwrap();
        let now = SystemTime::now();
        log.write(Stream::Stdout, b"one\ntw", now);
        log.write(Stream::Stderr, b"err\n", now);
        log.write(Stream::Stdout, b"o\nthree", now);
        log.flush_partial(now);
        let got = lines(&path);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[0].starts_with(r#"{"log":"one\n","stream":"stdout","time":""#));
        assert!(got[1].starts_with(r#"{"log":"err\n","stream":"stderr""#));
        assert!(got[2].starts_with(r#"{"log":"two\n","stream":"stdout""#));
        assert!(got[3].starts_with(r#"{"log":"three","stream":"stdout""#));
    }

    #[test]
    fn cuts_lines_longer_than_the_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut log = LogFile::open(&path, 0, 1).unwrap();
        log.write(
            Stream::Stdout,
            &vec![b'x'; MAX_LINE + 10],
            SystemTime::now(),
        );
        assert_eq!(lines(&path).len(), 1);
        log.flush_partial(SystemTime::now());
        assert_eq!(lines(&path).len(), 2);
    }

    #[test]
    fn rotates_keeping_max_files_in_total() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut log = LogFile::open(&path, 300, 3).unwrap();
        for i in 0..100 {
            log.write(
                Stream::Stdout,
                format!("line {i}\n").as_bytes(),
                SystemTime::now(),
            );
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["log.json", "log.json.1", "log.json.2"]);
        for n in &names {
            assert!(std::fs::metadata(dir.path().join(n)).unwrap().len() <= 300);
        }
        assert!(lines(&path).last().unwrap().contains("line 99\\n"));
        assert!(!lines(&numbered(&path, 2)).is_empty());
    }

    #[test]
    fn single_file_is_truncated_instead_of_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        let mut log = LogFile::open(&path, 200, 1).unwrap();
        for i in 0..50 {
            log.write(
                Stream::Stderr,
                format!("l{i}\n").as_bytes(),
                SystemTime::now(),
            );
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
