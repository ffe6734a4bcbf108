//! `interfero serve --store clickhouse://…`: the collector writes through ClickHouse (one node,
//! and a two-shard cluster through its `Distributed` tables), every 2xx means the server holds
//! the measurement (it is there after the collector is killed with SIGKILL), and the API and
//! the explorer read it back. Skips with one line when `clickhouse-server` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_store::clickhouse::{server_binary, LocalServer};
use interfero_store::{MeasurementStore, Query};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

mod common;

/// Starts `interfero serve` over `store`; returns it and its address.
fn serve(store: &str, key: &Path) -> (Child, SocketAddr) {
    common::serve(&[
        std::ffi::OsStr::new("--store"),
        std::ffi::OsStr::new(store),
        std::ffi::OsStr::new("--report-key"),
        key.as_os_str(),
    ])
}

/// One blocking HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

fn json(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> serde_json::Value {
    let (status, text) = request(addr, method, path, body);
    assert_eq!(status, 200, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// Submits `n` measurements; returns their uids (each acknowledged with 200).
fn submit(addr: SocketAddr, n: usize) -> Vec<String> {
    let open =
        br#"{"test_name":"web_connectivity","probe_cc":"KZ","probe_asn":"AS9198","format":"json"}"#;
    let report = json(addr, "POST", "/report", open)["report_id"]
        .as_str()
        .unwrap()
        .to_string();
    (0..n)
        .map(|i| {
            let mut m = interfero_store::synthetic::measurement(i);
            m.test_runtime = 1.0 + i as f64 / 1e6;
            let body =
                serde_json::to_vec(&serde_json::json!({"format": "json", "content": m})).unwrap();
            json(addr, "POST", &format!("/report/{report}"), &body)["measurement_uid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// What a store, the API and the explorer show after `uids` were acknowledged by a collector
/// that was then killed.
fn check_read_back(store: &dyn MeasurementStore, addr: SocketAddr, uids: &[String]) {
    let q = Query {
        probe_cc: Some("KZ".into()),
        ..Query::default()
    };
    assert_eq!(store.count_matching(&q).unwrap(), uids.len() as u64);
    for uid in uids {
        assert!(store.get_by_uid(uid).unwrap().is_some(), "{uid} is stored");
    }
    let list = json(
        addr,
        "GET",
        "/api/v1/measurements?probe_cc=KZ&limit=100",
        b"",
    );
    assert_eq!(
        list["results"].as_array().unwrap().len(),
        uids.len(),
        "{list}"
    );
    let meta = json(
        addr,
        "GET",
        &format!("/api/v1/measurement_meta?measurement_uid={}", uids[0]),
        b"",
    );
    assert_eq!(meta["measurement_uid"].as_str(), Some(uids[0].as_str()));
    let (status, page) = request(addr, "GET", &format!("/m/{}", uids[0]), b"");
    assert_eq!(status, 200, "{page}");
    let (status, page) = request(addr, "GET", "/search?probe_cc=KZ", b"");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("site-0.example"), "the explorer lists it");
    // The incident register lives in the same ClickHouse database (it answered 503 before).
    let (status, page) = request(addr, "GET", "/api/v1/incidents", b"");
    assert_eq!(status, 200, "{page}");
}

fn skip() -> bool {
    if server_binary().is_none() {
        eprintln!(
            "skipped: clickhouse-server is not installed (apt-get install clickhouse-server)"
        );
        return true;
    }
    false
}

#[test]
fn serve_on_clickhouse_acknowledges_only_what_the_server_holds() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(&dir.path().join("ch"), None).unwrap();
    let key = dir.path().join("report-key");
    let url = server.url("obs");
    let (mut collector, addr) = serve(&url, &key);
    let uids = submit(addr, 12);
    // SIGKILL: nothing the collector still held in memory survives; every 2xx must.
    collector.kill().unwrap();
    collector.wait().unwrap();
    let (mut reader, addr) = serve(&url, &key);
    let store = interfero_store::open(&url).unwrap();
    check_read_back(store.as_ref(), addr, &uids);
    reader.kill().unwrap();
    reader.wait().unwrap();
}

#[test]
fn serve_writes_and_reads_through_a_two_shard_cluster() {
    if skip() {
        return;
    }
    let free = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (free(), free())).collect();
    let shards: String = ports
        .iter()
        .map(|(_, tcp)| {
            format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>")
        })
        .collect();
    let xml = format!("<two_shards>{shards}</two_shards>");
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<LocalServer> = ports
        .iter()
        .enumerate()
        .map(|(i, (http, tcp))| {
            LocalServer::start_on(&dir.path().join(format!("n{i}")), *http, *tcp, Some(&xml))
                .unwrap()
        })
        .collect();
    let url = |entry: usize| {
        format!(
            "{}?cluster=two_shards&node=127.0.0.1:{}&node=127.0.0.1:{}",
            nodes[entry].url("obs"),
            ports[0].0,
            ports[1].0
        )
    };
    let key = dir.path().join("report-key");
    // The collector writes through node 0 ...
    let (mut collector, addr) = serve(&url(0), &key);
    let uids = submit(addr, 24);
    collector.kill().unwrap();
    collector.wait().unwrap();
    // ... the explorer reads through node 1.
    let (mut reader, addr) = serve(&url(1), &key);
    let store = interfero_store::open(&url(1)).unwrap();
    check_read_back(store.as_ref(), addr, &uids);
    reader.kill().unwrap();
    reader.wait().unwrap();
    // Both shards hold some of them, and together all.
    let held: Vec<u64> = nodes
        .iter()
        .map(|n| {
            let q = "SELECT count() FROM obs.measurements_local";
            let addr = SocketAddr::from(([127, 0, 0, 1], n.http_port));
            let (status, body) = request(addr, "POST", "/", q.as_bytes());
            assert_eq!(status, 200, "{body}");
            // HTTP/1.1: the count is the chunk between the chunk sizes.
            let lines: Vec<&str> = body.lines().map(str::trim).collect();
            let n = if lines.len() >= 2 { lines[1] } else { lines[0] };
            n.parse().unwrap_or_else(|e| panic!("{e}: {body:?}"))
        })
        .collect();
    assert!(held.iter().all(|&n| n > 0), "{held:?}");
    assert_eq!(held.iter().sum::<u64>(), uids.len() as u64);
}
