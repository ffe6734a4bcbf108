//! The upload queue of a probe: measurements waiting to be sent to a collector, kept in the
//! probe's own database so that a shutdown, a dead collector or a restart loses nothing. Its
//! tables are its own and versioned on their own (`outbox_meta`), so the queue lives in the
//! same SQLite file as the measurements whatever version their schema is at, through its own
//! connection.
//!
//! A row is marked sent only after the collector acknowledged it (its `measurement_uid`); a
//! crash between the acknowledgement and the mark sends it once more, which the collector
//! recognises (the same observations get the same uid) and answers with the same uid.

use crate::StoreError;
use interfero_model::Measurement;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The version of the queue tables this build writes.
pub const OUTBOX_VERSION: i64 = 1;

/// Each entry upgrades the queue tables by one version; append, never edit.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        collector TEXT NOT NULL,
        uid TEXT NOT NULL,
        json TEXT NOT NULL,
        queued TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_uid TEXT,
        sent_at TEXT
    );
    CREATE UNIQUE INDEX IF NOT EXISTS outbox_collector_uid ON outbox(collector, uid);
    CREATE INDEX IF NOT EXISTS outbox_due ON outbox(collector, sent_at, next_try, id);"];

/// One queued measurement due for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The queue's id of the row.
    pub id: i64,
    /// The measurement's own uid ([`crate::uid_of`]).
    pub uid: String,
    /// The measurement as queued (JSON, sent as it is).
    pub json: String,
    /// Tries so far.
    pub attempts: u32,
}

/// How many rows are waiting and how many were sent, for one collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Not acknowledged yet.
    pub waiting: u64,
    /// Acknowledged by the collector.
    pub sent: u64,
}

/// The upload queue in a SQLite file (usually the measurement database).
#[derive(Debug)]
pub struct Outbox {
    conn: Mutex<Connection>,
}

impl Outbox {
    /// Opens the queue in the database at `path`, creating its tables when missing.
    pub fn open(path: &Path) -> Result<Outbox, StoreError> {
        Self::setup(crate::sqlite::connect(path)?, path)
    }

    /// A queue that lives as long as this value.
    pub fn open_in_memory() -> Result<Outbox, StoreError> {
        let path = Path::new(":memory:");
        Self::setup(crate::sqlite::connect_in_memory()?, path)
    }

