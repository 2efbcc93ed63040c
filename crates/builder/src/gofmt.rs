//! Go's `fmt` renderings that Docker's legacy builder writes into history `created_by`
//! (`%q` and `%v` of string slices, durations, the HealthConfig struct), so `docker history`
//! of a Vessel-built image reads like one built by Docker.

use crate::instructions::Health;

/// `%q` of a string slice: `["a" "b c"]`.
pub fn quoted_list(v: &[String]) -> String {
    let items: Vec<String> = v
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", items.join(" "))
}

/// `%v` of a string slice: `[a b c]`.
pub fn plain_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// `time.Duration.String()`: `0s`, `500ms`, `5s`, `1m30s`, `1h0m0s`.
pub fn duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let ns = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if ns < 1_000 {
        return format!("{sign}{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{sign}{}µs", trim_frac(ns as f64 / 1e3));
    }
    if ns < 1_000_000_000 {
        return format!("{sign}{}ms", trim_frac(ns as f64 / 1e6));
    }
    let h = ns / 3_600_000_000_000;
    let m = ns / 60_000_000_000 % 60;
    let s = trim_frac((ns % 60_000_000_000) as f64 / 1e9);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

fn trim_frac(x: f64) -> String {
    let s = format!("{x:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `%q` of an int: a quoted rune (`'\x04'`, `'A'`).
pub fn quoted_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some(c @ ' '..='~') if c != '\'' && c != '\\' => format!("'{c}'"),
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some(c) if (c as u32) < 0x80 => format!("'\\x{:02x}'", c as u32),
        Some(c) if (c as u32) < 0x10000 => format!("'\\u{:04x}'", c as u32),
        Some(c) => format!("'\\U{:08x}'", c as u32),
        None => format!("%!q(int={n})"),
    }
}

/// `HEALTHCHECK &{["CMD-SHELL" "x"] "5s" "3s" "0s" '\x04'}` as Docker 20.10 records it.
pub fn healthcheck(h: &Health) -> String {
    format!(
        "&{{{} \"{}\" \"{}\" \"{}\" {}}}",
        quoted_list(&h.test),
        duration(h.interval.unwrap_or(0)),
        duration(h.timeout.unwrap_or(0)),
        duration(h.start_period.unwrap_or(0)),
        quoted_rune(h.retries.unwrap_or(0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_renderings() {
        assert_eq!(
            quoted_list(&["a".into(), "b \"c\"".into()]),
            r#"["a" "b \"c\""]"#
        );
        assert_eq!(
            plain_list(&["/data".into(), "/cache".into()]),
            "[/data /cache]"
        );
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(5_000_000_000), "5s");
        assert_eq!(duration(90_000_000_000), "1m30s");
        assert_eq!(duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(duration(500_000_000), "500ms");
        assert_eq!(duration(1_500_000_000), "1.5s");
        assert_eq!(quoted_rune(4), "'\\x04'");
        assert_eq!(quoted_rune(65), "'A'");
        let h = Health {
            test: vec!["CMD-SHELL".into(), "test -f /ok".into()],
            interval: Some(5_000_000_000),
            timeout: Some(3_000_000_000),
            retries: Some(4),
            ..Default::default()
        };
        assert_eq!(
            healthcheck(&h),
            r#"&{["CMD-SHELL" "test -f /ok"] "5s" "3s" "0s" '\x04'}"#
        );
    }
}
