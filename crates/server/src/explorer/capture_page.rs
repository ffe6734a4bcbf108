//! What `/capture/{id}` shows: the capture's facts, its embedded images, the change events it
//! is part of (with who did it in words and the readable text diff), and links to the previous
//! and next capture of the same URL and to the other side's capture of the same round.

use super::captures::{load, size_words, vantage_words, CaptureSource};
use interfero_analysis::change::{compare, payload_digest, Variation};
use interfero_store::{
    CaptureCursor, CaptureEntry, CapturePageRequest, CaptureQuery, EventKind, EventQuery,
    MeasurementStore, Order, StoreError,
};

/// One capture as its page shows it.
pub(crate) struct CaptureView {
    pub id: String,
    pub url: String,
    pub host: String,
    pub final_url: String,
    pub started: String,
    pub finished: String,
    pub vantage: &'static str,
    pub is_control: bool,
    pub status: String,
    pub digest: String,
    pub size: String,
    pub truncated: bool,
    pub failure: String,
    pub notes: Vec<String>,
    pub images: Vec<ImageRow>,
    pub events: Vec<EventView>,
    /// The events' verdict on who did it, in words (empty when no event names this capture).
    pub who: Vec<String>,
    /// `(id, started)` of the previous and next captures of the URL from the same side.
    pub prev: Option<(String, String)>,
    pub next: Option<(String, String)>,
    /// The other side's capture of the same round (the control's for a vantage capture).
    pub round: Option<(String, String)>,
    /// The difference from the previous capture, when no event shows one.
    pub live_diff: String,
    pub has_page: bool,
}

/// An embedded image kept with the page.
pub(crate) struct ImageRow {
    pub n: usize,
    pub url: String,
    pub status: u16,
    pub ctype: String,
    pub size: String,
    pub digest: String,
    pub truncated: bool,
    pub shown: bool,
}

/// A change event the capture is part of.
pub(crate) struct EventView {
    pub started: String,
    pub kind: &'static str,
    pub words: &'static str,
    pub who: String,
    /// `before`, `after` or `control`: this capture's part in it.
    pub role: String,
    /// `(label, id)` of each capture the event names.
    pub links: Vec<(String, String)>,
    pub diff: String,
}

/// Who did a change, in words, from an event's `attribution:` line.
pub(crate) fn who_words(attribution: &str) -> &'static str {
    match attribution {
        "removed_by_publisher" => {
            "Removed by its publisher: gone at the control too, so gone for everyone."
        }
        "changed_by_publisher" => "Changed by its publisher: the control sees the same change.",
        "interference" => {
            "Blocked here: gone only at this vantage point; the control still gets the page."
        }
        _ => "Who did it is not known: no control capture to compare with.",
    }
}

/// The captures an event's evidence names: `(role, id)` from its `before: capture ID` lines.
pub(crate) fn named_captures(evidence: &[String]) -> Vec<(String, String)> {
    evidence
        .iter()
        .filter_map(|l| {
            let (role, rest) = l.split_once(": capture ")?;
            let id = rest.trim();
            let ok = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| (role.to_string(), id.to_string()))
        })
        .collect()
}

