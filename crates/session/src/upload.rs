//! The upload queue's driver: measurements queued in the probe's database
//! ([`interfero_store::Outbox`]) go to the collector in the background, with backoff while it
//! cannot be reached; what was queued survives a restart, and each row is marked sent only
//! once the collector acknowledged it (a crash in between sends it again, and the collector,
//! which recognises the same observations, answers with the same uid: nothing is stored
//! twice).

use interfero_model::Measurement;
use interfero_probe::{CollectorClient, UploadError};
use interfero_store::{Outbox, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The longest wait between two tries of one measurement.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Rows read from the queue at a time.
const BATCH: usize = 64;

/// What one pass over the queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Acknowledged by the collector.
    pub sent: usize,
    /// Tried and failed (to be tried again later).
    pub failed: usize,
}

/// Sends a probe's queue to one collector.
pub struct Uploader {
    /// The queue (in the probe's database).
    pub outbox: Arc<Outbox>,
    /// The collector.
    pub client: CollectorClient,
    /// Woken when something is queued.
    pub wake: Arc<Notify>,
    /// Open reports, by (test name, country, network).
    reports: HashMap<(String, String, String), String>,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// 1 s after the first failure, doubling up to [`MAX_BACKOFF`].
pub fn backoff(attempts: u32) -> Duration {
    let secs = 1u64.checked_shl(attempts.min(20)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

impl Uploader {
    /// An uploader of `outbox` to `client`.
    pub fn new(outbox: Arc<Outbox>, client: CollectorClient) -> Uploader {
        Uploader {
            outbox,
            client,
            wake: Arc::new(Notify::new()),
            reports: HashMap::new(),
        }
    }

    /// The key the queue files rows under: the collector's URL.
    pub fn collector(&self) -> &str {
        &self.client.base_url
    }

    /// Queues `m` for this collector and wakes the uploader.
    pub fn enqueue(&self, m: &Measurement) -> Result<bool, StoreError> {
        let new = self.outbox.enqueue(self.collector(), m, &now_text())?;
        self.wake.notify_one();
        Ok(new)
    }

    async fn report_for(&mut self, m: &Measurement) -> Result<String, UploadError> {
        let key = (m.test_name.clone(), m.probe_cc.clone(), m.probe_asn.clone());
        if let Some(id) = self.reports.get(&key) {
            return Ok(id.clone());
        }
        let id = self
            .client
            .open_report(&key.0, &key.1, &key.2, &m.software_version)
            .await?;
        self.reports.insert(key, id.clone());
        Ok(id)
    }

    /// Sends every row due now; stops at the first failure the network may explain (the
    /// others wait for the next pass rather than each timing out in turn).
    pub async fn pass(&mut self) -> Result<Pass, StoreError> {
        let mut done = Pass::default();
        loop {
            let due = self.outbox.due(self.collector(), now_secs(), BATCH)?;
            if due.is_empty() {
                return Ok(done);
            }
            for p in due {
                let m: Measurement = match serde_json::from_str(&p.json) {
                    Ok(m) => m,
                    Err(e) => {
                        let next = now_secs() + MAX_BACKOFF.as_secs() as i64;
                        self.outbox
                            .mark_failed(p.id, &format!("unreadable: {e}"), next)?;
                        done.failed += 1;
                        continue;
                    }
                };
                let result = match self.report_for(&m).await {
                    Ok(report) => match self.client.submit(&report, &p.json).await {
                        // The collector restarted with another key, or closed the report:
                        // open a new one next time.
                        Err(UploadError::Status { status: 404, .. }) => {
                            self.reports.clear();
                            Err(UploadError::Unreachable("report no longer open".into()))
                        }
                        other => other,
                    },
                    Err(e) => Err(e),
                };
                match result {
                    Ok(uid) => {
                        self.outbox.mark_sent(p.id, &uid, &now_text())?;
                        done.sent += 1;
                    }
                    Err(e) => {
                        let wait = if e.is_transient() {
                            backoff(p.attempts)
                        } else {
                            MAX_BACKOFF
                        };
                        let next = now_secs() + wait.as_secs() as i64;
                        self.outbox.mark_failed(p.id, &e.to_string(), next)?;
                        done.failed += 1;
                        if e.is_transient() {
                            return Ok(done);
                        }
                    }
                }
            }
        }
    }

    /// Uploads until `stop` turns true: a pass whenever something is queued or a retry is
    /// due. After a failure the queue waits for its backoff; after a success following
    /// failures, everything waiting is tried at once (the network is back).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        let mut failing = false;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let p = self.pass().await?;
            if p.sent > 0 && failing {
                self.outbox.retry_now(self.collector())?;
                failing = false;
                continue;
            }
            failing |= p.failed > 0;
            let wait = match self.outbox.next_try(self.collector())? {
                Some(t) => Duration::from_secs(u64::try_from(t - now_secs()).unwrap_or(0).max(1)),
                None => MAX_BACKOFF,
            };
            let wake = self.wake.clone();
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sends what is queued, trying until the queue is empty or `within` has passed; returns
    /// how many were sent.
    pub async fn drain(&mut self, within: Duration) -> Result<usize, StoreError> {
        let deadline = tokio::time::Instant::now() + within;
        let mut sent = 0;
        loop {
            let p = self.pass().await?;
            sent += p.sent;
            if p.sent > 0 && p.failed > 0 {
                self.outbox.retry_now(self.collector())?;
            }
            if self.outbox.counts(self.collector())?.waiting == 0 {
                return Ok(sent);
            }
            let next = self.outbox.next_try(self.collector())?.unwrap_or(0);
            let wait = Duration::from_secs(u64::try_from(next - now_secs()).unwrap_or(0).max(1));
            let now = tokio::time::Instant::now();
            if now + wait > deadline {
                return Ok(sent);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
