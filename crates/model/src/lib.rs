//! Interfero's data model: targets, observations (OONI Web Connectivity compatible), the control
//! protocol (OONI's test-helper JSON), and verdicts. No I/O lives here.

pub mod addr;
pub mod base64;
pub mod capture;
pub mod control;
pub mod csv;
pub mod delegation;
pub mod failure;
pub mod family;
pub mod html;
pub mod incident;
pub mod measurement;
pub mod ooni;
pub mod privacy;
pub mod reachability;
pub mod scrub;
pub mod target;
pub mod trace;
pub mod verdict;

pub use control::{ControlRequest, ControlResponse};
pub use failure::Failure;
pub use family::{Family, FamilyCheck, FamilyConnect, FamilyOutcome, FamilyState, FamilyTally};
pub use measurement::{Measurement, TestKeys};
pub use reachability::{
    Canary, CanaryKind, CanaryResult, Reachability, ResolverCheck, RunEvidence,
};
pub use target::{Target, TargetError};
pub use verdict::{Status, Technique, Verdict};
