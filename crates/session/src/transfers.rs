//! The run's timed transfers by address: when a target's innocuous-name leg gives nothing to
//! compare its rate with (refused, or a small error page, as CDNs answer names they do not
//! serve), another target's transfer from this vantage point to the same address is the next
//! best evidence on the same path. Both the paired transfers of slow targets and the ordinary
//! fetches of every other target count: a page of another name that came fast from the same
//! address is exactly the comparison wanted, and such pages are never timed separately. Kept
//! bounded; only transfers that moved enough to be compared are kept.

use interfero_analysis::throttle::{round_trip_transfer, MIN_PAIRED_BYTES};
use interfero_model::measurement::{HttpRoundTrip, TestKeys, Throughput};
use std::collections::VecDeque;
use std::sync::Mutex;

/// The most transfers kept for the run (the oldest go first).
pub const KEPT_MAX: usize = 4096;

/// The most transfers handed to one target.
pub const GIVEN_MAX: usize = 4;

/// The run's comparable transfers, oldest first.
#[derive(Debug, Default)]
pub struct Transfers {
    kept: Mutex<VecDeque<Throughput>>,
}

impl Transfers {
    /// Keeps a finished target's comparable transfers (either leg, any name).
    pub fn observe(&self, tk: &TestKeys) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        // The samples are not needed for a rate: keep the records small.
        let legs = tk
            .x_throughput
            .iter()
            .filter(|t| t.bytes >= MIN_PAIRED_BYTES && t.seconds > 0.0)
            .map(|t| Throughput {
                samples: Vec::new(),
                ..t.clone()
            });
        for t in legs.chain(tk.requests.iter().filter_map(fetched)) {
            if kept.len() >= KEPT_MAX {
                kept.pop_front();
            }
            kept.push_back(t);
        }
    }

    /// The fastest transfers kept to `target`'s address under other names than its own.
    pub fn same_address(&self, target: &Throughput) -> Vec<Throughput> {
        let Ok(kept) = self.kept.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Throughput> = kept
            .iter()
            .filter(|t| t.address == target.address && t.server_name != target.server_name)
            .cloned()
            .collect();
        out.sort_by(|a, b| b.kbps().total_cmp(&a.kbps()));
        out.truncate(GIVEN_MAX);
        out
    }
}

/// A fetch that completed with a page large enough to compare, as a transfer (role `fetch`).
fn fetched(rt: &HttpRoundTrip) -> Option<Throughput> {
    round_trip_transfer(rt).filter(|t| t.failure.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(address: &str, name: &str, bytes: u64, seconds: f64) -> Throughput {
        Throughput {
            address: address.into(),
            server_name: name.into(),
            role: "target".into(),
            bytes,
            seconds,
            samples: vec![1, 2, 3],
            interval: 0.25,
            failure: None,
        }
    }

    #[test]
    fn only_other_names_at_the_same_address_that_moved_enough_fastest_first() {
        let runs = Transfers::default();
        let keys = |ts: Vec<Throughput>| TestKeys {
            x_throughput: ts,
            ..Default::default()
        };
        let at = "198.18.0.10:443";
        runs.observe(&keys(vec![
            t(at, "a.test", 1_000_000, 2.0),
            t(at, "b.test", 1_000_000, 1.0),
            t(at, "tiny.test", 1_000, 0.1),
            t("198.18.0.11:443", "c.test", 1_000_000, 0.5),
            t(at, "slow.test", 100_000, 0.0),
        ]));
        let target = t(at, "slow.test", 200_000, 10.0);
        let got = runs.same_address(&target);
        let names: Vec<&str> = got.iter().map(|t| t.server_name.as_str()).collect();
        assert_eq!(names, ["b.test", "a.test"]);
        assert!(got.iter().all(|t| t.samples.is_empty()));
    }

    fn fetch(address: &str, url: &str, code: u16, bytes: u64, t0: f64, t: f64) -> HttpRoundTrip {
        let mut rt = HttpRoundTrip {
            address: Some(address.into()),
            t0,
            t,
            ..Default::default()
        };
        rt.request.url = url.into();
        rt.response.code = code;
        rt.response.x_body_length = Some(bytes);
        rt
    }

    #[test]
    fn completed_pages_of_other_names_count_as_transfers_to_their_address() {
        let runs = Transfers::default();
        let at = "198.18.0.10:8443";
        let mut failed = fetch(at, "https://failed.test:8443/", 200, 400_000, 0.1, 2.0);
        failed.failure = Some(interfero_model::Failure::Timeout);
        runs.observe(&TestKeys {
            requests: vec![
                fetch(at, "https://Fast.test:8443/", 200, 500_000, 0.1, 0.2),
                fetch(at, "https://small.test:8443/", 200, 2_000, 0.1, 0.2),
                fetch(at, "https://missing.test:8443/", 404, 500_000, 0.1, 0.2),
                fetch(at, "https://instant.test:8443/", 200, 500_000, 0.1, 0.1),
                failed,
            ],
            ..Default::default()
        });
        let got = runs.same_address(&t(at, "slow.test", 200_000, 10.0));
        assert_eq!(got.len(), 1, "{got:?}");
        let fast = &got[0];
        assert_eq!(
            (fast.server_name.as_str(), fast.role.as_str(), fast.bytes),
            ("fast.test", "fetch", 500_000)
        );
        assert!((fast.seconds - 0.1).abs() < 1e-9);
        // Its own fetches are not a comparison for a name.
        assert!(runs.same_address(&t(at, "fast.test", 1, 1.0)).is_empty());
    }

    #[test]
    fn bounded() {
        let runs = Transfers::default();
        for i in 0..KEPT_MAX + 10 {
            let name = format!("s{i}.test");
            runs.observe(&TestKeys {
                x_throughput: vec![t("198.18.0.10:443", &name, 100_000, 1.0)],
                ..Default::default()
            });
        }
        assert_eq!(runs.kept.lock().unwrap().len(), KEPT_MAX);
    }
}
