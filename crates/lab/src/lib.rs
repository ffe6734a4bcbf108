//! Interfero's lab: a censor with known rules, so that the probe can be scored against ground
//! truth. A [`Scenario`] (TOML) lists sites, censor rules and the expected verdict of every
//! target; a [`World`] runs it in userspace on a private loopback block, or inside Linux network
//! namespaces behind a kernel censor ([`KernelNet`]); [`score`] compares verdicts with the truth. See `README.md` and `scenarios/README.md`.

mod action;
mod authority;
pub mod bench;
mod censor;
pub mod clock;
mod conn;
pub mod content;
mod dns;
mod error;
pub mod http;
pub mod kernel;
mod kind;
mod pki;
mod rtt;
pub mod scenario;
pub mod score;
mod tasks;
mod util;
mod validate;
mod world;

pub use clock::ScenarioTime;
pub use error::LabError;
pub use kernel::{KernelNet, KernelOptions};
pub use kind::WorldKind;
pub use scenario::{Expectation, LabService, LabTarget, Scenario, VantageIpv6};
pub use world::{
    Placement, ShutdownSwitch, World, BLOCKPAGE_URL, CANARY_NAME, DNS_PORT, HTTPS_PORT, HTTP_PORT,
};
