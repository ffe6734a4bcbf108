//! Both stores side by side on this machine: batched ingest, the explorer's queries and the
//! size on disk, at one or more table sizes of `synthetic::varied` measurements.
//!
//! ```text
//! cargo run --release -p interfero-store --features clickhouse --example store_bench -- \
//!     --rows 1000000,10000000 --write docs/performance.md --write docs/scale-out.md
//! ```
//!
//! ClickHouse is a private `clickhouse-server` started in a temporary directory (stopped at
//! the end), or `--clickhouse URL`. Measurements are ingested in time order (`--order
//! scattered`: in index order, every batch spread over the whole month). `--sqlite-up-to N`
//! runs SQLite only at sizes up to N (its 10 M ingest alone would take half an hour here). Each query runs `--repeat` times (default 20) after one
//! warm-up; the table gives the median and the 95th percentile.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::Status;
use interfero_store::clickhouse::{ClickHouseStore, Config, LocalServer};
use interfero_store::{
    synthetic, Axis, MeasurementStore, Order, PageRequest, Query, RunInfo, SqliteStore,
};
use std::time::{Duration, Instant};

const BEGIN: &str = "<!-- store bench: generated, do not edit -->";
const END: &str = "<!-- store bench: end -->";

struct Args {
    rows: Vec<usize>,
    repeat: usize,
    write: Vec<String>,
    clickhouse: Option<String>,
    only: Option<String>,
    scattered: bool,
    sqlite_up_to: usize,
}

fn args() -> Args {
    let mut a = Args {
        rows: vec![1_000_000],
        repeat: 20,
        write: Vec::new(),
        clickhouse: None,
        only: None,
        scattered: false,
        sqlite_up_to: usize::MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--rows" => a.rows = v.split(',').filter_map(|n| n.parse().ok()).collect(),
            "--repeat" => a.repeat = v.parse().unwrap_or(20).max(1),
            "--write" => a.write.push(v),
            "--clickhouse" => a.clickhouse = Some(v),
            "--only" => a.only = Some(v),
            "--sqlite-up-to" => a.sqlite_up_to = v.parse().unwrap_or(usize::MAX),
            "--order" if v == "time" || v == "scattered" => a.scattered = v == "scattered",
            _ => {
                eprintln!("unknown argument {k} (see the example's doc comment)");
                std::process::exit(2);
            }
        }
    }
    a
}

/// One store's figures at one size.
struct Figures {
    store: &'static str,
    rows: usize,
    ingest_per_s: f64,
    bytes: u64,
    /// ClickHouse: how long `OPTIMIZE … FINAL` took after the ingest (queries run after it).
    optimize: Option<Duration>,
    queries: Vec<(&'static str, Duration, Duration)>,
}

/// `/proc/loadavg`'s first three fields (1, 5 and 15 minutes).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn run_info() -> RunInfo {
    RunInfo {
        started: "2026-11-01 00:00:00".into(),
        software_version: "bench".into(),
        probe_cc: "KZ".into(),
        probe_asn: "AS9198".into(),
        note: "store bench".into(),
    }
}

/// The indices `0..n` in the order of their measurement's time (`synthetic::varied(i)` is
/// measured on day `(i / 11) % 30` at second `i % 86_400`): the order a collector receives
/// measurements in, and an import of OONI's files (one file per hour) reads them. The same
/// measurements are stored whatever the order, so the queries' figures do not depend on it.
fn time_order(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.sort_by_key(|&i| ((i / 11) % 30, i % 86_400, i));
    v
}

/// Ingests `n` varied measurements in batches of 10,000 (in `order`); returns measurements
/// per second (the time spent making the synthetic values is not counted).
fn ingest(store: &dyn MeasurementStore, order: &[usize], flush: &dyn Fn()) -> f64 {
    let n = order.len();
    let run = store.begin_run(&run_info()).expect("run");
    let mut spent = Duration::ZERO;
    let mut i = 0;
    while i < n {
        let batch: Vec<_> = order[i..(i + 10_000).min(n)]
            .iter()
            .map(|&k| synthetic::varied(k))
            .collect();
        let t = Instant::now();
        store.insert_many(run, &batch).expect("insert");
        spent += t.elapsed();
        i += batch.len();
        if i % 1_000_000 == 0 {
            eprintln!("  {i} stored");
        }
    }
    let t = Instant::now();
    flush();
    spent += t.elapsed();
    n as f64 / spent.as_secs_f64()
}

