//! Small pure pieces of HTTP: `Range`/`Content-Range` parsing, query strings, pagination.

use std::collections::HashMap;

use crate::error::{ApiError, Code};

/// A byte range `[start, end]` (inclusive, as HTTP writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes (never zero: the end is inclusive).
    pub fn count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What a `Range` request header asks of a blob of `size` bytes (RFC 9110 section 14.2; only
/// a single range is served, as registries do).
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or one this server ignores (multiple ranges): send everything.
    Full,
    Partial(ByteRange),
    Unsatisfiable,
}

pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // suffix: the last N bytes
        match b.parse::<u64>() {
            Ok(0) | Err(_) => None,
            Ok(_) if size == 0 => None,
            Ok(n) => Some(ByteRange {
                start: size.saturating_sub(n),
                end: size - 1,
            }),
        }
    } else {
        match (a.parse::<u64>(), b) {
            (Ok(s), "") if s < size => Some(ByteRange {
                start: s,
                end: size - 1,
            }),
            (Ok(s), b) => match b.parse::<u64>() {
                Ok(e) if s <= e && s < size => Some(ByteRange {
                    start: s,
                    end: e.min(size - 1),
                }),
                _ => None,
            },
            _ => None,
        }
    };
    match range {
        Some(r) => RangeRequest::Partial(r),
        None => RangeRequest::Unsatisfiable,
    }
}

/// A PATCH's `Content-Range: <start>-<end>` (the spec's chunked-upload form, without `bytes `).
pub fn parse_content_range(h: &str) -> Option<ByteRange> {
    let h = h.trim();
    let h = h.strip_prefix("bytes ").unwrap_or(h);
    let h = h.split('/').next()?;
    let (a, b) = h.split_once('-')?;
    let (start, end) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (start <= end).then_some(ByteRange { start, end })
}

/// The query string as a map (first value wins) plus every `scope` (the token service
/// takes several).
pub fn query(q: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        m.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    m
}

pub fn first<'a>(q: &'a HashMap<String, Vec<String>>, k: &str) -> Option<&'a str> {
    q.get(k).and_then(|v| v.first()).map(String::as_str)
}

/// One page of a sorted list: the entries after `last`, at most `n` of them, and whether more
/// follow (the spec's "Listing Tags" pagination, also used for `_catalog`).
pub fn paginate(sorted: &[String], n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let from = match last {
        Some(l) => sorted.partition_point(|x| x.as_str() <= l),
        None => 0,
    };
    let rest = &sorted[from..];
    match n {
        Some(n) if n < rest.len() => (rest[..n].to_vec(), n > 0),
        _ => (rest.to_vec(), false),
    }
}

/// Parses `n`: a non-negative integer.
pub fn page_size(q: &HashMap<String, Vec<String>>) -> Result<Option<usize>, ApiError> {
    match first(q, "n") {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<usize>()
            .map(Some)
            .map_err(|_| ApiError::detail(Code::PaginationNumberInvalid, format!("n={s:?}"))),
    }
}

/// Percent-encodes a query value (tags and names are plain, but `last` echoes user input).
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: u64, e: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start: s, end: e })
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), p(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), p(5, 9));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), p(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), p(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), p(0, 9));
        assert_eq!(
            parse_range(Some("bytes=10-"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=4-2"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=x-2"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=0-0"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeRequest::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeRequest::Full);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("0-99"),
            Some(ByteRange { start: 0, end: 99 })
        );
        assert_eq!(
            parse_content_range("bytes 100-199/*"),
            Some(ByteRange {
                start: 100,
                end: 199
            })
        );
        assert_eq!(parse_content_range("5-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }

    #[test]
    fn pages() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(paginate(&all, None, None), (all.clone(), false));
        assert_eq!(
            paginate(&all, Some(2), None),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(
            paginate(&all, Some(2), Some("b")),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(paginate(&all, Some(0), None), (vec![], false));
        assert_eq!(
            paginate(&all, None, Some("bb")),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(paginate(&all, Some(9), Some("d")), (vec![], false));
        let q = query(Some("n=x"));
        assert_eq!(
            page_size(&q).unwrap_err().code,
            Code::PaginationNumberInvalid
        );
        assert_eq!(page_size(&query(Some("n=3&last=a"))).unwrap(), Some(3));
    }

    #[test]
    fn queries() {
        let q = query(Some("scope=a%3Ab&scope=c&service=s"));
        assert_eq!(q["scope"], vec!["a:b".to_string(), "c".to_string()]);
        assert_eq!(first(&q, "service"), Some("s"));
    }
}
