//! The collector as a probe sees it: OONI's protocol, duplicates, and bad input that gets a
//! clear answer and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::{judge, Context};
use interfero_model::{Measurement, Status, Verdict};
use interfero_server::collector::{CollectorConfig, Ingest, ReportIds, TestList, CLAIM_KEY};
use interfero_server::{collector_router, serve};
use interfero_store::{synthetic, MeasurementStore, Order, Query, RunInfo, SqliteStore};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

mod common;

async fn start(cfg: CollectorConfig) -> (SocketAddr, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let run = store.begin_run(&RunInfo::default()).unwrap();
    let ingest = Ingest::start(store.clone(), run).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        collector_router(ingest, cfg),
        std::future::pending(),
    ));
    (addr, store)
}

fn config() -> CollectorConfig {
    let mut lists = TestList::default();
    lists.add_csv("KZ", "url,category_code\nhttps://news.kz/,NEWS\n");
    lists.add_csv("XX", "url,category_code\nhttps://global.example/,HUMR\n");
    CollectorConfig {
        test_helpers: json!({"web-connectivity": [{"address": "https://control.example/", "type": "https"}]}),
        lists: Arc::new(lists),
        ..CollectorConfig::new(ReportIds::new([1; 32]))
    }
}

async fn post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, Value) {
    let (status, text) = common::exchange(addr, "POST", path, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post_encoded(addr: SocketAddr, path: &str, enc: &str, body: &[u8]) -> (u16, Value) {
    let s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Encoding: {enc}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, text) = common::send(s, &head, body).await;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn open_report(addr: SocketAddr, cc: &str, asn: &str) -> String {
    let open = json!({"data_format_version": "0.2.0", "format": "json", "probe_asn": asn,
        "probe_cc": cc, "software_name": "ooniprobe", "software_version": "3.20",
        "test_name": "web_connectivity", "test_start_time": "2026-11-30 10:00:00",
        "test_version": "0.5.0"});
    let (status, body) = post(addr, "/report", open.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    body["report_id"].as_str().unwrap().to_string()
}

fn submission(m: &Measurement) -> Vec<u8> {
    json!({"format": "json", "content": m})
        .to_string()
        .into_bytes()
}

/// A measurement as a probe claiming a block would send it.
fn claimed_blocked(i: usize) -> Measurement {
    let mut m = synthetic::measurement(i);
    m.verdict = Some(Verdict::new(Status::Blocked, 1.0, "forged"));
    m.probe_ip = "203.0.113.77".into();
    m
}

#[tokio::test]
async fn an_ooni_probe_opens_submits_and_closes() {
    let (addr, store) = start(config()).await;
    let id = open_report(addr, "KZ", "AS9198").await;
    let parts: Vec<&str> = id.split('_').collect();
    assert_eq!(parts.len(), 6, "{id}");
    assert_eq!(&parts[1..5], ["webconnectivity", "KZ", "AS9198", "n1"]);

    let m = claimed_blocked(1);
    let (status, body) = post(addr, &format!("/report/{id}"), &submission(&m)).await;
    assert_eq!(status, 200, "{body}");
    let uid = body["measurement_uid"].as_str().unwrap().to_string();
    assert_eq!(uid.split('_').count(), 4, "OONI's uid shape: {uid}");

    // Stored as judged here; the submitter's verdict kept aside, its address gone.
    let stored = store
        .get_by_uid(&uid)
        .unwrap()
        .expect("stored under the uid answered");
    let s = &stored.measurement;
    assert_eq!(s.probe_ip, "127.0.0.1");
    let ours = judge(&m.input, &m.test_keys, &Context::default());
    assert_eq!(s.verdict.as_ref(), Some(&ours));
    assert_ne!(
        ours.status,
        Status::Blocked,
        "nothing in the observations shows a block"
    );
    assert_eq!(
        s.extra[CLAIM_KEY]["status"], "blocked",
        "the claim is kept as a claim"
    );

    // zstd and gzip bodies, and the same measurement again: stored once, same uid.
    let z = zstd::stream::encode_all(&submission(&claimed_blocked(2))[..], 3).unwrap();
    let (status, body) = post_encoded(addr, &format!("/report/{id}"), "zstd", &z).await;
    assert_eq!(status, 200, "{body}");
    let (status, again) = post(addr, &format!("/report/{id}"), &submission(&m)).await;
    assert_eq!(status, 200);
    assert_eq!(again["measurement_uid"], uid.as_str());
    assert_eq!(store.count().unwrap(), 2);

    let (status, body) = post(addr, &format!("/report/{id}/close"), b"").await;
    assert_eq!((status, body), (200, json!({})));
}

#[tokio::test]
async fn check_in_and_test_helpers_answer_in_oonis_shape() {
    let (addr, _store) = start(config()).await;
    let (status, text) = common::exchange(addr, "GET", "/api/v1/test-helpers", b"").await;
    assert_eq!(status, 200);
    let h: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        h["web-connectivity"][0]["address"],
        "https://control.example/"
    );
    let req = json!({"run_type": "manual", "probe_cc": "KZ", "probe_asn": "AS9198",
        "on_wifi": true, "charging": true, "software_name": "ooniprobe",
        "software_version": "3.20", "web_connectivity": {"category_codes": []}});
    let (status, c) = post(addr, "/api/v1/check-in", req.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["v"], 1);
    assert_eq!(c["probe_cc"], "KZ");
    let wc = &c["tests"]["web_connectivity"];
    let urls: Vec<&str> = wc["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://news.kz/", "https://global.example/"]);
    // The report id it hands out is one to submit to.
    let id = wc["report_id"].as_str().unwrap();
    let (status, body) = post(
        addr,
        &format!("/report/{id}"),
        &submission(&claimed_blocked(3)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_changes_nothing() {
    let mut cfg = config();
    cfg.max_body_bytes = 64 * 1024;
    cfg.max_decoded_bytes = 128 * 1024;
    let (addr, store) = start(cfg).await;
    let id = open_report(addr, "KZ", "AS9198").await;
    let at = format!("/report/{id}");
    let good = claimed_blocked(5);

    let mut future = good.clone();
    future.measurement_start_time = (chrono::Utc::now() + chrono::Duration::hours(3))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut other_cc = good.clone();
    other_cc.probe_cc = "RU".into();
    let mut other_test = good.clone();
    other_test.test_name = "tor".into();
    let mut bad_time = good.clone();
    bad_time.measurement_start_time = "yesterday".into();
    let deep = format!(
        "{{\"format\":\"json\",\"content\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let big = json!({"format": "json", "content": {"input": "x".repeat(70 * 1024)}}).to_string();
    let bomb = zstd::stream::encode_all(&vec![b' '; 1 << 20][..], 19).unwrap();

    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("malformed JSON", at.clone(), b"{\"format\": ".to_vec(), 400),
        ("not an object", at.clone(), b"[1,2]".to_vec(), 400),
        (
            "wrong format",
            at.clone(),
            json!({"format": "yaml", "content": good})
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "no content",
            at.clone(),
            b"{\"format\":\"json\"}".to_vec(),
            400,
        ),
        ("another country", at.clone(), submission(&other_cc), 400),
        ("another test", at.clone(), submission(&other_test), 400),
        ("time in the future", at.clone(), submission(&future), 400),
        ("time unreadable", at.clone(), submission(&bad_time), 400),
        ("deeply nested", at.clone(), deep.into_bytes(), 400),
        ("oversized", at.clone(), big.into_bytes(), 413),
        (
            "unknown report",
            "/report/20261202T000000Z_webconnectivity_KZ_AS9198_n1_AAAAAAAAAAAAAAAA".into(),
            submission(&good),
            404,
        ),
        (
            "garbage report id",
            "/report/..%2f..".into(),
            submission(&good),
            404,
        ),
    ];
    for (what, path, body, want) in &cases {
        let (status, answer) = post(addr, path, body).await;
        assert_eq!(status, *want, "{what}: {answer}");
        let msg = answer["message"].as_str().or(answer["error"].as_str());
        assert!(
            msg.is_some_and(|m| !m.is_empty()),
            "{what}: a clear line: {answer}"
        );
    }
    let (status, answer) = post_encoded(addr, &at, "zstd", &bomb).await;
    assert_eq!(status, 413, "a zstd bomb: {answer}");
    assert_eq!(store.count().unwrap(), 0, "nothing bad was stored");

    // And the report still works.
    let (status, _) = post(addr, &at, &submission(&good)).await;
    assert_eq!(status, 200);
    let mut n = 0;
    store
        .scan(&Query::default(), Order::Oldest, &mut |_| {
            n += 1;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(n, 1);
}
