//! The control (test helper): OONI's Web Connectivity helper protocol at `POST /`, what it
//! accepts (`Limits`), and what measures (`ControlMeasurer`, given by the caller).

mod limits;
mod measurer;

pub use limits::Limits;
pub use measurer::{measurer_fn, ControlMeasurer, FnMeasurer};

use crate::shared::auth::Tokens;
use crate::shared::errors::{error, too_many, unauthorized, ServerError};
use crate::shared::limits::{ClientKey, FairGate, RateLimiter, Refusal};
use crate::shared::serving::{read_body, ClientAddr};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use interfero_model::ControlRequest;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

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
