//! Interfero's servers. Today: the control, an OONI Web Connectivity test helper (`POST /` with
//! a `ControlRequest`, answered with a `ControlResponse`), so that OONI probes can use an
//! Interfero control and Interfero probes can use OONI's. The measuring itself is not here: it
//! is whatever [`ControlMeasurer`] the caller passes (the probe's test helper in production, a
//! canned answer in tests). Also a minimal collector (`POST /api/v1/measurement`) that keeps
//! submitted measurements in a [`interfero_store::MeasurementStore`].

mod collector;
mod control;
pub mod shared;

pub use shared::{auth, errors, limits};

pub use collector::collector_router;

pub use auth::Tokens;
pub use control::{
    control_router, measurer_fn, serve_control, ControlMeasurer, FnMeasurer, Limits,
    MAX_TCP_CONNECT, MAX_URL_BYTES,
};
pub use limits::Admission;

pub use shared::errors::{error, ServerError};
pub use shared::serving::{
    client_addr, default_max_connections, raise_descriptor_limit, read_body, serve, serve_with,
    tls_config, ClientAddr, ServeOptions, ServeStats,
};
