//! Where the probe and the control may send packets (`ProbeConfig::scope`): a control exposed
//! to the internet refuses every destination in private space, checked on the address actually
//! dialled, and a lab probe refuses everything outside the lab. A refused destination is a
//! typed failure and no packet: each test counts the connections its server received.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use interfero_model::addr::Scope;
use interfero_model::{ControlRequest, Failure};
use interfero_probe::{helper, web};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A plain HTTP site on 127.0.0.1 answering `page`, and how many connections it accepted.
async fn counted_site(page: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let addr = tcp_server("127.0.0.1", move |mut s| {
        h.fetch_add(1, Ordering::SeqCst);
        async move {
            let _ = read_head(&mut s).await;
            let _ = s.write_all(&response("200 OK", "", page)).await;
        }
    })
    .await;
    (addr, hits)
}

fn public_control(resolver: SocketAddr) -> interfero_probe::ProbeConfig {
    let mut c = cfg(resolver);
    c.scope = Scope::Public;
    c
}

fn ask(url: String, tcp_connect: Vec<String>) -> ControlRequest {
    ControlRequest {
        http_request: url,
        tcp_connect,
        x_throughput: true,
        ..ControlRequest::default()
    }
}

#[tokio::test]
async fn a_public_control_refuses_loopback_in_every_spelling() {
    let (site, hits) = counted_site("<title>internal</title>").await;
    let c = public_control(no_dns());
    let port = site.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::1]:{port}/"),
    ] {
        let r = helper::answer(&c, &ask(url.clone(), vec![])).await;
        assert_eq!(
            r.http_request.failure,
            Some(Failure::DestinationRefused),
            "{url}: {r:?}"
        );
        assert!(r.http_request.body_length <= 0 && r.http_request.title.is_empty());
        assert!(r.x_throughput.is_none(), "{url}: no transfer either");
        for (ep, t) in &r.tcp_connect {
            assert_eq!(t.failure, Some(Failure::DestinationRefused), "{ep}");
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no connection reached the site"
    );
}

#[tokio::test]
async fn a_name_that_resolves_into_private_space_is_refused_at_connect() {
    // DNS rebinding: the name is public, the address it resolves to is not.
    let (site, hits) = counted_site("<title>internal</title>").await;
    let c = public_control(resolver_to("127.0.0.1").await);
    let r = helper::answer(
        &c,
        &ask(format!("http://rebind.example:{}/", site.port()), vec![]),
    )
    .await;
    assert_eq!(r.dns.addrs, ["127.0.0.1"], "the lookup itself is recorded");
    assert_eq!(r.http_request.failure, Some(Failure::DestinationRefused));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_probes_tcp_connect_entries_into_private_space_are_refused_one_by_one() {
    let (site, hits) = counted_site("ok").await;
    // The URL's own name does not resolve; only the caller's endpoints could be reached.
    let c = public_control(resolver_to("127.0.0.1").await);
    let port = site.port();
    let asked = vec![
        format!("127.0.0.1:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("127.0.0.2:{port}"),
    ];
    let r = helper::answer(&c, &ask("http://a.example/".into(), asked.clone())).await;
    for ep in &asked {
        let key: SocketAddr = ep.parse().unwrap();
        let t = &r.tcp_connect[&key.to_string()];
        assert_eq!(t.failure, Some(Failure::DestinationRefused), "{ep}");
        assert!(!t.status);
    }
    assert!(
        r.x_throughput.is_none(),
        "never a transfer to a caller's address"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    // A lab probe (loopback and 198.18.0.0/15 only) follows a redirect to a name that resolves
    // outside the lab: the hop is refused before any packet, with the typed failure. (The
    // address, multicast, could not carry a TCP connection anyway.)
    let site = tcp_server("127.0.0.1", |mut s| async move {
        let head = read_head(&mut s).await;
        let port = s.local_addr().unwrap().port();
        let resp = if head.starts_with("GET / ") {
            response(
                "302 Found",
                &format!("Location: http://away.test:{port}/\r\n"),
                "",
            )
        } else {
            response("200 OK", "", "<title>away</title>")
        };
        let _ = s.write_all(&resp).await;
    })
    .await;
    let away: IpAddr = "233.252.0.1".parse().unwrap();
    let here: IpAddr = "127.0.0.1".parse().unwrap();
    let dns = dns_server(Arc::new(move |q: &Message, _| {
        let name = q.queries[0].name().to_ascii();
        let ip = if name.starts_with("away.") {
            away
        } else {
            here
        };
        vec![reply(q, ResponseCode::NoError, &[ip], false)]
    }))
    .await;
    let mut c = cfg(dns);
    c.scope = Scope::Lab;
    let tk = web::measure(&c, &format!("http://site.test:{}/", site.port()), None).await;
    assert_eq!(tk.requests.len(), 1, "the first hop was fetched");
    let refused: Vec<_> = tk
        .tcp_connect
        .iter()
        .filter(|t| t.ip == "233.252.0.1")
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", tk.tcp_connect);
    assert_eq!(refused[0].status.failure, Some(Failure::DestinationRefused));
    assert_eq!(
        tk.http_experiment_failure,
        Some(Failure::DestinationRefused)
    );
}

#[tokio::test]
async fn the_controls_capture_keeps_the_scope_and_an_allowed_one_is_whole() {
    let (site, hits) = counted_site("<title>internal</title><p>secret</p>").await;
    let url = format!("http://127.0.0.1:{}/", site.port());
    let mut req = ask(url.clone(), vec![]);
    req.x_capture = true;
    // A public control refuses to capture loopback: the capture records the refusal.
    let r = helper::answer(&public_control(no_dns()), &req).await;
    let cap = r.x_capture.expect("a capture was asked for");
    assert_eq!(cap.failure, Some(Failure::DestinationRefused), "{cap:?}");
    assert!(cap.exchanges.is_empty());
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no connection reached the site"
    );
    // A lab control (private allowed) captures the page whole, as the control's.
    let r = helper::answer(&cfg(no_dns()), &req).await;
    let cap = r.x_capture.expect("a capture was asked for");
    assert_eq!(cap.vantage, interfero_model::capture::Vantage::Control);
    let page = cap.page().expect("a page");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("<p>secret</p>"));
    assert!(page.request_headers.iter().any(|(k, _)| k == "User-Agent"));
}
