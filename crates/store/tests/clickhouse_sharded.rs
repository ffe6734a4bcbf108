//! A sharded deployment: two private ClickHouse servers on their own loopback ports, one
//! cluster over both, a `Distributed` table per table. The conformance suite passes through
//! it; a collector writing through one node and an explorer reading through the other see the
//! same measurements, spread over both shards, re-submissions kept once. Skips with one line
//! when `clickhouse-server` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![cfg(feature = "clickhouse")]

mod clickhouse_common;
mod conformance;

use interfero_store::clickhouse::{ClickHouseStore, Config, LocalServer};
use interfero_store::{synthetic, Axis, Query, RunInfo};
use std::net::TcpListener;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

struct Cluster {
    nodes: Vec<LocalServer>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    fn start() -> Cluster {
        let ports: Vec<(u16, u16)> = (0..2).map(|_| (free_port(), free_port())).collect();
        let shards: String = ports
            .iter()
            .map(|(_, tcp)| {
                format!(
                    "<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>"
                )
            })
            .collect();
        let xml = format!("<two_shards>{shards}</two_shards>");
        let dirs: Vec<_> = (0..2)
            .map(|_| tempfile::tempdir().expect("tempdir"))
            .collect();
        let nodes = dirs
            .iter()
            .zip(&ports)
            .map(|(d, (http, tcp))| {
                LocalServer::start_on(d.path(), *http, *tcp, Some(&xml)).expect("start a node")
            })
            .collect();
        Cluster { nodes, _dirs: dirs }
    }

    /// The address of the store through node `entry`, creating the tables on both nodes.
    fn url(&self, entry: usize, db: &str) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("node=127.0.0.1:{}", n.http_port))
            .collect();
        format!(
            "{}?cluster=two_shards&{}&batch_rows=100&batch_ms=20",
            self.nodes[entry].url(db),
            nodes.join("&")
        )
    }
}

#[test]
fn a_two_shard_cluster_serves_collector_and_explorer() {
    if clickhouse_common::skip() {
        return;
    }
    let cluster = Cluster::start();

    // Every check of the suite, through the Distributed tables.
    let mut n = 0;
    conformance::run_all(&mut || {
        n += 1;
        interfero_store::open(&cluster.url(n % 2, &format!("conf_{n}"))).expect("open")
    });

    // The collector writes through node 0, the explorer reads through node 1.
    let collector = interfero_store::open(&cluster.url(0, "obs")).expect("collector store");
    let explorer = interfero_store::open(&cluster.url(1, "obs")).expect("explorer store");
    let run = collector
        .begin_run(&RunInfo {
            started: "2026-11-01 00:00:00".into(),
            software_version: "test".into(),
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
            note: "sharded".into(),
        })
        .expect("run");
    let ms: Vec<_> = (0..1_000).map(synthetic::varied).collect();
    collector.insert_many(run, &ms).expect("insert");
    // Re-submissions, one by one as probes send them: kept once.
    for m in &ms[..50] {
        collector.insert(run, m).expect("re-submit");
    }
    drop(collector); // sends what waits
    assert_eq!(explorer.count().expect("count"), 1_000);
    let per_day = explorer
        .aggregate(
            &Query {
                probe_cc: Some("KZ".into()),
                ..Query::default()
            },
            Axis::Day,
            Some(Axis::Status),
        )
        .expect("aggregate");
    let kz = ms.iter().filter(|m| m.probe_cc == "KZ").count() as u64;
    assert_eq!(per_day.iter().map(|b| b.counts.total).sum::<u64>(), kz);

    // Both shards hold part of it, and together all of it.
    let on: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|n| {
            clickhouse_common::sql(
                n.http_port,
                "SELECT count() FROM obs.measurements_local FINAL",
            )
            .parse()
            .expect("a count")
        })
        .collect();
    assert!(on.iter().all(|&c| c > 200), "both shards hold rows: {on:?}");
    assert_eq!(on.iter().sum::<u64>(), 1_000);

    // The incident register through the cluster: written through node 0, an edit read back
    // (latest revision, full history) through node 1.
    use interfero_model::incident::Incident;
    use interfero_store::{IncidentChange, IncidentFilter, IncidentStore, OnExisting};
    let at = IncidentChange {
        by: "test",
        at: "2026-12-02 12:00:00",
        action: "import",
    };
    let url = |entry| Config::parse(&cluster.url(entry, "obs")).expect("address");
    let writer = ClickHouseStore::open(&url(0)).expect("register writer");
    let reader = ClickHouseStore::open(&url(1)).expect("register reader");
    let records: Vec<Incident> = (0..6)
        .map(|i| {
            interfero_store::synthetic::incident(&format!("r{i}"), &format!("2021-0{}", i + 1))
        })
        .collect();
    let saved = writer
        .save_incidents(&records, &at, OnExisting::Refuse)
        .expect("save");
    let mut edit = saved[0].clone();
    edit.title = "edited".into();
    writer
        .save_incidents(&[edit], &at, OnExisting::Refuse)
        .expect("edit");
    let all = IncidentFilter {
        audience: interfero_store::Audience::Operator,
        ..IncidentFilter::default()
    };
    let read = reader.incidents(&all).expect("read");
    assert_eq!(read.len(), 6);
    assert_eq!(
        (read[0].title.as_str(), read[0].audit.revision),
        ("edited", 2)
    );
    assert_eq!(reader.incident_history("r0").expect("history").len(), 2);
}
