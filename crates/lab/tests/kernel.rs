//! The kernel world: real namespaces, nftables and the tcp.reset injector, observed with plain
//! sockets from each side of the censor. Needs root and `nft`; skips with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

mod common;
use common::*;
use interfero_lab::kernel::{self, lab_namespaces, CLIENT_IP};
use interfero_lab::{
    KernelNet, KernelOptions, Scenario, ScenarioTime, World, HTTPS_PORT, HTTP_PORT,
};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn available() -> bool {
    match kernel::check() {
        Ok(()) => true,
        Err(e) => {
            kernel::report_skip("the kernel world test", &e);
            false
        }
    }
}

fn at(w: &World, name: &str, port: u16) -> SocketAddr {
    SocketAddr::new(w.site_addr(name).unwrap(), port)
}

/// Connects from `src` within a second; the error kind on failure (TimedOut for silence).
async fn try_connect(src: IpAddr, dst: SocketAddr) -> Result<(), ErrorKind> {
    let s = tokio::net::TcpSocket::new_v4().map_err(|e| e.kind())?;
    s.bind(SocketAddr::new(src, 0)).map_err(|e| e.kind())?;
    match tokio::time::timeout(Duration::from_secs(1), s.connect(dst)).await {
        Err(_) => Err(ErrorKind::TimedOut),
        Ok(Err(e)) => Err(e.kind()),
        Ok(Ok(_)) => Ok(()),
    }
}

async fn stop(kn: KernelNet, w: World) {
    let tag = kn.tag().to_string();
    w.shutdown().await;
    kn.shutdown().await;
    let left: Vec<String> = lab_namespaces(false)
        .into_iter()
        .filter(|n| n.starts_with(&format!("{tag}-")))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_actions_are_enforced_by_the_kernel() {
    if !available() {
        return;
    }
    let s = Scenario::builtin("suite").unwrap();
    let (kn, w) = KernelNet::start(&s, KernelOptions::default())
        .await
        .unwrap();
    assert!(w.targets().iter().all(|t| t.supported.is_ok()));
    let probe = IpAddr::V4(CLIENT_IP);
    let cases = [
        ("tcp-drop.test", Err(ErrorKind::TimedOut)),
        ("tcp-refuse.test", Err(ErrorKind::ConnectionRefused)),
        ("tcp-reset.test", Err(ErrorKind::ConnectionReset)),
        ("static.test", Ok(())),
    ];
    for (name, want) in cases {
        let dst = at(&w, name, HTTPS_PORT);
        let got = kn.client().spawn(try_connect(probe, dst)).await.unwrap();
        assert_eq!(got, want, "probe to {name}");
        // The control's side never crosses the censor.
        let ctl = kn
            .servers()
            .spawn(try_connect(w.control_bind_ip(), dst))
            .await
            .unwrap();
        assert_eq!(ctl, Ok(()), "control to {name}");
    }
    // Whole exchanges cross the routers, and the middlebox still applies HTTP rules.
    let dst = at(&w, "http-blockpage.test", HTTP_PORT);
    let page = kn
        .client()
        .spawn(async move {
            http_get(
                connect_from(probe, dst).await,
                "http-blockpage.test",
                "/",
                Duration::from_secs(3),
            )
            .await
        })
        .await
        .unwrap()
        .unwrap();
    assert!(page.contains("<title>Web Page Blocked</title>"), "{page}");
    stop(kn, w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drops_everything_and_follows_the_clock() {
    if !available() {
        return;
    }
    let s = Scenario::builtin("kz-shutdown").unwrap();
    let opts = KernelOptions {
        hops: 3,
        censor_hop: 2,
    };
    let (kn, w) = KernelNet::start(&s, opts).await.unwrap();
    let resolver = w.probe_resolver();
    let canary = at(&w, "canary.test", HTTP_PORT);
    let probe = IpAddr::V4(CLIENT_IP);
    let quiet = kn
        .client()
        .spawn(async move {
            dns_all_from(probe, resolver, "canary.test", Duration::from_millis(500)).await
        })
        .await
        .unwrap();
    assert!(quiet.is_empty(), "DNS answered during the shutdown");
    assert_eq!(
        kn.client().spawn(try_connect(probe, canary)).await.unwrap(),
        Err(ErrorKind::TimedOut)
    );
    // Daily window of access: the kernel rules follow the scenario clock.
    w.set_time(ScenarioTime::at(2, 12, 30));
    let answers = kn
        .client()
        .spawn(async move {
            dns_all_from(probe, resolver, "canary.test", Duration::from_millis(500)).await
        })
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(
        kn.client().spawn(try_connect(probe, canary)).await.unwrap(),
        Ok(())
    );
    w.set_time(ScenarioTime::at(3, 0, 0));
    assert_eq!(
        kn.client().spawn(try_connect(probe, canary)).await.unwrap(),
        Err(ErrorKind::TimedOut)
    );
    stop(kn, w).await;
}

#[test]
fn sweeps_namespaces_of_dead_processes() {
    if !available() {
        return;
    }
    // A pid that is not running: the highest one not in /proc below a large bound.
    let pid = (1_000_000u32..4_000_000)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let stale = format!("ifr-{pid}-0-c");
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .unwrap();
    assert!(made.success());
    let removed = kernel::sweep_stale();
    assert!(removed.contains(&stale), "{removed:?}");
    assert!(!lab_namespaces(true).contains(&stale));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_throttle_is_a_tc_class() {
    if !available() {
        return;
    }
    let s = Scenario::parse(
        r#"
name = "throttle-address"
[[sites]]
name = "big.test"
kind = "large"
size = 65536
[[rules]]
id = "slow"
match = { address = "big.test" }
action = "throttle"
rate_kbps = 256
[[targets]]
name = "big"
url = "http://big.test:8080/"
status = "throttled"
techniques = ["throughput"]
"#,
    )
    .unwrap();
    let (kn, w) = KernelNet::start(&s, KernelOptions::default())
        .await
        .unwrap();
    let dst = at(&w, "big.test", HTTP_PORT);
    let fetch = |src: IpAddr| async move {
        let t = std::time::Instant::now();
        let body = http_get(
            connect_from(src, dst).await,
            "big.test",
            "/",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert!(body.len() > 65536);
        t.elapsed()
    };
    let probe = kn
        .client()
        .spawn(fetch(IpAddr::V4(CLIENT_IP)))
        .await
        .unwrap();
    let control = kn
        .servers()
        .spawn(fetch(w.control_bind_ip()))
        .await
        .unwrap();
    // 64 KiB at 256 kbit/s is about two seconds, on any machine (a shaper cannot be beaten);
    // the control is not shaped, so it is far faster on the same machine, however loaded.
    assert!(probe > Duration::from_millis(1500), "probe took {probe:?}");
    assert!(
        control * 3 < probe,
        "control took {control:?}, the shaped probe {probe:?}"
    );
    // Outside the rule's (absent) windows nothing changes; moving the clock re-renders anyway.
    w.set_time(ScenarioTime::at(1, 0, 0));
    stop(kn, w).await;
}
