//! The control's request handling on arbitrary bodies: never a panic, never a 5xx; an answer
//! that is 200 or a 4xx with a JSON error. The router is called directly (no network).
#![no_main]

use axum::body::Body;
use axum::http::Request;
use interfero_model::{ControlRequest, ControlResponse};
use interfero_server::{control_router, measurer_fn, Limits, Tokens};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let m = measurer_fn(|req: ControlRequest| async move {
        let mut r = ControlResponse::default();
        r.http_request.title = req.http_request;
        r
    });
    let router = control_router(Arc::new(m), Limits::default(), Tokens::default());
    runtime().block_on(async {
        let req = Request::post("/").body(Body::from(data.to_vec())).expect("a request");
        let resp = router.oneshot(req).await.expect("infallible");
        let status = resp.status().as_u16();
        assert!(matches!(status, 200 | 400 | 413), "status {status}");
    });
});
