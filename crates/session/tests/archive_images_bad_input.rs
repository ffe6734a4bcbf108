//! Embedded images that are hostile or broken, on loopback: an enormous image, a non-image at
//! an image URL, hundreds of images on one page, an image on another site. Each is bounded and
//! reported in the capture's notes, no spurious change is claimed, and no earlier capture is
//! lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_archive::Archive;
use interfero_probe::embeds::MAX_IMAGES;
use interfero_probe::ProbeConfig;
use interfero_session::archiving::Keeper;
use interfero_store::CaptureIndex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CAP: usize = 64 * 1024;

/// A loopback site: `/huge` (a page with an 8 MiB image), `/fake` (an "image" that is HTML,
/// different on every fetch), `/many` (300 images and one on another site); `/img/...` answers
/// the images, counted in `hits`.
async fn site(hits: Arc<AtomicU64>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
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
                let html = |b: String| ("text/html", b.into_bytes());
                let (ctype, body): (&str, Vec<u8>) = match path.as_str() {
                    "/huge" => html("<title>Huge</title><p>A</p><img src=/img/huge.jpg>".into()),
                    "/fake" => html("<title>Fake</title><p>A</p><img src=/img/fake.jpg>".into()),
                    "/many" => {
                        let mut b = String::from("<title>Many</title><p>A</p>");
                        b.push_str("<img src=\"http://ads.invalid/pixel.gif\">");
                        for i in 0..300 {
                            b.push_str(&format!("<img src=\"/img/{i}.png\">"));
                        }
                        html(b)
                    }
                    "/img/huge.jpg" => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        ("image/jpeg", vec![0xffu8; 8 * 1024 * 1024])
                    }
                    "/img/fake.jpg" => {
                        let n = hits.fetch_add(1, Ordering::SeqCst);
                        html(format!("<p>not an image {n}</p>"))
                    }
                    _ => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        ("image/png", b"\x89PNG small".to_vec())
                    }
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

#[tokio::test]
async fn bad_images_are_bounded_reported_and_lose_nothing() {
    let hits = Arc::new(AtomicU64::new(0));
    let base = site(hits.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    let mut keeper = Keeper::new(archive, Some(CaptureIndex::open(&db).unwrap()), CAP);
    let cfg = ProbeConfig::default();
    let urls: Vec<String> = ["/huge", "/fake", "/many"]
        .iter()
        .map(|p| format!("{base}{p}"))
        .collect();
    let mut events = Vec::new();
    let mut first_ids = Vec::new();
    for round in 0..3 {
        let before = hits.load(Ordering::SeqCst);
        let (kept, errors) = keeper
            .round(&cfg, None, &urls, &format!("round {round}"))
            .await;
        assert!(errors.is_empty(), "{errors:?}");
        let by = |suffix: &str| kept.iter().find(|k| k.url.ends_with(suffix)).unwrap();
        let notes = |suffix: &str| by(suffix).notes.join("\n");
        assert!(
            notes("/huge").contains("huge.jpg cut at 65536 bytes"),
            "{}",
            notes("/huge")
        );
        assert!(
            notes("/fake").contains("not an image: body not kept"),
            "{}",
            notes("/fake")
        );
        let many = notes("/many");
        assert!(
            many.contains("284 more images not fetched (at most 16 a page)"),
            "{many}"
        );
        assert!(
            many.contains("1 images on other sites not fetched"),
            "{many}"
        );
        // Image requests of a round: at most MAX_IMAGES + 2 per capture, first sight doubled.
        let asked = hits.load(Ordering::SeqCst) - before;
        let captures = if round == 0 { 2 } else { 1 };
        assert!(
            asked <= captures * (MAX_IMAGES as u64 + 2),
            "{asked} image requests"
        );
        if round == 0 {
            first_ids = kept.iter().map(|k| k.id.clone().unwrap()).collect();
        }
        events.extend(kept.into_iter().filter_map(|k| k.event));
    }
    // The "image" that is HTML changes on every fetch but is not kept, so no change is claimed.
    assert!(events.is_empty(), "{events:?}");
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    let index = CaptureIndex::open(&db).unwrap();
    let listed = index.list(None).unwrap();
    assert_eq!(
        listed.len(),
        3 * 3 + 3,
        "3 rounds of 3 pages, and first sight's repeats"
    );
    for e in &listed {
        let c = archive.load(&e.id).unwrap();
        if e.url.ends_with("/huge") {
            let img = &c.embeds[0];
            assert!(img.truncated && img.body.len() == CAP, "{}", img.body.len());
        }
        if e.url.ends_with("/fake") {
            assert!(c.embeds[0].body.is_empty());
        }
        if e.url.ends_with("/many") {
            assert_eq!(c.embeds.len(), MAX_IMAGES);
            assert_eq!(e.images as usize, MAX_IMAGES);
        }
    }
    // The first round's captures are still whole.
    for id in &first_ids {
        assert!(archive.load(id).is_ok());
    }
}
