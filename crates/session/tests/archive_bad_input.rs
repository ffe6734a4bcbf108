//! Archiving hostile or broken pages on loopback: an unreachable URL, an enormous page, binary
//! content and a page that changes every time it is fetched. Each is bounded and reported, no
//! spurious change is claimed, and no capture kept earlier is lost.

use interfero_archive::Archive;
use interfero_probe::ProbeConfig;
use interfero_session::archiving::Keeper;
use interfero_store::CaptureIndex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CAP: usize = 64 * 1024;
const BIG: usize = 8 * 1024 * 1024;

/// A loopback site: `/big` (8 MiB), `/bin` (binary bytes), `/clock` (a new clock and counter
/// on every answer), anything else a fixed article.
async fn site() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&got);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let n = hits.fetch_add(1, Ordering::SeqCst);
                let (ctype, body): (&str, Vec<u8>) = match path.as_str() {
                    "/big" => (
                        "text/html",
                        b"<p>filler</p>\n"
                            .iter()
                            .copied()
                            .cycle()
                            .take(BIG)
                            .collect(),
                    ),
                    "/bin" => (
                        "application/octet-stream",
                        (0..=255u8).cycle().take(3000).collect(),
                    ),
                    "/clock" => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_nanos();
                        ("text/html", format!("<title>Live</title><p>Now {now}</p><p>Visitors {n}</p><p>Story</p>").into_bytes())
                    }
                    _ => ("text/html", b"<title>A</title><p>An article.</p>".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn bad_pages_are_bounded_reported_and_lose_nothing() {
    let base = site().await;
    let dead = format!("http://127.0.0.1:{}/", closed_port().await);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    let mut keeper = Keeper::new(archive, Some(CaptureIndex::open(&db).unwrap()), CAP);
    let cfg = ProbeConfig::default();
    let urls = vec![
        format!("{base}/article"),
        format!("{base}/big"),
        format!("{base}/bin"),
        format!("{base}/clock"),
        dead.clone(),
    ];
    let mut events = Vec::new();
    for round in 0..4 {
        let (kept, errors) = keeper
            .round(&cfg, None, &urls, &format!("round {round}"))
            .await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(kept.len(), urls.len());
        let by = |suffix: &str| kept.iter().find(|k| k.url.ends_with(suffix)).unwrap();
        // The enormous page is cut at the cap and says so.
        assert!(by("/big").truncated && by("/big").status == 200);
        // The unreachable URL is reported with its failure, and kept as a capture too.
        let d = kept.iter().find(|k| k.url == dead).unwrap();
        assert_eq!(d.status, 0);
        assert!(
            d.failure.as_deref().is_some_and(|f| f.contains("refused")),
            "{:?}",
            d.failure
        );
        assert!(d.id.is_some());
        events.extend(kept.into_iter().filter_map(|k| k.event));
    }
    // A page that changes on every fetch (clock, counter) is not a change; nor is anything else.
    assert!(events.is_empty(), "{events:?}");
    // Every capture is listed and reads back: the big one at the cap, the binary one intact.
    let index = CaptureIndex::open(&db).unwrap();
    let listed = index.list(None).unwrap();
    // 5 URLs × 4 rounds, plus the first sight's second capture of each of the 4 pages.
    assert_eq!(listed.len(), 24, "{listed:?}");
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    for e in &listed {
        let c = archive.load(&e.id).unwrap();
        if e.url.ends_with("/big") {
            assert_eq!(c.page().unwrap().body.len(), CAP);
            assert!(e.truncated);
        }
        if e.url.ends_with("/bin") {
            let want: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
            assert_eq!(c.page().unwrap().body, want);
        }
    }
}
