//! process.terminal with --console-socket: the pty master arrives over SCM_RIGHTS and the
//! container's stdio is that pty.

mod common;

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

use common::{can_run, Bundle};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

fn receive_fd(listener: &UnixListener) -> OwnedFd {
    let (stream, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .unwrap();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned by nobody else.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received on the console socket");
}

#[test]
fn console_socket_receives_the_pty() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("tty");
    b.config["process"]["terminal"] = serde_json::json!(true);
    b.config["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 101});
    b.args(&["sh", "-c", "tty; stty size; echo done-tty"]);
    b.write_config();
    let socket = b.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let bundle = b.path().to_str().unwrap().to_string();
    let socket_arg = socket.to_str().unwrap().to_string();
    let creator = {
        let root = b.root.clone();
        let id = b.id.clone();
        std::thread::spawn(move || {
            std::process::Command::new(common::BIN)
                .arg("--root")
                .arg(root)
                .args([
                    "create",
                    "--bundle",
                    &bundle,
                    "--console-socket",
                    &socket_arg,
                    &id,
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        })
    };
    let master = receive_fd(&listener);
    assert!(creator.join().unwrap().success());
    let out = b.runtime(&["start", &b.id]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let mut file = std::fs::File::from(master);
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
        if seen.contains("done-tty") {
            break;
        }
    }
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert!(seen.contains("33 101"), "{seen:?}");
    assert!(seen.contains("done-tty"), "{seen:?}");
}
