//! From the measurements to the record: a draft incident made from an event (`block_started`,
//! `shutdown_started`, `coordinated`), pre-filled with its dates, networks and evidence. A
//! person then adds what measurements cannot know (who ordered it, what officials said) and
//! publishes it.

use crate::evidence::{event_measurements, event_window, host_of, EvidenceSource, Found};
use crate::RegisterError;
use interfero_model::incident::{
    Evidence, EvidenceQuery, Extent, Incident, Kind, NetworkScope, PartialDate, Place,
    RecordStatus, Target, TargetKind, Visibility,
};
use interfero_model::Technique;
use interfero_store::{Event, EventKind};
use std::collections::BTreeMap;

/// At most this many measurements are linked one by one; the query entry covers all of them.
pub const MAX_LINKED: usize = 50;

fn date(time: &str) -> Option<PartialDate> {
    time.get(..10).and_then(PartialDate::parse)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut n = BTreeMap::<&str, usize>::new();
    for v in values {
        *n.entry(v).or_insert(0) += 1;
    }
    n.into_iter()
        .max_by_key(|(_, c)| *c)
        .map(|(v, _)| v.to_string())
}

/// A draft incident from the event with id `event_id`. Its measurements are those of the
/// event's target (every target, for a shutdown) between its start and its end that show the
/// interference. Unknown and unsupported events are errors.
pub fn from_event(source: &dyn EvidenceSource, event_id: i64) -> Result<Incident, RegisterError> {
    let events = source.events()?;
    let (_, event) = events
        .iter()
        .find(|(id, _)| *id == event_id)
        .ok_or_else(|| {
            RegisterError::NotFound(format!(
                "event {event_id} is not in the database (events are recorded by `interfero \
                 watch` and `interfero correlate --record`)"
            ))
        })?;
    let kind = match (event.kind, event.technique) {
        (EventKind::ShutdownStarted, _) => Kind::Shutdown,
        (EventKind::BlockStarted | EventKind::Coordinated, Some(Technique::Throughput)) => {
            Kind::Throttling
        }
        (EventKind::BlockStarted | EventKind::Coordinated, _)
            if event.input.starts_with("service:") =>
        {
            Kind::ServiceBlock
        }
        (EventKind::BlockStarted | EventKind::Coordinated, _) => Kind::WebsiteBlock,
        (k, _) => {
            return Err(RegisterError::NotFound(format!(
                "event {event_id} is a {}: draft from the episode's start (block_started, \
                 shutdown_started) or a coordinated finding",
                k.as_str()
            )))
        }
    };
    let (since, until) = event_window(event);
    let all = source.query(&EvidenceQuery {
        since: since.map(str::to_string),
        until: until.map(str::to_string),
        ..Default::default()
    })?;
    let ms: Vec<Found> = event_measurements(&all, event);
    if since.is_none() {
        // A lab event (scenario clock): the episode is dated by its measurements.
        let (Some(first), Some(last)) = (ms.first(), ms.last()) else {
            return Err(RegisterError::NotFound(format!(
                "event {event_id} is dated {} (not UTC) and no stored measurement of its target                  shows it: there is nothing to date the draft by",
                event.started
            )));
        };
        let mut dated = event.clone();
        dated.started = first.time.clone();
        dated.ended = event.ended.as_ref().map(|_| last.time.clone());
        let mut d = build(event_id, &dated, kind, &ms);
        d.summary.push_str(&format!(
            " The event is dated on the lab's scenario clock ({}{}); the dates are its \
             measurements'.",
            event.started,
            event
                .ended
                .as_deref()
                .map(|e| format!(" to {e}"))
                .unwrap_or_default()
        ));
        return Ok(d);
    }
    Ok(build(event_id, event, kind, &ms))
}