fn timed(repeat: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut v: Vec<Duration> = (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    (p(0.5), p(0.95))
}

fn queries(store: &dyn MeasurementStore, repeat: usize) -> Vec<(&'static str, Duration, Duration)> {
    let month = Query {
        probe_cc: Some("KZ".into()),
        since: Some("2026-11-01".into()),
        until: Some("2026-12-01".into()),
        ..Query::default()
    };
    let domain = Query {
        domain: Some("news-17.example".into()),
        ..Query::default()
    };
    let blocked_here = Query {
        probe_asn: Some("AS9198".into()),
        status: Some(Status::Blocked),
        ..Query::default()
    };
    let mut out = Vec::new();
    let (a, b) = timed(repeat, || {
        store
            .aggregate(&month, Axis::Day, Some(Axis::Status))
            .expect("agg");
    });
    out.push(("day × status, one country, 30 days", a, b));
    let (a, b) = timed(repeat, || {
        store
            .aggregate(&month, Axis::Domain, Some(Axis::Day))
            .expect("agg");
    });
    out.push(("domain × day grid, one country, 30 days", a, b));
    let (a, b) = timed(repeat, || {
        store
            .page(&domain, &PageRequest::first(50, Order::Newest))
            .expect("page");
    });
    out.push(("search: one domain, newest 50", a, b));
    let (a, b) = timed(repeat, || {
        store
            .page(&blocked_here, &PageRequest::first(50, Order::Newest))
            .expect("page");
    });
    out.push(("search: network + status, newest 50", a, b));
    let (a, b) = timed(repeat, || {
        store.count_matching(&blocked_here).expect("count");
    });
    out.push(("count: network + status", a, b));
    out
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// The order measurements are ingested in: by time, or by index (`--order scattered`: every
/// batch of 10,000 spreads over all 30 days, the order of the bench before December 2026).
fn order(n: usize, scattered: bool) -> Vec<usize> {
    if scattered {
        (0..n).collect()
    } else {
        time_order(n)
    }
}

fn bench_sqlite(n: usize, repeat: usize, scattered: bool) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let store = SqliteStore::open(&path).expect("open");
    eprintln!("SQLite, {n} rows");
    let rate = ingest(&store, &order(n, scattered), &|| {});
    let queries = queries(&store, repeat);
    drop(store);
    Figures {
        store: "SQLite",
        rows: n,
        ingest_per_s: rate,
        bytes: dir_bytes(dir.path()),
        optimize: None,
        queries,
    }
}

fn bench_clickhouse(n: usize, repeat: usize, url: &Option<String>, scattered: bool) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = match url {
        Some(_) => None,
        None => Some(LocalServer::start(dir.path(), None).expect("start clickhouse-server")),
    };
    let db = format!("bench_{n}");
    let address = url
        .clone()
        .unwrap_or_else(|| server.as_ref().map(|s| s.url(&db)).unwrap_or_default());
    let store = ClickHouseStore::open(&Config::parse(&address).expect("address")).expect("open");
    eprintln!("ClickHouse, {n} rows");
    let rate = ingest(&store, &order(n, scattered), &|| {
        store.flush().expect("flush")
    });
    // Before the merge: the month just written is in many parts. Whole-day charts read the
    // per-day counts (clickhouse/daily.rs), which need no FINAL, merged or not.
    let month = Query {
        probe_cc: Some("KZ".into()),
        since: Some("2026-11-01".into()),
        until: Some("2026-12-01".into()),
        ..Query::default()
    };
    let (a, b) = timed(repeat, || {
        store
            .aggregate(&month, Axis::Day, Some(Axis::Status))
            .expect("agg");
    });
    // After a bulk import, one merge per month leaves one part each: the other reads need
    // no FINAL (clickhouse/reads.rs); until merged, the months written to are read with FINAL.
    let t = Instant::now();
    store.optimize().expect("optimize");
    let optimize = Some(t.elapsed());
    let mut queries = queries(&store, repeat);
    queries.insert(1, ("day × status, before the merge", a, b));
    let bytes = store.disk_bytes().expect("size");
    drop(store);
    drop(server);
    Figures {
        store: "ClickHouse",
        rows: n,
        ingest_per_s: rate,
        bytes,
        optimize,
        queries,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn table(all: &[Figures], command: &str, loads: (&str, &str)) -> String {
    let mut s = format!(
        "{BEGIN}\n\nCommand: `{command}`\n\nLoad average (1, 5, 15 min) at the start: {}; \
         at the end: {}.\n\n",
        loads.0, loads.1
    );
    s.push_str(
        "| store | rows | ingest (measurements/s) | merge after ingest (s) | on disk per million |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for f in all {
        s.push_str(&format!(
            "| {} | {} | {:.0} | {} | {:.0} MB |\n",
            f.store,
            f.rows,
            f.ingest_per_s,
            f.optimize
                .map(|d| format!("{:.1}", d.as_secs_f64()))
                .unwrap_or_else(|| "–".into()),
            f.bytes as f64 / (f.rows as f64 / 1e6) / 1e6
        ));
    }
    s.push_str("\n| query | store | rows | p50 (ms) | p95 (ms) |\n|---|---|---:|---:|---:|\n");
    for f in all {
        for (name, p50, p95) in &f.queries {
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {} |\n",
                f.store,
                f.rows,
                ms(*p50),
                ms(*p95)
            ));
        }
    }
    s.push('\n');
    s.push_str(END);
    s
}

fn write_into(path: &str, block: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{block}{}", &text[..a], &text[b + END.len()..]),
        _ => format!(
            "{}\n## Store: SQLite and ClickHouse side by side\n\n{block}\n",
            text.trim_end()
        ),
    };
    std::fs::write(path, new).expect("write the table");
}

fn main() {
    let a = args();
    let start_load = load();
    let mut all = Vec::new();
    for &n in &a.rows {
        if a.only.as_deref() != Some("clickhouse") && n <= a.sqlite_up_to {
            all.push(bench_sqlite(n, a.repeat, a.scattered));
        }
        if a.only.as_deref() != Some("sqlite") {
            all.push(bench_clickhouse(n, a.repeat, &a.clickhouse, a.scattered));
        }
    }
    let rows: Vec<String> = a.rows.iter().map(|n| n.to_string()).collect();
    let mut command = format!(
        "cargo run --release -p interfero-store --features clickhouse --example store_bench -- --rows {} --repeat {}",
        rows.join(","),
        a.repeat
    );
    if a.sqlite_up_to != usize::MAX {
        command.push_str(&format!(" --sqlite-up-to {}", a.sqlite_up_to));
    }
    if let Some(o) = &a.only {
        command.push_str(&format!(" --only {o}"));
    }
    if a.scattered {
        command.push_str(" --order scattered");
    }
    let block = table(&all, &command, (&start_load, &load()));
    println!("{block}");
    for w in &a.write {
        write_into(w, &block);
    }
}
