//! Interfero's servers. Today: the control, an OONI Web Connectivity test helper (`POST /` with
//! a `ControlRequest`, answered with a `ControlResponse`), so that OONI probes can use an
//! Interfero control and Interfero probes can use OONI's. The measuring itself is not here: it
//! is whatever [`ControlMeasurer`] the caller passes (the probe's test helper in production, a
//! canned answer in tests).

mod control;

pub use control::{
    control_router, measurer_fn, serve_control, ControlMeasurer, FnMeasurer, Limits,
};

/// Why a server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Accepting or serving connections failed.
    #[error("the control server failed: {0}")]
    Serve(#[source] std::io::Error),
}
