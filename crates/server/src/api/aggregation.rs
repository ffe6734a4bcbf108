//! `GET /api/v1/aggregation`: OONI's counts (`anomaly_count`, `confirmed_count`,
//! `failure_count`, `ok_count`, `measurement_count`), mutually exclusive, on zero, one or two
//! axes, as JSON or CSV; Interfero's per-status counts beside them (`x_status_counts`).

use super::measurements::ApiParams;
use super::{ooni_time, Api};
use crate::error;
use axum::extract::{Query as UrlQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use interfero_model::{Status, Technique};
use interfero_store::{Axis, Bucket, Counts, Query};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Instant;

fn axis(name: &str, grain: Axis) -> Result<Axis, String> {
    Ok(match name {
        "measurement_start_day" => grain,
        "probe_cc" => Axis::Country,
        "probe_asn" => Axis::Network,
        "domain" => Axis::Domain,
        "input" => Axis::Input,
        "category_code" => Axis::Category,
        "status" => Axis::Status,
        "run" => Axis::Run,
        other => {
            return Err(format!(
                "axis {other:?} is not supported: use measurement_start_day, probe_cc, probe_asn, domain, input, category_code or status (Interfero's verdict, instead of blocking_type)"
            ))
        }
    })
}

/// OONI's value of a key on an axis (`probe_asn` as a number, days as dates).
fn value(a: Axis, key: &str) -> Value {
    match a {
        Axis::Network => key
            .trim_start_matches("AS")
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(key)),
        Axis::Hour => Value::from(ooni_time(&format!("{key}:00:00"))),
        Axis::Month => Value::from(format!("{key}-01")),
        _ => Value::from(key),
    }
}

/// OONI's mutually exclusive counts from Interfero's: `blockpage` is how many of the blocked
/// had a blockpage (OONI's "confirmed").
fn ooni_counts(c: &Counts, blockpage: u64) -> [(&'static str, u64); 5] {
    let n = |s: Status| c.of(s);
    let unjudged = c.by_status.get("unjudged").copied().unwrap_or(0);
    let blockpage = blockpage.min(n(Status::Blocked));
    [
        (
            "anomaly_count",
            n(Status::Blocked) - blockpage + n(Status::Throttled) + n(Status::Offline),
        ),
        ("confirmed_count", n(Status::Intercepted) + blockpage),
        ("failure_count", n(Status::Inconclusive) + unjudged),
        ("ok_count", n(Status::Accessible) + n(Status::Down)),
        ("measurement_count", c.total),
    ]
}

/// `GET /api/v1/aggregation`.
pub(crate) async fn aggregate(
    State(api): State<Api>,
    UrlQuery(p): UrlQuery<ApiParams>,
) -> Response {
    let t0 = Instant::now();
    // OONI answers a bad axis or format with `{"error": ..., "v": 0}`.
    let bad =
        |e: String| (StatusCode::BAD_REQUEST, Json(json!({"error": e, "v": 0}))).into_response();
    let filter = match p.filter() {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let grain = match p.time_grain.as_deref().unwrap_or("day") {
        "hour" => Axis::Hour,
        "day" | "auto" | "" => Axis::Day,
        "month" => Axis::Month,
        g => {
            return bad(format!(
                "time_grain {g:?} is not supported: use hour, day or month"
            ))
        }
    };
    let pick = |v: &Option<String>| -> Result<Option<Axis>, String> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(n) => axis(n, grain).map(Some),
        }
    };
    let (x, y) = match (pick(&p.axis_x), pick(&p.axis_y)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    if x.is_some() && x == y {
        return bad("axis_x and axis_y must differ".into());
    }
    let csv = match p.format.as_deref() {
        None | Some("JSON") | Some("json") => false,
        Some("CSV") | Some("csv") => true,
        Some(f) => return bad(format!("format {f:?} is not JSON or CSV")),
    };
    let other_test = p.other_test();
    let q = filter.query.clone();
    let store = api.store.clone();
    let got = tokio::task::spawn_blocking(move || {
        if other_test {
            return Ok((Vec::new(), HashMap::new()));
        }
        run(store.as_ref(), &q, x, y)
    })
    .await;
    let (buckets, blockpages) = match got {
        Ok(Ok(v)) => v,
        _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "the store failed".into()),
    };
    let rows: Vec<Map<String, Value>> = buckets
        .iter()
        .map(|b| {
            let mut r = Map::new();
            let bp = blockpages
                .get(&(b.x.clone(), b.y.clone()))
                .copied()
                .unwrap_or(0);
            for (k, n) in ooni_counts(&b.counts, bp) {
                r.insert(k.into(), Value::from(n));
            }
            if let (Some(x), Some(xn)) = (x, p.axis_x.as_deref()) {
                r.insert(xn.into(), value(x, &b.x));
            }
            if let (Some(y), Some(yn)) = (y, p.axis_y.as_deref()) {
                r.insert(yn.into(), value(y, &b.y));
            }
            r.insert("x_status_counts".into(), json!(b.counts.by_status));
            r
        })
        .collect();
    if csv {
        let axes: Vec<&str> = [
            p.axis_x.as_deref().filter(|_| x.is_some()),
            p.axis_y.as_deref().filter(|_| y.is_some()),
        ]
        .into_iter()
        .flatten()
        .collect();
        return csv_answer(&rows, &axes, p.download.as_deref() == Some("true"));
    }
    let dims = usize::from(x.is_some()) + usize::from(y.is_some());
    let result = if dims == 0 {
        rows.into_iter()
            .next()
            .map(Value::Object)
            .unwrap_or_else(|| {
                let mut r = Map::new();
                for (k, n) in ooni_counts(&Counts::default(), 0) {
                    r.insert(k.into(), Value::from(n));
                }
                Value::Object(r)
            })
    } else {
        Value::Array(rows.into_iter().map(Value::Object).collect())
    };
    let total: u64 = buckets.iter().map(|b| b.counts.total).sum();
    Json(json!({
        "v": 0,
        "dimension_count": dims,
        "db_stats": {"row_count": total, "bytes": -1, "total_row_count": total, "elapsed_seconds": t0.elapsed().as_secs_f64()},
        "result": result,
    }))
    .into_response()
}

