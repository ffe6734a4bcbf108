//! The control server over loopback: the protocol, its limits and a graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
use interfero_model::{ControlRequest, ControlResponse};
use interfero_server::{measurer_fn, serve_control, ControlMeasurer, Limits};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A measurer that answers after `delay`, echoing the URL into the title, and records how
/// many answers ran at once.
fn fake(
    delay: Duration,
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
) -> Arc<dyn ControlMeasurer> {
    Arc::new(measurer_fn(move |req: ControlRequest| {
        let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
        async move {
            let running = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            now.fetch_sub(1, Ordering::SeqCst);
            let mut resp = ControlResponse::default();
            resp.http_request.title = req.http_request;
            resp.http_request.status_code = 200;
            resp
        }
    }))
}

fn quick() -> Arc<dyn ControlMeasurer> {
    fake(Duration::ZERO, Arc::default(), Arc::default())
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
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let m = fake(Duration::from_millis(150), now, Arc::clone(&peak));
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
    for c in clients {
        assert_eq!(c.await.unwrap().0, 200);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn slow_measurement_hits_the_deadline() {
    let m = fake(Duration::from_secs(5), Arc::default(), Arc::default());
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
    let m = fake(Duration::from_millis(300), Arc::default(), Arc::default());
    let (addr, stop, task) = start(m, Limits::default()).await;
    let client = tokio::spawn(async move {
        exchange(addr, "POST", "/", &request_json("https://inflight.kz/")).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let (status, _) = client.await.unwrap();
    assert_eq!(status, 200);
    let served = tokio::time::timeout(Duration::from_secs(5), task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))));
    assert!(TcpStream::connect(addr).await.is_err());
}
