//! The incident register in the explorer over HTTP: the seed year's records listed with facets
//! and shown with their evidence, hostile text shown as text, drafts and restricted records
//! only for the operator's token, and editing over the JSON API that refuses without a token,
//! refuses when no token is configured, and changes nothing on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod support;

use support::fixture::{self, OPERATOR, RICH_DOMAIN, XSS};
use support::http::{get, send};

fn bearer() -> String {
    format!("Bearer {OPERATOR}")
}

async fn get_as(addr: std::net::SocketAddr, path: &str) -> support::http::Answer {
    send(
        addr,
        "GET",
        path,
        &[("authorization", &bearer())],
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn the_seed_year_is_listed_with_facets_and_shown_with_its_evidence() {
    let store = fixture::store();
    fixture::register(&store);
    let uid = fixture::uid_of_domain(&store, RICH_DOMAIN);
    let addr = fixture::serve_register(store.clone(), true).await;

    // 20 seed records and 4 public test records; the draft is not among them.
    let list = get(addr, "/incidents").await;
    assert_eq!(list.status, 200);
    let page = list.text();
    assert!(page.contains("<strong id=\"count\">24</strong>"), "{page}");
    assert!(!page.contains("A draft that protects its source"));
    assert_eq!(page.matches("class=\"i\" href=\"/incident/").count(), 24);
    // Newest first: the 2026 records before the 2021 ones.
    let first_2021 = page.find("/incident/kz-2021").unwrap();
    assert!(page.find("/incident/test-hola-blocked").unwrap() < first_2021);
    // Facets: kind with its count, and following it narrows the list to that count.
    assert!(
        page.contains(
            "href=\"/incidents?kind=website_block\">website blocked</a> <small>5</small>"
        ),
        "{page}"
    );
    let blocks = get(addr, "/incidents?kind=website_block").await.text();
    assert!(blocks.contains("<strong id=\"count\">5</strong>"));
    assert!(blocks.contains("kz-2021-10-hola-news-blocked"));
    let y = get(addr, "/incidents?year=2021&country=KZ").await.text();
    assert!(y.contains("<strong id=\"count\">20</strong>"), "{y}");
    assert_eq!(get(addr, "/incidents?kind=bombing").await.status, 400);

    // A seed record: its fields in words, its related record as a link, its sources.
    let hola = get(addr, "/incident/kz-2021-10-hola-news-blocked")
        .await
        .text();
    for want in [
        "website blocked",
        "Official position</dt><dd class=\"denied\">denied",
        "US Department of State",
        "href=\"/incident/kz-2021-10-hola-news-article-removed\"",
        "led to",
    ] {
        assert!(hola.contains(want), "missing {want:?}");
    }
    let jan = get(
        addr,
        "/incident/kz-2021-01-10-election-journalists-obstructed",
    )
    .await
    .text();
    assert!(
        jan.contains("On 10 January 2021 (known to the day)"),
        "{jan}"
    );
    let feb = get(addr, "/incident/kz-2021-02-mangistau-bloggers-libel")
        .await
        .text();
    assert!(feb.contains("In February 2021 (known to the month)"));
    assert!(feb.contains("Sholpan Utekeyeva (person), role: blogger"));
    assert!(feb.contains("brought the complaint"));

    // A block proven by a measurement: the link, its verdict, the query's chart.
    let proven = get(addr, "/incident/test-hola-blocked").await.text();
    assert!(proven.contains(&format!("href=\"/m/{uid}\"")));
    assert!(proven.contains("badge s-blocked"));
    assert!(proven.contains("linked measurements say blocked"));
    assert!(proven.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(proven.contains("href=\"/network/AS9198\""));
    assert!(!proven.contains("The evidence disagrees"));
    // A throttling claim the same measurement contradicts.
    let wrong = get(addr, "/incident/test-hola-throttled").await.text();
    assert!(wrong.contains("id=\"check\""));
    assert!(wrong.contains("The evidence disagrees with the claim"));
    // The measurement's page names the public records that cite it, not the draft.
    let m = get(addr, &format!("/m/{uid}")).await.text();
    assert!(m.contains("Incidents citing this measurement"));
    assert!(m.contains("href=\"/incident/test-hola-blocked\""));
    assert!(!m.contains("test-secret-draft"));
    // The domain and country pages list theirs.
    let d = get(addr, &format!("/domain/{RICH_DOMAIN}")).await.text();
    assert!(d.contains("href=\"/incident/test-hola-blocked\""));
    let c = get(addr, "/country/KZ").await.text();
    assert!(c.contains("/incidents?country=KZ"));
    // The API lists the same records in OONI's list shape.
    let api = get(addr, "/api/v1/incidents?kind=website_block")
        .await
        .json();
    assert_eq!(api["metadata"]["count"], 5);
    assert_eq!(api["results"].as_array().unwrap().len(), 5);
    let paged = get(addr, "/api/v1/incidents?limit=10").await.json();
    assert_eq!(paged["metadata"]["pages"], 3);
    assert!(paged["metadata"]["next_url"]
        .as_str()
        .unwrap()
        .contains("offset=10"));
}

#[tokio::test]
async fn hostile_text_in_a_record_is_shown_as_text() {
    let store = fixture::store();
    fixture::register(&store);
    let addr = fixture::serve_register(store, false).await;
    for path in [
        "/incidents",
        "/incident/test-hostile",
        "/incidents?year=2026",
    ] {
        let a = get(addr, path).await;
        assert_eq!(a.status, 200, "{path}");
        let csp = a.header("content-security-policy");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let body = a.text();
        for x in XSS {
            assert!(!body.contains(x), "{path} carries a raw payload {x}");
        }
        assert!(!body.contains("<script"), "{path} has a script element");
        assert!(
            !body.contains("href=\"javascript:"),
            "{path} links a script URL"
        );
    }
    let page = get(addr, "/incident/test-hostile").await.text();
    assert!(page.contains("&#60;script&#62;window.__xss=1;alert(1)&#60;/script&#62;"));
    assert!(
        page.contains("javascript:window.__xss=9"),
        "the URL is shown as text"
    );
}

#[tokio::test]
async fn drafts_and_restricted_records_are_the_operators_only() {
    let store = fixture::store();
    fixture::register(&store);
    let uid = fixture::uid_of_domain(&store, RICH_DOMAIN);
    let addr = fixture::serve_register(store.clone(), true).await;
    let public = get(addr, "/incident/test-secret-draft").await;
    assert_eq!(public.status, 404);
    assert!(!public.text().contains("protects its source"));
    assert_eq!(
        get(addr, "/api/v1/incidents/test-secret-draft")
            .await
            .status,
        404
    );
    let wrong = send(
        addr,
        "GET",
        "/incident/test-secret-draft",
        &[("authorization", "Bearer not-the-operator-token-at-all")],
        Vec::new(),
    )
    .await;
    assert_eq!(wrong.status, 404);
    let op = get_as(addr, "/incident/test-secret-draft").await;
    assert_eq!(op.status, 200);
    assert_eq!(op.header("cache-control"), "private, no-store");
    assert!(op.text().contains("only the operator sees this record"));
    assert!(get_as(addr, "/incidents")
        .await
        .text()
        .contains("<strong id=\"count\">25</strong>"));
    assert_eq!(
        get_as(addr, "/api/v1/incidents").await.json()["metadata"]["count"],
        25
    );
    assert_eq!(
        get(addr, "/api/v1/incidents").await.json()["metadata"]["count"],
        24
    );
    assert!(get_as(addr, &format!("/m/{uid}"))
        .await
        .text()
        .contains("test-secret-draft"));
    // Without tokens configured, a bearer header makes nobody the operator.
    let open = fixture::serve_register(store, false).await;
    let any = send(
        open,
        "GET",
        "/incident/test-secret-draft",
        &[("authorization", &bearer())],
        Vec::new(),
    )
    .await;
    assert_eq!(any.status, 404);
}

fn record(id: &str, kind: &str, start: &str, end: &str) -> String {
    format!(
        r#"{{"id":"{id}","title":"Test {id}","kind":"{kind}","start":"{start}","end":"{end}",
"place":{{"country":"KZ"}},"status":"published","visibility":"public"}}"#
    )
}

#[tokio::test]
async fn the_operator_edits_over_http_and_bad_input_changes_nothing() {
    let store = fixture::store();
    fixture::register(&store);
    let addr = fixture::serve_register(store.clone(), true).await;
    let json = [("content-type", "application/json")];
    let auth = bearer();
    let with_token = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let snapshot =
        || async { get_as(addr, "/api/v1/incidents?limit=1000").await.json()["results"].clone() };
    let before = snapshot().await;

    // Without a token, or with a wrong one: 401, nothing stored.
    let body = record("test-new", "website_block", "2026-11-01", "2026-11-02");
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &json,
        body.clone().into(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), "Bearer");
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &[("authorization", "Bearer wrong-wrong-wrong-wrong-wrong")],
        body.clone().into(),
    )
    .await;
    assert_eq!(a.status, 401);
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-hola-blocked",
        &json,
        body.clone().into(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(snapshot().await, before);

    // Bad input with the token: 400 with one line saying what, nothing stored.
    for (body, want) in [
        (record("test-bad", "bombing", "2026-11-01", "2026-11-02"), "unknown variant"),
        (record("test-bad", "website_block", "2026-11-05", "2026-11-02"), "end"),
        (
            r#"{"id":"test-bad","title":"x","kind":"website_block","start":"2026-11-01","place":{"country":"KZ"},"status":"published","visibility":"public","evidence":[{"kind":"measurement","uid":"no-such-uid"}]}"#.to_string(),
            "does not resolve",
        ),
        ("{not json".to_string(), "body:1"),
        (format!("[{}, {}]", record("test-ok", "other", "2026", "2026"), record("test-bad", "nope", "2026", "2026")), "unknown variant"),
    ] {
        let a = send(addr, "POST", "/api/v1/incidents", &with_token, body.into()).await;
        assert_eq!(a.status, 400, "{}", a.text());
        let e = a.json()["error"].as_str().unwrap().to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    assert_eq!(snapshot().await, before, "bad input changed nothing");
    let big = vec![b' '; 2 * 1024 * 1024];
    let a = send(addr, "POST", "/api/v1/incidents", &with_token, big).await;
    assert_eq!(a.status, 413);

    // Create (JSON, then TOML), and an existing id is a conflict.
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &with_token,
        body.clone().into(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(a.header("location"), "/api/v1/incidents/test-new");
    assert_eq!(a.json()["results"][0]["audit"]["revision"], 1);
    let toml = "id = \"test-toml\"\ntitle = \"From TOML\"\nkind = \"shutdown\"\nstart = \"2026-11\"\nstatus = \"draft\"\nvisibility = \"restricted\"\nplace = { country = \"KZ\" }\n";
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &[
            ("content-type", "application/toml"),
            ("authorization", auth.as_str()),
        ],
        toml.into(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(
        get(addr, "/incident/test-toml").await.status,
        404,
        "a draft stays private"
    );
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &with_token,
        body.clone().into(),
    )
    .await;
    assert_eq!(
        a.status,
        201,
        "the same record again is no change: {}",
        a.text()
    );
    let changed = record("test-new", "website_block", "2026-11-01", "2026-11-03");
    let a = send(
        addr,
        "POST",
        "/api/v1/incidents",
        &with_token,
        changed.clone().into(),
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.text());

    // Edit: a new revision with an audit entry; the page shows it.
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-new",
        &with_token,
        changed.into(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["audit"]["revision"], 2);
    let history =
        interfero_store::IncidentStore::incident_history(store.as_ref(), "test-new").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, "edit");
    assert_eq!(history[1].by, "http:operator");
    let page = get(addr, "/incident/test-new").await.text();
    assert!(page.contains("revision 2"));
    assert!(page.contains("3 November 2026"));
    // A bad edit changes nothing; a stale revision is a conflict; another id is refused.
    let after = snapshot().await;
    let bad = record("test-new", "website_block", "2026-11-09", "2026-11-03");
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-new",
        &with_token,
        bad.into(),
    )
    .await;
    assert_eq!(a.status, 400);
    let mut stale: serde_json::Value =
        serde_json::from_str(&record("test-new", "other", "2026", "2026")).unwrap();
    stale["audit"] = serde_json::json!({"revision": 1});
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-new",
        &with_token,
        stale.to_string().into(),
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.text());
    let other = record("test-other", "other", "2026", "2026");
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-new",
        &with_token,
        other.clone().into(),
    )
    .await;
    assert_eq!(a.status, 400);
    let a = send(
        addr,
        "PUT",
        "/api/v1/incidents/test-other",
        &with_token,
        other.into(),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(snapshot().await, after, "refused edits changed nothing");
}

