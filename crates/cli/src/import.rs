//! `interfero import`: OONI's public measurement files into a store, judged on the way.
//!
//! Streamed: one line at a time through a bounded reader (gzip decoded as it is read), a
//! batch of at most [`BATCH`] measurements or [`BATCH_BYTES`] of JSON held before it is
//! stored, so memory stays bounded whatever the size of the input. Every measurement is judged
//! again from its observations (`analyze::rejudge`): OONI's own verdict is kept in its test
//! keys, never taken as ours.

use crate::analyze::{next_line, parse_one, rejudge, Loaded, MAX_MEASUREMENT};
use crate::escape;
use anyhow::Context as _;
use clap::Args;
use interfero_model::Measurement;
use interfero_store::{MeasurementStore, RunInfo};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Measurements stored at once.
pub const BATCH: usize = 5_000;
/// JSON bytes of a batch at most (OONI's measurements are 5–50 KiB).
pub const BATCH_BYTES: usize = 32 << 20;

/// Arguments of `interfero import`.
#[derive(Args)]
pub struct ImportArgs {
    /// OONI measurement files (`.jsonl`, `.jsonl.gz`, `.json`, `.json.gz`) or directories of
    /// them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// SQLite database to import into.
    #[arg(long, required_unless_present = "store")]
    pub db: Option<PathBuf>,
    /// Store to import into: `clickhouse://HOST:PORT/DB` (`https://` for TLS; user and
    /// password from INTERFERO_CLICKHOUSE_USER / INTERFERO_CLICKHOUSE_PASSWORD) or a SQLite
    /// path.
    #[arg(long, value_name = "URL", conflicts_with = "db")]
    pub store: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn wanted(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    // OONI's analysis files sit beside its measurements: only measurements are read.
    !name.starts_with("analysis")
        && [".jsonl", ".jsonl.gz", ".json", ".json.gz"]
            .iter()
            .any(|x| name.ends_with(x))
}

fn files_under(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read directory {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            files_under(&e, out)?;
        }
    } else if !p.exists() {
        anyhow::bail!("{} does not exist", p.display());
    } else if wanted(p) {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// Counts the bytes read from the file (compressed), for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Measurements read and judged.
    pub read: u64,
    /// Of them, new to the store (the rest were stored already).
    pub new: u64,
}

/// Imports every measurement in `files` into `store` under one run.
pub fn import_into(
    store: &dyn MeasurementStore,
    files: &[PathBuf],
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Imported> {
    let before = store.count()?;
    let run = store.begin_run(&RunInfo {
        started: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        probe_cc: "ZZ".into(),
        probe_asn: "AS0".into(),
        note: format!("import of {} OONI file(s)", files.len()),
    })?;
    let mut batch: Vec<Measurement> = Vec::with_capacity(BATCH);
    let mut bytes = 0usize;
    let mut read = 0u64;
    let done = Arc::new(AtomicU64::new(0));
    let mut failed: Option<anyhow::Error> = None;
    let flush = |batch: &mut Vec<Measurement>, bytes: &mut usize| -> anyhow::Result<()> {
        if !batch.is_empty() {
            store.insert_many(run, batch)?;
            batch.clear();
            *bytes = 0;
        }
        Ok(())
    };
    for f in files {
        let name = f.display().to_string();
        let file = match std::fs::File::open(f) {
            Ok(file) => file,
            Err(e) => {
                eprintln!(
                    "interfero: cannot read {}: {e} (skipped)",
                    escape::terminal(&name)
                );
                continue;
            }
        };
        let counted = Counting {
            inner: file,
            read: Arc::clone(&done),
        };
        let gz = name.ends_with(".gz");
        // OONI's `.jsonl.gz` files may be several gzip members end to end.
        let raw: Box<dyn Read> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(counted))
        } else {
            Box::new(counted)
        };
        let whole = name.ends_with(".json") || name.ends_with(".json.gz");
        let mut r = BufReader::with_capacity(1 << 16, raw);
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            line += 1;
            let next = if whole {
                // One measurement per file, read whole (bounded).
                if line > 1 {
                    break;
                }
                buf.clear();
                r.by_ref()
                    .take(MAX_MEASUREMENT as u64 + 1)
                    .read_to_end(&mut buf)
                    .map(|n| Some(n <= MAX_MEASUREMENT))
            } else {
                next_line(&mut r, &mut buf)
            };
            match next {
                Ok(None) => break,
                Ok(Some(true)) => parse_one(&name, line, whole, &buf, &mut |l: Loaded| {
                    read += 1;
                    bytes += buf.len();
                    batch.push(rejudge(&l.measurement));
                }),
                Ok(Some(false)) => eprintln!(
                    "interfero: {}:{line}: longer than {} MiB (skipped)",
                    escape::terminal(&name),
                    MAX_MEASUREMENT >> 20
                ),
                Err(e) => {
                    eprintln!(
                        "interfero: {}:{line}: cannot read: {e} (rest of the file skipped)",
                        escape::terminal(&name)
                    );
                    break;
                }
            }
            if batch.len() >= BATCH || bytes >= BATCH_BYTES {
                if let Err(e) = flush(&mut batch, &mut bytes) {
                    failed = Some(e);
                    break;
                }
            }
            bar.set_position(done.load(Ordering::Relaxed));
            bar.set_message(format!("{read} measurements"));
        }
        if failed.is_some() {
            break;
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    flush(&mut batch, &mut bytes)?;
    bar.finish_and_clear();
    let after = store.count()?;
    Ok(Imported {
        read,
        new: after.saturating_sub(before),
    })
}

/// `interfero import`.
pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for p in &args.paths {
        files_under(p, &mut files)?;
    }
    if files.is_empty() {
        anyhow::bail!(
            "no OONI measurement files (.jsonl, .jsonl.gz, .json, .json.gz) in the paths given"
        );
    }
    let (store, target): (Box<dyn MeasurementStore>, String) = match (&args.store, &args.db) {
        (Some(url), _) => (interfero_store::open(url)?, url.clone()),
        (None, Some(p)) => (
            Box::new(interfero_store::SqliteStore::open(p)?),
            p.display().to_string(),
        ),
        (None, None) => anyhow::bail!("give --db PATH or --store URL to import into"),
    };
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {msg} ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    };
    let done = import_into(store.as_ref(), &files, &bar)?;
    println!(
        "imported {} measurements from {} file(s) into {} ({} new, {} stored already), judged \
         by Interfero's rules",
        done.read,
        files.len(),
        escape::terminal(&target),
        done.new,
        done.read.saturating_sub(done.new)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SAMPLES: &str = "/work/shared/data/ooni/webconnectivity-generated";

    /// OONI's generated measurements, as one JSONL file and as gzip, import once each: the
    /// second import finds them all stored already, and every one carries our verdict.
    #[test]
    fn ooni_jsonl_and_gzip_import_into_sqlite_once() {
        let mut samples = Vec::new();
        files_under(Path::new(SAMPLES), &mut samples).expect("samples");
        if samples.is_empty() {
            eprintln!("skipped: OONI samples not found at {SAMPLES}");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut jsonl = String::new();
        for s in &samples {
            let text = std::fs::read_to_string(s).expect("read sample");
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            jsonl.push_str(&v.to_string());
            jsonl.push('\n');
        }
        jsonl.push_str("not json at all\n");
        let plain = dir.path().join("ooni.jsonl");
        std::fs::write(&plain, &jsonl).expect("write");
        let gz = dir.path().join("copy.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).expect("create"),
            flate2::Compression::default(),
        );
        enc.write_all(jsonl.as_bytes()).expect("gzip");
        enc.finish().expect("gzip end");

        let store = interfero_store::SqliteStore::open(&dir.path().join("s.db")).expect("db");
        let bar = indicatif::ProgressBar::hidden();
        let first = import_into(&store, &[plain], &bar).expect("import");
        assert_eq!(first.read as usize, samples.len());
        assert_eq!(first.new, first.read);
        let again = import_into(&store, &[gz], &bar).expect("import gz");
        assert_eq!(again.read, first.read, "the gzip copy reads the same");
        assert_eq!(again.new, 0, "a re-import stores nothing twice");
        let all = store
            .measurements(&interfero_store::Filter::default())
            .expect("read");
        assert!(all.iter().all(|m| m.verdict.is_some()), "judged on the way");
    }
}
