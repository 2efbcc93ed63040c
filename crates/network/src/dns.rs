//! Embedded DNS for user-defined networks: answers container names, aliases and compose
//! service names with the containers' addresses on that network and forwards everything else
//! to the host's resolvers. Listens on the network's gateway address, port 53, UDP and TCP, in
//! the host namespace.
//!
//! Records are plain data behind an [`ArcSwap`]: the engine's updates build a new table and
//! swap it in whole; queries load the current table without locking (as aardvark-dns does).
//!
//! Threads, not async: the server must not depend on the embedding program's runtime, and each
//! network needs just two listener threads that poll a stop flag every 250 ms.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};

/// Docker's embedded DNS answers with a 600 s TTL.
const TTL: u32 = 600;
const POLL: Duration = Duration::from_millis(250);
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_FORWARDS_IN_FLIGHT: usize = 64;

/// Name -> addresses for one network. Names are stored lower-case without the trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsRecords {
    names: BTreeMap<String, BTreeSet<IpAddr>>,
    reverse: BTreeMap<IpAddr, String>,
    /// Names of the other networks a multi-homed container is on, by its address on this
    /// network: Docker resolves every network of the asking container, and a resolver does
    /// not try a second nameserver after an NXDOMAIN.
    also: BTreeMap<IpAddr, DnsRecords>,
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsRecords {
    pub fn insert(&mut self, name: &str, ip: IpAddr) {
        let n = normalise(name);
        if n.is_empty() {
            return;
        }
        // The first name registered for an address is its PTR answer (the container name).
        self.reverse.entry(ip).or_insert_with(|| n.clone());
        self.names.entry(n).or_default().insert(ip);
    }

    pub fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        self.names
            .get(&normalise(name))
            .map(|s| s.iter().copied().collect())
    }

    pub fn reverse(&self, ip: IpAddr) -> Option<&str> {
        self.reverse.get(&ip).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Let the container at `src` (its address here) also resolve the names in `other`.
    pub fn add_visible(&mut self, src: IpAddr, other: &DnsRecords) {
        let table = self.also.entry(src).or_default();
        for (name, ips) in &other.names {
            table.names.entry(name.clone()).or_default().extend(ips);
        }
        for (ip, name) in &other.reverse {
            table.reverse.entry(*ip).or_insert_with(|| name.clone());
        }
    }

    /// This network's names first, then those visible to `src` from its other networks.
    pub fn lookup_from(&self, src: Option<IpAddr>, name: &str) -> Option<Vec<IpAddr>> {
        self.lookup(name).or_else(|| {
            src.and_then(|s| self.also.get(&s))
                .and_then(|t| t.lookup(name))
        })
    }

    fn reverse_from(&self, src: Option<IpAddr>, ip: IpAddr) -> Option<&str> {
        self.reverse(ip).or_else(|| {
            src.and_then(|s| self.also.get(&s))
                .and_then(|t| t.reverse(ip))
        })
    }
}

/// Round robin: each query starts the list one further along (Docker rotates too), so clients
/// that take the first address spread over a compose service's replicas.
pub fn rotate(mut ips: Vec<IpAddr>, counter: usize) -> Vec<IpAddr> {
    if !ips.is_empty() {
        let k = counter % ips.len();
        ips.rotate_left(k);
    }
    ips
}

/// Parses an `in-addr.arpa` / `ip6.arpa` name back into an address.
fn ptr_to_ip(name: &str) -> Option<IpAddr> {
    let n = normalise(name);
    if let Some(rest) = n.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if o.len() != 4 {
            return None;
        }
        o.reverse();
        return Some(IpAddr::from([o[0], o[1], o[2], o[3]]));
    }
    if let Some(rest) = n.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<u8> = rest
            .split('.')
            .map(|p| u8::from_str_radix(p, 16).ok())
            .collect::<Option<_>>()?;
        if nibbles.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, pair) in nibbles.rchunks(2).enumerate() {
            // rchunks of the reversed nibble list: pair = [low, high]
            bytes[i] = (pair[1] << 4) | pair[0];
        }
        return Some(IpAddr::from(bytes));
    }
    None
}

/// What to do with one query.
pub enum Answer {
    Reply(Vec<u8>),
    Forward,
    Drop,
}

/// Answers from `records` if the name is ours; `Forward` otherwise.
pub fn answer(query: &[u8], records: &DnsRecords, counter: usize) -> Answer {
    answer_from(query, records, None, counter)
}

