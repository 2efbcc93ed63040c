//! OCI lifecycle hooks: each is run with the container state JSON on stdin and killed when
//! its timeout expires.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Result, RuntimeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl HookKind {
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    #[allow(deprecated)] // prestart is deprecated in the spec but still honoured.
    pub fn select(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// Run every hook of `kind` in order; the first failure stops the rest and is returned.
pub fn run_all(kind: HookKind, hooks: Option<&Hooks>, state_json: &[u8]) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    for hook in kind.select(hooks) {
        run(kind, hook, state_json)?;
    }
    Ok(())
}

/// Run every hook of `kind`, turning failures into warnings on stderr (poststart and
/// poststop failures must not change the lifecycle).
pub fn run_all_warn(kind: HookKind, hooks: Option<&Hooks>, state_json: &[u8]) {
    let Some(hooks) = hooks else { return };
    for hook in kind.select(hooks) {
        if let Err(e) = run(kind, hook, state_json) {
            eprintln!("warning: {e}");
        }
    }
}

pub fn run(kind: HookKind, hook: &Hook, state_json: &[u8]) -> Result<()> {
    let fail = |message: String| RuntimeError::Hook {
        kind: kind.name(),
        path: hook.path().clone(),
        message,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((arg0, rest)) = args.split_first() {
            cmd.arg0(arg0).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json);
    }
    let deadline = hook
        .timeout()
        .filter(|&t| t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(fail(format!("waiting: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s and was killed",
                hook.timeout().unwrap_or_default()
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(fail(format!("killed by signal {sig}")))
    } else {
        Err(fail(format!(
            "exited with status {}",
            status.code().unwrap_or(-1)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_args() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {} && echo \"$0 $1 $X\" >> {}", out.display(), out.display()), "first"],
            "env": ["X=y"]
        }));
        run(HookKind::Poststart, &h, b"{\"id\":\"c\"}").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        // $0 is args[3] ("first"), $1 is unset, X comes from the hook's env.
        assert_eq!(text, "{\"id\":\"c\"}first  y\n");
    }

    #[test]
    fn failing_hook_reports_status() {
        let h = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}));
        let err = run(HookKind::Prestart, &h, b"{}").unwrap_err().to_string();
        assert!(
            err.contains("prestart hook /bin/sh") && err.contains("status 3"),
            "{err}"
        );
    }

    #[test]
    fn timeout_kills_hook() {
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}));
        let start = Instant::now();
        let err = run(HookKind::CreateRuntime, &h, b"{}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_hook_binary_is_an_error() {
        let h = hook(serde_json::json!({"path": "/nonexistent/hook"}));
        assert!(run(HookKind::Poststop, &h, b"{}").is_err());
    }
}
