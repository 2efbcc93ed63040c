//! Signal names as `kill` accepts them: `KILL`, `SIGKILL`, `sigkill`, `9`, `RTMIN+3`.

use crate::error::{Result, RuntimeError};

/// Parse a signal name or number into its number.
pub fn parse_signal(text: &str) -> Result<i32> {
    let unknown = || RuntimeError::UnknownSignal(text.to_string());
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(unknown())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = parse_realtime(name) {
        return n.ok_or_else(unknown);
    }
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, v)| v)
        .ok_or_else(unknown)
}

fn parse_realtime(name: &str) -> Option<Option<i32>> {
    let (base, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (libc::SIGRTMIN(), rest)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        (libc::SIGRTMAX(), rest)
    } else {
        return None;
    };
    let n = if rest.is_empty() {
        Some(base)
    } else if let Some(off) = rest.strip_prefix('+') {
        off.parse::<i32>().ok().map(|o| base + o)
    } else if let Some(off) = rest.strip_prefix('-') {
        off.parse::<i32>().ok().map(|o| base - o)
    } else {
        None
    };
    Some(n.filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n)))
}

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse_signal("SIGRTMAX").unwrap(), libc::SIGRTMAX());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("100").is_err());
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("RTMIN+99").is_err());
    }
}
