//! Records in TOML and JSON files, in and out. A file holds one record (its fields at the top)
//! or many (`[[incident]]` tables in TOML, an array in JSON). Every problem is reported with
//! the file and the line: a parse error where the parser stopped, a validation problem at the
//! line of the offending field (or of the record when the field is not written).

use crate::error::line_of;
use crate::validate;
use crate::RegisterError;
use interfero_model::incident::Incident;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One record read from a file, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// The record.
    pub incident: Incident,
    /// The file.
    pub file: String,
    /// The line where the record starts.
    pub line: usize,
    /// The byte range of the record in the file (to locate its fields).
    pub span: Range<usize>,
}

#[derive(Deserialize)]
struct ManyToml {
    incident: Vec<toml::Spanned<Incident>>,
}

#[derive(Serialize)]
struct ManyOut<'a> {
    incident: &'a [Incident],
}

/// The line, within `span` of `text`, where `field`'s key is written (`end = ...`,
/// `"end": ...`); for `evidence[2]`, the key `evidence`.
pub fn field_line(text: &str, span: &Range<usize>, field: &str) -> Option<usize> {
    let key = field.split(['[', '.']).next().unwrap_or(field);
    let body = text.get(span.clone())?;
    let mut offset = span.start;
    for line in body.split_inclusive('\n') {
        let t = line
            .trim_start()
            .trim_start_matches('[')
            .trim_start_matches('"');
        if let Some(rest) = t.strip_prefix(key) {
            let rest = rest.trim_start_matches(['"', ']']).trim_start();
            if rest.starts_with('=') || rest.starts_with(':') || rest.is_empty() {
                return Some(line_of(text, offset));
            }
        }
        offset += line.len();
    }
    None
}

/// Checks every record read, naming the first problem's file and line.
pub fn check_all(
    reads: &[Read],
    texts: &dyn Fn(&str) -> Option<String>,
) -> Result<(), RegisterError> {
    let mut seen = std::collections::HashMap::<&str, (&str, usize)>::new();
    for r in reads {
        if let Some(p) = validate::problems(&r.incident).into_iter().next() {
            let line = texts(&r.file)
                .and_then(|t| field_line(&t, &r.span, &p.field))
                .unwrap_or(r.line);
            return Err(RegisterError::at(
                &r.file,
                Some(line),
                format!("incident {}: {}", r.incident.id, p.message),
            ));
        }
        if let Some((file, line)) = seen.insert(&r.incident.id, (&r.file, r.line)) {
            return Err(RegisterError::at(
                &r.file,
                Some(r.line),
                format!(
                    "incident id {} is used twice (also at {file}:{line}): give each record its \
                     own id",
                    r.incident.id
                ),
            ));
        }
    }
    Ok(())
}

/// Reads the records of a TOML file.
pub fn read_toml(file: &str, text: &str) -> Result<Vec<Read>, RegisterError> {
    let err = |e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start));
        RegisterError::at(file, line, e.message().trim().to_string())
    };
    let table: toml::Table = toml::from_str(text).map_err(err)?;
    if table.contains_key("incident") {
        let many: ManyToml = toml::from_str(text).map_err(err)?;
        // A table's span may cover only its header: each record's fields run to the next one.
        let starts: Vec<usize> = many.incident.iter().map(|s| s.span().start).collect();
        Ok(many
            .incident
            .into_iter()
            .enumerate()
            .map(|(n, s)| {
                let start = starts[n];
                let end = starts.get(n + 1).copied().unwrap_or(text.len());
                Read {
                    incident: s.into_inner(),
                    file: file.to_string(),
                    line: line_of(text, start),
                    span: start..end.max(start),
                }
            })
            .collect())
    } else {
        let incident: Incident = toml::from_str(text).map_err(err)?;
        Ok(vec![Read {
            incident,
            file: file.to_string(),
            line: 1,
            span: 0..text.len(),
        }])
    }
}

/// Reads the records of a JSON file (one object, or an array of them).
pub fn read_json(file: &str, text: &str) -> Result<Vec<Read>, RegisterError> {
    let err = |e: serde_json::Error| RegisterError::at(file, Some(e.line()), e.to_string());
    let value: serde_json::Value = serde_json::from_str(text).map_err(err)?;
    let many = value.is_array();
    let records: Vec<Incident> = if many {
        // Parsed again as records from the text, so an error keeps its line.
        serde_json::from_str(text).map_err(err)?
    } else {
        vec![serde_json::from_str(text).map_err(err)?]
    };
    // JSON gives no spans: a record is found by its id's line, and spans to the next record.
    let starts: Vec<usize> = records
        .iter()
        .map(|r| {
            let needle = format!("\"{}\"", r.id);
            text.find(&needle).unwrap_or(0)
        })
        .collect();
    Ok(records
        .into_iter()
        .enumerate()
        .map(|(n, incident)| {
            let from = if many { starts[n] } else { 0 };
            let to = starts
                .get(n + 1)
                .copied()
                .filter(|_| many)
                .unwrap_or(text.len());
            // The id may sit after other fields: start the record's span at its opening brace.
            let open = text[..from].rfind('{').unwrap_or(0);
            Read {
                incident,
                file: file.to_string(),
                line: line_of(text, from),
                span: open..to.max(from),
            }
        })
        .collect())
}

/// Writes records as TOML (`[[incident]]` tables).
pub fn to_toml(records: &[Incident]) -> Result<String, RegisterError> {
    toml::to_string(&ManyOut { incident: records }).map_err(|e| RegisterError::Write(e.to_string()))
}

/// Writes records as a pretty JSON array.
pub fn to_json(records: &[Incident]) -> Result<String, RegisterError> {
    serde_json::to_string_pretty(records)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| RegisterError::Write(e.to_string()))
}
