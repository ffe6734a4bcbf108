//! Offline throughput for `lab bench`: judging stored measurements (what `interfero analyze`
//! does per line) and writing them to SQLite (what `interfero run` does per measurement).

use interfero_analysis::{judge, Context};
use interfero_model::Measurement;
use interfero_store::{MeasurementStore, RunInfo, SqliteStore, StoreError};
use std::path::Path;
use std::time::{Duration, Instant};

/// Rates of the offline work, per second of one thread.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Offline {
    /// Measurements judged.
    pub judged: usize,
    /// Judging only (observations already in memory), per second.
    pub judge_per_s: f64,
    /// Parsing a stored JSON line and judging it, per second.
    pub parse_judge_per_s: f64,
    /// Rows written to SQLite one transaction each (as a run stores them), per second.
    pub sqlite_single_per_s: f64,
    /// Rows written to SQLite in transactions of 1,000, per second.
    pub sqlite_batch_per_s: f64,
    /// Rows written in each SQLite mode.
    pub sqlite_rows: usize,
}

fn per_s(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Judges `count` measurements cycling through `lines` (stored JSONL), on this thread: once
/// from parsed values (judge only), once from the text (parse + judge, as `analyze` does).
/// The parse pass is bounded to a tenth of `count` (at least the lines once): it is the slower.
pub fn analyze(lines: &[String], count: usize) -> Offline {
    let parsed: Vec<Measurement> = lines
        .iter()
        .filter_map(|l| Measurement::from_ooni_json(l).ok())
        .collect();
    let mut out = Offline::default();
    if parsed.is_empty() {
        return out;
    }
    let ctx = Context::default();
    let started = Instant::now();
    let mut sink = 0usize;
    for m in parsed.iter().cycle().take(count) {
        sink += judge(&m.input, &m.test_keys, &ctx).techniques.len();
    }
    out.judge_per_s = per_s(count, started.elapsed());
    out.judged = count;
    let text_count = (count / 10).max(lines.len());
    let started = Instant::now();
    for l in lines.iter().cycle().take(text_count) {
        if let Ok(m) = Measurement::from_ooni_json(l) {
            sink += judge(&m.input, &m.test_keys, &ctx).techniques.len();
        }
    }
    out.parse_judge_per_s = per_s(text_count, started.elapsed());
    std::hint::black_box(sink);
    out
}

/// Writes `rows` measurements (cycling through `ms`) to a fresh SQLite file in `dir`: one
/// transaction per row, then in batches of 1,000 (a second file).
pub fn sqlite(ms: &[Measurement], rows: usize, dir: &Path) -> Result<(f64, f64), StoreError> {
    if ms.is_empty() {
        return Ok((0.0, 0.0));
    }
    let info = RunInfo {
        started: "2026-11-30 00:00:00".into(),
        note: "lab bench".into(),
        ..RunInfo::default()
    };
    let single = SqliteStore::open(&dir.join("single.db"))?;
    let run = single.begin_run(&info)?;
    let started = Instant::now();
    for m in ms.iter().cycle().take(rows) {
        single.insert(run, m)?;
    }
    let single_rate = per_s(rows, started.elapsed());
    let batch = SqliteStore::open(&dir.join("batch.db"))?;
    let run = batch.begin_run(&info)?;
    let all: Vec<Measurement> = ms.iter().cycle().take(rows).cloned().collect();
    let started = Instant::now();
    for chunk in all.chunks(1000) {
        batch.insert_many(run, chunk)?;
    }
    Ok((single_rate, per_s(rows, started.elapsed())))
}
