//! The archive: captures kept as WARC 1.1 (request, response and metadata records with SHA-256
//! block and payload digests, times to the millisecond), in content-addressed files on disk
//! beside the store, readable back, exportable as one WARC file, and made safe to serve.

mod files;
pub mod serve;
pub mod warc_read;
pub mod warc_write;

pub use files::{Archive, Stored};
pub use serve::{inert, Inert};
pub use warc_read::{read_captures, ReadCapture};
pub use warc_write::digest;

use std::path::{Path, PathBuf};

/// What can go wrong keeping or reading captures.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A WARC record could not be parsed or its digest is wrong.
    #[error("WARC record {record}: {why}")]
    Malformed {
        /// The record's position in the file.
        record: usize,
        /// What is wrong.
        why: String,
    },
    /// A gzip file expands beyond the reading bound.
    #[error("the WARC file expands beyond {limit} bytes; not read")]
    TooLarge {
        /// The bound.
        limit: u64,
    },
    /// A capture id is not 64 hex digits.
    #[error("{0:?} is not a capture id (64 hex digits)")]
    BadId(String),
    /// A revisit refers to a payload no kept capture holds.
    #[error("payload {0} is referred to but no kept capture holds it")]
    MissingPayload(String),
}

impl ArchiveError {
    fn io(path: &Path, source: std::io::Error) -> ArchiveError {
        ArchiveError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
