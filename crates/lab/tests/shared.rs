//! Names sharing one address (shared hosting, CDN edges): one listener picks the site by SNI
//! over TLS and by Host over HTTP, refuses a name it does not serve as its owner says, and
//! applies a name's rules to that name only. Loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use interfero_lab::{Scenario, World, HTTPS_PORT, HTTP_PORT};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

const SHARED: &str = r#"
name = "shared"
[[sites]]
name = "owner.test"
title = "Owner Page"
unknown_sni = "refuse"
[[sites]]
name = "guest.test"
title = "Guest Page"
shares = "owner.test"
[[sites]]
name = "alone.test"
[[rules]]
id = "reset-guest"
match = { sni = "guest.test" }
action = "tls.reset"
"#;

async fn https_body(w: &World, addr: SocketAddr, name: &str) -> std::io::Result<String> {
    let mut s = tls_from(&w.ca_pem(), PROBE_SRC, addr, name, WAIT).await?;
    let req = format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn one_listener_serves_each_name_it_shares_and_refuses_others() {
    let w = World::start(&Scenario::parse(SHARED).unwrap())
        .await
        .unwrap();
    let owner = w.site_addr("owner.test").unwrap();
    assert_eq!(w.site_addr("guest.test"), Some(owner), "one address");
    assert_ne!(w.site_addr("alone.test"), Some(owner));
    // DNS answers the shared address for both names.
    let m = dns(w.probe_resolver(), "guest.test").await;
    let answered: Vec<std::net::IpAddr> = addrs(&m).into_iter().map(Into::into).collect();
    assert_eq!(answered, [owner]);

    // HTTP: the Host picks the page.
    for (host, title) in [("owner.test", "Owner Page"), ("guest.test", "Guest Page")] {
        let s = connect_from(PROBE_SRC, SocketAddr::new(owner, HTTP_PORT)).await;
        let page = http_get(s, host, "/", WAIT).await.unwrap();
        assert!(page.contains(title), "{host}: {page}");
    }
    // TLS: the owner's page with its certificate, from the probe's side...
    let tls = SocketAddr::new(owner, HTTPS_PORT);
    let page = https_body(&w, tls, "owner.test").await.unwrap();
    assert!(page.contains("Owner Page"), "{page}");
    // ...the guest's rule resets the guest's name only, on the probe's side only...
    let e = https_body(&w, tls, "guest.test").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    let ctl = w.control_bind_ip();
    let mut s = tls_from(&w.ca_pem(), ctl, tls, "guest.test", WAIT)
        .await
        .expect("the guest's certificate, for the control");
    s.write_all(b"GET / HTTP/1.1\r\nHost: guest.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await;
    assert!(String::from_utf8_lossy(&out).contains("Guest Page"));
    // ...and a name served by no site there is refused, as the owner says.
    let e = https_body(&w, tls, "elsewhere.test").await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::UnexpectedEof,
        "closed before a server hello: {e}"
    );
    w.shutdown().await;
}

#[test]
fn sharing_is_refused_where_one_listener_could_not_serve_both() {
    let bad = [
        ("shares = \"nobody.test\"", "not a site"),
        ("shares = \"guest.test\"", "shares another"),
    ];
    for (line, why) in bad {
        let text = SHARED.replace("shares = \"owner.test\"", line);
        let e = Scenario::parse(&text).unwrap_err().to_string();
        assert!(e.contains("guest.test"), "{why}: {e}");
    }
    let cdn = SHARED.replace("name = \"guest.test\"", "name = \"guest.test\"\ncdn = true");
    assert!(Scenario::parse(&cdn)
        .unwrap_err()
        .to_string()
        .contains("cdn"));
    let rule = format!(
        "{SHARED}\n[[rules]]\nid = \"x\"\nmatch = {{ address = \"guest.test\" }}\naction = \"tcp.drop\"\n"
    );
    let e = Scenario::parse(&rule).unwrap_err().to_string();
    assert!(e.contains("owns the address"), "{e}");
    // The address rules of the owner concern the guest too (kernel-only actions: unsupported).
    let rule = rule.replace("address = \"guest.test\"", "address = \"owner.test\"");
    let s = Scenario::parse(&format!(
        "{rule}\n[[targets]]\nname = \"g\"\nurl = \"https://guest.test:8443/\"\nstatus = \"blocked\"\n"
    ))
    .unwrap();
    let t = s.targets_at(interfero_lab::ScenarioTime(0));
    assert!(t[0].supported.is_err(), "{:?}", t[0].supported);
}
