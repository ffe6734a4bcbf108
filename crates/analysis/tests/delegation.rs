//! Registry or resolver: a name the probe's resolver fails, judged by the delegation walk.

use interfero_analysis::{judge, Context};
use interfero_model::control::{ControlDns, ControlHttp};
use interfero_model::delegation::{DelegationWalk, WalkOutcome};
use interfero_model::measurement::{DnsAnswer, DnsQuery};
use interfero_model::{ControlResponse, Failure, Status, Technique, TestKeys, Verdict};

const URL: &str = "https://news.kz/";

fn walk(outcome: WalkOutcome, zone: &str) -> DelegationWalk {
    DelegationWalk {
        hostname: "news.kz".into(),
        outcome,
        nxdomain_zone: (outcome == WalkOutcome::Nxdomain).then(|| zone.to_string()),
        last_delegation: Some(zone.to_string()),
        delegated_ns: vec!["ns1.host.kz.".into()],
        ..DelegationWalk::default()
    }
}

/// The probe's resolver fails with `probe`; the control's resolver fails with `control` (or
/// resolves from a cache and fetches the page).
fn keys(probe: Failure, control: Option<Failure>) -> TestKeys {
    let mut c = ControlResponse {
        dns: ControlDns {
            failure: control.clone(),
            addrs: if control.is_none() {
                vec!["93.184.216.34".into()]
            } else {
                Vec::new()
            },
        },
        ..ControlResponse::default()
    };
    if control.is_none() {
        c.http_request = ControlHttp {
            status_code: 200,
            body_length: 100,
            ..ControlHttp::default()
        };
    } else {
        c.http_request.failure = control;
    }
    TestKeys {
        queries: vec![DnsQuery {
            hostname: "news.kz".into(),
            query_type: "A".into(),
            failure: Some(probe.clone()),
            ..DnsQuery::default()
        }],
        dns_experiment_failure: Some(probe),
        control: Some(c),
        ..TestKeys::default()
    }
}

fn verdict(tk: &TestKeys) -> Verdict {
    judge(URL, tk, &Context::default())
}

#[test]
fn a_removed_delegation_is_down_even_where_the_control_resolves_from_a_cache() {
    let mut tk = keys(Failure::DnsNxdomain, None);
    tk.control.as_mut().unwrap().x_delegation = Some(walk(WalkOutcome::Nxdomain, "kz."));
    let v = verdict(&tk);
    assert_eq!(v.status, Status::Down, "{v:?}");
    assert_eq!(v.techniques, vec![Technique::DnsDelegationRemoved]);
    assert!(v.evidence.iter().any(|e| e.contains("cached")), "{v:?}");
    // Without the walk, the same observations are the resolver's lie.
    tk.control.as_mut().unwrap().x_delegation = None;
    assert_eq!(verdict(&tk).techniques, vec![Technique::DnsNxdomain]);
}

#[test]
fn the_controls_walk_outweighs_a_forged_one_on_the_probes_side() {
    let mut tk = keys(Failure::DnsNxdomain, None);
    tk.x_delegation = Some(walk(WalkOutcome::Nxdomain, "kz."));
    let mut answered = walk(WalkOutcome::Answered, "news.kz.");
    answered.steps = Vec::new();
    tk.control.as_mut().unwrap().x_delegation = Some(answered);
    let v = verdict(&tk);
    assert_eq!(v.status, Status::Blocked, "{v:?}");
    assert_eq!(v.techniques, vec![Technique::DnsNxdomain]);
    assert!(
        v.evidence.iter().any(|e| e.contains("its servers answer")),
        "{v:?}"
    );
}

#[test]
fn a_lame_delegation_is_the_publishers_fault() {
    let mut tk = keys(Failure::DnsServfail, Some(Failure::DnsServfail));
    tk.control.as_mut().unwrap().x_delegation = Some(walk(WalkOutcome::Lame, "news.kz."));
    let v = verdict(&tk);
    assert_eq!(v.status, Status::Down, "{v:?}");
    assert_eq!(v.techniques, vec![Technique::DnsDelegationBroken]);
    // The registry's own servers not answering is not the publisher's lame delegation.
    tk.control.as_mut().unwrap().x_delegation = Some(walk(WalkOutcome::Lame, "kz."));
    let v = verdict(&tk);
    assert!(
        !v.techniques.contains(&Technique::DnsDelegationBroken),
        "{v:?}"
    );
}

#[test]
fn the_publishers_own_nxdomain_is_not_a_registry_action() {
    let mut tk = keys(Failure::DnsNxdomain, Some(Failure::DnsNxdomain));
    tk.control.as_mut().unwrap().x_delegation = Some(walk(WalkOutcome::Nxdomain, "news.kz."));
    let v = verdict(&tk);
    assert_eq!(v.status, Status::Down, "{v:?}");
    assert!(v.techniques.is_empty(), "{v:?}");
}

#[test]
fn without_a_control_the_walk_is_named_not_concluded() {
    let mut tk = keys(Failure::DnsNxdomain, None);
    tk.control = None;
    tk.x_delegation = Some(walk(WalkOutcome::Nxdomain, "kz."));
    let v = verdict(&tk);
    assert_eq!(v.status, Status::Inconclusive, "{v:?}");
    assert_eq!(v.techniques, vec![Technique::DnsDelegationRemoved]);
}

#[test]
fn a_walk_beside_a_resolved_name_is_ignored() {
    let mut tk = keys(Failure::DnsNxdomain, None);
    tk.queries[0].failure = None;
    tk.queries[0].answers = vec![DnsAnswer {
        answer_type: "A".into(),
        ipv4: Some("93.184.216.34".into()),
        ..DnsAnswer::default()
    }];
    tk.dns_experiment_failure = None;
    tk.control.as_mut().unwrap().x_delegation = Some(walk(WalkOutcome::Nxdomain, "kz."));
    let v = verdict(&tk);
    assert!(
        !v.techniques.contains(&Technique::DnsDelegationRemoved),
        "{v:?}"
    );
}
