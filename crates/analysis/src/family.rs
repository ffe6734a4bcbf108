//! Address families: a site is judged per family (IPv4, IPv6), knowing whether the vantage
//! point has the family at all. A family whose every connect failed says nothing about the
//! site when the vantage point reaches nothing in that family (broken or absent IPv6 is
//! common); it is interference in that family when the vantage point reaches the family
//! elsewhere and the control connected to the same addresses.

use crate::facts::Facts;
use crate::steps::tcp_technique;
use interfero_model::{Failure, Family, FamilyCheck, FamilyOutcome, FamilyState, Status, Verdict};

/// The vantage point's connectivity in one family, from run-wide evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Capability {
    /// Something in the family connected at the vantage point: the line says what.
    Works(String),
    /// Nothing in the family connects at the vantage point while the other family does.
    Lacks(String),
    /// The evidence does not decide.
    Unknown(String),
}

/// What one target's own connects showed in one family.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyFacts {
    /// The family.
    pub family: Family,
    /// Connects tried (those that failed on the probe's own account are not counted).
    pub tried: usize,
    /// Connects that completed.
    pub connected: usize,
    /// The failed connects: endpoint, failure, and whether the control connected there
    /// (`None`: the control did not try).
    pub failures: Vec<(String, Failure, Option<bool>)>,
}

impl FamilyFacts {
    /// Every connect tried in the family failed.
    pub fn all_failed(&self) -> bool {
        self.tried > 0 && self.connected == 0
    }
}

/// The target's connects per family, in family order, only the families tried.
pub fn per_family(f: &Facts) -> Vec<FamilyFacts> {
    let mut out: Vec<FamilyFacts> = Vec::new();
    for a in f.addrs.iter() {
        let Some(outcome) = &a.probe_tcp else {
            continue;
        };
        let family = Family::of(a.ip);
        let i = match out.iter().position(|x| x.family == family) {
            Some(i) => i,
            None => {
                out.push(FamilyFacts {
                    family,
                    tried: 0,
                    connected: 0,
                    failures: Vec::new(),
                });
                out.len() - 1
            }
        };
        let Some(ff) = out.get_mut(i) else { continue };
        ff.tried += 1;
        match outcome {
            None => ff.connected += 1,
            Some(fl) => ff.failures.push((
                a.endpoint.clone(),
                fl.clone(),
                a.control_tcp.map(|c| c.status),
            )),
        }
    }
    out.sort_by_key(|x| x.family);
    out
}

/// Judges a family check with the target's own connects: does the vantage point have the
/// family. `own_other` is whether the target itself connected in the other family.
pub fn capability(c: &FamilyCheck, own_other: bool) -> Capability {
    let fam = c.family.label();
    let other = c.family.other().label();
    let reached = c.canaries.iter().filter(|x| x.connected).count();
    if reached > 0 {
        return Capability::Works(format!(
            "{reached} of {} {fam} canaries connected at {}",
            c.canaries.len(),
            c.measured_at
        ));
    }
    if c.run.connected > 0 {
        return Capability::Works(format!(
            "{} {fam} connect(s) of the run's other targets completed",
            c.run.connected
        ));
    }
    let tries = c.canaries.len() + c.run.failed;
    if tries == 0 {
        return Capability::Unknown(format!(
            "no {fam} canary and no other {fam} connect in the run to tell"
        ));
    }
    if !own_other && c.run.other_connected == 0 {
        return Capability::Unknown(format!(
            "no {other} connect completed either: whether {fam} alone is missing is not known"
        ));
    }
    let no_route = !c.canaries.is_empty()
        && c.canaries
            .iter()
            .all(|x| x.failure == Some(Failure::NetworkUnreachable));
    let seen = format!(
        "{} {fam} canar{} and {} {fam} connect(s) of {} other target(s) of the run all failed, \
         while {other} connected",
        c.canaries.len(),
        if c.canaries.len() == 1 { "y" } else { "ies" },
        c.run.failed,
        c.run.targets
    );
    if no_route {
        Capability::Lacks(format!(
            "no {fam} at the vantage point (no route: network_unreachable at once): {seen}"
        ))
    } else {
        Capability::Lacks(format!("{fam} broken at the vantage point: {seen}"))
    }
}

