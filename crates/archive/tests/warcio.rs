//! Captures written by the archive open in the field's standard reader: Python's `warcio` reads
//! every record and checks every block and payload digest. Set `INTERFERO_WARCIO_PYTHON` to a
//! Python with warcio (`.ci/run` makes one in `target/warcio-venv`); without one the check
//! prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_archive::{read_captures, Archive};
use interfero_model::capture::{Capture, Exchange, Vantage};
use std::path::PathBuf;
use std::process::Command;

fn exchange(url: &str, status: u16, ctype: &str, body: &[u8]) -> Exchange {
    Exchange {
        url: url.into(),
        method: "GET".into(),
        request_headers: vec![
            ("Host".into(), "news.example".into()),
            ("User-Agent".into(), "interfero-test".into()),
        ],
        date: "2026-12-02T10:00:00.250Z".into(),
        status,
        response_headers: vec![
            ("Content-Type".into(), ctype.into()),
            ("Transfer-Encoding".into(), "chunked".into()),
        ],
        body: body.to_vec(),
        truncated: false,
        failure: None,
    }
}

fn captures() -> Vec<Capture> {
    let article = b"<html><title>Court ruling</title><p>The ruling said ...</p></html>".to_vec();
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let mut big = exchange("https://news.example/big", 200, "text/html", &[b'x'; 4096]);
    big.truncated = true;
    let base = |url: &str, started: &str, vantage, exchanges| Capture {
        url: url.into(),
        vantage,
        started: started.into(),
        finished: started.into(),
        exchanges,
        failure: None,
        // Every capture keeps the page's image as its own records (revisits once unchanged).
        embeds: vec![exchange(
            "https://news.example/img/mural.jpg",
            200,
            "image/jpeg",
            b"\xff\xd8\xff\xe0 mural \xff\xd9",
        )],
        notes: Vec::new(),
    };
    vec![
        base(
            "https://news.example/a",
            "2026-12-02T10:00:00.000Z",
            Vantage::Probe,
            vec![
                exchange("https://news.example/a", 301, "text/html", b""),
                exchange("https://news.example/a/", 200, "text/html", &article),
            ],
        ),
        // The same article a day later, unchanged: kept as a revisit.
        base(
            "https://news.example/a",
            "2026-12-03T10:00:00.000Z",
            Vantage::Control,
            vec![exchange(
                "https://news.example/a/",
                200,
                "text/html",
                &article,
            )],
        ),
        base(
            "https://news.example/img.png",
            "2026-12-02T10:00:01.000Z",
            Vantage::Probe,
            vec![exchange(
                "https://news.example/img.png",
                200,
                "image/png",
                &binary,
            )],
        ),
        base(
            "https://news.example/big",
            "2026-12-02T10:00:02.000Z",
            Vantage::Probe,
            vec![big],
        ),
        Capture {
            failure: Some(interfero_model::Failure::ConnectionRefused),
            ..base(
                "https://gone.example/",
                "2026-12-02T10:00:03.000Z",
                Vantage::Probe,
                vec![],
            )
        },
    ]
}

#[test]
fn captures_round_trip_with_dedup_and_digests() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(dir.path()).unwrap();
    let cs = captures();
    let stored: Vec<_> = cs.iter().map(|c| archive.put(c).unwrap()).collect();
    assert!(stored.iter().all(|s| s.new));
    assert!(!stored[0].responses[1].revisit);
    assert!(
        stored[1].responses[0].revisit,
        "an unchanged payload is a revisit"
    );
    assert_eq!(
        stored[0].responses[1].payload_digest,
        stored[1].responses[0].payload_digest
    );
    // Keeping the same capture again keeps nothing new.
    let again = archive.put(&cs[0]).unwrap();
    assert_eq!((again.id.clone(), again.new), (stored[0].id.clone(), false));
    for (c, s) in cs.iter().zip(&stored) {
        assert_eq!(
            &archive.load(&s.id).unwrap(),
            c,
            "capture {} reads back whole",
            s.id
        );
    }
    // A file whose content is changed is refused, naming the record.
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(archive.raw(&stored[2].id).unwrap().as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    let at = raw.len() / 2;
    raw[at] ^= 0x55;
    let err = read_captures(&raw).unwrap_err().to_string();
    assert!(err.contains("digest does not match"), "{err}");
}

use std::io::Read;

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("INTERFERO_WARCIO_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let ok = Command::new("python3")
        .args(["-c", "import warcio"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("python3"))
}

#[test]
fn warcio_reads_every_record_and_checks_every_digest() {
    let Some(py) = python() else {
        eprintln!("skipping the warcio check: set INTERFERO_WARCIO_PYTHON to a Python with warcio (.ci/run makes one)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(&dir.path().join("captures")).unwrap();
    let ids: Vec<String> = captures()
        .iter()
        .map(|c| archive.put(c).unwrap().id)
        .collect();
    // One capture file alone, and the export of them all (which carries the revisit's original).
    let export = dir.path().join("export.warc.gz");
    let mut f = std::fs::File::create(&export).unwrap();
    assert_eq!(
        archive.export(&ids[1..2], &mut f).unwrap(),
        2,
        "the revisit brings its original"
    );
    let all = dir.path().join("all.warc.gz");
    let mut f = std::fs::File::create(&all).unwrap();
    assert_eq!(archive.export(&ids, &mut f).unwrap(), ids.len());
    drop(f);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/warcio_check.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&all)
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "warcio failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let types = &summary["types"];
    // all: 1 warcinfo + (2+1+1+1) request + 4 response (the redirect's included) + 1 revisit
    // + 5 metadata (the failed capture has only its metadata); export: 1 warcinfo + 3 request
    // + 2 response + 1 revisit + 2 metadata.
    assert_eq!(types["warcinfo"], 2, "{summary}");
    // Plus the image each capture keeps: a request each (5 in all, 2 in the export), a
    // response where its payload is first held (1 in all, 1 in the export), revisits after.
    assert_eq!(types["request"], 8 + 7, "{summary}");
    assert_eq!(types["response"], 6 + 2, "{summary}");
    assert_eq!(types["revisit"], 2 + 5, "{summary}");
    assert_eq!(types["metadata"], 7, "{summary}");
    assert_eq!(
        summary["payload_digests_checked"],
        6 + 2,
        "the image responses too"
    );
    assert_eq!(summary["block_digests_checked"], 23 + 9, "{summary}");
    assert_eq!(summary["truncated"], 1);
    assert_eq!(summary["records"], 25 + 14, "{summary}");
}
