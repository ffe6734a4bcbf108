//! `daily_counts`: how many measurements each (day, country, network, domain, category,
//! status, techniques) has, kept by the store beside `measurements`, so that whole-day charts
//! and counts read a few thousand summed rows instead of millions, and never need `FINAL`.
//!
//! The table is a `SummingMergeTree(n)`: rows with the same key add up when parts merge, and a
//! read sums `n` itself (`sum(n) … HAVING sum(n) > 0`), so unmerged parts are counted exactly
//! too. The store writes the change each batch makes to the *latest* state of its
//! measurements, never a row per copy:
//!
//! - **a new measurement**: +1 under its key. Before a batch is sent, its new measurements are
//!   looked up on the server ([`Inner::stored_ids`]); one that is stored already is a
//!   re-submission, which would lose to the stored copy anyway (the first copy wins, see
//!   `rows::version`), so it is not sent and changes no count;
//! - **a re-judged measurement**: −1 under the key its stored verdict had (read by
//!   `set_verdict`, which reads the stored row anyway) and +1 under the new one; re-judged
//!   again before it is sent, the change still runs from the stored verdict to the newest.
//!
//! The measurements are written first, the counts' change right after (two INSERTs: ClickHouse
//! has no transaction across tables). If the second fails, the change is kept and sent before
//! anything else by the next write or read ([`Inner::flush`]), so counts catch up instead of
//! drifting. What stays inexact, and is said in `docs/scale-out.md`: a process killed between
//! the two INSERTs, and two processes that submit the same new measurement (or re-judge the
//! same one) at the same instant.

use super::client::Inner;
use super::rows::{DailyRow, MeasurementRow};
use super::sql::{Bound, Where};
use super::store::ClickHouseStore;
use crate::{Axis, Query, StoreError};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The key of a `daily_counts` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DailyKey {
    probe_cc: String,
    day: String,
    probe_asn: String,
    domain: String,
    category: String,
    status: String,
    techniques: String,
}

/// The day of a measurement time: its first 10 characters, as SQLite's `substr` takes them.
fn day_of(time: &str) -> String {
    time.chars().take(10).collect()
}

/// The `daily_counts` key a stored row counts under (`status` is `''` when unjudged, as in
/// `measurements`; techniques joined by one space).
pub(crate) fn key_of(r: &MeasurementRow) -> DailyKey {
    DailyKey {
        probe_cc: r.probe_cc.clone(),
        day: day_of(&r.measurement_start_time),
        probe_asn: r.probe_asn.clone(),
        domain: r.domain.clone(),
        category: r.category.clone(),
        status: r.status.clone(),
        techniques: r.techniques.join(" "),
    }
}

/// Changes to `daily_counts` not written yet.
#[derive(Debug, Default)]
pub(crate) struct Deltas(HashMap<DailyKey, i64>);

impl Deltas {
    pub(crate) fn add(&mut self, key: DailyKey, n: i64) {
        *self.0.entry(key).or_insert(0) += n;
    }

    /// Adds `other` into these.
    pub(crate) fn merge(&mut self, other: Deltas) {
        for (k, n) in other.0 {
            self.add(k, n);
        }
    }

    /// The rows to insert (changes that cancel out are left out).
    pub(crate) fn rows(&self) -> Vec<DailyRow> {
        self.0
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(k, n)| DailyRow {
                probe_cc: k.probe_cc.clone(),
                day: k.day.clone(),
                probe_asn: k.probe_asn.clone(),
                domain: k.domain.clone(),
                category: k.category.clone(),
                status: k.status.clone(),
                techniques: k.techniques.clone(),
                n: *n,
            })
            .collect()
    }
}

