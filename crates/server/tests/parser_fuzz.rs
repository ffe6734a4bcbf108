//! The control's request parsing under arbitrary input, at scale and without a network: the
//! router is called directly. Whatever the bytes, the answer is 200 or a 4xx with a JSON
//! error, never a panic or a 5xx. (`fuzz/` holds the same check as a cargo-fuzz target.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use axum::body::Body;
use axum::http::Request;
use interfero_model::{ControlRequest, ControlResponse};
use interfero_server::{control_router, measurer_fn, Limits, Tokens};
use proptest::prelude::*;
use std::sync::Arc;
use tower::ServiceExt;

fn router() -> axum::Router {
    let m = measurer_fn(|req: ControlRequest| async move {
        let mut r = ControlResponse::default();
        r.http_request.title = req.http_request;
        r
    });
    control_router(Arc::new(m), Limits::default(), Tokens::default())
}

fn answer(rt: &tokio::runtime::Runtime, body: Vec<u8>) -> (u16, Vec<u8>) {
    rt.block_on(async {
        let req = Request::post("/").body(Body::from(body)).unwrap();
        let resp = router().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, bytes.to_vec())
    })
}

/// JSON-shaped input: objects with the request's field names, wrong types and nesting.
fn json_like() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "\\PC{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"https://a.kz/\"".to_string()),
        Just("\"127.0.0.1:443\"".to_string()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let key = prop_oneof![
            Just("http_request"),
            Just("tcp_connect"),
            Just("http_request_headers"),
            Just("x_throughput"),
            Just("other"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key, inner), 0..6).prop_map(|kv| {
                let fields: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

fn check(status: u16, body: &[u8]) {
    assert!(matches!(status, 200 | 400 | 413), "status {status}");
    let v: serde_json::Value = serde_json::from_slice(body).expect("a JSON answer");
    if status != 200 {
        assert!(v["error"].is_string(), "{v}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_get_an_answer(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, out) = answer(&rt, body);
        check(status, &out);
    }

    #[test]
    fn json_shaped_input_gets_an_answer(text in json_like()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, out) = answer(&rt, text.into_bytes());
        check(status, &out);
    }
}
