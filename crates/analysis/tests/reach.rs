//! Reachability: a failed target is `offline` only when nothing beyond the vantage point
//! answered — no canary and at least one other silent source (the control, the resolver, the
//! run's other targets) — and nothing else changes a verdict.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::reach::{apply, assess, Connectivity, Own};
use interfero_model::{
    CanaryResult, Failure, Reachability, RunEvidence, Status, Technique, Verdict,
};

/// The target's own control failed (the path to it carried nothing).
const CONTROL_SILENT: Own = Own {
    control: Some(false),
    resolver: None,
};

fn canary(kind: &str, domestic: bool, answered: bool, failure: Option<Failure>) -> CanaryResult {
    CanaryResult {
        kind: kind.into(),
        endpoint: "198.18.0.53:53".into(),
        name: "canary.example".into(),
        domestic,
        tcp_connected: kind == "tls" && failure != Some(Failure::NetworkUnreachable),
        answered,
        failure: if answered { None } else { failure },
        t0: 0.0,
        t: 1.0,
    }
}

fn check(canaries: Vec<CanaryResult>) -> Reachability {
    Reachability {
        measured_at: "2022-01-05 10:00:00".into(),
        canaries,
        run: None,
    }
}

fn dns_timeout() -> Verdict {
    Verdict::new(Status::Blocked, 0.9, "dns.timeout.control_ok").with(Technique::DnsTimeout)
}

#[test]
fn nothing_answers_is_a_shutdown() {
    let r = check(vec![
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("tls", false, false, Some(Failure::Timeout)),
    ]);
    let own = Own {
        control: Some(false),
        resolver: Some(false),
    };
    let v = apply(dns_timeout(), Some(&r), own);
    assert_eq!(v.status, Status::Offline);
    assert_eq!(v.techniques, vec![Technique::Shutdown]);
    assert_eq!(v.rules, vec!["reachability.nothing_answers".to_string()]);
    assert!(v.confidence >= 0.9);
    // Which evidence decided is said.
    assert!(v
        .evidence
        .iter()
        .any(|e| e.starts_with("decided by: canaries")
            && e.contains("control:")
            && e.contains("resolver:")));
    // The TLS canary's completed TCP handshake is reported, not taken for connectivity.
    assert!(v
        .evidence
        .iter()
        .any(|e| e.contains("TCP handshakes completed")));
    assert!(v
        .evidence
        .iter()
        .any(|e| e.contains("what the target itself saw")));
}

#[test]
fn only_domestic_canaries_answering_is_a_shutdown_too() {
    let r = check(vec![
        canary("dns", true, true, None),
        canary("tls", true, true, None),
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("tls", false, false, Some(Failure::ConnectionReset)),
    ]);
    let v = apply(dns_timeout(), Some(&r), CONTROL_SILENT);
    assert_eq!(v.status, Status::Offline);
    assert_eq!(v.techniques, vec![Technique::Shutdown]);
    assert_eq!(v.rules, vec!["reachability.domestic_only".to_string()]);
}

#[test]
fn no_route_is_offline_without_blaming_the_network() {
    let r = check(vec![
        canary("dns", false, false, Some(Failure::NetworkUnreachable)),
        canary("tls", false, false, Some(Failure::NetworkUnreachable)),
    ]);
    let v = apply(dns_timeout(), Some(&r), CONTROL_SILENT);
    assert_eq!(v.status, Status::Offline);
    assert!(v.techniques.is_empty());
    assert_eq!(v.rules, vec!["reachability.no_route".to_string()]);
    // Two canaries: a coincidence is likelier, so the confidence is lower.
    assert!(v.confidence < 0.9);
}

#[test]
fn one_canary_abroad_answering_keeps_the_block() {
    let r = check(vec![
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("tls", false, true, None),
    ]);
    assert!(matches!(
        assess(&r, CONTROL_SILENT),
        Connectivity::Online(_)
    ));
    let v = apply(dns_timeout(), Some(&r), CONTROL_SILENT);
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.techniques, vec![Technique::DnsTimeout]);
    assert!(v
        .evidence
        .iter()
        .any(|e| e.contains("vantage point was online")));
}

#[test]
fn data_that_arrived_is_never_called_an_outage() {
    let r = check(vec![canary("dns", false, false, Some(Failure::Timeout))]);
    for v in [
        Verdict::new(Status::Blocked, 0.97, "http.blockpage.fingerprint")
            .with(Technique::HttpBlockpage),
        Verdict::new(Status::Intercepted, 0.9, "tls.mitm").with(Technique::TlsMitm),
        Verdict::new(Status::Throttled, 0.9, "throughput").with(Technique::Throughput),
        Verdict::new(Status::Accessible, 0.9, "reached.same_as_control"),
    ] {
        let before = v.clone();
        assert_eq!(apply(v, Some(&r), CONTROL_SILENT), before);
    }
}

#[test]
fn no_check_or_no_canaries_changes_nothing() {
    let v = dns_timeout();
    assert_eq!(apply(v.clone(), None, CONTROL_SILENT), v);
    let empty = check(Vec::new());
    assert_eq!(
        assess(&empty, Own::default()),
        Connectivity::Unknown(Vec::new())
    );
    assert_eq!(apply(v.clone(), Some(&empty), Own::default()), v);
}

