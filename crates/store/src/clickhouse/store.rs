//! [`ClickHouseStore`]: the [`MeasurementStore`] interface on ClickHouse.

use super::rows::{self, EventRow, MeasurementRow, RunRow, StoredRow, STORED_COLUMNS};
use super::sql::{self, Bound, Where};
use super::writer::Pending;
use super::{schema, Config};
use crate::query::domain_of;
use crate::{
    Axis, Bucket, Counts, Cursor, Event, EventId, EventKind, EventQuery, Filter, MeasurementId,
    MeasurementStore, Order, Page, PageRequest, Query, RunId, RunInfo, StoreError, Stored,
    MAX_PAGE,
};
use interfero_model::{Measurement, Technique, Verdict};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the store shares with its background flusher.
struct Inner {
    client: clickhouse::Client,
    handle: tokio::runtime::Handle,
    server: String,
    batch: super::Batch,
    pending: Mutex<Pending>,
    /// Held while a batch is sent, so a reader that flushes waits for a batch in flight.
    sending: Mutex<()>,
    /// The last write tick (milliseconds, strictly increasing) and the last run/event id.
    tick: AtomicU64,
    last_id: AtomicU64,
    known_runs: Mutex<HashSet<RunId>>,
    /// Why the last background send failed (reported by the next write).
    failed: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (plain collections), so a poisoned
    // lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The next value of a strictly increasing counter that follows `now`.
fn next_after(counter: &AtomicU64, now: u64) -> u64 {
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
    fn call<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
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

    fn execute(&self, what: &'static str, sql: String, w: &Where) -> Result<(), StoreError> {
        let q = w.bind(self.client.query(&sql));
        self.call(what, async move { q.execute().await })
    }

    fn fetch<T>(&self, what: &'static str, sql: String, w: &Where) -> Result<Vec<T>, StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead + Send + 'static,
    {
        let q = w.bind(self.client.query(&sql));
        self.call(what, async move { q.fetch_all::<T>().await })
    }

    fn insert<T>(
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

    /// Sends every waiting measurement in one INSERT. On failure they wait again (bounded:
    /// see [`Inner::add`]).
    fn flush(&self) -> Result<(), StoreError> {
        let _sending = lock(&self.sending);
        let rows = {
            let mut p = lock(&self.pending);
            if p.len() == 0 {
                return Ok(());
            }
            let tick = next_after(&self.tick, now_micros() / 1000);
            p.take(tick)
        };
        let kept = rows.clone();
        match self.insert("write measurements", "measurements", rows) {
            Ok(()) => {
                *lock(&self.failed) = None;
                Ok(())
            }
            Err(e) => {
                *lock(&self.failed) = Some(e.to_string());
                lock(&self.pending).restore(kept);
                Err(e)
            }
        }
    }

    /// Queues rows; sends a batch when one is due. While sends fail, at most ten batches wait
    /// in memory; then writes are refused with the reason (nothing accepted is dropped).
    fn add(&self, rows: Vec<MeasurementRow>) -> Result<(), StoreError> {
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
            p.due(&self.batch)
        };
        if due {
            self.flush()?;
        }
        Ok(())
    }

    fn run_exists(&self, run: RunId) -> Result<bool, StoreError> {
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
}

/// A measurement store in a ClickHouse database (one node, or a cluster through `Distributed`
/// tables). Writes are batched; reads see every write made through this value.
pub struct ClickHouseStore {
    inner: Arc<Inner>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<mpsc::Sender<()>>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("server", &self.inner.server)
            .finish()
    }
}

impl ClickHouseStore {
    /// Connects to the server `config` names, creates the database and tables when missing,
    /// and starts the background sender of batches.
    pub fn open(config: &Config) -> Result<ClickHouseStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("interfero-clickhouse")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Address(format!("cannot start the ClickHouse client: {e}")))?;
        let make = |url: &str| {
            let mut c = clickhouse::Client::default()
                .with_url(url)
                .with_validation(false);
            if let Some(u) = &config.user {
                c = c.with_user(u);
            }
            if let Some(p) = &config.password {
                c = c.with_password(p);
            }
            c
        };
        let nodes = if config.nodes.is_empty() {
            vec![config.url.clone()]
        } else {
            config.nodes.clone()
        };
        let mut codecs = false;
        for node in &nodes {
            let probe = Inner::new(make(node), &runtime, node, config);
            let version: Vec<String> = probe.fetch(
                "ask the version",
                "SELECT version()".into(),
                &Where::default(),
            )?;
            codecs = version.first().is_some_and(|v| schema::has_codecs(v));
            let client = if codecs {
                make(node)
            } else {
                // 18.16 creates LowCardinality columns only with this setting.
                make(node).with_setting("allow_experimental_low_cardinality_type", "1")
            };
            let ddl = Inner::new(client, &runtime, node, config);
            let statements = match &config.cluster {
                None => schema::single_node(&config.database, codecs),
                Some(cluster) => {
                    let mut s = schema::shard_local(&config.database, codecs);
                    s.extend(schema::distributed(&config.database, cluster, codecs));
                    s
                }
            };
            for s in statements {
                ddl.execute("create the schema", s, &Where::default())?;
            }
        }
        let mut client = make(&config.url).with_database(&config.database);
        if !codecs {
            client = client.with_setting("allow_experimental_low_cardinality_type", "1");
        }
        if config.cluster.is_some() {
            // An INSERT into a Distributed table returns once every shard has its rows, so a
            // failure is reported to the writer and a read right after sees them.
            client = client.with_setting("insert_distributed_sync", "1");
        }
        let inner = Arc::new(Inner::new(client, &runtime, &config.url, config));
        let (stop, stopped) = mpsc::channel::<()>();
        let period = Duration::from_millis(config.batch.ms.clamp(10, 60_000));
        let background = Arc::clone(&inner);
        let flusher = std::thread::Builder::new()
            .name("interfero-clickhouse-flush".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    let due = lock(&background.pending).due(&background.batch);
                    if due {
                        // A failure is kept in `failed` and reported by the next write.
                        let _ = background.flush();
                    }
                }
            })
            .map_err(|e| StoreError::Address(format!("cannot start the batch sender: {e}")))?;
        Ok(ClickHouseStore {
            inner,
            runtime: Some(runtime),
            stop: Some(stop),
            flusher: Some(flusher),
        })
    }

    /// Sends every waiting measurement now.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }

    /// Merges every table's parts now (`OPTIMIZE … FINAL`): duplicates and old verdicts are
    /// dropped from disk, and reads with `FINAL` get faster. Heavy; for after a bulk import.
    pub fn optimize(&self) -> Result<(), StoreError> {
        self.flush()?;
        for t in ["measurements", "runs", "events"] {
            self.inner.execute(
                "optimize",
                format!("OPTIMIZE TABLE {t} FINAL"),
                &Where::default(),
            )?;
        }
        Ok(())
    }

    /// Bytes on disk of the measurements table (compressed), on the node the store talks to.
    pub fn disk_bytes(&self) -> Result<u64, StoreError> {
        let mut w = Where::default();
        w.push(
            "database = currentDatabase() AND active AND table LIKE ?",
            [Bound::Text("measurements%".into())],
        );
        let n: Vec<u64> = self.inner.fetch(
            "measure the disk use",
            format!(
                "SELECT toUInt64(sum(bytes_on_disk)) FROM system.parts {}",
                w.clause()
            ),
            &w,
        )?;
        Ok(n.first().copied().unwrap_or(0))
    }

    /// The measurements matching `w`, in `order`, at most `limit`. Two steps: which ones,
    /// with `FINAL` over the small key columns; then their rows by id, without `FINAL`, keeping
    /// the highest version of each (what `FINAL` keeps). 18.16 reads every selected column of
    /// every row in range for a `FINAL` query before filtering: with the JSON among them, a page
    /// of one domain read the whole table's JSON (11 s for 1 M rows, docs/performance.md).
    fn read_stored(&self, w: &Where, order: &str, limit: usize) -> Result<Vec<Stored>, StoreError> {
        self.inner.flush()?;
        let sql = format!(
            "SELECT probe_cc, probe_asn, measurement_start_time, id, version FROM measurements FINAL {} \
             {order} LIMIT {limit}",
            w.clause()
        );
        let keys: Vec<rows::KeyRow> = self.inner.fetch("find measurements", sql, w)?;
        let ids: Vec<u64> = keys.iter().map(|k| k.id).collect();
        let mut latest = self.latest(&ids)?;
        keys.iter()
            .filter_map(|k| latest.remove(&k.id))
            .map(stored)
            .collect()
    }

    /// The latest version of the rows with these ids (sent first: see `Inner::flush`).
    fn latest(&self, ids: &[u64]) -> Result<HashMap<u64, StoredRow>, StoreError> {
        let mut out: HashMap<u64, StoredRow> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        // Numbers we produced, so they are written into the statement as they are.
        let list: Vec<String> = ids.iter().map(u64::to_string).collect();
        let sql = format!(
            "SELECT {STORED_COLUMNS} FROM measurements WHERE id IN ({})",
            list.join(",")
        );
        let rows: Vec<StoredRow> = self
            .inner
            .fetch("read measurements", sql, &Where::default())?;
        for r in rows {
            match out.get(&r.id) {
                Some(kept) if kept.version >= r.version => {}
                _ => {
                    out.insert(r.id, r);
                }
            }
        }
        Ok(out)
    }

    fn select_events(
        &self,
        w: &Where,
        limit: Option<usize>,
    ) -> Result<Vec<(EventId, Event)>, StoreError> {
        let limit = limit
            .map(|l| format!("LIMIT {}", l.min(MAX_PAGE * 10)))
            .unwrap_or_default();
        let sql = format!(
            "SELECT id, input, kind, technique, started, ended, evidence, probe_cc, probe_asn, \
             domain, version FROM events FINAL {} ORDER BY started, id {limit}",
            w.clause()
        );
        let rows: Vec<EventRow> = self.inner.fetch("read events", sql, w)?;
        rows.into_iter().map(event_of).collect()
    }

    fn write_event(&self, id: EventId, event: &Event, version: u64) -> Result<(), StoreError> {
        let evidence =
            serde_json::to_string(&event.evidence).map_err(|source| StoreError::Encode {
                input: event.input.clone(),
                source,
            })?;
        let row = EventRow {
            id,
            input: event.input.clone(),
            kind: event.kind.as_str().to_string(),
            technique: event.technique.map(|t| t.as_str().to_string()),
            started: event.started.clone(),
            ended: event.ended.clone(),
            evidence,
            probe_cc: event.probe_cc.clone(),
            probe_asn: event.probe_asn.clone(),
            domain: domain_of(&event.input),
            version,
        };
        self.inner.insert("write an event", "events", vec![row])
    }

    fn next_id(&self) -> i64 {
        // Microseconds since 1970, strictly increasing in this process: unique across
        // processes unless two begin a run in the same microsecond.
        i64::try_from(next_after(&self.inner.last_id, now_micros())).unwrap_or(i64::MAX)
    }
}

