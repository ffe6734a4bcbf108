//! The rows exchanged with ClickHouse (RowBinary, without schema validation: Debian's 18.16
//! server has no `RowBinaryWithNamesAndTypes`, which validation needs), and the ids the store
//! assigns.

use crate::query::{category_of, domain_of};
use crate::{RunId, StoreError};
use interfero_model::{Measurement, Status};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One row of `measurements`, in the table's column order.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct MeasurementRow {
    pub probe_cc: String,
    pub probe_asn: String,
    pub measurement_start_time: String,
    pub id: u64,
    pub t: u32,
    pub domain: String,
    pub input: String,
    pub category: String,
    pub test_name: String,
    pub status: String,
    pub judged: u8,
    pub anomaly: u8,
    pub techniques: Vec<String>,
    pub confidence: f64,
    pub run_id: i64,
    pub uid: String,
    pub json: String,
    pub version: u64,
}

/// The columns read back for a [`crate::Stored`]. The sorting key's columns are among them:
/// 18.16 answers "Cannot find column probe_asn (or version) in source stream" to a `FINAL`
/// read through a `Distributed` table that does not select them.
pub(crate) const STORED_COLUMNS: &str =
    "probe_cc, probe_asn, measurement_start_time, id, uid, run_id, json, version";

/// What a read of a stored measurement returns.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
#[allow(dead_code)] // the sorting key's columns are read for the reason above, not used
pub(crate) struct StoredRow {
    pub probe_cc: String,
    pub probe_asn: String,
    pub measurement_start_time: String,
    pub id: u64,
    pub uid: String,
    pub run_id: i64,
    pub json: String,
    pub version: u64,
}

/// The key of a stored measurement (the first step of a read).
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
#[allow(dead_code)] // all of the sorting key is selected (see STORED_COLUMNS); the id is used
pub(crate) struct KeyRow {
    pub probe_cc: String,
    pub probe_asn: String,
    pub measurement_start_time: String,
    pub id: u64,
    pub version: u64,
}

/// One row of `runs`.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct RunRow {
    pub id: i64,
    pub started: String,
    pub software_version: String,
    pub probe_cc: String,
    pub probe_asn: String,
    pub note: String,
}

/// One row of `events`, in the table's column order.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct EventRow {
    pub id: i64,
    pub input: String,
    pub kind: String,
    pub technique: Option<String>,
    pub started: String,
    pub ended: Option<String>,
    pub evidence: String,
    pub probe_cc: String,
    pub probe_asn: String,
    pub domain: String,
    pub version: u64,
}

/// One row of `daily_counts` (a change to a count, or a count read back).
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct DailyRow {
    pub probe_cc: String,
    pub day: String,
    pub probe_asn: String,
    pub domain: String,
    pub category: String,
    pub status: String,
    pub techniques: String,
    pub n: i64,
}

/// One row of `incidents`.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct IncidentRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub visibility: String,
    pub country: String,
    pub start_first: String,
    pub end_last: String,
    pub revision: u32,
    pub json: String,
}

/// One row of `incident_audit`.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub(crate) struct AuditRow {
    pub incident_id: String,
    pub revision: u32,
    pub at: String,
    pub by: String,
    pub action: String,
    pub json: String,
}

/// One cell of an aggregation as ClickHouse answers it (per status).
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub(crate) struct CellRow {
    pub x: String,
    pub y: String,
    pub s: String,
    pub n: u64,
}

/// The store's id of a measurement: the first 62 bits of SHA-256 of its uid.
///
/// ClickHouse has no autoincrement, and a counter would need one writer (or coordination
/// between collectors and shards). An id derived from the uid needs neither: every writer
/// computes the same id for the same measurement, so a re-submission has the same sorting key
/// (and lands on the same shard) and is deduplicated by the table itself; the id is known
/// before the row reaches the server, so `insert` answers at once. (time, id) stays a total,
/// stable order: two rows tie only if they share a measurement time *and* 62 hash bits (at
/// 10 billion rows, about one pair in a million across *all* times). Ids are not increasing in
/// insertion order, which nothing in the interface relies on. 62 bits keep `id + n` far from
/// `i64::MAX`.
pub(crate) fn id_of(uid: &str) -> u64 {
    let d = Sha256::digest(uid.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) >> 2
}

