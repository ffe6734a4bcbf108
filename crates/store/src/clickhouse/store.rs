//! [`ClickHouseStore`]: opening (schema, client, background sender), and the operations that
//! are not part of the interface. The interface itself is in `interface.rs`, reads in
//! `reads.rs`.

use super::client::{lock, next_after, now_micros, Inner};
use super::rows::EventRow;
use super::sql::{Bound, Where};
use super::{schema, Config};
use crate::query::domain_of;
use crate::{Event, EventId, StoreError};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// A measurement store in a ClickHouse database (one node, or a cluster through `Distributed`
/// tables). Writes are batched; reads see every write made through this value.
pub struct ClickHouseStore {
    pub(crate) inner: Arc<Inner>,
    runtime: Option<tokio::runtime::Runtime>,
    /// `false` stops the background sender (`true`, from writes, says a batch is due).
    stop: Option<mpsc::Sender<bool>>,
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
        // A database made before `daily_counts` existed: fill it from the stored rows once it
        // is created below.
        let tables: Vec<String> = {
            let probe = Inner::new(make(&config.url), &runtime, &config.url, config);
            let mut w = Where::default();
            w.push(
                "database = ? AND name IN ('measurements', 'daily_counts')",
                [Bound::Text(config.database.clone())],
            );
            probe.fetch(
                "list the tables",
                format!("SELECT name FROM system.tables {}", w.clause()),
                &w,
            )?
        };
        let backfill = tables.iter().any(|t| t == "measurements")
            && !tables.iter().any(|t| t == "daily_counts");
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
        if backfill {
            inner.execute(
                "count the stored measurements by day",
                super::daily::BACKFILL.to_string(),
                &Where::default(),
            )?;
        }
        let (stop, wake) = mpsc::channel::<bool>();
        *lock(&inner.kick) = Some(stop.clone());
        let period = Duration::from_millis(config.batch.ms.clamp(10, 60_000));
        let background = Arc::clone(&inner);
        let flusher = std::thread::Builder::new()
            .name("interfero-clickhouse-flush".into())
            .spawn(move || {
                while let Ok(true) | Err(mpsc::RecvTimeoutError::Timeout) =
                    wake.recv_timeout(period)
                {
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
    ///
    /// `OPTIMIZE` does nothing (and says nothing) while background merges hold the parts, so
    /// on one node it is repeated until every month of `measurements` is one part (at most
    /// ten minutes): afterwards no read needs `FINAL` (`reads.rs`).
    pub fn optimize(&self) -> Result<(), StoreError> {
        self.flush()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        loop {
            for t in ["measurements", "runs", "events", "daily_counts"] {
                self.inner.execute(
                    "optimize",
                    format!("OPTIMIZE TABLE {t} FINAL"),
                    &Where::default(),
                )?;
            }
            let unmerged = self
                .dedup_scopes(&Where::default())?
                .iter()
                .any(|(_, fin)| !fin.is_empty());
            if self.inner.cluster || !unmerged || std::time::Instant::now() > deadline {
                return Ok(());
            }
            // The server gives no signal when its merges end: look again shortly.
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Bytes on disk of the measurements and their per-day counts (compressed), on the node the store talks to.
    pub fn disk_bytes(&self) -> Result<u64, StoreError> {
        let mut w = Where::default();
        w.push(
            "database = currentDatabase() AND active AND (table LIKE ? OR table LIKE ?)",
            [
                Bound::Text("measurements%".into()),
                Bound::Text("daily_counts%".into()),
            ],
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

    pub(crate) fn write_event(
        &self,
        id: EventId,
        event: &Event,
        version: u64,
    ) -> Result<(), StoreError> {
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

    pub(crate) fn next_id(&self) -> i64 {
        // Microseconds since 1970, strictly increasing in this process: unique across
        // processes unless two begin a run in the same microsecond.
        i64::try_from(next_after(&self.inner.last_id, now_micros())).unwrap_or(i64::MAX)
    }
}

impl Drop for ClickHouseStore {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(false);
        }
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