impl Inner {
    /// Which of these rows' measurements the server holds already.
    ///
    /// The rows are grouped by country, network and day, and the ids stored in each group's
    /// range of times are read by the sorting key (country, network, time): the primary index
    /// narrows the read to those ranges, and the ids are compared here. (Sending the batch's
    /// ids instead costs 18.16 about a second to parse per 20,000, and the key prunes nothing
    /// for an id alone; 18.16's index analysis slows with every range ORed, ~1 ms each at 10 M
    /// rows, hence days rather than hours.) A batch of recent measurements (a collector's, or
    /// an import read in time order) reads a few granules; one scattered over a month reads
    /// that month of its networks.
    pub(crate) fn stored_ids(&self, rows: &[&MeasurementRow]) -> Result<HashSet<u64>, StoreError> {
        let mut ranges: BTreeMap<(&str, &str, String), (&str, &str)> = BTreeMap::new();
        for r in rows {
            let t = r.measurement_start_time.as_str();
            let e = ranges
                .entry((r.probe_cc.as_str(), r.probe_asn.as_str(), day_of(t)))
                .or_insert((t, t));
            e.0 = e.0.min(t);
            e.1 = e.1.max(t);
        }
        let wanted: HashSet<u64> = rows.iter().map(|r| r.id).collect();
        let mut found = HashSet::new();
        let groups: Vec<_> = ranges.into_iter().collect();
        // At most a hundred ranges per statement (see above).
        for chunk in groups.chunks(100) {
            let mut or = Vec::new();
            let mut values = Vec::new();
            for ((cc, asn, _), (lo, hi)) in chunk {
                or.push(
                    "(probe_cc = ? AND probe_asn = ? AND measurement_start_time >= ? \
                     AND measurement_start_time <= ?)",
                );
                values.extend([
                    Bound::Text(cc.to_string()),
                    Bound::Text(asn.to_string()),
                    Bound::Text(lo.to_string()),
                    Bound::Text(hi.to_string()),
                ]);
            }
            let mut w = Where::default();
            w.push(format!("({})", or.join(" OR ")), values);
            let ids: Vec<u64> = self.fetch(
                "look for re-submissions",
                format!("SELECT id FROM measurements {}", w.clause()),
                &w,
            )?;
            found.extend(ids.into_iter().filter(|id| wanted.contains(id)));
        }
        Ok(found)
    }
}

/// The conditions of `q` on `daily_counts` (only for a query [`Query::whole_days`] admits).
fn daily_where(q: &Query) -> Where {
    let mut w = Where::default();
    let conditions = [
        ("day >= ?", q.since.clone()),
        ("day < ?", q.until.clone()),
        ("probe_cc = ?", q.probe_cc.clone()),
        ("probe_asn = ?", q.probe_asn.clone()),
        (
            "domain = ?",
            q.domain.as_ref().map(|d| d.to_ascii_lowercase()),
        ),
        ("category = ?", q.category.clone()),
        ("status = ?", q.status.map(|s| s.as_str().to_string())),
        (
            "has(splitByChar(' ', techniques), ?)",
            q.technique.map(|t| t.as_str().to_string()),
        ),
    ];
    for (c, v) in conditions {
        if let Some(v) = v {
            w.push(c, [Bound::Text(v)]);
        }
    }
    w
}

fn daily_axis(a: Axis) -> &'static str {
    match a {
        Axis::Day => "day",
        Axis::Month => "substring(day, 1, 7)",
        Axis::Country => "probe_cc",
        Axis::Network => "probe_asn",
        Axis::Domain => "domain",
        Axis::Category => "category",
        // Only the axes `Query::whole_days` admits reach here.
        _ => "status",
    }
}

impl ClickHouseStore {
    /// How many measurements match `q`, from `daily_counts` (after a flush).
    pub(crate) fn daily_count(&self, q: &Query) -> Result<u64, StoreError> {
        let w = daily_where(q);
        let sql = format!("SELECT toInt64(sum(n)) FROM daily_counts {}", w.clause());
        let n: Vec<i64> = self.inner.fetch("count measurements", sql, &w)?;
        Ok(n.first()
            .map(|n| u64::try_from(*n).unwrap_or(0))
            .unwrap_or(0))
    }

    /// The cells of an aggregation, from `daily_counts` (after a flush).
    pub(crate) fn daily_cells(
        &self,
        q: &Query,
        x: Axis,
        y: Option<Axis>,
    ) -> Result<Vec<super::rows::CellRow>, StoreError> {
        let w = daily_where(q);
        let sql = format!(
            "SELECT {} AS x, {} AS y, status AS s, toUInt64(sum(n)) AS c FROM daily_counts {} \
             GROUP BY x, y, s HAVING sum(n) > 0",
            daily_axis(x),
            y.map(daily_axis).unwrap_or("''"),
            w.clause()
        );
        self.inner.fetch("count by group", sql, &w)
    }
}

/// The statement that fills `daily_counts` from the measurements already stored (once, when
/// the table is created in a database that has measurements).
pub(crate) const BACKFILL: &str = "INSERT INTO daily_counts \
    SELECT toString(probe_cc) AS c, substring(measurement_start_time, 1, 10) AS d, \
    toString(probe_asn) AS a, toString(domain) AS dm, toString(category) AS k, \
    toString(status) AS s, arrayStringConcat(techniques, ' ') AS tech, toInt64(count()) \
    FROM measurements FINAL GROUP BY c, d, a, dm, k, s, tech";
