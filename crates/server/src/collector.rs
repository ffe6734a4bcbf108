//! A minimal collector: probes submit measurements, the store keeps them.

use crate::shared::errors::error;
use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use interfero_model::Measurement;
use interfero_store::{MeasurementStore, RunId};
use std::sync::Arc;

#[derive(Clone)]
struct Collector {
    store: Arc<dyn MeasurementStore>,
    run: RunId,
    max_body_bytes: usize,
}

/// `POST /api/v1/measurement`: one measurement (the JSON of one `--out` line), stored under
/// `run`; answers 201 with `{"measurement_id": N}`. Bodies over `max_body_bytes` get 413.
pub fn collector_router(
    store: Arc<dyn MeasurementStore>,
    run: RunId,
    max_body_bytes: usize,
) -> Router {
    let state = Collector {
        store,
        run,
        max_body_bytes,
    };
    Router::new()
        .route("/api/v1/measurement", post(submit))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn submit(State(c): State<Collector>, req: Request) -> Response {
    let Ok(body) = to_bytes(req.into_body(), c.max_body_bytes).await else {
        let msg = format!("measurement larger than {} bytes", c.max_body_bytes);
        return error(StatusCode::PAYLOAD_TOO_LARGE, msg);
    };
    let mut m: Measurement = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid measurement: {e}")),
    };
    if m.input.is_empty() || m.test_name.is_empty() {
        let msg = "a measurement needs `input` and `test_name`".to_string();
        return error(StatusCode::BAD_REQUEST, msg);
    }
    // Never keep a submitter's address, whatever the probe sent: Interfero tracks no one.
    m.probe_ip = "127.0.0.1".to_string();
    // SQLite blocks; keep it off the async workers.
    let stored = tokio::task::spawn_blocking(move || c.store.insert(c.run, &m)).await;
    match stored {
        Ok(Ok(id)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "measurement_id": id })),
        )
            .into_response(),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("not stored: {e}"),
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not stored: the storage task failed".into(),
        ),
    }
}
