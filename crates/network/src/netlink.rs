//! A minimal synchronous rtnetlink client: the handful of link, address and route requests the
//! bridge driver needs. A socket opened while a thread is inside a network namespace stays bound
//! to that namespace (netlink(7)), which is how container-side configuration is done without
//! keeping a thread parked in the namespace.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_NODAD: u8 = 0x02;
const RTA_GATEWAY: u16 = 5;
const RTA_OIF: u16 = 4;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 1;

static SEQ: AtomicU32 = AtomicU32::new(1);

/// Builds one netlink message: header, fixed family struct, then attributes.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16, family_header: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: kernel fills in
        buf.extend_from_slice(family_header);
        pad(&mut buf);
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    fn attr_str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    fn attr_u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    /// Raw bytes inside a nest (VETH_INFO_PEER carries a bare ifinfomsg before its attributes).
    fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    fn end_nest(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = libc::AF_UNSPEC as u8;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// What a veth pair looks like when it is created: host end on a bridge, peer created directly
/// inside the container's namespace under its final name, so no rename step can fail halfway.
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub bridge_index: u32,
    pub peer_name: &'a str,
    pub peer_netns: RawFd,
    pub peer_mac: [u8; 6],
    pub mtu: u32,
}

pub struct Netlink {
    fd: OwnedFd,
}

