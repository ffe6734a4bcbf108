//! `interfero analyze`: re-judge stored measurements, ours or OONI's.
//!
//! Files are read as a stream, one line (or one OONI file) at a time, each judged and written
//! before the next is read: memory stays bounded by the largest measurement, not by the input.

use crate::{compare, escape, exit, print};
use anyhow::Context as _;
use clap::Args;
use interfero_analysis::{judge, ooni, Context};
use interfero_model::Measurement;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `interfero analyze`.
#[derive(Args)]
pub struct AnalyzeArgs {
    /// JSONL files of measurements, OONI measurement JSON files, or directories of them.
    #[arg(required_unless_present = "db")]
    pub paths: Vec<PathBuf>,
    /// Re-judge the measurements stored in this SQLite database instead (with --rejudge).
    #[arg(long, requires = "rejudge", conflicts_with_all = ["paths", "out", "compare_ooni"])]
    pub db: Option<PathBuf>,
    /// Write the new verdicts into --db (after a rule change); the observations are never
    /// changed. Streams the database, so memory stays bounded whatever its size.
    #[arg(long, requires = "db")]
    pub rejudge: bool,
    /// Write the re-judged measurements as JSONL here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a Markdown comparison of our verdicts with OONI's own to this file.
    #[arg(long)]
    pub compare_ooni: Option<PathBuf>,
    /// No table.
    #[arg(long)]
    pub quiet: bool,
}

/// A measurement read from disk, with where it came from.
pub struct Loaded {
    /// File (and line) it came from, relative to the path given.
    pub source: String,
    /// The measurement as read (with OONI's own judgement in its test keys).
    pub measurement: Measurement,
}

/// The largest measurement read (one JSONL line or one OONI file): OONI's own bodies are
/// capped far below it; anything larger is skipped with a message, not read into memory.
pub const MAX_MEASUREMENT: usize = 64 << 20;

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
    } else if p.extension().is_some_and(|x| x == "json" || x == "jsonl") {
        out.push(p.to_path_buf());
    } else if !p.exists() {
        anyhow::bail!("{} does not exist", p.display());
    }
    Ok(())
}

/// Every file the paths name (directories walked), in a stable order.
pub fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        files_under(p, &mut files)?;
    }
    Ok(files)
}

/// Reads the next line of at most [`MAX_MEASUREMENT`] bytes into `buf` (without its line
/// break); `Ok(None)` at the end, `Ok(Some(false))` for a longer line, which is skipped.
pub(crate) fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_MEASUREMENT as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(true));
    }
    if buf.len() <= MAX_MEASUREMENT {
        return Ok(Some(true)); // the last line, without a line break
    }
    // Too long: drop the rest of the line without keeping it.
    buf.clear();
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                break;
            }
            None => {
                let len = chunk.len();
                r.consume(len);
            }
        }
    }
    Ok(Some(false))
}

pub(crate) fn parse_one(
    name: &str,
    line: usize,
    whole: bool,
    bytes: &[u8],
    each: &mut impl FnMut(Loaded),
) {
    let shown = escape::terminal(name);
    let Ok(chunk) = std::str::from_utf8(bytes) else {
        eprintln!("interfero: {shown}:{line}: not UTF-8 text (skipped)");
        return;
    };
    if chunk.trim().is_empty() {
        return;
    }
    match Measurement::from_ooni_json(chunk) {
        Ok(m) if m.test_name.is_empty() || m.test_name == "web_connectivity" => each(Loaded {
            source: if whole {
                name.to_string()
            } else {
                format!("{name}:{line}")
            },
            measurement: m,
        }),
        // Interfero's own records beside measurements (service verdicts): not input.
        Ok(m) if m.test_name.starts_with("x_") => {}
        Ok(m) => eprintln!(
            "interfero: {shown}:{line}: test {} is not web_connectivity (skipped)",
            escape::terminal(&m.test_name.chars().take(80).collect::<String>())
        ),
        Err(e) => eprintln!(
            "interfero: {shown}:{line}: not a measurement: {} (skipped)",
            escape::terminal(&e.to_string())
        ),
    }
}

/// Hands every measurement in `files` to `each`, one at a time; unreadable files, lines that
/// are not UTF-8 or not measurements, and oversized ones are reported and skipped.
pub fn for_each(files: &[PathBuf], mut each: impl FnMut(Loaded)) {
    for f in files {
        // OONI's analysis files sit beside its measurements: only measurements are read.
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("analysis"))
        {
            continue;
        }
        let name = f.display().to_string();
        let shown = escape::terminal(&name).into_owned();
        let file = match std::fs::File::open(f) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("interfero: cannot read {shown}: {e} (skipped)");
                continue;
            }
        };
        let whole = f.extension().is_some_and(|x| x == "json");
        let mut r = BufReader::with_capacity(1 << 16, file);
        if whole {
            let mut bytes = Vec::new();
            match r
                .by_ref()
                .take(MAX_MEASUREMENT as u64 + 1)
                .read_to_end(&mut bytes)
            {
                Ok(n) if n > MAX_MEASUREMENT => eprintln!(
                    "interfero: {shown}: larger than {} MiB (skipped)",
                    MAX_MEASUREMENT >> 20
                ),
                Ok(_) => parse_one(&name, 1, true, &bytes, &mut each),
                Err(e) => eprintln!("interfero: cannot read {shown}: {e} (skipped)"),
            }
            continue;
        }
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            line += 1;
            match next_line(&mut r, &mut buf) {
                Ok(None) => break,
                Ok(Some(true)) => parse_one(&name, line, false, &buf, &mut each),
                Ok(Some(false)) => eprintln!(
                    "interfero: {shown}:{line}: longer than {} MiB (skipped)",
                    MAX_MEASUREMENT >> 20
                ),
                Err(e) => {
                    eprintln!(
                        "interfero: {shown}:{line}: cannot read: {e} (rest of the file skipped)"
                    );
                    break;
                }
            }
        }
    }
}

