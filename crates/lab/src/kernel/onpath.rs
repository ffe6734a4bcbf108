//! The censor at its hop, on-path: a thread in the censor's router namespace that watches the
//! client's packets on a packet socket (it sees each one as it arrives, whatever its TTL, as a
//! real tap does) and injects, without dropping anything:
//! - for a DNS query over UDP for a censored name, a forged answer (the blockpage server's
//!   address) from the resolver's address — the real answer follows from the real resolver;
//! - for a TLS ClientHello whose SNI is censored, a RST from the server's address at exactly
//!   the sequence number the client expects, which the client takes as the server's reset.
//!
//! Every parse of a packet is length-checked; nothing here trusts the client's bytes.

use super::inject::{checksum, tcp_packet, ACK, RST};
use super::netns::CLIENT_IP;
use super::tap::Tap;
use crate::scenario::name_matches;
use crate::LabError;
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
use socket2::Socket;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, RwLock};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// `sll_pkttype` of a packet this host sends (the forwarded copy, our own injections).
const PACKET_OUTGOING: u8 = 4;

/// What the on-path censor reacts to; follows the scenario clock.
#[derive(Debug, Clone, Default)]
pub(crate) struct OnPathRules {
    /// DNS names (and their sub-domains) whose queries get a forged answer.
    pub(crate) domains: Vec<String>,
    /// Server names whose ClientHellos get a reset.
    pub(crate) snis: Vec<String>,
    /// The address forged answers give.
    pub(crate) forged: Option<Ipv4Addr>,
}

/// Shared with the censor, which rewrites it when the clock moves.
pub(crate) type OnPathSet = Arc<RwLock<OnPathRules>>;

/// A running on-path injector; stops (and joins its thread) on drop.
pub(crate) struct OnPath {
    _tap: Tap,
}

/// An IPv4 packet's addresses, protocol, TTL and payload (after the IP header).
struct Ip<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    body: &'a [u8],
}

