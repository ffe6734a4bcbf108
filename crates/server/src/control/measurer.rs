//! What measures a control request: the caller's (the probe's test helper in production, a
//! canned answer in tests), so that no measurement logic lives in the server.

use interfero_model::{ControlRequest, ControlResponse};
use std::future::Future;
use std::pin::Pin;

/// Whatever measures a control request from this vantage point.
pub trait ControlMeasurer: Send + Sync + 'static {
    /// Measures what the request asks for and reports what was seen.
    fn answer(&self, req: ControlRequest) -> Pin<Box<dyn Future<Output = ControlResponse> + Send>>;
}

/// A [`ControlMeasurer`] made from an async function (see [`measurer_fn`]).
pub struct FnMeasurer<F>(F);

/// Turns `|req| async { ... }` into a [`ControlMeasurer`], e.g. to wrap the probe's helper.
pub fn measurer_fn<F, Fut>(f: F) -> FnMeasurer<F>
where
    F: Fn(ControlRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ControlResponse> + Send + 'static,
{
    FnMeasurer(f)
}

impl<F, Fut> ControlMeasurer for FnMeasurer<F>
where
    F: Fn(ControlRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ControlResponse> + Send + 'static,
{
    fn answer(&self, req: ControlRequest) -> Pin<Box<dyn Future<Output = ControlResponse> + Send>> {
        Box::pin((self.0)(req))
    }
}
