//! One probe at one TTL, blocking (run on a blocking thread): send, then collect what comes
//! back until the hop's deadline, or `settle` after the first thing that came back.

use super::sock::{self, IcmpError};
use interfero_model::trace::{HopEvent, TraceHop};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Most events kept per hop (retransmissions provoke one ICMP each).
const MAX_EVENTS: usize = 12;
/// Most bytes read of an answer: its first line is all a trace needs.
const READ_CAP: usize = 2048;
/// The TTL a socket gets back before it is closed, so its FIN reaches the server.
const FULL_TTL: u32 = 64;

/// Timing of one hop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HopTiming {
    pub(crate) connect: Duration,
    pub(crate) wait: Duration,
    pub(crate) settle: Duration,
}

/// What a payload-carrying probe sends: over a fresh TCP connection, or as one UDP datagram
/// whose answers are read by `answer`.
pub(crate) enum Probe<'a> {
    /// Complete a handshake at full TTL, then send these bytes at the hop's TTL.
    TcpPayload(&'a [u8]),
    /// Send a SYN at the hop's TTL (the control sweep of a TCP trace).
    Syn,
    /// One datagram; `answer` reads a reply into (detail) or `None` when it is not ours.
    Udp(&'a [u8], &'a dyn Fn(&[u8]) -> Option<String>),
}

struct Collector {
    start: Instant,
    events: Vec<HopEvent>,
}

impl Collector {
    fn new() -> Collector {
        Collector {
            start: Instant::now(),
            events: Vec::new(),
        }
    }

    fn push(&mut self, kind: &str, from: Option<String>, detail: Option<String>) -> &mut HopEvent {
        let ms = u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX);
        if self.events.len() >= MAX_EVENTS {
            // Keep the last slot for whatever arrives last; earlier ones tell the story.
            self.events.pop();
        }
        self.events.push(HopEvent {
            kind: kind.into(),
            ms,
            from,
            detail,
            ..HopEvent::default()
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }

    fn icmp(&mut self, errors: Vec<IcmpError>) {
        for e in errors {
            let kind = if e.icmp_type == 11 {
                "time_exceeded"
            } else {
                "unreachable"
            };
            let detail = format!("icmp type {} code {}", e.icmp_type, e.code);
            self.push(kind, e.from.map(|a| a.to_string()), Some(detail));
        }
    }
}

fn socket_for(
    addr: SocketAddr,
    ty: Type,
    proto: Protocol,
    bind: Option<IpAddr>,
) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if let Some(ip) = bind {
        s.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    }
    Ok(s)
}

fn first_line(b: &[u8]) -> String {
    let line = b.split(|c| *c == b'\n').next().unwrap_or_default();
    let text: String = String::from_utf8_lossy(line)
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if text.is_empty() || b.first().is_some_and(|c| *c == 0x15 || *c == 0x16) {
        // TLS records are not text: say what they are.
        match b.first() {
            Some(0x16) => "tls handshake record".into(),
            Some(0x15) => "tls alert record".into(),
            _ => "binary".into(),
        }
    } else {
        text
    }
}

/// Probes `addr` with `probe` at `ttl`.
pub(crate) fn probe(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    ttl: u8,
    what: Probe<'_>,
    t: HopTiming,
) -> TraceHop {
    let mut hop = TraceHop {
        ttl,
        ..TraceHop::default()
    };
    let result = match what {
        Probe::TcpPayload(bytes) => tcp_payload(addr, bind, ttl, bytes, t),
        Probe::Syn => syn(addr, bind, ttl, t),
        Probe::Udp(bytes, answer) => udp(addr, bind, ttl, bytes, answer, t),
    };
    match result {
        Ok(events) => hop.events = events,
        Err(e) => hop.failure = Some(e),
    }
    hop
}

/// Asks for ICMP errors on the socket's error queue and lowers its TTL; its descriptor.
fn limit_ttl(s: &Socket, ttl: u8) -> Result<std::os::fd::RawFd, String> {
    let fd = s.as_raw_fd();
    sock::enable_recverr(fd).map_err(|e| format!("IP_RECVERR unavailable: {e}"))?;
    s.set_ttl_v4(u32::from(ttl))
        .map_err(|e| format!("IP_TTL: {e}"))?;
    Ok(fd)
}

/// Whether a readable socket has said all it will.
enum Heard {
    More,
    Done,
}

/// Waits on `fd` until `t.wait` has passed (or `t.settle` after the last event): queued ICMP
/// errors are collected, and `readable` reads what came back.
fn listen(
    fd: std::os::fd::RawFd,
    c: &mut Collector,
    t: HopTiming,
    mut readable: impl FnMut(&mut Collector, i16) -> Heard,
) -> Result<(), String> {
    let mut deadline = c.start + t.wait;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        let rev = sock::poll(fd, libc::POLLIN | libc::POLLERR, deadline - now)
            .map_err(|e| e.to_string())?;
        if rev == 0 {
            return Ok(());
        }
        let before = c.events.len();
        if rev & libc::POLLERR != 0 {
            c.icmp(sock::drain_errors(fd));
        }
        if let Heard::Done = readable(c, rev) {
            return Ok(());
        }
        // Something came back: listen a little longer only (a reset may follow an ICMP, a
        // real answer an injected one).
        if c.events.len() > before {
            deadline = deadline.min(Instant::now() + t.settle);
        }
    }
}

