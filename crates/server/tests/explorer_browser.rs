//! The explorer in a real browser (Debian's Chromium driven by ChromeDriver over WebDriver):
//! search, open a measurement, follow a chart's bar to its measurements, download CSV, read
//! a feed; hostile titles run nothing; everything works with JavaScript off; phone-width
//! pages do not scroll sideways. Skips with one line when Chromium or ChromeDriver is missing.
//!
//! Screenshots of the main pages go to `$INTERFERO_SCREENSHOTS` (relative to the workspace),
//! e.g. `INTERFERO_SCREENSHOTS=docs/explorer cargo test -p interfero-server --test explorer_browser`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod support;

use std::path::PathBuf;
use support::fixture::{self, RICH_DOMAIN, XSS};
use support::webdriver::{binaries, Driver, Session};

fn screenshots() -> Option<PathBuf> {
    let dir = std::env::var_os("INTERFERO_SCREENSHOTS")?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join(dir);
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    Some(dir)
}

async fn shot(s: &Session, name: &str) {
    if let Some(dir) = screenshots() {
        std::fs::write(dir.join(format!("{name}.png")), s.screenshot().await).expect("write png");
    }
}

fn skip() -> Option<(&'static str, &'static str)> {
    let b = binaries();
    if b.is_none() {
        eprintln!("skipped: /usr/bin/chromium or /usr/bin/chromedriver missing (apt-get install chromium chromium-driver)");
    }
    b
}

