//! Interfero's network engine: each step (DNS, TCP, TLS, HTTP) is a function that returns
//! observations in the model's types, never verdicts. `web::measure` composes the steps into a
//! Web Connectivity measurement; `helper::answer` composes the same steps into the control's view.

#![deny(missing_docs)]

pub mod adaptive;
pub mod capture;
pub mod clock;
pub mod config;
pub mod control_client;
pub mod dns;
pub mod embeds;
pub mod failure;
mod fetch;
pub mod helper;
pub mod http;
pub mod local;
pub mod reach;
pub mod schedule;
pub mod tcp;
pub mod throughput;
pub mod tls;
pub mod trace;
pub mod upload;
mod verify;
pub mod web;

pub use clock::Clock;
pub use config::{load_ca_file, ProbeConfig, ProbeError, Resolver, Timeouts, TraceSettings};
pub use control_client::{ControlClient, ControlError};
pub use fetch::chain_budget;
pub use upload::{CollectorClient, UploadError};
pub use verify::cert_info;
