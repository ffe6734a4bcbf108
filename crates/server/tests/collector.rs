//! The minimal collector: submitted measurements are stored, bad ones refused, addresses dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
use interfero_model::Measurement;
use interfero_server::{collector_router, serve};
use interfero_store::{synthetic, Filter, MeasurementStore, RunInfo, SqliteStore};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

mod common;

async fn post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    common::exchange(addr, "POST", path, body).await
}

#[tokio::test]
async fn submitted_measurements_are_stored_without_the_submitter_address() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let run = store.begin_run(&RunInfo::default()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = collector_router(store.clone(), run, 1 << 20);
    tokio::spawn(serve(listener, router, std::future::pending()));

    let mut m = synthetic::measurement(7);
    m.probe_ip = "203.0.113.9".into();
    let (status, body) = post(
        addr,
        "/api/v1/measurement",
        &serde_json::to_vec(&m).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("measurement_id"));
    let stored: Vec<Measurement> = store.measurements(&Filter::default()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].input, m.input);
    assert_eq!(stored[0].probe_ip, "127.0.0.1");

    let (status, _) = post(addr, "/api/v1/measurement", b"not json").await;
    assert_eq!(status, 400);
    let (status, _) = post(addr, "/api/v1/measurement", b"{}").await;
    assert_eq!(status, 400);
    assert_eq!(store.count().unwrap(), 1);
}

#[tokio::test]
async fn control_and_collector_share_one_server() {
    use interfero_model::ControlResponse;
    use interfero_server::{control_router, measurer_fn, Limits, Tokens};
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let run = store.begin_run(&RunInfo::default()).unwrap();
    let m = Arc::new(measurer_fn(|_req| async { ControlResponse::default() }));
    let router = control_router(m, Limits::default(), Tokens::default()).merge(collector_router(
        store,
        run,
        1 << 20,
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, router, std::future::pending()));
    assert_eq!(post(addr, "/", b"{}").await.0, 200);
    let m = serde_json::to_vec(&synthetic::measurement(1)).unwrap();
    assert_eq!(post(addr, "/api/v1/measurement", &m).await.0, 201);
}