/// Builds the view of capture `id` (`None` when it is not listed or not readable).
pub(crate) fn build(
    src: &CaptureSource,
    store: &dyn MeasurementStore,
    id: &str,
) -> Result<Option<CaptureView>, StoreError> {
    let Some(entry) = src.index.get(id)? else {
        return Ok(None);
    };
    let Some(capture) = load(src, id)? else {
        return Ok(None);
    };
    let page = capture.page();
    let images = capture
        .embeds
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let ctype = e.header("content-type").unwrap_or("").to_string();
            let raster = ["image/png", "image/jpeg", "image/gif", "image/webp"]
                .iter()
                .any(|t| ctype.to_ascii_lowercase().starts_with(t));
            ImageRow {
                n,
                url: e.url.clone(),
                status: e.status,
                size: size_words(e.body.len() as u64),
                digest: if e.body.is_empty() {
                    "(not kept)".into()
                } else {
                    payload_digest(&e.body)
                },
                truncated: e.truncated,
                shown: raster && !e.body.is_empty(),
                ctype,
            }
        })
        .collect();
    // The content events of this URL that name this capture.
    let events = store.query_events(&EventQuery {
        input: Some(entry.url.clone()),
        ..EventQuery::default()
    })?;
    let mut views = Vec::new();
    let mut who = Vec::new();
    for (_, e) in &events {
        if !matches!(
            e.kind,
            EventKind::ContentRemoved | EventKind::ContentChanged
        ) {
            continue;
        }
        let links = named_captures(&e.evidence);
        let Some((role, _)) = links.iter().find(|(_, c)| c == id) else {
            continue;
        };
        let attribution = e
            .evidence
            .iter()
            .find_map(|l| l.strip_prefix("attribution: "))
            .unwrap_or("unknown");
        let words = who_words(attribution);
        if role != "before" && !who.iter().any(|w| w == words) {
            who.push(words.to_string());
        }
        let diff = e
            .evidence
            .iter()
            .filter(|l| !l.starts_with("attribution: ") && !l.contains(": capture "))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        views.push(EventView {
            started: e.started.clone(),
            kind: e.kind.as_str(),
            words: super::downloads::kind_words(e.kind),
            who: words.to_string(),
            role: role.clone(),
            links,
            diff,
        });
    }
    let (prev, next) = src.index.neighbours(&entry)?;
    let round = same_round(src, &entry)?;
    let live_diff = match (&prev, views.is_empty()) {
        (Some(p), true) => load(src, &p.id)?
            .and_then(|before| compare(&before, &capture, &Variation::default()))
            .map(|c| c.describe())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let pair = |e: CaptureEntry| (e.id, e.started);
    Ok(Some(CaptureView {
        id: entry.id.clone(),
        host: interfero_store::query::domain_of(&entry.url),
        url: entry.url.clone(),
        final_url: entry.final_url.clone(),
        started: entry.started.clone(),
        finished: entry.finished.clone(),
        vantage: vantage_words(&entry.vantage),
        is_control: entry.vantage == "control",
        status: match page {
            Some(p) => p.status.to_string(),
            None => "no page".into(),
        },
        digest: entry.payload_digest.clone(),
        size: size_words(page.map_or(0, |p| p.body.len() as u64)),
        truncated: capture.truncated(),
        failure: capture
            .failure
            .as_ref()
            .map(|f| f.to_string())
            .unwrap_or_default(),
        notes: capture.notes.clone(),
        images,
        events: views,
        who,
        prev: prev.map(pair),
        next: next.map(pair),
        round: round.map(pair),
        live_diff,
        has_page: page.is_some(),
    }))
}

/// The other side's capture of the same URL in the same round: the latest one that started at
/// most two minutes after this one, when it started at most two minutes before (the keeper
/// makes both at once).
fn same_round(src: &CaptureSource, e: &CaptureEntry) -> Result<Option<CaptureEntry>, StoreError> {
    let other = if e.vantage == "control" {
        "probe"
    } else {
        "control"
    };
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&e.started) else {
        return Ok(None);
    };
    let window = chrono::Duration::seconds(120);
    let fmt = |t: chrono::DateTime<chrono::FixedOffset>| {
        t.with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let q = CaptureQuery {
        url: Some(e.url.clone()),
        vantage: Some(other.into()),
        since: Some(fmt(at - window)),
        ..CaptureQuery::default()
    };
    let req = CapturePageRequest {
        after: Some(CaptureCursor {
            started: fmt(at + window),
            id: "g".into(), // after every hex id: captures that started then count
        }),
        limit: 1,
        order: Order::Newest,
    };
    Ok(src.index.page(&q, &req)?.items.pop())
}
