//! Address families (IPv4, IPv6) as the vantage point sees them. Observations only: which
//! connects of a family completed at the vantage point, to the family's canaries and to the
//! run's other targets. Whether the vantage point has a family at all is the analysis's call.

use crate::failure::Failure;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (an IPv4-mapped IPv6 address counts as IPv4: it is dialled over IPv4).
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// The family an address is dialled over.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`, for people.
    pub fn label(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }

    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::Ipv4 => Family::Ipv6,
            Family::Ipv6 => Family::Ipv4,
        }
    }
}

/// One TCP connect of a family check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyConnect {
    /// The endpoint (`IP:PORT`, a canary of the family).
    pub endpoint: String,
    /// The TCP handshake completed.
    pub connected: bool,
    /// Why not, when it did not.
    pub failure: Option<Failure>,
}

/// Connect outcomes per family over a run's other targets: what their own records showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyTally {
    /// Connects of the checked family that completed.
    pub connected: usize,
    /// Connects of the checked family that failed on the network (not on the probe's own
    /// account).
    pub failed: usize,
    /// Connects of the other family that completed.
    pub other_connected: usize,
    /// Targets whose records went into the tally.
    pub targets: usize,
}

/// The check of one address family at the vantage point, made when every connect of that
/// family in a target's record failed: TCP to the family's canaries, and what the run's
/// other targets showed in that family so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyCheck {
    /// UTC time the check started, `YYYY-MM-DD HH:MM:SS`.
    #[serde(default)]
    pub measured_at: String,
    /// The family checked.
    pub family: Family,
    /// One connect per canary of the family (none when the probe has no such canary).
    #[serde(default)]
    pub canaries: Vec<FamilyConnect>,
    /// The run's other targets, in the checked family and the other one.
    #[serde(default)]
    pub run: FamilyTally,
}

/// What one family did for a target, as the verdict states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyState {
    /// Some connect of the family completed and the verdict's steps went on from there.
    Reached,
    /// Every connect of the family failed where the control connected, on a vantage point
    /// that reaches the family elsewhere: interference in that family.
    Blocked,
    /// Every connect of the family failed, and the vantage point has no working connectivity
    /// in that family at all (run-wide evidence): nothing about the site.
    UnavailableHere,
    /// Every connect of the family failed; whether the vantage point has the family at all
    /// is not known.
    Failed,
}

/// The verdict's statement about one address family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyOutcome {
    /// The family.
    pub family: Family,
    /// What happened in it.
    pub state: FamilyState,
    /// Why, for people.
    pub why: String,
}
