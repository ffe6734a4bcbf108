//! The explorer's and the API's speed at volume: fills a SQLite store with `--rows`
//! measurements from `synthetic::varied` (1,000,000 by default; an existing file that already
//! holds them is reused), serves the explorer and the API in-process on loopback, and times
//! `--requests` sequential requests to every page and API call (each request with different
//! values: another domain, network, day, page), printing p50, p95 and the slowest. With
//! `--markdown FILE` it writes its section of `docs/performance.md` between its own markers,
//! leaving the rest of the file (the `lab bench` sections) as it was.
//!
//! ```text
//! cargo run --release -p interfero-server --example explorer_bench -- --markdown docs/performance.md
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;

use interfero_model::Technique;
use interfero_server::explorer::ExplorerOptions;
use interfero_server::{serve_with, ServeOptions, ServeStats};
use interfero_store::{
    synthetic, Event, EventKind, MeasurementStore, Order, PageRequest, Query, RunInfo, SqliteStore,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const BEGIN: &str = "<!-- explorer bench: generated, do not edit -->";
const END: &str = "<!-- explorer bench: end -->";

struct Args {
    rows: usize,
    requests: usize,
    db: PathBuf,
    markdown: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        rows: 1_000_000,
        requests: 40,
        db: PathBuf::from("target/explorer-bench.db"),
        markdown: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--rows" => a.rows = v.parse().expect("--rows N"),
            "--requests" => a.requests = v.parse().expect("--requests N"),
            "--db" => a.db = v.into(),
            "--markdown" => a.markdown = Some(v.into()),
            _ => panic!("unknown argument {k}: --rows N --requests N --db PATH --markdown FILE"),
        }
    }
    a
}