/// The measurement time as a `DateTime` (seconds), for the monthly partition; an unparseable
/// time is kept (its text is what queries compare) in the partition of 1970-01.
pub(crate) fn epoch_of(time: &str) -> u32 {
    fast_epoch(time)
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
                .ok()
                .and_then(|t| u32::try_from(t.and_utc().timestamp()).ok())
        })
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` read by hand (the common case; chrono's format parser was a visible
/// part of the ingest profile), `None` for anything else, which chrono then reads.
fn fast_epoch(time: &str) -> Option<u32> {
    let b = time.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[16] != b':' || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
    let days = date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?);
    let secs = days.num_seconds() + i64::from(h * 3600 + mi * 60 + s);
    u32::try_from(secs).ok()
}

/// The row for a measurement of `run`, with `uid` (which re-judging keeps). The version is set
/// when the row is written.
pub(crate) fn row_of(
    run: RunId,
    m: &Measurement,
    uid: String,
) -> Result<MeasurementRow, StoreError> {
    let json = serde_json::to_string(m).map_err(|source| StoreError::Encode {
        input: m.input.clone(),
        source,
    })?;
    let v = m.verdict.as_ref();
    Ok(MeasurementRow {
        probe_cc: m.probe_cc.clone(),
        probe_asn: m.probe_asn.clone(),
        measurement_start_time: m.measurement_start_time.clone(),
        id: id_of(&uid),
        t: epoch_of(&m.measurement_start_time),
        domain: domain_of(&m.input),
        input: m.input.clone(),
        category: category_of(m),
        test_name: m.test_name.clone(),
        status: v.map(|v| v.status.as_str()).unwrap_or("").to_string(),
        judged: u8::from(v.is_some()),
        anomaly: u8::from(v.is_some_and(|v| {
            matches!(
                v.status,
                Status::Blocked | Status::Throttled | Status::Intercepted
            )
        })),
        techniques: v
            .map(|v| {
                v.techniques
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        confidence: v.map(|v| v.confidence).unwrap_or(0.0),
        run_id: run,
        uid,
        json,
        version: 0,
    })
}

/// Bits of `version` below the re-judging revision.
pub(crate) const TICK_BITS: u32 = 48;

/// The version of a row written at `tick` (strictly increasing per writer) with re-judging
/// revision `rev`: a higher revision always wins; within one revision the earliest write wins
/// (the tick is inverted), so a re-submission never replaces the first copy.
pub(crate) fn version(rev: u64, tick: u64) -> u64 {
    let mask = (1u64 << TICK_BITS) - 1;
    (rev.min(0xFFFF) << TICK_BITS) | (mask - (tick & mask))
}

/// The re-judging revision of a stored version.
pub(crate) fn revision(version: u64) -> u64 {
    version >> TICK_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_revisions_then_first_write() {
        assert!(version(0, 100) > version(0, 101), "the first copy wins");
        assert!(
            version(1, 10_000) > version(0, 1),
            "a re-judged verdict wins"
        );
        assert_eq!(revision(version(3, 77)), 3);
    }

    #[test]
    fn ids_are_stable_and_small_enough() {
        let a = id_of("20261130100007.000000_KZ_webconnectivity_0123456789abcdef");
        assert_eq!(
            a,
            id_of("20261130100007.000000_KZ_webconnectivity_0123456789abcdef")
        );
        assert!(a < (1 << 62));
        assert_ne!(a, id_of("x"));
        assert_eq!(epoch_of("2026-11-30 10:00:07"), 1_796_032_807);
        assert_eq!(epoch_of("garbage"), 0);
        assert_eq!(epoch_of("1970-01-01 00:00:01"), 1);
        assert_eq!(epoch_of("2026-02-30 00:00:00"), 0, "no such day");
        assert_eq!(epoch_of("2026-11-30 24:00:00"), 0);
    }
}
