//! Tiny loopback servers for the probe's tests: a scriptable DNS resolver, TLS servers with
//! certificates from a test CA, and raw TCP servers. Everything binds 127.0.0.0/8 only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test
#![allow(dead_code)]

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};
use interfero_probe::{ProbeConfig, Resolver, Timeouts};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// A config with short timeouts for tests, asking `resolver`.
pub fn cfg(resolver: SocketAddr) -> ProbeConfig {
    ProbeConfig {
        resolver: Resolver::Addr(resolver),
        timeouts: Timeouts {
            dns: Duration::from_millis(600),
            dns_linger: Duration::from_millis(200),
            connect: Duration::from_millis(800),
            tls: Duration::from_millis(800),
            http: Duration::from_millis(1200),
        },
        body_cap: 64 * 1024,
        max_redirects: 3,
        ..ProbeConfig::default()
    }
}

/// A resolver address where nothing answers (for tests that need no DNS).
pub fn no_dns() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

/// What a scripted DNS server sends back for one query (and whether it came over TCP): zero or
/// more messages.
pub type Script = dyn Fn(&Message, bool) -> Vec<Vec<u8>> + Send + Sync;

/// A UDP (and TCP, same port) DNS server that answers each query with `script`.
pub async fn dns_server(script: Arc<Script>) -> SocketAddr {
    // The TCP port of the same number may be taken by another test's listener: try another
    // pair until one is free on both.
    let mut pair = None;
    for _ in 0..64 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            pair = Some((udp, addr, tcp));
            break;
        }
    }
    let (udp, addr, tcp) = pair.expect("no port free for both UDP and TCP");
    let s = script.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            for reply in s(&q, false) {
                let _ = udp.send_to(&reply, peer).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            let s = script.clone();
            tokio::spawn(async move {
                let Ok(len) = stream.read_u16().await else {
                    return;
                };
                let mut buf = vec![0u8; len as usize];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(q) = Message::from_vec(&buf) else {
                    return;
                };
                for reply in s(&q, true) {
                    let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&reply);
                    let _ = stream.write_all(&framed).await;
                }
            });
        }
    });
    addr
}

/// A reply to `q` with `rcode` and address records from `ips` matching the query type.
pub fn reply(q: &Message, rcode: ResponseCode, ips: &[IpAddr], tc: bool) -> Vec<u8> {
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.response_code = rcode;
    m.metadata.truncation = tc;
    m.metadata.recursion_available = true;
    let Some(question) = q.queries.first() else {
        return m.to_vec().unwrap();
    };
    m.add_query(question.clone());
    for ip in ips {
        let data = match (ip, question.query_type) {
            (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
            (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        m.add_answer(Record::from_rdata(question.name.clone(), 60, data));
    }
    m.to_vec().unwrap()
}

/// A resolver that maps every name to `ip` (A only; AAAA gets NOERROR with no answer).
pub async fn resolver_to(ip: &str) -> SocketAddr {
    let ip: IpAddr = ip.parse().unwrap();
    dns_server(Arc::new(move |q: &Message, _tcp| {
        vec![reply(q, ResponseCode::NoError, &[ip], false)]
    }))
    .await
}

/// A test PKI: one CA and leaves signed by it.
pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl Pki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let ca = p.self_signed(&ca_key).unwrap();
        Pki {
            ca_der: ca.der().clone(),
            ca_params: p,
            ca_key,
        }
    }

    /// A leaf for `names`, valid now unless `expired`.
    pub fn leaf(
        &self,
        names: &[&str],
        expired: bool,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = p.signed_by(&key, &issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone(), self.ca_der.clone()], key)
    }
}

/// A TCP server on `ip` running `handler` on every connection.
pub async fn tcp_server<F, Fut>(ip: &str, handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind((ip.parse::<IpAddr>().unwrap(), 0))
        .await
        .unwrap();
    let addr = l.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(handler(s));
        }
    });
    addr
}

/// Reads an HTTP/1.1 request head (bounded) and returns it.
pub async fn read_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while buf.len() < 16 * 1024 && !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(1) => buf.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// An HTTP/1.1 response with a body and Content-Length.
pub fn response(status: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A TLS acceptor with `chain`/`key` and ALPN http/1.1, whatever name the client asks for.
pub fn tls_acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Reads a request head (and whatever came with it) from `s`; `None` if it closed first.
pub async fn read_tls_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let mut head = Vec::new();
    // A request body may arrive in the same read as the head.
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16_384 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// A TLS server on 127.0.0.1 with `chain`/`key`, ALPN http/1.1, answering with `page`.
pub async fn tls_site(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    page: &'static str,
) -> SocketAddr {
    let acceptor = tls_acceptor(chain, key);
    tcp_server("127.0.0.1", move |s| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(s).await else {
                return;
            };
            if read_tls_head(&mut tls).await.is_none() {
                return;
            }
            let _ = tls.write_all(&response("200 OK", "", page)).await;
            let _ = tls.shutdown().await;
        }
    })
    .await
}

/// Sets SO_LINGER 0 and drops the stream: the peer gets a RST.
pub fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}
