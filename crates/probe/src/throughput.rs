//! Paired transfers for throttling: the same URL fetched over the same path twice at once,
//! once under the target's name and once under a name no filter targets, sampling the bytes
//! received. A policer matching the name slows only the first; a slow server or a congested
//! link slows both.
//!
//! The request is written by hand and the reply read as raw bytes: only the arrival rate of
//! bytes matters here, and an HTTP client would hide it behind its own buffering and parsing.

use crate::{tcp, tls, Clock, ProbeConfig};
use interfero_model::measurement::Throughput;
use interfero_model::Failure;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The server name used for the paired transfer: reserved (RFC 6761), so no filter lists it.
pub const PAIRED_NAME: &str = "paired-control.invalid";

/// The most bytes one transfer reads before it stops (enough for a stable rate).
pub const BYTE_CAP: u64 = 8 * 1024 * 1024;

/// One transfer to take part in a paired measurement.
#[derive(Debug, Clone)]
pub struct Leg {
    /// `target` or `paired`.
    pub role: &'static str,
    /// The TLS server name, or for plain HTTP the Host header.
    pub sni: String,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Fetches `path` of `host` at `addr` for at most `cfg.throughput_window`, sampling bytes.
pub async fn transfer(
    cfg: &ProbeConfig,
    addr: SocketAddr,
    https: bool,
    host: &str,
    path: &str,
    leg: &Leg,
    clock: &Clock,
) -> Throughput {
    let interval = Duration::from_millis(250);
    let mut out = Throughput {
        address: addr.to_string(),
        server_name: leg.sni.clone(),
        role: leg.role.to_string(),
        interval: interval.as_secs_f64(),
        ..Throughput::default()
    };
    let (conn, stream) = tcp::connect(cfg, addr, clock).await;
    let Some(stream) = stream else {
        out.failure = conn.status.failure;
        return out;
    };
    let mut io: Box<dyn Io> = if https {
        let (hs, tls) = tls::handshake_any_certificate(cfg, stream, &leg.sni, clock).await;
        match tls {
            Some(t) => Box::new(t),
            None => {
                out.failure = hs.failure.or(Some(Failure::SslFailedHandshake));
                return out;
            }
        }
    } else {
        Box::new(stream)
    };
    // Over TLS the Host is hidden and stays the target's (the same page on both legs); in the
    // clear it is what a filter reads, so the paired leg carries the innocuous name there.
    let host = if https { host } else { leg.sni.as_str() };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        cfg.user_agent
    );
    let start = Instant::now();
    let deadline = start + cfg.throughput_window;
    if let Err(e) = tokio::time::timeout_at(deadline, io.write_all(request.as_bytes()))
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "write")))
    {
        out.failure = Some(crate::failure::from_io(&e));
        return out;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut next_sample = start + interval;
    let mut last_byte = start;
    loop {
        let until = next_sample.min(deadline);
        // Never past the cap, not even by the tail of one read.
        let room = usize::try_from(BYTE_CAP.saturating_sub(out.bytes))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match tokio::time::timeout_at(until, io.read(&mut buf[..room])).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                out.bytes += n as u64;
                last_byte = Instant::now();
                if out.bytes >= BYTE_CAP {
                    break;
                }
            }
            Ok(Err(e)) => {
                out.failure = Some(crate::failure::from_io(&e));
                break;
            }
            Err(_) => {}
        }
        let now = Instant::now();
        while now >= next_sample && next_sample <= deadline {
            out.samples.push(out.bytes);
            next_sample += interval;
        }
        if now >= deadline {
            // Nothing came in the whole window (a path slowed as a whole can hold a new
            // connection's first bytes behind other transfers' queued ones for seconds): a
            // timeout over the window, not a connection that ended at once with no bytes.
            if out.bytes == 0 {
                out.failure = Some(Failure::Timeout);
            }
            break;
        }
    }
    // The rate runs to the last byte when the transfer ended early, to the deadline otherwise
    // (and when nothing came at all).
    let silent = out.bytes == 0 && out.failure == Some(Failure::Timeout);
    let end = if !silent && (out.bytes >= BYTE_CAP || last_byte < deadline - interval) {
        last_byte
    } else {
        deadline
    };
    out.seconds = end
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(0.001);
    out
}

/// Runs the target's and the paired transfer at once on the same address.
pub async fn paired(
    cfg: &ProbeConfig,
    addr: SocketAddr,
    https: bool,
    host: &str,
    path: &str,
    clock: &Clock,
) -> Vec<Throughput> {
    let target = Leg {
        role: "target",
        sni: host.to_string(),
    };
    let control = Leg {
        role: "paired",
        sni: PAIRED_NAME.to_string(),
    };
    let (a, b) = tokio::join!(
        transfer(cfg, addr, https, host, path, &target, clock),
        transfer(cfg, addr, https, host, path, &control, clock)
    );
    vec![a, b]
}
