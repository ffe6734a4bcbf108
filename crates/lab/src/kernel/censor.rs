//! The kernel half of the censor: the rules in force, rendered into the censor's router
//! namespace (nftables table, tc classes, the injector's reset addresses) whenever the scenario
//! clock moves.

use super::inject::ResetSet;
use super::onpath::{OnPathRules, OnPathSet};
use super::{cmd, nft, tc};
use crate::clock::ScenarioTime;
use crate::scenario::{name_matches, rule_in_force, Action, Rule, Scenario};
use crate::LabError;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

/// The censor's kernel half: renders the rules in force into the router namespace.
pub(crate) struct Censor {
    pub(crate) router: String,
    pub(crate) scenario: Scenario,
    /// Each site's addresses (probe-side and control-side IPv4, its IPv6 if any), by
    /// lowercase name.
    pub(crate) sites: Vec<(String, BTreeSet<IpAddr>)>,
    pub(crate) resets: ResetSet,
    /// What the on-path injector at this hop reacts to.
    pub(crate) on_path: OnPathSet,
    /// The address forged DNS answers give (the blockpage server).
    pub(crate) forged: Option<Ipv4Addr>,
    pub(crate) uses_tc: bool,
    /// Serialises re-rendering when the clock moves from several threads.
    pub(crate) lock: Mutex<()>,
}

impl Censor {
    /// The addresses of the sites `r` names, of its family only when it has one.
    fn addrs_of(&self, r: &Rule) -> BTreeSet<IpAddr> {
        let m = &r.matcher;
        self.sites
            .iter()
            .filter(|(name, _)| {
                m.address
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(name))
                    || m.domain.as_deref().is_some_and(|d| name_matches(d, name))
            })
            .flat_map(|(_, addrs)| addrs.iter().copied())
            .filter(|ip| m.family.is_none_or(|f| f.holds(*ip)))
            .collect()
    }

    /// Makes the kernel do what the rules say at `t`.
    pub(crate) fn apply(&self, t: ScenarioTime) -> Result<(), LabError> {
        let _serial = self.lock.lock();
        let rules = nft::in_force(&self.scenario, t, &|r| self.addrs_of(r));
        cmd::in_ns(
            &self.router,
            "nft",
            &["-f", "-"],
            Some(&nft::render(&rules, self.scenario.packet_loss_pct)),
        )?;
        if let Ok(mut set) = self.resets.write() {
            *set = nft::reset_addrs(&rules);
        }
        if let Ok(mut on_path) = self.on_path.write() {
            *on_path = self.on_path_rules(t);
        }
        if self.uses_tc {
            // Absent the first time; an error here only means there was nothing to remove.
            let _ = cmd::in_ns(
                &self.router,
                "tc",
                &["qdisc", "del", "dev", tc::TOWARD_CLIENT, "root"],
                None,
            );
            if let Some(script) = tc::render(&rules) {
                cmd::in_ns(&self.router, "tc", &["-batch", "-"], Some(&script))?;
            }
        }
        Ok(())
    }

    /// The injections in force at `t` (rules with `at_hop`).
    fn on_path_rules(&self, t: ScenarioTime) -> OnPathRules {
        let live = || {
            self.scenario
                .rules
                .iter()
                .filter(move |r| r.at_hop && rule_in_force(r, t))
        };
        OnPathRules {
            domains: live()
                .filter(|r| r.action == Action::DnsInjection)
                .filter_map(|r| r.matcher.domain.clone())
                .collect(),
            snis: live()
                .filter(|r| r.action == Action::TlsReset)
                .filter_map(|r| r.matcher.sni.clone())
                .collect(),
            forged: self.forged,
        }
    }

    pub(crate) fn remove(&self) {
        let table: Vec<&str> = nft::TABLE.split(' ').collect();
        let mut args = vec!["delete", "table"];
        args.extend(table);
        if let Err(e) = cmd::in_ns(&self.router, "nft", &args, None) {
            tracing::warn!("lab: {e}");
        }
    }
}
