//! The HTML pages: home, search, a measurement, and a domain, network or country.

use super::chart::{Caption, STACK};
use super::downloads::kind_words;
use super::measurement::{self, View};
use super::params::{normalise_asn, Filter, Params};
use super::views::{self, draw, interfered, label, Form, TableRow};
use super::{networks, page_error, render, App};
use axum::extract::{Path, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use interfero_store::query::domain_of;
use interfero_store::{Axis, Counts, Event, EventKind, EventQuery, PageRequest, Query};

/// An event as a table row.
pub(crate) struct EventRow {
    started: String,
    ended: String,
    kind: &'static str,
    words: &'static str,
    technique: String,
    domain: String,
    asn: String,
    network: String,
    cc: String,
    evidence: String,
    /// `(role, id)` of the archived captures a content event names, linked to their pages.
    captures: Vec<(String, String)>,
}

fn event_rows(events: &[(i64, Event)], newest: usize) -> Vec<EventRow> {
    events
        .iter()
        .rev()
        .take(newest)
        .map(|(_, e)| EventRow {
            started: e.started.clone(),
            ended: match (&e.ended, e.kind) {
                (Some(t), _) => t.clone(),
                (
                    None,
                    EventKind::BlockStarted
                    | EventKind::ShutdownStarted
                    | EventKind::DelegationRemoved,
                ) => "ongoing".into(),
                (None, _) => String::new(),
            },
            kind: e.kind.as_str(),
            words: kind_words(e.kind),
            technique: e
                .technique
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            domain: domain_of(&e.input),
            asn: e.probe_asn.clone(),
            network: networks::label(&e.probe_asn),
            cc: e.probe_cc.clone(),
            evidence: e
                .evidence
                .iter()
                .filter(|l| !l.contains(": capture "))
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            captures: super::capture_page::named_captures(&e.evidence),
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct Home {
    title: String,
    total: u64,
    day_svg: String,
    events: Vec<EventRow>,
    table: Vec<TableRow>,
    table_key: String,
    table_title: String,
    stack: [&'static str; 8],
    networks: Vec<(String, String, String)>,
}

/// `GET /`: everything at a glance.
pub(crate) async fn home(State(app): State<App>) -> Response {
    let got = app
        .with(|s| {
            let q = Query::default();
            Ok((
                s.aggregate(&q, Axis::Day, None)?,
                s.aggregate(&q, Axis::Country, None)?,
                s.aggregate(&q, Axis::Network, None)?,
                s.query_events(&EventQuery::default())?,
            ))
        })
        .await;
    let (days, countries, nets, events) = match got {
        Ok(v) => v,
        Err(e) => return e,
    };
    let f = Filter::default();
    let cap = Caption {
        title: "All measurements: verdicts per day".into(),
        source: app.link("/chart?x=day"),
    };
    let total = days.iter().map(|b| b.counts.total).sum();
    let day_svg = draw(&f, Axis::Day, None, false, &days, &cap).svg;
    let table = countries
        .iter()
        .map(|b| views::table_row(b.x.clone(), format!("/country/{}", b.x), &b.counts))
        .collect();
    let mut nets: Vec<_> = nets.into_iter().collect();
    nets.sort_by_key(|b| std::cmp::Reverse(b.counts.total));
    render(&Home {
        title: "Explorer".into(),
        total,
        day_svg,
        events: event_rows(&events, 20),
        table,
        table_key: "country".into(),
        table_title: "Countries".into(),
        stack: STACK,
        networks: nets
            .iter()
            .map(|b| {
                (
                    format!("/network/{}", b.x),
                    networks::label(&b.x),
                    format!("{} measurements", b.counts.total),
                )
            })
            .collect(),
    })
}

struct ResultRow {
    time: String,
    uid: String,
    input: String,
    domain: String,
    asn: String,
    network: String,
    cc: String,
    status: String,
    techniques: String,
}

#[derive(askama::Template)]
#[template(path = "search.html")]
struct Search {
    title: String,
    action: &'static str,
    form: Form,
    statuses: Vec<&'static str>,
    techniques: Vec<&'static str>,
    error: String,
    count: u64,
    rows: Vec<ResultRow>,
    next: String,
    qs: String,
    api_qs: String,
}

/// `GET /search?<filter>&after=&order=`: one page of matches, newest first, each linked to
/// its measurement; the count, downloads and chart of the same filter.
pub(crate) async fn search(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let mut page = Search {
        title: "Search".into(),
        action: "/search",
        form: Form::default(),
        statuses: views::statuses(),
        techniques: views::techniques(),
        error: String::new(),
        count: 0,
        rows: Vec::new(),
        next: String::new(),
        qs: String::new(),
        api_qs: String::new(),
    };
    let (filter, cursor) = match p.filter().and_then(|f| Ok((f, p.cursor()?))) {
        Ok(v) => v,
        Err(e) => {
            page.error = e;
            let mut r = render(&page);
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        }
    };
    page.form = Form::of(&filter);
    page.qs = filter.to_query_string();
    page.api_qs = crate::api::ooni_measurements_query_string(&filter);
    let order = p.order();
    let limit = app.opts.page_size.clamp(1, interfero_store::MAX_PAGE);
    let q = filter.query.clone();
    let got = app
        .with(move |s| {
            let req = PageRequest {
                after: cursor,
                limit,
                order,
            };
            Ok((s.page(&q, &req)?, s.count_matching(&q)?))
        })
        .await;
    let (items, count) = match got {
        Ok(v) => v,
        Err(e) => return e,
    };
    page.count = count;
    page.rows = items
        .items
        .iter()
        .map(|s| {
            let m = &s.measurement;
            ResultRow {
                time: m.measurement_start_time.clone(),
                uid: s.uid.clone(),
                input: m.input.clone(),
                domain: domain_of(&m.input),
                asn: m.probe_asn.clone(),
                network: networks::label(&m.probe_asn),
                cc: m.probe_cc.clone(),
                status: interfero_store::query::status_name(m.verdict.as_ref().map(|v| v.status))
                    .to_string(),
                techniques: m
                    .verdict
                    .as_ref()
                    .map(|v| {
                        v.techniques
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    if let Some(next) = items.next {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("after", &next.encode());
        if order == interfero_store::Order::Oldest {
            s.append_pair("order", "oldest");
        }
        let sep = if page.qs.is_empty() { "" } else { "&" };
        page.next = format!("/search?{}{sep}{}", page.qs, s.finish());
    }
    render(&page)
}

#[derive(askama::Template)]
#[template(path = "measurement.html")]
struct MeasurementPage {
    title: String,
    v: View,
    incidents: super::incidents::Mentions,
}

/// `GET /m/{uid}`: one measurement, its verdict in words and each step.
pub(crate) async fn measurement(
    State(app): State<App>,
    headers: HeaderMap,
    Path(uid): Path<String>,
) -> Response {
    if uid.len() > 200 {
        return page_error(StatusCode::NOT_FOUND, "No measurement has this id.");
    }
    let got = app.with(move |s| s.get_by_uid(&uid)).await;
    match got {
        Ok(Some(s)) => {
            let v = measurement::view(&s);
            let incidents = super::incidents::citing(&app, &headers, s.uid.clone(), s.id).await;
            render(&MeasurementPage {
                title: format!("{} {}", v.status, v.domain),
                v,
                incidents,
            })
        }
        Ok(None) => page_error(StatusCode::NOT_FOUND, "No measurement has this id."),
        Err(e) => e,
    }
}

#[derive(askama::Template)]
#[template(path = "place.html")]
struct Place {
    title: String,
    heading: String,
    total: u64,
    blocked_pct: String,
    qs: String,
    day_svg: String,
    events: Vec<EventRow>,
    side_title: String,
    side: Vec<(String, String, String)>,
    grid_title: String,
    grid_svg: String,
    table_title: String,
    table: Vec<TableRow>,
    table_key: String,
    stack: [&'static str; 8],
    incidents: super::incidents::Mentions,
}

/// The most networks drawn side by side on a country page.
const SIDE_BY_SIDE: usize = 8;

/// A page for one place or target: the filter it stands for, and which axis its grid and
/// table break it down by.
async fn place(
    app: App,
    headers: HeaderMap,
    heading: String,
    filter: Filter,
    by: Axis,
    side: bool,
) -> Response {
    let q = filter.query.clone();
    // Incidents about the country or the domain (none for a network page).
    let incidents = if q.probe_asn.is_none() {
        super::incidents::about(&app, &headers, q.probe_cc.clone(), q.domain.clone()).await
    } else {
        super::incidents::Mentions::default()
    };
    let got = app
        .with(move |s| {
            let days = s.aggregate(&q, Axis::Day, None)?;
            let grid = s.aggregate(&q, Axis::Day, Some(by))?;
            let eq = EventQuery {
                probe_cc: q.probe_cc.clone(),
                probe_asn: q.probe_asn.clone(),
                domain: q.domain.clone(),
                ..EventQuery::default()
            };
            Ok((days, grid, s.query_events(&eq)?))
        })
        .await;
    let (days, grid, events) = match got {
        Ok(v) => v,
        Err(e) => return e,
    };
    let qs = filter.to_query_string();
    let mut all = Counts::default();
    for b in &days {
        for (s, n) in &b.counts.by_status {
            all.add(s, *n);
        }
    }
    let cap = |title: String, x: &str| Caption {
        title,
        source: app.link(&format!("/chart?{qs}&x=day{x}")),
    };
    let day_svg = draw(
        &filter,
        Axis::Day,
        None,
        false,
        &days,
        &cap(format!("{heading}: verdicts per day"), ""),
    )
    .svg;
    let grid_drawn = draw(
        &filter,
        Axis::Day,
        Some(by),
        false,
        &grid,
        &cap(
            format!("{heading}: per {} and day", by.as_str()),
            &format!("&y={}", by.as_str()),
        ),
    );
    let mut side_charts = Vec::new();
    if side {
        // Networks of the country side by side, in percentages so sizes do not hide shares.
        let mut by_net: std::collections::BTreeMap<String, Vec<interfero_store::Bucket>> =
            Default::default();
        for b in &grid {
            by_net
                .entry(b.y.clone())
                .or_default()
                .push(interfero_store::Bucket {
                    x: b.x.clone(),
                    y: String::new(),
                    counts: b.counts.clone(),
                });
        }
        let mut nets: Vec<_> = by_net.into_iter().collect();
        nets.sort_by(|a, b| {
            let t =
                |v: &Vec<interfero_store::Bucket>| v.iter().map(|b| b.counts.total).sum::<u64>();
            t(&b.1).cmp(&t(&a.1))
        });
        for (net, buckets) in nets.into_iter().take(SIDE_BY_SIDE) {
            let f = filter.narrowed(by, &net);
            let c = Caption {
                title: label(by, &net),
                source: app.link(&format!("/chart?{}&x=day&pct=1", f.to_query_string())),
            };
            side_charts.push((
                label(by, &net),
                format!("/network/{net}"),
                draw(&f, Axis::Day, None, true, &buckets, &c).svg,
            ));
        }
    }
    let pct = if all.total == 0 {
        String::new()
    } else {
        format!("{:.1}%", interfered(&all) as f64 * 100.0 / all.total as f64)
    };
    render(&Place {
        title: heading.clone(),
        heading,
        total: all.total,
        blocked_pct: pct,
        qs,
        day_svg,
        events: event_rows(&events, 50),
        side_title: "Networks side by side (share of verdicts per day)".into(),
        side: side_charts,
        grid_title: format!("Per {} and day", by.as_str()),
        grid_svg: grid_drawn.svg,
        table_title: format!("By {}", by.as_str()),
        table: grid_drawn.table,
        table_key: grid_drawn.table_key,
        stack: STACK,
        incidents,
    })
}

fn filter_with(f: impl FnOnce(&mut Params)) -> Result<Filter, String> {
    let mut p = Params::default();
    f(&mut p);
    p.filter()
}

/// `GET /domain/{domain}`: one site across networks and countries.
pub(crate) async fn domain(
    State(app): State<App>,
    headers: HeaderMap,
    Path(d): Path<String>,
) -> Response {
    match filter_with(|p| p.domain = Some(d.clone())) {
        Ok(f) => {
            let name = f.query.domain.clone().unwrap_or_default();
            place(app, headers, name, f, Axis::Network, false).await
        }
        Err(e) => page_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// `GET /network/{asn}`: one network, its sites by day.
pub(crate) async fn network(
    State(app): State<App>,
    headers: HeaderMap,
    Path(asn): Path<String>,
) -> Response {
    let Some(asn) = normalise_asn(&asn) else {
        return page_error(
            StatusCode::NOT_FOUND,
            "This is not a network number such as AS9198.",
        );
    };
    match filter_with(|p| p.asn = Some(asn.clone())) {
        Ok(f) => place(app, headers, networks::label(&asn), f, Axis::Domain, false).await,
        Err(e) => page_error(StatusCode::BAD_REQUEST, &e),
    }
}

/// `GET /country/{cc}`: one country, its networks side by side.
pub(crate) async fn country(
    State(app): State<App>,
    headers: HeaderMap,
    Path(cc): Path<String>,
) -> Response {
    match filter_with(|p| p.cc = Some(cc.clone())) {
        Ok(f) => {
            let name = f.query.probe_cc.clone().unwrap_or_default();
            place(
                app,
                headers,
                format!("Country {name}"),
                f,
                Axis::Network,
                true,
            )
            .await
        }
        Err(e) => page_error(StatusCode::BAD_REQUEST, &e),
    }
}
