//! Adaptive deadlines. The control is asked while the probe's own steps run; once it has shown
//! that the site answers (its TLS handshake, its page), a probe-side step that has stalled need
//! not wait the full timeout: it is decided after `max(floor, multiplier × t)`, `t` being the
//! time the control took to answer (an upper bound on its own handshake or fetch). Without a
//! control, or when the control failed at that step too, the full timeout applies.

use interfero_model::ControlResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

/// How far the control's answer shortens a stalled step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adaptive {
    /// Multiple of the control's answer time the probe still waits.
    pub multiplier: u32,
    /// Never decide before this (the probe's path may be slower than the control's).
    pub floor: Duration,
}

/// The longest a lost segment of a TLS handshake delays it on a lossy path: a retransmission
/// after the 1 s initial timeout, a second one after the doubled 2 s, and the round trips of a
/// slow mobile link (about 1 s of them) — a cut sooner would call packet loss a stall.
pub const LOSSY_HANDSHAKE: Duration = Duration::from_secs(4);

impl Default for Adaptive {
    /// 3 × the control's time, at least [`LOSSY_HANDSHAKE`].
    fn default() -> Self {
        Adaptive {
            multiplier: 3,
            floor: LOSSY_HANDSHAKE,
        }
    }
}

impl Adaptive {
    /// How long after its start a stalled step is decided, given the control's answer time.
    pub fn wait(&self, control: Duration) -> Duration {
        self.floor.max(control * self.multiplier)
    }
}

/// What the control's answer tells the steps still waiting.
#[derive(Debug, Clone, Default)]
pub struct Hint {
    /// How long the control took to answer.
    pub elapsed: Duration,
    /// Endpoints (`IP:PORT`) where the control's TLS handshake validated.
    pub tls_ok: Vec<String>,
    /// Whether the control fetched the page (a status code and no failure).
    pub http_ok: bool,
}

impl Hint {
    /// The hint of a control answer that took `elapsed`.
    pub fn from_answer(r: &ControlResponse, elapsed: Duration) -> Hint {
        Hint {
            elapsed,
            tls_ok: r
                .tls_handshake
                .iter()
                .filter(|(_, t)| t.status)
                .map(|(a, _)| a.clone())
                .collect(),
            http_ok: r.http_request.failure.is_none() && r.http_request.status_code > 0,
        }
    }
}

/// Sends the control's hint to the steps of one measurement.
pub type HintSender = watch::Sender<Option<Arc<Hint>>>;

/// A step's view of the control's hint: resolves when the step may be called stalled.
#[derive(Debug, Clone)]
pub struct Cut {
    rx: Option<watch::Receiver<Option<Arc<Hint>>>>,
    adaptive: Option<Adaptive>,
}

impl Cut {
    /// Never cuts: the full timeouts apply (the control's own measurement, tests).
    pub fn never() -> Cut {
        Cut {
            rx: None,
            adaptive: None,
        }
    }

    /// A sender for the control's hint, and the cut the steps wait on.
    pub fn channel(adaptive: Option<Adaptive>) -> (HintSender, Cut) {
        let (tx, rx) = watch::channel(None);
        (
            tx,
            Cut {
                rx: Some(rx),
                adaptive,
            },
        )
    }

    /// Resolves when a TLS handshake with `endpoint`, started at `started`, may be called
    /// stalled: the control handshaked there (or, when it did not try that endpoint, anywhere).
    pub async fn tls(&self, endpoint: &str, started: Instant) {
        self.wait(started, |h| {
            h.tls_ok.iter().any(|a| a == endpoint) || !h.tls_ok.is_empty()
        })
        .await
    }

    /// Resolves when the wait for a response head, started at `started`, may be cut: the
    /// control fetched the page.
    pub async fn http(&self, started: Instant) {
        self.wait(started, |h| h.http_ok).await
    }

    async fn wait(&self, started: Instant, applies: impl Fn(&Hint) -> bool) {
        let (Some(mut rx), Some(a)) = (self.rx.clone(), self.adaptive) else {
            return std::future::pending().await;
        };
        loop {
            let hint = rx.borrow_and_update().clone();
            if let Some(h) = hint {
                if !applies(&h) {
                    return std::future::pending().await;
                }
                return sleep_until(started + a.wait(h.elapsed)).await;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}
