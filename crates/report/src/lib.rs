//! The country report: a document in the shape of the seed report's section on freedom of
//! expression and internet freedom, made from the incident register and the measurements.
//! Statistics per kind and per month with SVG charts drawn here, every incident with its
//! evidence (checked against the verdicts), and the measurement summary of the period.
//! HTML from askama templates (every text escaped); PDF by printing that HTML with headless
//! Chromium ([`pdf`]).

pub mod chart;
pub mod pages;
pub mod pdf;
pub mod summary;
mod view;

use askama::Template;
use interfero_model::incident::{Family, Kind};
use interfero_register::evidence::StoreSource;
use interfero_register::RegisterError;
use interfero_store::{Audience, IncidentFilter, IncidentStore, MeasurementStore, StoreError};
pub use view::{IncidentView, Section};

/// What to report on.
#[derive(Debug, Clone)]
pub struct Params {
    /// ISO alpha-2 country code.
    pub country: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// Who the report is for: the public (published, public records only) or the operator
    /// (drafts and restricted records too, marked as such).
    pub audience: Audience,
    /// Base URL of an explorer serving the measurements (links from the evidence), if any.
    pub explorer: Option<String>,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter is wrong.
    #[error("{0}")]
    Params(String),
    /// The register failed.
    #[error("{0}")]
    Register(#[from] RegisterError),
    /// The measurement store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The register's storage failed.
    #[error("{0}")]
    Incidents(#[from] interfero_store::IncidentStoreError),
    /// The template failed.
    #[error("cannot render the report: {0}")]
    Render(#[from] askama::Error),
    /// Making the PDF failed.
    #[error("{0}")]
    Pdf(String),
}

/// The colours of the kinds' families (also the charts' legend).
pub fn family_color(f: Family) -> &'static str {
    match f {
        Family::Violence => "#b2182b",
        Family::Legal => "#ef8a62",
        Family::Censorship => "#7b3294",
        Family::Internet => "#2166ac",
        Family::Other => "#878787",
    }
}

/// The heading of a family's section, as the seed report words it.
pub fn family_title(f: Family) -> &'static str {
    match f {
        Family::Violence => "Violence and Harassment",
        Family::Legal => "Legal Pressure, Libel and Slander Laws",
        Family::Censorship => "Censorship or Content Restrictions",
        Family::Internet => "Internet Freedom",
        Family::Other => "Other Restrictions",
    }
}

/// A kind in words.
pub fn kind_label(k: Kind) -> &'static str {
    match k {
        Kind::PhysicalAttack => "Physical attack",
        Kind::Detention => "Arrest or detention",
        Kind::ThreatHarassment => "Threat or harassment",
        Kind::Obstruction => "Obstruction of reporting",
        Kind::LegalAction => "Legal action",
        Kind::RemovalDemand => "Demand to remove content",
        Kind::ContentRemoved => "Content removed",
        Kind::WebsiteBlock => "Website blocked",
        Kind::ServiceBlock => "Service blocked",
        Kind::Throttling => "Throttling",
        Kind::Shutdown => "Shutdown",
        Kind::Other => "Other",
    }
}

/// One line of the statistics table.
#[derive(Debug, Clone)]
pub struct KindStat {
    /// The kind in words.
    pub label: String,
    /// Its code.
    pub code: String,
    /// Incidents of that kind.
    pub count: usize,
    /// Of which proven by linked measurements.
    pub measured: usize,
}

/// The whole document.
#[derive(Template)]
#[template(path = "report.html", escape = "html")]
pub struct Report {
    /// The title.
    pub title: String,
    /// The parameters.
    pub params: Params,
    /// The country's name.
    pub country_name: String,
    /// The period in words.
    pub period: String,
    /// Incidents in all.
    pub incident_count: usize,
    /// Incidents whose evidence disagrees with their claim.
    pub disagreements: usize,
    /// Per kind.
    pub kinds: Vec<KindStat>,
    /// The per-month chart (SVG markup, escaped by its own template).
    pub month_chart: String,
    /// The per-kind chart.
    pub kind_chart: String,
    /// The measurement chart.
    pub measurement_chart: String,
    /// Incidents dated only to the year (not in the month chart).
    pub year_only: usize,
    /// Incidents that began before the period (not in the month chart).
    pub before_period: usize,
    /// The sections, in the seed's order.
    pub sections: Vec<Section>,
    /// The measurement summary.
    pub summary: summary::Summary,
    /// Whether drafts are included (operator report).
    pub operator: bool,
    /// Whether this is a set of record pages (links between records go to files).
    pub pages: bool,
}

