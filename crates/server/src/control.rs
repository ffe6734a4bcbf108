//! The control (test helper) endpoint and its limits.

use crate::auth::Tokens;
use crate::limits::{Admission, ClientKey, FairGate, RateLimiter, Refusal};
pub(crate) use crate::serving::error;
use crate::serving::{read_body, ClientAddr};
use crate::ServerError;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use interfero_model::{ControlRequest, ControlResponse};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// How long a client may take to send its body (408 beyond).
    pub body_timeout: Duration,
    /// Measurements at once, per client and in total, and each client's request rate.
    pub admission: Admission,
    /// How long a request may take, waiting included, before it gets 504.
    pub deadline: Duration,
}

impl Default for Limits {
    /// 64 KiB bodies sent within 10 s; 32 measurements at once, 8 of them for one client
    /// with 32 more waiting; 20 requests a second per client after a burst of 100; 30 s per
    /// request.
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            body_timeout: Duration::from_secs(10),
            admission: Admission {
                max_concurrent: 32,
                per_client_concurrent: 8,
                per_client_queue: 32,
                rate_per_sec: 20.0,
                burst: 100.0,
            },
            deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Clone)]
struct AppState {
    measurer: Arc<dyn ControlMeasurer>,
    gate: Arc<FairGate>,
    rate: Arc<RateLimiter>,
    tokens: Tokens,
    limits: Limits,
}

const ABOUT: &str = "Interfero control: an OONI Web Connectivity test helper.\n\
POST / with a JSON control request (http_request, http_request_headers, tcp_connect);\n\
the answer is what this vantage point sees. GET /health for liveness.\n";

/// Most `tcp_connect` entries one request may carry (the control measures at most 16).
pub const MAX_TCP_CONNECT: usize = 64;

/// Longest `http_request` URL accepted.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The control's routes: `POST /` (measure), `GET /` (what this is), `GET /health`. With
/// `tokens`, `POST /` needs one of them as a bearer token.
pub fn control_router(m: Arc<dyn ControlMeasurer>, limits: Limits, tokens: Tokens) -> Router {
    let a = limits.admission;
    let state = AppState {
        measurer: m,
        gate: FairGate::new(
            a.max_concurrent,
            a.per_client_concurrent,
            a.per_client_queue,
        ),
        rate: Arc::new(RateLimiter::new(a.rate_per_sec, a.burst)),
        tokens,
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
    let router = control_router(m, limits, Tokens::default());
    crate::serve(listener, router, shutdown).await
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

/// 429 with `Retry-After`.
pub(crate) fn too_many(r: Refusal) -> Response {
    let secs = r.retry_after_secs();
    let msg = match r {
        Refusal::Rate(_) => format!("too many requests from your address; retry in {secs} s"),
        Refusal::Queue => "too many of your requests are waiting; retry later".to_string(),
    };
    let mut resp = error(StatusCode::TOO_MANY_REQUESTS, msg);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    resp
}

/// 401 asking for a bearer token.
pub(crate) fn unauthorized() -> Response {
    let mut resp = error(
        StatusCode::UNAUTHORIZED,
        "this server needs a bearer token (Authorization: Bearer ...)".into(),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    resp
}

async fn control(State(state): State<AppState>, req: Request) -> Response {
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip())
        });
    let key = ClientKey::of(client.unwrap_or(IpAddr::from([0, 0, 0, 0])));
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !state.tokens.admits(auth) {
        return unauthorized();
    }
    if let Err(wait) = state.rate.check(key, tokio::time::Instant::now()) {
        return too_many(Refusal::Rate(wait));
    }
    // Like OONI's helper, any content type is accepted: only the body's JSON matters.
    let limits = state.limits;
    let body = match read_body(req.into_body(), limits.max_body_bytes, limits.body_timeout).await {
        Ok(b) => b,
        Err(resp) => return resp,
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
    if creq.http_request.len() > MAX_URL_BYTES || creq.tcp_connect.len() > MAX_TCP_CONNECT {
        let msg = format!(
            "http_request longer than {MAX_URL_BYTES} bytes or more than {MAX_TCP_CONNECT} tcp_connect entries"
        );
        return error(StatusCode::BAD_REQUEST, msg);
    }
    let measure = async {
        let _slot = match state.gate.acquire(key).await {
            Ok(s) => s,
            Err(r) => return Err(too_many(r)),
        };
        Ok(state.measurer.answer(creq).await)
    };
    match tokio::time::timeout(limits.deadline, measure).await {
        Ok(Ok(mut resp)) => {
            resp.x_client_address = client.map(|ip| ip.to_string());
            Json(resp).into_response()
        }
        Ok(Err(refused)) => refused,
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("measurement took longer than {:?}", limits.deadline),
        ),
    }
}
