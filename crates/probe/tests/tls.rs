//! TCP and TLS steps against loopback servers that misbehave in the ways censors do.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;

use common::*;
use interfero_model::Failure;
use interfero_probe::{tcp, tls, Clock, ProbeConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

async fn handshake(
    c: &ProbeConfig,
    addr: SocketAddr,
    sni: &str,
) -> interfero_model::measurement::TlsHandshake {
    let clock = Clock::start();
    let (obs, stream) = tcp::connect(c, addr, &clock).await;
    assert!(obs.status.success, "{obs:?}");
    let (hs, tls) = tls::handshake(c, stream.unwrap(), sni, &clock).await;
    assert_eq!(
        tls.is_some(),
        hs.failure.is_none(),
        "a stream only when valid"
    );
    hs
}

fn trusting(pki: &Pki) -> ProbeConfig {
    let mut c = cfg(no_dns());
    c.extra_roots = vec![pki.ca_der.clone()];
    c
}

#[tokio::test]
async fn tcp_refused_on_closed_port() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let (obs, s) = tcp::connect(&cfg(no_dns()), addr, &Clock::start()).await;
    assert!(s.is_none());
    assert_eq!(obs.status.failure, Some(Failure::ConnectionRefused));
    assert_eq!(obs.ip, "127.0.0.1");
    assert_eq!(obs.port, addr.port());
}

#[tokio::test]
async fn tcp_binds_the_source_address() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let addr = tcp_server("127.0.0.1", move |s| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(s.peer_addr().unwrap().ip());
        }
    })
    .await;
    let mut c = cfg(no_dns());
    c.bind_ip = Some("127.0.0.2".parse().unwrap());
    let (obs, _s) = tcp::connect(&c, addr, &Clock::start()).await;
    assert!(obs.status.success);
    assert_eq!(rx.recv().await.unwrap().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn valid_chain_from_extra_root() {
    let pki = Pki::new("Interfero Test CA");
    let (chain, key) = pki.leaf(&["site.test"], false);
    let addr = tls_site(chain, key, "<title>ok</title>").await;
    let hs = handshake(&trusting(&pki), addr, "site.test").await;
    assert_eq!(hs.failure, None);
    assert_eq!(hs.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(hs.negotiated_protocol.as_deref(), Some("http/1.1"));
    assert!(hs.cipher_suite.is_some());
    assert_eq!(hs.peer_certificates.as_ref().map(Vec::len), Some(2));
    assert_eq!(hs.x_chain.len(), 2);
    assert!(hs.x_chain[0].subject.contains("site.test"));
    assert!(hs.x_chain[0].issuer.contains("Interfero Test CA"));
    assert_eq!(hs.x_chain[0].sha256.len(), 64);
    // Fingerprints that lists of interception roots use: SHA-1 of the certificate, SHA-256 of
    // its key; the leaf's and the CA's keys differ.
    assert_eq!(hs.x_chain[1].sha1.len(), 40);
    assert_eq!(hs.x_chain[1].spki_sha256.len(), 64);
    assert_ne!(hs.x_chain[0].spki_sha256, hs.x_chain[1].spki_sha256);
    assert!(hs.x_chain[0].not_after.ends_with('Z'));
    assert_eq!(hs.address, addr.to_string());
}

#[tokio::test]
async fn unknown_authority_keeps_the_chain() {
    let mitm = Pki::new("Information Security Certification Authority");
    let (chain, key) = mitm.leaf(&["site.test"], false);
    let addr = tls_site(chain, key, "x").await;
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::SslUnknownAuthority));
    assert!(hs.x_chain[1].subject.contains("Information Security"));
}

#[tokio::test]
async fn wrong_name_is_reported_even_behind_unknown_issuer() {
    let pki = Pki::new("Test CA");
    let (chain, key) = pki.leaf(&["blockpage.test"], false);
    let addr = tls_site(chain.clone(), key.clone_key(), "x").await;
    // Trusted issuer: webpki itself says the name is wrong.
    let hs = handshake(&trusting(&pki), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::SslInvalidHostname));
    // Unknown issuer: webpki stops there, the separate name check still finds it.
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::SslInvalidHostname));
}

#[tokio::test]
async fn expired_certificate() {
    let pki = Pki::new("Test CA");
    let (chain, key) = pki.leaf(&["site.test"], true);
    let addr = tls_site(chain, key, "x").await;
    let hs = handshake(&trusting(&pki), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::SslInvalidCertificate));
}

/// A server that reads the ClientHello, then does `then` with the connection.
async fn after_hello<F>(then: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) + Send + Sync + Copy + 'static,
{
    tcp_server("127.0.0.1", move |mut s| async move {
        let mut buf = [0u8; 5];
        let _ = s.read_exact(&mut buf).await; // the record header of the ClientHello
        then(s);
    })
    .await
}

#[tokio::test]
async fn stall_after_client_hello_times_out() {
    let addr = after_hello(|s| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(s);
        });
    })
    .await;
    let c = cfg(no_dns());
    let start = Instant::now();
    let hs = handshake(&c, addr, "site.test").await;
    let took = start.elapsed();
    assert_eq!(hs.failure, Some(Failure::Timeout));
    assert_eq!(hs.x_after_client_hello, Some(true));
    assert_eq!(hs.x_server_bytes, Some(0));
    // The stall was waited out to the deadline, which cannot fire early on any machine.
    assert!(took >= c.timeouts.tls, "{took:?}");
}

#[tokio::test]
async fn reset_after_client_hello() {
    let addr = after_hello(reset).await;
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::ConnectionReset));
    assert_eq!(hs.x_after_client_hello, Some(true));
}

#[tokio::test]
async fn eof_after_client_hello() {
    let addr = after_hello(drop).await;
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    // Closing with unread data in the socket makes the kernel send RST instead of FIN on some
    // paths; the server read the whole header only, so accept either, but never a TLS error.
    assert!(
        matches!(
            hs.failure,
            Some(Failure::Eof) | Some(Failure::ConnectionReset)
        ),
        "{:?}",
        hs.failure
    );
}

#[tokio::test]
async fn clean_eof_after_client_hello() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        // Drain the whole ClientHello so the close is a clean FIN.
        let mut hdr = [0u8; 5];
        if s.read_exact(&mut hdr).await.is_ok() {
            let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
            let mut body = vec![0u8; len];
            let _ = s.read_exact(&mut body).await;
        }
        drop(s);
    })
    .await;
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::Eof));
    assert_eq!(hs.x_server_bytes, Some(0));
}

#[tokio::test]
async fn garbage_after_client_hello() {
    let addr = tcp_server("127.0.0.1", |mut s| async move {
        use tokio::io::AsyncWriteExt;
        let mut buf = [0u8; 5];
        let _ = s.read_exact(&mut buf).await;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let hs = handshake(&cfg(no_dns()), addr, "site.test").await;
    assert_eq!(hs.failure, Some(Failure::SslFailedHandshake));
    assert!(hs.x_server_bytes.unwrap_or(0) > 0);
}
