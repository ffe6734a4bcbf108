//! HTTP/2 chosen by ALPN, end to end over TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;

#[tokio::test]
async fn speaks_h2_when_the_server_picks_it() {
    let pki = Pki::new("Lab CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let addr = tcp_server("127.0.0.1", move |s| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(tls) = acceptor.accept(s).await else {
                return;
            };
            let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let body = format!("<title>h2 {}</title>", req.uri().path());
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                    bytes::Bytes::from(body),
                )))
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        }
    })
    .await;
    let mut c = cfg(resolver_to("127.0.0.1").await);
    c.extra_roots = vec![pki.ca_der.clone()];
    let tk =
        interfero_probe::web::measure(&c, &format!("https://site.test:{}/x", addr.port()), None)
            .await;
    assert_eq!(tk.http_experiment_failure, None);
    assert_eq!(
        tk.tls_handshakes[0].negotiated_protocol.as_deref(),
        Some("h2")
    );
    assert_eq!(tk.requests[0].alpn.as_deref(), Some("h2"));
    assert_eq!(tk.requests[0].response.code, 200);
    assert_eq!(tk.requests[0].response.x_title.as_deref(), Some("h2 /x"));
}
