//! Registry or resolver: a name that fails at the probe's resolver is judged by what the
//! zones' own servers said in the delegation walk (`x_delegation`), the control's walk first
//! (it is made from outside the network, so the network cannot have forged it).
//!
//! - the registry's zone (the root or a top-level zone) answers NXDOMAIN for the name: the
//!   parent no longer delegates it → `down`, `dns.delegation_removed`;
//! - the name is delegated (below the top level) but none of its servers answers it: a lame
//!   delegation, the publisher's fault → `down`, `dns.delegation_broken`;
//! - the name's own servers answer: nothing here; the resolver's failure is judged by the
//!   DNS step (`blocked`, `dns.nxdomain` ...), and this walk is named in its evidence.
//!
//! Limit: "the registry" is the top-level zone; a second-level registry (`com.kz`) that is a
//! zone of its own is read as a publisher's zone.

use crate::facts::Facts;
use interfero_model::delegation::{zone_depth, DelegationWalk, WalkOutcome};
use interfero_model::{Failure, Status, Technique, Verdict};

/// The failures a walk explains.
fn walkable(f: Option<&Failure>) -> bool {
    matches!(
        f,
        Some(Failure::DnsNxdomain | Failure::DnsNoAnswer | Failure::DnsServfail)
    )
}

/// The walk to judge by, and whether it was the control's.
fn walk_of<'a>(f: &Facts<'a>) -> Option<(&'a DelegationWalk, bool)> {
    let usable = |w: &&DelegationWalk| w.outcome != WalkOutcome::Incomplete;
    if let Some(w) = f
        .control
        .and_then(|c| c.x_delegation.as_ref())
        .filter(usable)
    {
        return Some((w, true));
    }
    f.tk.x_delegation
        .as_ref()
        .filter(usable)
        .map(|w| (w, false))
}

fn who(control: bool) -> &'static str {
    if control {
        "the control's walk"
    } else {
        "the probe's walk"
    }
}

/// A delegation verdict for a name the probe's resolver failed, when the walk names the
/// layer at fault; `None` otherwise (the other rules decide).
pub fn judge(f: &Facts) -> Option<Verdict> {
    if !walkable(f.dns.failure.as_ref()) {
        return None;
    }
    let (w, by_control) = walk_of(f)?;
    let resolver = f
        .dns
        .failure
        .as_ref()
        .map(Failure::as_str)
        .unwrap_or("no answer");
    let (technique, rule, why) = match w.outcome {
        WalkOutcome::Nxdomain => {
            let zone = w.nxdomain_zone.as_deref().unwrap_or(".");
            if zone_depth(zone) > 1 || zone_depth(&w.hostname) < 2 {
                return None;
            }
            (
                Technique::DnsDelegationRemoved,
                "dns.delegation.removed",
                format!(
                    "{}: the servers of {zone} answer NXDOMAIN for {}: the registry no longer delegates the name",
                    who(by_control),
                    w.hostname
                ),
            )
        }
        WalkOutcome::Lame => {
            let zone = w.last_delegation.as_deref().unwrap_or(".");
            if zone_depth(zone) < 2 {
                return None;
            }
            (
                Technique::DnsDelegationBroken,
                "dns.delegation.lame",
                format!(
                    "{}: {zone} is delegated to {:?}, and none of them answers for {}",
                    who(by_control),
                    w.delegated_ns,
                    w.hostname
                ),
            )
        }
        _ => return None,
    };
    let control_failed = f.control.is_some_and(|c| c.dns.failure.is_some());
    let (status, confidence) = match (f.control.is_some(), by_control) {
        // Without a control the walk was made through the network under test: name it, but
        // do not conclude (CONTRACT: verdicts that need a control are inconclusive).
        (false, _) => (Status::Inconclusive, 0.5),
        (true, true) => (Status::Down, 0.9),
        (true, false) => (Status::Down, 0.7),
    };
    let mut v = Verdict::new(status, confidence, rule)
        .with(technique)
        .because(why)
        .because(format!("probe's resolver: {resolver}"));
    if f.control.is_some() {
        v = v.because(if control_failed {
            "the control's resolver fails the name too".to_string()
        } else {
            "the control's resolver still gives addresses (a cached answer)".to_string()
        });
    }
    Some(v)
}

/// Names an intact delegation in the evidence of a verdict on a resolver's failure: the
/// name's own servers answer, so the resolver's word is its own.
pub fn annotate(v: &mut Verdict, f: &Facts) {
    if !walkable(f.dns.failure.as_ref()) {
        return;
    }
    if let Some((w, by_control)) = walk_of(f) {
        if matches!(w.outcome, WalkOutcome::Answered | WalkOutcome::NoData) {
            v.evidence.push(format!(
                "{}: {} is delegated ({}) and its servers answer it",
                who(by_control),
                w.hostname,
                w.last_delegation.as_deref().unwrap_or(".")
            ));
        }
    }
}
