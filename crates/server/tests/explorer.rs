//! The explorer and the OONI-shaped API over HTTP on loopback: every page answers, carries a
//! policy without inline script, shows hostile text as text, and the downloads, charts,
//! feeds and API answer the same filter with the same numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod support;

use interfero_store::{MeasurementStore, Query};
use support::fixture::{self, RICH_DOMAIN, XSS};
use support::http::get;

#[tokio::test]
async fn pages_answer_with_a_strict_policy_and_hostile_text_escaped() {
    let store = fixture::store();
    let rich = fixture::uid_of_domain(&store, RICH_DOMAIN);
    let evil = fixture::uid_of_domain(&store, "evil.example");
    let addr = fixture::serve(store.clone()).await;
    for path in [
        "/".to_string(),
        "/search".into(),
        "/search?domain=evil.example".into(),
        format!("/m/{rich}"),
        format!("/m/{evil}"),
        "/chart".into(),
        "/chart?cc=KZ&y=domain".into(),
        "/chart?x=network&pct=1".into(),
        format!("/domain/{RICH_DOMAIN}"),
        "/network/AS9198".into(),
        "/country/KZ".into(),
    ] {
        let a = get(addr, &path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text());
        let csp = a.header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        let body = a.text();
        for x in XSS {
            assert!(!body.contains(x), "{path} carries a raw payload {x}");
        }
        assert!(!body.contains("<script"), "{path} has a script element");
        assert!(!body.contains("onerror=\""), "{path} has a live handler");
    }
    let page = get(addr, &format!("/m/{evil}")).await.text();
    assert!(
        page.contains("&#34;&#62;&#60;img src=x onerror="),
        "the title is shown as text"
    );
}

#[tokio::test]
async fn the_measurement_page_tells_the_verdict_and_every_step() {
    let store = fixture::store();
    let uid = fixture::uid_of_domain(&store, RICH_DOMAIN);
    let addr = fixture::serve(store.clone()).await;
    let page = get(addr, &format!("/m/{uid}")).await.text();
    for want in [
        "On 30 Nov 2026 at 09:15 UTC hola-news.kz was blocked on JSC Kazakhtelecom (AS9198) in KZ: the TLS handshake stalled after the ClientHello while the control&#39;s succeeded.",
        "tls.stall_after_client_hello.control_ok",
        "stalled 5.0 s after the ClientHello",
        "198.18.0.53:53",                 // resolver
        "Control's answer",
        "generic_timeout_error after the ClientHello",
        "national root: Information Security Certification Authority (ISCA) (KZ, 2020-2024)",
        "2026-01-01T00:00:00Z – 2027-01-01T00:00:00Z",
        &"aa".repeat(32),                 // leaf SHA-256
        "5120 bytes",
        "Hola News",                      // control's title
        "kbit/s",
        "<polyline",                      // throughput curve
        "time_exceeded at 2 ms from [near-hop]",
        "&#34;measurement_start_time&#34;: &#34;2026-11-30 09:15:00&#34;", // raw JSON
    ] {
        assert!(page.contains(want), "missing {want:?}");
    }
    assert_eq!(get(addr, "/m/nope").await.status, 404);
}

