//! Address families judged apart, knowing whether the vantage point has the family at all:
//! broken or absent IPv6 at the vantage point is never the site's block, a block over IPv6
//! alone on a vantage point that reaches IPv6 is.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::family::{capability, Capability};
use interfero_analysis::{judge, Context};
use interfero_model::control::{ControlDns, ControlHttp, ControlTcp, ControlTls};
use interfero_model::measurement::*;
use interfero_model::{
    ControlResponse, Failure, Family, FamilyCheck, FamilyConnect, FamilyState, FamilyTally, Status,
    Technique, TestKeys, Verdict,
};

const URL: &str = "https://news.example/";
const V4: &str = "198.18.0.10";
const V6: &str = "2001:2::10";

fn connect(ip: &str, failure: Option<Failure>) -> TcpConnect {
    TcpConnect {
        ip: ip.into(),
        port: 443,
        status: TcpStatus {
            success: failure.is_none(),
            failure,
        },
        ..Default::default()
    }
}

fn ep(ip: &str) -> String {
    std::net::SocketAddr::new(ip.parse().unwrap(), 443).to_string()
}

/// A dual-stack site: the probe's v4 and v6 connects as given; the control connects to both
/// (unless `control_v6` is false) and fetches the page. When v4 connected, TLS and the page
/// came over it.
fn site(v4: Option<Failure>, v6: Option<Failure>, control_v6: bool) -> TestKeys {
    let q = |t: &str, a: DnsAnswer| DnsQuery {
        hostname: "news.example".into(),
        query_type: t.into(),
        engine: "udp".into(),
        answers: vec![a],
        x_rcode: Some("NOERROR".into()),
        ..Default::default()
    };
    let mut control = ControlResponse {
        dns: ControlDns {
            failure: None,
            addrs: vec![V4.into(), V6.into()],
        },
        http_request: ControlHttp {
            status_code: 200,
            body_length: 5000,
            title: "News".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    for (ip, ok) in [(V4, true), (V6, control_v6)] {
        control.tcp_connect.insert(
            ep(ip),
            ControlTcp {
                status: ok,
                failure: (!ok).then_some(Failure::Timeout),
            },
        );
        if ok {
            control.tls_handshake.insert(
                ep(ip),
                ControlTls {
                    server_name: "news.example".into(),
                    status: true,
                    failure: None,
                    x_leaf_sha256: None,
                },
            );
        }
    }
    let v4_ok = v4.is_none();
    let mut tk = TestKeys {
        queries: vec![
            q(
                "A",
                DnsAnswer {
                    answer_type: "A".into(),
                    ipv4: Some(V4.into()),
                    ..Default::default()
                },
            ),
            q(
                "AAAA",
                DnsAnswer {
                    answer_type: "AAAA".into(),
                    ipv6: Some(V6.into()),
                    ..Default::default()
                },
            ),
        ],
        tcp_connect: vec![connect(V4, v4.clone()), connect(V6, v6)],
        control: Some(control),
        ..Default::default()
    };
    if v4_ok {
        tk.tls_handshakes.push(TlsHandshake {
            address: ep(V4),
            server_name: "news.example".into(),
            ..Default::default()
        });
        tk.requests.push(HttpRoundTrip {
            address: Some(ep(V4)),
            request: HttpRequest {
                url: URL.into(),
                method: "GET".into(),
                ..Default::default()
            },
            response: HttpResponse {
                code: 200,
                x_title: Some("News".into()),
                x_body_length: Some(5000),
                body: Some(BinaryData::Text("<title>News</title>".into())),
                ..Default::default()
            },
            ..Default::default()
        });
    } else {
        tk.http_experiment_failure = v4;
    }
    tk
}

/// A check of IPv6 whose canaries failed (or connected) and whose run saw what is given.
fn check(canary: Option<Failure>, run: FamilyTally) -> FamilyCheck {
    FamilyCheck {
        measured_at: "2026-01-01 00:00:00".into(),
        family: Family::Ipv6,
        canaries: vec![FamilyConnect {
            endpoint: "[2001:2::99]:443".into(),
            connected: canary.is_none(),
            failure: canary,
        }],
        run,
    }
}

fn v4_works() -> FamilyTally {
    FamilyTally {
        connected: 0,
        failed: 3,
        other_connected: 3,
        targets: 3,
    }
}

fn v6_works() -> FamilyTally {
    FamilyTally {
        connected: 2,
        failed: 0,
        other_connected: 2,
        targets: 2,
    }
}

fn judged(tk: &TestKeys) -> Verdict {
    judge(URL, tk, &Context::default())
}

fn state(v: &Verdict, f: Family) -> Option<FamilyState> {
    v.x_families.iter().find(|o| o.family == f).map(|o| o.state)
}

#[test]
fn broken_ipv6_at_the_vantage_point_leaves_the_site_accessible_over_ipv4() {
    let mut tk = site(None, Some(Failure::Timeout), true);
    tk.x_family_checks = vec![check(Some(Failure::Timeout), v4_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Accessible, "{v:?}");
    assert_eq!(state(&v, Family::Ipv4), Some(FamilyState::Reached));
    assert_eq!(state(&v, Family::Ipv6), Some(FamilyState::UnavailableHere));
    let line = v.evidence.iter().find(|e| e.starts_with("IPv6:")).unwrap();
    assert!(line.contains("broken at the vantage point"), "{line}");
}

#[test]
fn absent_ipv6_is_named_no_route() {
    let mut tk = site(None, Some(Failure::NetworkUnreachable), true);
    tk.x_family_checks = vec![check(Some(Failure::NetworkUnreachable), v4_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Accessible, "{v:?}");
    assert_eq!(state(&v, Family::Ipv6), Some(FamilyState::UnavailableHere));
    assert!(
        v.evidence.iter().any(|e| e.contains("no route")),
        "{:?}",
        v.evidence
    );
}

#[test]
fn a_v4_block_on_a_vantage_point_without_ipv6_names_only_the_v4_technique() {
    // Without the check, the v6 failure (no route: a refusal) joins the v4 block's techniques.
    let mut tk = site(
        Some(Failure::Timeout),
        Some(Failure::NetworkUnreachable),
        true,
    );
    let before = judged(&tk);
    assert!(
        before.techniques.contains(&Technique::TcpRefused),
        "{before:?}"
    );
    tk.x_family_checks = vec![check(Some(Failure::NetworkUnreachable), v4_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Blocked, "{v:?}");
    assert_eq!(v.techniques, vec![Technique::TcpTimeout], "{v:?}");
    assert_eq!(state(&v, Family::Ipv6), Some(FamilyState::UnavailableHere));
}

#[test]
fn a_block_over_ipv6_alone_on_a_v6_capable_vantage_point_is_blocked() {
    let mut tk = site(None, Some(Failure::Timeout), true);
    // Without evidence that the vantage point reaches IPv6, the v6 failure proves nothing.
    let unknown = judged(&tk);
    assert_eq!(unknown.status, Status::Accessible, "{unknown:?}");
    assert_eq!(state(&unknown, Family::Ipv6), Some(FamilyState::Failed));
    tk.x_family_checks = vec![check(None, v6_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Blocked, "{v:?}");
    assert_eq!(v.rules[0], "tcp.failure.family_only");
    assert_eq!(v.techniques, vec![Technique::TcpTimeout]);
    assert_eq!(state(&v, Family::Ipv6), Some(FamilyState::Blocked));
    assert_eq!(state(&v, Family::Ipv4), Some(FamilyState::Reached));
}

#[test]
fn a_site_whose_ipv6_fails_for_the_control_too_is_not_blocked() {
    let mut tk = site(None, Some(Failure::Timeout), false);
    tk.x_family_checks = vec![check(None, v6_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Accessible, "{v:?}");
    assert_eq!(state(&v, Family::Ipv6), Some(FamilyState::Failed));
}

#[test]
fn a_v6_capable_vantage_point_is_known_from_the_run_alone() {
    let c = FamilyCheck {
        canaries: Vec::new(),
        ..check(None, v6_works())
    };
    assert!(matches!(capability(&c, true), Capability::Works(_)));
    let c = FamilyCheck {
        canaries: Vec::new(),
        ..check(None, v4_works())
    };
    assert!(matches!(capability(&c, true), Capability::Lacks(_)));
}

#[test]
fn nothing_connecting_in_either_family_is_not_a_missing_family() {
    // The other family failing too is the reachability check's question, not this one's.
    let c = check(
        Some(Failure::Timeout),
        FamilyTally {
            connected: 0,
            failed: 2,
            other_connected: 0,
            targets: 2,
        },
    );
    assert!(matches!(capability(&c, false), Capability::Unknown(_)));
    let empty = FamilyCheck {
        canaries: Vec::new(),
        ..check(None, FamilyTally::default())
    };
    assert!(matches!(capability(&empty, true), Capability::Unknown(_)));
}

#[test]
fn a_v6_only_site_on_a_vantage_point_without_ipv6_is_inconclusive() {
    let mut tk = site(
        Some(Failure::NetworkUnreachable),
        Some(Failure::NetworkUnreachable),
        true,
    );
    tk.queries.remove(0);
    tk.tcp_connect.remove(0);
    tk.control.as_mut().unwrap().dns.addrs = vec![V6.into()];
    tk.x_family_checks = vec![check(Some(Failure::NetworkUnreachable), v4_works())];
    let v = judged(&tk);
    assert_eq!(v.status, Status::Inconclusive, "{v:?}");
    assert_eq!(v.rules[0], "tcp.family_unavailable_here");
}
