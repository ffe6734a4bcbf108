//! `lab archive`: pages that change on a schedule are archived from the probe and the control;
//! every change is reported at the first round after it with who did it, a page varying by
//! itself on every request reports nothing, and the page blocked only behind the censor is told
//! apart from the ones their publisher removed. The events are stored and every capture is
//! listed and reads back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_archive::Archive;
use interfero_lab::{Scenario, ScenarioTime};
use interfero_lab_run::lab::Lab;
use interfero_lab_run::labarchive::archive_lab;
use interfero_store::{CaptureIndex, EventKind, MeasurementStore, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_changes_are_found_with_who_did_them() {
    let s = Scenario::builtin("kz-archive").unwrap();
    let lab = Lab::start(&s).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let store = SqliteStore::open(&db).unwrap();
    let index = CaptureIndex::open(&db).unwrap();
    let captures = dir.path().join("captures");
    // Daily rounds from d0 00:00 to d10 00:00: every scheduled change falls on a round.
    let score = archive_lab(
        &lab,
        &captures,
        Some(index),
        &store,
        ScenarioTime(0),
        86_400,
        11,
    )
    .await;
    lab.shutdown().await;
    assert!(score.perfect(), "{}", score.to_text());
    assert_eq!(score.expected.len(), 7, "{}", score.to_text());
    let has = |needle: &str| score.seen.iter().any(|e| e.contains(needle));
    assert!(has(
        "d3 00:00 content_removed https://ratel-kz.test:8443/story (interference)"
    ));
    assert!(has("d4 00:00 content_removed https://vlast-news.test:8443/2021/court-ruling (removed_by_publisher)"));
    assert!(has(
        "d6 00:00 content_changed https://village-kz.test:8443/mural (changed_by_publisher)"
    ));
    assert!(has(
        "d8 00:00 content_removed https://village-kz.test:8443/gone (removed_by_publisher)"
    ));
    // The photo whose bytes changed under the same URL (the blurred mural without a new name).
    assert!(has(
        "d7 00:00 content_changed https://village-kz.test:8443/photo-report (changed_by_publisher)"
    ));
    // The events are stored, each naming both captures and showing the difference.
    let events = store.events().unwrap();
    assert_eq!(events.len(), 7);
    let mural = events
        .iter()
        .find(|e| e.kind == EventKind::ContentChanged && e.input.ends_with("/mural"))
        .unwrap();
    let text = mural.evidence.join("\n");
    assert!(
        text.contains("before: capture ")
            && text.contains("after: capture ")
            && text.contains("control: capture "),
        "{text}"
    );
    assert!(text.contains("+ [image] /img/mural-blurred.jpg"), "{text}");
    let photo = events
        .iter()
        .find(|e| e.input.ends_with("/photo-report"))
        .unwrap()
        .evidence
        .join("\n");
    assert!(
        photo
            .contains("image https://village-kz.test:8443/img/square.jpg replaced (digest sha256:")
            && photo.contains(" → sha256:"),
        "{photo}"
    );
    // Every listed capture reads back from the archive, the control's among them.
    let index = CaptureIndex::open(&db).unwrap();
    let listed = index.list(None).unwrap();
    assert!(listed.iter().any(|e| e.vantage == "control"));
    let archive = Archive::open(&captures).unwrap();
    for e in &listed {
        let c = archive.load(&e.id).unwrap();
        assert_eq!(c.url, e.url);
    }
    // The photo page's captures hold the image as its own record, bytes and all.
    let photo = listed
        .iter()
        .find(|e| e.url.ends_with("/photo-report") && e.vantage == "probe")
        .unwrap();
    assert_eq!(photo.images, 1);
    let c = archive.load(&photo.id).unwrap();
    let img = c
        .embed("https://village-kz.test:8443/img/square.jpg")
        .unwrap();
    assert!(img.body.starts_with(&[0xff, 0xd8]), "{:?}", c.notes);
}
