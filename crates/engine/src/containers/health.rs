//! Health checks (`HEALTHCHECK` in the image, `--health-*` flags): run the test inside the
//! container every interval through `vessel-runtime exec`, keep the last results in memory,
//! and report them in `inspect` (`State.Health`) and `ps` (`(healthy)`). A daemon restart
//! starts over at `starting`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use vessel_specgen::create::Healthcheck;

use super::Containers;

const KEEP_RESULTS: usize = 5;
const MAX_OUTPUT: usize = 4096;

#[derive(Debug, Clone)]
pub struct Health {
    pub status: &'static str,
    pub failing_streak: u32,
    pub log: VecDeque<Value>,
}

impl Health {
    pub fn json(&self) -> Value {
        json!({"Status": self.status, "FailingStreak": self.failing_streak, "Log": self.log})
    }

    /// The suffix `ps` shows after "Up 3 seconds".
    pub fn ps_suffix(&self) -> String {
        match self.status {
            "starting" => " (health: starting)".into(),
            other => format!(" ({other})"),
        }
    }
}

/// What to run, from `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
pub fn test_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

fn nanos(value: Option<i64>, default: Duration) -> Duration {
    match value {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

impl Containers {
    /// Start the checker of a container that just started, if it has a health check.
    pub fn start_health_checks(self: &Arc<Self>, id: String, check: Healthcheck) {
        let Some(command) = check.test.as_deref().and_then(test_command) else {
            return;
        };
        let interval = nanos(check.interval, Duration::from_secs(30));
        let timeout = nanos(check.timeout, Duration::from_secs(30));
        let start_period = nanos(check.start_period, Duration::ZERO);
        let retries = check.retries.filter(|r| *r > 0).unwrap_or(3) as u32;
        self.set_health(
            &id,
            Some(Health {
                status: "starting",
                failing_streak: 0,
                log: VecDeque::new(),
            }),
        );
        let this = self.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(interval).await;
                match this.find(&id) {
                    Ok(r) if r.state.status.is_live() => {}
                    _ => break,
                }
                let begun = crate::timefmt::now_rfc3339_nano();
                let mut cmd = tokio::process::Command::from(this.runtime_command());
                cmd.arg("exec").arg(&id).args(&command);
                cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
                let (code, output) = match tokio::time::timeout(timeout, cmd.output()).await {
                    Ok(Ok(out)) => {
                        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                        text.push_str(&String::from_utf8_lossy(&out.stderr));
                        text.truncate(MAX_OUTPUT);
                        (out.status.code().unwrap_or(1), text)
                    }
                    Ok(Err(e)) => (1, format!("cannot run the health check: {e}")),
                    Err(_) => (-1, format!("Health check exceeded timeout ({timeout:?})")),
                };
                let in_start_period = started.elapsed() < start_period;
                let mut health = this.health(&id).unwrap_or(Health {
                    status: "starting",
                    failing_streak: 0,
                    log: VecDeque::new(),
                });
                if code == 0 {
                    health.status = "healthy";
                    health.failing_streak = 0;
                } else if !in_start_period {
                    health.failing_streak += 1;
                    if health.failing_streak >= retries {
                        health.status = "unhealthy";
                    }
                }
                health.log.push_back(json!({
                    "Start": begun, "End": crate::timefmt::now_rfc3339_nano(),
                    "ExitCode": code, "Output": output,
                }));
                while health.log.len() > KEEP_RESULTS {
                    health.log.pop_front();
                }
                this.set_health(&id, Some(health));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_forms() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(test_command(&s(&["CMD", "true"])), Some(s(&["true"])));
        assert_eq!(
            test_command(&s(&["CMD-SHELL", "test -f /x"])),
            Some(s(&["/bin/sh", "-c", "test -f /x"]))
        );
        assert_eq!(test_command(&s(&["NONE"])), None);
        assert_eq!(test_command(&[]), None);
    }
}
