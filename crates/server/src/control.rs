//! The control (test helper) endpoint and its limits.

use crate::ServerError;
use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use interfero_model::{ControlRequest, ControlResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

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

/// What one control server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// How many measurements run at once; further requests wait their turn (at least 1).
    pub max_concurrent: usize,
    /// How long a request may take, waiting included, before it gets 504.
    pub deadline: Duration,
}

impl Default for Limits {
    /// 64 KiB bodies, 16 measurements at once, 30 s per request.
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_concurrent: 16,
            deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
struct AppState {
    measurer: Arc<dyn ControlMeasurer>,
    permits: Arc<Semaphore>,
    limits: Limits,
}

const ABOUT: &str = "Interfero control: an OONI Web Connectivity test helper.\n\
POST / with a JSON control request (http_request, http_request_headers, tcp_connect);\n\
the answer is what this vantage point sees. GET /health for liveness.\n";

/// The control's routes: `POST /` (measure), `GET /` (what this is), `GET /health`.
pub fn control_router(m: Arc<dyn ControlMeasurer>, limits: Limits) -> Router {
    let state = AppState {
        measurer: m,
        // A zero limit would make every request wait forever.
        permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
        limits,
    };
    Router::new()
        .route("/", get(about).post(control))
        .route("/health", get(health))
        .fallback(not_found)
        // The handler reads the body itself, with the same cap.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(state)
}

/// Serves the control on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn serve_control(
    listener: tokio::net::TcpListener,
    m: Arc<dyn ControlMeasurer>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    crate::serve(listener, control_router(m, limits), shutdown).await
}

async fn about() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], ABOUT)
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; POST / for the control".into(),
    )
}

pub(crate) fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn control(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    // Like OONI's helper, any content type is accepted: only the body's JSON matters.
    let body = match to_bytes(req.into_body(), state.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let msg = format!(
                "request body larger than {} bytes, or not fully received",
                state.limits.max_body_bytes
            );
            return error(StatusCode::PAYLOAD_TOO_LARGE, msg);
        }
    };
    let creq: ControlRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid control request: {e}"),
            )
        }
    };
    let measure = async {
        // The semaphore is never closed, so acquiring fails only in theory.
        let _permit = state.permits.acquire().await.ok()?;
        Some(state.measurer.answer(creq).await)
    };
    match tokio::time::timeout(state.limits.deadline, measure).await {
        Ok(Some(mut resp)) => {
            resp.x_client_address = peer;
            Json(resp).into_response()
        }
        Ok(None) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the control is shutting down".into(),
        ),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("measurement took longer than {:?}", state.limits.deadline),
        ),
    }
}