    fn setup(mut conn: Connection, path: &Path) -> Result<Outbox, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        // A queued measurement is the only copy bound for the collector once the run has
        // ended: FULL makes each enqueue and each mark survive a power cut, not only a crash.
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(open_err)?;
        let tx = conn.transaction().map_err(open_err)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS outbox_meta (version INTEGER NOT NULL)")
            .map_err(open_err)?;
        let found: Option<i64> = tx
            .query_row("SELECT version FROM outbox_meta", [], |r| r.get(0))
            .optional()
            .map_err(open_err)?;
        let found = found.unwrap_or(0);
        if found > OUTBOX_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
                known: OUTBOX_VERSION,
            });
        }
        for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found.max(0) as usize)) {
            let fail = |source| StoreError::Migrate {
                version: from + 1,
                source,
            };
            tx.execute_batch(sql).map_err(fail)?;
            tx.execute("DELETE FROM outbox_meta", []).map_err(fail)?;
            tx.execute("INSERT INTO outbox_meta (version) VALUES (?1)", [from + 1])
                .map_err(fail)?;
        }
        tx.commit().map_err(open_err)?;
        Ok(Outbox {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `m` for `collector` (its base URL); `false` when it was already queued there
    /// (the same observations: nothing is sent twice).
    pub fn enqueue(&self, collector: &str, m: &Measurement, now: &str) -> Result<bool, StoreError> {
        let json = serde_json::to_string(m).map_err(|source| StoreError::Encode {
            input: m.input.clone(),
            source,
        })?;
        let n = self.conn().execute(
            "INSERT INTO outbox (collector, uid, json, queued) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(collector, uid) DO NOTHING",
            params![collector, crate::uid_of(m), json, now],
        )?;
        Ok(n == 1)
    }

    /// Up to `limit` rows for `collector` not yet sent whose next try is due at `now_secs`
    /// (seconds since the epoch), oldest first.
    pub fn due(
        &self,
        collector: &str,
        now_secs: i64,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, uid, json, attempts FROM outbox
             WHERE collector = ?1 AND sent_at IS NULL AND next_try <= ?2 ORDER BY id LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![collector, now_secs, limit], |r| {
            Ok(Pending {
                id: r.get(0)?,
                uid: r.get(1)?,
                json: r.get(2)?,
                attempts: r.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest next try of a row not yet sent, if any is waiting.
    pub fn next_try(&self, collector: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_try) FROM outbox WHERE collector = ?1 AND sent_at IS NULL",
            [collector],
            |r| r.get(0),
        )?)
    }

    /// Marks a row acknowledged by the collector, which named it `collector_uid`.
    pub fn mark_sent(&self, id: i64, collector_uid: &str, now: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET sent_uid = ?1, sent_at = ?2, attempts = attempts + 1,
             last_error = NULL WHERE id = ?3",
            params![collector_uid, now, id],
        )?;
        Ok(())
    }

    /// Records a failed try of a row and when to try again (seconds since the epoch).
    pub fn mark_failed(&self, id: i64, error: &str, next_try: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?1, next_try = ?2
             WHERE id = ?3",
            params![error, next_try, id],
        )?;
        Ok(())
    }

    /// Makes every waiting row of `collector` due now (the network came back).
    pub fn retry_now(&self, collector: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET next_try = 0 WHERE collector = ?1 AND sent_at IS NULL",
            [collector],
        )?;
        Ok(())
    }

    /// How many rows of `collector` wait and how many were sent.
    pub fn counts(&self, collector: &str) -> Result<OutboxCounts, StoreError> {
        let (waiting, sent): (i64, i64) = self.conn().query_row(
            "SELECT COALESCE(SUM(sent_at IS NULL), 0), COALESCE(SUM(sent_at IS NOT NULL), 0)
             FROM outbox WHERE collector = ?1",
            [collector],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(OutboxCounts {
            waiting: u64::try_from(waiting).unwrap_or(0),
            sent: u64::try_from(sent).unwrap_or(0),
        })
    }

    /// The collector's uid of a row sent, by the measurement's own uid.
    pub fn sent_uid(&self, collector: &str, uid: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sent_uid FROM outbox WHERE collector = ?1 AND uid = ?2",
                [collector, uid],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn queue_survives_reopening_and_never_queues_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let c = "http://127.0.0.1:1/";
        {
            let q = Outbox::open(&path).unwrap();
            assert!(q.enqueue(c, &synthetic::measurement(1), "t").unwrap());
            assert!(q.enqueue(c, &synthetic::measurement(2), "t").unwrap());
            assert!(!q.enqueue(c, &synthetic::measurement(1), "t").unwrap());
            let due = q.due(c, 0, 10).unwrap();
            assert_eq!(due.len(), 2);
            q.mark_failed(due[0].id, "down", 100).unwrap();
            q.mark_sent(due[1].id, "uid-2", "t").unwrap();
        }
        let q = Outbox::open(&path).unwrap();
        assert_eq!(
            q.counts(c).unwrap(),
            OutboxCounts {
                waiting: 1,
                sent: 1
            }
        );
        assert!(
            q.due(c, 99, 10).unwrap().is_empty(),
            "not due before its time"
        );
        assert_eq!(q.next_try(c).unwrap(), Some(100));
        q.retry_now(c).unwrap();
        let due = q.due(c, 0, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].attempts, 1);
        let back: Measurement = serde_json::from_str(&due[0].json).unwrap();
        assert_eq!(back, synthetic::measurement(1));
        assert_eq!(
            q.sent_uid(c, &crate::uid_of(&synthetic::measurement(2)))
                .unwrap()
                .as_deref(),
            Some("uid-2")
        );
    }

    #[test]
    fn lives_beside_the_measurements() {
        use crate::{MeasurementStore, SqliteStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("both.db");
        let store = SqliteStore::open(&path).unwrap();
        let q = Outbox::open(&path).unwrap();
        q.enqueue("x", &synthetic::measurement(3), "t").unwrap();
        let run = store.begin_run(&crate::RunInfo::default()).unwrap();
        store.insert(run, &synthetic::measurement(3)).unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.count().unwrap(), 1);
        assert_eq!(q.counts("x").unwrap().waiting, 1);
    }
}