/// Counts the number in "blocked N of M" from a bar's tooltip.
fn tooltip_count(title: &str) -> u64 {
    let after = title.split(": blocked ").nth(1).expect("blocked tooltip");
    after.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_searches_opens_follows_a_bar_downloads_and_reads_a_feed() {
    let Some((chromium, driver)) = skip() else {
        return;
    };
    let store = fixture::store();
    let addr = fixture::serve(store.clone()).await;
    let base = format!("http://{addr}");
    let downloads = tempfile::tempdir().unwrap();
    let d = Driver::start(driver);
    let s = d
        .session(chromium, true, 1280, 1000, downloads.path())
        .await;

    // Home, then search by domain from the search form.
    s.goto(&format!("{base}/")).await;
    shot(&s, "home").await;
    s.goto(&format!("{base}/search")).await;
    let input = s.find("input[name=domain]").await;
    s.type_into(&input, RICH_DOMAIN).await;
    let button = s.find("form.filters button").await;
    s.click(&button).await;
    s.wait_url("domain=hola-news.kz").await;
    let first = s.find("a.m").await;
    s.click(&first).await;
    s.wait_url("/m/").await;
    let verdict = s.text(&s.find("#verdict").await).await;
    assert!(
        verdict.contains("hola-news.kz was blocked on JSC Kazakhtelecom (AS9198)"),
        "{verdict}"
    );
    assert!(
        verdict.contains("stalled after the ClientHello"),
        "{verdict}"
    );
    shot(&s, "measurement").await;

    // A chart: follow the first blocked bar to exactly its measurements.
    s.goto(&format!("{base}/chart?asn=AS9198")).await;
    shot(&s, "chart").await;
    let bar = s
        .find("figure.chart svg a[href*='status=blocked'] rect")
        .await;
    let title = s
        .text(
            &s.find("figure.chart svg a[href*='status=blocked'] title")
                .await,
        )
        .await;
    let title = if title.is_empty() {
        s.script("return document.querySelector(\"figure.chart svg a[href*='status=blocked'] title\").textContent").await.as_str().unwrap_or("").to_string()
    } else {
        title
    };
    let n = tooltip_count(&title);
    s.click(&bar).await;
    let url = s.wait_url("/search?").await;
    assert!(
        url.contains("/search?") && url.contains("status=blocked") && url.contains("since="),
        "{url}"
    );
    let count: u64 = s.text(&s.find("#count").await).await.parse().unwrap();
    assert_eq!(count, n, "the bar's measurements are the ones it counted");
    s.goto(&format!("{base}/chart?cc=KZ&y=domain")).await;
    shot(&s, "grid").await;

    // Download the search as CSV through the browser.
    s.goto(&format!("{base}/search?asn=AS9198&status=blocked"))
        .await;
    shot(&s, "search").await;
    let expected: u64 = s.text(&s.find("#count").await).await.parse().unwrap();
    let csv_link = s.find("#csv").await;
    s.click(&csv_link).await;
    let file = downloads.path().join("interfero-measurements.csv");
    let lines = || {
        std::fs::read_to_string(&file)
            .map(|t| t.lines().count() as u64)
            .unwrap_or(0)
    };
    let mut waited = 0;
    while lines() < expected + 1 && waited < 400 {
        // Waiting for the browser to finish writing the download (bounded: 20 s).
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(lines(), expected + 1, "the CSV was downloaded whole");

    // The country page links its feed; the feed names the block and its end.
    s.goto(&format!("{base}/country/KZ")).await;
    shot(&s, "country").await;
    let feed = s.attr(&s.find("#feed").await, "href").await;
    let feed = feed.trim_start_matches(&base).to_string();
    let atom = support::http::get(addr, &feed).await.text();
    assert!(atom.contains("<title>block started: hola-news.kz on JSC Kazakhtelecom (AS9198) (KZ) (tls.timeout)</title>"), "{atom}");
    assert!(atom.contains("block ended"));

    // A phone: nothing wider than the screen.
    s.set_size(390, 844).await;
    for path in [
        "/".to_string(),
        "/search?asn=AS9198".into(),
        format!("/m/{}", fixture::uid_of_domain(&store, RICH_DOMAIN)),
    ] {
        s.goto(&format!("{base}{path}")).await;
        let wide = s
            .script("return document.documentElement.scrollWidth - window.innerWidth")
            .await;
        assert!(
            wide.as_i64().unwrap_or(1) <= 0,
            "{path} scrolls sideways on a phone by {wide}px"
        );
    }
    shot(&s, "phone-measurement").await;
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_run_nothing() {
    let Some((chromium, driver)) = skip() else {
        return;
    };
    let store = fixture::store();
    let evil = fixture::uid_of_domain(&store, "evil.example");
    let rich = fixture::uid_of_domain(&store, RICH_DOMAIN);
    let addr = fixture::serve(store.clone()).await;
    let base = format!("http://{addr}");
    let downloads = tempfile::tempdir().unwrap();
    let d = Driver::start(driver);
    let s = d
        .session(chromium, true, 1280, 1000, downloads.path())
        .await;
    for path in [
        format!("/m/{evil}"),
        format!("/m/{rich}"),
        "/search?domain=evil.example".into(),
        format!("/domain/{RICH_DOMAIN}"),
        "/".into(),
    ] {
        s.goto(&format!("{base}{path}")).await;
        assert_eq!(s.alert().await, None, "{path} opened an alert");
        let flag = s.script("return typeof window.__xss").await;
        assert_eq!(flag, "undefined", "{path}: a payload ran");
        let injected = s
            .script("return document.querySelectorAll('img, script, [onerror], [onload]').length")
            .await;
        assert_eq!(injected, 0, "{path}: a payload became an element");
    }
    // The payload is on the page, as text.
    s.goto(&format!("{base}/m/{evil}")).await;
    let body = s.text(&s.find("body").await).await;
    assert!(body.contains("\"><img src=x onerror=\"window.__xss=2;alert(2)\">"));
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_with_javascript_off() {
    let Some((chromium, driver)) = skip() else {
        return;
    };
    let store = fixture::store();
    let addr = fixture::serve(store.clone()).await;
    let base = format!("http://{addr}");
    let downloads = tempfile::tempdir().unwrap();
    let d = Driver::start(driver);
    let s = d
        .session(chromium, false, 1280, 1000, downloads.path())
        .await;
    s.goto(&format!("{base}/search")).await;
    let input = s.find("input[name=asn]").await;
    s.type_into(&input, "AS48503").await;
    let button = s.find("form.filters button").await;
    s.click(&button).await;
    s.wait_url("asn=AS48503").await;
    let next = s.find("#next").await;
    s.click(&next).await;
    s.wait_url("after=").await;
    let m = s.find("a.m").await;
    s.click(&m).await;
    s.wait_url("/m/").await;
    let verdict = s.text(&s.find("#verdict").await).await;
    let name = interfero_server::explorer::networks::label("AS48503");
    assert!(verdict.contains(&name), "{verdict} (wanted {name})");
    s.goto(&format!("{base}/chart?cc=KZ&x=network&pct=1")).await;
    let bar = s.find("figure.chart svg a rect").await;
    s.click(&bar).await;
    s.wait_url("/search?cc=KZ&asn=").await;
    assert!(!s.find_all("a.m").await.is_empty());
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_opens_the_incidents_follows_a_facet_and_opens_a_record() {
    let Some((chromium, driver)) = skip() else {
        return;
    };
    let store = fixture::store();
    fixture::register(&store);
    let addr = fixture::serve_register(store.clone(), true).await;
    let base = format!("http://{addr}");
    let downloads = tempfile::tempdir().unwrap();
    let d = Driver::start(driver);
    let s = d
        .session(chromium, false, 1280, 1000, downloads.path())
        .await;
    s.goto(&format!("{base}/")).await;
    let nav = s.find("header.top a[href='/incidents']").await;
    s.click(&nav).await;
    s.wait_url("/incidents").await;
    s.goto(&format!("{base}/incidents?year=2021")).await;
    shot(&s, "incidents").await;
    s.goto(&format!("{base}/incidents")).await;
    let facet = s
        .find("#facet-kind a[href='/incidents?kind=website_block']")
        .await;
    s.click(&facet).await;
    s.wait_url("kind=website_block").await;
    let count: u64 = s.text(&s.find("#count").await).await.parse().unwrap();
    assert_eq!(count, 5);
    s.goto(&format!("{base}/incident/test-kz-blocks")).await;
    s.set_size(1280, 1700).await;
    shot(&s, "incident").await;
    s.set_size(1280, 1000).await;
    s.goto(&format!("{base}/incident/test-hola-blocked")).await;
    let m = s.find("#evidence a.m").await;
    s.click(&m).await;
    s.wait_url("/m/").await;
    assert!(s.text(&s.find("#verdict").await).await.contains("blocked"));
    // Hostile text in a record runs nothing, with scripts on.
    let s2 = d
        .session(chromium, true, 1280, 1000, downloads.path())
        .await;
    for path in ["/incidents", "/incident/test-hostile"] {
        s2.goto(&format!("{base}{path}")).await;
        assert_eq!(s2.alert().await, None, "{path} opened an alert");
        let flag = s2.script("return typeof window.__xss").await;
        assert_eq!(flag, "undefined", "{path}: a payload ran");
    }
    let title = s2.text(&s2.find("#title").await).await;
    assert_eq!(title, XSS[0]);
    s2.close().await;
    s.close().await;
}
