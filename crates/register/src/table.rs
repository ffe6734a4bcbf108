//! Records as CSV, one row each, in and out (for spreadsheets and other registers), and the
//! STOP-compatible export of shutdowns (Access Now #KeepItOn's 36 columns).
//!
//! Lists of words (`asns`, `domains`, `services`, `context`) are `;`-separated; structured lists
//! (`targets`, `actors`, `related`, `evidence`, `sources`) are JSON arrays in their cell, so a
//! row round-trips exactly. A broken row is reported with its line and column.

use crate::codes;
use crate::evidence::compact;
use crate::files::Read;
use crate::RegisterError;
use interfero_model::incident::{
    Extent, Incident, Kind, NetworkScope, NetworkType, OfficialPosition, Outcome, OutcomeKind,
    PartialDate, Place, RecordStatus, Stance, Visibility,
};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The register's CSV columns, in order.
pub const COLUMNS: &[&str] = &[
    "id",
    "title",
    "summary",
    "kind",
    "start",
    "end",
    "ongoing",
    "country",
    "admin1",
    "locality",
    "targets",
    "actors",
    "asns",
    "network_type",
    "extent",
    "domains",
    "services",
    "context",
    "related",
    "outcome",
    "outcome_text",
    "stance",
    "justification",
    "position_source",
    "evidence",
    "sources",
    "status",
    "visibility",
    "mapmf",
    "acled",
    "stop",
    "revision",
];

fn words(v: &[String]) -> String {
    v.join(";")
}

