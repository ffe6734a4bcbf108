//! A store with realistic content for the explorer's tests: synthetic measurements over 30
//! days, one measurement with every step recorded (DNS beside the control's, connects, a TLS
//! chain to a national root, HTTP hops, throughput, a trace), hostile titles, and events.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::measurement::{
    CertInfo, DnsAnswer, DnsQuery, HttpRequest, HttpResponse, HttpRoundTrip, TcpConnect, TcpStatus,
    Throughput, TlsHandshake,
};
use interfero_model::trace::{HopEvent, Trace, TraceHop};
use interfero_model::{ControlResponse, Failure, Measurement, Status, Technique, Verdict};
use interfero_server::explorer::ExplorerOptions;
use interfero_server::{serve_with, ServeOptions, ServeStats};
use interfero_store::{synthetic, Event, EventKind, MeasurementStore, RunInfo, SqliteStore};
use std::net::SocketAddr;
use std::sync::Arc;

/// The hostile titles stored as measured pages' titles.
pub const XSS: [&str; 3] = [
    "<script>window.__xss=1;alert(1)</script>",
    "\"><img src=x onerror=\"window.__xss=2;alert(2)\">",
    "</title><svg onload=\"window.__xss=3\">",
];

/// The domain of the rich measurement.
pub const RICH_DOMAIN: &str = "hola-news.kz";

/// A measurement of `hola-news.kz` stalled after the ClientHello, with every step.
pub fn rich() -> Measurement {
    let mut m = synthetic::varied(7);
    m.input = format!("https://{RICH_DOMAIN}/");
    m.probe_cc = "KZ".into();
    m.probe_asn = "AS9198".into();
    m.measurement_start_time = "2026-11-30 09:15:00".into();
    let tk = &mut m.test_keys;
    tk.client_resolver = Some("[local-resolver]".into());
    tk.queries = vec![DnsQuery {
        hostname: RICH_DOMAIN.into(),
        query_type: "A".into(),
        engine: "udp".into(),
        resolver_address: "198.18.0.53:53".into(),
        answers: vec![DnsAnswer {
            answer_type: "A".into(),
            ipv4: Some("198.18.0.10".into()),
            ttl: Some(300),
            ..DnsAnswer::default()
        }],
        x_rcode: Some("NOERROR".into()),
        ..DnsQuery::default()
    }];
    tk.tcp_connect = vec![TcpConnect {
        ip: "198.18.0.10".into(),
        port: 443,
        status: TcpStatus {
            success: true,
            failure: None,
        },
        t0: 0.01,
        t: 0.03,
    }];
    tk.tls_handshakes = vec![
        TlsHandshake {
            address: "198.18.0.10:443".into(),
            server_name: RICH_DOMAIN.into(),
            failure: Some(Failure::parse("generic_timeout_error")),
            x_after_client_hello: Some(true),
            x_server_bytes: Some(0),
            t0: 0.03,
            t: 5.03,
            ..TlsHandshake::default()
        },
        TlsHandshake {
            address: "198.18.0.11:443".into(),
            server_name: "mirror.hola-news.kz".into(),
            tls_version: Some("TLSv1.3".into()),
            x_chain: vec![
                CertInfo {
                    subject: "CN=mirror.hola-news.kz".into(),
                    issuer: "CN=Information Security Certification Authority".into(),
                    sha256: "aa".repeat(32),
                    sha1: "bb".repeat(20),
                    spki_sha256: "cc".repeat(32),
                    not_before: "2026-01-01T00:00:00Z".into(),
                    not_after: "2027-01-01T00:00:00Z".into(),
                },
                CertInfo {
                    subject: "CN=Information Security Certification Authority".into(),
                    issuer: "CN=Information Security Certification Authority".into(),
                    sha256: "dd".repeat(32),
                    sha1: "ee".repeat(20),
                    spki_sha256: "ff".repeat(32),
                    not_before: "2020-01-01T00:00:00Z".into(),
                    not_after: "2030-01-01T00:00:00Z".into(),
                },
            ],
            t0: 0.03,
            t: 0.2,
            ..TlsHandshake::default()
        },
    ];
    tk.requests = vec![HttpRoundTrip {
        address: Some("198.18.0.11:443".into()),
        request: HttpRequest {
            url: "https://mirror.hola-news.kz/".into(),
            method: "GET".into(),
            headers_list: vec![],
        },
        response: HttpResponse {
            code: 200,
            x_title: Some(XSS[0].into()),
            x_body_length: Some(5120),
            headers_list: vec![("Location".into(), XSS[1].into())],
            ..HttpResponse::default()
        },
        t0: 0.2,
        t: 0.4,
        ..HttpRoundTrip::default()
    }];
    tk.x_throughput = vec![
        Throughput {
            address: "198.18.0.11:443".into(),
            server_name: RICH_DOMAIN.into(),
            role: "target".into(),
            bytes: 40_000,
            seconds: 4.0,
            samples: vec![10_000, 20_000, 30_000, 40_000],
            interval: 1.0,
            failure: None,
        },
        Throughput {
            address: "198.18.0.11:443".into(),
            server_name: "innocuous.example".into(),
            role: "paired".into(),
            bytes: 400_000,
            seconds: 1.0,
            samples: vec![100_000, 200_000, 300_000, 400_000],
            interval: 0.25,
            failure: None,
        },
    ];
    tk.x_trace = Some(Trace {
        hops: vec![
            TraceHop {
                ttl: 1,
                events: vec![HopEvent {
                    kind: "time_exceeded".into(),
                    ms: 2,
                    from: Some("[near-hop]".into()),
                    ..HopEvent::default()
                }],
                failure: None,
            },
            TraceHop {
                ttl: 2,
                events: vec![],
                failure: Some("generic_timeout_error".into()),
            },
        ],
        ..Trace::default()
    });
    let mut control = ControlResponse::default();
    control.dns.addrs = vec!["198.18.0.10".into()];
    control.http_request.status_code = 200;
    control.http_request.title = "Hola News".into();
    control.http_request.body_length = 5200;
    m.test_keys.control = Some(control);
    m.verdict = Some(
        Verdict::new(
            Status::Blocked,
            0.97,
            "tls.stall_after_client_hello.control_ok",
        )
        .with(Technique::TlsTimeout)
        .because(
            "TLS to 198.18.0.10:443 stalled 5.0 s after the ClientHello; the control completed it",
        )
        .because(XSS[2]),
    );
    m
}

