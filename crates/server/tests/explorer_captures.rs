//! Archived captures in the explorer: the list pages by keyset and filters, a capture's page
//! names the change it is part of in words (removed by its publisher / blocked here) with the
//! diff and links to its neighbours and the control's capture of the round; `/view` serves the
//! archived page inert (its CSP forbids scripts and remote loads, only the explorer may frame
//! it) and in Chromium its script does not run; `.warc` downloads a WARC that reads back (and
//! passes warcio when `INTERFERO_WARCIO_PYTHON` is set).
//!
//! Screenshots `captures.png` and `capture.png` go to `$INTERFERO_SCREENSHOTS`, e.g.
//! `INTERFERO_SCREENSHOTS=docs/explorer cargo test -p interfero-server --test explorer_captures`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod support;

use interfero_archive::Archive;
use interfero_model::capture::{Capture, Exchange, Vantage};
use interfero_server::explorer::captures::CaptureSource;
use interfero_server::explorer::ExplorerOptions;
use interfero_server::{serve_with, ServeOptions, ServeStats};
use interfero_store::{
    CaptureEntry, CaptureIndex, Event, EventKind, MeasurementStore, SqliteStore,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use support::http::get;
use support::webdriver::{binaries, Driver};

const URL: &str = "https://village-kz.example/mural";

fn page(vantage: Vantage, started: &str, body: &str, image: &[u8]) -> Capture {
    Capture {
        url: URL.into(),
        vantage,
        started: started.into(),
        finished: started.replace(".000Z", ".400Z"),
        exchanges: vec![Exchange {
            url: URL.into(),
            method: "GET".into(),
            date: started.into(),
            status: 200,
            response_headers: vec![("Content-Type".into(), "text/html".into())],
            body: body.as_bytes().to_vec(),
            ..Exchange::default()
        }],
        embeds: vec![Exchange {
            url: "https://village-kz.example/img/mural.jpg".into(),
            method: "GET".into(),
            date: started.into(),
            status: 200,
            response_headers: vec![("Content-Type".into(), "image/gif".into())],
            body: image.to_vec(),
            ..Exchange::default()
        }],
        ..Capture::default()
    }
}

/// A 1x1 GIF whose colour is `c`.
fn gif(c: u8) -> Vec<u8> {
    let mut g = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
    g.extend([c, 0, 0, 255, 255, 255]);
    g.extend(
        b"!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    );
    g
}

const HOSTILE: &str = "<html><head><title>A mural in Almaty</title></head><body><h1>A mural in Almaty</h1>\
    <p>Artists painted a mural in the city centre.</p><img src=\"/img/mural.jpg\">\
    <script>top.postMessage('ran','*');parent.postMessage('ran','*');fetch('https://live.example/beacon')</script>\
    <img src=\"https://live.example/track.gif\"></body></html>";

struct World {
    addr: SocketAddr,
    ids: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Two vantage captures (the second with the image's bytes replaced), the control's capture
/// of the second round, 60 fillers of another host, and the change event naming them.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let index = CaptureIndex::open(&db).unwrap();
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    let keep = |c: &Capture| {
        let s = archive.put(c).unwrap();
        let p = c.page().unwrap();
        index
            .add(&CaptureEntry {
                id: s.id.clone(),
                url: c.url.clone(),
                vantage: c.vantage.as_str().into(),
                started: c.started.clone(),
                finished: c.finished.clone(),
                status: p.status,
                final_url: p.url.clone(),
                payload_digest: interfero_archive::digest(&p.body),
                size: p.body.len() as u64,
                images: c.embeds.len() as u32,
                ..CaptureEntry::default()
            })
            .unwrap();
        s.id
    };
    let before = keep(&page(
        Vantage::Probe,
        "2026-12-01T00:00:00.000Z",
        HOSTILE,
        &gif(0),
    ));
    let after = keep(&page(
        Vantage::Probe,
        "2026-12-02T00:00:00.000Z",
        HOSTILE,
        &gif(200),
    ));
    let control = keep(&page(
        Vantage::Control,
        "2026-12-02T00:00:01.000Z",
        HOSTILE,
        &gif(200),
    ));
    for i in 0..60 {
        let mut c = page(
            Vantage::Probe,
            &format!("2026-11-{:02}T{:02}:00:00.000Z", 1 + i / 24, i % 24),
            "<p>filler</p>",
            &gif(1),
        );
        c.url = format!("https://filler.example/{i}");
        c.exchanges[0].url = c.url.clone();
        keep(&c);
    }
    store
        .record_event(&Event {
            input: URL.into(),
            kind: EventKind::ContentChanged,
            technique: None,
            started: "2026-12-02 00:00:00".into(),
            ended: Some("2026-12-02 00:00:00".into()),
            evidence: vec![
                "attribution: changed_by_publisher".into(),
                format!("before: capture {before}"),
                format!("after: capture {after}"),
                format!("control: capture {control}"),
                "altered\nimage https://village-kz.example/img/mural.jpg replaced (digest sha256:AAAA → sha256:BBBB)".into(),
            ],
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
        })
        .unwrap();
    let opts = ExplorerOptions {
        captures: Some(CaptureSource {
            index: Arc::new(index),
            archive,
        }),
        ..ExplorerOptions::default()
    };
    let store: Arc<dyn MeasurementStore> = store;
    let router = interfero_server::explorer::router(store, opts);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_with(
        listener,
        router,
        ServeOptions::default(),
        Arc::new(ServeStats::default()),
        std::future::pending(),
    ));
    World {
        addr,
        ids: vec![before, after, control],
        _dir: dir,
    }
}

#[tokio::test]
async fn the_list_pages_and_filters() {
    let w = world().await;
    let first = get(w.addr, "/captures").await;
    assert_eq!(first.status, 200);
    let html = first.text();
    assert_eq!(html.matches("class=\"c\"").count(), 50, "a page of 50");
    // Newest first: the control's capture of the last round heads the list.
    let top = html.find(&w.ids[2]).unwrap();
    assert!(top < html.find(&w.ids[1]).unwrap());
    let next = html.split("id=\"next\" href=\"").nth(1).unwrap();
    let next = next.split('"').next().unwrap().replace("&amp;", "&");
    let second = get(w.addr, &next).await.text();
    assert_eq!(second.matches("class=\"c\"").count(), 13);
    assert!(!second.contains("id=\"next\""));
    let host = get(w.addr, "/captures?host=village-kz.example&vantage=probe")
        .await
        .text();
    assert_eq!(host.matches("class=\"c\"").count(), 2);
    let ctl = get(
        w.addr,
        "/captures?url=https%3A%2F%2Fvillage-kz.example%2Fmural&vantage=control",
    )
    .await
    .text();
    assert_eq!(ctl.matches("class=\"c\"").count(), 1);
    assert_eq!(get(w.addr, "/captures?after=nonsense").await.status, 400);
}

#[tokio::test]
async fn a_capture_page_says_who_and_links_its_neighbours() {
    let w = world().await;
    let (before, after, control) = (&w.ids[0], &w.ids[1], &w.ids[2]);
    let a = get(w.addr, &format!("/capture/{after}")).await;
    assert_eq!(a.status, 200);
    let html = a.text();
    assert!(html.contains("Changed by its publisher"), "{html}");
    assert!(html.contains("replaced (digest sha256:AAAA → sha256:BBBB)"));
    assert!(html.contains(&format!("id=\"prev\" href=\"/capture/{before}\"")));
    assert!(html.contains(&format!("id=\"round\" href=\"/capture/{control}\"")));
    assert!(html.contains(&format!("/capture/{after}/view")));
    assert!(html.contains(&format!("/capture/{after}.warc")));
    assert!(html.contains(&format!("/capture/{after}/image/0")));
    // The page's own policy: nothing framed from elsewhere, frames only from this origin.
    assert!(a
        .header("content-security-policy")
        .contains("frame-ancestors 'none'"));
    assert_eq!(a.header("x-frame-options"), "DENY");
    // The event's feed entry and the domain page link to the captures.
    let feed = get(w.addr, "/feed.atom?domain=village-kz.example")
        .await
        .text();
    assert!(feed.contains(&format!("/capture/{after}\"")), "{feed}");
    let domain = get(w.addr, "/domain/village-kz.example").await.text();
    assert!(
        domain.contains(&format!("href=\"/capture/{before}\">before capture")),
        "{domain}"
    );
    let c = get(w.addr, &format!("/capture/{control}")).await.text();
    assert!(
        c.contains(&format!("id=\"round\" href=\"/capture/{after}\"")),
        "{c}"
    );
    assert_eq!(
        get(w.addr, &format!("/capture/{}", "0".repeat(64)))
            .await
            .status,
        404
    );
    assert_eq!(get(w.addr, "/capture/../etc").await.status, 404);
}

#[tokio::test]
async fn the_view_is_inert_and_framable_by_the_explorer_only() {
    let w = world().await;
    let v = get(w.addr, &format!("/capture/{}/view", w.ids[1])).await;
    assert_eq!(v.status, 200);
    let csp = v.header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(
        !csp.contains("script-src"),
        "no script source allowed: {csp}"
    );
    assert!(!csp.contains("http"), "no remote host allowed: {csp}");
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    assert_eq!(v.header("x-frame-options"), "SAMEORIGIN");
    let body = v.text();
    assert!(
        !body.contains("<script"),
        "the archived script is only escaped text"
    );
    let img = get(w.addr, &format!("/capture/{}/image/0", w.ids[1])).await;
    assert_eq!(img.header("content-type"), "image/gif");
    assert_eq!(img.body, gif(200));
    assert!(img.header("content-security-policy").contains("sandbox"));
}

#[tokio::test]
async fn the_warc_download_reads_back_with_its_image() {
    let w = world().await;
    let d = get(w.addr, &format!("/capture/{}.warc", w.ids[1])).await;
    assert_eq!(d.status, 200);
    assert!(d.header("content-disposition").contains(".warc.gz"));
    let read = interfero_archive::read_captures(&d.body).unwrap();
    let last = &read.last().unwrap().capture;
    assert_eq!(last.url, URL);
    assert_eq!(last.embeds.len(), 1);
    if let Some(py) = std::env::var_os("INTERFERO_WARCIO_PYTHON") {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.warc.gz");
        std::fs::write(&f, &d.body).unwrap();
        let script = "import sys\nfrom warcio.archiveiterator import ArchiveIterator\n\
            n=0\nfor r in ArchiveIterator(open(sys.argv[1],'rb'), check_digests='raise'):\n\
            \x20   r.content_stream().read(); n+=1\nprint(n)\n";
        let out = std::process::Command::new(py)
            .args(["-c", script])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(
            n >= 5,
            "warcinfo, request/response of page and image, metadata: {n}"
        );
    }
}

fn screenshots() -> Option<PathBuf> {
    let dir = std::env::var_os("INTERFERO_SCREENSHOTS")?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_archived_script_does_not_run() {
    let Some((chromium, driver)) = binaries() else {
        eprintln!("skipped: /usr/bin/chromium or /usr/bin/chromedriver missing");
        return;
    };
    let w = world().await;
    let base = format!("http://{}", w.addr);
    let downloads = tempfile::tempdir().unwrap();
    let d = Driver::start(driver);
    let s = d
        .session(chromium, true, 1280, 1100, downloads.path())
        .await;
    s.goto(&format!("{base}/captures")).await;
    if let Some(dir) = screenshots() {
        std::fs::write(dir.join("captures.png"), s.screenshot().await).unwrap();
    }
    s.goto(&format!("{base}/capture/{}", w.ids[1])).await;
    let frame = s.find("iframe.archived").await;
    assert_eq!(s.attr(&frame, "sandbox").await, "");
    // Listen for the archived script's message, reload the frame, wait for its load event:
    // had the script run, the message would have arrived before the load event.
    let got = s
        .script(
            "window.__got = []; window.addEventListener('message', e => window.__got.push(String(e.data))); \
             const f = document.querySelector('iframe.archived'); \
             return new Promise(r => { f.addEventListener('load', () => r(window.__got)); f.src = f.src; });",
        )
        .await;
    assert_eq!(got, serde_json::json!([]), "the archived script ran");
    assert!(s.alert().await.is_none());
    s.set_size(1280, 1500).await;
    if let Some(dir) = screenshots() {
        std::fs::write(dir.join("capture.png"), s.screenshot().await).unwrap();
    }
    s.close().await;
}
