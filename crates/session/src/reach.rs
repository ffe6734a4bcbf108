//! Reachability checks for a run: made only when a target fails, shared by the targets that
//! fail together, so a shutdown costs one check per few seconds rather than one per target.
//! Each check also carries what the run's other targets saw in the failed target's window (did
//! the control answer them, did they get data): the evidence besides the canaries.

use interfero_model::{
    Family, FamilyCheck, FamilyConnect, FamilyTally, Reachability, ResolverCheck, TestKeys,
};
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
    /// Connects that completed and that failed on the network, per family (IPv4, IPv6).
    families: [(usize, usize); 2],
}

fn slot(f: Family) -> usize {
    match f {
        Family::Ipv4 => 0,
        Family::Ipv6 => 1,
    }
}

/// A target's connects per family: (completed, failed on the network).
pub(crate) fn family_counts(tk: &TestKeys) -> [(usize, usize); 2] {
    let mut out = [(0, 0); 2];
    for c in &tk.tcp_connect {
        let Ok(ip) = c.ip.parse::<std::net::IpAddr>() else {
            continue;
        };
        let Some(e) = out.get_mut(slot(Family::of(ip))) else {
            continue;
        };
        if c.status.success {
            e.0 += 1;
        } else if !c
            .status
            .failure
            .as_ref()
            .is_some_and(interfero_model::Failure::is_probe_local)
        {
            e.1 += 1;
        }
    }
    out
}

/// The family of which a target's every connect failed on the network, if one did.
pub fn failed_family(tk: &TestKeys) -> Option<Family> {
    let counts = family_counts(tk);
    [Family::Ipv6, Family::Ipv4].into_iter().find(|f| {
        counts
            .get(slot(*f))
            .is_some_and(|(ok, failed)| *ok == 0 && *failed > 0)
    })
}

/// Makes and shares reachability checks over the canaries of one probe configuration.
#[derive(Debug)]
pub struct Monitor {
    probe: Arc<ProbeConfig>,
    last: Mutex<Option<(Instant, Arc<Reachability>)>>,
    checks: std::sync::atomic::AtomicUsize,
    resolver: Mutex<Option<(Instant, Arc<ResolverCheck>)>>,
    family: Mutex<Vec<(Instant, Family, Vec<FamilyConnect>)>>,
    seen: std::sync::Mutex<VecDeque<Seen>>,
    /// The run's timed transfers, for targets whose pair gave nothing to compare with.
    pub transfers: crate::transfers::Transfers,
}

impl Monitor {
    /// A monitor over `probe`'s canaries (none: it never checks).
    pub fn new(probe: Arc<ProbeConfig>) -> Monitor {
        Monitor {
            probe,
            last: Mutex::new(None),
            checks: Default::default(),
            resolver: Mutex::new(None),
            family: Mutex::new(Vec::new()),
            seen: Default::default(),
            transfers: Default::default(),
        }
    }

    /// Whether the probe has canaries to try.
    pub fn has_canaries(&self) -> bool {
        !self.probe.canaries.is_empty()
    }

    /// Records what a finished target of the run showed about the path (before its own
    /// check, so that targets failing together see each other).
    pub fn observe(&self, url: &str, tk: &TestKeys) {
        self.transfers.observe(tk);
        let own = interfero_analysis::reach::Own::of(tk);
        let seen = Seen {
            ended: Instant::now(),
            url: url.to_string(),
            control: own.control,
            answered: interfero_analysis::reach::got_data(tk),
            families: family_counts(tk),
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

    /// A check of `family` at the vantage point for target `url`: TCP to the family's canaries
    /// (shared like [`Monitor::check_since`]: made no earlier than `since`), and what every
    /// other target of the run so far showed in that family and the other.
    pub async fn family_since(&self, since: Instant, url: &str, family: Family) -> FamilyCheck {
        let canaries = {
            let mut last = self.family.lock().await;
            let shared = last
                .iter()
                .find(|(started, f, _)| *f == family && *started >= since)
                .map(|(_, _, c)| c.clone());
            match shared {
                Some(c) => c,
                None => {
                    let started = Instant::now();
                    let c = interfero_probe::reach::check_family(&self.probe, family).await;
                    last.retain(|(_, f, _)| *f != family);
                    last.push((started, family, c.clone()));
                    c
                }
            }
        };
        let mut run = FamilyTally::default();
        if let Ok(q) = self.seen.lock() {
            for s in q.iter().filter(|s| s.url != url) {
                let (ok, failed) = s.families.get(slot(family)).copied().unwrap_or_default();
                let (other, _) = s
                    .families
                    .get(slot(family.other()))
                    .copied()
                    .unwrap_or_default();
                run.connected += ok;
                run.failed += failed;
                run.other_connected += other;
                run.targets += 1;
            }
        }
        FamilyCheck {
            measured_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            family,
            canaries,
            run,
        }
    }

    /// How many checks were made.
    pub fn checks(&self) -> usize {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_model::measurement::{TcpConnect, TcpStatus};
    use interfero_model::Failure;

    fn c(ip: &str, failure: Option<Failure>) -> TcpConnect {
        TcpConnect {
            ip: ip.into(),
            port: 443,
            status: TcpStatus {
                success: failure.is_none(),
                failure,
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_family_is_checked_only_when_every_connect_of_it_failed_on_the_network() {
        let mut tk = TestKeys {
            tcp_connect: vec![
                c("198.18.0.10", None),
                c("2001:2::10", Some(Failure::Timeout)),
            ],
            ..Default::default()
        };
        assert_eq!(failed_family(&tk), Some(Family::Ipv6));
        tk.tcp_connect.push(c("2001:2::11", None));
        assert_eq!(failed_family(&tk), None);
        // A connect the probe refused on its own is no observation of the network.
        tk.tcp_connect = vec![
            c("198.18.0.10", None),
            c("2001:2::10", Some(Failure::DestinationRefused)),
        ];
        assert_eq!(failed_family(&tk), None);
        tk.tcp_connect = vec![c("198.18.0.10", Some(Failure::Timeout))];
        assert_eq!(failed_family(&tk), Some(Family::Ipv4));
        assert_eq!(family_counts(&tk), [(0, 1), (0, 0)]);
    }
}
