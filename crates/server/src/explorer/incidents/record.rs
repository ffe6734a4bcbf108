//! `GET /incident/{id}`: one record, every field in words, and its evidence looked up: each
//! measurement with its verdict and a link to its page, each event and query with the
//! measurements it holds drawn as the explorer's chart, and a notice when the verdicts
//! disagree with what the record claims (`interfero_register::evidence::check`).

use super::{failure_page, private, with_register, words};
use crate::explorer::chart::Caption;
use crate::explorer::params::{Filter, Params};
use crate::explorer::views::draw;
use crate::explorer::{networks, page_error, render, App};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use interfero_model::incident::{Evidence, Incident, Stance};
use interfero_register::evidence::{event_window, Found, Resolved, StoreSource};
use interfero_store::query::{domain_of, status_name};
use interfero_store::{Audience, Axis, Bucket, Counts, Event, IncidentFilter};
use std::collections::BTreeMap;

/// The most measurements listed under one event or query (the rest are a search away).
const LISTED: usize = 20;
/// The most charts drawn on one record page.
const CHARTS: usize = 8;

/// A linked measurement as a row.
pub(crate) struct MeasurementRow {
    href: String,
    time: String,
    input: String,
    network: String,
    cc: String,
    status: &'static str,
    techniques: String,
}

