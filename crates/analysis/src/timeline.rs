//! Verdicts over time → episodes: a block begins or ends for a target, the vantage point goes
//! offline or comes back. Pure: the caller gives each round's time (wall clock or a lab's
//! scenario clock) and verdicts, and stores the changes.

use interfero_model::{Status, Technique, Verdict};
use std::collections::BTreeMap;

/// What an episode is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Episode {
    /// One target is interfered with (blocked, throttled or intercepted), by this technique.
    Block {
        /// The target (URL).
        input: String,
        /// The status that opened it.
        status: Status,
        /// The first technique named, if any.
        technique: Option<Technique>,
    },
    /// The vantage point reaches nothing (or only its own country).
    Shutdown,
    /// The registry no longer delegates the target's name (`dns.delegation_removed`): a
    /// suspension, dated by the round that first saw it and the one that saw it restored.
    Delegation {
        /// The target (URL).
        input: String,
    },
}

/// A change between two rounds.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An episode began at `at` (the first round that saw it).
    Began {
        /// Which.
        episode: Episode,
        /// The round's time.
        at: String,
        /// Why: the verdict's rule and first evidence, or "already ... when watching began".
        evidence: Vec<String>,
    },
    /// An episode ended at `at` (the first round that no longer saw it).
    Ended {
        /// Which.
        episode: Episode,
        /// The round's time.
        at: String,
    },
}

/// The state carried from round to round.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    open: BTreeMap<String, Episode>,
    removed: BTreeMap<String, Episode>,
    offline: bool,
    rounds: usize,
}

fn interfered(v: &Verdict) -> bool {
    matches!(
        v.status,
        Status::Blocked | Status::Throttled | Status::Intercepted
    )
}

impl Timeline {
    /// A timeline that resumes with these episodes still open (e.g. read back from a store).
    pub fn resume(open: Vec<Episode>) -> Timeline {
        let mut t = Timeline::default();
        for e in open {
            match &e {
                Episode::Shutdown => t.offline = true,
                Episode::Block { input, .. } => {
                    t.open.insert(input.clone(), e.clone());
                }
                Episode::Delegation { input } => {
                    t.removed.insert(input.clone(), e.clone());
                }
            }
        }
        t.rounds = 1;
        t
    }

    /// Takes one round's verdicts (target URL, verdict) made at `at`; returns what changed.
    /// A target that is `down`, `inconclusive` or `offline` this round keeps its episode: an
    /// outage says nothing about whether the block behind it still stands.
    pub fn round(&mut self, at: &str, verdicts: &[(String, Verdict)]) -> Vec<Change> {
        let first = self.rounds == 0;
        self.rounds += 1;
        let mut out = Vec::new();
        let offline = verdicts
            .iter()
            .filter(|(_, v)| v.status == Status::Offline)
            .count();
        // Offline when most targets of the round say so: one stray verdict is not a shutdown.
        let now_offline = offline * 2 > verdicts.len();
        if now_offline != self.offline {
            self.offline = now_offline;
            out.push(if now_offline {
                let ev = verdicts
                    .iter()
                    .find(|(_, v)| v.status == Status::Offline)
                    .map(|(_, v)| v.evidence.iter().take(2).cloned().collect())
                    .unwrap_or_default();
                Change::Began {
                    episode: Episode::Shutdown,
                    at: at.into(),
                    evidence: ev,
                }
            } else {
                Change::Ended {
                    episode: Episode::Shutdown,
                    at: at.into(),
                }
            });
        }
        for (input, v) in verdicts {
            self.delegation(at, first, input, v, &mut out);
            let was = self.open.get(input).cloned();
            let now = interfered(v).then(|| Episode::Block {
                input: input.clone(),
                status: v.status,
                technique: v.techniques.first().copied(),
            });
            let settled = interfered(v) || v.status == Status::Accessible;
            if !settled || was == now {
                continue;
            }
            if let Some(e) = was {
                self.open.remove(input);
                out.push(Change::Ended {
                    episode: e,
                    at: at.into(),
                });
            }
            if let Some(e) = now {
                let mut evidence: Vec<String> = v.rules.iter().take(1).cloned().collect();
                evidence.extend(v.evidence.iter().take(2).cloned());
                if first {
                    evidence.insert(0, "already so when watching began".into());
                }
                self.open.insert(input.clone(), e.clone());
                out.push(Change::Began {
                    episode: e,
                    at: at.into(),
                    evidence,
                });
            }
        }
        out
    }

    /// A removed delegation begins when a verdict names it, and ends (restored) when a
    /// settled verdict no longer does; `inconclusive` and `offline` rounds say nothing.
    fn delegation(
        &mut self,
        at: &str,
        first: bool,
        input: &str,
        v: &Verdict,
        out: &mut Vec<Change>,
    ) {
        let removed = v.techniques.contains(&Technique::DnsDelegationRemoved);
        let settled = !matches!(v.status, Status::Inconclusive | Status::Offline);
        let open = self.removed.contains_key(input);
        if removed && !open {
            let episode = Episode::Delegation {
                input: input.to_string(),
            };
            let mut evidence: Vec<String> = v.rules.iter().take(1).cloned().collect();
            evidence.extend(v.evidence.iter().take(2).cloned());
            if first {
                evidence.insert(0, "already so when watching began".into());
            }
            self.removed.insert(input.to_string(), episode.clone());
            out.push(Change::Began {
                episode,
                at: at.into(),
                evidence,
            });
        } else if !removed && settled && open {
            if let Some(episode) = self.removed.remove(input) {
                out.push(Change::Ended {
                    episode,
                    at: at.into(),
                });
            }
        }
    }

    /// The episodes open now.
    pub fn open(&self) -> Vec<Episode> {
        let mut v: Vec<Episode> = self.open.values().cloned().collect();
        v.extend(self.removed.values().cloned());
        if self.offline {
            v.push(Episode::Shutdown);
        }
        v
    }
}