/// The synthetic measurements stored by [`store`].
pub const SYNTHETIC: usize = 3_000;

/// A store with [`SYNTHETIC`] varied measurements, [`rich`], one with hostile titles
/// everywhere, and events for KZ / AS9198 / the rich domain.
pub fn store() -> Arc<SqliteStore> {
    let s = SqliteStore::open_in_memory().expect("store");
    let run = s
        .begin_run(&RunInfo {
            started: "2026-11-01 00:00:00".into(),
            software_version: "0.1.0".into(),
            probe_cc: "KZ".into(),
            probe_asn: "AS9198".into(),
            note: XSS[1].into(),
        })
        .expect("run");
    let ms: Vec<Measurement> = (0..SYNTHETIC).map(synthetic::varied).collect();
    s.insert_many(run, &ms).expect("insert");
    s.insert(run, &rich()).expect("rich");
    let mut hostile = synthetic::varied(SYNTHETIC + 1);
    hostile.input = format!("https://evil.example/{}", XSS[1]);
    hostile
        .annotations
        .insert("category_code".into(), XSS[0].into());
    hostile.test_keys.requests = vec![HttpRoundTrip {
        response: HttpResponse {
            code: 200,
            x_title: Some(XSS[1].into()),
            ..HttpResponse::default()
        },
        ..HttpRoundTrip::default()
    }];
    s.insert(run, &hostile).expect("hostile");
    for (kind, started, ended) in [
        (
            EventKind::BlockStarted,
            "2026-11-20 08:00:00",
            Some("2026-11-30 08:00:00"),
        ),
        (EventKind::BlockEnded, "2026-11-30 08:00:00", None),
    ] {
        let id = s
            .record_event(&Event {
                input: format!("https://{RICH_DOMAIN}/"),
                kind,
                technique: Some(Technique::TlsTimeout),
                started: started.into(),
                ended: None,
                evidence: vec![format!("TLS stalled after the ClientHello {}", XSS[0])],
                probe_cc: "KZ".into(),
                probe_asn: "AS9198".into(),
            })
            .expect("event");
        if let Some(e) = ended {
            s.end_event(id, e).expect("end");
        }
    }
    Arc::new(s)
}

/// The uid of the measurement of `domain` stored in `store`.
pub fn uid_of_domain(store: &SqliteStore, domain: &str) -> String {
    let q = interfero_store::Query {
        domain: Some(domain.into()),
        ..Default::default()
    };
    let p = store
        .page(
            &q,
            &interfero_store::PageRequest::first(1, interfero_store::Order::Newest),
        )
        .expect("page");
    p.items[0].uid.clone()
}

