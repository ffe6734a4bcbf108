//! The upload queue against a real collector: collector down, network cut (a proxy that drops
//! every connection), restart; everything arrives, once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_probe::CollectorClient;
use interfero_server::collector::{CollectorConfig, Ingest, ReportIds};
use interfero_server::{collector_router, serve};
use interfero_session::upload::Uploader;
use interfero_store::{synthetic, MeasurementStore, Outbox, RunInfo, SqliteStore};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

struct Collector {
    addr: SocketAddr,
    store: Arc<SqliteStore>,
    ingest: Ingest,
}

async fn collector() -> Collector {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let run = store.begin_run(&RunInfo::default()).unwrap();
    let ingest = Ingest::start(store.clone(), run).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = CollectorConfig::new(ReportIds::new([3; 32]));
    cfg.rate_per_sec = 0.0;
    tokio::spawn(serve(
        listener,
        collector_router(ingest.clone(), cfg),
        std::future::pending(),
    ));
    Collector {
        addr,
        store,
        ingest,
    }
}

/// A TCP proxy to `to` that, while `cut`, reads what comes and closes without an answer.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

async fn proxy(to: SocketAddr) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (c, d) = (cut.clone(), dropped.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (c, d) = (c.clone(), d.clone());
            tokio::spawn(async move {
                if c.load(Ordering::SeqCst) {
                    let mut buf = [0u8; 4096];
                    let _ = inbound.read(&mut buf).await;
                    d.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                if let Ok(mut out) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    Proxy { addr, cut, dropped }
}

fn client(addr: SocketAddr) -> CollectorClient {
    let mut c = CollectorClient::new(format!("http://{addr}/"));
    c.timeout = Duration::from_secs(5);
    c
}

#[tokio::test]
async fn a_cut_network_delays_and_loses_nothing() {
    let c = collector().await;
    let p = proxy(c.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(Outbox::open(&dir.path().join("probe.db")).unwrap());
    let mut up = Uploader::new(outbox.clone(), client(p.addr));
    for i in 0..5 {
        assert!(up.enqueue(&synthetic::measurement(i)).unwrap());
    }
    assert_eq!(up.drain(Duration::from_secs(30)).await.unwrap(), 5);

    // The network is cut: measurements made meanwhile wait in the queue.
    p.cut.store(true, Ordering::SeqCst);
    for i in 5..12 {
        up.enqueue(&synthetic::measurement(i)).unwrap();
    }
    let pass = up.pass().await.unwrap();
    assert_eq!(pass.sent, 0);
    assert!(p.dropped.load(Ordering::SeqCst) >= 1);
    assert_eq!(outbox.counts(up.collector()).unwrap().waiting, 7);
    assert_eq!(c.store.count().unwrap(), 5);

    // It returns: everything is sent, each once.
    p.cut.store(false, Ordering::SeqCst);
    outbox.retry_now(up.collector()).unwrap();
    assert_eq!(up.drain(Duration::from_secs(60)).await.unwrap(), 7);
    assert_eq!(c.store.count().unwrap(), 12);
    assert_eq!(
        c.ingest.stats().committed.load(Ordering::Relaxed),
        12,
        "no measurement reached the collector twice"
    );
    assert_eq!(up.pass().await.unwrap().sent, 0, "nothing left to send");
}

#[tokio::test]
async fn a_dead_collector_and_a_restart_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("probe.db");
    // A port nothing listens on: the collector is down.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let c = collector().await;
    {
        let outbox = Arc::new(Outbox::open(&db).unwrap());
        // Queued under the URL the probe was given; the collector comes up there later.
        let mut up = Uploader::new(outbox.clone(), client(dead));
        for i in 0..10 {
            up.enqueue(&synthetic::measurement(i)).unwrap();
        }
        assert_eq!(up.drain(Duration::ZERO).await.unwrap(), 0);
        assert_eq!(outbox.counts(up.collector()).unwrap().waiting, 10);
        // The probe stops (the process ends).
    }
    // Restarted, pointed at the same URL, now served by a proxy to the live collector.
    let listener = TcpListener::bind(dead).await.unwrap();
    let to = c.addr;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut out) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    });
    let outbox = Arc::new(Outbox::open(&db).unwrap());
    outbox.retry_now(&client(dead).base_url).unwrap();
    let mut up = Uploader::new(outbox.clone(), client(dead));
    assert_eq!(up.drain(Duration::from_secs(60)).await.unwrap(), 10);
    assert_eq!(c.store.count().unwrap(), 10);
    assert_eq!(c.ingest.stats().committed.load(Ordering::Relaxed), 10);
    // The uid the collector answered is kept beside each queued row.
    let uid = interfero_store::uid_of(&synthetic::measurement(3));
    let theirs = outbox.sent_uid(up.collector(), &uid).unwrap().unwrap();
    assert!(c.store.get_by_uid(&theirs).unwrap().is_some());
}
