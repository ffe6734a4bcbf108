//! TCP connect as an observation.

use crate::{failure, Clock, ProbeConfig};
use interfero_model::measurement::{TcpConnect, TcpStatus};
use interfero_model::Failure;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// Connects to `addr` within the connect timeout; the observation and, on success, the stream.
pub async fn connect(
    cfg: &ProbeConfig,
    addr: SocketAddr,
    clock: &Clock,
) -> (TcpConnect, Option<TcpStream>) {
    let t0 = clock.now();
    // Checked on the address itself, not on a name: no packet leaves for a refused one.
    let result = if cfg.scope.permits(addr.ip()) {
        dial(cfg.bind_ip, addr, cfg.timeouts.connect).await
    } else {
        Err(Failure::DestinationRefused)
    };
    let mut obs = TcpConnect {
        ip: addr.ip().to_string(),
        port: addr.port(),
        status: TcpStatus::default(),
        t0,
        t: clock.now(),
    };
    match result {
        Ok(stream) => {
            obs.status.success = true;
            (obs, Some(stream))
        }
        Err(f) => {
            obs.status.failure = Some(f);
            (obs, None)
        }
    }
}

/// Opens a TCP connection from `bind_ip` (when of the same family as `addr`) within `limit`.
pub(crate) async fn dial(
    bind_ip: Option<IpAddr>,
    addr: SocketAddr,
    limit: Duration,
) -> Result<TcpStream, Failure> {
    let attempt = async {
        let sock = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // A v4 source cannot reach a v6 destination: bind only within a family, so that a lab's
        // IPv4 bind address does not turn every AAAA answer into a local error.
        if let Some(ip) = bind_ip.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
            sock.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = sock.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok::<_, io::Error>(stream)
    };
    match tokio::time::timeout(limit, attempt).await {
        Err(_) => Err(Failure::Timeout),
        Ok(Err(e)) => Err(failure::from_io(&e)),
        Ok(Ok(s)) => Ok(s),
    }
}
