//! Reading hand-made TTL-limited traces: exact hops for on-path and in-path devices, and
//! `unknown` — never a wrong hop — for silent routers, odd ICMP, inconsistent reactions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::locate::{evidence, locate, plan, IN_PATH, ON_PATH, UNKNOWN};
use interfero_model::measurement::{DnsQuery, TestKeys, TlsHandshake};
use interfero_model::trace::{HopEvent, Trace, TraceHop};
use interfero_model::{Failure, Status, Technique, Verdict};

fn ev(kind: &str, from: &str, detail: &str) -> HopEvent {
    HopEvent {
        kind: kind.into(),
        ms: 1,
        from: (!from.is_empty()).then(|| from.to_string()),
        detail: (!detail.is_empty()).then(|| detail.to_string()),
        ..HopEvent::default()
    }
}
fn te(router: &str) -> HopEvent {
    ev("time_exceeded", router, "icmp type 11 code 0")
}
fn answer(d: &str) -> HopEvent {
    ev("dns_answer", "192.0.2.53:53", d)
}
fn reset() -> HopEvent {
    ev("reset", "192.0.2.80:443", "")
}
fn data() -> HopEvent {
    ev("data", "192.0.2.80:443", "tls handshake record")
}
fn connected() -> HopEvent {
    ev("connected", "192.0.2.80:443", "")
}

/// Hops from per-TTL event lists (TTL 1 first).
fn hops(list: Vec<Vec<HopEvent>>) -> Vec<TraceHop> {
    list.into_iter()
        .enumerate()
        .map(|(i, events)| TraceHop {
            ttl: i as u8 + 1,
            events,
            failure: None,
        })
        .collect()
}

/// A control sweep over `routers` then the far end.
fn control(routers: &[&str], end: HopEvent) -> Vec<TraceHop> {
    let mut l: Vec<Vec<HopEvent>> = routers.iter().map(|r| vec![te(r)]).collect();
    l.push(vec![end]);
    hops(l)
}

fn trace(h: Vec<Vec<HopEvent>>, c: Vec<TraceHop>) -> Trace {
    Trace {
        hops: hops(h),
        control: c,
        ..Trace::default()
    }
}

const R: [&str; 4] = ["10.0.1.1", "10.0.2.1", "10.0.3.1", "10.0.4.1"];

#[test]
fn dns_injection_on_path_at_hop_two() {
    let forged = || answer("NOERROR 203.0.113.9");
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![forged(), te(R[1])],
            vec![forged(), te(R[2])],
            vec![forged(), te(R[3])],
            vec![forged(), answer("NOERROR 192.0.2.80")],
        ],
        control(&R, answer("NXDOMAIN")),
    );
    let loc = locate(&t);
    assert_eq!(loc.hop, Some(2));
    assert_eq!(loc.router.as_deref(), Some(R[1]));
    assert_eq!(loc.class, ON_PATH);
    assert!(loc.reason.contains("still arrives"), "{}", loc.reason);
    let e = evidence(&loc);
    assert!(
        e.starts_with("censor at hop 2 (10.0.1.1)")
            || e.starts_with("censor at hop 2 (10.0.2.1), on-path"),
        "{e}"
    );
}

#[test]
fn reset_without_icmp_below_the_far_end_is_on_path() {
    // The reset kills the socket before the router's ICMP can be matched to it.
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![te(R[1])],
            vec![reset()],
            vec![reset()],
            vec![reset()],
        ],
        control(&R, connected()),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(3), ON_PATH));
    // The router at hop 3 comes from the control's sweep.
    assert_eq!(loc.router.as_deref(), Some(R[2]));
}

#[test]
fn stall_is_in_path_from_the_first_silent_hop() {
    let t = trace(
        vec![vec![te(R[0])], vec![], vec![], vec![]],
        control(&R, connected()),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(2), IN_PATH));
    assert_eq!(loc.router.as_deref(), Some(R[1]));
    let e = evidence(&loc);
    assert!(
        e.starts_with("censor at hop 2 (10.0.2.1), in-path: silence from hop 2 on, time-exceeded from hop 1 (10.0.1.1)"),
        "{e}"
    );
}

#[test]
fn drop_at_the_first_hop() {
    let t = trace(vec![vec![], vec![], vec![]], control(&R, connected()));
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(1), IN_PATH));
}

#[test]
fn silent_routers_everywhere_are_unknown() {
    // No ICMP at all: neither sweep says anything below the far end.
    let t = trace(
        vec![vec![], vec![], vec![]],
        hops(vec![vec![], vec![], vec![]]),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (None, UNKNOWN));
    // Injected answers with silent routers and no control reaching the end: not placeable.
    let t = trace(
        vec![vec![answer("NOERROR 203.0.113.9")]],
        hops(vec![vec![], vec![], vec![]]),
    );
    assert_eq!(locate(&t).hop, None);
}

