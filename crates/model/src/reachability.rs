//! The reachability test: whether this vantage point reaches anything at all. Canaries are
//! endpoints chosen to be up and unblocked (public resolvers, large sites, or the lab's own);
//! when none of them answers, a failed site says more about the connection than about the site.

use crate::failure::Failure;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// What a canary exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CanaryKind {
    /// A DNS query over UDP (TCP when truncated) to `endpoint`, for `name`.
    Dns,
    /// A TCP connect and a TLS handshake with SNI `name` to `endpoint` (any certificate:
    /// interception still proves connectivity).
    Tls,
}

/// One endpoint that should always answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Canary {
    /// What to exercise.
    pub kind: CanaryKind,
    /// The resolver (DNS) or server (TLS).
    pub endpoint: SocketAddr,
    /// The name to resolve (DNS) or to send as SNI (TLS).
    pub name: String,
    /// Inside the country: reaching only domestic canaries is a national shutdown with a
    /// domestic intranet left up, not connectivity.
    #[serde(default)]
    pub domestic: bool,
}

/// What one canary did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CanaryResult {
    /// `dns` or `tls`.
    pub kind: String,
    /// The endpoint (`IP:PORT`).
    pub endpoint: String,
    /// The name asked for or sent.
    pub name: String,
    /// Inside the country.
    pub domestic: bool,
    /// The TCP handshake completed (TLS canaries).
    pub tcp_connected: bool,
    /// Application data came back: a DNS response (any rcode) or a finished TLS handshake.
    pub answered: bool,
    /// Why not, when it did not.
    pub failure: Option<Failure>,
    /// Seconds since the check started when the canary was tried.
    pub t0: f64,
    /// Seconds since the check started when it ended.
    pub t: f64,
}

/// One reachability check: every canary, tried at once, and what the rest of the run saw in
/// the same window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reachability {
    /// UTC time the check started, `YYYY-MM-DD HH:MM:SS`.
    pub measured_at: String,
    /// One result per canary (none with `--canaries none`).
    pub canaries: Vec<CanaryResult>,
    /// What the run's other traffic showed in the window of the failed target: an answer from
    /// the control or from another target proves the path beyond the vantage point carried
    /// data, whatever the canaries say. `None` in records made before it was kept.
    pub run: Option<RunEvidence>,
}

/// What the traffic of one run showed between a failed target's start and its check: the
/// evidence besides the canaries that something beyond the vantage point answered, or not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunEvidence {
    /// Seconds the window covers.
    pub window_s: f64,
    /// Answers from the control to the run's other targets in the window (any answer proves
    /// the path to the control carries data).
    pub control_answered: usize,
    /// Requests to the control that failed in the window.
    pub control_failed: usize,
    /// Other targets of the run that got data from beyond the vantage point in the window (a
    /// finished TLS handshake or an HTTP response).
    pub targets_answered: usize,
    /// Other targets that ended in the window without any such data.
    pub targets_failed: usize,
}

/// The check of the resolver the probe was configured with (`--resolver` or the system's),
/// made when a target's DNS step failed: a resolver that answers nothing at all — dead,
/// mistyped, stopped — makes every name fail, which says nothing about blocking. Its address
/// is not recorded (it is often the user's own router).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResolverCheck {
    /// UTC time the check started, `YYYY-MM-DD HH:MM:SS`.
    pub measured_at: String,
    /// What was asked: a question every working resolver answers (the root's name servers).
    pub question: String,
    /// A response came back that a working resolver gives (`NOERROR` or `NXDOMAIN`).
    pub answered: bool,
    /// The response code, when a response came back (`REFUSED`, `SERVFAIL` ...).
    pub rcode: Option<String>,
    /// Why no response came back, when none did.
    pub failure: Option<Failure>,
}
