//! Charts from aggregations: the chart page, and the same chart as SVG, CSV and JSON for any
//! filter. A bar or cell leads to the search for its measurements.

use super::chart::{self, Bar, Caption, Row, STACK};
use super::params::{Filter, Params};
use super::{networks, page_error, render, App};
use axum::extract::{Query as UrlQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use interfero_model::{Status, Technique};
use interfero_store::{Axis, Bucket, Counts};
use std::collections::BTreeMap;

/// The most rows a grid draws (the interfered-with first); the CSV has them all.
const GRID_ROWS: usize = 40;

/// A line of a counts table: the key, its link, the total and each status's count and share.
pub(crate) struct TableRow {
    pub label: String,
    pub href: String,
    pub total: u64,
    pub cells: Vec<(u64, String)>,
}

/// The values of a filter form, as shown back to the user.
#[derive(Default)]
pub(crate) struct Form {
    pub cc: String,
    pub asn: String,
    pub domain: String,
    pub input: String,
    pub category: String,
    pub status: String,
    pub technique: String,
    pub since: String,
    pub until: String,
    pub run: String,
}

impl Form {
    pub fn of(f: &Filter) -> Form {
        let q = &f.query;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        Form {
            cc: s(&q.probe_cc),
            asn: s(&q.probe_asn),
            domain: s(&q.domain),
            input: s(&q.input),
            category: s(&q.category),
            status: q.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            technique: q
                .technique
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            since: f.since.clone(),
            until: f.until.clone(),
            run: q.run.map(|r| r.to_string()).unwrap_or_default(),
        }
    }
}

/// Status names for the forms.
pub(crate) fn statuses() -> Vec<&'static str> {
    Status::ALL.iter().map(|s| s.as_str()).collect()
}

/// Technique names for the forms.
pub(crate) fn techniques() -> Vec<&'static str> {
    Technique::ALL.iter().map(|t| t.as_str()).collect()
}

/// How a bucket key is shown (networks with their names).
pub(crate) fn label(axis: Axis, key: &str) -> String {
    match axis {
        Axis::Network => networks::label(key),
        _ if key.is_empty() => "(none)".into(),
        _ => key.to_string(),
    }
}

fn share(n: u64, total: u64) -> String {
    if total == 0 {
        String::new()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / total as f64)
    }
}

/// A counts table line.
pub(crate) fn table_row(label: String, href: String, c: &Counts) -> TableRow {
    TableRow {
        label,
        href,
        total: c.total,
        cells: STACK
            .iter()
            .map(|s| {
                let n = c.by_status.get(*s).copied().unwrap_or(0);
                (n, share(n, c.total))
            })
            .collect(),
    }
}

/// Every day from the first key to the last (charts show quiet days as gaps, not as nothing).
fn fill_days(keys: &[String]) -> Vec<String> {
    let parse = |s: &String| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    match (keys.first().and_then(parse), keys.last().and_then(parse)) {
        (Some(a), Some(b)) if b >= a && (b - a).num_days() <= 3660 => {
            let mut out = Vec::new();
            let mut d = a;
            while d <= b {
                out.push(d.format("%Y-%m-%d").to_string());
                d += Duration::days(1);
            }
            out
        }
        _ => keys.to_vec(),
    }
}

/// The interference share of a group: what grids and lists sort by.
pub(crate) fn interfered(c: &Counts) -> u64 {
    ["blocked", "intercepted", "throttled", "offline"]
        .iter()
        .map(|s| c.by_status.get(*s).copied().unwrap_or(0))
        .sum()
}

/// A drawn chart with its table.
pub(crate) struct Drawn {
    pub svg: String,
    pub table: Vec<TableRow>,
    pub table_key: String,
}