#[test]
fn a_failed_control_with_no_canary_answering_is_offline() {
    let r = check(vec![
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("tls", false, false, Some(Failure::Timeout)),
    ]);
    let v = Verdict::new(Status::Inconclusive, 0.5, "control.missing");
    assert_eq!(apply(v, Some(&r), CONTROL_SILENT).status, Status::Offline);
}

fn silent_canaries() -> Reachability {
    check(vec![
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("dns", false, false, Some(Failure::Timeout)),
        canary("tls", false, false, Some(Failure::Timeout)),
    ])
}

#[test]
fn silent_canaries_alone_never_make_a_shutdown() {
    // Censors and firewalls block exactly the public resolvers: with nothing else silent, the
    // block stands, and the record says why it was not called a shutdown.
    let v = apply(dns_timeout(), Some(&silent_canaries()), Own::default());
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.techniques, vec![Technique::DnsTimeout]);
    assert!(
        v.evidence.iter().any(|e| e.contains("not judged offline")),
        "{:?}",
        v.evidence
    );
}

#[test]
fn an_answer_from_the_control_or_another_target_proves_the_path() {
    let answered = Own {
        control: Some(true),
        resolver: Some(false),
    };
    let v = apply(dns_timeout(), Some(&silent_canaries()), answered);
    assert_eq!(v.status, Status::Blocked);
    assert!(v
        .evidence
        .iter()
        .any(|e| e.contains("the control answered this target's own request")));
    // Another target that got a page in the window is as good a proof.
    let mut r = silent_canaries();
    r.run = Some(RunEvidence {
        window_s: 12.0,
        control_failed: 3,
        targets_answered: 1,
        targets_failed: 2,
        ..RunEvidence::default()
    });
    let own = Own {
        control: Some(false),
        resolver: Some(false),
    };
    assert!(matches!(assess(&r, own), Connectivity::Online(_)));
    assert_eq!(apply(dns_timeout(), Some(&r), own).status, Status::Blocked);
}

#[test]
fn without_canaries_a_silent_control_resolver_and_run_is_a_shutdown() {
    let mut r = check(Vec::new());
    r.run = Some(RunEvidence {
        window_s: 20.0,
        control_failed: 3,
        targets_failed: 3,
        ..RunEvidence::default()
    });
    let own = Own {
        control: Some(false),
        resolver: Some(false),
    };
    let v = apply(dns_timeout(), Some(&r), own);
    assert_eq!(v.status, Status::Offline);
    assert_eq!(v.techniques, vec![Technique::Shutdown]);
    assert!(v.confidence >= 0.9);
    let decided = v
        .evidence
        .iter()
        .find(|e| e.starts_with("decided by:"))
        .expect("the deciding evidence is named");
    assert!(decided.contains("control:") && decided.contains("resolver:"));
    assert!(decided.contains("targets: 3 other"), "{decided}");
    // The control silent but the resolver answering: not enough.
    let alive = Own {
        control: Some(false),
        resolver: Some(true),
    };
    assert_eq!(
        apply(dns_timeout(), Some(&r), alive).status,
        Status::Blocked
    );
}

#[test]
fn a_dead_resolver_turns_dns_blocking_into_a_local_fault() {
    use interfero_analysis::reach::apply_resolver;
    use interfero_model::ResolverCheck;
    let blocked = Verdict::new(Status::Blocked, 0.9, "dns.failure.control_resolves")
        .with(Technique::DnsTimeout)
        .because("the resolver did not answer; the control resolved");
    let dead = ResolverCheck {
        measured_at: "2026-12-02 10:00:00".into(),
        question: ". NS".into(),
        answered: false,
        rcode: None,
        failure: Some(Failure::Timeout),
    };
    let v = apply_resolver(blocked.clone(), Some(&dead));
    assert_eq!(v.status, Status::Inconclusive);
    assert_eq!(v.rules, ["dns.resolver_unresponsive"]);
    assert!(v.techniques.is_empty());
    assert!(v.evidence[0].contains("local fault"), "{:?}", v.evidence);
    // A resolver that refuses everything is as dead.
    let refusing = ResolverCheck {
        rcode: Some("REFUSED".into()),
        failure: None,
        ..dead.clone()
    };
    assert_eq!(
        apply_resolver(blocked.clone(), Some(&refusing)).status,
        Status::Inconclusive
    );
    // A resolver that answers the check: the block stands; so does an offline verdict.
    let alive = ResolverCheck {
        answered: true,
        rcode: Some("NOERROR".into()),
        failure: None,
        ..dead.clone()
    };
    assert_eq!(apply_resolver(blocked.clone(), Some(&alive)), blocked);
    let offline = Verdict::new(Status::Offline, 0.9, "reachability.nothing_answers");
    assert_eq!(apply_resolver(offline.clone(), Some(&dead)), offline);
    // A block that is not DNS's is not the resolver's fault.
    let tls = Verdict::new(Status::Blocked, 0.9, "tls.failure.control_handshakes")
        .with(Technique::TlsTimeout);
    assert_eq!(apply_resolver(tls.clone(), Some(&dead)), tls);
}
