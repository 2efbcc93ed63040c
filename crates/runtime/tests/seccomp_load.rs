//! Load compiled filters for real, in a forked child that sets no_new_privs (so no root is
//! needed), and check from inside that syscalls get the actions the spec asked for.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;
use vessel_runtime::seccomp::{self, CompiledFilter, SeccompError};

/// Child exit code meaning "this kernel refuses the filter": the test is skipped.
const KERNEL_REFUSED: i32 = 77;

fn spec(value: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(value).unwrap()
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// In the child: no_new_privs, then the filter. Exits with KERNEL_REFUSED when seccomp
/// itself is unavailable (old kernel, or a sandbox that forbids it).
fn child_load(filter: &CompiledFilter) -> Option<OwnedFd> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        exit(10);
    }
    match seccomp::load(filter) {
        Ok(fd) => fd,
        Err(SeccompError::Load { source }) => match source.raw_os_error() {
            Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EACCES) => {
                exit(KERNEL_REFUSED)
            }
            _ => exit(11),
        },
        Err(_) => exit(12),
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the forked child without running the parent's atexit handlers or
    // unwinding into the test harness's copy of itself.
    unsafe { libc::_exit(code) }
}

/// Fork; the child runs `child` and exits with its code. Returns the child's pid.
fn spawn(child: impl FnOnce() -> i32) -> Pid {
    // SAFETY: the child only makes syscalls and (for the notify test) small allocations,
    // which glibc keeps usable after fork, then _exits.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        0 => exit(child()),
        pid => Pid::from_raw(pid),
    }
}

/// Exit code of the child, or None when the kernel refused the filter.
fn exit_code(pid: Pid) -> Option<i32> {
    match waitpid(pid, None).unwrap() {
        WaitStatus::Exited(_, KERNEL_REFUSED) => {
            eprintln!("skipped: the kernel refused seccomp(SECCOMP_SET_MODE_FILTER)");
            None
        }
        WaitStatus::Exited(_, code) => Some(code),
        other => panic!("child did not exit normally: {other:?}"),
    }
}

#[test]
fn errno_rule_fails_the_syscall_with_that_errno() {
    let filter = seccomp::compile(
        &spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                { "names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
                { "names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO" },
            ],
        })),
        None,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = std::ffi::CString::new(dir.path().join("d").into_os_string().into_vec()).unwrap();
    let pid = spawn(|| {
        child_load(&filter);
        let mut uts = std::mem::MaybeUninit::<libc::utsname>::uninit();
        // SAFETY: uname writes into the buffer we pass.
        if unsafe { libc::uname(uts.as_mut_ptr()) } != -1 || errno() != libc::ENOSYS {
            return 1;
        }
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::mkdir(target.as_ptr(), 0o755) } != -1 || errno() != libc::EPERM {
            return 2;
        }
        // The default action still allows everything else.
        // SAFETY: getpid has no arguments.
        if unsafe { libc::getpid() } <= 0 {
            return 3;
        }
        0
    });
    if let Some(code) = exit_code(pid) {
        assert_eq!(code, 0, "child check {code} failed");
        assert!(!dir.path().join("d").exists());
    }
}