/// Draws `buckets` (from `aggregate(filter, x, y)`): stacked bars when `y` is `None`, else
/// a grid of one row per `y` key.
pub(crate) fn draw(
    f: &Filter,
    x: Axis,
    y: Option<Axis>,
    pct: bool,
    buckets: &[Bucket],
    cap: &Caption,
) -> Drawn {
    let search = |g: &Filter| format!("/search?{}", g.to_query_string());
    match y {
        None => {
            let by: BTreeMap<&str, &Counts> =
                buckets.iter().map(|b| (b.x.as_str(), &b.counts)).collect();
            let mut keys: Vec<String> = by.keys().map(|k| k.to_string()).collect();
            if x == Axis::Day {
                keys = fill_days(&keys);
            }
            let empty = Counts::default();
            let bars: Vec<Bar> = keys
                .iter()
                .map(|k| Bar {
                    label: label(x, k),
                    counts: by.get(k.as_str()).copied().unwrap_or(&empty).clone(),
                    href: search(&f.narrowed(x, k)),
                })
                .collect();
            let table = bars
                .iter()
                .zip(&keys)
                .filter(|(b, _)| b.counts.total > 0)
                .map(|(b, _)| table_row(b.label.clone(), b.href.clone(), &b.counts))
                .collect();
            Drawn {
                svg: chart::stacked(&bars, pct, cap),
                table,
                table_key: x.as_str().to_string(),
            }
        }
        Some(y) => {
            let mut cols: Vec<String> = buckets.iter().map(|b| b.x.clone()).collect();
            cols.sort();
            cols.dedup();
            if x == Axis::Day {
                cols = fill_days(&cols);
            }
            let col_of: BTreeMap<&str, usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i))
                .collect();
            // Links are made only for the rows drawn: a grid over a million measurements has
            // thousands of cells, and a link costs more than a count.
            let mut rows: BTreeMap<&str, (Counts, Vec<Option<&Counts>>)> = BTreeMap::new();
            for b in buckets {
                let row = rows
                    .entry(b.y.as_str())
                    .or_insert_with(|| (Counts::default(), vec![None; cols.len()]));
                for (s, n) in &b.counts.by_status {
                    row.0.add(s, *n);
                }
                if let Some(&i) = col_of.get(b.x.as_str()) {
                    row.1[i] = Some(&b.counts);
                }
            }
            let mut rows: Vec<_> = rows.into_iter().collect();
            rows.sort_by(|a, b| {
                let share = |c: &Counts| interfered(c) * 1_000_000 / c.total.max(1);
                share(&b.1 .0)
                    .cmp(&share(&a.1 .0))
                    .then(b.1 .0.total.cmp(&a.1 .0.total))
                    .then(a.0.cmp(b.0))
            });
            let table = rows
                .iter()
                .map(|(k, (c, _))| table_row(label(y, k), search(&f.narrowed(y, k)), c))
                .collect();
            let drawn: Vec<Row> = rows
                .into_iter()
                .take(GRID_ROWS)
                .map(|(k, (_, cells))| {
                    let row_filter = f.narrowed(y, k);
                    Row {
                        label: label(y, k),
                        href: search(&row_filter),
                        cells: cells
                            .into_iter()
                            .zip(&cols)
                            .map(|(c, col)| {
                                c.map(|c| (c.clone(), search(&row_filter.narrowed(x, col))))
                            })
                            .collect(),
                    }
                })
                .collect();
            let col_labels: Vec<String> = cols.iter().map(|c| label(x, c)).collect();
            Drawn {
                svg: chart::grid(&col_labels, &drawn, cap),
                table,
                table_key: y.as_str().to_string(),
            }
        }
    }
}

/// A title for a filter and its axes ("blocked, KZ, AS9198: measurements per day").
pub(crate) fn title_of(f: &Filter, x: Axis, y: Option<Axis>, pct: bool) -> String {
    let q = &f.query;
    let mut parts: Vec<String> = Vec::new();
    for v in [&q.domain, &q.input, &q.probe_cc, &q.category]
        .into_iter()
        .flatten()
    {
        parts.push(v.clone());
    }
    if let Some(a) = &q.probe_asn {
        parts.push(networks::label(a));
    }
    if let Some(s) = q.status {
        parts.push(s.as_str().into());
    }
    if let Some(t) = q.technique {
        parts.push(t.as_str().into());
    }
    if !f.since.is_empty() || !f.until.is_empty() {
        parts.push(format!("{} to {}", f.since, f.until));
    }
    let what = if pct { "share of verdicts" } else { "verdicts" };
    let by = match y {
        Some(y) => format!("{what} per {} and {}", y.as_str(), x.as_str()),
        None => format!("{what} per {}", x.as_str()),
    };
    if parts.is_empty() {
        format!("All measurements: {by}")
    } else {
        format!("{}: {by}", parts.join(", "))
    }
}

struct Chart {
    filter: Filter,
    x: Axis,
    y: Option<Axis>,
    pct: bool,
    buckets: Vec<Bucket>,
    chart_qs: String,
}

