//! Where the censor sits: the packet that met interference (a DNS query, a ClientHello, an
//! HTTP request) re-sent with IP TTL 1, 2, 3 … For TCP the handshake is real (full TTL) and
//! only the trigger is TTL-limited. Each hop records what came back — ICMP time exceeded and
//! from which router (read with `IP_RECVERR` on the same socket), a reset, an answer, or
//! silence — with times. A control sweep of a packet that triggers nothing (a SYN to the same
//! address; a query for an innocuous name) shows how far the path answers on its own.
//! Observations only: `interfero_analysis::locate` reads them.

mod hop;
mod sock;

use crate::dns::wire;
use crate::ProbeConfig;
use hickory_proto::rr::RecordType;
use hop::{HopTiming, Probe};
use interfero_model::trace::{Trace, TraceHop, TraceRequest};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name the DNS control sweep asks for: reserved (RFC 6761), so no filter targets it.
pub const CONTROL_NAME: &str = "interfero-trace-control.invalid";

/// Consecutive silent hops after which a sweep stops (the path or the trigger is dropped).
const SILENT_RUN: usize = 3;

/// Traces `req`, within `cfg.trace`'s bounds. Never fails: what could not be done is the
/// trace's `failure`.
pub async fn run(cfg: &ProbeConfig, req: &TraceRequest) -> Trace {
    let mut trace = Trace {
        request: req.clone(),
        ..Trace::default()
    };
    if !cfg!(target_os = "linux") {
        trace.failure = Some("TTL-limited traces need Linux (IP_RECVERR)".into());
        return trace;
    }
    if !cfg.trace.enabled {
        trace.failure = Some("traces are disabled".into());
        return trace;
    }
    let addr: SocketAddr = match req.address.parse() {
        Ok(a @ SocketAddr::V4(_)) => a,
        Ok(_) => {
            trace.failure = Some("only IPv4 paths are traced".into());
            return trace;
        }
        Err(_) => {
            trace.failure = Some(format!("not an address: {:?}", req.address));
            return trace;
        }
    };
    if !cfg.scope.permits(addr.ip()) {
        trace.failure = Some(format!(
            "{addr} is outside the addresses this probe may reach ({:?})",
            cfg.scope
        ));
        return trace;
    }
    let payload = match payload(cfg, req) {
        Ok(p) => p,
        Err(e) => {
            trace.failure = Some(e);
            return trace;
        }
    };
    let cfg = Arc::new(cfg.clone());
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || sweep(&cfg, addr, &payload, trace));
    match run.await {
        Ok(mut t) => {
            t.seconds = started.elapsed().as_secs_f64();
            t
        }
        Err(e) => Trace {
            request: req.clone(),
            failure: Some(format!("trace task failed: {e}")),
            ..Trace::default()
        },
    }
}

/// The bytes to send, and for DNS the questions whose replies count.
enum Payload {
    Tcp(Vec<u8>),
    Dns {
        trigger: wire::Question,
        control: wire::Question,
    },
}

fn payload(cfg: &ProbeConfig, req: &TraceRequest) -> Result<Payload, String> {
    match req.kind.as_str() {
        "dns" => Ok(Payload::Dns {
            trigger: wire::build_query(&req.server_name, RecordType::A)?,
            control: wire::build_query(CONTROL_NAME, RecordType::A)?,
        }),
        "tls" => client_hello(&req.server_name).map(Payload::Tcp),
        "http" => {
            let path = if req.path.starts_with('/') {
                req.path.as_str()
            } else {
                "/"
            };
            Ok(Payload::Tcp(
                format!(
                    "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                    req.server_name, cfg.user_agent
                )
                .into_bytes(),
            ))
        }
        other => Err(format!("cannot trace {other:?}")),
    }
}

/// The ClientHello rustls sends for `sni` (as the probe's own handshake would start).
pub fn client_hello(sni: &str) -> Result<Vec<u8>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name =
        rustls_pki_types::ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    conn.write_tls(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn dns_answer(q: &wire::Question) -> impl Fn(&[u8]) -> Option<String> + '_ {
    move |bytes| match wire::parse_reply(bytes, q)? {
        wire::Reply::Decoded { rcode, answers, .. } => {
            let addrs: Vec<&str> = answers.iter().filter_map(|a| a.addr()).collect();
            Some(
                format!("{rcode} {}", addrs.join(","))
                    .trim_end()
                    .to_string(),
            )
        }
        wire::Reply::Undecodable => Some("undecodable".into()),
    }
}

