//! Records as the report and the record pages show them: sentences prepared here, escaped by
//! the templates. Links are only ever http(s) URLs or the report's own anchors.

use crate::{family_title, kind_label};
use interfero_model::incident::{Evidence, Family, Incident, PartialDate, Stance};
use interfero_register::{codes, evidence, Shown};

/// A partial date in words: `2 March 2021`, `March 2021`, `2021`.
pub fn date_words(d: &PartialDate) -> String {
    d.in_words()
}

/// `YYYY-MM-DD` in words.
pub fn day_words(s: &str) -> String {
    PartialDate::parse(s).map_or_else(|| s.to_string(), |d| date_words(&d))
}

/// `7915` as `7,915`.
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A link, when it is safe to make one.
#[derive(Debug, Clone)]
pub struct Link {
    /// The text.
    pub text: String,
    /// An http(s) URL or `#anchor`; `None` shows the text alone.
    pub href: Option<String>,
}

fn safe_href(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// One evidence entry as shown.
#[derive(Debug, Clone)]
pub struct EvidenceView {
    /// What it names.
    pub label: Link,
    /// The measurements it holds (at most 20 listed).
    pub measurements: Vec<Link>,
    /// How many more are not listed.
    pub more: usize,
}

/// One record as shown.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// Its id (the anchor).
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind in words.
    pub kind: String,
    /// When, in words.
    pub when: String,
    /// Where, in words.
    pub place: String,
    /// The summary.
    pub summary: String,
    /// Targets, one phrase each.
    pub targets: Vec<String>,
    /// Actors, one phrase each.
    pub actors: Vec<String>,
    /// Networks and domains.
    pub scope: Option<String>,
    /// The outcome.
    pub outcome: Option<String>,
    /// The official position.
    pub position: Option<String>,
    /// Whether officials denied it (highlighted).
    pub denied: bool,
    /// Related records (anchors).
    pub related: Vec<Link>,
    /// Evidence looked up.
    pub evidence: Vec<EvidenceView>,
    /// Entries that no longer resolve.
    pub missing: Vec<String>,
    /// What the measurements say about the claim.
    pub check: String,
    /// Whether they disagree with it (a warning).
    pub disagrees: bool,
    /// Whether to show the evidence at all (not for an assault with no evidence entry).
    pub show_evidence: bool,
    /// Sources.
    pub sources: Vec<Link>,
    /// Codes in other registers.
    pub codes: String,
    /// `draft`, `restricted` ... when not published and public.
    pub badge: Option<String>,
    /// Context tags.
    pub context: String,
    /// The family (section).
    pub family: Family,
    /// The linked measurements per day (or month) by verdict, as SVG, when there are any.
    pub chart: Option<String>,
    /// Start date, for sorting and facets (`YYYY-MM-DD`).
    pub start: String,
    /// Kind code, for facets.
    pub kind_code: String,
}

/// A section of the report: one family of kinds.
#[derive(Debug, Clone)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Its anchor.
    pub anchor: String,
    /// Its records, by date.
    pub incidents: Vec<IncidentView>,
}

fn measurement_link(f: &evidence::Found, explorer: Option<&str>) -> Link {
    Link {
        text: evidence::describe_measurement(f),
        // The explorer's page of a measurement is `/m/{uid}`; one without a uid has none.
        href: explorer
            .zip(f.uid.as_deref())
            .map(|(base, uid)| format!("{}/m/{uid}", base.trim_end_matches('/')))
            .and_then(|u| safe_href(&u)),
    }
}