#[test]
fn args_with_distinct_indices_and_and_same_index_or() {
    const MARK: i32 = libc::EBADE;
    let filter = seccomp::compile(
        &spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                // getpgid(424242) or getpgid(434343): two conditions on arg 0 → OR.
                { "names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK,
                  "args": [{ "index": 0, "value": 424242, "op": "SCMP_CMP_EQ" },
                           { "index": 0, "value": 434343, "op": "SCMP_CMP_EQ" }] },
                // getpriority(PRIO_PROCESS, 424242) only: args 0 and 1 → AND.
                { "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": MARK,
                  "args": [{ "index": 0, "value": libc::PRIO_PROCESS, "op": "SCMP_CMP_EQ" },
                           { "index": 1, "value": 424242, "op": "SCMP_CMP_EQ" }] },
            ],
        })),
        None,
    )
    .unwrap();
    let pid = spawn(|| {
        child_load(&filter);
        let getpgid = |pid: libc::pid_t| {
            // SAFETY: getpgid takes a plain integer.
            let rc = unsafe { libc::getpgid(pid) };
            (rc, errno())
        };
        let getpriority = |which: libc::__priority_which_t, who: libc::id_t| {
            // SAFETY: getpriority takes plain integers; -1 is a valid result, so clear errno.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: as above.
            unsafe { libc::getpriority(which, who) };
            errno()
        };
        let checks = [
            getpgid(424242) == (-1, MARK),
            getpgid(434343) == (-1, MARK),
            getpgid(0).0 >= 0,
            getpriority(libc::PRIO_PROCESS, 424242) == MARK,
            // Only one of the AND'ed conditions holds: the kernel answers (ESRCH).
            getpriority(libc::PRIO_PGRP, 424242) == libc::ESRCH,
            getpriority(libc::PRIO_PROCESS, 0) == 0,
        ];
        checks
            .iter()
            .position(|ok| !ok)
            .map_or(0, |i| 20 + i as i32)
    });
    if let Some(code) = exit_code(pid) {
        assert_eq!(code, 0, "child check {code} failed");
    }
}

/// Wait until `fd` is readable; None if the child exited first or 10 s went by.
fn readable_while_alive(fd: BorrowedFd, pid: Pid) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        if poll(&mut fds, 100u16).unwrap() > 0 {
            return true;
        }
        if waitpid(pid, Some(WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT))
            .is_ok_and(|s| s != WaitStatus::StillAlive)
        {
            return false;
        }
    }
    false
}

#[test]
fn notify_listener_reaches_the_agent_and_answers_for_the_kernel() {
    let filter = seccomp::compile(
        &spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["getppid"], "action": "SCMP_ACT_NOTIFY" }],
        })),
        None,
    )
    .unwrap();
    assert!(filter.wants_listener);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = UnixListener::bind(&socket).unwrap();
    let state = br#"{"ociVersion":"1.2.0","fds":["seccompFd"],"pid":1,"state":{}}"#;

    let pid = spawn(|| {
        let Some(listener) = child_load(&filter) else {
            return 30;
        };
        if seccomp::send_listener_fd(&socket, listener.as_fd(), state).is_err() {
            return 31;
        }
        drop(listener);
        // Answered by the agent below, not by the kernel.
        // SAFETY: getppid has no arguments.
        if unsafe { libc::getppid() } != 4242 {
            return 32;
        }
        0
    });

    let mut ready = readable_while_alive(agent.as_fd(), pid);
    let mut notify_fd = None;
    if ready {
        let (conn, _) = agent.accept().unwrap();
        let mut buf = [0u8; 256];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .unwrap();
        let bytes = msg.bytes;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: SCM_RIGHTS installed these fds in our table; we own them now.
                notify_fd = fds.first().map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        assert_eq!(&buf[..bytes], state);
        let fd = notify_fd.as_ref().expect("listener fd sent with the state");
        // SAFETY: F_GETFD on an fd we own.
        assert!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) } >= 0);
        ready = readable_while_alive(fd.as_fd(), pid);
    }
    if ready {
        let fd = notify_fd.as_ref().unwrap().as_raw_fd();
        let req = ScmpNotifReq::receive(fd).unwrap();
        assert_eq!(req.data.syscall.get_name().unwrap(), "getppid");
        ScmpNotifResp::new_val(req.id, 4242, ScmpNotifRespFlags::empty())
            .respond(fd)
            .unwrap();
    } else {
        // Never leave the child blocked in a notified syscall.
        let _ = kill(pid, Signal::SIGKILL);
    }
    if let Some(code) = exit_code(pid) {
        assert_eq!(code, 0, "child check {code} failed");
    }
}