#[tokio::test]
async fn with_no_token_configured_editing_over_http_is_off() {
    let store = fixture::store();
    fixture::register(&store);
    let addr = fixture::serve_register(store, false).await;
    let body = record("test-new", "other", "2026", "2026");
    for (method, path) in [
        ("POST", "/api/v1/incidents"),
        ("PUT", "/api/v1/incidents/test-hostile"),
    ] {
        let a = send(
            addr,
            method,
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &bearer()),
            ],
            body.clone().into(),
        )
        .await;
        assert_eq!(a.status, 403, "{method} {path}");
        assert!(a.json()["error"]
            .as_str()
            .unwrap()
            .contains("editing over HTTP is off"));
    }
    assert_eq!(get(addr, "/api/v1/incidents/test-new").await.status, 404);
    assert!(get(addr, "/incidents")
        .await
        .text()
        .contains("Editing over HTTP is off"));
}

#[tokio::test]
async fn without_a_register_the_pages_say_so() {
    let store = fixture::store();
    let addr = fixture::serve(store).await;
    let a = get(addr, "/incidents").await;
    assert_eq!(a.status, 503);
    assert!(a.text().contains("not available"));
    assert_eq!(get(addr, "/api/v1/incidents").await.status, 503);
    let m = get(addr, "/").await;
    assert_eq!(m.status, 200);
}

#[tokio::test]
async fn a_capture_cited_as_evidence_links_to_its_page() {
    let store = fixture::store();
    fixture::register(&store);
    let addr = fixture::serve_register(store, true).await;
    let auth = bearer();
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let id = "ab".repeat(32);
    let body = format!(
        r#"{{"id":"test-capture","title":"Article removed","kind":"content_removed","start":"2026-11-01",
"place":{{"country":"KZ"}},"status":"published","visibility":"public",
"evidence":[{{"kind":"capture","id":"{id}","url":"https://news.example/article"}}]}}"#
    );
    let a = send(addr, "POST", "/api/v1/incidents", &headers, body.into()).await;
    assert_eq!(a.status, 201, "{}", a.text());
    let page = get(addr, "/incident/test-capture").await.text();
    assert!(
        page.contains(&format!("href=\"/capture/{id}\"")),
        "no link to the capture"
    );
    assert!(page.contains("https://news.example/article"));
}