type Run = (Vec<Bucket>, HashMap<(String, String), u64>);

/// The buckets, and in each how many blocked measurements had a blockpage.
fn run(
    store: &dyn interfero_store::MeasurementStore,
    q: &Query,
    x: Option<Axis>,
    y: Option<Axis>,
) -> Result<Run, interfero_store::StoreError> {
    // With no axis, one bucket: aggregate on status and fold it.
    let (ax, ay) = match (x, y) {
        (Some(x), y) => (x, y),
        (None, _) => (Axis::Status, None),
    };
    let mut buckets = store.aggregate(q, ax, ay)?;
    let mut bp = HashMap::new();
    // A technique filter other than the blockpage leaves no room for a second one: only
    // interceptions count as confirmed then.
    if q.technique.is_none() || q.technique == Some(Technique::HttpBlockpage) {
        let mut q2 = q.clone();
        q2.technique = Some(Technique::HttpBlockpage);
        if q2.status.is_none() || q2.status == Some(Status::Blocked) {
            q2.status = Some(Status::Blocked);
            for b in store.aggregate(&q2, ax, ay)? {
                bp.insert((b.x, b.y), b.counts.total);
            }
        }
    }
    if x.is_none() {
        let mut all = Counts::default();
        let mut n = 0;
        for b in &buckets {
            for (s, k) in &b.counts.by_status {
                all.add(s, *k);
            }
        }
        for v in bp.values() {
            n += v;
        }
        buckets = if all.total == 0 {
            Vec::new()
        } else {
            vec![Bucket {
                x: String::new(),
                y: String::new(),
                counts: all,
            }]
        };
        bp = HashMap::from([((String::new(), String::new()), n)]);
    }
    Ok((buckets, bp))
}

fn csv_answer(rows: &[Map<String, Value>], axes: &[&str], download: bool) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut keys: Vec<String> = ooni_counts(&Counts::default(), 0)
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    keys.extend(axes.iter().map(|a| a.to_string()));
    let _ = w.write_record(&keys);
    for r in rows {
        let rec: Vec<String> = keys
            .iter()
            .map(|k| match r.get(k).unwrap_or(&Value::Null) {
                Value::String(s) => crate::explorer::csv_safe(s),
                v => v.to_string(),
            })
            .collect();
        let _ = w.write_record(&rec);
    }
    let mut resp = (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        w.into_inner().unwrap_or_default(),
    )
        .into_response();
    if download {
        resp.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            axum::http::HeaderValue::from_static("attachment; filename=ooni-aggregate-data.csv"),
        );
    }
    resp
}
