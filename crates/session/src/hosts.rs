//! The per-host limit of a run: at most `per_host` measurements of one host at once. A target
//! whose host is busy is set aside and the next one started, so a list with many URLs of one
//! site neither hammers it nor holds the run's other slots idle.

use interfero_model::Target;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Targets set aside at most (beyond, the feeder waits for a host to free).
const MAX_SET_ASIDE: usize = 4096;

/// Measurements in flight per host.
#[derive(Debug)]
pub struct HostLimits {
    per_host: usize,
    busy: Mutex<HashMap<String, usize>>,
    freed: Notify,
}

/// One measurement's hold on its host; released on drop.
#[derive(Debug)]
pub struct HostPermit {
    limits: Arc<HostLimits>,
    host: String,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.limits.busy.lock() {
            if let Some(n) = busy.get_mut(&self.host) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    busy.remove(&self.host);
                }
            }
        }
        self.limits.freed.notify_waiters();
    }
}

/// The host a target's measurements count against (its URL's host, lowercased).
pub fn host_of(t: &Target) -> String {
    url::Url::parse(&t.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| t.url.clone())
}

impl HostLimits {
    /// Limits of `per_host` (at least 1).
    pub fn new(per_host: usize) -> Arc<HostLimits> {
        Arc::new(HostLimits {
            per_host: per_host.max(1),
            busy: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        })
    }

    /// Measurements of `host` in flight.
    pub fn in_flight(&self, host: &str) -> usize {
        self.busy
            .lock()
            .map_or(0, |b| b.get(host).copied().unwrap_or(0))
    }

    fn try_take(self: &Arc<Self>, host: &str) -> Option<HostPermit> {
        let mut busy = self.busy.lock().ok()?;
        let n = busy.entry(host.to_string()).or_insert(0);
        if *n >= self.per_host {
            return None;
        }
        *n += 1;
        Some(HostPermit {
            limits: self.clone(),
            host: host.to_string(),
        })
    }
}

/// The run's targets in list order, minus those set aside while their host is busy.
pub struct Queue {
    next: VecDeque<Target>,
    aside: VecDeque<Target>,
    limits: Arc<HostLimits>,
}

impl Queue {
    /// A queue over `targets`.
    pub fn new(targets: Vec<Target>, limits: Arc<HostLimits>) -> Queue {
        Queue {
            next: targets.into(),
            aside: VecDeque::new(),
            limits,
        }
    }

    /// Targets not started yet.
    pub fn len(&self) -> usize {
        self.next.len() + self.aside.len()
    }

    /// Whether every target was started.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next target whose host has room, with its permit: targets set aside first (list
    /// order is kept as far as the limit allows). Waits while every remaining host is busy.
    pub async fn next(&mut self) -> Option<(Target, HostPermit)> {
        loop {
            if self.is_empty() {
                return None;
            }
            if let Some(found) = self.pick() {
                return Some(found);
            }
            // Bounded wait: a release between `pick` and here is caught by the next round.
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(50),
                self.limits.freed.notified(),
            )
            .await;
        }
    }

    fn pick(&mut self) -> Option<(Target, HostPermit)> {
        for i in 0..self.aside.len() {
            let host = self.aside.get(i).map(host_of)?;
            if let Some(p) = self.limits.try_take(&host) {
                return self.aside.remove(i).map(|t| (t, p));
            }
        }
        while self.aside.len() < MAX_SET_ASIDE {
            let t = self.next.pop_front()?;
            let host = host_of(&t);
            match self.limits.try_take(&host) {
                Some(p) => return Some((t, p)),
                None => self.aside.push_back(t),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        Target {
            url: url.into(),
            category_code: None,
        }
    }

    #[tokio::test]
    async fn busy_hosts_are_set_aside_not_waited_for() {
        let limits = HostLimits::new(1);
        let mut q = Queue::new(
            vec![
                t("https://a.test/1"),
                t("https://a.test/2"),
                t("https://b.test/"),
            ],
            limits.clone(),
        );
        let (first, p1) = q.next().await.unwrap();
        assert_eq!(first.url, "https://a.test/1");
        // a.test is busy: b.test goes next, a.test/2 waits aside.
        let (second, _p2) = q.next().await.unwrap();
        assert_eq!(second.url, "https://b.test/");
        assert_eq!(limits.in_flight("a.test"), 1);
        drop(p1);
        let (third, _p3) = q.next().await.unwrap();
        assert_eq!(third.url, "https://a.test/2");
        assert!(q.next().await.is_none());
    }
}
