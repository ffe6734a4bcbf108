//! The incident register: records of what was done to the press, to critics and to the
//! network, linked to the measurements that prove them.
//!
//! - [`validate`]: what a record must satisfy beyond its types.
//! - [`evidence`]: measurements, events and queries looked up in the store, and the check of a
//!   claimed block against the verdicts.
//! - [`draft`]: a draft record from a `block_started`, `shutdown_started` or `coordinated` event.
//! - [`files`], [`table`]: TOML, JSON and CSV in and out, STOP-compatible CSV out.
//! - [`codes`]: each kind's codes in STOP, ACLED and Mapping Media Freedom.
//!
//! Writing goes through [`import`]: everything is parsed, validated and its evidence resolved
//! before the first record is stored, and the batch is stored in one transaction.

pub mod codes;
pub mod draft;
mod error;
pub mod evidence;
pub mod files;
pub mod table;
pub mod validate;

pub use error::{line_of, Location, RegisterError};

use evidence::{EvidenceSource, Resolved};
use files::Read;
use interfero_model::incident::Incident;
use interfero_store::{Audience, IncidentChange, IncidentFilter, IncidentStore, OnExisting};
use std::path::{Path, PathBuf};

/// File formats of the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `[[incident]]` tables (or one record's fields at the top).
    Toml,
    /// An array of records (or one record).
    Json,
    /// One row per record ([`table::COLUMNS`]).
    Csv,
    /// STOP-compatible CSV (export only; shutdowns, throttling, service blocks).
    Stop,
}

impl Format {
    /// The format a file name implies (`.toml`, `.json`, `.csv`).
    pub fn of_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// Parses `toml`, `json`, `csv`, `stop`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "stop" => Some(Format::Stop),
            _ => None,
        }
    }
}

/// The files to import: each file given, and the `.toml`/`.json`/`.csv` files of each directory
/// given (not recursive), in name order.
pub fn files_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RegisterError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let io = |source| RegisterError::Io {
                path: p.display().to_string(),
                source,
            };
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && Format::of_path(f).is_some())
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Reads records from text in a format.
pub fn parse(file: &str, text: &str, format: Format) -> Result<Vec<Read>, RegisterError> {
    match format {
        Format::Toml => files::read_toml(file, text),
        Format::Json => files::read_json(file, text),
        Format::Csv => table::read_csv(file, text),
        Format::Stop => Err(RegisterError::at(
            file,
            None,
            "STOP CSV is an export format; import the register's own CSV",
        )),
    }
}

/// Reads, validates and resolves the evidence of every record in `paths`, then stores them all
/// in one transaction. On any error nothing is stored, and the error names the file and line.
pub fn import(
    paths: &[PathBuf],
    store: &dyn IncidentStore,
    source: &dyn EvidenceSource,
    change: &IncidentChange<'_>,
    on_existing: OnExisting,
) -> Result<Vec<Incident>, RegisterError> {
    let files = files_of(paths)?;
    if files.is_empty() {
        return Err(RegisterError::NotFound(
            "no .toml, .json or .csv file to import in the paths given".into(),
        ));
    }
    let mut reads = Vec::new();
    let mut texts = std::collections::HashMap::new();
    for f in &files {
        let name = f.display().to_string();
        let format = Format::of_path(f).ok_or_else(|| {
            RegisterError::at(
                &name,
                None,
                "unknown format: name the file .toml, .json or .csv",
            )
        })?;
        let text = std::fs::read_to_string(f).map_err(|source| RegisterError::Io {
            path: name.clone(),
            source,
        })?;
        reads.extend(parse(&name, &text, format)?);
        texts.insert(name, text);
    }
    check_reads(&reads, &texts, source)?;
    let records: Vec<Incident> = reads.into_iter().map(|r| r.incident).collect();
    Ok(store.save_incidents(&records, change, on_existing)?)
}

/// Validates records read from files and resolves their evidence, naming file and line.
pub fn check_reads(
    reads: &[Read],
    texts: &std::collections::HashMap<String, String>,
    source: &dyn EvidenceSource,
) -> Result<(), RegisterError> {
    files::check_all(reads, &|f| texts.get(f).cloned())?;
    for r in reads {
        if let Err(e) = evidence::resolve(source, &r.incident) {
            let line = texts
                .get(&r.file)
                .and_then(|t| files::field_line(t, &r.span, "evidence"))
                .unwrap_or(r.line);
            return Err(RegisterError::at(&r.file, Some(line), e.to_string()));
        }
    }
    Ok(())
}

/// Validates one record (an edit, a draft) and resolves its evidence.
pub fn check(i: &Incident, source: &dyn EvidenceSource) -> Result<Vec<Resolved>, RegisterError> {
    if let Some(p) = validate::problems(i).into_iter().next() {
        return Err(RegisterError::Invalid {
            id: i.id.clone(),
            message: p.message,
        });
    }
    evidence::resolve(source, i)
}

/// Stores one checked record (add, edit, draft).
pub fn save_one(
    i: &Incident,
    store: &dyn IncidentStore,
    source: &dyn EvidenceSource,
    change: &IncidentChange<'_>,
    on_existing: OnExisting,
) -> Result<Incident, RegisterError> {
    check(i, source)?;
    let mut saved = store.save_incidents(std::slice::from_ref(i), change, on_existing)?;
    saved
        .pop()
        .ok_or_else(|| RegisterError::NotFound(format!("incident {} was not stored", i.id)))
}

/// The records an audience may see, written in a format.
pub fn export(
    store: &dyn IncidentStore,
    filter: &IncidentFilter,
    format: Format,
) -> Result<String, RegisterError> {
    let records = store.incidents(filter)?;
    match format {
        Format::Toml => files::to_toml(&records),
        Format::Json => files::to_json(&records),
        Format::Csv => table::to_csv(&records),
        Format::Stop => table::to_stop_csv(&records),
    }
}

/// A record as its page shows it: the record, its evidence looked up, and the check.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The record.
    pub incident: Incident,
    /// Its evidence, resolved; entries that no longer resolve are listed in `missing`.
    pub evidence: Vec<Resolved>,
    /// Entries that do not resolve any more, in one line each.
    pub missing: Vec<String>,
    /// What the measurements say about the claim.
    pub check: evidence::Check,
}

/// Looks up a record's evidence for display; unlike [`check`], an entry that does not resolve
/// is shown as missing, not an error (the store may have been pruned since).
pub fn show(i: &Incident, source: &dyn EvidenceSource) -> Result<Shown, RegisterError> {
    let mut resolved = Vec::new();
    let mut missing = Vec::new();
    for e in &i.evidence {
        match evidence::resolve_one(source, e)? {
            Some(r) => resolved.push(r),
            None => missing.push(evidence::compact(e)),
        }
    }
    let check = evidence::check(i.kind, &resolved);
    Ok(Shown {
        incident: i.clone(),
        evidence: resolved,
        missing,
        check,
    })
}

/// The records an audience may see, each shown with its evidence.
pub fn shown(
    store: &dyn IncidentStore,
    filter: &IncidentFilter,
    source: &dyn EvidenceSource,
) -> Result<Vec<Shown>, RegisterError> {
    store
        .incidents(filter)?
        .iter()
        .map(|i| show(i, source))
        .collect()
}

/// Shortcut: the operator's view of every record.
pub fn operator() -> IncidentFilter {
    IncidentFilter {
        audience: Audience::Operator,
        ..Default::default()
    }
}
