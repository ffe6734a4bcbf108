//! Durable acknowledgements with group commit.
//!
//! One writer thread owns the inserts. It takes the first submission waiting, then every other
//! one already waiting (up to [`MAX_BATCH`]), stores them all in one transaction
//! ([`MeasurementStore::insert_many`]) and only then answers each. With SQLite opened
//! [`interfero_store::Durability::PowerLoss`] (WAL, `synchronous = FULL`), a commit returns
//! after the WAL is fsynced, so an answer means the measurement is on the disk; a transaction
//! cut short by a crash has no commit frame in the WAL and is ignored when the file is opened
//! again, so nothing is ever half-written. Batching is what makes this cheap: while one
//! batch's fsync runs, the next submissions queue up and share the next fsync, so the fsync
//! rate stays at what the disk does while the measurement rate grows with the load. No timer
//! holds a batch back: under light load each submission commits alone, at once.

use interfero_store::{Encoded, MeasurementStore, RunId, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most submissions one transaction carries.
pub const MAX_BATCH: usize = 2048;

/// Submissions waiting for the writer before new ones wait for room (back-pressure).
pub const QUEUE: usize = 16 * 1024;

/// Why a submission was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The store refused it.
    #[error("not stored: {0}")]
    Store(String),
    /// The writer has stopped (the server is shutting down).
    #[error("not stored: the collector is shutting down")]
    Stopped,
}

type Reply = oneshot::Sender<Result<(), IngestError>>;

/// Counters of the writer (for figures and tests).
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Measurements committed (duplicates included: they are answered too).
    pub committed: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
}

/// The handle submissions go through; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<(Encoded, Reply)>,
    stats: Arc<IngestStats>,
}

impl Ingest {
    /// Starts the writer thread storing into `store` under `run`. It stops when every handle
    /// is dropped, after committing what was queued.
    pub fn start(store: Arc<dyn MeasurementStore>, run: RunId) -> std::io::Result<Ingest> {
        Self::start_gated(store, run, None)
    }

    /// [`Ingest::start`] whose writer first waits for `gate` (tests queue submissions up).
    fn start_gated(
        store: Arc<dyn MeasurementStore>,
        run: RunId,
        gate: Option<std::sync::mpsc::Receiver<()>>,
    ) -> std::io::Result<Ingest> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(IngestStats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("collector-writer".into())
            .spawn(move || {
                if let Some(g) = gate {
                    let _ = g.recv();
                }
                writer(store, run, rx, &s)
            })?;
        Ok(Ingest { tx, stats })
    }

    /// Stores `m` durably; returns once it is committed. It comes encoded ([`Encoded`]): the
    /// caller's thread did that work, so that the one writer thread only writes.
    pub async fn store(&self, m: Encoded) -> Result<(), IngestError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((m, reply))
            .await
            .map_err(|_| IngestError::Stopped)?;
        answer.await.map_err(|_| IngestError::Stopped)?
    }

    /// The writer's counters.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }
}

fn writer(
    store: Arc<dyn MeasurementStore>,
    run: RunId,
    mut rx: mpsc::Receiver<(Encoded, Reply)>,
    stats: &IngestStats,
) {
    let mut batch: Vec<Encoded> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    while let Some((m, r)) = rx.blocking_recv() {
        batch.push(m);
        replies.push(r);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((m, r)) => {
                    batch.push(m);
                    replies.push(r);
                }
                Err(_) => break,
            }
        }
        let results = commit(store.as_ref(), run, &batch);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        for (r, res) in replies.drain(..).zip(results) {
            if res.is_ok() {
                stats.committed.fetch_add(1, Ordering::Relaxed);
            }
            // A submitter that went away no longer waits for its answer; it was stored all
            // the same (and a retry gets the same uid).
            let _ = r.send(res);
        }
        batch.clear();
    }
}

/// One transaction for the batch; if it fails, each measurement alone, so that one the store
/// refuses does not take the others down with it.
fn commit(
    store: &dyn MeasurementStore,
    run: RunId,
    batch: &[Encoded],
) -> Vec<Result<(), IngestError>> {
    let err = |e: StoreError| IngestError::Store(e.to_string());
    match store.insert_encoded(run, batch) {
        Ok(_) => batch.iter().map(|_| Ok(())).collect(),
        Err(_) if batch.len() > 1 => batch
            .iter()
            .map(|e| {
                store
                    .insert_encoded(run, std::slice::from_ref(e))
                    .map(|_| ())
                    .map_err(err)
            })
            .collect(),
        Err(e) => vec![Err(err(e))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_store::{synthetic, RunInfo, SqliteStore};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_submissions_share_few_commits_and_all_are_stored() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let run = store.begin_run(&RunInfo::default()).unwrap();
        let (open, gate) = std::sync::mpsc::channel();
        let ingest = Ingest::start_gated(store.clone(), run, Some(gate)).unwrap();
        let mut tasks = Vec::new();
        for i in 0..2000 {
            let ingest = ingest.clone();
            tasks.push(tokio::spawn(async move {
                let m = Encoded::new(synthetic::measurement(i)).unwrap();
                ingest.store(m).await
            }));
        }
        // Every submission waits in the queue before the writer starts.
        while ingest.tx.capacity() > QUEUE - 2000 {
            tokio::task::yield_now().await;
        }
        open.send(()).unwrap();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(store.count().unwrap(), 2000);
        let s = ingest.stats();
        assert_eq!(s.committed.load(Ordering::Relaxed), 2000);
        assert_eq!(
            s.batches.load(Ordering::Relaxed),
            1,
            "submissions waiting together share one transaction"
        );
    }
}