fn json<T: serde::Serialize>(v: &[T]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        serde_json::to_string(v).unwrap_or_default()
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// One record as a CSV row, in [`COLUMNS`] order.
pub fn row(i: &Incident) -> Vec<String> {
    let scope = i.network_scope.clone().unwrap_or_default();
    let pos = i.official_position.as_ref();
    vec![
        i.id.clone(),
        i.title.clone(),
        i.summary.clone(),
        i.kind.as_str().into(),
        i.start.to_string(),
        i.end.map(|e| e.to_string()).unwrap_or_default(),
        if i.ongoing {
            "true".into()
        } else {
            String::new()
        },
        i.place.country.clone(),
        opt(&i.place.admin1),
        opt(&i.place.locality),
        json(&i.targets),
        json(&i.actors),
        words(&scope.asns),
        scope
            .network_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        scope
            .extent
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        words(&scope.domains),
        words(&scope.services),
        words(&i.context),
        json(&i.related),
        i.outcome
            .as_ref()
            .map(|o| o.result.as_str().to_string())
            .unwrap_or_default(),
        i.outcome
            .as_ref()
            .map(|o| o.text.clone())
            .unwrap_or_default(),
        pos.map(|p| p.stance.as_str().to_string())
            .unwrap_or_default(),
        pos.and_then(|p| p.justification.clone())
            .unwrap_or_default(),
        pos.and_then(|p| p.source.clone()).unwrap_or_default(),
        json(&i.evidence),
        json(&i.sources),
        i.status.as_str().into(),
        i.visibility.as_str().into(),
        opt(&i.codes.mapmf),
        opt(&i.codes.acled),
        opt(&i.codes.stop),
        if i.audit.revision == 0 {
            String::new()
        } else {
            i.audit.revision.to_string()
        },
    ]
}

/// Writes records as CSV with a header row.
pub fn to_csv(records: &[Incident]) -> Result<String, RegisterError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| RegisterError::Write(e.to_string());
    w.write_record(COLUMNS).map_err(fail)?;
    for i in records {
        w.write_record(row(i)).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| RegisterError::Write(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| RegisterError::Write(e.to_string()))
}

struct Cells<'a> {
    file: &'a str,
    line: usize,
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Cells<'_> {
    fn get(&self, col: &str) -> &str {
        self.index
            .get(col)
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }

    fn opt(&self, col: &str) -> Option<String> {
        Some(self.get(col).to_string()).filter(|s| !s.is_empty())
    }

    fn fail(&self, col: &str, message: String) -> RegisterError {
        RegisterError::at(
            self.file,
            Some(self.line),
            format!("column {col}: {message}"),
        )
    }

    fn required(&self, col: &str) -> Result<String, RegisterError> {
        self.opt(col)
            .ok_or_else(|| self.fail(col, "is empty; it is required".into()))
    }

    fn vocab<T>(
        &self,
        col: &str,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Result<Option<T>, RegisterError> {
        match self.opt(col) {
            None => Ok(None),
            Some(v) => parse(&v).map(Some).ok_or_else(|| {
                self.fail(col, format!("unknown value {v:?}; use one of: {}", names()))
            }),
        }
    }

    fn date(&self, col: &str) -> Result<Option<PartialDate>, RegisterError> {
        match self.opt(col) {
            None => Ok(None),
            Some(v) => PartialDate::parse(&v).map(Some).ok_or_else(|| {
                self.fail(
                    col,
                    format!("invalid date {v:?}: write YYYY, YYYY-MM or YYYY-MM-DD"),
                )
            }),
        }
    }

    fn words(&self, col: &str) -> Vec<String> {
        self.get(col)
            .split(';')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn json<T: DeserializeOwned>(&self, col: &str) -> Result<Vec<T>, RegisterError> {
        match self.opt(col) {
            None => Ok(Vec::new()),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| self.fail(col, format!("not a JSON list of entries: {e}"))),
        }
    }
}

fn parse_row(c: &Cells<'_>) -> Result<Incident, RegisterError> {
    let kind = c
        .vocab("kind", Kind::parse, Kind::names)?
        .ok_or_else(|| c.fail("kind", "is empty; it is required".into()))?;
    let start = c
        .date("start")?
        .ok_or_else(|| c.fail("start", "is empty; it is required".into()))?;
    let network_type = c.vocab("network_type", NetworkType::parse, NetworkType::names)?;
    let extent = c.vocab("extent", Extent::parse, Extent::names)?;
    let scope = NetworkScope {
        asns: c.words("asns"),
        network_type,
        extent,
        domains: c.words("domains"),
        services: c.words("services"),
    };
    let outcome = c
        .vocab("outcome", OutcomeKind::parse, OutcomeKind::names)?
        .map(|result| Outcome {
            result,
            text: c.get("outcome_text").to_string(),
        });
    let official_position = c
        .vocab("stance", Stance::parse, Stance::names)?
        .map(|stance| OfficialPosition {
            stance,
            justification: c.opt("justification"),
            source: c.opt("position_source"),
        });
    let ongoing = match c.get("ongoing") {
        "" | "false" | "no" => false,
        "true" | "yes" => true,
        v => return Err(c.fail("ongoing", format!("{v:?}: write true or leave it empty"))),
    };
    let mut i = Incident {
        id: c.required("id")?,
        title: c.required("title")?,
        summary: c.get("summary").to_string(),
        kind,
        codes: interfero_model::incident::ExtCodes {
            mapmf: c.opt("mapmf"),
            acled: c.opt("acled"),
            stop: c.opt("stop"),
        },
        start,
        end: c.date("end")?,
        ongoing,
        place: Place {
            country: c.required("country")?,
            admin1: c.opt("admin1"),
            locality: c.opt("locality"),
        },
        targets: c.json("targets")?,
        actors: c.json("actors")?,
        network_scope: Some(scope).filter(|s| *s != NetworkScope::default()),
        context: c.words("context"),
        related: c.json("related")?,
        outcome,
        official_position,
        evidence: c.json("evidence")?,
        sources: c.json("sources")?,
        status: c
            .vocab("status", RecordStatus::parse, RecordStatus::names)?
            .unwrap_or(RecordStatus::Draft),
        visibility: c
            .vocab("visibility", Visibility::parse, Visibility::names)?
            .unwrap_or(Visibility::Restricted),
        audit: Default::default(),
    };
    if let Some(r) = c.opt("revision") {
        i.audit.revision = r
            .parse()
            .map_err(|_| c.fail("revision", format!("{r:?} is not a number")))?;
    }
    Ok(i)
}

/// Reads the records of a CSV file (a header row naming the columns, any order; `id`, `title`,
/// `kind`, `start` and `country` are required).
pub fn read_csv(file: &str, text: &str) -> Result<Vec<Read>, RegisterError> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| RegisterError::at(file, Some(1), format!("unreadable header: {e}")))?
        .clone();
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(n, h)| (h.trim().to_string(), n))
        .collect();
    for col in ["id", "title", "kind", "start", "country"] {
        if !index.contains_key(col) {
            return Err(RegisterError::at(
                file,
                Some(1),
                format!(
                    "the header has no {col} column (columns: {})",
                    COLUMNS.join(",")
                ),
            ));
        }
    }
    if let Some(unknown) = header.iter().find(|h| !COLUMNS.contains(&h.trim())) {
        return Err(RegisterError::at(
            file,
            Some(1),
            format!(
                "unknown column {unknown:?} (columns: {})",
                COLUMNS.join(",")
            ),
        ));
    }
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            RegisterError::at(file, line, format!("broken row: {e}"))
        })?;
        let (line, start) = rec
            .position()
            .map(|p| (p.line() as usize, p.byte() as usize))
            .unwrap_or((0, 0));
        let cells = Cells {
            file,
            line,
            index: &index,
            record: &rec,
        };
        out.push(Read {
            incident: parse_row(&cells)?,
            file: file.to_string(),
            line,
            span: start..start,
        });
    }
    Ok(out)
}

