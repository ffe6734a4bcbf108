//! The delegation walk: what the zones' own authoritative servers say about a name that failed
//! at a resolver (`test_keys.x_delegation`, and the control's `x_delegation`). Observations
//! only: the analysis decides what they mean.

use crate::measurement::DnsQuery;
use serde::{Deserialize, Serialize};

/// One query of the walk: the ordinary DNS observation, plus what the authoritative server
/// said about the zone cut.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WalkStep {
    /// The zone whose servers were asked (`.` for the root, `kz.` ...).
    pub zone: String,
    /// The query and its first reply, as for every DNS query (`resolver_address` is the
    /// authoritative server asked).
    #[serde(flatten)]
    pub query: DnsQuery,
    /// Whether the reply had the AA bit (an authoritative answer, not a referral).
    pub authoritative: bool,
    /// The zone a referral delegates to, when the reply is one.
    pub referral_zone: Option<String>,
    /// Name servers of the referral (or of an NS answer).
    pub ns: Vec<String>,
    /// Glue addresses the referral carried.
    pub glue: Vec<String>,
    /// Whether the referral carried DS records (a signed delegation).
    pub ds: bool,
    /// The zone named by the SOA of a negative answer (who says the name does not exist).
    pub soa_zone: Option<String>,
}

/// What the walk found, from the last answer it got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalkOutcome {
    /// The name's own servers answered with addresses.
    Answered,
    /// The name's own servers answered authoritatively, without an address of the type asked.
    NoData,
    /// A zone answered authoritatively that the name does not exist (`nxdomain_zone` says
    /// which: the registry's zone when the delegation is gone).
    Nxdomain,
    /// A parent delegates the name, but none of the delegated servers answers it
    /// authoritatively (timeout, refusal, SERVFAIL, an upward referral): a lame delegation.
    Lame,
    /// The walk could not get that far (root or parent unreachable, a bound reached).
    #[default]
    Incomplete,
}

impl WalkOutcome {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WalkOutcome::Answered => "answered",
            WalkOutcome::NoData => "no_data",
            WalkOutcome::Nxdomain => "nxdomain",
            WalkOutcome::Lame => "lame",
            WalkOutcome::Incomplete => "incomplete",
        }
    }
}

/// A walk of the delegation from the root hints down to the name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DelegationWalk {
    /// The name walked (as asked, without the final dot).
    pub hostname: String,
    /// What the walk found.
    pub outcome: WalkOutcome,
    /// The zone that answered NXDOMAIN authoritatively (outcome `nxdomain`).
    pub nxdomain_zone: Option<String>,
    /// The deepest zone that delegated toward the name (`kz.` for `news.kz` when `kz.` no
    /// longer delegates `news.kz.`; `news.kz.` itself when it is delegated).
    pub last_delegation: Option<String>,
    /// The servers of the last delegation (outcome `lame`: those that did not answer).
    pub delegated_ns: Vec<String>,
    /// Which bound stopped the walk, if one did (`depth`, `queries`, `time`).
    pub limit: Option<String>,
    /// Every query of the walk, in order.
    pub steps: Vec<WalkStep>,
}

/// How many labels a zone name has (`.` → 0, `kz.` → 1, `news.kz.` → 2).
pub fn zone_depth(zone: &str) -> usize {
    zone.trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_flattens_the_query() {
        let w = DelegationWalk {
            hostname: "news.kz".into(),
            outcome: WalkOutcome::Nxdomain,
            nxdomain_zone: Some("kz.".into()),
            steps: vec![WalkStep {
                zone: "kz.".into(),
                query: DnsQuery {
                    hostname: "news.kz".into(),
                    query_type: "NS".into(),
                    ..DnsQuery::default()
                },
                authoritative: true,
                ..WalkStep::default()
            }],
            ..DelegationWalk::default()
        };
        let j = serde_json::to_value(&w).unwrap();
        assert_eq!(j["outcome"], "nxdomain");
        assert_eq!(j["steps"][0]["query_type"], "NS");
        let back: DelegationWalk = serde_json::from_value(j).unwrap();
        assert_eq!(back, w);
        assert_eq!(zone_depth("."), 0);
        assert_eq!(zone_depth("kz."), 1);
        assert_eq!(zone_depth("news.kz"), 2);
    }
}