fn months(from: &str, to: &str) -> Vec<String> {
    let (Some(fy), Some(fm), Some(ty), Some(tm)) = (
        from.get(0..4).and_then(|y| y.parse::<u32>().ok()),
        from.get(5..7).and_then(|m| m.parse::<u32>().ok()),
        to.get(0..4).and_then(|y| y.parse::<u32>().ok()),
        to.get(5..7).and_then(|m| m.parse::<u32>().ok()),
    ) else {
        return Vec::new();
    };
    let (mut y, mut m) = (fy, fm);
    let mut out = Vec::new();
    while (y, m) <= (ty, tm) && out.len() < 120 {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

fn month_label(ym: &str, many_years: bool) -> String {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = ym
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1);
    let name = NAMES[(m.clamp(1, 12)) - 1];
    if many_years {
        format!("{name} {}", ym.get(2..4).unwrap_or(""))
    } else {
        name.to_string()
    }
}

fn check_date(s: &str, what: &str) -> Result<(), ReportError> {
    let ok = s.len() == 10
        && interfero_model::incident::PartialDate::parse(s).is_some_and(|d| d.day.is_some());
    if ok {
        Ok(())
    } else {
        Err(ReportError::Params(format!(
            "--{what} {s:?}: write a day as YYYY-MM-DD"
        )))
    }
}

/// Gathers everything the report shows.
pub fn build<S: MeasurementStore + IncidentStore>(
    store: &S,
    params: &Params,
) -> Result<Report, ReportError> {
    check_date(&params.from, "from")?;
    check_date(&params.to, "to")?;
    if params.to < params.from {
        return Err(ReportError::Params(format!(
            "--to {} is before --from {}",
            params.to, params.from
        )));
    }
    let cc = params.country.to_ascii_uppercase();
    let incidents = store.incidents(&IncidentFilter {
        audience: params.audience,
        country: Some(cc.clone()),
        from: Some(params.from.clone()),
        to: Some(params.to.clone()),
        ..Default::default()
    })?;
    let source = StoreSource::new(store);
    let shown = incidents
        .iter()
        .map(|i| interfero_register::show(i, &source))
        .collect::<Result<Vec<_>, _>>()?;
    let from_t = format!("{} 00:00:00", params.from);
    let to_t = format!("{} 23:59:59", params.to);
    let mut ms = Vec::new();
    let query = interfero_store::Query {
        probe_cc: Some(cc.clone()),
        since: Some(from_t.clone()),
        // Exclusive in the store: after every time of the last day.
        until: Some(format!("{} 23:59:60", params.to)),
        ..Default::default()
    };
    store.scan(&query, interfero_store::Order::Oldest, &mut |s| {
        ms.push(s.measurement);
        std::ops::ControlFlow::Continue(())
    })?;
    let events: Vec<_> = store
        .query_events(&interfero_store::EventQuery {
            until: Some(format!("{} 23:59:60", params.to)),
            ..Default::default()
        })?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let summary = summary::summarise(&cc, &ms, &events, &from_t, &to_t, &summary::categories());
    let views: Vec<IncidentView> = shown
        .iter()
        .map(|s| view::incident(s, params.explorer.as_deref()))
        .collect();
    let sections = view::sections(views);
    let kinds: Vec<KindStat> = Kind::ALL
        .iter()
        .map(|&k| KindStat {
            label: kind_label(k).into(),
            code: k.as_str().into(),
            count: shown.iter().filter(|s| s.incident.kind == k).count(),
            measured: shown
                .iter()
                .filter(|s| s.incident.kind == k)
                .filter(|s| s.evidence.iter().any(|r| !r.measurements.is_empty()))
                .count(),
        })
        .filter(|k| k.count > 0)
        .collect();
    let month_list = months(&params.from, &params.to);
    let many_years = params.from.get(..4) != params.to.get(..4);
    let labels: Vec<String> = month_list
        .iter()
        .map(|m| month_label(m, many_years))
        .collect();
    let series: Vec<chart::Series> = Family::ALL
        .iter()
        .map(|&f| chart::Series {
            name: family_title(f).split(',').next().unwrap_or("").to_string(),
            color: family_color(f),
            values: month_list
                .iter()
                .map(|m| {
                    shown
                        .iter()
                        .filter(|s| s.incident.kind.family() == f)
                        .filter(|s| s.incident.start.month.is_some())
                        .filter(|s| s.incident.start.first_day().starts_with(m.as_str()))
                        .count() as u64
                })
                .collect(),
        })
        .filter(|s| s.values.iter().any(|v| *v > 0))
        .collect();
    let year_only = shown
        .iter()
        .filter(|s| s.incident.start.month.is_none())
        .count();
    let before_period = shown
        .iter()
        .filter(|s| s.incident.start.month.is_some())
        .filter(|s| s.incident.start.last_day() < params.from)
        .count();
    let month_chart =
        chart::columns("Incidents per month of their start", &labels, &series).render()?;
    let kind_items: Vec<(String, u64, &'static str)> = kinds
        .iter()
        .filter_map(|k| Kind::parse(&k.code).map(|kind| (k, kind)))
        .map(|(k, kind)| (k.label.clone(), k.count as u64, family_color(kind.family())))
        .collect();
    let kind_chart = chart::rows("Incidents per kind", &kind_items).render()?;
    let m_series = [
        (
            "interfered with (blocked, throttled, intercepted)",
            "#b2182b",
            0,
        ),
        ("accessible", "#4d9221", 1),
        ("other (down, offline, inconclusive)", "#bababa", 2),
    ]
    .iter()
    .map(|(name, color, i)| chart::Series {
        name: name.to_string(),
        color,
        values: month_list
            .iter()
            .map(|m| summary.per_month.get(m).map_or(0, |v| v[*i]))
            .collect(),
    })
    .collect::<Vec<_>>();
    let measurement_chart =
        chart::columns("Measurements per month", &labels, &m_series).render()?;
    let country_name = interfero_register::codes::country_name(&cc).to_string();
    Ok(Report {
        title: format!("{country_name}: Freedom of Expression and Internet Freedom"),
        country_name,
        period: format!(
            "{} to {}",
            view::day_words(&params.from),
            view::day_words(&params.to)
        ),
        incident_count: shown.len(),
        disagreements: shown.iter().filter(|s| s.check.disagrees()).count(),
        kinds,
        month_chart,
        kind_chart,
        measurement_chart,
        year_only,
        before_period,
        sections,
        summary,
        operator: params.audience == Audience::Operator,
        pages: false,
        params: params.clone(),
    })
}
