//! Restart policies: when a container that exited starts again (`--restart`), the back-off
//! between tries, and what the daemon starts or resumes when it comes up (`reconcile`).

use std::sync::Arc;
use std::time::Duration;

use super::manager::{is_monitor, process_alive, Containers};
use super::record::{ContainerRecord, Status};

impl Containers {
    /// A create cut off by a crash leaves a mounted rootfs, files and maybe a namespace
    /// but no record: nothing refers to them, so they go (networks are reconciled below).
    fn drop_orphans(&self, records: &[ContainerRecord]) {
        let known: std::collections::HashSet<&str> =
            records.iter().map(|r| r.id.as_str()).collect();
        for id in self.images.rootfs_ids() {
            // Build steps keep their rootfs under ids of their own; only 64-hex ids are ours.
            if id.len() != 64
                || !id.bytes().all(|b| b.is_ascii_hexdigit())
                || known.contains(id.as_str())
            {
                continue;
            }
            tracing::info!(container = %id, "removing the rootfs of a container whose create was cut off");
            if let Err(e) = self.images.remove_rootfs(&id) {
                tracing::warn!(container = %id, "removing orphaned rootfs: {e}");
            }
            let _ = std::fs::remove_dir_all(self.data_dir.join(&id));
            let _ = std::fs::remove_dir_all(self.run_dir(&id));
        }
        for entry in std::fs::read_dir(&self.data_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && !known.contains(name.as_str()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Start the container again after `delay` (restart policy), unless someone stopped,
    /// removed or started it meanwhile. A start that fails counts as another exit.
    pub fn restart_after(self: &Arc<Self>, id: String, delay: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _guard = this.lock_lifecycle(&id).await;
            let worker = this.clone();
            let id2 = id.clone();
            let go = tokio::task::spawn_blocking(move || worker.count_restart(&id2))
                .await
                .unwrap_or(false);
            if !go {
                return;
            }
            if let Err(e) = super::start_locked(&this, &id).await {
                tracing::warn!(container = %id, "restart: {}", e.message());
                let worker = this.clone();
                let id2 = id.clone();
                let next =
                    tokio::task::spawn_blocking(move || worker.retry_after_failed_start(&id2))
                        .await
                        .ok()
                        .flatten();
                if let Some(delay) = next {
                    this.restart_after(id, delay);
                }
            }
        });
    }

    fn retry_after_failed_start(&self, id: &str) -> Option<Duration> {
        let mut record = self.find(id).ok()?;
        let delay = restart_delay(&record)?;
        record.state.status = Status::Restarting;
        self.save(&record).ok()?;
        Some(delay)
    }

    /// Count a restart that is about to happen; false when it should not happen any more.
    fn count_restart(&self, id: &str) -> bool {
        let Ok(mut record) = self.find(id) else {
            return false;
        };
        if record.state.status != Status::Restarting || record.manually_stopped {
            return false;
        }
        record.restart_count += 1;
        self.save(&record).is_ok()
    }

    /// After a daemon restart: re-watch containers whose monitor lives, record the exit of
    /// the others.
    pub fn reconcile(self: &Arc<Self>) {
        let Ok(all) = self.all() else { return };
        self.drop_orphans(&all);
        if let Some(net) = &self.networks {
            // Every container keeps its namespace until removed, running or not.
            let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
            match net.reconcile(&ids) {
                Ok(report) => tracing::debug!("network reconcile: {report:?}"),
                Err(e) => tracing::warn!("network reconcile: {e}"),
            }
        }
        for record in all {
            if record.state.status == Status::Restarting {
                // The daemon died during a policy's back-off: go on with the restart.
                self.restart_after(record.id.clone(), Duration::ZERO);
                continue;
            }
            if !record.state.status.is_live() {
                if starts_with_daemon(&record) {
                    let this = self.clone();
                    let id = record.id.clone();
                    tokio::spawn(async move {
                        if let Err(e) = super::start_container(&this, &id).await {
                            tracing::warn!(container = %id, "start on daemon start: {}", e.message());
                        }
                    });
                }
                continue;
            }
            let monitor = record.state.monitor_pid;
            if monitor > 0 && process_alive(monitor) && is_monitor(monitor, &record.id) {
                self.watch_exit(record.id.clone(), monitor);
            } else if let Some(delay) = self.handle_exit(&record.id) {
                self.restart_after(record.id.clone(), delay);
            }
        }
    }
}

/// Docker starts `always` containers whenever the daemon starts, and `unless-stopped` ones
/// unless a user stopped them.
fn starts_with_daemon(record: &ContainerRecord) -> bool {
    let policy = record
        .create
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.as_ref())
        .and_then(|p| p.name.as_deref())
        .unwrap_or("no");
    // A container that never started stays created, as with Docker.
    let ever_started = record.state.started_at != super::record::ZERO_TIME;
    ever_started
        && match policy {
            "always" => true,
            "unless-stopped" => !record.manually_stopped,
            _ => false,
        }
}

/// Docker's restart policies: `always`, `unless-stopped`, `on-failure[:N]`; a manual stop
/// ends them. The delay doubles from 100 ms up to a minute, and starts over for a
/// container that ran for 10 s or more.
pub(super) fn restart_delay(record: &ContainerRecord) -> Option<Duration> {
    let policy = record
        .create
        .host_config
        .as_ref()?
        .restart_policy
        .as_ref()?;
    let name = policy.name.as_deref().unwrap_or("no");
    let wanted = match name {
        "always" | "unless-stopped" => !record.manually_stopped,
        "on-failure" => {
            let max = policy.maximum_retry_count.unwrap_or(0);
            record.state.exit_code != 0 && (max <= 0 || i64::from(record.restart_count) < max)
        }
        _ => false,
    };
    if !wanted {
        return None;
    }
    let ran = match (
        crate::timefmt::parse_rfc3339(&record.state.started_at),
        crate::timefmt::parse_rfc3339(&record.state.finished_at),
    ) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    let step = if ran >= 10 {
        0
    } else {
        record.restart_count.min(10)
    };
    Some(Duration::from_millis(100u64 << step).min(Duration::from_secs(60)))
}
