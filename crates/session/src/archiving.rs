//! Archiving pages over time (`interfero archive`, `watch --archive`): each round captures
//! every URL from the vantage point and, with a control, from the control too; keeps both in
//! the archive and lists them in the index; compares each vantage capture with the last one
//! kept and reports `content_removed` / `content_changed` events, saying whether the publisher
//! (gone at the control too) or the network (gone only here) is behind it.
//!
//! The first time a URL is seen, and again after each change, it is captured twice back to
//! back: what differs between the two is what the site varies by itself, and never counts.

use interfero_analysis::change::{attribute, compare, Attribution, ChangeKind, Variation};
use interfero_archive::{digest, Archive};
use interfero_model::capture::{Capture, Vantage};
use interfero_model::scrub::Forms;
use interfero_model::ControlRequest;
use interfero_probe::capture::capture;
use interfero_probe::{ControlClient, ProbeConfig};
use interfero_store::{CaptureEntry, CaptureIndex, Event, EventKind};
use std::collections::HashMap;

/// What the keeper knows of one URL between rounds.
struct PageState {
    /// The last vantage capture compared against, and its id.
    baseline: Capture,
    baseline_id: String,
    /// What the site varies by itself.
    variation: Variation,
    /// Gone only at the vantage point at the last round (reported once, not every round).
    gone_here: bool,
}

/// One URL's result in a round.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The URL.
    pub url: String,
    /// The vantage capture's id, when it was kept.
    pub id: Option<String>,
    /// The control capture's id, when there was one and it was kept.
    pub control_id: Option<String>,
    /// The vantage capture's final status (0: no page) and whether it was truncated.
    pub status: u16,
    /// A body was cut at the cap.
    pub truncated: bool,
    /// Why no page came, when none did.
    pub failure: Option<String>,
    /// The change seen, as an event (not yet stored).
    pub event: Option<Event>,
    /// What the vantage capture left out or cut (embedded images over the bounds, non-images).
    pub notes: Vec<String>,
}

/// Keeps captures and compares each with the last.
pub struct Keeper {
    archive: Archive,
    index: Option<CaptureIndex>,
    pages: HashMap<String, PageState>,
    cap: usize,
    /// The vantage point's country and network, written in the events.
    vantage: (String, String),
}

impl Keeper {
    /// A keeper writing to `archive`, listing in `index` when given, cutting bodies at `cap`.
    pub fn new(archive: Archive, index: Option<CaptureIndex>, cap: usize) -> Keeper {
        Keeper {
            archive,
            index,
            pages: HashMap::new(),
            cap,
            vantage: ("ZZ".into(), "AS0".into()),
        }
    }

    /// Names the vantage point in the events (`ZZ` / `AS0` when unknown or hidden).
    pub fn with_vantage(mut self, probe_cc: &str, probe_asn: &str) -> Keeper {
        self.vantage = (probe_cc.to_string(), probe_asn.to_string());
        self
    }

