//! Reads, deduplicated without paying for `FINAL` where the table allows it.
//!
//! `FINAL` on 18.16 merges every selected row of the range in one thread: ~2.3 s for 800 k
//! rows that a plain read counts in ~0.3 s, and ~2.6 s for one domain's newest 50, which a
//! plain read finds in ~30 ms (docs/performance.md). Two facts make most reads exact without it:
//!
//! - **Counts** (those `daily_counts` cannot answer: an hour, URL or run axis or filter, a
//!   bound inside a day; the others read it, [`super::daily`]): a part written by this store
//!   holds no two rows of one measurement (a batch is deduplicated before it is sent,
//!   [`super::writer`]), and a merged part holds none either (the merge keeps the latest
//!   version). So a month (partition) with a single active part has
//!   no duplicate: counts read such months plainly and only the months with several parts
//!   (recent writes not merged yet) with `FINAL`. After a bulk import, `optimize` leaves one
//!   part per month and no read needs `FINAL`. A sharded store reads with `FINAL` throughout
//!   (the entry node does not see the shards' parts).
//! - **Pages**: the candidates come from a plain read in the page's order (copies and older
//!   verdicts included); a candidate is kept when it is the latest version of its measurement
//!   (what `FINAL` would keep), read by key, and more candidates are read until the page is
//!   full. A measurement re-judged out of a filter is dropped (its latest row does not match),
//!   one re-judged into it is found by its latest row.
//!
//! A re-submission that another writer sends while a count runs may be counted twice by that
//! count (never missed); the next count after the merge is exact.

use super::rows::{EventRow, KeyRow, StoredRow, STORED_COLUMNS};
use super::sql::{placeholders, Bound, Where};
use super::store::ClickHouseStore;
use crate::{Event, EventId, EventKind, StoreError, Stored, MAX_PAGE};
use interfero_model::Technique;
use std::collections::{HashMap, HashSet};

impl ClickHouseStore {
    /// The same conditions split by where duplicates may be: each with `FINAL` or not.
    pub(crate) fn dedup_scopes(&self, w: &Where) -> Result<Vec<(Where, &'static str)>, StoreError> {
        if self.inner.cluster {
            return Ok(vec![(w.clone(), "FINAL")]);
        }
        let parts: Vec<String> = self.inner.fetch(
            "list the parts",
            "SELECT partition FROM system.parts WHERE database = currentDatabase() AND \
             table = 'measurements' AND active GROUP BY partition HAVING count() > 1"
                .into(),
            &Where::default(),
        )?;
        let mut months = Vec::new();
        for p in &parts {
            match p.trim_matches('\'').parse::<u32>() {
                Ok(m) => months.push(m.to_string()),
                // A partition we did not lay out: deduplicate everything.
                Err(_) => return Ok(vec![(w.clone(), "FINAL")]),
            }
        }
        if months.is_empty() {
            return Ok(vec![(w.clone(), "")]);
        }
        // Numbers parsed just above, so they are written into the statement as they are.
        let list = months.join(", ");
        let mut plain = w.clone();
        plain.push(format!("toYYYYMM(t) NOT IN ({list})"), []);
        let mut merged = w.clone();
        merged.push(format!("toYYYYMM(t) IN ({list})"), []);
        Ok(vec![(plain, ""), (merged, "FINAL")])
    }

