//! `lab watch`: the watcher run against a lab world whose rules switch on and off, its events
//! scored against the events the censor's rules imply at the same round times.

use crate::lab::Lab;
use interfero_analysis::timeline::Timeline;
use interfero_lab::ScenarioTime;
use interfero_model::{Target, Verdict};
pub use interfero_session::watcher::describe;
use interfero_session::watcher::{watch, Pace, Round};
use interfero_store::MeasurementStore;
use serde::Serialize;
use tokio::sync::watch as signal;

/// How a watch in the lab went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchScore {
    /// Rounds run.
    pub rounds: usize,
    /// Scenario seconds between rounds.
    pub step: u64,
    /// Measurements the rounds should have made (rounds × targets).
    pub expected_measurements: usize,
    /// Measurements the store holds after the watch.
    pub stored_measurements: u64,
    /// Changes the rules imply, as `TIME KIND TARGET`.
    pub expected: Vec<String>,
    /// Changes the watcher saw.
    pub seen: Vec<String>,
    /// Implied but not seen.
    pub missing: Vec<String>,
    /// Seen but not implied.
    pub spurious: Vec<String>,
    /// Errors met while storing.
    pub store_errors: Vec<String>,
}

impl WatchScore {
    /// Every implied change seen, nothing else, and no measurement lost.
    pub fn perfect(&self) -> bool {
        self.missing.is_empty()
            && self.spurious.is_empty()
            && self.stored_measurements as usize == self.expected_measurements
    }

    /// The score as a Markdown document (for `docs/`), with the command that made it.
    pub fn to_markdown(&self, scenario: &str, command: &str) -> String {
        let mut s = format!(
            "# Watching over time: events against the censor's rules\n\n\
             Produced by `{command}` (scenario `{scenario}`). Each round measures every target \
             through the lab censor at the scenario time shown; an event is right when it \
             appears at the first round after the rule switched (so within one step of the \
             switch).\n\n\
             **{} of {} expected changes seen, {} spurious; {} of {} measurements stored \
             ({} rounds, {} scenario minutes apart).**\n\n| | change |\n|---|---|\n",
            self.expected.len() - self.missing.len(),
            self.expected.len(),
            self.spurious.len(),
            self.stored_measurements,
            self.expected_measurements,
            self.rounds,
            self.step / 60
        );
        for (title, list) in [
            ("seen", &self.seen),
            ("missing", &self.missing),
            ("spurious", &self.spurious),
        ] {
            for e in list {
                s.push_str(&format!("| {title} | {e} |\n"));
            }
        }
        s
    }

    /// A human summary.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} rounds, one every {} scenario minutes: {} of {} expected changes seen, {} \
             spurious; {} of {} measurements stored\n",
            self.rounds,
            self.step / 60,
            self.expected.len() - self.missing.len(),
            self.expected.len(),
            self.spurious.len(),
            self.stored_measurements,
            self.expected_measurements
        );
        for (title, list) in [
            ("seen", &self.seen),
            ("missing", &self.missing),
            ("spurious", &self.spurious),
        ] {
            for e in list {
                s.push_str(&format!("  {title:8} {e}\n"));
            }
        }
        s
    }
}

/// Runs `rounds` rounds `step` scenario seconds apart from `start`, stores into `store`, and
/// scores the changes seen against those the rules imply.
pub async fn watch_lab(
    lab: &Lab,
    store: &dyn MeasurementStore,
    start: ScenarioTime,
    step: u64,
    rounds: usize,
    mut on_round: impl FnMut(&Round),
) -> WatchScore {
    let targets: Vec<Target> = lab
        .world
        .targets()
        .into_iter()
        .filter(|t| t.supported.is_ok())
        .map(|t| Target {
            url: t.url,
            category_code: None,
        })
        .collect();
    let before = store.count().unwrap_or(0);
    let (_keep, stop) = signal::channel(false);
    let mut seen = Vec::new();
    let clock = |i: usize| {
        let t = ScenarioTime(start.0 + step * i as u64);
        lab.world.set_time(t);
        t.to_string()
    };
    let pace = Pace::Driven { clock: &clock };
    let store_errors = watch(
        &lab.session,
        targets.clone(),
        store,
        pace,
        Some(rounds),
        stop,
        |r| {
            seen.extend(r.changes.iter().map(describe));
            on_round(r);
        },
    )
    .await;
    let mut truth = Timeline::default();
    let mut expected = Vec::new();
    for i in 0..rounds {
        let t = ScenarioTime(start.0 + step * i as u64);
        let verdicts: Vec<(String, Verdict)> = lab
            .world
            .scenario()
            .targets_at(t)
            .into_iter()
            .filter(|lt| targets.iter().any(|x| x.url == lt.url))
            .map(|lt| {
                let mut v = Verdict::new(lt.expect.status, 1.0, "truth");
                v.techniques = lt.expect.techniques;
                (lt.url, v)
            })
            .collect();
        expected.extend(truth.round(&t.to_string(), &verdicts).iter().map(describe));
    }
    let missing = expected
        .iter()
        .filter(|e| !seen.contains(e))
        .cloned()
        .collect();
    let spurious = seen
        .iter()
        .filter(|e| !expected.contains(e))
        .cloned()
        .collect();
    WatchScore {
        rounds,
        step,
        expected_measurements: rounds * targets.len(),
        stored_measurements: store.count().unwrap_or(0).saturating_sub(before),
        expected,
        seen,
        missing,
        spurious,
        store_errors,
    }
}
