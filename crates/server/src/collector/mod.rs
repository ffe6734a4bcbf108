//! The collector: OONI's probe-services protocol (open a report, submit measurements, close),
//! with every acknowledgement durable ([`ingest`]), every submission judged here from its
//! observations (the submitter's verdict is kept aside as its claim, never used), and bad
//! input answered in one clear line with nothing changed.
//!
//! | route | answer |
//! |---|---|
//! | `POST /report` | `{"report_id", "backend_version", "supported_formats"}` |
//! | `POST /report/{report_id}` `{"format":"json","content":{...}}` | `{"measurement_uid"}` once stored |
//! | `POST /report/{report_id}/close` | `{}` |
//! | `GET /api/v1/test-helpers` | the controls the operator named |
//! | `POST /api/v1/check-in` | a report id and the test list for the probe's country |
//! | `GET /api/v1/test-list/urls?probe_cc=XX&limit=N` | the same list, OONI's shape |
//!
//! The submitter's address is used only in memory, for the per-client rate limit: it is never
//! stored, logged or echoed, and the measurement's own `probe_ip` is overwritten.

// The checks return the refusal itself as their error: it is built once per refused request
// and sent at once, so its size costs nothing worth boxing.
#![allow(clippy::result_large_err)]

pub mod correlate;
pub mod ingest;
mod lists;
pub mod wire;

pub use ingest::{Ingest, IngestError, IngestStats};
pub use lists::{TestList, TestUrl};
pub use wire::{ReportIds, ReportMeta};

use crate::shared::auth::Tokens;
use crate::shared::errors::{error, too_many, unauthorized};
use crate::shared::limits::{ClientKey, RateLimiter, Refusal};
use crate::shared::serving::{read_body, ClientAddr};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use interfero_analysis::{judge, Context};
use interfero_model::Measurement;
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The key under which a submitter's own verdict is kept, as its claim: stored, shown, never
/// used (verdicts come from this collector's analysis of the observations).
pub const CLAIM_KEY: &str = "x_submitter_verdict";

/// What the collector accepts and tells probes.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// The largest request body as sent (compressed or not), in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// The largest body once decompressed (413 beyond: a small zstd bomb is not expanded).
    pub max_decoded_bytes: usize,
    /// How long a client may take to send its body (408 beyond).
    pub body_timeout: Duration,
    /// How far in the future a `measurement_start_time` may lie (clock skew allowed).
    pub future_skew: Duration,
    /// Requests a second one client may sustain (0: no limit) and its burst.
    pub rate_per_sec: f64,
    /// The burst of `rate_per_sec`.
    pub burst: f64,
    /// Bearer tokens required to submit (open when empty, as OONI's collector is).
    pub tokens: Tokens,
    /// The controls probes should use, answered by `GET /api/v1/test-helpers` and check-in:
    /// `{"web-connectivity": [{"address": "https://...", "type": "https"}]}`.
    pub test_helpers: Value,
    /// The test lists handed out at check-in.
    pub lists: Arc<TestList>,
    /// The key that signs report ids (keep it across restarts).
    pub report_ids: ReportIds,
}

impl CollectorConfig {
    /// 8 MiB bodies (64 MiB decompressed) within 30 s, 1 h of clock skew, 50 requests a
    /// second per client after a burst of 500, open, no helpers, no lists.
    pub fn new(report_ids: ReportIds) -> CollectorConfig {
        CollectorConfig {
            max_body_bytes: 8 << 20,
            max_decoded_bytes: 64 << 20,
            body_timeout: Duration::from_secs(30),
            future_skew: Duration::from_secs(3600),
            rate_per_sec: 50.0,
            burst: 500.0,
            tokens: Tokens::default(),
            test_helpers: json!({}),
            lists: Arc::new(TestList::default()),
            report_ids,
        }
    }
}

#[derive(Clone)]
struct Collector {
    ingest: Ingest,
    cfg: Arc<CollectorConfig>,
    rate: Arc<RateLimiter>,
}

/// The collector's routes over `ingest` (see [`Ingest::start`]).
pub fn collector_router(ingest: Ingest, cfg: CollectorConfig) -> Router {
    let state = Collector {
        rate: Arc::new(RateLimiter::new(cfg.rate_per_sec, cfg.burst)),
        cfg: Arc::new(cfg.clone()),
        ingest,
    };
    Router::new()
        .route("/report", post(open))
        .route("/report/{report_id}", post(submit))
        .route("/report/{report_id}/close", post(close))
        .route("/api/v1/test-helpers", get(test_helpers))
        .route("/api/v1/check-in", post(check_in))
        .route("/api/v1/test-list/urls", get(test_list))
        // Handlers read bodies themselves, with the configured cap.
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .with_state(state)
}