    /// One round over `urls` at time `at` (UTC, or scenario time in a lab); errors (a capture
    /// that could not be kept) are reported and the round goes on. Captures already kept are
    /// never touched.
    pub async fn round(
        &mut self,
        cfg: &ProbeConfig,
        control: Option<&ControlClient>,
        urls: &[String],
        at: &str,
    ) -> (Vec<Kept>, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for url in urls {
            let (mut now, (control_now, public)) = tokio::join!(
                capture(cfg, url, Vantage::Probe, self.cap),
                control_capture(control, url)
            );
            // Pages echo the visitor's address: every spelling of it (as the control saw it)
            // and of the device's own addresses is replaced before anything is kept, as in
            // measurements. The archived copy is the scrubbed one; its digests are of that.
            let forms = address_forms(public.as_deref());
            scrub(&mut now, &forms);
            let id = self.keep(&now, &mut errors);
            let control_id = control_now.as_ref().and_then(|c| self.keep(c, &mut errors));
            let page = now.page();
            let mut kept = Kept {
                url: url.clone(),
                id: id.clone(),
                control_id: control_id.clone(),
                status: page.map_or(0, |e| e.status),
                truncated: now.truncated(),
                failure: now.failure.as_ref().map(|f| f.to_string()),
                event: None,
                notes: now.notes.clone(),
            };
            let Some(id) = id else {
                out.push(kept);
                continue;
            };
            if now.page().is_none() && !self.pages.contains_key(url) {
                out.push(kept); // nothing to compare with yet, nor to learn from
                continue;
            }
            let Some(state) = self.pages.get_mut(url) else {
                // First sight: a second capture right away teaches the site's own variation.
                let mut again = capture(cfg, url, Vantage::Probe, self.cap).await;
                scrub(&mut again, &forms);
                // Kept too: it is the evidence of what the page varies by itself.
                self.keep(&again, &mut errors);
                let mut variation = Variation::default();
                variation.learn(&now, &again);
                self.pages.insert(
                    url.clone(),
                    PageState {
                        baseline: now,
                        baseline_id: id,
                        variation,
                        gone_here: false,
                    },
                );
                out.push(kept);
                continue;
            };
            let change = compare(&state.baseline, &now, &state.variation);
            let who = attribute(
                &state.baseline,
                change.as_ref(),
                &now,
                control_now.as_ref(),
                &state.variation,
            );
            let gone_here = now.page().is_none() && who == Attribution::Interference;
            let (kind, summary) = match (&change, gone_here) {
                (Some(c), _) => {
                    let kind = if c.kind == ChangeKind::Removed {
                        EventKind::ContentRemoved
                    } else {
                        EventKind::ContentChanged
                    };
                    (Some(kind), c.describe())
                }
                (None, true) if !state.gone_here => (
                    Some(EventKind::ContentRemoved),
                    format!(
                        "gone only at the vantage point ({}); the control still gets the page",
                        kept.failure.clone().unwrap_or_default()
                    ),
                ),
                _ => (None, String::new()),
            };
            state.gone_here = gone_here;
            if let Some(kind) = kind {
                let who = match (who, kind) {
                    (Attribution::Publisher, EventKind::ContentChanged) => "changed_by_publisher",
                    _ => who.as_str(),
                };
                let mut evidence = vec![
                    format!("attribution: {who}"),
                    format!("before: capture {}", state.baseline_id),
                    format!("after: capture {id}"),
                ];
                if let Some(c) = &control_id {
                    evidence.push(format!("control: capture {c}"));
                }
                evidence.push(summary);
                kept.event = Some(Event {
                    input: url.clone(),
                    kind,
                    technique: None,
                    started: at.to_string(),
                    ended: Some(at.to_string()),
                    evidence,
                    probe_cc: self.vantage.0.clone(),
                    probe_asn: self.vantage.1.clone(),
                });
            }
            // The page as now seen is what the next round compares with (a failure is not a
            // page: the last page stays the baseline).
            if change.is_some() {
                // A new version (or another page, such as the home page a removed article
                // redirects to) varies in its own ways: learn them from a second capture.
                let mut again = capture(cfg, url, Vantage::Probe, self.cap).await;
                scrub(&mut again, &forms);
                state.variation.learn(&now, &again);
                if let Err(e) = self.archive.put(&again) {
                    errors.push(format!("{url}: capture not kept: {e}"));
                }
                state.baseline = now;
                state.baseline_id = id;
            }
            out.push(kept);
        }
        (out, errors)
    }

    /// Keeps a capture in the archive and the index; its id, or the error in `errors`.
    fn keep(&self, c: &Capture, errors: &mut Vec<String>) -> Option<String> {
        let stored = match self.archive.put(c) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{}: capture not kept: {e}", c.url));
                return None;
            }
        };
        if let Some(index) = &self.index {
            if let Err(e) = index.add(&entry(c, &stored.id)) {
                errors.push(format!(
                    "{}: capture {} kept but not listed: {e}",
                    c.url, stored.id
                ));
            }
        }
        Some(stored.id)
    }
}

