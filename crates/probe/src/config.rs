//! What a probe (or the control) is allowed to do: resolver, trust anchors, time and size bounds.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Errors of the probe's setup (not of measurements, which record failures as observations).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The CA file could not be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFileRead {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no PEM certificate.
    #[error("CA file {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    CaFileEmpty {
        /// The file.
        path: String,
    },
    /// The CA file holds a malformed PEM block.
    #[error("CA file {path} is not valid PEM: {reason}")]
    CaFileInvalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No resolver could be found in the system configuration.
    #[error("no nameserver in /etc/resolv.conf; pass --resolver IP[:PORT]")]
    NoSystemResolver,
}

/// Which DNS resolver to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolver {
    /// The first nameserver of `/etc/resolv.conf`, port 53.
    System,
    /// A given resolver.
    Addr(SocketAddr),
}

impl Resolver {
    /// The resolver's socket address.
    pub fn addr(&self) -> Result<SocketAddr, ProbeError> {
        match self {
            Resolver::Addr(a) => Ok(*a),
            Resolver::System => std::fs::read_to_string("/etc/resolv.conf")
                .ok()
                .and_then(|text| first_nameserver(&text))
                .ok_or(ProbeError::NoSystemResolver),
        }
    }
}

/// The first `nameserver` line of a resolv.conf text, port 53.
pub fn first_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? != "nameserver" {
            return None;
        }
        // Scoped IPv6 addresses (fe80::1%eth0) cannot be parsed as IpAddr; skip the scope.
        let ip: IpAddr = words.next()?.split('%').next()?.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

/// Per-step time bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for the first DNS response.
    pub dns: Duration,
    /// Listening for further DNS responses after the first (injection evidence).
    pub dns_linger: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// One whole HTTP round trip, body included.
    pub http: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            dns: Duration::from_secs(3),
            dns_linger: Duration::from_millis(300),
            connect: Duration::from_secs(5),
            tls: Duration::from_secs(5),
            http: Duration::from_secs(10),
        }
    }
}

/// Everything a measurement needs to know besides its target.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The DNS resolver.
    pub resolver: Resolver,
    /// Trust anchors added to webpki-roots (from `--ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Per-step time bounds.
    pub timeouts: Timeouts,
    /// Most body bytes read from one response.
    pub body_cap: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Most addresses per host connected to.
    pub max_addresses: usize,
    /// Source address of every socket (lets a lab tell the control from the probe).
    pub bind_ip: Option<IpAddr>,
    /// The User-Agent sent.
    pub user_agent: String,
    /// How long each throughput transfer may run when a fetch is too slow to finish (the
    /// target's and the paired control's run at once, so this bounds the extra time).
    pub throughput_window: Duration,
    /// A page of at least [`SLOW_FETCH_MIN_BYTES`] that arrives slower than this (kbit/s) is
    /// measured for throttling too, not only a fetch that times out: a policer at 1–2 Mbit/s
    /// lets a capped body finish in time.
    pub slow_fetch_kbps: f64,
    /// Endpoints that should always answer, tried when a target fails, to tell a cut-off
    /// vantage point from a blocked site. Empty: no reachability check.
    pub canaries: Vec<interfero_model::Canary>,
    /// How far the control's answer shortens a stalled TLS handshake or response head (none:
    /// always the full timeouts).
    pub adaptive: Option<crate::adaptive::Adaptive>,
    /// Most measurements of one host at once (the runner's scheduling).
    pub max_per_host: usize,
    /// Most connections open to one address at once, within a run.
    pub max_per_address: usize,
    /// State shared by the measurements of one run (DNS cache, per-address limits); the runner
    /// sets a fresh one for every run. None: each measurement on its own.
    pub run: Option<std::sync::Arc<crate::schedule::RunShared>>,
    /// Bounds of the TTL-limited trace made after traceable interference.
    pub trace: TraceSettings,
    /// Where packets may go: every connect (targets, redirect hops, the probe's `tcp_connect`
    /// entries at a control, timed transfers, traces) is checked on the address actually
    /// dialled, so that a name resolving into private space (DNS rebinding) is refused too.
    pub scope: interfero_model::addr::Scope,
    /// The delegation walk made when a name fails (root hints and bounds). No hints by
    /// default: the binary sets the real root servers, tests and labs their own.
    pub delegation: crate::dns::walk::DelegationSettings,
}

/// Bounds of a TTL-limited trace (`trace::run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceSettings {
    /// Whether a trace may be made at all (off by default: `run --trace` turns it on).
    pub enabled: bool,
    /// Highest TTL tried.
    pub max_hops: u8,
    /// Longest wait for anything to come back at one TTL.
    pub hop_wait: Duration,
    /// How long to keep listening at one TTL after the first thing came back (an injected
    /// answer may race a real one, a reset may follow an ICMP).
    pub settle: Duration,
    /// The whole trace, control sweep included.
    pub budget: Duration,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            // Opt-in (`run --trace`): a trace costs up to `budget` per blocked target.
            enabled: false,
            max_hops: 24,
            hop_wait: Duration::from_millis(1000),
            settle: Duration::from_millis(300),
            budget: Duration::from_secs(10),
        }
    }
}

/// The smallest body whose arrival rate says anything about the path (smaller ones are
/// dominated by round trips and server time).
pub const SLOW_FETCH_MIN_BYTES: u64 = 64 * 1024;

/// A current desktop browser's User-Agent, so that sites answer as they answer people.
pub const DEFAULT_USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            resolver: Resolver::System,
            extra_roots: Vec::new(),
            timeouts: Timeouts::default(),
            body_cap: 512 * 1024,
            max_redirects: 10,
            max_addresses: 4,
            bind_ip: None,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            throughput_window: Duration::from_secs(10),
            slow_fetch_kbps: 3000.0,
            canaries: Vec::new(),
            adaptive: Some(crate::adaptive::Adaptive::default()),
            max_per_host: 2,
            max_per_address: 8,
            run: None,
            trace: TraceSettings::default(),
            scope: interfero_model::addr::Scope::Any,
            delegation: crate::dns::walk::DelegationSettings::default(),
        }
    }
}

/// Reads PEM certificates from a file; an error if there is none.
pub fn load_ca_file(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, ProbeError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ProbeError::CaFileRead {
        path: name.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProbeError::CaFileInvalid {
            path: name.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ProbeError::CaFileEmpty { path: name });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resolv_conf() {
        let t = "# c\nsearch x\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n";
        assert_eq!(first_nameserver(t), Some("127.0.0.53:53".parse().unwrap()));
        assert_eq!(
            first_nameserver("nameserver fe80::1%eth0"),
            Some("[fe80::1]:53".parse().unwrap())
        );
        assert_eq!(first_nameserver("nameserver"), None);
    }

    #[test]
    fn ca_file_errors_are_plain() {
        let dir = std::env::temp_dir().join(format!("interfero-ca-{}", std::process::id()));
        std::fs::write(&dir, b"not a certificate").unwrap();
        let e = load_ca_file(&dir).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        let _ = std::fs::remove_file(&dir);
        assert!(matches!(
            load_ca_file("/nonexistent/x.pem"),
            Err(ProbeError::CaFileRead { .. })
        ));
    }
}
