//! The kernel world with working IPv6 (`ipv6-working`): the client reaches the sites' IPv6
//! listeners through the routers, the censor drops per family, and the control's IPv6
//! connects (from the source the servers namespace picks) are seen as the control's. Needs
//! root and `nft`; skips with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use interfero_lab::kernel::{self, lab_namespaces, CLIENT_IP6};
use interfero_lab::{KernelNet, KernelOptions, Scenario, World, HTTPS_PORT, HTTP_PORT};
use rustls::pki_types::ServerName;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;

/// The twin of the control's `.4` in the service prefix: its IPv6 source.
const CONTROL6: &str = "2001:2::c613:4";

fn available() -> bool {
    match kernel::check() {
        Ok(()) => true,
        Err(e) => {
            kernel::report_skip("the kernel IPv6 test", &e);
            false
        }
    }
}

fn v4(w: &World, name: &str) -> SocketAddr {
    SocketAddr::new(w.site_addr(name).unwrap(), HTTPS_PORT)
}

fn v6(w: &World, name: &str, port: u16) -> SocketAddr {
    let ip = w.site_addr6(name).unwrap();
    assert!(ip.is_ipv6(), "{name}: {ip}");
    SocketAddr::new(ip, port)
}

/// An unbound connect (the kernel picks the source, as for the probe's and the control's
/// IPv6 connects) within a second: the stream, or the error kind (TimedOut for silence).
async fn dial(dst: SocketAddr) -> Result<TcpStream, ErrorKind> {
    match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(dst)).await {
        Err(_) => Err(ErrorKind::TimedOut),
        Ok(Err(e)) => Err(e.kind()),
        Ok(Ok(s)) => Ok(s),
    }
}

async fn reach(dst: SocketAddr) -> Result<(), ErrorKind> {
    dial(dst).await.map(|_| ())
}

/// A TLS handshake over an unbound connect: Ok, or the error kind.
async fn handshake(ca: String, dst: SocketAddr, name: &'static str) -> Result<(), ErrorKind> {
    let tcp = dial(dst).await?;
    let sni = ServerName::try_from(name).unwrap();
    match tokio::time::timeout(
        Duration::from_millis(700),
        tls_client(&ca).connect(sni, tcp),
    )
    .await
    {
        Err(_) => Err(ErrorKind::TimedOut),
        Ok(r) => r.map(|_| ()).map_err(|e| e.kind()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_listeners_answer_the_probe_and_the_control_stays_the_control() {
    if !available() {
        return;
    }
    let s = Scenario::builtin("ipv6-working").unwrap();
    // Three routers: the routes toward the client's links behind a router are exercised too.
    let opts = KernelOptions {
        hops: 3,
        censor_hop: 2,
    };
    let (kn, w) = KernelNet::start(&s, opts).await.unwrap();
    assert!(w.targets().iter().all(|t| t.supported.is_ok()));
    // A page over IPv6 through every router, from the client's own IPv6 address.
    let dst = v6(&w, "dual-news.test", HTTP_PORT);
    let (page, local) = kn
        .client()
        .spawn(async move {
            let s = dial(dst).await.unwrap();
            let local = s.local_addr().unwrap().ip();
            let page = http_get(s, "dual-news.test", "/", Duration::from_secs(3)).await;
            (page.unwrap(), local)
        })
        .await
        .unwrap();
    assert!(page.contains("Dual News"), "{page}");
    assert_eq!(local, IpAddr::V6(CLIENT_IP6));
    // The censor per family; the control, beside the servers, never crosses it.
    let to = Err(ErrorKind::TimedOut);
    let cases = [
        ("dual-news.test", Ok(()), Ok(())),
        ("drop6.test", Ok(()), to),
        ("drop4.test", to, Ok(())),
        ("dropboth.test", to, to),
    ];
    for (name, want4, want6) in cases {
        let (a, b) = (v4(&w, name), v6(&w, name, HTTPS_PORT));
        let got4 = kn.client().spawn(reach(a)).await.unwrap();
        let got6 = kn.client().spawn(reach(b)).await.unwrap();
        assert_eq!((got4, got6), (want4, want6), "probe to {name}");
        let ctl = kn.servers().spawn(reach(b)).await.unwrap();
        assert_eq!(ctl, Ok(()), "control to {name} over IPv6");
    }
    // Closed for everyone in both families.
    let closed = v6(&w, "closed.test", HTTPS_PORT);
    let got = kn.client().spawn(reach(closed)).await.unwrap();
    assert_eq!(got, Err(ErrorKind::ConnectionRefused));
    // The control's IPv6 source is the twin of .4, and the middlebox leaves it alone: the
    // ClientHello the probe's stall holds passes for the control over IPv6.
    let stalled = v6(&w, "stalled.test", HTTPS_PORT);
    let src = kn
        .servers()
        .spawn(async move { dial(stalled).await.unwrap().local_addr().unwrap().ip() })
        .await
        .unwrap();
    assert_eq!(src, CONTROL6.parse::<IpAddr>().unwrap());
    let ca = w.ca_pem();
    let probe = kn
        .client()
        .spawn(handshake(ca.clone(), stalled, "stalled.test"));
    assert_eq!(probe.await.unwrap(), Err(ErrorKind::TimedOut));
    let ctl = kn.servers().spawn(handshake(ca, stalled, "stalled.test"));
    assert_eq!(ctl.await.unwrap(), Ok(()));
    // The IPv6 canary answers the probe.
    let canary = w
        .canaries()
        .into_iter()
        .find(|c| c.endpoint.is_ipv6())
        .unwrap();
    let got = kn.client().spawn(reach(canary.endpoint)).await.unwrap();
    assert_eq!(got, Ok(()));
    let tag = kn.tag().to_string();
    w.shutdown().await;
    kn.shutdown().await;
    let left: Vec<String> = lab_namespaces(false)
        .into_iter()
        .filter(|n| n.starts_with(&format!("{tag}-")))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}
