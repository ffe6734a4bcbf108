//! The incident register's storage: records and their audit trail, in the same SQLite file as
//! the measurements, behind [`IncidentStore`] (ClickHouse: `clickhouse/incidents.rs`).
//!
//! The tables are versioned on their own (`incident_meta`), apart from the measurements'
//! `PRAGMA user_version`, so the register and the measurement schema evolve independently.
//! Every write is one IMMEDIATE transaction: a batch is stored whole or not at all.

use crate::SqliteStore;
use interfero_model::incident::{Incident, Kind, RecordStatus};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Each entry upgrades the register's tables by one version. Append; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: records (searchable columns beside the full JSON) and the audit trail.
    "CREATE TABLE IF NOT EXISTS incidents (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        visibility TEXT NOT NULL,
        country TEXT NOT NULL,
        start_first TEXT NOT NULL,
        end_last TEXT NOT NULL,
        revision INTEGER NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS incidents_country_start ON incidents(country, start_first);
    CREATE TABLE IF NOT EXISTS incident_audit (
        seq INTEGER PRIMARY KEY,
        incident_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS incident_audit_id ON incident_audit(incident_id);",
];

/// The register schema version this build writes.
pub const INCIDENT_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a register operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IncidentStoreError {
    /// The register's tables were written by a newer Interfero.
    #[error(
        "the incident register in this database has version {found}, newer than this \
         Interfero understands ({INCIDENT_SCHEMA_VERSION}); upgrade Interfero"
    )]
    TooNew {
        /// The version found.
        found: i64,
    },
    /// A record with this id exists with other content, and the write did not say to replace it.
    #[error(
        "incident {id} already exists (revision {revision}) with other content; edit it \
         (`interfero incident edit {id}`) or import with --replace"
    )]
    Exists {
        /// The id.
        id: String,
        /// Its stored revision.
        revision: u32,
    },
    /// The record was changed by someone else since the revision the write started from.
    #[error(
        "incident {id} was changed since revision {expected} (now {found}); show it again and \
         redo the edit"
    )]
    Conflict {
        /// The id.
        id: String,
        /// The revision the write was based on.
        expected: u32,
        /// The stored revision.
        found: u32,
    },
    /// A stored record could not be read back.
    #[error("stored incident {id} is damaged: {message}")]
    Corrupt {
        /// The id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A record could not be turned into JSON.
    #[error("cannot encode incident {id}: {source}")]
    Encode {
        /// The id.
        id: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Any other database failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A failure of the store underneath (ClickHouse).
    #[error("{0}")]
    Store(#[from] crate::StoreError),
}

/// Who is looking: the public sees only published, public records; operators see all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Audience {
    /// Anyone (the explorer without a token, a public export).
    #[default]
    Public,
    /// The operator (the CLI on the database file, the explorer with the operator's token).
    Operator,
}

impl Audience {
    /// Whether this audience may see the record.
    pub fn may_see(self, incident: &Incident) -> bool {
        self == Audience::Operator || incident.is_public()
    }
}

/// Which records to read; unset fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Who is looking (always applied).
    pub audience: Audience,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this country (ISO alpha-2).
    pub country: Option<String>,
    /// Only this status.
    pub status: Option<RecordStatus>,
    /// Only records that may overlap the days from this one (`YYYY-MM-DD`) ...
    pub from: Option<String>,
    /// ... to this one, inclusive.
    pub to: Option<String>,
}

/// How a batch treats records whose id is already stored with other content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Refuse the batch (an import that would overwrite edits).
    Refuse,
    /// Store a new revision.
    Replace,
}

/// Who writes, when, and why (kept in the audit trail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentChange<'a> {
    /// Who (`cli:USER`, `import:FILE`, `operator`).
    pub by: &'a str,
    /// UTC, `YYYY-MM-DD HH:MM:SS`.
    pub at: &'a str,
    /// `import`, `add`, `edit`, `draft`.
    pub action: &'a str,
}

