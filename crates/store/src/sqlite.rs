//! The SQLite backend: one connection behind a mutex, WAL journal, prepared statements.

use crate::{
    schema, Axis, Bucket, Event, EventId, EventKind, EventQuery, Filter, MeasurementId,
    MeasurementStore, Page, PageRequest, Query, RunId, RunInfo, StoreError, Stored,
};
use interfero_model::{Measurement, Technique, Verdict};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const INSERT_MEASUREMENT: &str = "INSERT INTO measurements
    (run_id, input, test_name, measurement_start_time, status, techniques, confidence,
     probe_cc, probe_asn, json, uid, domain, category)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
    ON CONFLICT(uid) DO NOTHING";

/// How much a commit survives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A commit survives the process dying (it is in the WAL, in the kernel's cache) but a
    /// power cut may lose the last ones (`synchronous = NORMAL`): fine for a probe's own
    /// measurements, rewritten by the next run.
    #[default]
    Crash,
    /// A commit is on the disk when it returns (`synchronous = FULL`: the WAL is fsynced at
    /// every commit). For a collector, which acknowledges what it stored: batch the inserts
    /// ([`MeasurementStore::insert_many`]) so that many share one fsync.
    PowerLoss,
}

/// Opens (creating if needed, with its parent directory) the SQLite file at `path`: shared by
/// the store and the tables kept beside it (captures, upload queue).
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// A fresh in-memory SQLite database.
pub(crate) fn connect_in_memory() -> Result<Connection, StoreError> {
    Connection::open_in_memory().map_err(|source| StoreError::Open {
        path: Path::new(":memory:").to_path_buf(),
        source,
    })
}

/// A measurement store in one SQLite file (or in memory).
#[derive(Debug)]
pub struct SqliteStore {
    // rusqlite's Connection is Send but not Sync; the mutex makes the store shareable
    // (e.g. between a server's handlers), and SQLite serialises writers anyway.
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directory) the database at `path`, and
    /// upgrades its schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::Crash)
    }

    /// Opens like [`SqliteStore::open`], with commits as durable as `durability` says.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::setup(connect(path)?, path, durability)
    }

    /// A fresh database that lives as long as this value.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::setup(
            connect_in_memory()?,
            Path::new(":memory:"),
            Durability::Crash,
        )
    }

    fn setup(
        mut conn: Connection,
        path: &Path,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: PathBuf::from(path),
            source,
        };
        // Another process (a second `interfero run`) may hold the write lock briefly.
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // WAL lets readers (the explorer) work while a run writes; NORMAL sync is safe with
        // WAL (a power cut may lose the last commits, never corrupt the file) and much faster.
        // `journal_mode` answers with a row, so it is queried, not executed.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        let sync = match durability {
            Durability::Crash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        // A 64 MB page cache (SQLite's default is 2 MB): at a million measurements the
        // indexes an insert touches no longer fit in 2 MB, and every miss was a read from the
        // kernel on the collector's one writer thread. Memory is taken only as pages are read.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;"
        ))
        .map_err(open_err)?;
        schema::migrate(&mut conn, path)?;
        // An in-memory database has no WAL, and nothing to checkpoint.
        if mode.eq_ignore_ascii_case("wal") {
            let _counts = crate::checkpoint::off_thread(&mut conn, path)?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Inserts `rows` of `run` in one transaction, all or none.
    fn write_rows<'a>(
        &self,
        run: RunId,
        rows: impl ExactSizeIterator<Item = Result<Row<'a>, StoreError>>,
    ) -> Result<Vec<MeasurementId>, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads (the run
        // check) and then writes fails with SQLITE_BUSY_SNAPSHOT, without waiting, when another
        // connection wrote in between.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // On error the transaction is dropped, which rolls back: all or none.
        let ids = insert_all(&tx, run, rows)?;
        tx.commit()?;
        Ok(ids)
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn check_run(tx: &Transaction<'_>, run: RunId) -> Result<(), StoreError> {
    let found: Option<i64> = tx
        .query_row("SELECT 1 FROM runs WHERE id = ?1", [run], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::UnknownRun(run))
}

/// One row to insert: the measurement, its JSON text and its uid.
type Row<'a> = (
    &'a Measurement,
    std::borrow::Cow<'a, str>,
    std::borrow::Cow<'a, str>,
);

