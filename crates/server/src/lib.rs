//! Interfero's servers. Today: the control, an OONI Web Connectivity test helper (`POST /` with
//! a `ControlRequest`, answered with a `ControlResponse`), so that OONI probes can use an
//! Interfero control and Interfero probes can use OONI's. The measuring itself is not here: it
//! is whatever [`ControlMeasurer`] the caller passes (the probe's test helper in production, a
//! canned answer in tests). And the collector ([`collector`]): OONI's probe-services protocol,
//! durable acknowledgements with group commit, every submission judged here. The explorer
//! ([`explorer::router`]) and an API in OONI's shapes ([`api::router`]) read any store.

pub mod api;
pub mod collector;
mod control;
pub mod explorer;
pub mod shared;

pub use shared::{auth, errors, limits};

pub use collector::{collector_router, CollectorConfig, Ingest, ReportIds};

pub use auth::Tokens;
pub use control::{
    control_router, measurer_fn, serve_control, ControlMeasurer, FnMeasurer, Limits,
    MAX_TCP_CONNECT, MAX_URL_BYTES,
};
pub use limits::Admission;
/// The TLS configuration a server is given (`tls_config`'s result).
pub use rustls::ServerConfig as TlsConfig;

pub use shared::errors::{error, ServerError};
pub use shared::serving::{
    client_addr, default_max_connections, raise_descriptor_limit, read_body, serve, serve_with,
    tls_config, ClientAddr, ServeOptions, ServeStats,
};
