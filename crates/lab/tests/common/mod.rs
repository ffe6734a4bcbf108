//! Test helpers: loopback-only clients (DNS over UDP, plain TCP from a chosen source, rustls).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![allow(dead_code)]

use hickory_proto::op::Message;
use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, RecordType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// The probe's source address in tests (anything but the control's).
pub const PROBE_SRC: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every datagram answering one A query within `wait`.
pub async fn dns_all(server: SocketAddr, name: &str, wait: Duration) -> Vec<Vec<u8>> {
    dns_all_from(IpAddr::V4(Ipv4Addr::LOCALHOST), server, name, wait).await
}

/// Every datagram answering one A query sent from `src` within `wait`.
pub async fn dns_all_from(
    src: IpAddr,
    server: SocketAddr,
    name: &str,
    wait: Duration,
) -> Vec<Vec<u8>> {
    let sock = UdpSocket::bind((src, 0)).await.unwrap();
    let mut q = Message::query();
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    sock.send_to(&q.to_vec().unwrap(), server).await.unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
        out.push(buf[..n].to_vec());
    }
    out
}

/// The first answer, decoded.
pub async fn dns(server: SocketAddr, name: &str) -> Message {
    dns_from(IpAddr::V4(Ipv4Addr::LOCALHOST), server, name).await
}

/// The first answer to a query sent from `src`, decoded.
pub async fn dns_from(src: IpAddr, server: SocketAddr, name: &str) -> Message {
    dns_typed(src, server, name, RecordType::A).await
}

/// The first answer to a query of type `t` sent from `src`, decoded.
pub async fn dns_typed(src: IpAddr, server: SocketAddr, name: &str, t: RecordType) -> Message {
    let sock = UdpSocket::bind((src, 0)).await.unwrap();
    let mut q = Message::query();
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    sock.send_to(&q.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

/// The A addresses of a message.
pub fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// A TCP connection from `src` to `dst`.
pub async fn connect_from(src: IpAddr, dst: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(src, 0)).unwrap();
    s.connect(dst).await.unwrap()
}

/// Sends a GET and reads the whole response (bounded by `wait`); `Err` carries the I/O error.
pub async fn http_get(
    mut s: TcpStream,
    host: &str,
    path: &str,
    wait: Duration,
) -> std::io::Result<String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    match tokio::time::timeout(wait, s.read_to_end(&mut out)).await {
        Ok(r) => r.map(|_| String::from_utf8_lossy(&out).into_owned()),
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// A rustls client trusting only `ca_pem`.
pub fn tls_client(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// A TLS handshake from `src` to `dst` with SNI `name`, bounded by `wait`.
pub async fn tls_from(
    ca_pem: &str,
    src: IpAddr,
    dst: SocketAddr,
    name: &str,
    wait: Duration,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = connect_from(src, dst).await;
    let sni = ServerName::try_from(name.to_string()).unwrap();
    match tokio::time::timeout(wait, tls_client(ca_pem).connect(sni, tcp)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}