fn insert_all<'a>(
    tx: &Transaction<'_>,
    run: RunId,
    rows: impl ExactSizeIterator<Item = Result<Row<'a>, StoreError>>,
) -> Result<Vec<MeasurementId>, StoreError> {
    check_run(tx, run)?;
    let mut stmt = tx.prepare_cached(INSERT_MEASUREMENT)?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let (m, json, uid) = row?;
        let v = m.verdict.as_ref();
        let techniques = techniques_column(v);
        let inserted = stmt.execute(params![
            run,
            m.input,
            m.test_name,
            m.measurement_start_time,
            v.map(|v| v.status.as_str()),
            techniques,
            v.map(|v| v.confidence),
            m.probe_cc,
            m.probe_asn,
            json,
            uid,
            crate::query::domain_of(&m.input),
            crate::query::category_of(m),
        ])?;
        if inserted == 1 {
            ids.push(tx.last_insert_rowid());
        } else {
            // Already stored (same observations): answer with the id it has.
            let id = tx.query_row("SELECT id FROM measurements WHERE uid = ?1", [&uid], |r| {
                r.get(0)
            })?;
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Encodes a measurement for [`insert_all`] (the rows not encoded ahead).
fn encode(m: &Measurement) -> Result<Row<'_>, StoreError> {
    let json = serde_json::to_string(m).map_err(|source| StoreError::Encode {
        input: m.input.clone(),
        source,
    })?;
    Ok((m, json.into(), crate::uid_of(m).into()))
}

/// The techniques of a verdict as stored: space-separated names (searched with `instr` on
/// `' ' || techniques || ' '`, so a name never matches inside another).
pub(crate) fn techniques_column(v: Option<&interfero_model::Verdict>) -> String {
    v.map(|v| {
        v.techniques
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
    .unwrap_or_default()
}

pub(crate) fn decode(id: MeasurementId, json: &str) -> Result<Measurement, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "measurement",
        id,
        message: e.to_string(),
    })
}

impl MeasurementStore for SqliteStore {
    fn begin_run(&self, info: &RunInfo) -> Result<RunId, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (started, software_version, probe_cc, probe_asn, note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                info.started,
                info.software_version,
                info.probe_cc,
                info.probe_asn,
                info.note
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn insert_many(
        &self,
        run: RunId,
        ms: &[Measurement],
    ) -> Result<Vec<MeasurementId>, StoreError> {
        self.write_rows(run, ms.iter().map(encode))
    }

    fn insert_encoded(
        &self,
        run: RunId,
        rows: &[crate::Encoded],
    ) -> Result<Vec<MeasurementId>, StoreError> {
        let rows = rows
            .iter()
            .map(|e| Ok((e.measurement(), e.json().into(), e.uid().into())));
        self.write_rows(run, rows)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM measurements", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn measurements(&self, filter: &Filter) -> Result<Vec<Measurement>, StoreError> {
        let conn = self.conn();
        // NULL parameters switch a condition off, so one prepared statement serves every
        // filter combination.
        let mut stmt = conn.prepare_cached(
            "SELECT id, json FROM measurements
             WHERE (?1 IS NULL OR input = ?1) AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR run_id = ?3)
             ORDER BY id LIMIT ?4",
        )?;
        let limit = filter
            .limit
            .and_then(|l| i64::try_from(l).ok())
            .unwrap_or(-1);
        let rows = stmt.query_map(
            params![
                filter.input,
                filter.status.map(|s| s.as_str()),
                filter.run,
                limit
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row?;
            out.push(decode(id, &json)?);
        }
        Ok(out)
    }

    fn export_jsonl(&self, run: Option<RunId>, out: &mut dyn Write) -> Result<u64, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT json FROM measurements WHERE (?1 IS NULL OR run_id = ?1) ORDER BY id",
        )?;
        let mut rows = stmt.query([run])?;
        let mut n = 0u64;
        // Streamed row by row: an export of a large database never sits in memory whole.
        // The stored JSON is written as is (it is one line: serde_json escapes newlines).
        while let Some(row) = rows.next()? {
            let json: String = row.get(0)?;
            out.write_all(json.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(StoreError::Export)?;
            n += 1;
        }
        out.flush().map_err(StoreError::Export)?;
        Ok(n)
    }

