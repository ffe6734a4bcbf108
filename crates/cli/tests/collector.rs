//! `interfero serve` as a team runs it: a probe submits to it; it is killed with SIGKILL under
//! load and restarted, and every acknowledged measurement is there, intact; forged verdicts
//! make no cross-network finding.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::{Measurement, Status, Technique, Verdict};
use interfero_store::{MeasurementStore, Order, Query, RunInfo, SqliteStore};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

mod common;
use common::BIN;

/// Starts `interfero serve` over the SQLite file `db`; returns it and its address.
fn serve(db: &Path, extra: &[&str]) -> (Child, SocketAddr) {
    let mut args = vec![std::ffi::OsStr::new("--db"), db.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    common::serve(&args)
}

/// One blocking HTTP/1.1 POST; `None` when the server is gone.
fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Option<(u16, serde_json::Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    Some((status, serde_json::from_str(body).unwrap_or_default()))
}

fn open_report(addr: SocketAddr) -> String {
    let body =
        br#"{"test_name":"web_connectivity","probe_cc":"KZ","probe_asn":"AS9198","format":"json"}"#;
    let (status, v) = post(addr, "/report", body).unwrap();
    assert_eq!(status, 200, "{v}");
    v["report_id"].as_str().unwrap().to_string()
}

fn measurement(i: usize) -> Measurement {
    let mut m = interfero_store::synthetic::measurement(i);
    m.test_runtime = 1.0 + i as f64 / 1e6;
    m
}

#[test]
fn every_acknowledged_measurement_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("collector.db");
    let (child, addr) = serve(&db, &[]);
    let report = open_report(addr);
    let server = Arc::new(Mutex::new(child));
    let current = Arc::new(RwLock::new(addr));
    let acked: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let next = Arc::new(Mutex::new(0usize));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (current, acked, done, next, report) = (
            current.clone(),
            acked.clone(),
            done.clone(),
            next.clone(),
            report.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let mut i = {
                let mut n = next.lock().unwrap();
                *n += 1;
                *n
            };
            while !done.load(Ordering::SeqCst) {
                let body = serde_json::to_vec(
                    &serde_json::json!({"format": "json", "content": measurement(i)}),
                )
                .unwrap();
                let addr = *current.read().unwrap();
                match post(addr, &format!("/report/{report}"), &body) {
                    Some((200, v)) => {
                        let uid = v["measurement_uid"].as_str().unwrap().to_string();
                        acked.lock().unwrap().push((i, uid));
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        i = *n;
                    }
                    // The server is down or being restarted: the same measurement again.
                    _ => std::thread::yield_now(),
                }
            }
        }));
    }
    // Kill points: after a pseudo-random number of further acknowledgements (a fixed seed,
    // so a failure can be replayed), four times.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..4 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait_for = acked.lock().unwrap().len() + 20 + (seed >> 33) as usize % 150;
        while acked.lock().unwrap().len() < wait_for {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut s = server.lock().unwrap();
        s.kill().unwrap(); // SIGKILL: no chance to flush anything
        s.wait().unwrap();
        let (child, addr) = serve(&db, &[]);
        *s = child;
        *current.write().unwrap() = addr;
        eprintln!("round {round}: killed after {wait_for} acknowledgements, restarted");
    }
    let target = acked.lock().unwrap().len() + 50;
    while acked.lock().unwrap().len() < target {
        std::thread::sleep(Duration::from_millis(5));
    }
    // The report opened before the kills is still open: its key was kept.
    done.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    let mut s = server.lock().unwrap();
    s.kill().unwrap();
    s.wait().unwrap();

    let store = SqliteStore::open(&db).unwrap();
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 300, "{}", acked.len());
    for (i, uid) in acked.iter() {
        let got = store
            .get_by_uid(uid)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {uid} is lost"));
        let want = measurement(*i);
        assert_eq!(got.measurement.input, want.input);
        assert_eq!(got.measurement.test_runtime, want.test_runtime);
    }
    // Every row reads back whole: nothing half-written.
    let mut rows = 0u64;
    store
        .scan(&Query::default(), Order::Oldest, &mut |s| {
            assert!(s.measurement.verdict.is_some());
            rows += 1;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert!(rows >= acked.len() as u64);
    assert_eq!(rows, store.count().unwrap());
}

#[test]
fn a_probe_submits_to_serve_and_the_server_keeps_its_own_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("collector.db");
    let (mut child, addr) = serve(&db, &[]);
    let probe_db = dir.path().join("probe.db");
    let url = format!("http://{addr}/");
    let out = Command::new(BIN)
        .args([
            "run",
            &format!("http://{addr}/nothing-here"),
            "--canaries",
            "none",
        ])
        .args([
            "--resolver",
            "127.0.0.1:9",
            "--quiet",
            "--submit",
            &url,
            "--db",
        ])
        .arg(&probe_db)
        .args(["--cc", "KZ", "--asn", "AS9198"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 measurement(s) sent"), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.count().unwrap(), 1);
    let mut seen = Vec::new();
    store
        .scan(&Query::default(), Order::Oldest, &mut |s| {
            seen.push(s.measurement);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let m = &seen[0];
    assert!(m.verdict.is_some(), "judged by the server");
    assert!(
        m.extra.contains_key("x_submitter_verdict"),
        "the probe's verdict kept aside"
    );
    assert_eq!(m.probe_asn, "AS9198");
}

/// A reachable site, as OONI's QA scenario recorded it, with a forged verdict.
fn forged(asn: &str, at: &str) -> Measurement {
    let text = include_str!(
        "../../../testdata/ooni/webconnectivity-generated/successWithHTTPS/measurement.json"
    );
    let mut m = Measurement::from_ooni_json(text).unwrap();
    m.probe_cc = "KZ".into();
    m.probe_asn = asn.into();
    m.measurement_start_time = at.into();
    m.verdict = Some(
        Verdict::new(
            Status::Blocked,
            1.0,
            "tls.stall_after_client_hello.control_ok",
        )
        .with(Technique::TlsTimeout),
    );
    m
}

#[test]
fn three_forged_blocked_rows_make_no_coordinated_finding() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let run = store.begin_run(&RunInfo::default()).unwrap();
        for (asn, at) in [
            ("AS9198", "2026-12-01 10:00:00"),
            ("AS48503", "2026-12-01 10:10:00"),
            ("AS21299", "2026-12-01 10:20:00"),
        ] {
            store.insert(run, &forged(asn, at)).unwrap();
        }
        // Taken as stored, these verdicts would link three networks.
        let stored: Vec<Measurement> = store.measurements(&Default::default()).unwrap();
        assert_eq!(
            interfero_analysis::crossnet::correlate(&stored, 3600).len(),
            1
        );
    }
    let out = Command::new(BIN)
        .args(["correlate", "--record", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(", 0 finding(s)"), "{text}");
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        interfero_server::collector::correlate::correlate_store(&store, 3600).unwrap(),
        0,
        "the server's scheduled correlation re-judges too"
    );
    assert!(store.events().unwrap().is_empty());

    // `analyze --rejudge` replaces the forged verdicts with the analysis's.
    let out = Command::new(BIN)
        .args(["analyze", "--rejudge", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 verdict(s) changed"));
    for m in store.measurements(&Default::default()).unwrap() {
        assert_eq!(m.verdict.unwrap().status, Status::Accessible);
    }
}
