//! The channel between the runtime and the container's init while it is being set up:
//! one JSON message per SOCK_SEQPACKET datagram, optionally carrying one file descriptor.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Result, RuntimeError};

/// Messages from the init to the runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ChildMessage {
    /// The init unshared a user namespace and waits for its id maps.
    NeedIdMaps,
    /// The final init process (after the intermediate fork), as a host pid.
    Pid(i32),
    /// Mounts are ready: run prestart and createRuntime hooks, then answer.
    RunRuntimeHooks,
    /// The pty master is attached.
    Console,
    /// The seccomp notify listener is attached.
    SeccompListener,
    /// Setup finished; the init now waits for `start`.
    Ready,
    Error(String),
}

/// Messages from the runtime to the init.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ParentMessage {
    Continue,
    /// State JSON for startContainer hooks, sent after `Ready` when such hooks exist.
    State(String),
}

pub struct SyncSocket {
    fd: OwnedFd,
}

pub fn pair() -> Result<(SyncSocket, SyncSocket)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .op(|| "socketpair for the init channel".to_string())?;
    Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
}

const MAX_MESSAGE: usize = 64 * 1024;

impl SyncSocket {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send<T: Serialize>(&self, message: &T, fd: Option<RawFd>) -> Result<()> {
        let bytes = serde_json::to_vec(message).expect("sync messages serialize");
        let iov = [IoSlice::new(&bytes)];
        let fds = fd.map(|f| [f]);
        let cmsgs: Vec<ControlMessage> = fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &iov,
            &cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .op(|| "sending on the init channel".to_string())?;
        Ok(())
    }

    /// Receive one message; `Ok(None)` when the other side closed.
    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (len, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg.cmsgs().into_iter().flatten() {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            // SAFETY: SCM_RIGHTS installed these descriptors in our table;
                            // we take sole ownership of each.
                            for raw in fds {
                                if fd.is_none() {
                                    fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                                } else {
                                    drop(unsafe { OwnedFd::from_raw_fd(raw) });
                                }
                            }
                        }
                    }
                    break (msg.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).op(|| "reading the init channel".to_string()),
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let message = serde_json::from_slice(&buf[..len])
            .map_err(|e| RuntimeError::Init(format!("garbled message on the init channel: {e}")))?;
        Ok(Some((message, fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_round_trip() {
        let (a, b) = pair().unwrap();
        a.send(&ChildMessage::Pid(42), None).unwrap();
        let (m, fd) = b.recv::<ChildMessage>().unwrap().unwrap();
        assert_eq!(m, ChildMessage::Pid(42));
        assert!(fd.is_none());
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        a.send(&ChildMessage::Console, Some(file.as_raw_fd()))
            .unwrap();
        let (m, fd) = b.recv::<ChildMessage>().unwrap().unwrap();
        assert_eq!(m, ChildMessage::Console);
        assert!(fd.is_some());
        drop(a);
        assert!(b.recv::<ChildMessage>().unwrap().is_none());
    }
}