/// Whether a hop's answer came from the far end: something other than ICMP arrived and no
/// router said the packet expired on the way.
fn reached_end(h: &TraceHop) -> bool {
    let expired = h
        .events
        .iter()
        .any(|e| e.kind == "time_exceeded" || e.kind == "icmp_error");
    !expired
        && h.events.iter().any(|e| {
            matches!(
                e.kind.as_str(),
                "reset" | "eof" | "data" | "dns_answer" | "connected"
            )
        })
}

/// Probes TTL 1, 2, … up to `limit`: stops at the far end, after [`SILENT_RUN`] silent hops,
/// or at the deadline (recorded as the trace's failure).
fn sweep_one(
    limit: u8,
    deadline: Instant,
    failure: &mut Option<String>,
    mut at: impl FnMut(u8) -> TraceHop,
) -> Vec<TraceHop> {
    let mut hops = Vec::new();
    let mut silent = 0;
    for ttl in 1..=limit {
        if Instant::now() >= deadline {
            *failure = Some(format!("time budget spent at TTL {ttl}"));
            break;
        }
        let h = at(ttl);
        let end = reached_end(&h);
        silent = if h.events.is_empty() { silent + 1 } else { 0 };
        let broken = h.failure.is_some();
        hops.push(h);
        if end || silent >= SILENT_RUN || broken {
            break;
        }
    }
    hops
}

/// The trigger's sweep: up to `limit` (the control's far end when `known`), stopping early only
/// on silence, the deadline, or an answer from the far end when the control found none.
fn trigger_sweep(
    limit: u8,
    known: bool,
    deadline: Instant,
    failure: &mut Option<String>,
    mut at: impl FnMut(u8) -> TraceHop,
) -> Vec<TraceHop> {
    let mut hops: Vec<TraceHop> = Vec::new();
    for ttl in 1..=limit {
        if Instant::now() >= deadline {
            *failure = Some(format!("time budget spent at TTL {ttl}"));
            break;
        }
        let h = at(ttl);
        let stop = (!known && reached_end(&h)) || h.failure.is_some();
        hops.push(h);
        let silent = hops
            .iter()
            .rev()
            .take_while(|h| h.events.is_empty())
            .count();
        if stop || silent >= SILENT_RUN {
            break;
        }
    }
    hops
}

fn sweep(cfg: &ProbeConfig, addr: SocketAddr, payload: &Payload, mut trace: Trace) -> Trace {
    let s = cfg.trace;
    let deadline = Instant::now() + s.budget;
    let timing = HopTiming {
        connect: cfg.timeouts.connect.min(Duration::from_secs(3)),
        wait: s.hop_wait,
        settle: s.settle,
    };
    let bind = cfg.bind_ip;
    let mut failure = None;
    let max = s.max_hops.clamp(1, 64);
    // The control sweep first: where the far end answers bounds the trigger's sweep.
    trace.control = match payload {
        Payload::Tcp(_) => sweep_one(max, deadline, &mut failure, |ttl| {
            hop::probe(addr, bind, ttl, Probe::Syn, timing)
        }),
        Payload::Dns { control, .. } => {
            let read = dns_answer(control);
            sweep_one(max, deadline, &mut failure, |ttl| {
                hop::probe(addr, bind, ttl, Probe::Udp(&control.bytes, &read), timing)
            })
        }
    };
    let end = trace
        .control
        .last()
        .filter(|h| reached_end(h))
        .map(|h| h.ttl);
    let limit = end.unwrap_or(max);
    // A reaction below the far end does not end the trigger's sweep: what happens further on
    // (the same reaction, the real answer after an injected one, silence) tells the device's
    // kind.
    let known = end.is_some();
    trace.hops = match payload {
        Payload::Tcp(bytes) => trigger_sweep(limit, known, deadline, &mut failure, |ttl| {
            hop::probe(addr, bind, ttl, Probe::TcpPayload(bytes), timing)
        }),
        Payload::Dns { trigger, .. } => {
            let read = dns_answer(trigger);
            trigger_sweep(limit, known, deadline, &mut failure, |ttl| {
                hop::probe(addr, bind, ttl, Probe::Udp(&trigger.bytes, &read), timing)
            })
        }
    };
    if trace.failure.is_none() {
        trace.failure = failure;
    }
    trace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_carries_the_name() {
        let b = client_hello("blocked.example.test").unwrap();
        assert_eq!(b.first(), Some(&0x16));
        assert!(b.windows(20).any(|w| w == b"blocked.example.test"));
    }
}
