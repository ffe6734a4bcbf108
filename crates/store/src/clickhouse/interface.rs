//! The [`MeasurementStore`] interface on ClickHouse.

use super::client::lock;
use super::daily::key_of;
use super::reads::{event_of, stored};
use super::rows::{self, EventRow, RunRow};
use super::sql::{self, Bound, Where};
use super::store::ClickHouseStore;
use crate::{
    Axis, Bucket, Counts, Cursor, Event, EventId, EventQuery, Filter, MeasurementId,
    MeasurementStore, Order, Page, PageRequest, Query, RunId, RunInfo, StoreError, Stored,
    MAX_PAGE,
};
use interfero_model::{Measurement, Verdict};
use std::io::Write;

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
        let mut items = self.read_stored(&w, dir, limit + 1)?;
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
        if query.whole_days(&[]) {
            return self.daily_count(query);
        }
        let mut total = 0;
        for (w, fin) in self.dedup_scopes(&sql::measurement_where(query))? {
            let sql = format!("SELECT count() FROM measurements {fin} {}", w.clause());
            let n: Vec<u64> = self.inner.fetch("count measurements", sql, &w)?;
            total += n.first().copied().unwrap_or(0);
        }
        Ok(total)
    }

    fn aggregate(
        &self,
        query: &Query,
        x: Axis,
        y: Option<Axis>,
    ) -> Result<Vec<Bucket>, StoreError> {
        self.inner.flush()?;
        let mut cells: Vec<rows::CellRow> = Vec::new();
        let axes: Vec<Axis> = std::iter::once(x).chain(y).collect();
        let scopes = if query.whole_days(&axes) {
            // Whole days: the per-day counts answer (`daily.rs`), whatever the table's size.
            cells = self.daily_cells(query, x, y)?;
            Vec::new()
        } else {
            self.dedup_scopes(&sql::measurement_where(query))?
        };
        for (w, fin) in scopes {
            let sql = format!(
                "SELECT {} AS x, {} AS y, toString(status) AS s, count() AS n \
                 FROM measurements {fin} {} GROUP BY x, y, s",
                sql::axis_expr(x),
                y.map(sql::axis_expr).unwrap_or("''"),
                w.clause()
            );
            cells.extend(
                self.inner
                    .fetch::<rows::CellRow>("count by group", sql, &w)?,
            );
        }
        // The server groups by the stored status ('' when unjudged); named here.
        for c in &mut cells {
            if x == Axis::Status {
                c.x = sql::status_name(&c.x).to_string();
            }
            if y == Some(Axis::Status) {
                c.y = sql::status_name(&c.y).to_string();
            }
        }
        // Sorted here, by bytes as `str` sorts (and SQLite's BINARY collation), whatever the
        // server's collation or LowCardinality dictionary order.
        cells.sort_by(|a, b| (&a.x, &a.y).cmp(&(&b.x, &b.y)));
        let mut out: Vec<Bucket> = Vec::new();
        for c in cells {
            match out.last_mut() {
                Some(b) if b.x == c.x && b.y == c.y => b.counts.add(sql::status_name(&c.s), c.n),
                _ => {
                    let mut counts = Counts::default();
                    counts.add(sql::status_name(&c.s), c.n);
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
        // A measurement still waiting is sent first: it may be a copy of a stored one (a
        // re-submission, left out when sent), and the stored row is what is re-judged. Then
        // the stored row is read and written again with the next revision, which reads
        // prefer; its per-day key is the one the new verdict leaves (`daily.rs`).
        let waiting = lock(&self.inner.pending).get(key).is_some();
        if waiting {
            self.inner.flush()?;
        }
        // A batch in flight may hold it: wait for that one to land.
        drop(lock(&self.inner.sending));
        let r = self
            .latest(&[key])?
            .remove(&key)
            .ok_or(StoreError::UnknownMeasurement(id))?;
        let rev = rows::revision(r.version) + 1;
        let mut m = crate::sqlite::decode(id, &r.json)?;
        let was = key_of(&rows::row_of(r.run_id, &m, r.uid.clone())?);
        m.verdict = verdict.cloned();
        let row = rows::row_of(r.run_id, &m, r.uid)?;
        self.inner.rejudge(row, rev, Some(was))
    }
}