/// Judges a loaded measurement, returning it with our verdict and OONI summary keys set.
pub fn rejudge(m: &Measurement) -> Measurement {
    let mut m = m.clone();
    let v = judge(&m.input, &m.test_keys, &Context::default());
    let (b, a) = ooni::summary_keys(&v);
    m.test_keys.blocking = b;
    m.test_keys.accessible = a;
    m.verdict = Some(v);
    m
}

/// `interfero analyze --db PATH --rejudge`: every stored measurement judged again from its
/// observations, its verdict replaced when the rules now say otherwise.
fn rejudge_store(path: &Path, quiet: bool) -> anyhow::Result<ExitCode> {
    use interfero_store::{MeasurementStore, Order, Query, SqliteStore};
    use std::ops::ControlFlow;
    if !path.is_file() {
        anyhow::bail!(
            "--db {}: no such database (give the path of an existing one)",
            path.display()
        );
    }
    let store: std::sync::Arc<dyn MeasurementStore> = std::sync::Arc::new(SqliteStore::open(path)?);
    let (mut changed, mut failed) = (0u64, None);
    // A batch at a time (no lock is held while each runs), so each verdict is written as it
    // is found and an interruption keeps what was done.
    let seen = store.scan(&Query::default(), Order::Oldest, &mut |st| {
        if st.measurement.test_name != "web_connectivity" {
            return ControlFlow::Continue(());
        }
        let v = judge(
            &st.measurement.input,
            &st.measurement.test_keys,
            &Context::default(),
        );
        if st.measurement.verdict.as_ref() == Some(&v) {
            return ControlFlow::Continue(());
        }
        match store.set_verdict(st.id, Some(&v)) {
            Ok(()) => {
                changed += 1;
                ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(exit::fail(
            exit::KEEP_FAILED,
            format!("cannot write a verdict into {}: {e}", path.display()),
        ));
    }
    if !quiet {
        println!("{seen} measurements re-judged, {changed} verdict(s) changed");
    }
    Ok(ExitCode::SUCCESS)
}

/// `interfero analyze`.
pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if let (Some(db), true) = (&args.db, args.rejudge) {
        return rejudge_store(db, args.quiet);
    }
    let files = files(&args.paths)?;
    let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    crate::run::check_outputs(args.out.as_deref(), None, false, &inputs)?;
    crate::run::check_outputs(args.compare_ooni.as_deref(), None, false, &inputs)?;
    let mut out = match &args.out {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    if !args.quiet {
        println!("{}", print::verdict_header());
    }
    let mut tally = print::Tally::default();
    // Only the comparison needs the measurements kept (it is made for small sample sets).
    let mut compared: Vec<(Loaded, Measurement)> = Vec::new();
    let mut write_error: Option<std::io::Error> = None;
    for_each(&files, |l| {
        let m = rejudge(&l.measurement);
        if let (Some(w), None) = (out.as_mut(), &write_error) {
            let line = serde_json::to_string(&m).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}") {
                write_error = Some(e);
            }
        }
        if !args.quiet {
            println!("{}", print::verdict_line(&m));
        }
        tally.add(&m);
        if args.compare_ooni.is_some() {
            compared.push((l, m));
        }
    });
    if let (Some(w), None) = (out.as_mut(), &write_error) {
        if let Err(e) = w.flush() {
            write_error = Some(e);
        }
    }
    if tally.measured == 0 {
        anyhow::bail!("no measurements found under the paths given");
    }
    if let (Some(p), Some(e)) = (&args.out, &write_error) {
        return Err(exit::fail(
            exit::KEEP_FAILED,
            format!("cannot write {}: {e}", p.display()),
        ));
    }
    if let Some(p) = &args.compare_ooni {
        let (loaded, judged): (Vec<Loaded>, Vec<Measurement>) = compared.into_iter().unzip();
        let md = compare::markdown(&loaded, &judged, &args.paths);
        std::fs::write(p, md).map_err(|e| {
            exit::fail(
                exit::KEEP_FAILED,
                format!("cannot write {}: {e}", p.display()),
            )
        })?;
        eprintln!("comparison with OONI written to {}", p.display());
    }
    if !args.quiet {
        println!("\n{}", tally.text());
    }
    Ok(ExitCode::SUCCESS)
}
