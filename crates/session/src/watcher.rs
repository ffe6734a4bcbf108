//! Watching over time: the same targets measured round after round, every measurement stored,
//! and the changes between rounds (a block begins or ends, a shutdown starts or access
//! returns) stored as events with start and end times. A round during a shutdown is measured
//! and stored like any other (locally: nothing needs the network to be kept), and the next
//! round starts on time whatever the last one met.

use crate::{run, Session};
use interfero_analysis::timeline::{Change, Episode, Timeline};
use interfero_model::{Measurement, Status, Target, Technique, Verdict};
use interfero_store::{Event, EventId, EventKind, MeasurementStore, RunInfo};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What paces the rounds and names their times.
pub enum Pace<'a> {
    /// Real time: a round every `interval`, stamped with UTC time.
    Wall {
        /// Between round starts.
        interval: Duration,
    },
    /// A clock the caller drives (a lab world's scenario clock): round `i` runs without
    /// waiting, once `clock(i)` has set the time, and is stamped with the name it returns.
    Driven {
        /// Sets round `i`'s time and names it.
        clock: &'a (dyn Fn(usize) -> String + Sync),
    },
}

/// What one round did.
#[derive(Debug, Clone)]
pub struct Round {
    /// 0, 1, ...
    pub index: usize,
    /// The round's time (UTC, or scenario time in a lab).
    pub at: String,
    /// Measurements made and handed to the store.
    pub measured: usize,
    /// Measurements the store refused this round and that wait for the next (never dropped).
    pub pending: usize,
    /// The changes the round saw.
    pub changes: Vec<Change>,
    /// The round's measurements, for a caller that also keeps them elsewhere (`--out`).
    pub measurements: Vec<Measurement>,
}

/// The store side of a watch: measurements that could not be written yet, and the ids of the
/// open episodes' events.
struct Keeper<'s> {
    store: &'s dyn MeasurementStore,
    pending: Vec<(Option<i64>, Measurement)>,
    open: HashMap<String, EventId>,
    errors: Vec<String>,
    /// The vantage point's country and network, named in every event.
    vantage: (String, String),
}

fn key(e: &Episode) -> String {
    match e {
        Episode::Shutdown => String::new(),
        Episode::Block { input, .. } => input.clone(),
        Episode::Delegation { input } => format!("delegation {input}"),
    }
}

impl Keeper<'_> {
    /// Writes what waits (oldest first), keeping whatever fails for the next attempt.
    fn flush(&mut self, run: Option<i64>) {
        let mut left = Vec::new();
        for (r, m) in std::mem::take(&mut self.pending) {
            let Some(r) = r.or(run) else {
                left.push((r, m));
                continue;
            };
            if let Err(e) = self.store.insert(r, &m) {
                self.errors.push(format!("{}: {e}", m.input));
                left.push((Some(r), m));
            }
        }
        self.pending = left;
    }

    fn record(&mut self, change: &Change) {
        let (episode, at, began) = match change {
            Change::Began { episode, at, .. } => (episode, at, true),
            Change::Ended { episode, at } => (episode, at, false),
        };
        let (input, technique) = match episode {
            Episode::Shutdown => (String::new(), None),
            Episode::Delegation { input } => (input.clone(), Some(Technique::DnsDelegationRemoved)),
            Episode::Block {
                input, technique, ..
            } => (input.clone(), *technique),
        };
        let kind = match (episode, began) {
            (Episode::Shutdown, true) => EventKind::ShutdownStarted,
            (Episode::Shutdown, false) => EventKind::ShutdownEnded,
            (Episode::Block { .. }, true) => EventKind::BlockStarted,
            (Episode::Block { .. }, false) => EventKind::BlockEnded,
            (Episode::Delegation { .. }, true) => EventKind::DelegationRemoved,
            (Episode::Delegation { .. }, false) => EventKind::DelegationRestored,
        };
        let evidence = match change {
            Change::Began { evidence, .. } => evidence.clone(),
            Change::Ended { .. } => Vec::new(),
        };
        // An end closes the episode's start event, and is recorded as a change of its own.
        let closed = match self.open.remove(&key(episode)).filter(|_| !began) {
            Some(id) => self.store.end_event(id, at),
            None => Ok(()),
        };
        let result = closed.and_then(|_| {
            self.store.record_event(&Event {
                input,
                kind,
                technique,
                started: at.clone(),
                ended: None,
                evidence,
                probe_cc: self.vantage.0.clone(),
                probe_asn: self.vantage.1.clone(),
            })
        });
        match result {
            Ok(id) if began => {
                self.open.insert(key(episode), id);
            }
            Ok(_) => {}
            Err(e) => self.errors.push(format!("event: {e}")),
        }
    }
}