/// Serves the explorer and the API over `store` on 127.0.0.1 (a free port); returns the
/// address. The server lives as long as the test's runtime.
pub async fn serve(store: Arc<dyn MeasurementStore>) -> SocketAddr {
    let opts = ExplorerOptions::default();
    let router = interfero_server::explorer::router(store.clone(), opts.clone())
        .merge(interfero_server::api::router(store, opts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_with(
        listener,
        router,
        ServeOptions::default(),
        Arc::new(ServeStats::default()),
        std::future::pending(),
    ));
    addr
}

/// The operator's token of [`serve_register`].
pub const OPERATOR: &str = "operator-token-0123456789abcdef";

/// Serves the explorer and the API with the incident register of `store` (the same SQLite
/// file), edited with [`OPERATOR`] when `tokens`, or with no token configured.
pub async fn serve_register(store: Arc<SqliteStore>, tokens: bool) -> SocketAddr {
    let tokens = if tokens {
        interfero_server::Tokens::parse(OPERATOR, "test").expect("tokens")
    } else {
        interfero_server::Tokens::default()
    };
    let opts = ExplorerOptions {
        register: interfero_server::explorer::incidents::Register::new(store.clone(), tokens),
        ..ExplorerOptions::default()
    };
    let dyn_store: Arc<dyn MeasurementStore> = store;
    let router = interfero_server::explorer::router(dyn_store.clone(), opts.clone())
        .merge(interfero_server::api::router(dyn_store, opts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_with(
        listener,
        router,
        ServeOptions::default(),
        Arc::new(ServeStats::default()),
        std::future::pending(),
    ));
    addr
}

/// The seed dataset (`data/incidents`) imported into `store`, plus records with evidence in
/// it: a block proven by the rich measurement, a throttling claim it contradicts, a query
/// over the rich domain, a restricted draft, and one with hostile text everywhere.
pub fn register(store: &SqliteStore) {
    use interfero_register::evidence::StoreSource;
    let seed = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/incidents");
    let change = interfero_store::IncidentChange {
        by: "test",
        at: "2026-12-01 00:00:00",
        action: "import",
    };
    let source = StoreSource::new(store);
    interfero_register::import(
        &[seed],
        store,
        &source,
        &change,
        interfero_store::OnExisting::Refuse,
    )
    .expect("seed imports");
    let uid = uid_of_domain(store, RICH_DOMAIN);
    let text = format!(
        r#"
[[incident]]
id = "test-hola-blocked"
title = "hola-news.kz blocked on Kazakhtelecom"
kind = "website_block"
start = "2026-11-20"
end = "2026-11-30"
status = "published"
visibility = "public"
place = {{ country = "KZ" }}
network_scope = {{ asns = ["AS9198"], domains = ["{RICH_DOMAIN}"] }}
evidence = [{{ kind = "measurement", uid = "{uid}" }}, {{ kind = "query", query = {{ domain = "{RICH_DOMAIN}", since = "2026-11-01", until = "2026-11-30" }} }}]

[[incident]]
id = "test-kz-blocks"
title = "News sites blocked on Kazakhtelecom for ten days"
summary = "Sites of the NEWS category stalled after the ClientHello on JSC Kazakhtelecom while the control reached them."
kind = "website_block"
start = "2026-11-10"
end = "2026-11-20"
status = "published"
visibility = "public"
place = {{ country = "KZ", admin1 = "Almaty" }}
targets = [{{ kind = "population", name = "readers of independent news", role = "reader" }}]
actors = [{{ kind = "isp", name = "JSC Kazakhtelecom", part = "carried_out" }}, {{ kind = "government", part = "suspected" }}]
network_scope = {{ asns = ["AS9198"], network_type = "fixed", extent = "service" }}
official_position = {{ stance = "denied", justification = "Officials said the sites were down for technical reasons." }}
related = [{{ incident = "test-hola-blocked", rel = "part_of" }}]
evidence = [{{ kind = "query", query = {{ country = "KZ", network = "AS9198", since = "2026-11-10", until = "2026-11-20" }} }}]
[[incident.sources]]
publisher = "A media-freedom NGO"
title = "Weekly monitoring note"
url = "https://ngo.example/notes/2026-11?a=1&b=<2>"
published = "2026-11-21"

[[incident]]
id = "test-hola-throttled"
title = "hola-news.kz said to be throttled"
kind = "throttling"
start = "2026-11-30"
status = "published"
visibility = "public"
place = {{ country = "KZ" }}
evidence = [{{ kind = "measurement", uid = "{uid}" }}]

[[incident]]
id = "test-secret-draft"
title = "A draft that protects its source"
kind = "threat_harassment"
start = "2026-11"
status = "draft"
visibility = "restricted"
place = {{ country = "KZ" }}
evidence = [{{ kind = "measurement", uid = "{uid}" }}]

[[incident]]
id = "test-hostile"
title = "{x0}"
summary = "{x1}"
kind = "other"
start = "2026"
status = "published"
visibility = "public"
place = {{ country = "KZ", locality = "{x2}" }}
targets = [{{ kind = "website", name = "{x1}", url = "javascript:alert(1)" }}]
[[incident.sources]]
publisher = "{x0}"
url = "javascript:window.__xss=9"
"#,
        x0 = XSS[0],
        x1 = XSS[1].replace('"', "\\\""),
        x2 = XSS[2].replace('"', "\\\""),
    );
    let reads = interfero_register::parse("test.toml", &text, interfero_register::Format::Toml)
        .expect("test records parse");
    let texts = std::collections::HashMap::from([("test.toml".to_string(), text.clone())]);
    interfero_register::check_reads(&reads, &texts, &source).expect("test records check");
    let records: Vec<_> = reads.into_iter().map(|r| r.incident).collect();
    interfero_store::IncidentStore::save_incidents(
        store,
        &records,
        &change,
        interfero_store::OnExisting::Refuse,
    )
    .expect("test records store");
}