    /// The measurements matching `w` in the order `dir` (`ASC` or `DESC`) of (time, id), at
    /// most `limit`, each once and in its latest version (see the module's comment).
    pub(crate) fn read_stored(
        &self,
        w: &Where,
        dir: &str,
        limit: usize,
    ) -> Result<Vec<Stored>, StoreError> {
        self.inner.flush()?;
        let round = (limit * 2).max(64);
        let mut out = Vec::new();
        let mut taken = HashSet::new();
        let mut after: Option<(String, u64)> = None;
        loop {
            let mut wr = w.clone();
            if let Some((time, id)) = &after {
                let op = if dir == "ASC" { ">" } else { "<" };
                wr.push(
                    format!(
                        "(measurement_start_time {op} ? OR (measurement_start_time = ? AND id {op} ?))"
                    ),
                    [
                        Bound::Text(time.clone()),
                        Bound::Text(time.clone()),
                        Bound::Id(*id),
                    ],
                );
            }
            let sql = format!(
                "SELECT probe_cc, probe_asn, measurement_start_time, id, version FROM measurements \
                 {} ORDER BY measurement_start_time {dir}, id {dir} LIMIT {round}",
                wr.clause()
            );
            let mut keys: Vec<KeyRow> = self.inner.fetch("find measurements", sql, &wr)?;
            let more = keys.len() == round;
            if more {
                // The last measurement's rows may go on past this round: read them with the
                // next one (unless they fill the whole round).
                let last = keys.last().map(|k| k.id);
                if let Some(cut) = keys.iter().rposition(|k| Some(k.id) != last) {
                    keys.truncate(cut + 1);
                }
            }
            let mut latest = self.latest_of(&keys)?;
            for k in &keys {
                if taken.contains(&k.id) {
                    continue;
                }
                if latest.get(&k.id).is_some_and(|r| r.version == k.version) {
                    taken.insert(k.id);
                    if let Some(r) = latest.remove(&k.id) {
                        out.push(stored(r)?);
                    }
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match keys.last() {
                Some(k) if more => after = Some((k.measurement_start_time.clone(), k.id)),
                _ => return Ok(out),
            }
        }
    }

    /// The latest version of the candidates' measurements, read by their sorting key (the
    /// primary index narrows the read to their networks and time range).
    fn latest_of(&self, keys: &[KeyRow]) -> Result<HashMap<u64, StoredRow>, StoreError> {
        let mut out: HashMap<u64, StoredRow> = HashMap::new();
        let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
            return Ok(out);
        };
        let mut ccs: Vec<&str> = keys.iter().map(|k| k.probe_cc.as_str()).collect();
        let mut asns: Vec<&str> = keys.iter().map(|k| k.probe_asn.as_str()).collect();
        ccs.sort_unstable();
        ccs.dedup();
        asns.sort_unstable();
        asns.dedup();
        let (lo, hi) = if first.measurement_start_time <= last.measurement_start_time {
            (first, last)
        } else {
            (last, first)
        };
        let mut w = Where::default();
        w.push(
            format!("probe_cc IN ({})", placeholders(ccs.len())),
            ccs.iter().map(|c| Bound::Text(c.to_string())),
        );
        w.push(
            format!("probe_asn IN ({})", placeholders(asns.len())),
            asns.iter().map(|a| Bound::Text(a.to_string())),
        );
        w.push(
            "measurement_start_time >= ? AND measurement_start_time <= ?",
            [
                Bound::Text(lo.measurement_start_time.clone()),
                Bound::Text(hi.measurement_start_time.clone()),
            ],
        );
        // Numbers we produced, so they are written into the statement as they are.
        let ids: Vec<String> = keys.iter().map(|k| k.id.to_string()).collect();
        w.push(format!("id IN ({})", ids.join(",")), []);
        let sql = format!("SELECT {STORED_COLUMNS} FROM measurements {}", w.clause());
        let rows: Vec<StoredRow> = self.inner.fetch("read measurements", sql, &w)?;
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

    /// The latest version of the rows with these ids, wherever they are (a scan of the id
    /// column: for single rows; pages use [`ClickHouseStore::latest_of`]).
    pub(crate) fn latest(&self, ids: &[u64]) -> Result<HashMap<u64, StoredRow>, StoreError> {
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

    pub(crate) fn select_events(
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
}

pub(crate) fn stored(r: StoredRow) -> Result<Stored, StoreError> {
    let id = i64::try_from(r.id).unwrap_or(i64::MAX);
    Ok(Stored {
        id,
        uid: r.uid,
        run: r.run_id,
        measurement: crate::sqlite::decode(id, &r.json)?,
    })
}

pub(crate) fn event_of(r: EventRow) -> Result<(EventId, Event), StoreError> {
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
