//! `tcp.reset`: make the client's connect() itself fail with "connection reset".
//!
//! A RST in answer to a SYN is read by every socket as a refusal (ECONNREFUSED), so nftables'
//! `reject with tcp reset` can only emulate `tcp.refuse`. What a socket reports as a reset
//! during connect is a RST that arrives once the connection left SYN-SENT. The injector gets
//! there without ever letting the SYN through: nftables drops the client's SYN to a reset
//! address; this thread, in the censor's router namespace, sees that SYN on a packet socket
//! and answers with a crossing SYN from the server's address (a simultaneous open: the client
//! moves to SYN-RECEIVED) followed by a RST at the next sequence number, which the client
//! accepts as a reset of that connection. Deterministic: both packets are sent before the
//! client can do anything else.

use super::netns::CLIENT_IP;
use super::tap::Tap;
use crate::LabError;
use socket2::Socket;
use std::collections::BTreeSet;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

const IPPROTO_TCP: u8 = 6;
const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const ACK: u8 = 0x10;
/// The addresses whose SYNs are answered with a reset; follows the scenario clock.
pub(crate) type ResetSet = Arc<RwLock<BTreeSet<Ipv4Addr>>>;

/// A running injector; stops (and joins its thread) on drop.
pub(crate) struct Injector {
    _tap: Tap,
}

/// A client SYN, as far as the injector cares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Syn {
    pub(crate) src: SocketAddrV4,
    pub(crate) dst: SocketAddrV4,
}

/// Reads an IPv4 packet; `Some` only for a TCP SYN without ACK. Every length is checked.
pub(crate) fn parse_syn(p: &[u8]) -> Option<Syn> {
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    if p.first()? >> 4 != 4 || ihl < 20 || *p.get(9)? != IPPROTO_TCP {
        return None;
    }
    let addr = |at: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = p.get(at..at + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    let tcp = p.get(ihl..)?;
    let port = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(tcp.get(at..at + 2)?.try_into().ok()?))
    };
    let flags = *tcp.get(13)?;
    if flags & (SYN | ACK | RST) != SYN {
        return None;
    }
    Some(Syn {
        src: SocketAddrV4::new(addr(12)?, port(0)?),
        dst: SocketAddrV4::new(addr(16)?, port(2)?),
    })
}

/// The Internet checksum over `chunks` (each of even length but the last).
pub(crate) fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for c in chunks {
        for pair in c.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u32::from(*b));
            sum += hi | lo;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 + TCP packet (no options, no payload) from `src` to `dst`.
pub(crate) fn packet(src: SocketAddrV4, dst: SocketAddrV4, seq: u32, flags: u8) -> [u8; 40] {
    tcp_packet(src, dst, seq, 0, flags)
}

/// An IPv4 + TCP packet (no options, no payload) with an acknowledgement number.
pub(crate) fn tcp_packet(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    seq: u32,
    ack: u32,
    flags: u8,
) -> [u8; 40] {
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&src.port().to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.ip().octets());
    pseudo[4..8].copy_from_slice(&dst.ip().octets());
    pseudo[9] = IPPROTO_TCP;
    pseudo[10..12].copy_from_slice(&20u16.to_be_bytes());
    let sum = checksum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    ip[12..16].copy_from_slice(&src.ip().octets());
    ip[16..20].copy_from_slice(&dst.ip().octets());
    let sum = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut out = [0u8; 40];
    out[..20].copy_from_slice(&ip);
    out[20..].copy_from_slice(&tcp);
    out
}

impl Injector {
    /// Starts the injector in namespace `router` (the censor's), answering SYNs from the
    /// client to any address in `resets`.
    pub(crate) fn start(router: &str, resets: ResetSet) -> Result<Injector, LabError> {
        let tap = Tap::start(router, "lab-tcp-reset", move |tap, raw, stop| {
            serve(tap, raw, resets, stop)
        })?;
        Ok(Injector { _tap: tap })
    }
}

fn serve(tap: Socket, raw: Socket, resets: ResetSet, stop: Arc<AtomicBool>) {
    let isn = AtomicU32::new(0x1f2e_3d4c);
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let n = match (&tap).read(&mut buf) {
            Ok(n) => n,
            Err(_) => continue, // timeout: look at the stop flag again
        };
        let Some(syn) = buf.get(..n).and_then(parse_syn) else {
            continue;
        };
        let wanted =
            *syn.src.ip() == CLIENT_IP && resets.read().is_ok_and(|set| set.contains(syn.dst.ip()));
        if !wanted {
            continue;
        }
        let seq = isn.fetch_add(0x0001_0000, Ordering::Relaxed);
        let to = socket2::SockAddr::from(syn.src);
        let _ = raw.send_to(&packet(syn.dst, syn.src, seq, SYN), &to);
        let _ = raw.send_to(&packet(syn.dst, syn.src, seq.wrapping_add(1), RST), &to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 40000);
        let b = SocketAddrV4::new(Ipv4Addr::new(198, 19, 0, 12), 8443);
        let p = packet(a, b, 7, SYN);
        assert_eq!(parse_syn(&p), Some(Syn { src: a, dst: b }));
        // A valid checksum sums to zero over the header.
        assert_eq!(checksum(&[&p[..20]]), 0);
        assert_eq!(parse_syn(&packet(a, b, 7, SYN | ACK)), None);
        assert_eq!(parse_syn(&packet(a, b, 7, RST)), None);
        for cut in 0..p.len() {
            let _ = parse_syn(&p[..cut]);
        }
        assert_eq!(parse_syn(&p[..30]), None);
    }
}