/// [`answer`] for a query from `src`, which also sees its other networks' names.
pub fn answer_from(
    query: &[u8],
    records: &DnsRecords,
    src: Option<IpAddr>,
    counter: usize,
) -> Answer {
    let Ok(msg) = Message::from_bytes(query) else {
        return Answer::Drop;
    };
    if msg.message_type() != MessageType::Query {
        return Answer::Drop;
    }
    let Some(q) = msg.queries().first() else {
        return Answer::Drop;
    };
    let qname = q.name().to_ascii();
    let mut answers = Vec::new();
    match q.query_type() {
        RecordType::PTR => {
            let Some(name) = ptr_to_ip(&qname).and_then(|ip| records.reverse_from(src, ip)) else {
                return Answer::Forward;
            };
            let Ok(target) = Name::from_ascii(format!("{name}.")) else {
                return Answer::Forward;
            };
            answers.push(Record::from_rdata(
                q.name().clone(),
                TTL,
                RData::PTR(PTR(target)),
            ));
        }
        qtype => {
            let Some(ips) = records.lookup_from(src, &qname) else {
                return Answer::Forward;
            };
            // Known name: answer A/AAAA from our table; other types get an empty NOERROR
            // (the name exists, it just has no such record), so clients do not fall through
            // to the upstream and leak container names.
            for ip in rotate(ips, counter) {
                let rdata = match (qtype, ip) {
                    (RecordType::A, IpAddr::V4(a)) => RData::A(A(a)),
                    (RecordType::AAAA, IpAddr::V6(a)) => RData::AAAA(AAAA(a)),
                    _ => continue,
                };
                answers.push(Record::from_rdata(q.name().clone(), TTL, rdata));
            }
        }
    }
    let mut resp = Message::new();
    resp.set_id(msg.id())
        .set_message_type(MessageType::Response)
        .set_op_code(msg.op_code())
        .set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true)
        .set_response_code(ResponseCode::NoError);
    resp.add_query(q.clone());
    resp.add_answers(answers);
    match resp.to_bytes() {
        Ok(b) => Answer::Reply(b),
        Err(_) => Answer::Drop,
    }
}

/// A SERVFAIL for `query` (upstreams unreachable).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::from_bytes(query).ok()?;
    let mut resp = Message::new();
    resp.set_id(msg.id())
        .set_message_type(MessageType::Response)
        .set_op_code(msg.op_code())
        .set_recursion_desired(msg.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(ResponseCode::ServFail);
    resp.add_queries(msg.queries().iter().cloned());
    resp.to_bytes().ok()
}

/// Sends `query` to each upstream in turn (UDP, 2 s each) and returns the first reply.
pub fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let Ok(sock) = UdpSocket::bind(bind) else {
            continue;
        };
        if sock.set_read_timeout(Some(UPSTREAM_TIMEOUT)).is_err() || sock.connect(up).is_err() {
            continue;
        }
        if sock.send(query).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 65535];
        if let Ok(n) = sock.recv(&mut buf) {
            buf.truncate(n);
            return Some(buf);
        }
    }
    servfail(query)
}

/// The shared, swappable record table of one network.
pub type SharedRecords = Arc<ArcSwap<DnsRecords>>;

/// A running server for one network. Dropping it stops the listener threads.
pub struct DnsServer {
    addr: SocketAddr,
    records: SharedRecords,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

struct Ctx {
    records: SharedRecords,
    upstreams: Vec<SocketAddr>,
    counter: AtomicUsize,
    in_flight: AtomicUsize,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn resolve(&self, query: &[u8], src: IpAddr) -> Option<Vec<u8>> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match answer_from(query, &self.records.load(), Some(src), n) {
            Answer::Reply(b) => Some(b),
            Answer::Drop => None,
            Answer::Forward => forward(query, &self.upstreams),
        }
    }
}

