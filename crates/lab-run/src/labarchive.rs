//! `lab archive`: the archive keeper run against a lab world whose pages change on a schedule,
//! its events scored against the schedule: every change found at the first round after it,
//! nothing from a page's own variation, and a page blocked only behind the censor told apart
//! from one its publisher removed.

use crate::lab::Lab;
use interfero_archive::Archive;
use interfero_lab::content::Expected;
use interfero_lab::scenario::rule_in_force;
use interfero_lab::{ScenarioTime, HTTPS_PORT};
pub use interfero_session::archiving::describe;
use interfero_session::archiving::Keeper;
use interfero_store::{CaptureIndex, EventKind, MeasurementStore};
use serde::Serialize;
use std::path::Path;

/// How archiving in the lab went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveScore {
    /// Rounds run.
    pub rounds: usize,
    /// Scenario seconds between rounds.
    pub step: u64,
    /// URLs captured each round.
    pub urls: usize,
    /// Captures kept at the rounds (vantage and control; the learning repeats not counted).
    pub kept: usize,
    /// Changes the schedule and the rules imply, as `TIME KIND URL (ATTRIBUTION)`.
    pub expected: Vec<String>,
    /// Changes the keeper reported.
    pub seen: Vec<String>,
    /// Implied but not seen.
    pub missing: Vec<String>,
    /// Seen but not implied.
    pub spurious: Vec<String>,
    /// Captures that could not be kept or listed, events that could not be stored.
    pub errors: Vec<String>,
}

impl ArchiveScore {
    /// Every change seen at its round, nothing else, nothing lost.
    pub fn perfect(&self) -> bool {
        self.missing.is_empty() && self.spurious.is_empty() && self.errors.is_empty()
    }

    /// A human summary, one line per change.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} rounds over {} URLs, one every {} scenario hours: {} of {} expected changes \
             seen, {} spurious; {} captures kept, {} errors\n",
            self.rounds,
            self.urls,
            self.step / 3600,
            self.expected.len() - self.missing.len(),
            self.expected.len(),
            self.spurious.len(),
            self.kept,
            self.errors.len()
        );
        for (title, list) in [
            ("seen", &self.seen),
            ("missing", &self.missing),
            ("spurious", &self.spurious),
            ("error", &self.errors),
        ] {
            for e in list {
                s.push_str(&format!("  {title:8} {e}\n"));
            }
        }
        s
    }

    /// The score as Markdown (for `docs/`), with the command that made it.
    pub fn to_markdown(&self, scenario: &str, command: &str) -> String {
        let mut s = format!(
            "# Archiving: page changes against the lab's schedule\n\n\
             Produced by `{command}` (scenario `{scenario}`). Each round captures every page \
             from the probe (through the lab censor) and from the control, keeps both as WARC, \
             and compares the probe's capture with the last one kept. A change is right when it \
             is reported at the first round after the schedule changed the page, with who did \
             it: `removed_by_publisher` / `changed_by_publisher` (the control sees it too) or \
             `interference` (only the probe does).\n\n\
             **{} of {} expected changes seen, {} spurious, {} errors; {} captures kept ({} \
             rounds over {} URLs, {} scenario hours apart).**\n\n| | change |\n|---|---|\n",
            self.expected.len() - self.missing.len(),
            self.expected.len(),
            self.spurious.len(),
            self.errors.len(),
            self.kept,
            self.rounds,
            self.urls,
            self.step / 3600
        );
        for (title, list) in [
            ("seen", &self.seen),
            ("missing", &self.missing),
            ("spurious", &self.spurious),
            ("error", &self.errors),
        ] {
            for e in list {
                s.push_str(&format!("| {title} | {} |\n", e.replace('|', "\\|")));
            }
        }
        s
    }
}

/// Runs `rounds` capture rounds `step` scenario seconds apart from `start`, keeping captures
/// in an archive in `dir` (indexed in `index`), storing the events in `store`, and scores them.
pub async fn archive_lab(
    lab: &Lab,
    dir: &Path,
    index: Option<CaptureIndex>,
    store: &dyn MeasurementStore,
    start: ScenarioTime,
    step: u64,
    rounds: usize,
) -> ArchiveScore {
    let scenario = lab.world.scenario().clone();
    let mut urls = Vec::new();
    for site in &scenario.sites {
        for p in &site.pages {
            urls.push((
                site.name.clone(),
                format!("https://{}:{HTTPS_PORT}{}", site.name, p.path),
                p.clone(),
            ));
        }
    }
    let list: Vec<String> = urls.iter().map(|(_, u, _)| u.clone()).collect();
    let times: Vec<ScenarioTime> = (0..rounds)
        .map(|i| ScenarioTime(start.0 + step * i as u64))
        .collect();
    let mut score = ArchiveScore {
        rounds,
        step,
        urls: list.len(),
        ..ArchiveScore::default()
    };
    // What the schedule and the rules imply, at the first round at or after each change.
    let first_round_after = |at: ScenarioTime| times.iter().skip(1).find(|t| **t >= at).copied();
    for (site, url, page) in &urls {
        for (at, what) in page.changes() {
            if let Some(t) = first_round_after(at) {
                let (kind, who) = match what {
                    Expected::Removed => (EventKind::ContentRemoved, "removed_by_publisher"),
                    Expected::Changed => (EventKind::ContentChanged, "changed_by_publisher"),
                };
                score
                    .expected
                    .push(format!("{t} {} {url} ({who})", kind.as_str()));
            }
        }
        // A rule that cuts the site off (matched by name) makes the page gone here only, once,
        // at the first round it is in force.
        let blocks = |t: ScenarioTime| {
            scenario.rules.iter().any(|r| {
                let m = &r.matcher;
                let names = [&m.sni, &m.domain, &m.host];
                names.iter().any(|n| n.as_deref() == Some(site.as_str())) && rule_in_force(r, t)
            })
        };
        let mut was = false;
        for (i, t) in times.iter().enumerate() {
            let now = blocks(*t);
            if now && !was && i > 0 {
                score
                    .expected
                    .push(format!("{t} content_removed {url} (interference)"));
            }
            was = now;
        }
    }
    let archive = match Archive::open(dir) {
        Ok(a) => a,
        Err(e) => {
            score.errors.push(format!("cannot open the archive: {e}"));
            return score;
        }
    };
    let mut keeper = Keeper::new(archive, index, interfero_probe::capture::DEFAULT_CAP);
    let control = lab.session.control.as_deref();
    for t in &times {
        lab.world.set_time(*t);
        let (kept, errors) = keeper
            .round(&lab.session.probe, control, &list, &t.to_string())
            .await;
        score.errors.extend(errors);
        for k in kept {
            score.kept += usize::from(k.id.is_some()) + usize::from(k.control_id.is_some());
            if let Some(e) = k.event {
                if let Err(err) = store.record_event(&e) {
                    score.errors.push(format!("event not stored: {err}"));
                }
                score.seen.push(describe(&e));
            }
        }
    }
    score.missing = score
        .expected
        .iter()
        .filter(|e| !score.seen.contains(e))
        .cloned()
        .collect();
    score.spurious = score
        .seen
        .iter()
        .filter(|e| !score.expected.contains(e))
        .cloned()
        .collect();
    score
}
