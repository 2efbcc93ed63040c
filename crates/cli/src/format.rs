//! Output formatting shared by the verbs: docker's tables, sizes, durations and JSON layout.

use std::time::{SystemTime, UNIX_EPOCH};

/// Go's `%.{prec}g` for the positive numbers sizes produce.
fn fmt_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    // Rounding may bump the exponent (999.9 with 3 digits is 1e+03).
    let rounded: f64 = format!("{:.*e}", prec - 1, v).parse().unwrap_or(v);
    let exp = if rounded.abs() >= 10f64.powi(exp + 1) {
        exp + 1
    } else {
        exp
    };
    if exp < -4 || exp >= prec as i32 {
        let s = format!("{:.*e}", prec - 1, v);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = trim_zeros(m);
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanSizeWithPrecision`: decimal units, e.g. "1.98MB", "512B".
pub fn human_size_prec(size: f64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1000.0 && i < UNITS.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    format!("{}{}", fmt_g(s, prec), UNITS[i])
}

/// The precision the docker CLI uses in its tables.
pub fn human_size(size: i64) -> String {
    human_size_prec(size as f64, 3)
}

/// go-units `BytesSize`: binary units, e.g. "1.5GiB" (stats).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut s = size;
    let mut i = 0;
    while s >= 1024.0 && i < UNITS.len() - 1 {
        s /= 1024.0;
        i += 1;
    }
    format!("{}{}", fmt_g(s, 4), UNITS[i])
}

/// go-units `HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let hours_f = secs as f64 / 3600.0;
    if secs < 1 {
        return "Less than a second".into();
    } else if secs == 1 {
        return "1 second".into();
    } else if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    } else if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (hours_f + 0.5) as i64;
    if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours_f as i64 / 24 / 365)
    }
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// "5 seconds ago" for a unix timestamp.
pub fn ago(ts: i64) -> String {
    format!("{} ago", human_duration(now_unix() - ts))
}

/// Parses the RFC 3339 timestamps the API uses ("2026-11-22T04:52:34.576532364Z") to unix
/// seconds. Offsets other than Z are honoured.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + se - offset)
}

/// Formats unix seconds as "2026-11-22 04:52:34 +0000 UTC" (Go's time.String for UTC).
pub fn utc_string(ts: i64) -> String {
    let days = ts.div_euclid(86400);
    let secs = ts.rem_euclid(86400);
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Go's `tabwriter` as docker configures it (minwidth 10, padding 3): every cell but the last
/// of a row is padded to its column's width.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                let w = (widths[i] + 3).max(10);
                out.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// Splits rendered template lines on tabs and aligns them like `table`.
pub fn tabulate(lines: &[String]) -> String {
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    table(&rows)
}

/// Docker's ellipsis truncation (`formatter.Ellipsis`): keeps `max` chars including "…".
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// The 12-character id (after any "sha256:").
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// Re-indents raw JSON with 4 spaces, keeping the daemon's key order (Go's `json.Indent`, as
/// `docker inspect` prints). Empty objects and arrays stay `{}` / `[]`.
pub fn indent_json(raw: &str, base: usize) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = base;
    let mut chars = raw.trim().chars().peekable();
    let nl = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("    ", depth));
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    out.push(c);
                    depth += 1;
                    nl(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                nl(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                nl(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Prints raw JSON documents as docker does for `inspect`: one indented array.
pub fn json_array(docs: &[String]) -> String {
    if docs.is_empty() {
        return "[]\n".into();
    }
    let inner: Vec<String> = docs
        .iter()
        .map(|d| format!("    {}", indent_json(d, 1)))
        .collect();
    format!("[\n{}\n]\n", inner.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(1_983_232), "1.98MB");
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1234), "1.23kB");
        assert_eq!(human_size(4_260_000), "4.26MB");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(human_size(10_000_000), "10MB");
        assert_eq!(human_size_prec(1_983_232.0, 4), "1.983MB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(1024.0 * 1024.0 * 100.0), "100MiB");
    }

    #[test]
    fn durations_like_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(150), "2 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-22T04:52:34.576532364Z"),
            Some(1795323154)
        );
        assert_eq!(parse_rfc3339("2026-11-22T05:52:34+01:00"), Some(1795323154));
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(utc_string(1795323154), "2026-11-22 04:52:34 +0000 UTC");
    }

    #[test]
    fn tables_pad_like_tabwriter() {
        let t = table(&[
            vec!["REPOSITORY".into(), "TAG".into(), "SIZE".into()],
            vec!["bb".into(), "latest".into(), "1.98MB".into()],
        ]);
        assert_eq!(
            t,
            "REPOSITORY   TAG       SIZE\nbb           latest    1.98MB\n"
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(
            ellipsis("\"sh -c 'echo hello world'\"", 20),
            "\"sh -c 'echo hello …"
        );
        assert_eq!(ellipsis("short", 20), "short");
        assert_eq!(short_id("sha256:e97fe0e989d33f5d01ab"), "e97fe0e989d3");
    }

    #[test]
    fn json_indent_keeps_order() {
        let s = indent_json(r#"{"b":1,"a":[],"c":{"x":"a,b:{"},"d":[1,2]}"#, 0);
        assert_eq!(
            s,
            "{\n    \"b\": 1,\n    \"a\": [],\n    \"c\": {\n        \"x\": \"a,b:{\"\n    },\n    \"d\": [\n        1,\n        2\n    ]\n}"
        );
        assert_eq!(json_array(&[]), "[]\n");
        assert_eq!(
            json_array(&["{\"a\":1}".into()]),
            "[\n    {\n        \"a\": 1\n    }\n]\n"
        );
    }
}