fn measurement_row(f: &Found) -> MeasurementRow {
    MeasurementRow {
        href: f
            .uid
            .as_ref()
            .map(|u| format!("/m/{u}"))
            .unwrap_or_default(),
        time: f.time.clone(),
        input: f.input.clone(),
        network: networks::label(&f.network),
        cc: f.country.clone(),
        status: status_name(f.status),
        techniques: f
            .techniques
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// One evidence entry as shown.
pub(crate) struct EvidenceView {
    /// `measurement`, `event`, `query`, `page`, `document`.
    kind: &'static str,
    /// What it names, in one line.
    label: String,
    /// A link for the entry itself (`/m/{uid}`, a page's http(s) URL), or empty.
    href: String,
    /// The page's URL or the document's title, shown as text.
    text: String,
    /// Hash and capture time, when given.
    detail: String,
    /// The measurement of a measurement entry.
    single: Option<MeasurementRow>,
    /// The measurements of an event or query (at most [`LISTED`]).
    measurements: Vec<MeasurementRow>,
    /// How many more it holds.
    more: usize,
    /// The explorer search for the same measurements, or empty.
    search: String,
    /// The explorer chart page for the same measurements, or empty.
    chart_page: String,
    /// The chart of its measurements per day by verdict (SVG made here), or empty.
    svg: String,
}

/// A link to another record, with how they relate.
pub(crate) struct RelatedView {
    words: &'static str,
    href: String,
    title: String,
}

/// One entry of the audit trail.
pub(crate) struct HistoryRow {
    revision: u32,
    at: String,
    by: String,
    action: String,
}

/// A target as shown: words, its domain (a link to its page) and URL (as text, a link when
/// http(s)).
pub(crate) struct TargetView {
    text: String,
    domain: String,
    url: String,
    href: String,
}

/// A source as shown: its text and its URL (a link only when http(s)).
pub(crate) struct SourceView {
    text: String,
    url: String,
    href: String,
}

#[derive(askama::Template)]
#[template(path = "incident.html")]
struct RecordPage {
    title: String,
    i: Incident,
    operator: bool,
    editable: bool,
    not_public: String,
    kind: &'static str,
    family: &'static str,
    codes: String,
    when: String,
    place: String,
    country_href: String,
    targets: Vec<TargetView>,
    actors: Vec<String>,
    scope: Vec<(String, Vec<(String, String)>)>,
    context: String,
    related: Vec<RelatedView>,
    outcome: String,
    position: String,
    denied: bool,
    status: String,
    check: String,
    disagrees: bool,
    claims: bool,
    evidence: Vec<EvidenceView>,
    missing: Vec<String>,
    sources: Vec<SourceView>,
    history: Vec<HistoryRow>,
}

/// The explorer filter of an evidence query or an event (the measurements it stands for, as
/// the explorer's search and chart select them).
fn filter_of(
    cc: Option<&str>,
    asn: Option<&str>,
    domain: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Option<Filter> {
    let s = |v: Option<&str>| v.map(str::to_string);
    Params {
        cc: s(cc),
        asn: s(asn),
        domain: s(domain),
        since: s(since),
        until: s(until),
        ..Params::default()
    }
    .filter()
    .ok()
}

fn event_filter(e: &Event) -> Option<Filter> {
    let cc = Some(e.probe_cc.as_str()).filter(|c| !c.is_empty() && *c != "ZZ");
    let asn = Some(e.probe_asn.as_str()).filter(|a| !a.is_empty() && *a != "AS0");
    let domain = Some(domain_of(&e.input)).filter(|d| !d.is_empty());
    let (since, until) = event_window(e);
    filter_of(cc, asn, domain.as_deref(), since, until)
}

/// The measurements per day (per month past 92 days) by verdict, drawn as the explorer's chart.
fn chart_of(ms: &[Found], f: &Filter, title: String) -> String {
    let days: std::collections::BTreeSet<&str> =
        ms.iter().filter_map(|m| m.time.get(..10)).collect();
    let span = match (days.first(), days.last()) {
        (Some(a), Some(b)) => chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d")
            .ok()
            .zip(chrono::NaiveDate::parse_from_str(a, "%Y-%m-%d").ok())
            .map(|(b, a)| (b - a).num_days())
            .unwrap_or(0),
        _ => 0,
    };
    let (axis, width) = if span > 92 {
        (Axis::Month, 7)
    } else {
        (Axis::Day, 10)
    };
    let mut by = BTreeMap::<String, Counts>::new();
    for m in ms {
        let key = m.time.get(..width).unwrap_or(&m.time).to_string();
        by.entry(key).or_default().add(status_name(m.status), 1);
    }
    // The chart spans the window the evidence names, quiet days included.
    if axis == Axis::Day {
        for d in [&f.since, &f.until] {
            if let Some(day) = d.get(..10).filter(|d| d.len() == 10) {
                by.entry(day.to_string()).or_default();
            }
        }
    }
    let buckets: Vec<Bucket> = by
        .into_iter()
        .map(|(x, counts)| Bucket {
            x,
            y: String::new(),
            counts,
        })
        .collect();
    let cap = Caption {
        title,
        source: format!("/chart?{}&x={}", f.to_query_string(), axis.as_str()),
    };
    draw(f, axis, None, false, &buckets, &cap).svg
}

fn evidence_view(
    r: &Resolved,
    expected: Option<interfero_model::Status>,
    charts: &mut usize,
) -> EvidenceView {
    let mut v = EvidenceView {
        kind: "measurement",
        label: r.label.clone(),
        href: String::new(),
        text: String::new(),
        detail: String::new(),
        single: None,
        measurements: Vec::new(),
        more: 0,
        search: String::new(),
        chart_page: String::new(),
        svg: String::new(),
    };
    let filter = match &r.evidence {
        Evidence::Measurement { .. } => {
            v.single = r.measurements.first().map(measurement_row);
            v.href = v
                .single
                .as_ref()
                .map(|m| m.href.clone())
                .unwrap_or_default();
            return v;
        }
        Evidence::Url {
            url,
            sha256,
            captured_at,
        } => {
            v.kind = "page";
            v.text = url.clone();
            v.href = words::safe_href(url).unwrap_or_default();
            v.detail = [
                captured_at.as_ref().map(|c| format!("captured {c}")),
                sha256.as_ref().map(|h| format!("SHA-256 {h}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ");
            return v;
        }
        Evidence::Capture { id, url } => {
            // The id was checked as 64 hex digits when the record was saved; a link is made
            // only for such an id, so nothing else reaches the path.
            v.kind = "capture";
            v.text = url.clone().unwrap_or_else(|| format!("capture {id}"));
            if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                v.href = format!("/capture/{id}");
            }
            v.detail = format!("archived capture, SHA-256 {id}");
            return v;
        }
        Evidence::Document { title, sha256 } => {
            v.kind = "document";
            v.text = title.clone();
            v.detail = sha256
                .as_ref()
                .map(|h| format!("SHA-256 {h}"))
                .unwrap_or_default();
            return v;
        }
        Evidence::Event { .. } => {
            v.kind = "event";
            r.event.as_ref().and_then(|(_, e)| event_filter(e))
        }
        Evidence::Query { query: q } => {
            v.kind = "query";
            filter_of(
                q.country.as_deref(),
                q.network.as_deref(),
                q.domain.as_deref(),
                q.since.as_deref(),
                q.until.as_deref(),
            )
        }
    };
    // Those that show what the record claims first, then the others, each oldest first.
    let mut listed: Vec<&Found> = r.measurements.iter().collect();
    listed.sort_by_key(|m| expected.is_none() || m.status != expected);
    v.measurements = listed
        .into_iter()
        .take(LISTED)
        .map(measurement_row)
        .collect();
    v.more = r.measurements.len().saturating_sub(LISTED);
    if let Some(f) = filter {
        let qs = f.to_query_string();
        v.search = format!("/search?{qs}");
        v.chart_page = format!("/chart?{qs}");
        if !r.measurements.is_empty() && *charts < CHARTS {
            *charts += 1;
            v.svg = chart_of(
                &r.measurements,
                &f,
                format!("Linked measurements by verdict ({})", r.measurements.len()),
            );
        }
    }
    v
}

/// What the page needs from the stores.
struct Got {
    shown: interfero_register::Shown,
    related: Vec<RelatedView>,
    history: Vec<HistoryRow>,
}

/// `GET /incident/{id}`.
pub(crate) async fn page(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let audience = app.opts.register.audience(&headers);
    let not_found = || {
        private(
            page_error(
                StatusCode::NOT_FOUND,
                "No incident with this id is published here.",
            ),
            audience,
        )
    };
    if !interfero_register::validate::valid_id(&id) {
        return not_found();
    }
    let got = with_register(&app, move |store, incidents| {
        let Some(i) = incidents.incident(&id, audience)? else {
            return Ok(None);
        };
        let shown = interfero_register::show(&i, &StoreSource::new(store))?;
        let mut related = Vec::new();
        for r in &i.related {
            match incidents.incident(&r.incident, audience)? {
                Some(o) => related.push(RelatedView {
                    words: words::relation(r.rel),
                    href: format!("/incident/{}", o.id),
                    title: o.title,
                }),
                // Never name a record the reader may not see.
                None => related.push(RelatedView {
                    words: words::relation(r.rel),
                    href: String::new(),
                    title: "a record that is not public".into(),
                }),
            }
        }
        let all = incidents.incidents(&IncidentFilter {
            audience,
            ..Default::default()
        })?;
        for o in &all {
            for r in o.related.iter().filter(|r| r.incident == i.id) {
                related.push(RelatedView {
                    words: words::relation_back(r.rel),
                    href: format!("/incident/{}", o.id),
                    title: o.title.clone(),
                });
            }
        }
        let history = incidents
            .incident_history(&i.id)?
            .into_iter()
            .map(|h| HistoryRow {
                revision: h.revision,
                at: h.at,
                // Who changed a record is the operators' business, not the public's.
                by: if audience == Audience::Operator {
                    h.by
                } else {
                    String::new()
                },
                action: h.action,
            })
            .collect();
        Ok(Some(Got {
            shown,
            related,
            history,
        }))
    })
    .await;
    let got = match got {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(),
        Err(f) => return private(failure_page(f), audience),
    };
    private(render(&view(got, &app, audience)), audience)
}

fn view(got: Got, app: &App, audience: Audience) -> RecordPage {
    let Got {
        shown,
        related,
        history,
    } = got;
    let i = shown.incident.clone();
    let c = interfero_register::codes::of(&i);
    let codes = [
        ("Mapping Media Freedom", c.mapmf),
        ("ACLED", c.acled),
        ("STOP", c.stop),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
    .collect::<Vec<_>>()
    .join(" · ");
    let targets = i
        .targets
        .iter()
        .map(|t| {
            let url = t.url.clone().unwrap_or_default();
            TargetView {
                text: words::target(t),
                domain: t.domain.clone().unwrap_or_default(),
                href: words::safe_href(&url).unwrap_or_default(),
                url,
            }
        })
        .collect();
    let mut scope = Vec::new();
    if let Some(n) = &i.network_scope {
        let plain = |v: &str| (v.to_string(), String::new());
        if !n.asns.is_empty() {
            scope.push((
                "Networks".to_string(),
                n.asns
                    .iter()
                    .map(|a| (networks::label(a), format!("/network/{a}")))
                    .collect(),
            ));
        }
        if let Some(t) = n.network_type {
            scope.push(("Network type".into(), vec![plain(t.as_str())]));
        }
        if let Some(e) = n.extent {
            let w = match e {
                interfero_model::incident::Extent::Full => "full: the whole network cut",
                interfero_model::incident::Extent::Service => "service: some sites or services",
                interfero_model::incident::Extent::Throttle => "throttle: slowed, not cut",
            };
            scope.push(("Extent".into(), vec![plain(w)]));
        }
        if !n.domains.is_empty() {
            scope.push((
                "Domains".into(),
                n.domains
                    .iter()
                    .map(|d| (d.clone(), format!("/domain/{d}")))
                    .collect(),
            ));
        }
        if !n.services.is_empty() {
            scope.push((
                "Services".into(),
                n.services
                    .iter()
                    .map(|s| plain(&s.replace('_', " ")))
                    .collect(),
            ));
        }
    }
    let position = i
        .official_position
        .as_ref()
        .map(|p| {
            let mut t = words::stance(p.stance).to_string();
            if let Some(j) = &p.justification {
                t.push_str(&format!(": {j}"));
            }
            if let Some(s) = &p.source {
                t.push_str(&format!(" ({s})"));
            }
            t
        })
        .unwrap_or_default();
    let mut charts = 0;
    let evidence = shown
        .evidence
        .iter()
        .map(|r| {
            let expected = interfero_register::evidence::expected_status(i.kind);
            evidence_view(r, expected, &mut charts)
        })
        .collect();
    let sources = i
        .sources
        .iter()
        .map(|s| {
            let mut text = s.publisher.clone();
            if let Some(t) = &s.title {
                text.push_str(&format!(", “{t}”"));
            }
            if let Some(p) = &s.published {
                text.push_str(&format!(", {}", words::date(p)));
            }
            if !s.citing.is_empty() {
                text.push_str(&format!(" (citing {})", s.citing.join(", ")));
            }
            let url = s.url.clone().unwrap_or_default();
            SourceView {
                text,
                href: words::safe_href(&url).unwrap_or_default(),
                url,
            }
        })
        .collect();
    RecordPage {
        title: i.title.clone(),
        operator: audience == Audience::Operator,
        editable: app.opts.register.editable(),
        not_public: if i.is_public() {
            String::new()
        } else {
            format!(
                "{}, {}: only the operator sees this record",
                words::status(i.status),
                i.visibility.as_str()
            )
        },
        kind: words::kind(i.kind),
        family: match i.kind.family() {
            interfero_model::incident::Family::Violence => "violence and harassment",
            interfero_model::incident::Family::Legal => "legal pressure",
            interfero_model::incident::Family::Censorship => "censorship or content restrictions",
            interfero_model::incident::Family::Internet => "internet freedom",
            interfero_model::incident::Family::Other => "other restrictions",
        },
        codes,
        when: words::when(&i),
        place: words::place(&i),
        country_href: format!("/country/{}", i.place.country),
        targets,
        actors: i.actors.iter().map(words::actor).collect(),
        scope,
        context: i.context.join(", ").replace('_', " "),
        related,
        outcome: i
            .outcome
            .as_ref()
            .map(|o| {
                if o.text.is_empty() {
                    words::outcome(o.result).to_string()
                } else {
                    format!("{}: {}", words::outcome(o.result), o.text)
                }
            })
            .unwrap_or_default(),
        position,
        denied: i
            .official_position
            .as_ref()
            .is_some_and(|p| p.stance == Stance::Denied),
        status: format!("{}, {}", words::status(i.status), i.visibility.as_str()),
        check: shown.check.sentence(),
        disagrees: shown.check.disagrees(),
        claims: i.kind.claims_interference(),
        evidence,
        missing: shown.missing.clone(),
        sources,
        history,
        i,
    }
}