/// STOP's columns, in the public sheet's order, then Interfero's id and evidence.
pub const STOP_COLUMNS: &[&str] = &[
    "start_date_type",
    "start_date",
    "country",
    "geo_scope",
    "area_name",
    "shutdown_type",
    "affected_network",
    "shutdown_extent",
    "ordered_by",
    "decision_maker",
    "actual_cause",
    "actual_cause_details",
    "info_source",
    "info_source_link",
    "shutdown_status",
    "end_date",
    "duration",
    "gov_justification",
    "gov_ack",
    "facebook_affected",
    "twitter_affected",
    "whatsapp_affected",
    "instagram_affected",
    "telegram_affected",
    "other_affected",
    "sms_affected",
    "phonecall_affected",
    "telcos_involved",
    "election",
    "violence",
    "hr_abuse_reported",
    "users_targeted",
    "users_target_detail",
    "event",
    "an_link",
    "region",
    "interfero_id",
    "interfero_evidence",
];

/// Whether STOP counts the record: shutdowns, throttling and service-based blocking.
pub fn stop_counts(i: &Incident) -> bool {
    matches!(
        i.kind,
        Kind::Shutdown | Kind::Throttling | Kind::ServiceBlock
    )
}

fn days_between(a: &str, b: &str) -> Option<i64> {
    let days = |d: &str| -> Option<i64> {
        let y: i64 = d.get(0..4)?.parse().ok()?;
        let m: i64 = d.get(5..7)?.parse().ok()?;
        let day: i64 = d.get(8..10)?.parse().ok()?;
        // Days from civil date (proleptic Gregorian), so durations need no date library.
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + day - 1;
        Some(era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy)
    };
    Some(days(b)? - days(a)?)
}