impl Inner {
    fn new(
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
            pending: Mutex::new(Pending::default()),
            sending: Mutex::new(()),
            tick: AtomicU64::new(0),
            last_id: AtomicU64::new(0),
            known_runs: Mutex::new(HashSet::new()),
            failed: Mutex::new(None),
        }
    }
}

fn stored(r: StoredRow) -> Result<Stored, StoreError> {
    let id = i64::try_from(r.id).unwrap_or(i64::MAX);
    Ok(Stored {
        id,
        uid: r.uid,
        run: r.run_id,
        measurement: crate::sqlite::decode(id, &r.json)?,
    })
}

fn event_of(r: EventRow) -> Result<(EventId, Event), StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "event",
        id: r.id,
        message,
    };
    let kind = EventKind::parse(&r.kind)
        .ok_or_else(|| corrupt(format!("unknown event kind {:?}", r.kind)))?;
    let technique = match &r.technique {
        None => None,
        Some(t) => {
            Some(Technique::parse(t).ok_or_else(|| corrupt(format!("unknown technique {t:?}")))?)
        }
    };
    let evidence = serde_json::from_str(&r.evidence)
        .map_err(|e| corrupt(format!("evidence is not a JSON list: {e}")))?;
    Ok((
        r.id,
        Event {
            input: r.input,
            kind,
            technique,
            started: r.started,
            ended: r.ended,
            evidence,
            probe_cc: r.probe_cc,
            probe_asn: r.probe_asn,
        },
    ))
}