/// One change as text: time, kind, target (and technique), so that changes compare as strings.
pub fn describe(c: &Change) -> String {
    let (at, begin, ep) = match c {
        Change::Began { episode, at, .. } => (at, true, episode),
        Change::Ended { episode, at } => (at, false, episode),
    };
    match ep {
        Episode::Shutdown => format!(
            "{at} shutdown_{} (vantage point)",
            if begin { "started" } else { "ended" }
        ),
        Episode::Delegation { input } => format!(
            "{at} delegation_{} {input}",
            if begin { "removed" } else { "restored" }
        ),
        Episode::Block {
            input,
            status,
            technique,
        } => format!(
            "{at} block_{} {input} ({status}{})",
            if begin { "started" } else { "ended" },
            technique.map(|t| format!(", {t}")).unwrap_or_default()
        ),
    }
}

/// Episodes still open in the store (a watch that was stopped), to resume from.
fn resume(
    store: &dyn MeasurementStore,
    errors: &mut Vec<String>,
) -> (Timeline, HashMap<String, EventId>) {
    let open = match store.open_events() {
        Ok(open) => open,
        Err(e) => {
            // Watching goes on; episodes left open by an earlier watch start afresh.
            errors.push(format!("reading the open episodes: {e}"));
            return (Timeline::default(), HashMap::new());
        }
    };
    let mut ids = HashMap::new();
    let mut episodes = Vec::new();
    for (id, e) in open {
        let ep = match e.kind {
            EventKind::ShutdownStarted => Episode::Shutdown,
            EventKind::DelegationRemoved => Episode::Delegation {
                input: e.input.clone(),
            },
            _ => Episode::Block {
                input: e.input.clone(),
                // The store keeps the technique; the status follows from it.
                status: match e.technique {
                    Some(Technique::Throughput) => Status::Throttled,
                    Some(Technique::TlsMitm) => Status::Intercepted,
                    _ => Status::Blocked,
                },
                technique: e.technique,
            },
        };
        ids.insert(key(&ep), id);
        episodes.push(ep);
    }
    if episodes.is_empty() {
        return (Timeline::default(), ids);
    }
    (Timeline::resume(episodes), ids)
}

/// Measures `targets` every round until `rounds` are done (or forever) or `stop` turns true,
/// storing every measurement and every change; `on_round` hears about each round.
pub async fn watch(
    session: &Session,
    targets: Vec<Target>,
    store: &dyn MeasurementStore,
    pace: Pace<'_>,
    rounds: Option<usize>,
    stop: watch::Receiver<bool>,
    mut on_round: impl FnMut(&Round),
) -> Vec<String> {
    let mut errors = Vec::new();
    let (mut timeline, open) = resume(store, &mut errors);
    let mut keeper = Keeper {
        store,
        pending: Vec::new(),
        open,
        errors,
        vantage: (
            session.vantage.probe_cc.clone(),
            session.vantage.probe_asn.clone(),
        ),
    };
    let began = Instant::now();
    let mut stop_wait = stop.clone();
    for index in 0.. {
        if rounds.is_some_and(|n| index >= n) || *stop.borrow() {
            break;
        }
        let at = match &pace {
            Pace::Wall { interval } => {
                let due = began + interval.saturating_mul(index as u32);
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = stop_wait.wait_for(|s| *s) => break,
                }
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
            }
            Pace::Driven { clock } => clock(index),
        };
        let run_id = store
            .begin_run(&RunInfo {
                started: at.clone(),
                software_version: env!("CARGO_PKG_VERSION").into(),
                probe_cc: session.vantage.probe_cc.clone(),
                probe_asn: session.vantage.probe_asn.clone(),
                note: format!("watch round {index} at {at}"),
            })
            .map_err(|e| keeper.errors.push(format!("round {index}: {e}")))
            .ok();
        let mut verdicts: Vec<(String, Verdict)> = Vec::new();
        let mut measured = 0;
        let mut measurements = Vec::new();
        run(session, targets.clone(), stop.clone(), |m| {
            measured += 1;
            if let Some(v) = &m.verdict {
                verdicts.push((m.input.clone(), v.clone()));
            }
            measurements.push(m.clone());
            keeper.pending.push((run_id, m));
        })
        .await;
        keeper.flush(run_id);
        let changes = timeline.round(&at, &verdicts);
        for c in &changes {
            keeper.record(c);
        }
        on_round(&Round {
            index,
            at,
            measured,
            pending: keeper.pending.len(),
            changes,
            measurements,
        });
    }
    keeper.flush(None);
    keeper.errors
}