/// One record as a STOP row.
pub fn stop_row(i: &Incident) -> Vec<String> {
    let scope = i.network_scope.clone().unwrap_or_default();
    let has = |name: &str| {
        let yes = scope.services.iter().any(|s| s.eq_ignore_ascii_case(name))
            || (i.kind == Kind::Shutdown && scope.extent == Some(Extent::Full));
        if yes { "Yes" } else { "No" }.to_string()
    };
    let named = [
        "facebook",
        "twitter",
        "whatsapp",
        "instagram",
        "telegram",
        "sms",
        "phonecall",
    ];
    let other = scope
        .services
        .iter()
        .any(|s| !named.contains(&s.to_ascii_lowercase().as_str()));
    let ordered: Vec<String> = i
        .actors
        .iter()
        .filter(|a| a.part == interfero_model::incident::Part::Ordered)
        .map(|a| {
            a.name
                .clone()
                .unwrap_or_else(|| a.kind.as_str().to_string())
        })
        .collect();
    let telcos: Vec<String> = i
        .actors
        .iter()
        .filter(|a| a.kind == interfero_model::incident::ActorKind::Isp)
        .filter_map(|a| a.name.clone())
        .collect();
    let pos = i.official_position.as_ref();
    let source = i.sources.first();
    let date_type = match i.start.precision() {
        interfero_model::incident::Precision::Day => "Actual",
        _ => "Approximate",
    };
    let duration = i
        .end
        .and_then(|e| days_between(&i.start.first_day(), &e.last_day()))
        .map(|d| (d + 1).to_string())
        .unwrap_or_default();
    vec![
        date_type.into(),
        i.start.first_day(),
        codes::country_name(&i.place.country).to_string(),
        if i.place.admin1.is_some() {
            "Level 1".into()
        } else {
            "National".into()
        },
        i.place
            .locality
            .clone()
            .or(i.place.admin1.clone())
            .unwrap_or_default(),
        codes::of(i).stop.unwrap_or_default(),
        match scope.network_type {
            Some(NetworkType::Mobile) => "Mobile".into(),
            Some(NetworkType::Fixed) => "Broadband".into(),
            Some(NetworkType::Both) => "Broadband, Mobile".into(),
            None => String::new(),
        },
        codes::stop_extent(i.kind).unwrap_or_default().into(),
        ordered.join("; "),
        ordered.join("; "),
        i.context.first().cloned().unwrap_or_default(),
        i.summary.clone(),
        source.map(|s| s.publisher.clone()).unwrap_or_default(),
        source.and_then(|s| s.url.clone()).unwrap_or_default(),
        if i.ongoing {
            "Ongoing"
        } else if i.end.is_some() {
            "Ended"
        } else {
            "Unknown"
        }
        .into(),
        i.end.map(|e| e.last_day()).unwrap_or_default(),
        duration,
        pos.and_then(|p| p.justification.clone())
            .unwrap_or_default(),
        match pos.map(|p| p.stance) {
            Some(Stance::Acknowledged) => "Yes".into(),
            Some(Stance::Denied) => "No".into(),
            _ => String::new(),
        },
        has("facebook"),
        has("twitter"),
        has("whatsapp"),
        has("instagram"),
        has("telegram"),
        if other || (i.kind == Kind::Shutdown && scope.extent == Some(Extent::Full)) {
            "Yes"
        } else {
            "No"
        }
        .into(),
        has("sms"),
        has("phonecall"),
        telcos.join("; "),
        if i.context.iter().any(|c| c == "election") {
            "Yes"
        } else {
            "No"
        }
        .into(),
        if i.context.iter().any(|c| c == "violence") {
            "Yes"
        } else {
            "No"
        }
        .into(),
        String::new(),
        String::new(),
        String::new(),
        i.title.clone(),
        String::new(),
        String::new(),
        i.id.clone(),
        i.evidence
            .iter()
            .map(compact)
            .collect::<Vec<_>>()
            .join("; "),
    ]
}

/// Writes the records STOP counts as STOP-compatible CSV.
pub fn to_stop_csv(records: &[Incident]) -> Result<String, RegisterError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| RegisterError::Write(e.to_string());
    w.write_record(STOP_COLUMNS).map_err(fail)?;
    for i in records.iter().filter(|i| stop_counts(i)) {
        w.write_record(stop_row(i)).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| RegisterError::Write(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| RegisterError::Write(e.to_string()))
}
