//! `GET /api/v1/measurements` (a list in OONI's shape, keyset-paged), `measurement_meta`,
//! `raw_measurement` and `measurement/{uid}`.

use super::flagged::collect;
use super::{ooni_flags, ooni_time, Api};
use crate::error;
use crate::explorer::params::{Filter, Params};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use interfero_store::{Cursor, Order, Stored};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

/// OONI's parameter names (and Interfero's `status`, `technique`, `after`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ApiParams {
    pub probe_cc: Option<String>,
    pub probe_asn: Option<String>,
    pub domain: Option<String>,
    pub input: Option<String>,
    pub category_code: Option<String>,
    pub test_name: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub anomaly: Option<String>,
    pub confirmed: Option<String>,
    pub failure: Option<String>,
    pub status: Option<String>,
    pub technique: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
    pub order: Option<String>,
    pub order_by: Option<String>,
    pub after: Option<String>,
    pub axis_x: Option<String>,
    pub axis_y: Option<String>,
    pub time_grain: Option<String>,
    pub format: Option<String>,
    pub download: Option<String>,
    pub measurement_uid: Option<String>,
    pub full: Option<String>,
}

fn one(name: &str, v: &Option<String>) -> Result<Option<String>, String> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.contains(',') => Err(format!(
            "{name}: give one value (lists such as {s:?} are not supported yet)"
        )),
        s => Ok(s.map(str::to_string)),
    }
}

impl ApiParams {
    /// The explorer filter these parameters describe.
    pub fn filter(&self) -> Result<Filter, String> {
        let p = Params {
            cc: one("probe_cc", &self.probe_cc)?,
            asn: one("probe_asn", &self.probe_asn)?,
            domain: one("domain", &self.domain)?,
            input: self.input.clone(),
            category: one("category_code", &self.category_code)?,
            status: one("status", &self.status)?,
            technique: one("technique", &self.technique)?,
            since: self.since.clone(),
            until: self.until.clone(),
            ..Params::default()
        };
        p.filter()
    }

    /// Whether a test other than Web Connectivity (all Interfero measures) was asked for.
    pub fn other_test(&self) -> bool {
        self.test_name
            .as_deref()
            .map(str::trim)
            .is_some_and(|t| !t.is_empty() && !t.split(',').any(|t| t == "web_connectivity"))
    }
}

fn flag(name: &str, v: &Option<String>) -> Result<Option<bool>, String> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(o) => Err(format!("{name} must be true or false, not {o:?}")),
    }
}

/// One result in OONI's shape, with Interfero's verdict beside it.
pub(crate) fn result(api: &Api, s: &Stored) -> Value {
    let m = &s.measurement;
    let (anomaly, confirmed, failure) = ooni_flags(m);
    let v = m.verdict.as_ref();
    json!({
        "measurement_uid": s.uid,
        "measurement_url": api_link(api, &format!("/api/v1/raw_measurement?measurement_uid={}", s.uid)),
        "report_id": m.extra.get("report_id").and_then(Value::as_str).unwrap_or(""),
        "probe_cc": m.probe_cc,
        "probe_asn": m.probe_asn,
        "test_name": m.test_name,
        "measurement_start_time": ooni_time(&m.measurement_start_time),
        "input": m.input,
        "anomaly": anomaly,
        "confirmed": confirmed,
        "failure": failure,
        "scores": {},
        "verification_status": "u",
        "x_status": interfero_store::query::status_name(v.map(|v| v.status)),
        "x_techniques": v.map(|v| v.techniques.clone()).unwrap_or_default(),
        "x_rules": v.map(|v| v.rules.clone()).unwrap_or_default(),
        "x_confidence": v.map(|v| v.confidence),
        "x_explorer_url": api_link(api, &format!("/m/{}", s.uid)),
    })
}

fn api_link(api: &Api, path: &str) -> String {
    match &api.opts.public_url {
        Some(b) => format!("{}{path}", b.trim_end_matches('/')),
        None => path.to_string(),
    }
}

/// The largest `offset` (pages beyond it are reached with `next_url`, a keyset cursor).
const MAX_OFFSET: usize = 10_000;

