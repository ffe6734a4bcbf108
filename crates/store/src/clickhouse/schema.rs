//! The ClickHouse schema: six tables shaped for the explorer's queries.
//!
//! - `measurements` is a `ReplacingMergeTree(version)`, **partitioned by month** of the
//!   measurement time and **ordered by (probe_cc, probe_asn, measurement_start_time, id)**: the
//!   explorer filters by country, then network, within a time range, and pages in time order;
//!   the primary index narrows all of these to the granules concerned. Country, network,
//!   domain, category, status and test name are `LowCardinality(String)` (a few hundred to tens
//!   of thousands of values: dictionary-encoded, compared as integers). `judged` and `anomaly`
//!   are real booleans (`UInt8`), not OONI's `'t'`/`'f'` strings. The full measurement is kept
//!   beside them as JSON, compressed: with `CODEC(ZSTD(3))` on servers that know column codecs
//!   (19.1 and later); Debian's 18.16 has no codecs, so there the server's part compression
//!   (LZ4 by default, or what `<compression>` in its config says) applies to it.
//! - **Deduplication**: a measurement's id is derived from its uid, so a re-submission has the
//!   same sorting key and the same partition as the first copy; `ReplacingMergeTree` keeps one
//!   row per key (the highest `version`), and every read says `FINAL`, so duplicates not merged
//!   yet are never counted twice. `version` = re-judging revision in the high 16 bits and an
//!   inverted write tick below: the first submission wins over a later re-submission, and a
//!   re-judged verdict wins over both.
//! - `daily_counts` is a `SummingMergeTree` of per-day counts that the store keeps exact
//!   through re-submissions and re-judging (`daily.rs`); whole-day charts and counts read it.
//! - `incidents` and `incident_audit` hold the incident register (`incidents.rs`).
//! - `runs` and `events` are small `ReplacingMergeTree`s ordered by id; ending an event writes a
//!   new version of its row.
//!
//! With a cluster (`?cluster=NAME`), each table is created as `<name>_local` on every shard and
//! a `Distributed` table `<name>` over them (sharded by id, so a measurement and its
//! re-submissions land on the same shard and deduplicate there) on every node listed.

/// The storage engine of a table and its layout (ORDER BY and PARTITION BY).
struct Table {
    name: &'static str,
    columns: &'static str,
    engine: &'static str,
    /// How a `Distributed` table spreads rows over the shards.
    shard_by: &'static str,
}

const MEASUREMENTS_COLUMNS: &str = "
    probe_cc LowCardinality(String),
    probe_asn LowCardinality(String),
    measurement_start_time String,
    id UInt64,
    t DateTime,
    domain LowCardinality(String),
    input String,
    category LowCardinality(String),
    test_name LowCardinality(String),
    status LowCardinality(String),
    judged UInt8,
    anomaly UInt8,
    techniques Array(String),
    confidence Float64,
    run_id Int64,
    uid String,
    json String{json_codec},
    version UInt64";

const TABLES: [Table; 6] = [
    Table {
        name: "measurements",
        columns: MEASUREMENTS_COLUMNS,
        engine: "ReplacingMergeTree(version) PARTITION BY toYYYYMM(t) \
                 ORDER BY (probe_cc, probe_asn, measurement_start_time, id)",
        shard_by: "id",
    },
    Table {
        name: "runs",
        columns: "
    id Int64,
    started String,
    software_version String,
    probe_cc String,
    probe_asn String,
    note String",
        engine: "ReplacingMergeTree ORDER BY id",
        shard_by: "id",
    },
    Table {
        name: "events",
        columns: "
    id Int64,
    input String,
    kind LowCardinality(String),
    technique Nullable(String),
    started String,
    ended Nullable(String),
    evidence String,
    probe_cc String,
    probe_asn String,
    domain String,
    version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY id",
        shard_by: "id",
    },
    // Per-day counts, kept by the store (`daily.rs`); plain strings, as 18.16's
    // LowCardinality is experimental in a sorting key. Any shard may hold a change to any
    // count: reads sum over all of them.
    Table {
        name: "daily_counts",
        columns: "
    probe_cc String,
    day String,
    probe_asn String,
    domain String,
    category String,
    status String,
    techniques String,
    n Int64",
        engine: "SummingMergeTree(n) \
                 ORDER BY (probe_cc, day, probe_asn, domain, category, status, techniques)",
        shard_by: "rand()",
    },
    // The incident register (`incidents.rs`): the latest revision of each record, and every
    // revision in the audit trail.
    Table {
        name: "incidents",
        columns: "
    id String,
    kind String,
    status String,
    visibility String,
    country String,
    start_first String,
    end_last String,
    revision UInt32,
    json String",
        engine: "ReplacingMergeTree(revision) ORDER BY id",
        shard_by: "cityHash64(id)",
    },
    Table {
        name: "incident_audit",
        columns: "
    incident_id String,
    revision UInt32,
    at String,
    by String,
    action String,
    json String",
        engine: "ReplacingMergeTree ORDER BY (incident_id, revision)",
        shard_by: "cityHash64(incident_id)",
    },
];

/// The statements that create the single-node schema in `db` (idempotent).
pub(crate) fn single_node(db: &str, codecs: bool) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS {db}")];
    for t in &TABLES {
        out.push(create(db, t.name, t, codecs));
    }
    out
}

/// The statements for one shard's local tables (run on every shard).
pub(crate) fn shard_local(db: &str, codecs: bool) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS {db}")];
    for t in &TABLES {
        out.push(create(db, &format!("{}_local", t.name), t, codecs));
    }
    out
}

/// The statements for the `Distributed` tables over the shards' local tables (run on every
/// node that clients talk to).
pub(crate) fn distributed(db: &str, cluster: &str, codecs: bool) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS {db}")];
    for t in &TABLES {
        let columns = t
            .columns
            .replace("{json_codec}", if codecs { " CODEC(ZSTD(3))" } else { "" });
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {db}.{name} ({columns}\n) \
             ENGINE = Distributed({cluster}, {db}, {name}_local, {})",
            t.shard_by,
            name = t.name,
        ));
    }
    out
}

fn create(db: &str, name: &str, t: &Table, codecs: bool) -> String {
    let columns = t
        .columns
        .replace("{json_codec}", if codecs { " CODEC(ZSTD(3))" } else { "" });
    format!(
        "CREATE TABLE IF NOT EXISTS {db}.{name} ({columns}\n) ENGINE = {}",
        t.engine
    )
}

/// Whether a server of this version (`18.16.1`) knows column codecs (19.1 and later).
pub(crate) fn has_codecs(version: &str) -> bool {
    version
        .split('.')
        .next()
        .and_then(|major| major.trim().parse::<u32>().ok())
        .is_some_and(|major| major >= 19)
}

/// Whether a database or cluster name is a plain identifier (it is pasted into DDL, where no
/// value can be bound).
pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_only_where_the_server_knows_them() {
        assert!(!has_codecs("18.16.1"));
        assert!(has_codecs("25.2.1.1"));
        assert!(single_node("db", true)[1].contains("json String CODEC(ZSTD(3))"));
        assert!(!single_node("db", false)[1].contains("CODEC"));
        assert!(
            distributed("db", "c", false)[1].contains("Distributed(c, db, measurements_local, id)")
        );
    }

    #[test]
    fn identifiers_are_plain() {
        assert!(is_identifier("interfero_2"));
        for bad in ["", "a-b", "a;DROP", "1a", "a b", "`x`"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
