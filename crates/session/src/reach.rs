//! Reachability checks for a run: made only when a target fails, shared by the targets that
//! fail together, so a shutdown costs one check per few seconds rather than one per target.

use interfero_model::{Reachability, ResolverCheck};
use interfero_probe::ProbeConfig;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

/// Makes and shares reachability checks over the canaries of one probe configuration.
#[derive(Debug)]
pub struct Monitor {
    probe: Arc<ProbeConfig>,
    last: Mutex<Option<(Instant, Arc<Reachability>)>>,
    checks: std::sync::atomic::AtomicUsize,
    resolver: Mutex<Option<(Instant, Arc<ResolverCheck>)>>,
}

impl Monitor {
    /// A monitor over `probe`'s canaries (none: it never checks).
    pub fn new(probe: Arc<ProbeConfig>) -> Monitor {
        Monitor {
            probe,
            last: Mutex::new(None),
            checks: Default::default(),
            resolver: Mutex::new(None),
        }
    }

    /// A check that started no earlier than `since` (the failed target's start), so that it
    /// covers the time the target failed in; `None` when there are no canaries. Concurrent
    /// callers wait for the check in progress and share it when it is recent enough.
    pub async fn check_since(&self, since: Instant) -> Option<Arc<Reachability>> {
        if self.probe.canaries.is_empty() {
            return None;
        }
        let mut last = self.last.lock().await;
        if let Some((started, r)) = last.as_ref() {
            if *started >= since {
                return Some(r.clone());
            }
        }
        let started = Instant::now();
        let r = Arc::new(interfero_probe::reach::check(&self.probe, &self.probe.canaries).await);
        self.checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *last = Some((started, r.clone()));
        Some(r)
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
