//! The schema, versioned with `PRAGMA user_version`: migration N takes a database from
//! version N to N + 1. Append migrations; never edit one that has shipped.

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// Each entry upgrades the schema by one version.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: runs, measurements (searchable columns beside the full JSON), events.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        software_version TEXT NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn TEXT NOT NULL,
        note TEXT NOT NULL
    );
    CREATE TABLE measurements (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        input TEXT NOT NULL,
        test_name TEXT NOT NULL,
        measurement_start_time TEXT NOT NULL,
        status TEXT,
        techniques TEXT NOT NULL,
        confidence REAL,
        probe_cc TEXT NOT NULL,
        probe_asn TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX measurements_input ON measurements(input);
    CREATE INDEX measurements_status ON measurements(status);
    CREATE INDEX measurements_run ON measurements(run_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        input TEXT NOT NULL,
        kind TEXT NOT NULL,
        technique TEXT,
        started TEXT NOT NULL,
        ended TEXT,
        evidence TEXT NOT NULL
    );
    CREATE INDEX events_input ON events(input);",
    // 1 -> 2: the query interface. Each measurement gets its uid (unique: a re-submission is
    // stored once), its domain and category as columns, and indexes for the explorer's
    // filters (time, then country, network, domain within time). Events name their vantage
    // point. Rows of version 1 are filled in by `backfill` after this runs.
    "ALTER TABLE measurements ADD COLUMN uid TEXT;
    ALTER TABLE measurements ADD COLUMN domain TEXT NOT NULL DEFAULT '';
    ALTER TABLE measurements ADD COLUMN category TEXT NOT NULL DEFAULT '';
    CREATE UNIQUE INDEX measurements_uid ON measurements(uid);
    CREATE INDEX measurements_time ON measurements(measurement_start_time, id);
    CREATE INDEX measurements_cc_time ON measurements(probe_cc, measurement_start_time, id);
    CREATE INDEX measurements_asn_time ON measurements(probe_asn, measurement_start_time, id);
    CREATE INDEX measurements_domain_time ON measurements(domain, measurement_start_time, id);
    ALTER TABLE events ADD COLUMN probe_cc TEXT NOT NULL DEFAULT '';
    ALTER TABLE events ADD COLUMN probe_asn TEXT NOT NULL DEFAULT '';
    ALTER TABLE events ADD COLUMN domain TEXT NOT NULL DEFAULT '';
    CREATE INDEX events_started ON events(started);",
    // 2 -> 3: per-day counts for the explorer's charts and counts at millions of rows. One
    // row per (day, country, network, domain, category, status, techniques) with how many
    // measurements have them, kept exact by triggers on every insert, delete and change of
    // a counted column (re-judging included), and filled from the rows already stored.
    // `aggregate` and `count_matching` read it whenever the query allows (no URL or run
    // filter, whole days): a few thousand rows instead of millions.
    "CREATE TABLE daily_counts (
        day TEXT NOT NULL,
        probe_cc TEXT NOT NULL,
        probe_asn TEXT NOT NULL,
        domain TEXT NOT NULL,
        category TEXT NOT NULL,
        status TEXT NOT NULL,
        techniques TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, probe_cc, probe_asn, domain, category, status, techniques)
    ) WITHOUT ROWID;
    CREATE INDEX daily_counts_cc ON daily_counts(probe_cc, day);
    CREATE INDEX daily_counts_asn ON daily_counts(probe_asn, day);
    CREATE INDEX daily_counts_domain ON daily_counts(domain, day);
    INSERT INTO daily_counts
        SELECT substr(measurement_start_time, 1, 10), probe_cc, probe_asn, domain, category,
               coalesce(status, 'unjudged'), techniques, COUNT(*)
        FROM measurements GROUP BY 1, 2, 3, 4, 5, 6, 7;
    CREATE TRIGGER daily_counts_insert AFTER INSERT ON measurements BEGIN
        INSERT INTO daily_counts VALUES (substr(NEW.measurement_start_time, 1, 10),
            NEW.probe_cc, NEW.probe_asn, NEW.domain, NEW.category,
            coalesce(NEW.status, 'unjudged'), NEW.techniques, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER daily_counts_delete AFTER DELETE ON measurements BEGIN
        UPDATE daily_counts SET n = n - 1
        WHERE day = substr(OLD.measurement_start_time, 1, 10) AND probe_cc = OLD.probe_cc
          AND probe_asn = OLD.probe_asn AND domain = OLD.domain AND category = OLD.category
          AND status = coalesce(OLD.status, 'unjudged') AND techniques = OLD.techniques;
    END;
    CREATE TRIGGER daily_counts_update AFTER UPDATE OF measurement_start_time, probe_cc,
        probe_asn, domain, category, status, techniques ON measurements BEGIN
        UPDATE daily_counts SET n = n - 1
        WHERE day = substr(OLD.measurement_start_time, 1, 10) AND probe_cc = OLD.probe_cc
          AND probe_asn = OLD.probe_asn AND domain = OLD.domain AND category = OLD.category
          AND status = coalesce(OLD.status, 'unjudged') AND techniques = OLD.techniques;
        INSERT INTO daily_counts VALUES (substr(NEW.measurement_start_time, 1, 10),
            NEW.probe_cc, NEW.probe_asn, NEW.domain, NEW.category,
            coalesce(NEW.status, 'unjudged'), NEW.techniques, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;",
    // 3 -> 4: a search by status, newest first, reads that status's measurements in time
    // order instead of sorting all of them (a rare status among a million took seconds).
    "CREATE INDEX measurements_status_time ON measurements(status, measurement_start_time, id);",
    // 4 -> 5: a search by technique reads that technique's measurements in time order. The
    // `techniques` column holds several names in one text, which no index can search, so a
    // rare technique among a million rows scanned the time index for its page (1.5 s). One
    // row per (technique, measurement), kept exact by triggers on every insert, delete and
    // change of the time or the techniques (re-judging included), filled from the rows
    // already stored. The names are split by making the column a JSON array (`json_quote`
    // escapes whatever the text holds; a space never appears in an escape).
    "CREATE TABLE measurement_techniques (
        technique TEXT NOT NULL,
        measurement_start_time TEXT NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (technique, measurement_start_time, id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO measurement_techniques
        SELECT j.value, m.measurement_start_time, m.id
        FROM measurements m,
             json_each('[' || replace(json_quote(m.techniques), ' ', '\",\"') || ']') j
        WHERE m.techniques != '' AND j.value != '';
    CREATE TRIGGER measurement_techniques_insert AFTER INSERT ON measurements
    WHEN NEW.techniques != '' BEGIN
        INSERT OR IGNORE INTO measurement_techniques
            SELECT value, NEW.measurement_start_time, NEW.id
            FROM json_each('[' || replace(json_quote(NEW.techniques), ' ', '\",\"') || ']')
            WHERE value != '';
    END;
    CREATE TRIGGER measurement_techniques_delete AFTER DELETE ON measurements
    WHEN OLD.techniques != '' BEGIN
        DELETE FROM measurement_techniques
        WHERE measurement_start_time = OLD.measurement_start_time AND id = OLD.id
          AND technique IN (SELECT value FROM
              json_each('[' || replace(json_quote(OLD.techniques), ' ', '\",\"') || ']'));
    END;
    CREATE TRIGGER measurement_techniques_update AFTER UPDATE OF measurement_start_time,
        techniques ON measurements BEGIN
        DELETE FROM measurement_techniques
        WHERE measurement_start_time = OLD.measurement_start_time AND id = OLD.id
          AND technique IN (SELECT value FROM
              json_each('[' || replace(json_quote(OLD.techniques), ' ', '\",\"') || ']'));
        INSERT OR IGNORE INTO measurement_techniques
            SELECT value, NEW.measurement_start_time, NEW.id
            FROM json_each('[' || replace(json_quote(NEW.techniques), ' ', '\",\"') || ']')
            WHERE NEW.techniques != '' AND value != '';
    END;",
    // 5 -> 6: OONI's `anomaly=true` on one network is read as one page per anomalous status
    // on that network (the API merges them); with only (status, time) or (network, time) to
    // go by, a status that network never had scanned all of that status's rows (0.5 s at a
    // million). This index answers network and status together, in time order.
    "CREATE INDEX measurements_asn_status_time
        ON measurements(probe_asn, status, measurement_start_time, id);",
    // 6 -> 7: the index on status alone is the first column of (status, time, id), which
    // answers every search the first answered; one b-tree fewer for each insert to write.
    "DROP INDEX measurements_status;",
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`VERSION`], one migration per transaction.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: VERSION,
        });
    }
    for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found.max(0) as usize)) {
        let version = from + 1;
        let fail = |source| StoreError::Migrate { version, source };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        // PRAGMA takes no bound parameters; `version` is an integer we computed.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))
            .map_err(fail)?;
        if version == 2 {
            backfill(&tx).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

/// Fills the columns added by migration 2 for rows written by version 1, reading each stored
/// measurement once (streamed, in the migration's transaction).
fn backfill(tx: &rusqlite::Transaction<'_>) -> Result<(), rusqlite::Error> {
    let mut read = tx.prepare("SELECT id, json FROM measurements WHERE uid IS NULL")?;
    let mut write =
        tx.prepare("UPDATE measurements SET uid = ?1, domain = ?2, category = ?3 WHERE id = ?4")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let json: String = row.get(1)?;
        // A row that no longer parses keeps a uid of its own so that it stays readable (and
        // reported as damaged when read) instead of failing the upgrade.
        let (uid, domain, category) =
            match serde_json::from_str::<interfero_model::Measurement>(&json) {
                Ok(m) => (
                    crate::uid_of(&m),
                    crate::query::domain_of(&m.input),
                    crate::query::category_of(&m),
                ),
                Err(_) => (format!("damaged-{id}"), String::new(), String::new()),
            };
        // Two version-1 rows with the same observations keep both; the second gets a suffix.
        let taken: bool = tx
            .query_row("SELECT 1 FROM measurements WHERE uid = ?1", [&uid], |_| {
                Ok(true)
            })
            .unwrap_or(false);
        let uid = if taken { format!("{uid}-{id}") } else { uid };
        write.execute(rusqlite::params![uid, domain, category, id])?;
    }
    drop(rows);
    let mut read = tx.prepare("SELECT id, input FROM events WHERE input != ''")?;
    let mut write = tx.prepare("UPDATE events SET domain = ?1 WHERE id = ?2")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let (id, input): (i64, String) = (row.get(0)?, row.get(1)?);
        write.execute(rusqlite::params![crate::query::domain_of(&input), id])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{synthetic, MeasurementStore, SqliteStore};

    /// A database written by version 1 (no uid, domain or category) upgrades in place: every
    /// row gets its uid and columns, so the query interface finds it.
    #[test]
    fn version_1_rows_are_backfilled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.execute_batch("PRAGMA user_version = 1").unwrap();
            tx.execute(
                "INSERT INTO runs (started, software_version, probe_cc, probe_asn, note)
                 VALUES ('2026-11-30 10:00:00', '0.1.0', 'KZ', 'AS9198', '')",
                [],
            )
            .unwrap();
            for i in 0..3 {
                let mut m = synthetic::varied(i);
                m.input = format!("https://Site-{i}.KZ:443/a");
                let json = serde_json::to_string(&m).unwrap();
                tx.execute(
                    "INSERT INTO measurements (run_id, input, test_name, measurement_start_time,
                     status, techniques, confidence, probe_cc, probe_asn, json)
                     VALUES (1, ?1, 'web_connectivity', ?2, 'accessible', '', 0.9, 'KZ', 'AS9198', ?3)",
                    rusqlite::params![m.input, m.measurement_start_time, json],
                )
                .unwrap();
            }
            tx.execute(
                "INSERT INTO events (input, kind, technique, started, ended, evidence)
                 VALUES ('https://Site-1.KZ/x', 'block_started', NULL, '2026-11-30 10:00:00', NULL, '[]')",
                [],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let q = crate::Query {
            domain: Some("site-1.kz".into()),
            ..crate::Query::default()
        };
        assert_eq!(store.count_matching(&q).unwrap(), 1);
        let got = store.get(2).unwrap().unwrap();
        assert_eq!(got.uid, crate::uid_of(&got.measurement));
        let e = crate::EventQuery {
            domain: Some("site-1.kz".into()),
            ..crate::EventQuery::default()
        };
        assert_eq!(store.query_events(&e).unwrap().len(), 1);
    }

    /// A database of version 4 (techniques only in their text column) upgrades in place: its
    /// rows are found by technique, and the technique table follows later inserts, re-judging
    /// and deletes.
    #[test]
    fn version_4_rows_are_found_by_technique() {
        use interfero_model::{Status, Technique, Verdict};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..4] {
                tx.execute_batch(sql).unwrap();
            }
            tx.execute_batch("PRAGMA user_version = 4").unwrap();
            tx.execute(
                "INSERT INTO runs (started, software_version, probe_cc, probe_asn, note)
                 VALUES ('2026-11-30 10:00:00', '0.1.0', 'KZ', 'AS9198', '')",
                [],
            )
            .unwrap();
            for (i, techniques) in ["dns.nxdomain http.blockpage", "", "tls.timeout"]
                .into_iter()
                .enumerate()
            {
                let m = synthetic::measurement(i);
                let json = serde_json::to_string(&m).unwrap();
                tx.execute(
                    "INSERT INTO measurements (run_id, input, test_name, measurement_start_time,
                     status, techniques, confidence, probe_cc, probe_asn, json, uid)
                     VALUES (1, ?1, 'web_connectivity', ?2, 'blocked', ?3, 0.9, 'KZ', 'AS9198', ?4, ?5)",
                    rusqlite::params![
                        m.input,
                        m.measurement_start_time,
                        techniques,
                        json,
                        format!("uid-{i}")
                    ],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let ids = |t: Technique| -> Vec<i64> {
            let q = crate::Query {
                technique: Some(t),
                ..crate::Query::default()
            };
            let p = crate::PageRequest::first(10, crate::Order::Oldest);
            store
                .page(&q, &p)
                .unwrap()
                .items
                .iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(ids(Technique::DnsNxdomain), vec![1]);
        assert_eq!(ids(Technique::HttpBlockpage), vec![1]);
        assert_eq!(ids(Technique::TlsTimeout), vec![3]);
        // Re-judged: the old technique no longer finds it, the new one does.
        let v = Verdict::new(Status::Blocked, 0.9, "tls").with(Technique::TlsTimeout);
        store.set_verdict(1, Some(&v)).unwrap();
        assert_eq!(ids(Technique::DnsNxdomain), Vec::<i64>::new());
        assert_eq!(ids(Technique::TlsTimeout), vec![1, 3]);
        // Inserted after the upgrade.
        let run = store.begin_run(&crate::RunInfo::default()).unwrap();
        let new = store.insert(run, &synthetic::measurement(2)).unwrap();
        assert_eq!(ids(Technique::DnsNxdomain), vec![new]);
        // Deleted: gone from the technique table too.
        store
            .conn()
            .execute("DELETE FROM measurements WHERE id = 3", [])
            .unwrap();
        assert_eq!(ids(Technique::TlsTimeout), vec![1]);
        let left: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM measurement_techniques", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            left, 3,
            "tls.timeout of 1, dns.nxdomain and http.blockpage of the new one"
        );
    }

    /// Migration 7 dropped the index on status alone: a search by status is still answered
    /// from an index, (status, time, id), not by reading the table.
    #[test]
    fn a_search_by_status_still_reads_an_index() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!indexes.iter().any(|i| i == "measurements_status"));
        for sql in [
            "SELECT COUNT(*) FROM measurements WHERE status = 'blocked'",
            "SELECT id FROM measurements WHERE status = 'blocked'
             ORDER BY measurement_start_time DESC, id DESC LIMIT 50",
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join("; ");
            assert!(
                plan.contains("INDEX measurements_status_time"),
                "{sql}: {plan}"
            );
        }
    }
}
