//! A JSON API in OONI's shapes, so that tools written for OONI's API (`api.ooni.io`) work
//! against an Interfero store: `GET /api/v1/measurements`, `GET /api/v1/aggregation`,
//! `GET /api/v1/measurement_meta`, `GET /api/v1/raw_measurement` and
//! `GET /api/v1/measurement/{uid}`, with OONI's parameter names and response fields, plus
//! Interfero's own (`status`, `technique`, and `x_` fields in the answers).
//!
//! OONI's verdict flags are derived from Interfero's status: `anomaly` for blocked,
//! throttled, intercepted and offline; `confirmed` for intercepted (a certificate from a
//! national or untrusted root) and for blocked with a blockpage (`http.blockpage`), as OONI
//! confirms by fingerprint; `failure` for inconclusive and unjudged; the rest (accessible,
//! down) are `ok`. The aggregation's counts are mutually exclusive, as OONI's are.

mod aggregation;
mod flagged;
mod measurements;

use crate::explorer::params::Filter;
use crate::explorer::ExplorerOptions;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use interfero_model::{Measurement, Status, Technique};
use interfero_store::{Axis, MeasurementStore};
use std::sync::Arc;

/// What the API's handlers share.
#[derive(Clone)]
pub(crate) struct Api {
    pub store: Arc<dyn MeasurementStore>,
    pub opts: ExplorerOptions,
}

async fn headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    resp
}

/// The API's routes over `store` (see the module's documentation).
pub fn router(store: Arc<dyn MeasurementStore>, opts: ExplorerOptions) -> Router {
    Router::new()
        .route("/api/v1/measurements", get(measurements::list))
        .route("/api/v1/aggregation", get(aggregation::aggregate))
        .route("/api/v1/measurement_meta", get(measurements::meta))
        .route("/api/v1/raw_measurement", get(measurements::raw))
        .route("/api/v1/measurement/{uid}", get(measurements::by_path))
        .with_state(Api { store, opts })
        .layer(axum::middleware::map_response(headers))
}

/// OONI's three flags for one measurement: (anomaly, confirmed, failure).
pub fn ooni_flags(m: &Measurement) -> (bool, bool, bool) {
    match m.verdict.as_ref() {
        None => (false, false, true),
        Some(v) => {
            let blockpage = v.techniques.contains(&Technique::HttpBlockpage);
            match v.status {
                Status::Intercepted => (true, true, false),
                Status::Blocked => (true, blockpage, false),
                Status::Throttled | Status::Offline => (true, false, false),
                Status::Inconclusive => (false, false, true),
                Status::Accessible | Status::Down => (false, false, false),
            }
        }
    }
}

/// OONI's time format (`2026-11-03T10:00:00Z`) from the store's.
pub(crate) fn ooni_time(t: &str) -> String {
    if t.len() == 19 {
        format!("{}Z", t.replacen(' ', "T", 1))
    } else {
        t.to_string()
    }
}

fn common_pairs(f: &Filter) -> url::form_urlencoded::Serializer<'static, String> {
    let q = &f.query;
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let pairs = [
        ("probe_cc", q.probe_cc.clone()),
        ("probe_asn", q.probe_asn.clone()),
        ("domain", q.domain.clone()),
        ("input", q.input.clone()),
        ("category_code", q.category.clone()),
        ("status", q.status.map(|s| s.as_str().to_string())),
        ("technique", q.technique.map(|t| t.as_str().to_string())),
        ("since", Some(f.since.clone()).filter(|s| !s.is_empty())),
        ("until", Some(f.until.clone()).filter(|s| !s.is_empty())),
    ];
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, &v);
        }
    }
    s
}

/// The `/api/v1/measurements` query string of an explorer filter.
pub fn ooni_measurements_query_string(f: &Filter) -> String {
    common_pairs(f).finish()
}

/// The `/api/v1/aggregation` query string of an explorer chart.
pub fn ooni_query_string(f: &Filter, x: Axis, y: Option<Axis>) -> String {
    let mut s = common_pairs(f);
    let mut grain = None;
    let mut name = |a: Axis| -> &'static str {
        match a {
            Axis::Hour => {
                grain = Some("hour");
                "measurement_start_day"
            }
            Axis::Day => {
                grain = Some("day");
                "measurement_start_day"
            }
            Axis::Month => {
                grain = Some("month");
                "measurement_start_day"
            }
            Axis::Country => "probe_cc",
            Axis::Network => "probe_asn",
            Axis::Domain => "domain",
            Axis::Input => "input",
            Axis::Category => "category_code",
            Axis::Status => "status",
            Axis::Run => "run",
        }
    };
    let xn = name(x);
    let yn = y.map(&mut name);
    s.append_pair("axis_x", xn);
    if let Some(yn) = yn {
        s.append_pair("axis_y", yn);
    }
    if let Some(g) = grain {
        s.append_pair("time_grain", g);
    }
    s.finish()
}