impl Netlink {
    /// A route netlink socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the returned fd is checked and then owned exclusively.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2) and is not owned elsewhere.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A bounded wait: a kernel that never answers must not hang the daemon.
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: tv is a valid timeval and its size is passed; fd is a live socket.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink { fd })
    }

    /// A socket bound to the namespace at `netns`: opened on a short-lived thread that setns-es
    /// into it, so the caller's thread never changes namespace.
    pub fn open_in(netns: &Path) -> Result<Self> {
        crate::netns::run_in(netns, Netlink::open).and_then(|r| {
            r.map_err(|source| Error::Netns {
                op: "open netlink socket in",
                path: netns.to_path_buf(),
                source,
            })
        })
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value and family is set below.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: msg and addr are valid for the lengths given for the duration of the call.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Sends a request and returns the first non-error reply payload (for GET) or `None` on ACK.
    fn request(&self, msg: Vec<u8>) -> io::Result<Option<Vec<u8>>> {
        let seq = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
        self.send(&msg)?;
        let mut buf = vec![0u8; 65536];
        // Bounded: each recv waits at most SO_RCVTIMEO; stale replies are skipped by seq.
        for _ in 0..64 {
            let n = self.recv(&mut buf)?;
            let mut off = 0;
            while off + 16 <= n {
                let len =
                    u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
                if len < 16 || off + len > n {
                    break;
                }
                let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let mseq = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap_or([0; 4]));
                let body = &buf[off + 16..off + len];
                off += (len + 3) & !3;
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_ERROR => {
                        let code = if body.len() >= 4 {
                            i32::from_ne_bytes([body[0], body[1], body[2], body[3]])
                        } else {
                            0
                        };
                        if code == 0 {
                            return Ok(None);
                        }
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    NLMSG_DONE => return Ok(None),
                    _ => return Ok(Some(body.to_vec())),
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no netlink reply for our request",
        ))
    }

    fn ack(&self, msg: Vec<u8>) -> io::Result<()> {
        self.request(msg).map(|_| ())
    }

    /// Interface index of `name`, or `None` if there is no such link in this namespace.
    pub fn link_index(&self, name: &str) -> io::Result<Option<u32>> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_REQUEST, &ifinfomsg(0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        match self.request(m.finish()) {
            Ok(Some(body)) if body.len() >= 8 => Ok(Some(u32::from_ne_bytes([
                body[4], body[5], body[6], body[7],
            ]))),
            Ok(_) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn create_bridge(&self, name: &str, mtu: u32) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfomsg(0, 0, 0),
        );
        m.attr_str(IFLA_IFNAME, name).attr_u32(IFLA_MTU, mtu);
        m.begin_nest(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "bridge")
            .end_nest();
        self.ack(m.finish())
    }

    pub fn create_veth(&self, spec: &VethSpec<'_>) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &ifinfomsg(0, 0, 0),
        );
        m.attr_str(IFLA_IFNAME, spec.host_name)
            .attr_u32(IFLA_MTU, spec.mtu)
            .attr_u32(IFLA_MASTER, spec.bridge_index);
        m.begin_nest(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .begin_nest(IFLA_INFO_DATA)
            .begin_nest(VETH_INFO_PEER)
            .raw(&ifinfomsg(0, 0, 0))
            .attr_str(IFLA_IFNAME, spec.peer_name)
            .attr_u32(IFLA_MTU, spec.mtu)
            .attr(IFLA_ADDRESS, &spec.peer_mac)
            .attr_u32(IFLA_NET_NS_FD, spec.peer_netns as u32)
            .end_nest()
            .end_nest()
            .end_nest();
        self.ack(m.finish())
    }

    /// Deletes a link by name; a link that is already gone is not an error (teardown is
    /// idempotent so reconcile can run it again after a crash).
    pub fn delete_link(&self, name: &str) -> io::Result<()> {
        let mut m = Msg::new(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifinfomsg(0, 0, 0));
        m.attr_str(IFLA_IFNAME, name);
        match self.ack(m.finish()) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            r => r,
        }
    }

    /// Enslaves a link to a bridge (a recreated bridge loses its ports) and brings it up.
    pub fn set_master_up(&self, index: u32, master: u32) -> io::Result<()> {
        let mut m = Msg::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            &ifinfomsg(index as i32, IFF_UP, IFF_UP),
        );
        m.attr_u32(IFLA_MASTER, master);
        self.ack(m.finish())
    }

    pub fn set_up(&self, index: u32) -> io::Result<()> {
        let m = Msg::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            &ifinfomsg(index as i32, IFF_UP, IFF_UP),
        );
        self.ack(m.finish())
    }

    /// Adds (or replaces) an address; replacing keeps re-runs after a crash idempotent.
    pub fn add_address(&self, index: u32, ip: IpAddr, prefix_len: u8) -> io::Result<()> {
        let mut h = [0u8; 8];
        h[0] = family(&ip);
        h[1] = prefix_len;
        // IPv6 duplicate address detection would delay the address by seconds; the IPAM already
        // guarantees uniqueness on the bridge.
        h[2] = if ip.is_ipv6() { IFA_F_NODAD } else { 0 };
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        let mut m = Msg::new(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &h,
        );
        let b = ip_bytes(&ip);
        m.attr(IFA_LOCAL, &b).attr(IFA_ADDRESS, &b);
        self.ack(m.finish())
    }

    pub fn add_default_route(&self, index: u32, gateway: IpAddr) -> io::Result<()> {
        let mut h = [0u8; 12];
        h[0] = family(&gateway);
        h[4] = RT_TABLE_MAIN;
        h[5] = RTPROT_BOOT;
        h[6] = 0; // RT_SCOPE_UNIVERSE
        h[7] = RTN_UNICAST;
        let mut m = Msg::new(
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
            &h,
        );
        m.attr(RTA_GATEWAY, &ip_bytes(&gateway))
            .attr_u32(RTA_OIF, index);
        self.ack(m.finish())
    }
}

pub(crate) fn nl_err<'a>(
    op: &'static str,
    target: &'a str,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Netlink {
        op,
        target: target.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_have_patched_lengths() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST, &ifinfomsg(0, 0, 0));
        m.begin_nest(IFLA_LINKINFO)
            .attr_str(IFLA_INFO_KIND, "veth")
            .end_nest();
        let buf = m.finish();
        assert_eq!(
            u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize,
            buf.len()
        );
        // nest header at 32: length covers its 4-byte header plus the padded "veth\0" attribute
        let nest_len = u16::from_ne_bytes([buf[32], buf[33]]);
        assert_eq!(nest_len, 4 + 4 + 8);
        assert_eq!(buf.len() % 4, 0);
    }
}
