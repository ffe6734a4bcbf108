//! The incident register on ClickHouse: the same [`IncidentStore`] as on SQLite, so that
//! `interfero serve --store clickhouse://…` serves and edits it.
//!
//! - `incidents` is a `ReplacingMergeTree(revision)` ordered by id: a new revision is a new
//!   row, reads say `FINAL` (the register is small: hundreds to thousands of records).
//! - `incident_audit` holds every revision, ordered by (id, revision).
//! - A batch is decided whole first, by the rules SQLite uses (`crate::incidents::plan`: a
//!   refusal refuses the batch before anything is written), then written in one INSERT per
//!   table (one INSERT is stored whole on a node). What SQLite's transaction gives and this
//!   does not: the audit INSERT can fail after the records' (the next save of those records
//!   writes a later revision; the trail misses one), and two *processes* saving the same record
//!   at once are not told of the conflict (the store serialises the saves of one process only):
//!   edit the register through one `serve` or one CLI at a time.

use super::rows::{AuditRow, IncidentRow};
use super::sql::{placeholders, Bound, Where};
use super::store::ClickHouseStore;
use crate::incidents::{decode as decode_record, encode as encode_record, plan, Step};
use crate::{
    Audience, AuditEntry, IncidentChange, IncidentFilter, IncidentStore, IncidentStoreError,
    OnExisting,
};
use interfero_model::incident::Incident;
use std::collections::HashMap;

/// The columns read back (the sorting key and the version among them: 18.16 needs them for a
/// `FINAL` read through `Distributed`).
const COLUMNS: &str =
    "id, kind, status, visibility, country, start_first, end_last, revision, json";

impl ClickHouseStore {
    fn read_incidents(&self, w: &Where) -> Result<Vec<Incident>, IncidentStoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents FINAL {} ORDER BY start_first, id",
            w.clause()
        );
        let rows: Vec<IncidentRow> = self.inner.fetch("read incidents", sql, w)?;
        rows.iter().map(|r| decode_record(&r.id, &r.json)).collect()
    }
}

impl IncidentStore for ClickHouseStore {
    fn save_incidents(
        &self,
        records: &[Incident],
        change: &IncidentChange<'_>,
        on_existing: OnExisting,
    ) -> Result<Vec<Incident>, IncidentStoreError> {
        let _one_writer = super::client::lock(&self.inner.register);
        let mut stored: HashMap<String, Incident> = HashMap::new();
        if !records.is_empty() {
            let mut w = Where::default();
            w.push(
                format!("id IN ({})", placeholders(records.len())),
                records.iter().map(|r| Bound::Text(r.id.clone())),
            );
            for i in self.read_incidents(&w)? {
                stored.insert(i.id.clone(), i);
            }
        }
        let steps = plan(records, change, on_existing, |id| {
            Ok(stored.get(id).cloned())
        })?;
        let mut out = Vec::with_capacity(steps.len());
        let mut rows = Vec::new();
        let mut audit = Vec::new();
        for step in steps {
            let next = match step {
                Step::Unchanged(s) => {
                    out.push(s);
                    continue;
                }
                Step::Write(next) => next,
            };
            let json = encode_record(&next)?;
            rows.push(IncidentRow {
                id: next.id.clone(),
                kind: next.kind.as_str().to_string(),
                status: next.status.as_str().to_string(),
                visibility: next.visibility.as_str().to_string(),
                country: next.place.country.clone(),
                start_first: next.start.first_day(),
                end_last: next.end.unwrap_or(next.start).last_day(),
                revision: next.audit.revision,
                json: json.clone(),
            });
            audit.push(AuditRow {
                incident_id: next.id.clone(),
                revision: next.audit.revision,
                at: change.at.to_string(),
                by: change.by.to_string(),
                action: change.action.to_string(),
                json,
            });
            out.push(next);
        }
        if !rows.is_empty() {
            self.inner.insert("write incidents", "incidents", rows)?;
            self.inner
                .insert("write the incidents' audit trail", "incident_audit", audit)?;
        }
        Ok(out)
    }

    fn incident(
        &self,
        id: &str,
        audience: Audience,
    ) -> Result<Option<Incident>, IncidentStoreError> {
        let mut w = Where::default();
        w.push("id = ?", [Bound::Text(id.to_string())]);
        Ok(self
            .read_incidents(&w)?
            .into_iter()
            .next()
            .filter(|i| audience.may_see(i)))
    }

    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>, IncidentStoreError> {
        let mut w = Where::default();
        let conditions = [
            ("kind = ?", f.kind.map(|k| k.as_str().to_string())),
            ("country = ?", f.country.clone()),
            ("status = ?", f.status.map(|s| s.as_str().to_string())),
            ("end_last >= ?", f.from.clone()),
            ("start_first <= ?", f.to.clone()),
        ];
        for (c, v) in conditions {
            if let Some(v) = v {
                w.push(c, [Bound::Text(v)]);
            }
        }
        if f.audience != Audience::Operator {
            w.push("status = 'published' AND visibility = 'public'", []);
        }
        // The SQL filter and the model agree on what is public; checked twice on purpose.
        Ok(self
            .read_incidents(&w)?
            .into_iter()
            .filter(|i| f.audience.may_see(i))
            .collect())
    }

    fn incident_history(&self, id: &str) -> Result<Vec<AuditEntry>, IncidentStoreError> {
        let mut w = Where::default();
        w.push("incident_id = ?", [Bound::Text(id.to_string())]);
        let sql = format!(
            "SELECT incident_id, revision, at, by, action, json FROM incident_audit FINAL {} \
             ORDER BY revision",
            w.clause()
        );
        let rows: Vec<AuditRow> = self.inner.fetch("read an incident's history", sql, &w)?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    revision: r.revision,
                    record: decode_record(id, &r.json)?,
                    at: r.at,
                    by: r.by,
                    action: r.action,
                })
            })
            .collect()
    }
}