/// `GET /api/v1/measurements`.
pub(crate) async fn list(State(api): State<Api>, UrlQuery(p): UrlQuery<ApiParams>) -> Response {
    let t0 = Instant::now();
    let bad = |e: String| error(StatusCode::BAD_REQUEST, e);
    let filter = match p.filter() {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let flags = match (
        flag("anomaly", &p.anomaly),
        flag("confirmed", &p.confirmed),
        flag("failure", &p.failure),
    ) {
        (Ok(a), Ok(c), Ok(f)) => (a, c, f),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
    };
    let num = |name: &str, v: &Option<String>, default: usize, max: usize| match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(format!("{name} must be a number from 0 to {max}")),
        },
    };
    let (limit, offset) = match (
        num("limit", &p.limit, 100, 1000),
        num("offset", &p.offset, 0, MAX_OFFSET),
    ) {
        (Ok(l), Ok(o)) => (l.max(1), o),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let order = match p.order.as_deref() {
        Some("asc") | Some("ASC") => Order::Oldest,
        _ => Order::Newest,
    };
    let after = match p.after.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(c) => match Cursor::decode(c) {
            Some(c) => Some(c),
            None => return bad("after: not a cursor from next_url".into()),
        },
    };
    let other_test = p.other_test();
    let q = filter.query.clone();
    let store = api.store.clone();
    let got = tokio::task::spawn_blocking(move || {
        if other_test {
            return Ok((Vec::new(), None));
        }
        collect(store.as_ref(), &q, after, order, offset, limit, flags)
    })
    .await;
    let (items, next) = match got {
        Ok(Ok(v)) => v,
        _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "the store failed".into()),
    };
    let next_url = next
        .map(|c: Cursor| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("after", &c.encode());
            s.append_pair("limit", &limit.to_string());
            if order == Order::Oldest {
                s.append_pair("order", "asc");
            }
            for (k, v) in [
                ("anomaly", &p.anomaly),
                ("confirmed", &p.confirmed),
                ("failure", &p.failure),
            ] {
                if let Some(v) = v {
                    s.append_pair(k, v);
                }
            }
            let base = super::ooni_measurements_query_string(&filter);
            let sep = if base.is_empty() { "" } else { "&" };
            api_link(
                &api,
                &format!("/api/v1/measurements?{base}{sep}{}", s.finish()),
            )
        })
        .unwrap_or_default();
    let results: Vec<Value> = items.iter().map(|s| result(&api, s)).collect();
    // OONI counts only when the answer is complete (it runs no COUNT query).
    let (count, pages) = if next_url.is_empty() {
        ((offset + results.len()) as i64, 1)
    } else {
        (-1, -1)
    };
    Json(json!({
        "metadata": {
            "count": count,
            "current_page": offset / limit + 1,
            "limit": limit,
            "next_url": next_url,
            "offset": offset,
            "pages": pages,
            "query_time": t0.elapsed().as_secs_f64(),
        },
        "results": results,
    }))
    .into_response()
}

fn uid_param(p: &ApiParams) -> Result<String, String> {
    match p.measurement_uid.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() && u.len() <= 200 => Ok(u.to_string()),
        _ => Err("measurement_uid is required (as given in /api/v1/measurements)".into()),
    }
}

async fn fetch(api: &Api, uid: String) -> Result<Stored, Response> {
    let store = api.store.clone();
    match tokio::task::spawn_blocking(move || store.get_by_uid(&uid)).await {
        Ok(Ok(Some(s))) => Ok(s),
        Ok(Ok(None)) => Err(error(StatusCode::NOT_FOUND, "measurement not found".into())),
        _ => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the store failed".into(),
        )),
    }
}

/// `GET /api/v1/measurement_meta?measurement_uid=&full=true`.
pub(crate) async fn meta(State(api): State<Api>, UrlQuery(p): UrlQuery<ApiParams>) -> Response {
    let uid = match uid_param(&p) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let s = match fetch(&api, uid).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let m = &s.measurement;
    let (anomaly, confirmed, failure) = ooni_flags(m);
    let asn: i64 = m.probe_asn.trim_start_matches("AS").parse().unwrap_or(0);
    let mut v = json!({
        "input": m.input,
        "measurement_start_time": ooni_time(&m.measurement_start_time),
        "measurement_uid": s.uid,
        "report_id": m.extra.get("report_id").and_then(Value::as_str).unwrap_or(""),
        "test_name": m.test_name,
        "test_start_time": ooni_time(&m.test_start_time),
        "probe_asn": asn,
        "probe_cc": m.probe_cc,
        "scores": "{}",
        "anomaly": anomaly,
        "confirmed": confirmed,
        "failure": failure,
        "category_code": interfero_store::query::category_of(m),
        "verification_status": "u",
        "x_verdict": m.verdict,
    });
    if p.full.as_deref() == Some("true") {
        v["raw_measurement"] = Value::String(serde_json::to_string(m).unwrap_or_default());
    }
    Json(v).into_response()
}

fn raw_answer(s: &Stored, download: bool) -> Response {
    let body = serde_json::to_vec(&s.measurement).unwrap_or_default();
    let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if download {
        let v = format!("attachment; filename=interfero_measurement-{}.json", s.uid);
        if let Ok(h) = v.parse() {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, h);
        }
    }
    r
}

/// `GET /api/v1/raw_measurement?measurement_uid=`: the measurement JSON as stored.
pub(crate) async fn raw(State(api): State<Api>, UrlQuery(p): UrlQuery<ApiParams>) -> Response {
    let uid = match uid_param(&p) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match fetch(&api, uid).await {
        Ok(s) => raw_answer(&s, false),
        Err(e) => e,
    }
}

/// `GET /api/v1/measurement/{uid}?download=true`.
pub(crate) async fn by_path(
    State(api): State<Api>,
    Path(uid): Path<String>,
    UrlQuery(p): UrlQuery<ApiParams>,
) -> Response {
    if uid.len() > 200 {
        return error(StatusCode::NOT_FOUND, "measurement not found".into());
    }
    match fetch(&api, uid).await {
        Ok(s) => raw_answer(&s, p.download.as_deref() == Some("true")),
        Err(e) => e,
    }
}