#[test]
fn reaction_only_at_the_far_end_is_not_a_hop() {
    let t = trace(
        vec![vec![te(R[0])], vec![te(R[1])], vec![reset()]],
        control(&R[..2], connected()),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (None, UNKNOWN));
    // Two different answers at the far end: injected, but the hop is not known.
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![answer("NOERROR 203.0.113.9"), answer("NOERROR 192.0.2.80")],
        ],
        control(&R[..1], answer("NXDOMAIN")),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (None, ON_PATH));
}

#[test]
fn a_reaction_that_comes_and_goes_is_unknown() {
    let t = trace(
        vec![vec![te(R[0])], vec![reset()], vec![te(R[2])], vec![data()]],
        control(&R[..3], connected()),
    );
    assert_eq!(locate(&t).hop, None);
}

#[test]
fn odd_icmp_never_names_a_wrong_router() {
    // Two routers claim hop 2 (load balancing or spoofing): the hop stands, the router not.
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![te(R[1]), te("10.9.9.9")],
            vec![],
            vec![],
        ],
        control(&R, connected()),
    );
    // The trigger's hop 2 is not silent; the drop begins at 3.
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(3), IN_PATH));
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![reset(), te(R[1]), te("10.9.9.9")],
            vec![reset()],
        ],
        control(&R, connected()),
    );
    let loc = locate(&t);
    assert_eq!(loc.hop, Some(2));
    assert_eq!(loc.router, None);
    assert!(loc.reason.contains("several routers"), "{}", loc.reason);
}

#[test]
fn silence_where_the_control_is_silent_too_is_unknown() {
    let t = trace(
        vec![vec![te(R[0])], vec![], vec![], vec![]],
        hops(vec![vec![te(R[0])], vec![], vec![], vec![]]),
    );
    assert_eq!(locate(&t).hop, None);
}

#[test]
fn silence_only_at_the_far_end_is_not_separable() {
    let t = trace(
        vec![vec![te(R[0])], vec![te(R[1])], vec![]],
        control(&R[..2], connected()),
    );
    assert_eq!(locate(&t).hop, None);
}

#[test]
fn hops_out_of_order_or_no_trace_are_unknown() {
    let mut t = trace(
        vec![vec![te(R[0])], vec![reset()]],
        control(&R, connected()),
    );
    t.hops.swap(0, 1);
    assert_eq!(locate(&t).hop, None);
    let t = Trace {
        failure: Some("IP_RECVERR unavailable".into()),
        ..Trace::default()
    };
    let loc = locate(&t);
    assert!(loc.reason.contains("IP_RECVERR"));
}

#[test]
fn duplicate_identical_answers_are_not_a_second_answer() {
    let same = || answer("NOERROR 203.0.113.9");
    let t = trace(
        vec![
            vec![te(R[0])],
            vec![same(), same(), te(R[1])],
            vec![same(), same()],
        ],
        control(&R[..2], answer("NXDOMAIN")),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(2), ON_PATH));
    assert!(!loc.reason.contains("still arrives"));
}

#[test]
fn plans_follow_the_failing_step() {
    let mut tk = TestKeys::default();
    tk.queries.push(DnsQuery {
        hostname: "news.example.test".into(),
        engine: "udp".into(),
        resolver_address: "192.0.2.53:53".into(),
        ..DnsQuery::default()
    });
    tk.tls_handshakes.push(TlsHandshake {
        address: "192.0.2.80:443".into(),
        server_name: "news.example.test".into(),
        failure: Some(Failure::ConnectionReset),
        ..TlsHandshake::default()
    });
    let v = Verdict::new(Status::Blocked, 0.9, "r").with(Technique::TlsReset);
    let p = plan(&tk, &v).unwrap();
    assert_eq!(
        (p.kind.as_str(), p.address.as_str()),
        ("tls", "192.0.2.80:443")
    );
    let v = Verdict::new(Status::Blocked, 0.9, "r").with(Technique::DnsInjection);
    assert_eq!(plan(&tk, &v).unwrap().kind, "dns");
    let v = Verdict::new(Status::Accessible, 0.9, "r");
    assert!(plan(&tk, &v).is_none());
    let v = Verdict::new(Status::Blocked, 0.9, "r").with(Technique::TcpTimeout);
    assert!(plan(&tk, &v).is_none());
}

#[test]
fn a_bare_icmp_error_counts_as_expiry() {
    // A connected TCP socket reports an ICMP error without the router: the reset at that TTL
    // still came from the path, and the router is named from the control's sweep.
    let bare = || ev("icmp_error", "", "No route to host");
    let t = trace(
        vec![
            vec![bare()],
            vec![bare(), reset()],
            vec![reset()],
            vec![reset()],
        ],
        control(&R[..3], connected()),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.class.as_str()), (Some(2), ON_PATH));
    assert_eq!(loc.router.as_deref(), Some(R[1]));
    // A stall after bare errors: in-path at the first silent hop, router from the control.
    let t = trace(
        vec![vec![bare()], vec![bare()], vec![], vec![]],
        control(&R, connected()),
    );
    let loc = locate(&t);
    assert_eq!((loc.hop, loc.router.as_deref()), (Some(3), Some(R[2])));
    assert!(evidence(&loc).contains("time-exceeded from hop 2 (10.0.2.1)"));
}
