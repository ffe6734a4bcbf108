//! Interfero's servers. Today: the control, an OONI Web Connectivity test helper (`POST /` with
//! a `ControlRequest`, answered with a `ControlResponse`), so that OONI probes can use an
//! Interfero control and Interfero probes can use OONI's. The measuring itself is not here: it
//! is whatever [`ControlMeasurer`] the caller passes (the probe's test helper in production, a
//! canned answer in tests). Also a minimal collector (`POST /api/v1/measurement`) that keeps
//! submitted measurements in a [`interfero_store::MeasurementStore`].

mod collector;
mod control;

pub use collector::collector_router;

pub use control::{
    control_router, measurer_fn, serve_control, ControlMeasurer, FnMeasurer, Limits,
};

/// Why a server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Accepting or serving connections failed.
    #[error("the server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Serves any of this crate's routers (e.g. `control_router(..).merge(collector_router(..))`)
/// on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // The peer's address reaches handlers (the control hands it back for scrubbing).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(ServerError::Serve)
}