fn ipv4(p: &[u8]) -> Option<Ip<'_>> {
    let first = *p.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = p.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    Some(Ip {
        src: addr(12)?,
        dst: addr(16)?,
        proto: *p.get(9)?,
        body: p.get(ihl..total.min(p.len()))?,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The SNI of a ClientHello at the start of `p` (one TLS record), if there is one.
pub(crate) fn client_hello_sni(p: &[u8]) -> Option<String> {
    if *p.first()? != 0x16 || *p.get(5)? != 0x01 {
        return None;
    }
    // Record header (5), handshake header (4), version (2), random (32).
    let mut at = 5 + 4 + 2 + 32;
    at += 1 + usize::from(*p.get(at)?); // session id
    at += 2 + usize::from(be16(p, at)?); // cipher suites
    at += 1 + usize::from(*p.get(at)?); // compression methods
    let ext_end = at + 2 + usize::from(be16(p, at)?);
    at += 2;
    while at + 4 <= ext_end {
        let kind = be16(p, at)?;
        let len = usize::from(be16(p, at + 2)?);
        let data = p.get(at + 4..at + 4 + len)?;
        if kind == 0 {
            // server_name list: list length (2), name type (1), name length (2), name.
            let n = usize::from(be16(data, 3)?);
            let name = data.get(5..5 + n)?;
            return std::str::from_utf8(name).ok().map(str::to_ascii_lowercase);
        }
        at += 4 + len;
    }
    None
}

/// A forged answer to a DNS query `q` for a censored name, or `None`.
pub(crate) fn forge_dns(q: &[u8], rules: &OnPathRules) -> Option<Vec<u8>> {
    let forged = rules.forged?;
    let msg = Message::from_vec(q).ok()?;
    if msg.metadata.message_type != MessageType::Query {
        return None;
    }
    let question = msg.queries.first()?;
    let name = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !rules.domains.iter().any(|d| name_matches(d, &name)) {
        return None;
    }
    let mut m = Message::response(msg.metadata.id, OpCode::Query);
    m.metadata.recursion_desired = msg.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_query(question.clone());
    if question.query_type() == RecordType::A {
        m.add_answer(Record::from_rdata(
            question.name().clone(),
            60,
            RData::A(A(forged)),
        ));
    }
    m.to_vec().ok()
}

/// An IPv4 + UDP datagram from `src` to `dst` carrying `payload`.
pub(crate) fn udp_packet(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8], id: u16) -> Vec<u8> {
    let udp_len = u16::try_from(8 + payload.len()).unwrap_or(u16::MAX);
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.ip().octets());
    pseudo[4..8].copy_from_slice(&dst.ip().octets());
    pseudo[9] = IPPROTO_UDP;
    pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
    let sum = match checksum(&[&pseudo, &udp]) {
        0 => 0xffff, // zero means "no checksum" in UDP
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut out = ip.to_vec();
    out.extend_from_slice(&udp);
    out
}

/// What to inject in answer to one packet from the client, if anything: (packet, to).
pub(crate) fn react(p: &[u8], rules: &OnPathRules, id: u16) -> Option<(Vec<u8>, SocketAddrV4)> {
    let ip = ipv4(p)?;
    if ip.src != CLIENT_IP {
        return None;
    }
    let sport = be16(ip.body, 0)?;
    let dport = be16(ip.body, 2)?;
    let client = SocketAddrV4::new(ip.src, sport);
    let server = SocketAddrV4::new(ip.dst, dport);
    match ip.proto {
        IPPROTO_UDP if !rules.domains.is_empty() => {
            let answer = forge_dns(ip.body.get(8..)?, rules)?;
            Some((udp_packet(server, client, &answer, id), client))
        }
        IPPROTO_TCP if !rules.snis.is_empty() => {
            let seq = be32(ip.body, 4)?;
            let ack = be32(ip.body, 8)?;
            let doff = usize::from(*ip.body.get(12)? >> 4) * 4;
            let payload = ip.body.get(doff..)?;
            let sni = client_hello_sni(payload)?;
            if !rules.snis.iter().any(|s| name_matches(s, &sni)) {
                return None;
            }
            let len = u32::try_from(payload.len()).ok()?;
            // The client expects the server's next byte at `ack`: a RST there is accepted.
            let rst = tcp_packet(server, client, ack, seq.wrapping_add(len), RST | ACK);
            Some((rst.to_vec(), client))
        }
        _ => None,
    }
}

impl OnPath {
    /// Starts the on-path censor in namespace `router`.
    pub(crate) fn start(router: &str, rules: OnPathSet) -> Result<OnPath, LabError> {
        let tap = Tap::start(router, "lab-on-path", move |tap, raw, stop| {
            serve(tap, raw, rules, stop)
        })?;
        Ok(OnPath { _tap: tap })
    }
}

fn serve(tap: Socket, raw: Socket, rules: OnPathSet, stop: Arc<AtomicBool>) {
    let ids = AtomicU16::new(0x4a00);
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = tap.recv_from(&mut buf) else {
            continue; // timeout: look at the stop flag again
        };
        // sockaddr_ll: family (2), protocol (2), ifindex (4), hatype (2), pkttype (1).
        // SAFETY: the storage is a valid sockaddr_storage of at least 11 bytes.
        let pkttype = unsafe { *(from.as_ptr() as *const u8).add(10) };
        if pkttype == PACKET_OUTGOING {
            continue;
        }
        // SAFETY: recv_from initialised the first `n` bytes.
        let bytes: &[u8] =
            unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n.min(buf.len())) };
        let Ok(r) = rules.read() else { continue };
        let id = ids.fetch_add(1, Ordering::Relaxed);
        if let Some((packet, to)) = react(bytes, &r, id) {
            let _ = raw.send_to(&packet, &socket2::SockAddr::from(to));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> OnPathRules {
        OnPathRules {
            domains: vec!["injected.test".into()],
            snis: vec!["reset.test".into()],
            forged: Some(Ipv4Addr::new(198, 19, 0, 9)),
        }
    }

    #[test]
    fn forges_dns_for_censored_names_only() {
        let q = |name: &str| {
            let mut m = Message::query();
            m.add_query(hickory_proto::op::Query::query(
                hickory_proto::rr::Name::from_ascii(name).unwrap(),
                RecordType::A,
            ));
            m.to_vec().unwrap()
        };
        let client = SocketAddrV4::new(CLIENT_IP, 40000);
        let server = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 2), 5353);
        let packet = udp_packet(client, server, &q("www.injected.test."), 1);
        let (out, to) = react(&packet, &rules(), 7).unwrap();
        assert_eq!(to, client);
        let ip = ipv4(&out).unwrap();
        assert_eq!((ip.src, ip.dst), (*server.ip(), CLIENT_IP));
        let m = Message::from_vec(ip.body.get(8..).unwrap()).unwrap();
        assert_eq!(m.answers.len(), 1);
        // The UDP checksum verifies (sums to zero with the pseudo header).
        let mut pseudo = [0u8; 12];
        pseudo[0..4].copy_from_slice(&ip.src.octets());
        pseudo[4..8].copy_from_slice(&ip.dst.octets());
        pseudo[9] = IPPROTO_UDP;
        pseudo[10..12].copy_from_slice(&(ip.body.len() as u16).to_be_bytes());
        assert_eq!(checksum(&[&pseudo, ip.body]), 0);
        assert!(react(
            &udp_packet(client, server, &q("open.test."), 1),
            &rules(),
            7
        )
        .is_none());
        for cut in 0..packet.len() {
            let _ = react(&packet[..cut], &rules(), 7);
        }
    }

    #[test]
    fn sni_is_read_with_bounds() {
        // A minimal ClientHello carrying only an SNI extension.
        let name = b"reset.test";
        let mut sni = vec![0, 0];
        let list_len = (3 + name.len()) as u16;
        let ext_data_len = (2 + 3 + name.len()) as u16;
        sni.extend_from_slice(&ext_data_len.to_be_bytes());
        sni.extend_from_slice(&list_len.to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0]);
        body.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        body.extend_from_slice(&sni);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        assert_eq!(client_hello_sni(&rec).as_deref(), Some("reset.test"));
        for cut in 0..rec.len() {
            assert!(client_hello_sni(&rec[..cut]).is_none());
        }
    }
}

#[cfg(test)]
mod rustls_hello {
    use super::client_hello_sni;
    use std::sync::Arc;

    #[test]
    fn reads_the_sni_of_a_real_client_hello() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from("reset.test").unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        assert_eq!(client_hello_sni(&out).as_deref(), Some("reset.test"));
    }
}