/// One entry of a record's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The revision this change produced.
    pub revision: u32,
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
    /// Why (`import`, `edit` ...).
    pub action: String,
    /// The record as it was after the change.
    pub record: Incident,
}

/// Storage of incident records with an append-only audit trail.
pub trait IncidentStore: Send + Sync {
    /// Stores the records, all or none, and returns them as stored (revision and audit set).
    /// A record equal to the stored one is left alone (no new revision). A record whose
    /// `audit.revision` is not 0 must carry the stored revision (else [`IncidentStoreError::Conflict`]).
    fn save_incidents(
        &self,
        records: &[Incident],
        change: &IncidentChange<'_>,
        on_existing: OnExisting,
    ) -> Result<Vec<Incident>, IncidentStoreError>;

    /// One record, if it exists and the audience may see it.
    fn incident(
        &self,
        id: &str,
        audience: Audience,
    ) -> Result<Option<Incident>, IncidentStoreError>;

    /// The records that pass the filter, by start date then id.
    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, IncidentStoreError>;

    /// A record's history, oldest first (operators only: drafts are in it).
    fn incident_history(&self, id: &str) -> Result<Vec<AuditEntry>, IncidentStoreError>;
}

/// Creates or upgrades the register's tables (idempotent, cheap when current).
fn ensure_schema(conn: &Connection) -> Result<(), IncidentStoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS incident_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    )?;
    let found: i64 = conn
        .query_row(
            "SELECT value FROM incident_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    if found > INCIDENT_SCHEMA_VERSION {
        return Err(IncidentStoreError::TooNew { found });
    }
    for (from, sql) in (found..).zip(MIGRATIONS.iter().skip(found.max(0) as usize)) {
        conn.execute_batch(sql)?;
        conn.execute(
            "INSERT INTO incident_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [from + 1],
        )?;
    }
    Ok(())
}

pub(crate) fn decode(id: &str, json: &str) -> Result<Incident, IncidentStoreError> {
    serde_json::from_str(json).map_err(|e| IncidentStoreError::Corrupt {
        id: id.to_string(),
        message: e.to_string(),
    })
}

pub(crate) fn encode(i: &Incident) -> Result<String, IncidentStoreError> {
    serde_json::to_string(i).map_err(|source| IncidentStoreError::Encode {
        id: i.id.clone(),
        source,
    })
}

/// The record without its audit block, to tell a real change from a re-import.
fn content(i: &Incident) -> Incident {
    Incident {
        audit: Default::default(),
        ..i.clone()
    }
}

/// What a batch does with one record.
pub(crate) enum Step {
    /// Equal to the stored record (no new revision): returned as stored.
    Unchanged(Incident),
    /// To be stored as this (revision and audit set).
    Write(Incident),
}

/// Decides what a batch writes, the same on every backend: `stored` reads a record as stored
/// (before the batch); a record written earlier in the batch is what later ones see. Any
/// refusal refuses the whole batch (nothing is written yet when it is decided).
pub(crate) fn plan(
    records: &[Incident],
    change: &IncidentChange<'_>,
    on_existing: OnExisting,
    mut stored: impl FnMut(&str) -> Result<Option<Incident>, IncidentStoreError>,
) -> Result<Vec<Step>, IncidentStoreError> {
    let mut written: std::collections::HashMap<String, Incident> = Default::default();
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let stored = match written.get(&r.id) {
            Some(w) => Some(w.clone()),
            None => stored(&r.id)?,
        };
        let mut next = r.clone();
        match &stored {
            Some(s) if content(s) == content(r) => {
                out.push(Step::Unchanged(s.clone()));
                continue;
            }
            Some(s) if r.audit.revision != 0 && r.audit.revision != s.audit.revision => {
                return Err(IncidentStoreError::Conflict {
                    id: r.id.clone(),
                    expected: r.audit.revision,
                    found: s.audit.revision,
                });
            }
            Some(s) if r.audit.revision == 0 && on_existing == OnExisting::Refuse => {
                return Err(IncidentStoreError::Exists {
                    id: r.id.clone(),
                    revision: s.audit.revision,
                });
            }
            Some(s) => {
                next.audit.revision = s.audit.revision + 1;
                next.audit.created_at = s.audit.created_at.clone();
                next.audit.created_by = s.audit.created_by.clone();
            }
            None => {
                next.audit.revision = 1;
                next.audit.created_at = change.at.to_string();
                next.audit.created_by = change.by.to_string();
            }
        }
        next.audit.updated_at = change.at.to_string();
        next.audit.updated_by = change.by.to_string();
        written.insert(next.id.clone(), next.clone());
        out.push(Step::Write(next));
    }
    Ok(out)
}