#[tokio::test]
async fn search_pages_downloads_and_api_agree_with_the_store() {
    let store = fixture::store();
    let addr = fixture::serve(store.clone()).await;
    let q = Query {
        probe_asn: Some("AS9198".into()),
        status: Some(interfero_model::Status::Blocked),
        ..Query::default()
    };
    let n = store.count_matching(&q).unwrap();
    assert!(n > 50, "the fixture has more than a page: {n}");
    let page = get(addr, "/search?asn=9198&status=blocked").await.text();
    assert!(page.contains(&format!("<strong id=\"count\">{n}</strong>")));
    assert_eq!(page.matches("class=\"m\" href=\"/m/").count(), 50);
    // Following the next links visits every match once.
    let mut seen = std::collections::HashSet::new();
    let mut path = "/search?asn=9198&status=blocked".to_string();
    loop {
        let p = get(addr, &path).await.text();
        for part in p.split("class=\"m\" href=\"/m/").skip(1) {
            let u = part.split('"').next().unwrap().to_string();
            assert!(seen.insert(u.clone()), "a repeat {u} on {path}");
        }
        match p.split("id=\"next\" href=\"").nth(1) {
            Some(rest) => path = rest.split('"').next().unwrap().replace("&#38;", "&"),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, n);
    // CSV: a header and one record per match, parsed by a CSV reader.
    let csv = get(addr, "/search.csv?asn=AS9198&status=blocked").await;
    assert!(csv.header("content-disposition").contains("attachment"));
    let mut r = csv::Reader::from_reader(csv.body.as_slice());
    assert_eq!(r.headers().unwrap().get(0), Some("measurement_uid"));
    let recs: Vec<_> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len() as u64, n);
    assert!(recs.iter().all(|r| &r[8] == "blocked" && &r[5] == "AS9198"));
    // A hostile category cannot become a spreadsheet formula or break the columns.
    let evil = get(addr, "/search.csv?domain=evil.example").await;
    let mut r = csv::Reader::from_reader(evil.body.as_slice());
    let rec = r.records().next().unwrap().unwrap();
    assert_eq!(rec.len(), 13);
    let json = get(addr, "/search.json?asn=AS9198&status=blocked")
        .await
        .json();
    assert_eq!(json.as_array().unwrap().len() as u64, n);
    // OONI's list: same filter in OONI's names, pages chained with next_url.
    let mut url = "/api/v1/measurements?probe_asn=AS9198&status=blocked&limit=100".to_string();
    let mut total = 0;
    loop {
        let v = get(addr, &url).await.json();
        let res = v["results"].as_array().unwrap();
        total += res.len();
        assert!(res
            .iter()
            .all(|m| m["anomaly"] == true && m["probe_asn"] == "AS9198"));
        match v["metadata"]["next_url"].as_str() {
            Some(u) if !u.is_empty() => url = u.to_string(),
            _ => break,
        }
    }
    assert_eq!(total as u64, n);
    let bad = get(addr, "/api/v1/measurements?anomaly=maybe").await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("anomaly"));
}

#[tokio::test]
async fn charts_aggregation_and_feeds_count_the_same() {
    let store = fixture::store();
    let addr = fixture::serve(store.clone()).await;
    let q = Query {
        probe_cc: Some("KZ".into()),
        ..Query::default()
    };
    let buckets = store
        .aggregate(&q, interfero_store::Axis::Day, None)
        .unwrap();
    let v = get(
        addr,
        "/api/v1/aggregation?probe_cc=KZ&axis_x=measurement_start_day&time_grain=day",
    )
    .await
    .json();
    assert_eq!(v["dimension_count"], 1);
    let rows = v["result"].as_array().unwrap();
    assert_eq!(rows.len(), buckets.len());
    for (r, b) in rows.iter().zip(&buckets) {
        assert_eq!(r["measurement_start_day"], b.x.as_str());
        assert_eq!(r["measurement_count"], b.counts.total);
        let parts: u64 = [
            "anomaly_count",
            "confirmed_count",
            "failure_count",
            "ok_count",
        ]
        .iter()
        .map(|k| r[*k].as_u64().unwrap())
        .sum();
        assert_eq!(
            parts, b.counts.total,
            "OONI's counts are exclusive and complete"
        );
    }
    let csv = get(
        addr,
        "/api/v1/aggregation?probe_cc=KZ&axis_x=probe_asn&format=CSV",
    )
    .await;
    assert!(csv.text().starts_with(
        "anomaly_count,confirmed_count,failure_count,ok_count,measurement_count,probe_asn"
    ));
    let none = get(addr, "/api/v1/aggregation?probe_cc=KZ").await.json();
    assert_eq!(
        none["result"]["measurement_count"],
        store.count_matching(&q).unwrap()
    );
    assert_eq!(
        get(addr, "/api/v1/aggregation?axis_x=blocking_type")
            .await
            .status,
        400
    );
    // The chart's image and CSV: one bar (and one line) per day, every bar a link.
    let svg = get(addr, "/chart.svg?cc=KZ&x=day").await;
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    let svg = svg.text();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("href=\"/search?cc=KZ&amp;since="));
    let chart_csv = get(addr, "/chart.csv?cc=KZ&x=day").await.text();
    assert_eq!(chart_csv.lines().count(), buckets.len() + 1);
    // The feed: the rich domain's two events, newest first, hostile evidence escaped.
    let feed = get(addr, &format!("/feed.atom?domain={RICH_DOMAIN}")).await;
    assert!(feed
        .header("content-type")
        .starts_with("application/atom+xml"));
    let text = feed.text();
    assert_eq!(text.matches("<entry>").count(), 2);
    let first = text.find("block ended").unwrap();
    assert!(first < text.find("block started").unwrap());
    assert!(!text.contains("<script>"));
    assert_eq!(
        get(addr, "/feed.atom?cc=KG")
            .await
            .text()
            .matches("<entry>")
            .count(),
        0
    );
}
