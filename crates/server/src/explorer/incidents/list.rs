//! `GET /incidents`: the records the audience may see, newest first, 25 a page, with facets
//! (kind, country, status, outcome, year, network) whose values are links with their counts.
//! A facet counts over the records that match every other chosen facet, so its values say
//! how many a click on each would show.

use super::{failure_page, private, words};
use crate::explorer::{render, App};
use axum::extract::{Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use interfero_model::incident::{Incident, Kind, OutcomeKind, RecordStatus};
use interfero_store::Audience;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Records per page.
pub const PAGE: usize = 25;

/// The list's parameters, as text (a bad value is a message, not a rejection).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListParams {
    /// A kind (`website_block`).
    pub kind: Option<String>,
    /// A country (`KZ`).
    pub country: Option<String>,
    /// A record status (`published`; operators see the others).
    pub status: Option<String>,
    /// An outcome (`complied`; `none` for records without one).
    pub outcome: Option<String>,
    /// A year the incident spans.
    pub year: Option<String>,
    /// A network of its scope (`AS9198`).
    pub network: Option<String>,
    /// The page, from 1.
    pub page: Option<String>,
}

/// The facets, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facet {
    /// What was done.
    Kind,
    /// Where.
    Country,
    /// Draft, review, published, retracted.
    Status,
    /// How it ended.
    Outcome,
    /// Which years it spans.
    Year,
    /// Which networks its scope names.
    Network,
}

impl Facet {
    const ALL: [Facet; 6] = [
        Facet::Kind,
        Facet::Country,
        Facet::Status,
        Facet::Outcome,
        Facet::Year,
        Facet::Network,
    ];

    fn param(self) -> &'static str {
        match self {
            Facet::Kind => "kind",
            Facet::Country => "country",
            Facet::Status => "status",
            Facet::Outcome => "outcome",
            Facet::Year => "year",
            Facet::Network => "network",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Facet::Kind => "Kind",
            Facet::Country => "Country",
            Facet::Status => "Status",
            Facet::Outcome => "Outcome",
            Facet::Year => "Year",
            Facet::Network => "Network",
        }
    }

    /// The values a record has for this facet (a record may span years and networks).
    pub fn values(self, i: &Incident) -> Vec<String> {
        match self {
            Facet::Kind => vec![i.kind.as_str().to_string()],
            Facet::Country => vec![i.place.country.clone()],
            Facet::Status => vec![i.status.as_str().to_string()],
            Facet::Outcome => vec![i
                .outcome
                .as_ref()
                .map(|o| o.result.as_str())
                .unwrap_or("none")
                .to_string()],
            Facet::Year => {
                let last = i.end.map(|e| e.year).unwrap_or(i.start.year);
                // Bounded: a record spanning centuries is counted in its first 50 years.
                (i.start.year..=last.max(i.start.year))
                    .take(50)
                    .map(|y| y.to_string())
                    .collect()
            }
            Facet::Network => i
                .network_scope
                .as_ref()
                .map(|n| n.asns.clone())
                .unwrap_or_default(),
        }
    }

    /// A value as its link reads.
    fn label(self, v: &str) -> String {
        match self {
            Facet::Kind => Kind::parse(v).map(words::kind).unwrap_or(v).to_string(),
            Facet::Status => RecordStatus::parse(v)
                .map(words::status)
                .unwrap_or(v)
                .to_string(),
            Facet::Outcome => match v {
                "none" => "not recorded".to_string(),
                _ => OutcomeKind::parse(v)
                    .map(words::outcome)
                    .unwrap_or(v)
                    .to_string(),
            },
            Facet::Network => crate::explorer::networks::label(v),
            Facet::Country => {
                let name = interfero_register::codes::country_name(v);
                if name == v {
                    v.to_string()
                } else {
                    format!("{name} ({v})")
                }
            }
            Facet::Year => v.to_string(),
        }
    }

    /// The order of the values: vocabulary order, newest year first, else by name.
    fn rank(self, v: &str) -> (usize, String) {
        let pos = |all: Vec<&str>| all.iter().position(|x| *x == v).unwrap_or(usize::MAX);
        match self {
            Facet::Kind => (
                pos(Kind::ALL.iter().map(|k| k.as_str()).collect()),
                v.into(),
            ),
            Facet::Status => (
                pos(RecordStatus::ALL.iter().map(|k| k.as_str()).collect()),
                v.into(),
            ),
            Facet::Outcome => (
                pos(OutcomeKind::ALL.iter().map(|k| k.as_str()).collect()),
                v.into(),
            ),
            Facet::Year => (usize::MAX - v.parse::<usize>().unwrap_or(0), v.into()),
            Facet::Country | Facet::Network => (0, v.into()),
        }
    }
}

