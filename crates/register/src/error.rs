//! Errors of the register, worded for the person keeping it: where (file and line), what is
//! wrong, and what to do.

use interfero_store::{IncidentStoreError, StoreError};
use std::fmt;

/// Where in the input a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (or `-` for standard input).
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// Why a register operation failed. Nothing is stored when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The input is wrong at a known place.
    #[error("{at}: {message}")]
    Input {
        /// Where.
        at: Location,
        /// What is wrong and what to do.
        message: String,
    },
    /// A record is invalid (not tied to a file: an edit, a draft).
    #[error("incident {id}: {message}")]
    Invalid {
        /// The record's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// A record names something the store does not hold.
    #[error("{0}")]
    NotFound(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing an export failed.
    #[error("cannot write the export: {0}")]
    Write(String),
    /// The register's storage failed.
    #[error("{0}")]
    Incidents(#[from] IncidentStoreError),
    /// The measurement store failed (resolving evidence).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl RegisterError {
    /// An input problem at `file`, `line`.
    pub fn at(file: &str, line: Option<usize>, message: impl Into<String>) -> RegisterError {
        RegisterError::Input {
            at: Location {
                file: file.to_string(),
                line,
            },
            message: message.into(),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
