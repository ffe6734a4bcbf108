//! One DNS cache per run: identical lookups (same resolver, same name) made by several
//! measurements of a run are sent once. Every measurement still records the observation in
//! full — answers, rcode, later replies — copied from the query that was sent and marked
//! `x_from_cache`, with its own `t0`/`t`. A measurement that waits for another's lookup gives up
//! after a bound and asks itself, so an abandoned lookup never stalls anyone.

use super::{lookup_with, Linger, Lookup};
use crate::{Clock, ProbeConfig};
use interfero_model::measurement::DnsQuery;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Entries kept before the oldest half is dropped.
const MAX_ENTRIES: usize = 16_384;
/// An entry older than this is asked again (answers change; a run should see it).
const MAX_AGE: Duration = Duration::from_secs(120);

/// Where the first caller publishes its finished lookup.
pub(crate) type Cell = Arc<watch::Sender<Option<Arc<Vec<DnsQuery>>>>>;

/// The lookups of one run.
#[derive(Debug, Default)]
pub struct DnsCache {
    entries: Mutex<HashMap<(SocketAddr, String), (Instant, Cell)>>,
    sent: std::sync::atomic::AtomicU64,
    shared: std::sync::atomic::AtomicU64,
}

impl DnsCache {
    /// An empty cache.
    pub fn new() -> DnsCache {
        DnsCache::default()
    }

    /// Lookups sent to the resolver, and lookups answered from another measurement's.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.sent.load(Relaxed), self.shared.load(Relaxed))
    }

    /// The cell for `key`, and whether this caller is the one to fill it.
    fn cell(&self, key: (SocketAddr, String)) -> (Cell, bool) {
        let Ok(mut map) = self.entries.lock() else {
            return (Arc::new(watch::Sender::new(None)), true);
        };
        let now = Instant::now();
        if let Some((born, cell)) = map.get(&key) {
            if now.duration_since(*born) < MAX_AGE {
                return (cell.clone(), false);
            }
        }
        if map.len() >= MAX_ENTRIES {
            let cutoff = now.checked_sub(MAX_AGE / 2).unwrap_or(now);
            map.retain(|_, (born, _)| *born > cutoff);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let cell: Cell = Arc::new(watch::Sender::new(None));
        map.insert(key, (now, cell.clone()));
        (cell, true)
    }

    /// Resolves `host` through the cache: the first caller asks (lingering as `linger` says)
    /// and fills the entry when its lookup is finished; the others wait for it and copy it.
    pub async fn lookup(
        &self,
        cfg: &ProbeConfig,
        host: &str,
        clock: &Clock,
        linger: Linger,
    ) -> Lookup {
        let Ok(resolver) = cfg.resolver.addr() else {
            return lookup_with(cfg, host, clock, linger).await;
        };
        let key = (resolver, host.trim_end_matches('.').to_ascii_lowercase());
        let (cell, first) = self.cell(key);
        use std::sync::atomic::Ordering::Relaxed;
        if first {
            self.sent.fetch_add(1, Relaxed);
            let mut l = lookup_with(cfg, host, clock, linger).await;
            l.fill = Some(cell);
            return l;
        }
        let t0 = clock.now();
        // The first caller needs at most its DNS timeout (twice: UDP then TCP) and the linger.
        let bound = cfg.timeouts.dns * 2 + cfg.timeouts.dns_linger;
        let mut rx = cell.subscribe();
        let got = tokio::time::timeout(bound, rx.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|v| v.clone()));
        match got {
            Some(queries) => {
                self.shared.fetch_add(1, Relaxed);
                Lookup {
                    queries: copy(&queries, t0, clock.now()),
                    pending: Vec::new(),
                    fill: None,
                }
            }
            None => {
                self.sent.fetch_add(1, Relaxed);
                lookup_with(cfg, host, clock, linger).await
            }
        }
    }
}

/// The observations of another measurement's lookup, as this one's: asked at `t0`, answered at
/// `t` (its later replies keep their delay after the first).
fn copy(queries: &[DnsQuery], t0: f64, t: f64) -> Vec<DnsQuery> {
    queries
        .iter()
        .map(|q| {
            let mut c = q.clone();
            let shift = t - q.t;
            for e in &mut c.x_extra_responses {
                e.t += shift;
            }
            c.t0 = t0;
            c.t = t;
            c.x_from_cache = true;
            c
        })
        .collect()
}