/// The vantage point's capability in `family`, from the target's checks (the last one of the
/// family decides); `Unknown` without a check.
pub fn capability_of(f: &Facts, family: Family, own_other: bool) -> Capability {
    f.tk.x_family_checks
        .iter()
        .rev()
        .find(|c| c.family == family)
        .map(|c| capability(c, own_other))
        .unwrap_or_else(|| {
            Capability::Unknown(format!(
                "no check of {} at the vantage point was made",
                family.label()
            ))
        })
}

/// The families the vantage point lacks (run-wide evidence), with why: their failures say
/// nothing about the site.
pub fn lacking(f: &Facts) -> Vec<(Family, String)> {
    let fams = per_family(f);
    fams.iter()
        .filter(|x| x.all_failed())
        .filter_map(|x| {
            let own_other = fams.iter().any(|o| o.family != x.family && o.connected > 0);
            match capability_of(f, x.family, own_other) {
                Capability::Lacks(why) => Some((x.family, why)),
                _ => None,
            }
        })
        .collect()
}

/// States per family what happened, when some family failed entirely, and turns an
/// `accessible` verdict into `blocked` for a family blocked alone on a vantage point that
/// reaches that family elsewhere (the control connecting to the same addresses).
pub fn apply(v: Verdict, f: &Facts) -> Verdict {
    let fams = per_family(f);
    if !fams.iter().any(FamilyFacts::all_failed) {
        return v;
    }
    let mut v = v;
    let mut outcomes = Vec::new();
    let mut blocked: Option<Verdict> = None;
    for x in &fams {
        let fam = x.family.label();
        if !x.all_failed() {
            outcomes.push(FamilyOutcome {
                family: x.family,
                state: FamilyState::Reached,
                why: format!("{} of {} {fam} connect(s) completed", x.connected, x.tried),
            });
            continue;
        }
        let own_other = fams.iter().any(|o| o.family != x.family && o.connected > 0);
        let failed: Vec<String> = x
            .failures
            .iter()
            .map(|(ep, fl, _)| format!("{ep}: {fl}"))
            .collect();
        let control_connected = x.failures.iter().any(|(_, _, c)| *c == Some(true));
        let (state, why) = match capability_of(f, x.family, own_other) {
            Capability::Lacks(why) => (
                FamilyState::UnavailableHere,
                format!("{fam} unavailable at the vantage point, not the site's: {why}"),
            ),
            Capability::Works(why) if own_other && control_connected => {
                let mut b = Verdict::new(Status::Blocked, 0.85, "tcp.failure.family_only");
                for (_, fl, c) in &x.failures {
                    if *c == Some(true) {
                        b.add(tcp_technique(fl));
                    }
                }
                b.evidence.push(format!(
                    "every {fam} connect failed ({}) while the control connected there; the \
                     vantage point reaches {fam} elsewhere ({why}); over {} the site was reached",
                    failed.join(", "),
                    x.family.other().label()
                ));
                blocked = Some(b);
                (
                    FamilyState::Blocked,
                    format!("blocked over {fam}: {}; {why}", failed.join(", ")),
                )
            }
            Capability::Works(why) => (
                FamilyState::Failed,
                format!(
                    "every {fam} connect failed ({}) though the vantage point reaches {fam} \
                     ({why}); the control did not connect there either",
                    failed.join(", ")
                ),
            ),
            Capability::Unknown(why) => (
                FamilyState::Failed,
                format!(
                    "every {fam} connect failed ({}); whether the vantage point has {fam} is \
                     not known ({why})",
                    failed.join(", ")
                ),
            ),
        };
        outcomes.push(FamilyOutcome {
            family: x.family,
            state,
            why,
        });
    }
    if let Some(mut b) = blocked.filter(|_| v.status == Status::Accessible) {
        b.evidence.extend(std::mem::take(&mut v.evidence));
        v = b;
    }
    for o in &outcomes {
        v.evidence.push(format!("{}: {}", o.family.label(), o.why));
    }
    v.x_families = outcomes;
    v
}