fn fill(store: &SqliteStore, rows: usize) -> f64 {
    let have = store.count().expect("count") as usize;
    if have >= rows {
        return 0.0;
    }
    let t0 = Instant::now();
    let run = store
        .begin_run(&RunInfo {
            started: "2026-11-01 00:00:00".into(),
            software_version: "bench".into(),
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
            note: "explorer bench".into(),
        })
        .expect("run");
    let mut i = have;
    while i < rows {
        let n = (rows - i).min(10_000);
        let batch: Vec<_> = (i..i + n).map(synthetic::varied).collect();
        store.insert_many(run, &batch).expect("insert");
        i += n;
        if i.is_multiple_of(100_000) {
            eprintln!(
                "stored {i} measurements ({:.0} s)",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    // Events for the feeds and pages: a block starting and ending on each network for ten
    // domains.
    for d in 0..10 {
        for (cc, asn) in synthetic::NETWORKS {
            let id = store
                .record_event(&Event {
                    input: format!("https://news-{d}.example/article/0"),
                    kind: EventKind::BlockStarted,
                    technique: Some(Technique::TlsTimeout),
                    started: format!("2026-11-{:02} 08:00:00", d + 1),
                    ended: None,
                    evidence: vec!["TLS stalled after the ClientHello".into()],
                    probe_cc: cc.into(),
                    probe_asn: asn.into(),
                })
                .expect("event");
            store
                .end_event(id, &format!("2026-11-{:02} 08:00:00", d + 11))
                .expect("end");
        }
    }
    t0.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let store = Arc::new(SqliteStore::open(&a.db).expect("open the bench database"));
    let fill_s = fill(&store, a.rows);
    let rows = store.count().expect("count");
    let uids: Vec<String> = {
        let p = store
            .page(&Query::default(), &PageRequest::first(1000, Order::Newest))
            .expect("page");
        p.items.into_iter().map(|s| s.uid).collect()
    };
    let opts = ExplorerOptions::default();
    let dyn_store: Arc<dyn MeasurementStore> = store.clone();
    let router = interfero_server::explorer::router(dyn_store.clone(), opts.clone())
        .merge(interfero_server::api::router(dyn_store, opts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_with(
        listener,
        router,
        ServeOptions::default(),
        Arc::new(ServeStats::default()),
        std::future::pending(),
    ));
    let nets = synthetic::NETWORKS;
    let day = |i: usize| format!("2026-11-{:02}", i % 28 + 1);
    type Path = Box<dyn Fn(usize) -> String>;
    let uid = move |i: usize| uids[i % uids.len()].clone();
    let uid2 = uid.clone();
    let uid3 = uid.clone();
    let calls: Vec<(&str, Path)> = vec![
        ("home `/`", Box::new(|_| "/".into())),
        ("search, no filter", Box::new(|_| "/search".into())),
        (
            "search by network",
            Box::new(move |i| format!("/search?asn={}", nets[i % 5].1)),
        ),
        (
            "search by domain",
            Box::new(|i| format!("/search?domain=news-{}.example", i % 200)),
        ),
        (
            "search by status",
            Box::new(|i| {
                format!(
                    "/search?status={}",
                    ["blocked", "throttled", "intercepted", "down"][i % 4]
                )
            }),
        ),
        (
            "search by technique",
            Box::new(|i| {
                format!(
                    "/search?technique={}",
                    ["tls.timeout", "dns.nxdomain"][i % 2]
                )
            }),
        ),
        (
            "search by country and days",
            Box::new(move |i| format!("/search?cc=KZ&since={}&until={}", day(i), day(i + 2))),
        ),
        (
            "search, a later page",
            Box::new(|i| {
                format!(
                    "/search?after={}.2026-11-{:02}_12:00:00",
                    500_000 + i,
                    i % 28 + 1
                )
            }),
        ),
        (
            "measurement page",
            Box::new(move |i| format!("/m/{}", uid(i))),
        ),
        ("chart per day", Box::new(|_| "/chart".into())),
        (
            "chart of a network, %",
            Box::new(move |i| format!("/chart?asn={}&pct=1", nets[i % 5].1)),
        ),
        (
            "grid domain × day (country)",
            Box::new(|_| "/chart?cc=KZ&y=domain".into()),
        ),
        (
            "networks side by side",
            Box::new(|_| "/chart?cc=KZ&x=network&pct=1".into()),
        ),
        (
            "chart image `/chart.svg`",
            Box::new(|i| format!("/chart.svg?domain=news-{}.example&y=network", i % 200)),
        ),
        (
            "chart CSV",
            Box::new(|_| "/chart.csv?x=domain&y=network".into()),
        ),
        (
            "domain page",
            Box::new(|i| format!("/domain/news-{}.example", i % 200)),
        ),
        (
            "network page",
            Box::new(move |i| format!("/network/{}", nets[i % 5].1)),
        ),
        (
            "country page",
            Box::new(|i| format!("/country/{}", ["KZ", "KG"][i % 2])),
        ),
        (
            "Atom feed of a country",
            Box::new(|i| format!("/feed.atom?cc={}", ["KZ", "KG"][i % 2])),
        ),
        (
            "CSV download of a domain-day (~170 rows)",
            Box::new(move |i| {
                format!(
                    "/search.csv?domain=news-{}.example&since={}&until={}",
                    i % 200,
                    day(i),
                    day(i)
                )
            }),
        ),
        (
            "API measurements",
            Box::new(|_| "/api/v1/measurements?limit=100".into()),
        ),
        (
            "API measurements, anomaly=true",
            Box::new(move |i| {
                format!(
                    "/api/v1/measurements?probe_asn={}&anomaly=true",
                    nets[i % 4].1
                )
            }),
        ),
        (
            "API measurements by domain",
            Box::new(|i| format!("/api/v1/measurements?domain=news-{}.example", i % 200)),
        ),
        (
            "API aggregation per day",
            Box::new(|_| "/api/v1/aggregation?axis_x=measurement_start_day".into()),
        ),
        (
            "API aggregation day × network",
            Box::new(|_| {
                "/api/v1/aggregation?probe_cc=KZ&axis_x=measurement_start_day&axis_y=probe_asn"
                    .into()
            }),
        ),
        (
            "API aggregation domain, CSV",
            Box::new(|_| "/api/v1/aggregation?axis_x=domain&format=CSV".into()),
        ),
        (
            "API measurement_meta",
            Box::new(move |i| {
                format!(
                    "/api/v1/measurement_meta?measurement_uid={}&full=true",
                    uid2(i)
                )
            }),
        ),
        (
            "API raw_measurement",
            Box::new(move |i| format!("/api/v1/raw_measurement?measurement_uid={}", uid3(i))),
        ),
    ];
    let mut table = String::new();
    let mut worst: f64 = 0.0;
    for (name, path) in &calls {
        let mut ms = Vec::with_capacity(a.requests);
        for i in 0..a.requests {
            let p = path(i);
            let t0 = Instant::now();
            let r = http::get(addr, &p).await;
            ms.push(t0.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 200, "{p}: {}", r.text());
        }
        ms.sort_by(|x, y| x.total_cmp(y));
        let (p50, p95, max) = (
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            ms[ms.len() - 1],
        );
        worst = worst.max(p95);
        let line = format!("| {name} | {p50:.1} | {p95:.1} | {max:.1} |\n");
        eprint!("{line}");
        table.push_str(&line);
    }
    let db_mb = std::fs::metadata(&a.db).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let section = format!(
        "{BEGIN}\n\
         {rows} measurements in SQLite ({db_mb:.0} MB file{}), {} sequential requests per row, each with \
         other values (domain, network, day, page, uid), over loopback to the explorer and API served \
         in-process (release build, 2 shared cores). Milliseconds, whole answer received:\n\n\
         | page or call | p50 | p95 | max |\n|---|---|---|---|\n{table}\n\
         Slowest p95: **{worst:.1} ms** (goal: ≤ 200 ms).\n\n\
         Command: `cargo run --release -p interfero-server --example explorer_bench -- --rows {} --markdown docs/performance.md`\n\
         {END}\n",
        if fill_s > 0.0 {
            format!(", filled in {fill_s:.0} s")
        } else {
            String::new()
        },
        a.requests,
        a.rows
    );
    println!("{section}");
    if let Some(md) = &a.markdown {
        let old = std::fs::read_to_string(md).unwrap_or_default();
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => {
                format!(
                    "{}{}{}",
                    &old[..b],
                    section.trim_end(),
                    &old[e + END.len()..]
                )
            }
            _ => format!(
                "{}\n## Explorer and API at a million measurements\n\n{section}",
                old.trim_end()
            ),
        };
        std::fs::write(md, new).expect("write the markdown");
    }
}