/// The chosen value of each facet, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection(BTreeMap<&'static str, String>);

impl Selection {
    /// The chosen facets of `p`, or one line saying which value is wrong.
    pub fn of(p: &ListParams) -> Result<Selection, String> {
        let mut s = BTreeMap::new();
        let given = [
            (Facet::Kind, &p.kind),
            (Facet::Country, &p.country),
            (Facet::Status, &p.status),
            (Facet::Outcome, &p.outcome),
            (Facet::Year, &p.year),
            (Facet::Network, &p.network),
        ];
        for (f, v) in given {
            let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            if v.len() > 100 {
                return Err(format!("{} is longer than 100 characters", f.param()));
            }
            let v = match f {
                Facet::Kind => Kind::parse(v)
                    .map(|k| k.as_str().to_string())
                    .ok_or_else(|| format!("kind {v:?} is not one of {}", Kind::names()))?,
                Facet::Status => RecordStatus::parse(v)
                    .map(|k| k.as_str().to_string())
                    .ok_or_else(|| {
                        format!("status {v:?} is not one of {}", RecordStatus::names())
                    })?,
                Facet::Outcome if v == "none" => v.to_string(),
                Facet::Outcome => OutcomeKind::parse(v)
                    .map(|k| k.as_str().to_string())
                    .ok_or_else(|| {
                        format!("outcome {v:?} is not one of {}, none", OutcomeKind::names())
                    })?,
                Facet::Country => {
                    if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_alphabetic()) {
                        return Err(format!("country {v:?} is not a two-letter code such as KZ"));
                    }
                    v.to_ascii_uppercase()
                }
                Facet::Year => {
                    if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("year {v:?} is not a year such as 2021"));
                    }
                    v.to_string()
                }
                Facet::Network => crate::explorer::params::normalise_asn(v)
                    .ok_or_else(|| format!("network {v:?} is not an AS number such as AS9198"))?,
            };
            s.insert(f.param(), v);
        }
        Ok(Selection(s))
    }

    /// Whether a record passes every chosen facet but `skip`.
    pub fn passes(&self, i: &Incident, skip: Option<Facet>) -> bool {
        Facet::ALL
            .iter()
            .filter(|f| Some(**f) != skip)
            .all(|f| match self.0.get(f.param()) {
                None => true,
                Some(want) => f.values(i).iter().any(|v| v == want),
            })
    }

    /// The selection with `facet` set to `value` (or cleared with `None`), as a link.
    fn href(&self, facet: Facet, value: Option<&str>, page: usize) -> String {
        let mut s = self.0.clone();
        match value {
            Some(v) => {
                s.insert(facet.param(), v.to_string());
            }
            None => {
                s.remove(facet.param());
            }
        }
        Selection(s).link(page)
    }

    /// `/incidents?...` for this selection and page.
    fn link(&self, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for f in Facet::ALL {
            if let Some(v) = self.0.get(f.param()) {
                q.append_pair(f.param(), v);
            }
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            "/incidents".into()
        } else {
            format!("/incidents?{q}")
        }
    }

    /// The API's query string for the same selection.
    fn api_link(&self) -> String {
        let l = self.link(1);
        l.replacen("/incidents", "/api/v1/incidents", 1)
    }
}

/// One value of a facet, as a link.
pub(crate) struct FacetValue {
    label: String,
    count: usize,
    href: String,
    selected: bool,
    value: String,
}

/// One facet and its values.
pub(crate) struct FacetView {
    title: &'static str,
    param: &'static str,
    values: Vec<FacetValue>,
    /// The link clearing it, when a value is chosen.
    clear: String,
}

/// The facets over `records` for `sel`.
fn facets(records: &[Incident], sel: &Selection) -> Vec<FacetView> {
    Facet::ALL
        .iter()
        .map(|&f| {
            let mut counts = BTreeMap::<String, usize>::new();
            for i in records.iter().filter(|i| sel.passes(i, Some(f))) {
                let mut vs = f.values(i);
                vs.dedup();
                for v in vs {
                    *counts.entry(v).or_insert(0) += 1;
                }
            }
            let chosen = sel.0.get(f.param());
            let mut values: Vec<FacetValue> = counts
                .into_iter()
                .map(|(v, count)| FacetValue {
                    label: f.label(&v),
                    count,
                    href: sel.href(f, Some(&v), 1),
                    selected: chosen == Some(&v),
                    value: v,
                })
                .collect();
            values.sort_by_key(|fv| f.rank(&fv.value));
            FacetView {
                title: f.title(),
                param: f.param(),
                values,
                clear: if chosen.is_some() {
                    sel.href(f, None, 1)
                } else {
                    String::new()
                },
            }
        })
        .filter(|fv| !fv.values.is_empty())
        .collect()
}

