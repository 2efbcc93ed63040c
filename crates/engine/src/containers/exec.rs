//! `docker exec`: exec instances (`POST /containers/{id}/exec`), started over a hijacked
//! connection (`POST /exec/{id}/start`) as `vessel-runtime exec` with pipes, and inspected
//! (`GET /exec/{id}/json`) for the exit code.

use std::process::Stdio;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::ContainerError;
use super::Containers;
use crate::api::{blocking, ok_json, AppState, JsonBody};
use crate::errors::ApiError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub user: Option<String>,
    pub privileged: Option<bool>,
    pub tty: Option<bool>,
    pub attach_stdin: Option<bool>,
    pub attach_stdout: Option<bool>,
    pub attach_stderr: Option<bool>,
    pub detach: Option<bool>,
    pub env: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub cmd: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ExecInstance {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartConfig {
    pub detach: Option<bool>,
    pub tty: Option<bool>,
}

pub async fn create(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(config): JsonBody<ExecConfig>,
) -> Result<Response, ApiError> {
    let record = s.containers.call(move |c| c.find(&id)).await?;
    if !record.state.status.is_live() {
        return Err(ContainerError::NotRunning(record.id).into());
    }
    if record.state.status == super::Status::Paused {
        return Err(ContainerError::Paused(record.id).into());
    }
    if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
        return Err(ContainerError::ExecNoCommand.into());
    }
    let exec_id = super::random_id();
    s.containers.execs.lock().expect("execs").insert(
        exec_id.clone(),
        ExecInstance {
            id: exec_id.clone(),
            container_id: record.id,
            config,
            running: false,
            exit_code: None,
            pid: 0,
        },
    );
    Ok(crate::api::json_response(
        StatusCode::CREATED,
        &json!({"Id": exec_id}),
    ))
}

fn instance(c: &Containers, id: &str) -> Result<ExecInstance, ApiError> {
    c.execs
        .lock()
        .expect("execs")
        .get(id)
        .cloned()
        .ok_or_else(|| ContainerError::NoSuchExec(id.to_string()).into())
}

pub async fn inspect(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let e = instance(&s.containers, &id)?;
    let cmd = e.config.cmd.clone().unwrap_or_default();
    Ok(ok_json(&json!({
        "ID": e.id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "ProcessConfig": {
            "tty": e.config.tty.unwrap_or(false),
            "entrypoint": cmd.first().cloned().unwrap_or_default(),
            "arguments": cmd.iter().skip(1).collect::<Vec<_>>(),
            "privileged": e.config.privileged.unwrap_or(false),
            "user": e.config.user.clone().unwrap_or_default(),
        },
        "OpenStdin": e.config.attach_stdin.unwrap_or(false),
        "OpenStderr": e.config.attach_stderr.unwrap_or(false),
        "OpenStdout": e.config.attach_stdout.unwrap_or(false),
        "CanRemove": false,
        "ContainerID": e.container_id,
        "DetachKeys": "",
        "Pid": e.pid,
    })))
}

/// Resizing an exec's pty is accepted; the pty size follows the runtime's defaults.
pub async fn resize(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    instance(&s.containers, &id)?;
    Ok(StatusCode::OK.into_response())
}

pub async fn start(
    State(s): State<AppState>,
    Path(id): Path<String>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let e = instance(&s.containers, &id)?;
    if e.running || e.exit_code.is_some() {
        return Err(ContainerError::ExecStarted(id).into());
    }
    let body = axum::body::to_bytes(std::mem::take(req.body_mut()), crate::api::JSON_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let start: StartConfig = serde_json::from_slice(&body).unwrap_or_default();
    let c = s.containers.clone();
    let mut cmd = {
        let c = c.clone();
        let e = e.clone();
        blocking(move || runtime_exec(&c, &e)).await?
    };
    let tty = e.config.tty.unwrap_or(false) || start.tty.unwrap_or(false);
    let stdin = e.config.attach_stdin.unwrap_or(false);
    if start.detach.unwrap_or(false) || e.config.detach.unwrap_or(false) {
        cmd.arg("--detach");
    }
    append_command(&mut cmd, &e);
    let mut child = tokio::process::Command::from(cmd)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false)
        .spawn()
        .map_err(|err| ContainerError::io("starting vessel-runtime exec", err))?;
    set_running(&c, &id, true, None, child.id().unwrap_or(0));
    if start.detach.unwrap_or(false) {
        tokio::spawn(async move {
            let status = child
                .wait()
                .await
                .map(|s| s.code().unwrap_or(126))
                .unwrap_or(126);
            set_running(&c, &id, false, Some(status), 0);
        });
        return Ok(StatusCode::OK.into_response());
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let code = match on_upgrade.await {
            Ok(upgraded) => pump(TokioIo::new(upgraded), &mut child, tty).await,
            Err(_) => {
                let _ = child.start_kill();
                child
                    .wait()
                    .await
                    .map(|s| s.code().unwrap_or(137))
                    .unwrap_or(137)
            }
        };
        set_running(&c, &id, false, Some(code), 0);
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .unwrap_or_default())
}