impl IncidentStore for SqliteStore {
    fn save_incidents(
        &self,
        records: &[Incident],
        change: &IncidentChange<'_>,
        on_existing: OnExisting,
    ) -> Result<Vec<Incident>, IncidentStoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_schema(&tx)?;
        let steps = plan(records, change, on_existing, |id| {
            let stored: Option<String> = tx
                .query_row("SELECT json FROM incidents WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()?;
            stored.map(|j| decode(id, &j)).transpose()
        })?;
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let next = match step {
                Step::Unchanged(s) => {
                    out.push(s);
                    continue;
                }
                Step::Write(next) => next,
            };
            let json = encode(&next)?;
            let end_last = next.end.unwrap_or(next.start).last_day();
            tx.execute(
                "INSERT INTO incidents
                   (id, kind, status, visibility, country, start_first, end_last, revision, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, status = excluded.status,
                   visibility = excluded.visibility, country = excluded.country,
                   start_first = excluded.start_first, end_last = excluded.end_last,
                   revision = excluded.revision, json = excluded.json",
                params![
                    next.id,
                    next.kind.as_str(),
                    next.status.as_str(),
                    next.visibility.as_str(),
                    next.place.country,
                    next.start.first_day(),
                    end_last,
                    next.audit.revision,
                    json
                ],
            )?;
            tx.execute(
                "INSERT INTO incident_audit (incident_id, revision, at, by, action, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    next.id,
                    next.audit.revision,
                    change.at,
                    change.by,
                    change.action,
                    json
                ],
            )?;
            out.push(next);
        }
        tx.commit()?;
        Ok(out)
    }

    fn incident(
        &self,
        id: &str,
        audience: Audience,
    ) -> Result<Option<Incident>, IncidentStoreError> {
        let conn = self.conn();
        ensure_schema(&conn)?;
        let json: Option<String> = conn
            .query_row("SELECT json FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(json
            .map(|j| decode(id, &j))
            .transpose()?
            .filter(|i| audience.may_see(i)))
    }

    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>, IncidentStoreError> {
        let conn = self.conn();
        ensure_schema(&conn)?;
        // NULL parameters switch a condition off: one statement serves every filter.
        let mut stmt = conn.prepare_cached(
            "SELECT id, json FROM incidents
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR country = ?2)
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR end_last >= ?4)
               AND (?5 IS NULL OR start_first <= ?5)
               AND (?6 = 1 OR (status = 'published' AND visibility = 'public'))
             ORDER BY start_first, id",
        )?;
        let rows = stmt.query_map(
            params![
                f.kind.map(|k| k.as_str()),
                f.country,
                f.status.map(|s| s.as_str()),
                f.from,
                f.to,
                i64::from(f.audience == Audience::Operator),
            ],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row?;
            let i = decode(&id, &json)?;
            // The SQL filter and the model agree on what is public; checked twice on purpose.
            if f.audience.may_see(&i) {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn incident_history(&self, id: &str) -> Result<Vec<AuditEntry>, IncidentStoreError> {
        let conn = self.conn();
        ensure_schema(&conn)?;
        let mut stmt = conn.prepare_cached(
            "SELECT revision, at, by, action, json FROM incident_audit WHERE incident_id = ?1
             ORDER BY seq",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (revision, at, by, action, json) = row?;
            out.push(AuditEntry {
                revision,
                at,
                by,
                action,
                record: decode(id, &json)?,
            });
        }
        Ok(out)
    }
}