impl Drop for ClickHouseStore {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.flusher.take() {
            let _ = t.join();
        }
        // What still waits is sent before the runtime goes; a failure here has no one to be
        // reported to but the log of the caller's last write.
        let _ = self.inner.flush();
        if let Some(rt) = self.runtime.take() {
            // Allowed inside another runtime, unlike dropping it.
            rt.shutdown_background();
        }
    }
}

impl MeasurementStore for ClickHouseStore {
    fn begin_run(&self, info: &RunInfo) -> Result<RunId, StoreError> {
        let id = self.next_id();
        let row = RunRow {
            id,
            started: info.started.clone(),
            software_version: info.software_version.clone(),
            probe_cc: info.probe_cc.clone(),
            probe_asn: info.probe_asn.clone(),
            note: info.note.clone(),
        };
        self.inner.insert("begin a run", "runs", vec![row])?;
        lock(&self.inner.known_runs).insert(id);
        Ok(id)
    }

    fn insert(&self, run: RunId, m: &Measurement) -> Result<MeasurementId, StoreError> {
        let ids = self.insert_many(run, std::slice::from_ref(m))?;
        ids.first().copied().ok_or(StoreError::UnknownRun(run))
    }

    fn insert_many(
        &self,
        run: RunId,
        ms: &[Measurement],
    ) -> Result<Vec<MeasurementId>, StoreError> {
        if !self.inner.run_exists(run)? {
            return Err(StoreError::UnknownRun(run));
        }
        let mut rows = Vec::with_capacity(ms.len());
        let mut ids = Vec::with_capacity(ms.len());
        for m in ms {
            let r = rows::row_of(run, m, crate::uid_of(m))?;
            ids.push(i64::try_from(r.id).unwrap_or(i64::MAX));
            rows.push(r);
        }
        self.inner.add(rows)?;
        Ok(ids)
    }