/// One record in the list.
pub(crate) struct Row {
    href: String,
    title: String,
    when: String,
    kind: &'static str,
    kind_code: &'static str,
    place: String,
    outcome: String,
    denied: bool,
    badge: String,
    evidence: String,
}

fn row(i: &Incident) -> Row {
    let measured = i
        .evidence
        .iter()
        .filter(|e| {
            !matches!(
                e,
                interfero_model::incident::Evidence::Url { .. }
                    | interfero_model::incident::Evidence::Document { .. }
            )
        })
        .count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut evidence = Vec::new();
    if measured > 0 {
        evidence.push(plural(
            measured,
            "link to measurements",
            "links to measurements",
        ));
    }
    if i.evidence.len() > measured {
        evidence.push(plural(
            i.evidence.len() - measured,
            "page or document",
            "pages or documents",
        ));
    }
    evidence.push(plural(i.sources.len(), "source", "sources"));
    Row {
        href: format!("/incident/{}", i.id),
        title: i.title.clone(),
        when: words::when_short(i),
        kind: words::kind(i.kind),
        kind_code: i.kind.as_str(),
        place: words::place(i),
        outcome: i
            .outcome
            .as_ref()
            .map(|o| words::outcome(o.result).to_string())
            .unwrap_or_default(),
        denied: i
            .official_position
            .as_ref()
            .is_some_and(|p| p.stance == interfero_model::incident::Stance::Denied),
        badge: if i.is_public() {
            String::new()
        } else {
            format!("{} · {}", i.status.as_str(), i.visibility.as_str())
        },
        evidence: evidence.join(" · "),
    }
}

#[derive(askama::Template)]
#[template(path = "incidents.html")]
struct ListPage {
    title: String,
    error: String,
    operator: bool,
    editable: bool,
    total: usize,
    shown_from: usize,
    shown_to: usize,
    facets: Vec<FacetView>,
    rows: Vec<Row>,
    prev: String,
    next: String,
    api: String,
}

/// The records of `audience` that pass `sel`, newest first.
pub fn select(records: Vec<Incident>, sel: &Selection) -> Vec<Incident> {
    let mut out: Vec<Incident> = records
        .into_iter()
        .filter(|i| sel.passes(i, None))
        .collect();
    out.sort_by(|a, b| {
        b.start
            .first_day()
            .cmp(&a.start.first_day())
            .then(a.id.cmp(&b.id))
    });
    out
}

/// `GET /incidents?kind=&country=&status=&outcome=&year=&network=&page=`.
pub(crate) async fn page(
    State(app): State<App>,
    headers: HeaderMap,
    UrlQuery(p): UrlQuery<ListParams>,
) -> Response {
    let audience = app.opts.register.audience(&headers);
    let mut page = ListPage {
        title: "Incidents".into(),
        error: String::new(),
        operator: audience == Audience::Operator,
        editable: app.opts.register.editable(),
        total: 0,
        shown_from: 0,
        shown_to: 0,
        facets: Vec::new(),
        rows: Vec::new(),
        prev: String::new(),
        next: String::new(),
        api: "/api/v1/incidents".into(),
    };
    let number = p
        .page
        .as_deref()
        .map(|n| n.trim().parse::<usize>().map_err(|_| n.to_string()));
    let sel = match (Selection::of(&p), number) {
        (Err(e), _) => Err(e),
        (_, Some(Err(n))) => Err(format!("page {n:?} is not a page number such as 2")),
        (Ok(s), n) => Ok((s, n.and_then(Result::ok).unwrap_or(1).max(1))),
    };
    let (sel, number) = match sel {
        Ok(v) => v,
        Err(e) => {
            page.error = e;
            let mut r = render(&page);
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return private(r, audience);
        }
    };
    let all = match super::visible(&app, audience).await {
        Ok(v) => v,
        Err(f) => return private(failure_page(f), audience),
    };
    page.facets = facets(&all, &sel);
    let chosen = select(all, &sel);
    page.total = chosen.len();
    let pages = chosen.len().div_ceil(PAGE).max(1);
    let number = number.min(pages);
    let from = (number - 1) * PAGE;
    page.rows = chosen.iter().skip(from).take(PAGE).map(row).collect();
    page.shown_from = if page.rows.is_empty() { 0 } else { from + 1 };
    page.shown_to = from + page.rows.len();
    if number > 1 {
        page.prev = sel.link(number - 1);
    }
    if number < pages {
        page.next = sel.link(number + 1);
    }
    page.api = sel.api_link();
    private(render(&page), audience)
}