fn tcp_payload(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    ttl: u8,
    bytes: &[u8],
    t: HopTiming,
) -> Result<Vec<HopEvent>, String> {
    let s =
        socket_for(addr, Type::STREAM, Protocol::TCP, bind).map_err(|e| format!("socket: {e}"))?;
    s.connect_timeout(&SockAddr::from(addr), t.connect)
        .map_err(|e| format!("handshake at full TTL failed: {e}"))?;
    let fd = limit_ttl(&s, ttl)?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut c = Collector::new();
    (&s).write_all(bytes).map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; READ_CAP];
    listen(fd, &mut c, t, |c, rev| {
        if rev & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return Heard::More;
        }
        match sock::recv_with_ttl(fd, &mut buf) {
            Ok((0, _)) => {
                c.push("eof", Some(addr.to_string()), None);
                Heard::Done
            }
            Ok((n, _)) => {
                let line = buf.get(..n).map(first_line);
                c.push("data", Some(addr.to_string()), line).bytes = Some(n as u64);
                Heard::Done
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::ECONNRESET) | Some(libc::EPIPE) => {
                    c.push("reset", Some(addr.to_string()), None);
                    Heard::Done
                }
                // The ICMP's errno. On a connected TCP socket the kernel queues no detail
                // (no router address): record that an ICMP error stopped the packet.
                Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => {
                    let queued = sock::drain_errors(fd);
                    if queued.is_empty() {
                        c.push("icmp_error", None, Some(e.to_string()));
                    }
                    c.icmp(queued);
                    Heard::More
                }
                Some(libc::EAGAIN) => Heard::More,
                _ => {
                    c.push("error", None, Some(e.to_string()));
                    Heard::Done
                }
            },
        }
    })?;
    // Let the close reach the server instead of expiring on the way.
    let _ = s.set_ttl_v4(FULL_TTL);
    Ok(c.events)
}

fn syn(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    ttl: u8,
    t: HopTiming,
) -> Result<Vec<HopEvent>, String> {
    let s =
        socket_for(addr, Type::STREAM, Protocol::TCP, bind).map_err(|e| format!("socket: {e}"))?;
    let fd = limit_ttl(&s, ttl)?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut c = Collector::new();
    match s.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(format!("connect: {e}")),
    }
    let rev = sock::poll(fd, libc::POLLOUT | libc::POLLERR, t.wait).map_err(|e| e.to_string())?;
    if rev != 0 {
        c.icmp(sock::drain_errors(fd));
        match s.take_error() {
            Ok(None) => {
                c.push("connected", Some(addr.to_string()), None);
            }
            Ok(Some(e)) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) | Some(libc::ECONNRESET) => {
                    c.push("reset", Some(addr.to_string()), None);
                }
                Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => {}
                _ => {
                    c.push("error", None, Some(e.to_string()));
                }
            },
            Err(e) => {
                c.push("error", None, Some(e.to_string()));
            }
        }
    }
    let _ = s.set_ttl_v4(FULL_TTL);
    Ok(c.events)
}

fn udp(
    addr: SocketAddr,
    bind: Option<IpAddr>,
    ttl: u8,
    bytes: &[u8],
    answer: &dyn Fn(&[u8]) -> Option<String>,
    t: HopTiming,
) -> Result<Vec<HopEvent>, String> {
    let s =
        socket_for(addr, Type::DGRAM, Protocol::UDP, bind).map_err(|e| format!("socket: {e}"))?;
    s.connect(&SockAddr::from(addr))
        .map_err(|e| format!("connect: {e}"))?;
    let fd = limit_ttl(&s, ttl)?;
    // Optional evidence: a kernel without it still traces.
    let _ = sock::enable_recvttl(fd);
    let mut c = Collector::new();
    s.send(bytes).map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 4096];
    // Every answer is kept until the wait ends: an injected one may be followed by the real one.
    listen(fd, &mut c, t, |c, rev| {
        if rev & libc::POLLIN == 0 {
            return Heard::More;
        }
        match sock::recv_with_ttl(fd, &mut buf) {
            Ok((n, ip_ttl)) => {
                if let Some(detail) = buf.get(..n).and_then(answer) {
                    let e = c.push("dns_answer", Some(addr.to_string()), Some(detail));
                    e.ip_ttl = ip_ttl;
                    e.bytes = Some(n as u64);
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) | Some(libc::ECONNREFUSED)
                ) =>
            {
                c.icmp(sock::drain_errors(fd));
            }
            Err(_) => {}
        }
        Heard::More
    })?;
    Ok(c.events)
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn first_lines_are_bounded_and_named() {
        assert_eq!(first_line(b"HTTP/1.1 200 OK\r\nX: y"), "HTTP/1.1 200 OK");
        assert_eq!(first_line(&[0x16, 3, 3, 0, 5]), "tls handshake record");
        assert_eq!(first_line(&[]), "binary");
        assert_eq!(first_line(&[b'a'; 500]).len(), 120);
    }
}