impl DnsServer {
    pub fn start(
        addr: SocketAddr,
        records: SharedRecords,
        upstreams: Vec<SocketAddr>,
    ) -> io::Result<Self> {
        let udp = UdpSocket::bind(addr)?;
        udp.set_read_timeout(Some(POLL))?;
        let tcp = TcpListener::bind(addr)?;
        tcp.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx {
            records: records.clone(),
            upstreams,
            counter: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            stop: stop.clone(),
        });
        let c = ctx.clone();
        let udp_thread = std::thread::Builder::new()
            .name(format!("dns-udp-{addr}"))
            .spawn(move || udp_loop(udp, c))?;
        let c = ctx;
        let tcp_thread = std::thread::Builder::new()
            .name(format!("dns-tcp-{addr}"))
            .spawn(move || tcp_loop(tcp, c))?;
        Ok(DnsServer {
            addr,
            records,
            stop,
            threads: vec![udp_thread, tcp_thread],
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the whole record table; in-flight queries keep the table they loaded.
    pub fn update(&self, records: DnsRecords) {
        self.records.store(Arc::new(records));
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn udp_loop(sock: UdpSocket, ctx: Arc<Ctx>) {
    let mut buf = vec![0u8; 4096];
    while !ctx.stop.load(Ordering::Relaxed) {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue; // timeout: re-check the stop flag
        };
        let query = buf[..n].to_vec();
        let n = ctx.counter.fetch_add(1, Ordering::Relaxed);
        match answer_from(&query, &ctx.records.load(), Some(peer.ip()), n) {
            Answer::Reply(b) => {
                let _ = sock.send_to(&b, peer);
            }
            Answer::Drop => {}
            Answer::Forward => {
                // Forwarding waits on the network; do it off the listener thread, with a cap
                // so a flood cannot spawn unbounded threads.
                if ctx.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_FORWARDS_IN_FLIGHT {
                    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
                    continue;
                }
                let (Ok(reply_sock), c) = (sock.try_clone(), ctx.clone()) else {
                    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
                    continue;
                };
                let spawned = std::thread::Builder::new().spawn(move || {
                    if let Some(b) = forward(&query, &c.upstreams) {
                        let _ = reply_sock.send_to(&b, peer);
                    }
                    c.in_flight.fetch_sub(1, Ordering::AcqRel);
                });
                if spawned.is_err() {
                    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
    }
}

fn tcp_loop(listener: TcpListener, ctx: Arc<Ctx>) {
    while !ctx.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if ctx.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_FORWARDS_IN_FLIGHT {
                    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
                    continue;
                }
                let c = ctx.clone();
                let spawned = std::thread::Builder::new().spawn(move || {
                    let _ = serve_tcp(stream, &c);
                    c.in_flight.fetch_sub(1, Ordering::AcqRel);
                });
                if spawned.is_err() {
                    ctx.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 5),
            Err(_) => std::thread::sleep(POLL / 5),
        }
    }
}

/// DNS over TCP (RFC 7766): 2-byte length prefix per message; a bounded number of queries per
/// connection and a read timeout so idle clients cannot pin threads.
fn serve_tcp(mut stream: TcpStream, ctx: &Ctx) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    let src = stream.peer_addr()?.ip();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    for _ in 0..16 {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut q)?;
        let Some(reply) = ctx.resolve(&q, src) else {
            return Ok(());
        };
        let Ok(rlen) = u16::try_from(reply.len()) else {
            return Ok(());
        };
        stream.write_all(&rlen.to_be_bytes())?;
        stream.write_all(&reply)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(42).set_recursion_desired(true);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_bytes().unwrap()
    }

    fn table() -> DnsRecords {
        let mut r = DnsRecords::default();
        r.insert("web", "10.1.0.2".parse().unwrap());
        r.insert("Web-Alias", "10.1.0.2".parse().unwrap());
        r.insert("svc", "10.1.0.3".parse().unwrap());
        r.insert("svc", "10.1.0.4".parse().unwrap());
        r.insert("v6", "fd00::2".parse().unwrap());
        r
    }

    fn reply_ips(a: Answer) -> Vec<String> {
        let Answer::Reply(b) = a else {
            panic!("expected a reply")
        };
        let m = Message::from_bytes(&b).unwrap();
        assert_eq!(m.id(), 42);
        m.answers()
            .iter()
            .map(|r| match r.data() {
                Some(RData::A(a)) => a.0.to_string(),
                Some(RData::AAAA(a)) => a.0.to_string(),
                Some(RData::PTR(p)) => p.0.to_ascii(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_multi_homed_container_sees_its_other_networks() {
        let mut own = DnsRecords::default();
        own.insert("probe", "10.0.0.2".parse().unwrap());
        let mut other = DnsRecords::default();
        other.insert("web", "10.1.0.5".parse().unwrap());
        own.add_visible("10.0.0.2".parse().unwrap(), &other);
        let probe = Some("10.0.0.2".parse().unwrap());
        let stranger = Some("10.0.0.9".parse().unwrap());
        assert_eq!(
            own.lookup_from(probe, "web"),
            Some(vec!["10.1.0.5".parse().unwrap()])
        );
        assert_eq!(own.lookup_from(stranger, "web"), None);
        assert_eq!(own.lookup_from(stranger, "probe").map(|v| v.len()), Some(1));
    }

    #[test]
    fn lookups_are_case_insensitive_and_dot_agnostic() {
        let t = table();
        assert_eq!(t.lookup("WEB.").unwrap().len(), 1);
        assert_eq!(t.lookup("web-alias").unwrap().len(), 1);
        assert!(t.lookup("nope").is_none());
    }

    #[test]
    fn answers_a_records_and_rotates() {
        let t = table();
        assert_eq!(
            reply_ips(answer(&query("web.", RecordType::A), &t, 0)),
            ["10.1.0.2"]
        );
        assert_eq!(
            reply_ips(answer(&query("svc.", RecordType::A), &t, 0)),
            ["10.1.0.3", "10.1.0.4"]
        );
        assert_eq!(
            reply_ips(answer(&query("svc.", RecordType::A), &t, 1)),
            ["10.1.0.4", "10.1.0.3"]
        );
        assert_eq!(
            reply_ips(answer(&query("v6.", RecordType::AAAA), &t, 0)),
            ["fd00::2"]
        );
        // known name, no AAAA: empty answer, not forwarded
        assert!(reply_ips(answer(&query("web.", RecordType::AAAA), &t, 0)).is_empty());
    }

    #[test]
    fn unknown_names_are_forwarded() {
        assert!(matches!(
            answer(&query("example.com.", RecordType::A), &table(), 0),
            Answer::Forward
        ));
        assert!(matches!(answer(b"garbage", &table(), 0), Answer::Drop));
    }

    #[test]
    fn ptr_answers_the_first_name() {
        let t = table();
        assert_eq!(
            reply_ips(answer(
                &query("2.0.1.10.in-addr.arpa.", RecordType::PTR),
                &t,
                0
            )),
            ["web."]
        );
        assert_eq!(
            ptr_to_ip("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."),
            Some("fd00::2".parse().unwrap())
        );
    }

    #[test]
    fn rotation_wraps() {
        let ips: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(rotate(ips.clone(), 3), vec![ips[1], ips[0]]);
        assert!(rotate(vec![], 5).is_empty());
    }

    #[test]
    fn server_answers_udp_and_tcp_and_forwards_to_a_fake_upstream() {
        // fake upstream on loopback that answers every query with 192.0.2.99
        let up = UdpSocket::bind("127.0.0.1:0").unwrap();
        let up_addr = up.local_addr().unwrap();
        up.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let upstream = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, peer) = up.recv_from(&mut buf).unwrap();
            let m = Message::from_bytes(&buf[..n]).unwrap();
            let mut r = Message::new();
            r.set_id(m.id()).set_message_type(MessageType::Response);
            let q = m.queries()[0].clone();
            r.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(A("192.0.2.99".parse().unwrap())),
            ));
            r.add_query(q);
            up.send_to(&r.to_bytes().unwrap(), peer).unwrap();
        });
        // UDP and TCP must share one port: try kernel-picked UDP ports until TCP binds too.
        let mut started = None;
        for _ in 0..20 {
            let port =
                crate::ports::random_free("127.0.0.1".parse().unwrap(), crate::ports::Proto::Udp)
                    .unwrap();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let recs: SharedRecords = Arc::new(ArcSwap::from_pointee(table()));
            if let Ok(s) = DnsServer::start(addr, recs, vec![up_addr]) {
                started = Some(s);
                break;
            }
        }
        let server = started.expect("a free port for UDP and TCP");
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client
            .send_to(&query("web.", RecordType::A), server.addr())
            .unwrap();
        let mut buf = [0u8; 512];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(reply_ips(Answer::Reply(buf[..n].to_vec())), ["10.1.0.2"]);

        client
            .send_to(&query("example.com.", RecordType::A), server.addr())
            .unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(reply_ips(Answer::Reply(buf[..n].to_vec())), ["192.0.2.99"]);
        upstream.join().unwrap();

        // swap the table: the new name resolves at once
        let mut t = table();
        t.insert("late", "10.1.0.9".parse().unwrap());
        server.update(t);
        let mut tcp = TcpStream::connect(server.addr()).unwrap();
        let q = query("late.", RecordType::A);
        tcp.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        tcp.write_all(&q).unwrap();
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).unwrap();
        let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
        tcp.read_exact(&mut r).unwrap();
        assert_eq!(reply_ips(Answer::Reply(r)), ["10.1.0.9"]);
    }
}