/// One content event as text: time, kind, URL, attribution.
pub fn describe(e: &Event) -> String {
    let who = e
        .evidence
        .iter()
        .find_map(|l| l.strip_prefix("attribution: "))
        .unwrap_or("unknown");
    format!("{} {} {} ({who})", e.started, e.kind.as_str(), e.input)
}

/// The index entry of a kept capture.
pub fn entry(c: &Capture, id: &str) -> CaptureEntry {
    let page = c.page();
    CaptureEntry {
        id: id.to_string(),
        url: c.url.clone(),
        vantage: c.vantage.as_str().into(),
        started: c.started.clone(),
        finished: c.finished.clone(),
        status: page.map_or(0, |e| e.status),
        final_url: page.map(|e| e.url.clone()).unwrap_or_default(),
        payload_digest: page.map(|e| digest(&e.body)).unwrap_or_default(),
        truncated: c.truncated(),
        failure: c.failure.as_ref().map(|f| f.to_string()),
        size: page.map_or(0, |e| e.body.len() as u64),
        images: c.embeds.len().min(u32::MAX as usize) as u32,
    }
}

/// The control's capture of `url` when there is a control and it answered with one, and the
/// address it saw the probe come from (to scrub, never kept).
async fn control_capture(
    control: Option<&ControlClient>,
    url: &str,
) -> (Option<Capture>, Option<String>) {
    let req = ControlRequest {
        http_request: url.to_string(),
        x_capture: true,
        ..ControlRequest::default()
    };
    let Some(control) = control else {
        return (None, None);
    };
    let Ok(resp) = control.query(&req).await else {
        return (None, None);
    };
    // The control's copy is another party's report: keep it as its capture, marked as the
    // control's whatever it says.
    let copy = resp.x_capture.map(|mut c| {
        c.vantage = Vantage::Control;
        c
    });
    (copy, resp.x_client_address)
}

/// Every spelling of the user's public address (when known) and the device's addresses.
fn address_forms(public: Option<&str>) -> Forms {
    let mut forms = Forms::default();
    for a in public
        .map(str::to_string)
        .into_iter()
        .chain(crate::device_addresses().iter().map(|ip| ip.to_string()))
    {
        forms.extend(&a);
    }
    forms
}

/// Replaces the addresses in every URL, header and body of a capture.
pub fn scrub(c: &mut Capture, forms: &Forms) {
    if forms.is_empty() {
        return;
    }
    let s = |v: &mut String| {
        if let Some(x) = forms.scrub_str(v) {
            *v = x;
        }
    };
    s(&mut c.url);
    for n in &mut c.notes {
        s(n);
    }
    for e in c.exchanges.iter_mut().chain(c.embeds.iter_mut()) {
        s(&mut e.url);
        for (_, v) in e
            .request_headers
            .iter_mut()
            .chain(e.response_headers.iter_mut())
        {
            s(v);
        }
        if let Some(b) = forms.scrub_bytes(&e.body) {
            e.body = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_model::capture::Exchange;

    #[test]
    fn the_users_address_is_scrubbed_from_every_part_of_a_capture() {
        let mut forms = Forms::default();
        forms.extend("203.0.113.7");
        let mut c = Capture {
            url: "https://echo.example/?ip=203.0.113.7".into(),
            exchanges: vec![Exchange {
                url: "https://echo.example/?ip=203.0.113.7".into(),
                status: 200,
                response_headers: vec![("X-Seen".into(), "203-0-113-7".into())],
                body: b"<p>Your address: 203.0.113.7</p>".to_vec(),
                ..Exchange::default()
            }],
            ..Capture::default()
        };
        scrub(&mut c, &forms);
        let all =
            serde_json::to_string(&c).unwrap() + &String::from_utf8_lossy(&c.exchanges[0].body);
        assert!(
            !all.contains("203.0.113.7") && !all.contains("203-0-113-7"),
            "{all}"
        );
        assert!(String::from_utf8_lossy(&c.exchanges[0].body).contains("[probe-address]"));
    }
}
