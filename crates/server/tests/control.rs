//! The control server over loopback: the protocol, its limits and a graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
use interfero_model::{ControlRequest, ControlResponse};
use interfero_server::{measurer_fn, serve_control, ControlMeasurer, Limits};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// A measurer that holds every answer until `release` turns true, counting the answers running
/// at once in `running` (a watch, so that tests wait on the count, never on time) and the most
/// at once in `peak`.
fn held(
    running: Arc<watch::Sender<usize>>,
    peak: Arc<AtomicUsize>,
    release: Arc<watch::Sender<bool>>,
) -> Arc<dyn ControlMeasurer> {
    Arc::new(measurer_fn(move |req: ControlRequest| {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        let mut go = release.subscribe();
        async move {
            running.send_modify(|n| *n += 1);
            peak.fetch_max(*running.borrow(), Ordering::SeqCst);
            let _ = go.wait_for(|go| *go).await;
            running.send_modify(|n| *n -= 1);
            let mut resp = ControlResponse::default();
            resp.http_request.title = req.http_request;
            resp.http_request.status_code = 200;
            resp
        }
    }))
}

/// A measurer that answers at once, echoing the URL into the title.
fn quick() -> Arc<dyn ControlMeasurer> {
    held(
        Arc::default(),
        Arc::default(),
        Arc::new(watch::channel(true).0),
    )
}

/// Starts a server on a loopback port; returns its address, a shutdown trigger and its task.
async fn start(
    m: Arc<dyn ControlMeasurer>,
    limits: Limits,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), interfero_server::ServerError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_control(listener, m, limits, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

mod common;
use common::exchange;

fn request_json(url: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "http_request": url,
        "http_request_headers": {"User-Agent": ["Mozilla/5.0"]},
        "tcp_connect": ["93.184.215.14:443"]
    }))
    .unwrap()
}

#[tokio::test]
async fn good_request_is_measured() {
    let (addr, _stop, _task) = start(quick(), Limits::default()).await;
    let (status, body) = exchange(addr, "POST", "/", &request_json("https://example.kz/")).await;
    assert_eq!(status, 200, "{body}");
    let resp: ControlResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(resp.http_request.title, "https://example.kz/");
    assert_eq!(resp.http_request.status_code, 200);
    // The address the request came from is handed back, for the probe to scrub from pages.
    assert_eq!(resp.x_client_address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn bad_json_is_400_with_a_json_error() {
    let (addr, _stop, _task) = start(quick(), Limits::default()).await;
    let (status, body) = exchange(addr, "POST", "/", b"{\"http_request\": ").await;
    assert_eq!(status, 400);
    let err: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("invalid control request"));
}

#[tokio::test]
async fn oversize_body_is_413() {
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let (addr, _stop, _task) = start(quick(), limits).await;
    let mut big = request_json("https://example.kz/");
    big.extend(std::iter::repeat_n(b' ', 4096));
    let (status, _) = exchange(addr, "POST", "/", &big).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn concurrency_is_capped() {
    let running = Arc::new(watch::channel(0usize).0);
    let release = Arc::new(watch::channel(false).0);
    let peak = Arc::new(AtomicUsize::new(0));
    let m = held(
        Arc::clone(&running),
        Arc::clone(&peak),
        Arc::clone(&release),
    );
    let limits = Limits {
        admission: interfero_server::Admission {
            max_concurrent: 2,
            ..Limits::default().admission
        },
        ..Limits::default()
    };
    let (addr, _stop, _task) = start(m, limits).await;
    let clients: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(async move {
                exchange(
                    addr,
                    "POST",
                    "/",
                    &request_json(&format!("https://s{i}.kz/")),
                )
                .await
            })
        })
        .collect();
    // Two answers held at once: the cap is reached, whatever the machine's speed.
    let _ = running.subscribe().wait_for(|n| *n >= 2).await;
    release.send_replace(true);
    for c in clients {
        assert_eq!(c.await.unwrap().0, 200);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn slow_measurement_hits_the_deadline() {
    // An answer that never comes (nothing releases it).
    let release = Arc::new(watch::channel(false).0);
    let m = held(Arc::default(), Arc::default(), release);
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    let (addr, _stop, _task) = start(m, limits).await;
    let (status, body) = exchange(addr, "POST", "/", &request_json("https://slow.kz/")).await;
    assert_eq!(status, 504, "{body}");
}

#[tokio::test]
async fn about_health_and_unknown_paths() {
    let (addr, _stop, _task) = start(quick(), Limits::default()).await;
    let (status, body) = exchange(addr, "GET", "/", b"").await;
    assert_eq!(status, 200);
    assert!(body.contains("test helper"));
    let (status, body) = exchange(addr, "GET", "/health", b"").await;
    assert_eq!(status, 200);
    assert!(body.contains("ok"));
    let (status, _) = exchange(addr, "POST", "/nowhere", b"{}").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let running = Arc::new(watch::channel(0usize).0);
    let release = Arc::new(watch::channel(false).0);
    let m = held(Arc::clone(&running), Arc::default(), Arc::clone(&release));
    let (addr, stop, task) = start(m, Limits::default()).await;
    let client = tokio::spawn(async move {
        exchange(addr, "POST", "/", &request_json("https://inflight.kz/")).await
    });
    // The request is being measured when the shutdown comes, and finishes after it.
    let _ = running.subscribe().wait_for(|n| *n == 1).await;
    stop.send(()).unwrap();
    release.send_replace(true);
    let (status, _) = client.await.unwrap();
    assert_eq!(status, 200);
    let served = tokio::time::timeout(Duration::from_secs(30), task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))));
    assert!(TcpStream::connect(addr).await.is_err());
}