    fn count(&self) -> Result<u64, StoreError> {
        self.count_matching(&Query::default())
    }

    fn measurements(&self, filter: &Filter) -> Result<Vec<Measurement>, StoreError> {
        let q = Query {
            input: filter.input.clone(),
            status: filter.status,
            run: filter.run,
            ..Query::default()
        };
        let mut out = Vec::new();
        let limit = filter.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(out);
        }
        self.scan(&q, Order::Oldest, &mut |s| {
            out.push(s.measurement);
            if out.len() >= limit {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })?;
        Ok(out)
    }

    fn export_jsonl(&self, run: Option<RunId>, out: &mut dyn Write) -> Result<u64, StoreError> {
        let q = Query {
            run,
            ..Query::default()
        };
        let mut failed = None;
        // Page by page (SCAN_BATCH at a time): an export never sits in memory whole.
        let n = self.scan(&q, Order::Oldest, &mut |s| {
            let line = serde_json::to_vec(&s.measurement).map_err(std::io::Error::other);
            match line.and_then(|l| out.write_all(&l).and_then(|()| out.write_all(b"\n"))) {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    std::ops::ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(StoreError::Export(e));
        }
        out.flush().map_err(StoreError::Export)?;
        Ok(n)
    }

    fn record_event(&self, event: &Event) -> Result<EventId, StoreError> {
        let id = self.next_id();
        self.write_event(id, event, 0)?;
        Ok(id)
    }

    fn events(&self) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .select_events(&Where::default(), None)?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    fn end_event(&self, id: EventId, ended: &str) -> Result<(), StoreError> {
        let mut w = Where::default();
        w.push("id = ?", [Bound::Int(id)]);
        let sql = format!(
            "SELECT id, input, kind, technique, started, ended, evidence, probe_cc, probe_asn, \
             domain, version FROM events FINAL {}",
            w.clause()
        );
        let rows: Vec<EventRow> = self.inner.fetch("read an event", sql, &w)?;
        // Like SQLite's UPDATE: ending an unknown event changes nothing.
        let Some(row) = rows.into_iter().next() else {
            return Ok(());
        };
        let version = row.version + 1;
        let (_, mut event) = event_of(row)?;
        event.ended = Some(ended.to_string());
        self.write_event(id, &event, version)
    }

    fn open_events(&self) -> Result<Vec<(EventId, Event)>, StoreError> {
        let mut w = Where::default();
        w.push(
            "ended IS NULL AND kind IN ('block_started', 'shutdown_started')",
            [],
        );
        self.select_events(&w, None)
    }

    fn get(&self, id: MeasurementId) -> Result<Option<Stored>, StoreError> {
        let Ok(id) = u64::try_from(id) else {
            return Ok(None);
        };
        self.inner.flush()?;
        self.latest(&[id])?.remove(&id).map(stored).transpose()
    }

    fn get_by_uid(&self, uid: &str) -> Result<Option<Stored>, StoreError> {
        let id = rows::id_of(uid);
        self.inner.flush()?;
        self.latest(&[id])?
            .remove(&id)
            .filter(|r| r.uid == uid)
            .map(stored)
            .transpose()
    }

    fn page(&self, query: &Query, page: &PageRequest) -> Result<Page, StoreError> {
        let mut w = sql::measurement_where(query);
        let (keyset, dir) = match page.order {
            Order::Oldest => (
                "(measurement_start_time > ? OR (measurement_start_time = ? AND id > ?))",
                "ASC",
            ),
            Order::Newest => (
                "(measurement_start_time < ? OR (measurement_start_time = ? AND id < ?))",
                "DESC",
            ),
        };
        if let Some(after) = &page.after {
            let id = u64::try_from(after.id).unwrap_or(0);
            w.push(
                keyset,
                [
                    Bound::Text(after.time.clone()),
                    Bound::Text(after.time.clone()),
                    Bound::Id(id),
                ],
            );
        }
        let limit = page.limit.clamp(1, MAX_PAGE);
        // One more than asked tells whether another page follows.
        let mut items = self.read_stored(
            &w,
            &format!("ORDER BY measurement_start_time {dir}, id {dir}"),
            limit + 1,
        )?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|s| Cursor {
                time: s.measurement.measurement_start_time.clone(),
                id: s.id,
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn count_matching(&self, query: &Query) -> Result<u64, StoreError> {
        self.inner.flush()?;
        let w = sql::measurement_where(query);
        let sql = format!("SELECT count() FROM measurements FINAL {}", w.clause());
        let n: Vec<u64> = self.inner.fetch("count measurements", sql, &w)?;
        Ok(n.first().copied().unwrap_or(0))
    }

    fn aggregate(
        &self,
        query: &Query,
        x: Axis,
        y: Option<Axis>,
    ) -> Result<Vec<Bucket>, StoreError> {
        self.inner.flush()?;
        let w = sql::measurement_where(query);
        let sql = format!(
            "SELECT {} AS x, {} AS y, {} AS s, count() AS n FROM measurements FINAL {} \
             GROUP BY x, y, s",
            sql::axis_expr(x),
            y.map(sql::axis_expr).unwrap_or("''"),
            sql::STATUS_NAME,
            w.clause()
        );
        let mut cells: Vec<rows::CellRow> = self.inner.fetch("count by group", sql, &w)?;
        // Sorted here, by bytes as `str` sorts (and SQLite's BINARY collation), whatever the
        // server's collation or LowCardinality dictionary order.
        cells.sort_by(|a, b| (&a.x, &a.y).cmp(&(&b.x, &b.y)));
        let mut out: Vec<Bucket> = Vec::new();
        for c in cells {
            match out.last_mut() {
                Some(b) if b.x == c.x && b.y == c.y => b.counts.add(&c.s, c.n),
                _ => {
                    let mut counts = Counts::default();
                    counts.add(&c.s, c.n);
                    out.push(Bucket {
                        x: c.x,
                        y: c.y,
                        counts,
                    });
                }
            }
        }
        Ok(out)
    }

    fn query_events(&self, query: &EventQuery) -> Result<Vec<(EventId, Event)>, StoreError> {
        self.select_events(&sql::event_where(query), query.limit)
    }

    fn set_verdict(&self, id: MeasurementId, verdict: Option<&Verdict>) -> Result<(), StoreError> {
        let key = u64::try_from(id).map_err(|_| StoreError::UnknownMeasurement(id))?;
        // A measurement still waiting is re-judged in place; otherwise the stored row is read
        // (without sending the batch: it holds no row of this id) and written again with the
        // next revision, which `FINAL` reads prefer.
        let waiting = lock(&self.inner.pending).get(key).cloned();
        let (json, uid, run, rev) = match waiting {
            Some(r) => (r.json, r.uid, r.run_id, None),
            None => {
                // A batch in flight may hold it: wait for that one to land.
                drop(lock(&self.inner.sending));
                let r = self
                    .latest(&[key])?
                    .remove(&key)
                    .ok_or(StoreError::UnknownMeasurement(id))?;
                (r.json, r.uid, r.run_id, Some(rows::revision(r.version) + 1))
            }
        };
        let mut m = crate::sqlite::decode(id, &json)?;
        m.verdict = verdict.cloned();
        let row = rows::row_of(run, &m, uid)?;
        let due = {
            let mut p = lock(&self.inner.pending);
            p.replace(row, rev.unwrap_or(0));
            p.due(&self.inner.batch)
        };
        if due {
            self.inner.flush()?;
        }
        Ok(())
    }
}