/// A 400 in OONI's error shape plus ours: `{"error": code, "message": what is wrong}`.
fn bad(code: &str, message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

fn client_of(req: &Request) -> ClientKey {
    let ip = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    ClientKey::of(ip)
}

/// Token and rate checks shared by the routes; `Err` is the answer.
fn admit(c: &Collector, req: &Request) -> Result<(), Response> {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !c.cfg.tokens.admits(auth) {
        return Err(unauthorized());
    }
    c.rate
        .check(client_of(req), tokio::time::Instant::now())
        .map_err(|wait| too_many(Refusal::Rate(wait)))
}

/// Reads, decompresses and parses a JSON object body.
async fn json_body(c: &Collector, req: Request) -> Result<Map<String, Value>, Response> {
    let encoding = header_str(req.headers(), header::CONTENT_ENCODING);
    let cfg = &c.cfg;
    let raw = read_body(req.into_body(), cfg.max_body_bytes, cfg.body_timeout).await?;
    let body =
        wire::decode(encoding.as_deref(), &raw, cfg.max_decoded_bytes).map_err(|e| match e {
            wire::DecodeError::TooLarge => error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "body larger than {} bytes once decompressed",
                    cfg.max_decoded_bytes
                ),
            ),
            wire::DecodeError::Corrupt(why) => {
                bad("bad_encoding", format!("cannot decompress the body: {why}"))
            }
            wire::DecodeError::Unsupported(enc) => error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {enc:?} is not accepted; send zstd, gzip or none"),
            ),
        })?;
    // serde_json refuses nesting deeper than 128 levels, so a hostile body cannot exhaust
    // the stack; the error says where.
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad("bad_json", "the body must be a JSON object".into())),
        Err(e) => Err(bad("bad_json", format!("the body is not valid JSON: {e}"))),
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or("")
}

fn nonce() -> [u8; 6] {
    let mut n = [0u8; 6];
    // Without the system's randomness (never seen on Linux) ids stay valid, only guessable.
    let _ = getrandom::getrandom(&mut n);
    n
}

fn issue(c: &Collector, test_name: &str, cc: &str, asn: &str) -> String {
    let meta = ReportMeta {
        test: wire::squash(test_name),
        cc: wire::normal_cc(cc),
        asn: wire::normal_asn(asn),
    };
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    c.cfg.report_ids.issue(&now, &meta, nonce())
}

async fn open(State(c): State<Collector>, req: Request) -> Response {
    if let Err(r) = admit(&c, &req) {
        return r;
    }
    let o = match json_body(&c, req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let test_name = str_field(&o, "test_name");
    if !wire::valid_test_name(test_name) {
        return bad(
            "bad_test_name",
            "test_name must be 2 to 30 lowercase letters, digits or '_'".into(),
        );
    }
    let format = o.get("format").and_then(Value::as_str).unwrap_or("json");
    if format != "json" {
        return bad(
            "bad_format",
            format!("format {format:?} is not accepted: submit JSON"),
        );
    }
    let id = issue(
        &c,
        test_name,
        str_field(&o, "probe_cc"),
        str_field(&o, "probe_asn"),
    );
    Json(json!({
        "backend_version": concat!("interfero-", env!("CARGO_PKG_VERSION")),
        "report_id": id,
        "supported_formats": ["json"],
    }))
    .into_response()
}

async fn close(
    State(c): State<Collector>,
    Path(report_id): Path<String>,
    req: Request,
) -> Response {
    if let Err(r) = admit(&c, &req) {
        return r;
    }
    match c.cfg.report_ids.check(&report_id) {
        Some(_) => Json(json!({})).into_response(),
        None => unknown_report(),
    }
}

fn unknown_report() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "unknown report_id: open a report with POST /report first".into(),
    )
}

