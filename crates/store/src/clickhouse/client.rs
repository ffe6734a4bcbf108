//! The connection the store shares with its background sender: running the async client
//! from synchronous callers, and the batch of measurements waiting to be sent.

use super::daily::{key_of, DailyKey, Deltas};
use super::rows::MeasurementRow;
use super::sql::{Bound, Where};
use super::writer::{Entry, Pending};
use super::Config;
use crate::{RunId, StoreError};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};

/// What the store shares with its background flusher.
pub(crate) struct Inner {
    pub(crate) client: clickhouse::Client,
    handle: tokio::runtime::Handle,
    pub(crate) server: String,
    pub(crate) batch: super::Batch,
    /// Every write is sent before it returns ([`Config::sync`]).
    pub(crate) sync: bool,
    /// Whether tables are sharded (`Distributed`): the parts of the shards are not visible
    /// from the entry node, so every read deduplicates (`FINAL`).
    pub(crate) cluster: bool,
    pub(crate) pending: Mutex<Pending>,
    /// Changes to `daily_counts` of measurements already stored, not written yet (their
    /// INSERT failed; sent before anything else).
    deltas_left: Mutex<Deltas>,
    /// Held while a batch is sent, so a reader that flushes waits for a batch in flight.
    pub(crate) sending: Mutex<()>,
    /// Held while a batch of incident records is checked and written (one writer of the
    /// register per process; see `incidents.rs`).
    pub(crate) register: Mutex<()>,
    /// The last write tick (milliseconds, strictly increasing) and the last run/event id.
    tick: AtomicU64,
    pub(crate) last_id: AtomicU64,
    pub(crate) known_runs: Mutex<HashSet<RunId>>,
    /// Tells the background sender that a batch is due (so the writer goes on encoding the
    /// next one while this one is sent).
    pub(crate) kick: Mutex<Option<mpsc::Sender<bool>>>,
    /// Why the last background send failed (reported by the next write).
    failed: Mutex<Option<String>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (plain collections), so a poisoned
    // lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The next value of a strictly increasing counter that follows `now`.
pub(crate) fn next_after(counter: &AtomicU64, now: u64) -> u64 {
    let mut last = counter.load(Ordering::SeqCst);
    loop {
        let next = now.max(last + 1);
        match counter.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

impl Inner {
    /// Runs `f` on the store's runtime and waits for it (from any thread, in or out of
    /// another runtime).
    pub(crate) fn call<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, clickhouse::error::Error>> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        let result = rx.recv().map_err(|_| {
            clickhouse::error::Error::Custom("the store's runtime stopped".to_string())
        });
        result
            .and_then(|r| r)
            .map_err(|source| StoreError::ClickHouse {
                server: self.server.clone(),
                what,
                source,
            })
    }

    pub(crate) fn execute(
        &self,
        what: &'static str,
        sql: String,
        w: &Where,
    ) -> Result<(), StoreError> {
        let q = w.bind(self.client.query(&sql));
        self.call(what, async move { q.execute().await })
    }

    pub(crate) fn fetch<T>(
        &self,
        what: &'static str,
        sql: String,
        w: &Where,
    ) -> Result<Vec<T>, StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Send + 'static,
    {
        let q = w.bind(self.client.query(&sql));
        self.call(what, async move { q.fetch_all::<T>().await })
    }

    pub(crate) fn insert<T>(
        &self,
        what: &'static str,
        table: &'static str,
        rows: Vec<T>,
    ) -> Result<(), StoreError>
    where
        T: clickhouse::Row + clickhouse::RowWrite + Send + Sync + 'static,
        for<'a> T: clickhouse::Row<Value<'a> = T>,
    {
        let client = self.client.clone();
        self.call(what, async move {
            let mut insert = client.insert::<T>(table).await?;
            for r in &rows {
                insert.write(r).await?;
            }
            insert.end().await
        })
    }

    /// Sends `rows` in one INSERT (RowBinary, LZ4-compressed by the client); on failure,
    /// gives them back with the error (nothing is copied to keep them).
    fn send_rows(
        &self,
        rows: Vec<MeasurementRow>,
    ) -> Result<(), (StoreError, Vec<MeasurementRow>)> {
        let client = self.client.clone();
        let (rows, result) = self
            .call("write measurements", async move {
                let sent = async {
                    let mut insert = client.insert::<MeasurementRow>("measurements").await?;
                    for r in &rows {
                        insert.write(r).await?;
                    }
                    insert.end().await
                }
                .await;
                Ok((rows, sent))
            })
            .map_err(|e| (e, Vec::new()))?;
        result.map_err(|source| {
            (
                StoreError::ClickHouse {
                    server: self.server.clone(),
                    what: "write measurements",
                    source,
                },
                rows,
            )
        })
    }

    /// Sends a batch (the caller holds `sending`): re-submissions of measurements the server
    /// holds already are left out, the rest go in one INSERT, then their change to
    /// `daily_counts` (`daily.rs`). When the look-up or the measurements' INSERT fails, the
    /// entries are given back with the error; when only the counts' INSERT fails, the change
    /// is kept for the next send and the error returned.
    fn send(&self, entries: Vec<Entry>) -> Result<(), (StoreError, Vec<Entry>)> {
        let fresh: Vec<&MeasurementRow> = entries
            .iter()
            .filter(|e| e.was.is_none())
            .map(|e| &e.row)
            .collect();
        let stored = if fresh.is_empty() {
            HashSet::new()
        } else {
            match self.stored_ids(&fresh) {
                Ok(s) => s,
                Err(e) => return Err((e, entries)),
            }
        };
        let mut deltas = Deltas::default();
        let mut rows = Vec::with_capacity(entries.len());
        let mut was: Vec<Option<DailyKey>> = Vec::with_capacity(entries.len());
        for e in entries {
            match &e.was {
                // A re-submission: the stored copy wins (and is counted already).
                None if stored.contains(&e.row.id) => continue,
                None => deltas.add(key_of(&e.row), 1),
                Some(old) => {
                    deltas.add(old.clone(), -1);
                    deltas.add(key_of(&e.row), 1);
                }
            }
            was.push(e.was);
            rows.push(e.row);
        }
        if !rows.is_empty() {
            if let Err((err, rows)) = self.send_rows(rows) {
                let back = rows
                    .into_iter()
                    .zip(was)
                    .map(|(row, was)| Entry { row, was })
                    .collect();
                return Err((err, back));
            }
        }
        // The measurements are stored: their change to the counts waits until written.
        lock(&self.deltas_left).merge(deltas);
        self.send_deltas().map_err(|e| (e, Vec::new()))
    }

    /// Writes the changes to `daily_counts` that wait (the caller holds `sending`).
    fn send_deltas(&self) -> Result<(), StoreError> {
        let rows = lock(&self.deltas_left).rows();
        if rows.is_empty() {
            return Ok(());
        }
        self.insert("count measurements by day", "daily_counts", rows)?;
        *lock(&self.deltas_left) = Deltas::default();
        Ok(())
    }

    /// Sends every waiting measurement in one INSERT. On failure they wait again (bounded:
    /// see [`Inner::add`]).
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let _sending = lock(&self.sending);
        let entries = {
            let mut p = lock(&self.pending);
            if p.len() == 0 {
                None
            } else {
                let tick = next_after(&self.tick, now_micros() / 1000);
                Some(p.take(tick))
            }
        };
        let Some(entries) = entries else {
            return self.send_deltas();
        };
        match self.send(entries) {
            Ok(()) => {
                *lock(&self.failed) = None;
                Ok(())
            }
            Err((e, kept)) => {
                *lock(&self.failed) = Some(e.to_string());
                lock(&self.pending).restore(kept);
                Err(e)
            }
        }
    }

    /// Sends these rows now, in one INSERT of their own (synchronous mode): a success means
    /// the server stored them; a failure is returned and nothing waits.
    fn send_now(&self, mut batch: Pending) -> Result<(), StoreError> {
        let _sending = lock(&self.sending);
        let tick = next_after(&self.tick, now_micros() / 1000);
        self.send(batch.take(tick)).map_err(|(e, _)| e)
    }

    /// Queues rows; sends a batch when one is due (at once in synchronous mode). While sends
    /// fail, at most ten batches wait in memory; then writes are refused with the reason
    /// (nothing accepted is dropped).
    pub(crate) fn add(&self, rows: Vec<MeasurementRow>) -> Result<(), StoreError> {
        if self.sync {
            let mut batch = Pending::default();
            for r in rows {
                batch.add(r);
            }
            return self.send_now(batch);
        }
        let due = {
            let mut p = lock(&self.pending);
            if p.len() >= self.batch.rows.saturating_mul(10) {
                return Err(StoreError::Backlog {
                    server: self.server.clone(),
                    waiting: p.len(),
                    last: lock(&self.failed).clone().unwrap_or_default(),
                });
            }
            for r in rows {
                p.add(r);
            }
            // One batch may be sent in the background while the next fills; past two batches
            // waiting, the writer sends itself (back-pressure).
            match (
                p.due(&self.batch),
                p.len() >= self.batch.rows.saturating_mul(2),
            ) {
                (false, _) => None,
                (true, false) => Some(false),
                (true, true) => Some(true),
            }
        };
        match due {
            Some(true) => self.flush()?,
            Some(false) => {
                let kicked = lock(&self.kick)
                    .as_ref()
                    .is_some_and(|k| k.send(true).is_ok());
                if !kicked {
                    self.flush()?;
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Writes a re-judged row with revision `rev` that replaces a stored row counted under
    /// `was` (or replaces the waiting row of its id).
    pub(crate) fn rejudge(
        &self,
        row: MeasurementRow,
        rev: u64,
        was: Option<DailyKey>,
    ) -> Result<(), StoreError> {
        if self.sync {
            let mut batch = Pending::default();
            batch.replace(row, rev, was);
            return self.send_now(batch);
        }
        let due = {
            let mut p = lock(&self.pending);
            p.replace(row, rev, was);
            p.due(&self.batch)
        };
        if due {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn run_exists(&self, run: RunId) -> Result<bool, StoreError> {
        if lock(&self.known_runs).contains(&run) {
            return Ok(true);
        }
        let mut w = Where::default();
        w.push("id = ?", [Bound::Int(run)]);
        let n: Vec<u64> = self.fetch(
            "check the run",
            format!("SELECT count() FROM runs FINAL {}", w.clause()),
            &w,
        )?;
        let found = n.first().copied().unwrap_or(0) > 0;
        if found {
            lock(&self.known_runs).insert(run);
        }
        Ok(found)
    }

    pub(crate) fn new(
        client: clickhouse::Client,
        runtime: &tokio::runtime::Runtime,
        server: &str,
        config: &Config,
    ) -> Inner {
        Inner {
            client,
            handle: runtime.handle().clone(),
            server: format!("{server}/{}", config.database),
            batch: config.batch,
            sync: config.sync,
            cluster: config.cluster.is_some(),
            pending: Mutex::new(Pending::default()),
            deltas_left: Mutex::new(Deltas::default()),
            sending: Mutex::new(()),
            register: Mutex::new(()),
            tick: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            known_runs: Mutex::new(HashSet::new()),
            failed: Mutex::new(None),
            kick: Mutex::new(None),
        }
    }
}