/// Prepares a shown record.
pub fn incident(s: &Shown, explorer: Option<&str>) -> IncidentView {
    let i: &Incident = &s.incident;
    let when = match i.end {
        Some(e) if e != i.start => format!("{} – {}", date_words(&i.start), date_words(&e)),
        _ if i.ongoing => format!("from {}, ongoing", date_words(&i.start)),
        _ => date_words(&i.start),
    };
    let place = [
        i.place.locality.clone(),
        i.place.admin1.clone(),
        Some(codes::country_name(&i.place.country).to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let targets = i
        .targets
        .iter()
        .map(|t| {
            let mut p = t
                .name
                .clone()
                .unwrap_or_else(|| t.kind.as_str().replace('_', " "));
            if let Some(n) = t.count {
                p = format!("{} {p}", thousands(n));
            }
            if let Some(r) = &t.role {
                p.push_str(&format!(" ({})", r.replace('_', " ")));
            }
            if let Some(d) = &t.domain {
                p.push_str(&format!(" — {d}"));
            }
            p
        })
        .collect();
    let actors = i
        .actors
        .iter()
        .map(|a| {
            let who = a
                .name
                .clone()
                .unwrap_or_else(|| a.kind.as_str().replace('_', " "));
            format!("{who}: {}", a.part.as_str().replace('_', " "))
        })
        .collect();
    let scope = i.network_scope.as_ref().and_then(|n| {
        let mut parts = Vec::new();
        if let Some(t) = n.network_type {
            parts.push(format!("{} networks", t.as_str()));
        }
        if let Some(e) = n.extent {
            parts.push(format!("extent: {}", e.as_str()));
        }
        if !n.asns.is_empty() {
            parts.push(n.asns.join(", "));
        }
        if !n.domains.is_empty() {
            parts.push(format!("domains: {}", n.domains.join(", ")));
        }
        if !n.services.is_empty() {
            parts.push(format!("services: {}", n.services.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    });
    let outcome = i.outcome.as_ref().map(|o| {
        let r = o.result.as_str().replace('_', " ");
        if o.text.is_empty() {
            r
        } else {
            format!("{r} — {}", o.text)
        }
    });
    let position = i.official_position.as_ref().map(|p| {
        let mut t = p.stance.as_str().replace('_', " ");
        if let Some(j) = &p.justification {
            t.push_str(&format!(": {j}"));
        }
        if let Some(src) = &p.source {
            t.push_str(&format!(" ({src})"));
        }
        t
    });
    let evidence = s
        .evidence
        .iter()
        .map(|r| {
            let href = match &r.evidence {
                Evidence::Url { url, .. } => safe_href(url),
                _ => None,
            };
            EvidenceView {
                label: Link {
                    text: r.label.clone(),
                    href,
                },
                // A measurement entry's label already says it all.
                measurements: r
                    .measurements
                    .iter()
                    .filter(|_| !matches!(r.evidence, Evidence::Measurement { .. }))
                    .take(20)
                    .map(|f| measurement_link(f, explorer))
                    .collect(),
                more: r.measurements.len().saturating_sub(20),
            }
        })
        .collect();
    let sources = i
        .sources
        .iter()
        .map(|src| {
            let mut text = src.publisher.clone();
            if let Some(t) = &src.title {
                text.push_str(&format!(", “{t}”"));
            }
            if let Some(p) = &src.published {
                text.push_str(&format!(", {}", date_words(p)));
            }
            if !src.citing.is_empty() {
                text.push_str(&format!(" (citing {})", src.citing.join(", ")));
            }
            Link {
                text,
                href: src.url.as_deref().and_then(safe_href),
            }
        })
        .collect();
    let c = codes::of(i);
    let codes = [("MapMF", c.mapmf), ("ACLED", c.acled), ("STOP", c.stop)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
        .collect::<Vec<_>>()
        .join(" · ");
    IncidentView {
        id: i.id.clone(),
        title: i.title.clone(),
        kind: kind_label(i.kind).into(),
        when,
        place,
        summary: i.summary.clone(),
        targets,
        actors,
        scope,
        outcome,
        position,
        denied: i
            .official_position
            .as_ref()
            .is_some_and(|p| p.stance == Stance::Denied),
        related: i
            .related
            .iter()
            .map(|r| Link {
                text: format!("{} {}", r.rel.as_str().replace('_', " "), r.incident),
                href: Some(format!("#{}", r.incident)),
            })
            .collect(),
        evidence,
        missing: s.missing.clone(),
        check: s.check.sentence(),
        disagrees: s.check.disagrees(),
        show_evidence: i.kind.claims_interference() || !i.evidence.is_empty(),
        sources,
        codes,
        badge: (!i.is_public())
            .then(|| format!("{} · {}", i.status.as_str(), i.visibility.as_str())),
        context: i.context.join(", ").replace('_', " "),
        family: i.kind.family(),
        chart: evidence_chart(s),
        start: i.start.first_day(),
        kind_code: i.kind.as_str().into(),
    }
}

/// The record's linked measurements (each once) per day, or per month over more than 62 days,
/// by what their verdicts say.
fn evidence_chart(s: &Shown) -> Option<String> {
    use askama::Template;
    use interfero_model::Status;
    use std::collections::BTreeMap;
    let mut seen = BTreeMap::new();
    for r in &s.evidence {
        for f in &r.measurements {
            seen.insert(f.id, f);
        }
    }
    if seen.is_empty() {
        return None;
    }
    let days: std::collections::BTreeSet<&str> =
        seen.values().filter_map(|f| f.time.get(..10)).collect();
    let width = if days.len() > 62 { 7 } else { 10 };
    let mut slots = BTreeMap::<String, [u64; 3]>::new();
    for f in seen.values() {
        let key = f.time.get(..width).unwrap_or(&f.time).to_string();
        let slot = match f.status {
            Some(Status::Blocked | Status::Throttled | Status::Intercepted | Status::Offline) => 0,
            Some(Status::Accessible) => 1,
            _ => 2,
        };
        slots.entry(key).or_insert([0; 3])[slot] += 1;
    }
    let labels: Vec<String> = slots
        .keys()
        .map(|k| k.get(5..).unwrap_or(k).to_string())
        .collect();
    let series = [
        ("interfered with or offline", "#b2182b", 0),
        ("accessible", "#4d9221", 1),
        ("other", "#bababa", 2),
    ]
    .iter()
    .map(|(name, color, i)| crate::chart::Series {
        name: name.to_string(),
        color,
        values: slots.values().map(|v| v[*i]).collect(),
    })
    .collect::<Vec<_>>();
    crate::chart::columns("Linked measurements by verdict", &labels, &series)
        .render()
        .ok()
}

/// The records grouped in the seed's order of sections; empty sections are left out.
pub fn sections(views: Vec<IncidentView>) -> Vec<Section> {
    Family::ALL
        .iter()
        .map(|&f| Section {
            title: family_title(f).into(),
            anchor: format!("section-{}", f.as_str()),
            incidents: views.iter().filter(|v| v.family == f).cloned().collect(),
        })
        .filter(|s| !s.incidents.is_empty())
        .collect()
}