async fn submit(
    State(c): State<Collector>,
    Path(report_id): Path<String>,
    req: Request,
) -> Response {
    if let Err(r) = admit(&c, &req) {
        return r;
    }
    let Some(meta) = c.cfg.report_ids.check(&report_id) else {
        return unknown_report();
    };
    let mut o = match json_body(&c, req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let format = o.get("format").and_then(Value::as_str).unwrap_or("");
    if format != "json" {
        return bad(
            "bad_format",
            format!("format must be \"json\" (got {format:?}); YAML is not accepted"),
        );
    }
    let Some(Value::Object(content)) = o.remove("content") else {
        return bad(
            "bad_content",
            "content must be the measurement, a JSON object".into(),
        );
    };
    let m = match accept(&c.cfg, &report_id, &meta, content) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let m = match interfero_store::Encoded::new(m) {
        Ok(m) => m,
        Err(e) => return bad("bad_measurement", format!("cannot be stored: {e}")),
    };
    let uid = m.uid().to_string();
    match c.ingest.store(m).await {
        Ok(()) => Json(json!({ "measurement_uid": uid })).into_response(),
        // Not acknowledged: the probe keeps it and tries again.
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Checks a submitted measurement against its report and the clock, and turns it into what
/// is stored: the address overwritten, the submitter's verdict kept aside, ours given.
fn accept(
    cfg: &CollectorConfig,
    report_id: &str,
    meta: &ReportMeta,
    mut content: Map<String, Value>,
) -> Result<Measurement, Response> {
    let claim = content.remove("verdict");
    if let Some(rid) = content.get("report_id").and_then(Value::as_str) {
        if rid != report_id {
            return Err(bad(
                "inconsistent_measurement",
                "the measurement's report_id is not the report it is submitted to".into(),
            ));
        }
    }
    let mut v = Value::Object(content);
    interfero_model::ooni::normalize(&mut v);
    let mut m: Measurement = serde_json::from_value(v)
        .map_err(|e| bad("bad_measurement", format!("not a measurement: {e}")))?;
    if !wire::valid_test_name(&m.test_name) || wire::squash(&m.test_name) != meta.test {
        return Err(bad(
            "inconsistent_measurement",
            format!(
                "test_name {:?} is not the report's ({})",
                m.test_name.chars().take(40).collect::<String>(),
                meta.test
            ),
        ));
    }
    if m.probe_cc != meta.cc || m.probe_asn != meta.asn {
        return Err(bad(
            "inconsistent_measurement",
            format!(
                "probe_cc/probe_asn differ from the report's ({} {}): open a report for them",
                meta.cc, meta.asn
            ),
        ));
    }
    let Ok(start) =
        chrono::NaiveDateTime::parse_from_str(&m.measurement_start_time, "%Y-%m-%d %H:%M:%S")
    else {
        return Err(bad(
            "bad_time",
            "measurement_start_time must be UTC \"YYYY-MM-DD hh:mm:ss\"".into(),
        ));
    };
    let skew = chrono::Duration::from_std(cfg.future_skew).unwrap_or(chrono::Duration::zero());
    if start.and_utc() > chrono::Utc::now() + skew {
        return Err(bad(
            "bad_time",
            format!(
                "measurement_start_time {} is in the future (more than {} s ahead of this \
                 collector's clock): check the probe's clock",
                m.measurement_start_time,
                cfg.future_skew.as_secs()
            ),
        ));
    }
    // Whatever the probe sent, the submitter's address is not kept.
    m.probe_ip = "127.0.0.1".into();
    if let Some(claim) = claim.filter(|c| !c.is_null()) {
        m.extra.insert(CLAIM_KEY.into(), claim);
    }
    // Judged here, from the observations, by the same analysis as `interfero analyze`.
    m.verdict = (m.test_name == "web_connectivity")
        .then(|| judge(&m.input, &m.test_keys, &Context::default()));
    Ok(m)
}

async fn test_helpers(State(c): State<Collector>) -> Response {
    Json(c.cfg.test_helpers.clone()).into_response()
}

async fn check_in(State(c): State<Collector>, req: Request) -> Response {
    if let Err(r) = admit(&c, &req) {
        return r;
    }
    let o = match json_body(&c, req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let cc = wire::normal_cc(str_field(&o, "probe_cc"));
    let asn = wire::normal_asn(str_field(&o, "probe_asn"));
    let categories: Vec<String> = o
        .get("web_connectivity")
        .and_then(|w| w.get("category_codes"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let urls = c
        .cfg
        .lists
        .for_country(&cc, &categories, lists::CHECK_IN_URLS);
    Json(json!({
        "v": 1,
        "probe_cc": cc,
        "probe_asn": asn,
        "probe_network_name": "",
        "utc_time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "conf": { "features": {}, "test_helpers": c.cfg.test_helpers },
        "tests": { "web_connectivity": {
            "report_id": issue(&c, "web_connectivity", &cc, &asn),
            "urls": urls,
        }},
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct ListQuery {
    probe_cc: Option<String>,
    category_codes: Option<String>,
    limit: Option<usize>,
}

async fn test_list(State(c): State<Collector>, Query(q): Query<ListQuery>) -> Response {
    let cc = wire::normal_cc(q.probe_cc.as_deref().unwrap_or("ZZ"));
    let categories: Vec<String> = q
        .category_codes
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let limit = q.limit.unwrap_or(lists::MAX_URLS).clamp(1, lists::MAX_URLS);
    let results = c.cfg.lists.for_country(&cc, &categories, limit);
    Json(json!({
        "metadata": { "count": results.len(), "current_page": -1, "limit": -1,
                      "next_url": "", "pages": 1 },
        "results": results,
    }))
    .into_response()
}
