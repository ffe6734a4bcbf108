//! Downloads of any search as CSV or JSON (streamed: memory stays bounded whatever the
//! number of matches) and Atom feeds of events for a country, network or domain.

use super::chart::esc;
use super::params::Params;
use super::{networks, page_error, App};
use axum::body::{Body, Bytes};
use axum::extract::{Query as UrlQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::channel::Channel;
use interfero_store::query::{category_of, domain_of, status_name};
use interfero_store::{EventKind, EventQuery, Stored};
use std::convert::Infallible;
use std::ops::ControlFlow;

/// A spreadsheet opens a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage
/// return) as a formula: measured text is hostile, so such a value is prefixed with `'`.
pub(crate) fn csv_safe(v: &str) -> String {
    match v.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{v}"),
        _ => v.to_string(),
    }
}

/// The CSV columns of a search download.
const COLUMNS: [&str; 13] = [
    "measurement_uid",
    "measurement_start_time",
    "input",
    "domain",
    "probe_cc",
    "probe_asn",
    "network_name",
    "category_code",
    "status",
    "techniques",
    "confidence",
    "rules",
    "evidence",
];

fn csv_record(s: &Stored) -> Vec<String> {
    let m = &s.measurement;
    let v = m.verdict.as_ref();
    vec![
        s.uid.clone(),
        m.measurement_start_time.clone(),
        m.input.clone(),
        domain_of(&m.input),
        m.probe_cc.clone(),
        m.probe_asn.clone(),
        networks::name_of(&m.probe_asn).unwrap_or("").to_string(),
        category_of(m),
        status_name(v.map(|v| v.status)).to_string(),
        v.map(|v| {
            v.techniques
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default(),
        v.map(|v| format!("{:.2}", v.confidence))
            .unwrap_or_default(),
        v.map(|v| v.rules.join(" ")).unwrap_or_default(),
        v.map(|v| v.evidence.join(" | ")).unwrap_or_default(),
    ]
}

/// Streams every match of the search to the client, each item formatted by `item`, between
/// `head` and `tail`; stops reading the store as soon as the client goes away.
fn stream(
    app: &App,
    p: &Params,
    content_type: &'static str,
    filename: &'static str,
    head: Vec<u8>,
    tail: Vec<u8>,
    mut item: impl FnMut(&Stored, bool) -> Vec<u8> + Send + 'static,
) -> Response {
    let filter = match p.filter() {
        Ok(f) => f,
        Err(e) => return page_error(StatusCode::BAD_REQUEST, &e),
    };
    let order = p.order();
    let (mut tx, body) = Channel::<Bytes, Infallible>::new(4);
    let store = app.store.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut send = |b: Vec<u8>| rt.block_on(tx.send_data(Bytes::from(b))).is_ok();
        if !send(head) {
            return;
        }
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut first = true;
        let mut gone = false;
        let scanned = store.scan(&filter.query, order, &mut |s| {
            buf.extend(item(&s, first));
            first = false;
            if buf.len() >= 64 * 1024 && !send(std::mem::take(&mut buf)) {
                gone = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if gone {
            return;
        }
        if let Err(e) = scanned {
            // The status line has gone: the download ends short, and says why in the log.
            tracing::warn!("explorer: download stopped: {e}");
            return;
        }
        buf.extend(tail);
        let _ = send(buf);
    });
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                if filename.ends_with(".csv") {
                    "attachment; filename=\"interfero-measurements.csv\""
                } else {
                    "attachment; filename=\"interfero-measurements.json\""
                },
            ),
        ],
        Body::new(body),
    )
        .into_response()
}

/// `GET /search.csv?<filter>`: every match as CSV (the `csv` crate quotes every field that
/// needs it).
pub(crate) async fn search_csv(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(COLUMNS);
    let head = w.into_inner().unwrap_or_default();
    stream(
        &app,
        &p,
        "text/csv; charset=utf-8",
        "interfero-measurements.csv",
        head,
        Vec::new(),
        |s, _| {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            let _ = w.write_record(csv_record(s).iter().map(|v| csv_safe(v)));
            w.into_inner().unwrap_or_default()
        },
    )
}

/// `GET /search.json?<filter>`: every match as a JSON array of `{measurement_uid, ...,
/// measurement}`.
pub(crate) async fn search_json(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    stream(
        &app,
        &p,
        "application/json",
        "interfero-measurements.json",
        b"[\n".to_vec(),
        b"\n]\n".to_vec(),
        |s, first| {
            let v = serde_json::json!({
                "measurement_uid": s.uid,
                "run": s.run,
                "network_name": networks::name_of(&s.measurement.probe_asn),
                "measurement": s.measurement,
            });
            let mut out = if first { Vec::new() } else { b",\n".to_vec() };
            out.extend(serde_json::to_vec(&v).unwrap_or_default());
            out
        },
    )
}