fn set_running(c: &Arc<Containers>, id: &str, running: bool, code: Option<i32>, pid: u32) {
    if let Some(e) = c.execs.lock().expect("execs").get_mut(id) {
        e.running = running;
        if code.is_some() {
            e.exit_code = code;
        }
        e.pid = pid;
    }
}

/// `vessel-runtime exec` with the exec's user (resolved in the container's /etc/passwd),
/// working directory and environment; the runtime applies the container's own security
/// settings.
fn runtime_exec(c: &Containers, e: &ExecInstance) -> Result<std::process::Command, ApiError> {
    let record = c.find(&e.container_id)?;
    let mut cmd = c.runtime_command();
    cmd.arg("exec");
    if e.config.tty.unwrap_or(false) {
        cmd.arg("--tty");
    }
    if let Some(user) = e.config.user.as_deref().filter(|u| !u.is_empty()) {
        let (uid, gid, groups) =
            vessel_specgen::resolve_user(user, &record.rootfs).map_err(ContainerError::Spec)?;
        cmd.arg("--user").arg(format!("{uid}:{gid}"));
        for g in groups {
            cmd.arg("--additional-gids").arg(g.to_string());
        }
    }
    if let Some(dir) = e.config.working_dir.as_deref().filter(|d| !d.is_empty()) {
        cmd.arg("--cwd").arg(dir);
    }
    for kv in e.config.env.iter().flatten() {
        cmd.arg("--env").arg(kv);
    }
    if e.config.privileged.unwrap_or(false) {
        for cap in [
            "CAP_SYS_ADMIN",
            "CAP_NET_ADMIN",
            "CAP_SYS_PTRACE",
            "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO",
        ] {
            cmd.arg("--cap").arg(cap);
        }
    }
    cmd.arg(&record.id);
    Ok(cmd)
}

fn append_command(cmd: &mut std::process::Command, e: &ExecInstance) {
    cmd.args(e.config.cmd.iter().flatten());
}

/// Copy the process's output to the client (framed without a TTY) and the client's input to
/// the process; return its exit code.
async fn pump(
    client: TokioIo<hyper::upgrade::Upgraded>,
    child: &mut tokio::process::Child,
    tty: bool,
) -> i32 {
    let (mut client_r, client_w) = tokio::io::split(client);
    let client_w = Arc::new(tokio::sync::Mutex::new(client_w));
    let mut stdin = child.stdin.take();
    let input = async move {
        let Some(stdin) = stdin.as_mut() else { return };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match client_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stdin.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = stdin.shutdown().await;
    };
    let copy = |mut from: Box<dyn tokio::io::AsyncRead + Unpin + Send>, stream: u8| {
        let out = client_w.clone();
        async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = match from.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut w = out.lock().await;
                let sent = if tty {
                    w.write_all(&buf[..n]).await
                } else {
                    let mut frame = vec![stream, 0, 0, 0];
                    frame.extend_from_slice(&(n as u32).to_be_bytes());
                    frame.extend_from_slice(&buf[..n]);
                    w.write_all(&frame).await
                };
                if sent.is_err() {
                    break;
                }
            }
        }
    };
    let stdout = child.stdout.take().map(|s| copy(Box::new(s), 1));
    let stderr = child.stderr.take().map(|s| copy(Box::new(s), 2));
    let outputs = async {
        if let Some(f) = stdout {
            f.await;
        }
    };
    let errors = async {
        if let Some(f) = stderr {
            f.await;
        }
    };
    let input_task = tokio::spawn(input);
    tokio::join!(outputs, errors);
    let code = child
        .wait()
        .await
        .map(|s| s.code().unwrap_or(137))
        .unwrap_or(137);
    input_task.abort();
    let _ = client_w.lock().await.shutdown().await;
    code
}
