//! What goes wrong, in one place: why a server stops (`ServerError`) and the JSON error answers
//! every router of this crate gives (`{"error": "..."}`, 429 with `Retry-After`, 401 asking for
//! a bearer token).

use crate::shared::limits::Refusal;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Accepting or serving connections failed.
    #[error("the server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error("cannot use the TLS {what} {path}: {reason}")]
    Tls {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A JSON error answer: `{"error": message}`.
pub fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
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