fn build(event_id: i64, event: &Event, kind: Kind, ms: &[Found]) -> Incident {
    let domain = host_of(&event.input);
    let service = event.input.strip_prefix("service:").map(str::to_string);
    let what = service
        .clone()
        .or_else(|| domain.clone())
        .unwrap_or_else(|| kind.as_str().into());
    let country = Some(event.probe_cc.clone())
        .filter(|c| c.len() == 2 && c != "ZZ")
        .or_else(|| most_common(ms.iter().map(|f| f.country.as_str())))
        .filter(|c| c.len() == 2)
        .unwrap_or_else(|| "ZZ".into());
    let mut asns: Vec<String> = ms
        .iter()
        .map(|f| f.network.clone())
        .chain(Some(event.probe_asn.clone()))
        .filter(|n| !n.is_empty() && n != "AS0")
        .collect();
    asns.sort();
    asns.dedup();
    let start = date(&event.started).unwrap_or(PartialDate {
        year: 1970,
        month: None,
        day: None,
    });
    let end = event.ended.as_deref().and_then(date);
    let technique = event
        .technique
        .map(|t| t.as_str())
        .unwrap_or("no technique named");
    let title = match kind {
        Kind::Shutdown if asns.is_empty() => "Shutdown seen from the vantage point".into(),
        Kind::Shutdown => format!("Shutdown seen from {}", asns.join(", ")),
        Kind::Throttling => format!("Throttling of {what}"),
        _ => format!("Block of {what} ({technique})"),
    };
    let mut evidence = vec![Evidence::Event { id: event_id }];
    evidence.extend(ms.iter().take(MAX_LINKED).map(|f| Evidence::Measurement {
        id: Some(f.id),
        uid: f.uid.clone(),
    }));
    if !ms.is_empty() {
        evidence.push(Evidence::Query {
            query: EvidenceQuery {
                country: Some(country.clone()).filter(|c| c != "ZZ"),
                network: Some(event.probe_asn.clone()).filter(|a| !a.is_empty() && a != "AS0"),
                domain: domain
                    .clone()
                    .or_else(|| Some(event.input.clone()).filter(|i| !i.is_empty())),
                since: Some(event.started.clone()),
                until: event.ended.clone(),
            },
        });
    }
    // A shutdown query with no country and no domain would select everything: leave it out.
    evidence.retain(|e| match e {
        Evidence::Query { query } => {
            query.country.is_some() || query.domain.is_some() || query.network.is_some()
        }
        _ => true,
    });
    let targets = match (&service, &domain) {
        (Some(s), _) => vec![Target {
            kind: TargetKind::Service,
            name: Some(s.clone()),
            role: None,
            count: None,
            domain: None,
            url: None,
        }],
        (None, Some(d)) => vec![Target {
            kind: TargetKind::Website,
            name: None,
            role: None,
            count: None,
            domain: Some(d.clone()),
            url: Some(event.input.clone()),
        }],
        _ => Vec::new(),
    };
    let mut summary = format!(
        "Drafted from event {event_id} ({}), {} measurement(s) showing it.",
        event.kind.as_str(),
        ms.len()
    );
    for e in event.evidence.iter().take(3) {
        summary.push(' ');
        summary.push_str(e);
    }
    Incident {
        id: slug(&format!("{}-{}-{what}", country.to_lowercase(), start)),
        title,
        summary,
        kind,
        codes: Default::default(),
        start,
        end,
        ongoing: end.is_none(),
        place: Place {
            country,
            admin1: None,
            locality: None,
        },
        targets,
        actors: Vec::new(),
        network_scope: Some(NetworkScope {
            asns,
            network_type: None,
            extent: Some(match kind {
                Kind::Shutdown => Extent::Full,
                Kind::Throttling => Extent::Throttle,
                _ => Extent::Service,
            }),
            domains: domain.into_iter().collect(),
            services: service.into_iter().collect(),
        }),
        context: if event.kind == EventKind::Coordinated {
            vec!["coordinated".into()]
        } else {
            Vec::new()
        },
        related: Vec::new(),
        outcome: None,
        official_position: None,
        evidence,
        sources: Vec::new(),
        status: RecordStatus::Draft,
        visibility: Visibility::Restricted,
        audit: Default::default(),
    }
}
