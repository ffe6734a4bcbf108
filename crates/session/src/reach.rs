//! Reachability checks for a run: made only when a target fails, shared by the targets that
//! fail together, so a shutdown costs one check per few seconds rather than one per target.
//! Each check also carries what the run's other targets saw in the failed target's window (did
//! the control answer them, did they get data): the evidence besides the canaries.

use interfero_model::{Reachability, ResolverCheck, TestKeys};
use interfero_probe::ProbeConfig;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// Outcomes of the run's targets kept for the windows of later checks (the oldest go first).
const SEEN_MAX: usize = 4096;

/// What one finished target showed about the path.
#[derive(Debug, Clone)]
struct Seen {
    ended: Instant,
    url: String,
    /// The control answered (`Some(true)`), failed, or was not asked.
    control: Option<bool>,
    /// Data came back from beyond the vantage point.
    answered: bool,
}

/// Makes and shares reachability checks over the canaries of one probe configuration.
#[derive(Debug)]
pub struct Monitor {
    probe: Arc<ProbeConfig>,
    last: Mutex<Option<(Instant, Arc<Reachability>)>>,
    checks: std::sync::atomic::AtomicUsize,
    resolver: Mutex<Option<(Instant, Arc<ResolverCheck>)>>,
    seen: std::sync::Mutex<VecDeque<Seen>>,
}

impl Monitor {
    /// A monitor over `probe`'s canaries (none: it never checks).
    pub fn new(probe: Arc<ProbeConfig>) -> Monitor {
        Monitor {
            probe,
            last: Mutex::new(None),
            checks: Default::default(),
            resolver: Mutex::new(None),
            seen: Default::default(),
        }
    }

    /// Whether the probe has canaries to try.
    pub fn has_canaries(&self) -> bool {
        !self.probe.canaries.is_empty()
    }

    /// Records what a finished target of the run showed about the path (before its own
    /// check, so that targets failing together see each other).
    pub fn observe(&self, url: &str, tk: &TestKeys) {
        let own = interfero_analysis::reach::Own::of(tk);
        let seen = Seen {
            ended: Instant::now(),
            url: url.to_string(),
            control: own.control,
            answered: interfero_analysis::reach::got_data(tk),
        };
        if let Ok(mut q) = self.seen.lock() {
            if q.len() >= SEEN_MAX {
                q.pop_front();
            }
            q.push_back(seen);
        }
    }

    /// What the run's other targets showed between `since` and now.
    fn run_evidence(&self, since: Instant, url: &str) -> interfero_model::RunEvidence {
        let others: Vec<(Option<bool>, bool)> = self.seen.lock().map_or_else(
            |_| Vec::new(),
            |q| {
                q.iter()
                    .filter(|s| s.ended >= since && s.url != url)
                    .map(|s| (s.control, s.answered))
                    .collect()
            },
        );
        interfero_analysis::reach::run_evidence(since.elapsed().as_secs_f64(), others)
    }

    /// A check for target `url` that started no earlier than `since` (the failed target's
    /// start), so that it covers the time the target failed in, with what the run's other
    /// targets showed in that window (with no canaries, that evidence alone). Concurrent
    /// callers wait for the canary check in progress and share it when it is recent enough.
    pub async fn check_since(&self, since: Instant, url: &str) -> Reachability {
        let mut r = if self.probe.canaries.is_empty() {
            Reachability {
                measured_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
                ..Reachability::default()
            }
        } else {
            let mut last = self.last.lock().await;
            let shared = last
                .as_ref()
                .filter(|(started, _)| *started >= since)
                .map(|(_, r)| (**r).clone());
            match shared {
                Some(r) => r,
                None => {
                    let started = Instant::now();
                    let r = Arc::new(
                        interfero_probe::reach::check(&self.probe, &self.probe.canaries).await,
                    );
                    self.checks
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    *last = Some((started, r.clone()));
                    (*r).clone()
                }
            }
        };
        r.run = Some(self.run_evidence(since, url));
        r
    }

    /// A check of the configured resolver that started no earlier than `since`, shared like
    /// [`Monitor::check_since`] (a dead resolver fails every target at once: one check).
    pub async fn resolver_since(&self, since: Instant) -> Arc<ResolverCheck> {
        let mut last = self.resolver.lock().await;
        if let Some((started, r)) = last.as_ref() {
            if *started >= since {
                return r.clone();
            }
        }
        let started = Instant::now();
        let r = Arc::new(interfero_probe::reach::check_resolver(&self.probe).await);
        *last = Some((started, r.clone()));
        r
    }

    /// How many checks were made.
    pub fn checks(&self) -> usize {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}