    fn record_event(&self, event: &Event) -> Result<EventId, StoreError> {
        let conn = self.conn();
        let evidence =
            serde_json::to_string(&event.evidence).map_err(|source| StoreError::Encode {
                input: event.input.clone(),
                source,
            })?;
        conn.execute(
            "INSERT INTO events
                (input, kind, technique, started, ended, evidence, probe_cc, probe_asn, domain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                event.input,
                event.kind.as_str(),
                event.technique.map(|t| t.as_str()),
                event.started,
                event.ended,
                evidence,
                event.probe_cc,
                event.probe_asn,
                crate::query::domain_of(&event.input),
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    fn events(&self) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .select_events("", &[])?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    fn end_event(&self, id: EventId, ended: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE events SET ended = ?1 WHERE id = ?2",
            params![ended, id],
        )?;
        Ok(())
    }

    fn open_events(&self) -> Result<Vec<(EventId, Event)>, StoreError> {
        self.select_events(
            "WHERE ended IS NULL AND kind IN ('block_started', 'shutdown_started', 'delegation_removed')",
            &[],
        )
    }

    fn get(&self, id: MeasurementId) -> Result<Option<Stored>, StoreError> {
        self.get_where("id = ?1", &id)
    }

    fn get_by_uid(&self, uid: &str) -> Result<Option<Stored>, StoreError> {
        self.get_where("uid = ?1", &uid)
    }

    fn page(&self, query: &Query, page: &PageRequest) -> Result<Page, StoreError> {
        crate::sqlite_query::page(&self.conn(), query, page)
    }

    fn count_matching(&self, query: &Query) -> Result<u64, StoreError> {
        crate::sqlite_query::count(&self.conn(), query)
    }

    fn aggregate(
        &self,
        query: &Query,
        x: Axis,
        y: Option<Axis>,
    ) -> Result<Vec<Bucket>, StoreError> {
        crate::sqlite_query::aggregate(&self.conn(), query, x, y)
    }

    fn query_events(&self, query: &EventQuery) -> Result<Vec<(EventId, Event)>, StoreError> {
        let (clause, values) = crate::sqlite_query::event_where(query);
        self.select_events(&clause, &values)
    }

    fn set_verdict(&self, id: MeasurementId, verdict: Option<&Verdict>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let json: Option<String> = tx
            .query_row("SELECT json FROM measurements WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let mut m = decode(id, &json.ok_or(StoreError::UnknownMeasurement(id))?)?;
        m.verdict = verdict.cloned();
        let json = serde_json::to_string(&m).map_err(|source| StoreError::Encode {
            input: m.input.clone(),
            source,
        })?;
        tx.execute(
            "UPDATE measurements SET status = ?1, techniques = ?2, confidence = ?3, json = ?4
             WHERE id = ?5",
            params![
                verdict.map(|v| v.status.as_str()),
                techniques_column(verdict),
                verdict.map(|v| v.confidence),
                json,
                id
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl SqliteStore {
    fn get_where(
        &self,
        clause: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<Stored>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, uid, run_id, json FROM measurements WHERE {clause}"
        ))?;
        let row = stmt
            .query_row([value], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
            })
            .optional()?;
        row.map(|(id, uid, run, json)| crate::sqlite_query::stored(id, uid, run, &json))
            .transpose()
    }

    /// Events matching `filter` (an SQL clause over bound `values`, or empty), with their
    /// ids, oldest first.
    fn select_events(
        &self,
        filter: &str,
        values: &[rusqlite::types::Value],
    ) -> Result<Vec<(EventId, Event)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, input, kind, technique, started, ended, evidence, probe_cc, probe_asn \
             FROM events {filter} ORDER BY started, id"
        ))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let corrupt = |message: String| StoreError::Corrupt {
                what: "event",
                id,
                message,
            };
            let kind: String = r.get(2)?;
            let technique: Option<String> = r.get(3)?;
            let evidence: String = r.get(6)?;
            out.push((
                id,
                Event {
                    input: r.get(1)?,
                    kind: EventKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("unknown event kind {kind:?}")))?,
                    technique: match technique {
                        None => None,
                        Some(t) => Some(
                            Technique::parse(&t)
                                .ok_or_else(|| corrupt(format!("unknown technique {t:?}")))?,
                        ),
                    },
                    started: r.get(4)?,
                    ended: r.get(5)?,
                    evidence: serde_json::from_str(&evidence)
                        .map_err(|e| corrupt(format!("evidence is not a JSON list: {e}")))?,
                    probe_cc: r.get(7)?,
                    probe_asn: r.get(8)?,
                },
            ));
        }
        Ok(out)
    }
}