/// What an event kind is called on pages and in feeds.
pub(crate) fn kind_words(k: EventKind) -> &'static str {
    match k {
        EventKind::BlockStarted => "block started",
        EventKind::BlockEnded => "block ended",
        EventKind::ShutdownStarted => "shutdown started",
        EventKind::ShutdownEnded => "shutdown ended",
        EventKind::Coordinated => "coordinated across networks",
        EventKind::ContentRemoved => "archived page removed",
        EventKind::ContentChanged => "archived page changed",
        EventKind::DelegationRemoved => "delegation removed",
        EventKind::DelegationRestored => "delegation restored",
    }
}

/// The event query of a filter (events know time, place, target and kind).
pub(crate) fn event_query(p: &Params) -> Result<EventQuery, String> {
    let f = p.filter()?;
    let q = f.query;
    Ok(EventQuery {
        since: q.since,
        until: q.until,
        probe_cc: q.probe_cc,
        probe_asn: q.probe_asn,
        domain: q.domain,
        input: q.input,
        kind: None,
        limit: None,
    })
}

/// How many entries a feed carries (the newest).
const FEED_ENTRIES: usize = 100;

/// `GET /feed.atom?cc=KZ` (or `asn=`, `domain=`, any filter): an Atom feed of the events
/// there, newest first, so a newsroom learns of a new block or an unblocking without looking.
pub(crate) async fn feed(State(app): State<App>, UrlQuery(p): UrlQuery<Params>) -> Response {
    let eq = match event_query(&p) {
        Ok(q) => q,
        Err(e) => return page_error(StatusCode::BAD_REQUEST, &e),
    };
    let filter = p.filter().unwrap_or_default();
    let qs = filter.to_query_string();
    let events = match app.with(move |s| s.query_events(&eq)).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let scope = super::views::title_of(&filter, interfero_store::Axis::Day, None, false);
    let scope = scope.split(':').next().unwrap_or("").to_string();
    let updated = events
        .iter()
        .map(|(_, e)| e.ended.clone().unwrap_or_else(|| e.started.clone()))
        .max()
        .unwrap_or_else(|| "1970-01-01 00:00:00".into());
    let atom_time = |t: &str| format!("{}Z", t.replacen(' ', "T", 1));
    let self_link = app.link(&format!("/feed.atom?{qs}"));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>Interfero events: {}</title>\n<id>tag:interfero,2026:feed?{}</id>\n\
         <updated>{}</updated>\n<link rel=\"self\" href=\"{}\"/>\n<link href=\"{}\"/>\n\
         <author><name>Interfero</name></author>\n",
        esc(&scope),
        esc(&qs),
        atom_time(&updated),
        esc(&self_link),
        esc(&app.link(&format!("/search?{qs}"))),
    );
    for (id, e) in events.iter().rev().take(FEED_ENTRIES) {
        let domain = domain_of(&e.input);
        let target = if e.input.is_empty() {
            "the whole network".to_string()
        } else {
            domain.clone()
        };
        let place = if e.probe_asn.is_empty() {
            String::new()
        } else {
            format!(" on {} ({})", networks::label(&e.probe_asn), e.probe_cc)
        };
        let title = format!(
            "{}: {target}{place}{}",
            kind_words(e.kind),
            e.technique.map(|t| format!(" ({t})")).unwrap_or_default()
        );
        let captured = super::capture_page::named_captures(&e.evidence);
        let after = captured.iter().find(|(role, _)| role == "after");
        let link = if let Some((_, id)) = after {
            // A content event's entry opens the capture that shows the change.
            app.link(&format!("/capture/{id}"))
        } else if domain.is_empty() {
            app.link(&format!("/network/{}", e.probe_asn))
        } else {
            app.link(&format!("/domain/{domain}"))
        };
        let mut summary = format!("Started {} UTC", e.started);
        if let Some(end) = &e.ended {
            summary.push_str(&format!(", ended {end} UTC"));
        }
        summary.push_str(". ");
        summary.push_str(&e.evidence.join(" "));
        out.push_str(&format!(
            "<entry>\n<title>{}</title>\n<id>tag:interfero,2026:event/{id}</id>\n<updated>{}</updated>\n\
             <link href=\"{}\"/>\n<summary>{}</summary>\n</entry>\n",
            esc(&title),
            atom_time(e.ended.as_deref().unwrap_or(&e.started)),
            esc(&link),
            esc(&summary)
        ));
    }
    out.push_str("</feed>\n");
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        out,
    )
        .into_response()
}
