//! Capture files on disk, content-addressed: each capture is one record-gzipped WARC 1.1 file
//! named by the SHA-256 of its uncompressed bytes (`warc/ab/abcd....warc.gz`), so the same
//! capture is kept once and a file's name proves its content. A payload already kept (an
//! unchanged page captured again) is written as a WARC `revisit` record that refers to the first
//! record holding it: `payload/ab/<digest>` names that record. Files are written to a temporary
//! name and renamed, so a crash never leaves a half capture under a real name.

use crate::warc_read::{read_captures, ReadCapture};
use crate::warc_write::{self, digest, gzip_member, Original, Written};
use crate::ArchiveError;
use interfero_model::capture::Capture;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A directory of capture files (by default `captures/` beside the database).
#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
}

/// What [`Archive::put`] kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The capture's id: hex SHA-256 of its WARC bytes.
    pub id: String,
    /// Where its file is.
    pub path: PathBuf,
    /// What was written for each response (digests, revisits).
    pub responses: Vec<Written>,
    /// False when this very capture was already kept.
    pub new: bool,
}

impl Archive {
    /// The archive in `dir`, created when missing.
    pub fn open(dir: &Path) -> Result<Archive, ArchiveError> {
        std::fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))?;
        Ok(Archive {
            dir: dir.to_path_buf(),
        })
    }

    /// The archive's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps a capture; an earlier identical payload is referred to, not copied.
    pub fn put(&self, c: &Capture) -> Result<Stored, ArchiveError> {
        let empty = digest(b"");
        let earlier = |d: &str, record: &str| {
            if d == empty {
                return None; // nothing to save, and a revisit of nothing misleads readers
            }
            // The same capture kept again is written as it was first (same bytes, same id).
            self.original(d).filter(|o| o.record_id != record)
        };
        let mut records = Vec::new();
        let responses = warc_write::write_capture(c, &earlier, &mut records);
        let mut hash = Sha256::new();
        let mut gz = Vec::new();
        for r in &records {
            hash.update(r);
            gz.extend(gzip_member(r).map_err(|e| ArchiveError::io(&self.dir, e))?);
        }
        let id = hex::encode(hash.finalize());
        let path = self.capture_path(&id);
        let new = !path.exists();
        if new {
            write_atomic(&path, &gz)?;
        }
        for w in responses
            .iter()
            .filter(|w| !w.revisit && w.payload_digest != empty)
        {
            let p = self.payload_path(&w.payload_digest);
            if self.original(&w.payload_digest).is_none() {
                let line = format!("{id}\t{}\t{}\t{}\n", w.record_id, w.uri, w.date);
                write_atomic(&p, line.as_bytes())?;
            }
        }
        Ok(Stored {
            id,
            path,
            responses,
            new,
        })
    }

    /// The capture `id`, bodies of revisit records filled from the records they refer to.
    pub fn load(&self, id: &str) -> Result<Capture, ArchiveError> {
        let mut read = self.read(id)?;
        let mut rc = read.pop().ok_or_else(|| ArchiveError::Malformed {
            record: 0,
            why: format!("capture {id} holds no capture"),
        })?;
        for (i, d) in std::mem::take(&mut rc.revisits) {
            let body = self.payload(&d)?;
            let c = &mut rc.capture;
            let n = c.exchanges.len();
            let e = match i.checked_sub(n) {
                None => c.exchanges.get_mut(i),
                Some(j) => c.embeds.get_mut(j),
            };
            if let Some(e) = e {
                e.body = body;
            }
        }
        Ok(rc.capture)
    }

    /// The stored file of capture `id` (record-gzipped WARC).
    pub fn raw(&self, id: &str) -> Result<Vec<u8>, ArchiveError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ArchiveError::BadId(id.to_string()));
        }
        let path = self.capture_path(id);
        std::fs::read(&path).map_err(|e| ArchiveError::io(&path, e))
    }

    /// Writes the captures `ids` as one record-gzipped WARC file (a `warcinfo` record first, and
    /// every capture a revisit refers to, so the file stands alone); returns how many captures
    /// it holds.
    pub fn export(&self, ids: &[String], out: &mut dyn Write) -> Result<usize, ArchiveError> {
        let mut info = Vec::new();
        let software = concat!("interfero/", env!("CARGO_PKG_VERSION"));
        warc_write::write_warcinfo("interfero-export.warc.gz", software, &mut info);
        let err = |e| ArchiveError::io(Path::new("export"), e);
        for r in &info {
            out.write_all(&gzip_member(r).map_err(err)?).map_err(err)?;
        }
        // Each capture after the ones its revisits refer to (which hold the payloads in full),
        // each once.
        let mut done = BTreeSet::new();
        for id in ids {
            let mut first = Vec::new();
            for rc in self.read(id)? {
                first.extend(
                    rc.revisits
                        .iter()
                        .filter_map(|(_, d)| self.payload_capture(d)),
                );
            }
            first.push(id.clone());
            for c in first {
                if done.insert(c.clone()) {
                    out.write_all(&self.raw(&c)?).map_err(err)?;
                }
            }
        }
        Ok(done.len())
    }

    fn read(&self, id: &str) -> Result<Vec<ReadCapture>, ArchiveError> {
        read_captures(&self.raw(id)?)
    }

    /// The payload with digest `d`, from the first capture that holds it.
    fn payload(&self, d: &str) -> Result<Vec<u8>, ArchiveError> {
        let first = self
            .payload_capture(d)
            .ok_or_else(|| ArchiveError::MissingPayload(d.to_string()))?;
        for rc in self.read(&first)? {
            let c = rc.capture;
            for e in c.exchanges.into_iter().chain(c.embeds) {
                if e.status != 0 && digest(&e.body) == d {
                    return Ok(e.body);
                }
            }
        }
        Err(ArchiveError::MissingPayload(d.to_string()))
    }

    /// The id of the capture holding payload `d` in full.
    fn payload_capture(&self, d: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.payload_path(d)).ok()?;
        let id = text.split('\t').next()?.to_string();
        self.capture_path(&id).exists().then_some(id)
    }

    /// The record that first held payload `d`, when its capture is still kept.
    fn original(&self, d: &str) -> Option<Original> {
        let text = std::fs::read_to_string(self.payload_path(d)).ok()?;
        let mut f = text.trim_end().split('\t');
        let (id, record_id, uri, date) = (f.next()?, f.next()?, f.next()?, f.next()?);
        self.capture_path(id).exists().then(|| Original {
            record_id: record_id.into(),
            uri: uri.into(),
            date: date.into(),
        })
    }

    fn capture_path(&self, id: &str) -> PathBuf {
        let fan = id.get(..2).unwrap_or("00");
        self.dir
            .join("warc")
            .join(fan)
            .join(format!("{id}.warc.gz"))
    }

    fn payload_path(&self, d: &str) -> PathBuf {
        // The digest's base32 is filename-safe once the padding is dropped.
        let name: String = d
            .trim_start_matches("sha256:")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let fan = name.get(..2).unwrap_or("00").to_string();
        self.dir.join("payload").join(fan).join(name)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ArchiveError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ArchiveError::io(dir, e))?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1
        .write_all(bytes)
        .map_err(|e| ArchiveError::io(&tmp.0, e))?;
    tmp.1.sync_all().map_err(|e| ArchiveError::io(&tmp.0, e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| ArchiveError::io(path, e))
}

/// A new file with a unique name in `dir` (pid and a counter: no two writers share one).
fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File), ArchiveError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let p = dir.join(format!(".tmp-{}-{n}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| ArchiveError::io(&p, e))?;
    Ok((p, f))
}