async fn chart_of(app: &App, p: &Params) -> Result<Chart, Response> {
    let bad = |e: String| page_error(StatusCode::BAD_REQUEST, &e);
    let filter = p.filter().map_err(bad)?;
    let (x, y) = p.axes().map_err(bad)?;
    let pct = p.percent();
    let q = filter.query.clone();
    let buckets = app.with(move |s| s.aggregate(&q, x, y)).await?;
    let mut chart_qs = filter.to_query_string();
    let mut extra = url::form_urlencoded::Serializer::new(String::new());
    extra.append_pair("x", x.as_str());
    if let Some(y) = y {
        extra.append_pair("y", y.as_str());
    }
    if pct {
        extra.append_pair("pct", "1");
    }
    if !chart_qs.is_empty() {
        chart_qs.push('&');
    }
    chart_qs.push_str(&extra.finish());
    Ok(Chart {
        filter,
        x,
        y,
        pct,
        buckets,
        chart_qs,
    })
}

#[derive(askama::Template)]
#[template(path = "chart.html")]
struct ChartPage {
    title: String,
    form: Form,
    statuses: Vec<&'static str>,
    techniques: Vec<&'static str>,
    axes: Vec<&'static str>,
    x: &'static str,
    y: &'static str,
    pct: bool,
    error: String,
    svg: String,
    table: Vec<TableRow>,
    table_key: String,
    stack: [&'static str; 8],
    qs: String,
    chart_qs: String,
    api_qs: String,
}

/// `GET /chart?<filter>&x=&y=&pct=`: the chart, its table of counts and percentages, and
/// its downloads.
pub(crate) async fn chart_page(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let c = match chart_of(&app, &p).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let title = title_of(&c.filter, c.x, c.y, c.pct);
    let cap = Caption {
        title: title.clone(),
        source: app.link(&format!("/chart?{}", c.chart_qs)),
    };
    let d = draw(&c.filter, c.x, c.y, c.pct, &c.buckets, &cap);
    render(&ChartPage {
        title,
        form: Form::of(&c.filter),
        statuses: statuses(),
        techniques: techniques(),
        axes: Axis::ALL.iter().map(|a| a.as_str()).collect(),
        x: c.x.as_str(),
        y: c.y.map(|a| a.as_str()).unwrap_or(""),
        pct: c.pct,
        error: String::new(),
        svg: d.svg,
        table: d.table,
        table_key: d.table_key,
        stack: STACK,
        qs: c.filter.to_query_string(),
        api_qs: crate::api::ooni_query_string(&c.filter, c.x, c.y),
        chart_qs: c.chart_qs,
    })
}

/// `GET /chart.svg?<same query>`: the chart alone, an image to embed or download.
pub(crate) async fn chart_svg(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let c = match chart_of(&app, &p).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let cap = Caption {
        title: title_of(&c.filter, c.x, c.y, c.pct),
        source: app.link(&format!("/chart?{}", c.chart_qs)),
    };
    let d = draw(&c.filter, c.x, c.y, c.pct, &c.buckets, &cap);
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"interfero-chart.svg\"",
            ),
        ],
        d.svg,
    )
        .into_response()
}

/// `GET /chart.csv`: one line per bucket with counts and percentages by status.
pub(crate) async fn chart_csv(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let c = match chart_of(&app, &p).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec![c.x.as_str().to_string()];
    if let Some(y) = c.y {
        head.push(y.as_str().into());
    }
    head.push("total".into());
    for s in STACK {
        head.push(format!("{s}_count"));
        head.push(format!("{s}_percent"));
    }
    let mut rows = vec![head];
    for b in &c.buckets {
        let mut r = vec![b.x.clone()];
        if c.y.is_some() {
            r.push(b.y.clone());
        }
        r.push(b.counts.total.to_string());
        for s in STACK {
            let n = b.counts.by_status.get(s).copied().unwrap_or(0);
            r.push(n.to_string());
            r.push(format!(
                "{:.2}",
                n as f64 * 100.0 / b.counts.total.max(1) as f64
            ));
        }
        rows.push(r);
    }
    for r in rows {
        if w.write_record(r.iter().map(|f| downloads::csv_safe(f)))
            .is_err()
        {
            return page_error(StatusCode::INTERNAL_SERVER_ERROR, "CSV writing failed");
        }
    }
    let body = w.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"interfero-chart.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /chart.json`: the buckets as the store gives them.
pub(crate) async fn chart_json(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    match chart_of(&app, &p).await {
        Ok(c) => axum::Json(serde_json::json!({
            "x": c.x.as_str(),
            "y": c.y.map(|a| a.as_str()),
            "buckets": c.buckets,
        }))
        .into_response(),
        Err(e) => e,
    }
}

use super::downloads;
