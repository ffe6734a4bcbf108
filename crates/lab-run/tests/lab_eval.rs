//! End to end: the real probe and control against the userspace censor lab. Every supported
//! target of every built-in scenario must get the verdict its censor rules say (status and
//! techniques).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_lab::{Scenario, ScenarioTime};
use interfero_lab_run::lab::Lab;
use interfero_model::Status;

async fn eval(name: &str) -> Vec<String> {
    eval_at(name, None).await
}

/// Evaluates `name` with the scenario clock at `at` (`"d1 13:00"`), or at its start.
async fn eval_at(name: &str, at: Option<&str>) -> Vec<String> {
    let s = Scenario::builtin(name).expect("built-in scenario");
    let lab = Lab::start(&s).await.expect("lab starts");
    if let Some(t) = at {
        lab.world
            .set_time(ScenarioTime::parse(t).expect("scenario time"));
    }
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    assert!(!results.is_empty(), "{name}: nothing measured");
    // The control hands back the probe's address for scrubbing; it is never kept.
    assert!(results.iter().all(|(_, m)| m
        .test_keys
        .control
        .as_ref()
        .is_none_or(|c| c.x_client_address.is_none())));
    // A shutdown's verdicts must rest on a reachability check kept in the measurement.
    for (t, m) in &results {
        if m.verdict.as_ref().map(|v| v.status) == Some(Status::Offline) {
            assert!(
                m.test_keys.x_reachability.is_some(),
                "{name}/{}: offline without a check kept",
                t.name
            );
        }
    }
    let checks = lab.session.reach.checks();
    lab.shutdown().await;
    if name == "suite" || name == "kz-demo" {
        // Targets fail in these worlds, so checks are made, but the canaries answer.
        assert!(
            checks > 0,
            "{name}: failed targets made no reachability check"
        );
    }
    report
        .misses
        .iter()
        .map(|m| format!("{name}/{m}"))
        .collect()
}

/// Evaluates `name` with no misses allowed, and hands back each target's verdict by name.
async fn verdicts(name: &str) -> std::collections::HashMap<String, interfero_model::Verdict> {
    let s = Scenario::builtin(name).expect("built-in scenario");
    let lab = Lab::start(&s).await.expect("lab starts");
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    lab.shutdown().await;
    assert!(report.misses.is_empty(), "{name}: {:#?}", report.misses);
    results
        .into_iter()
        .filter_map(|(t, m)| Some((t.name, m.verdict?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_every_verdict_right() {
    let misses = eval("suite").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_demo_every_verdict_right() {
    let misses = eval("kz-demo").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_control_is_inconclusive_unless_certain() {
    let misses = eval("failed-control").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_shutdown_is_offline_not_blocked() {
    let misses = eval("kz-shutdown").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_shutdown_daily_window_is_accessible() {
    // Day 1 at 13:00 is inside the daily window of access: every site answers.
    let misses = eval_at("kz-shutdown", Some("d1 13:00")).await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_from_64_kbps_to_2_mbps_caught_and_look_alikes_not() {
    let misses = eval("throttle-sweep").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_judged_from_their_endpoints() {
    let misses = eval("services").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_suspension_lame_and_resolver_nxdomain_told_apart() {
    let s = Scenario::builtin("registry").expect("built-in scenario");
    let lab = Lab::start(&s).await.expect("lab starts");
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    lab.shutdown().await;
    let misses: Vec<String> = report.misses.iter().map(|m| format!("{m}")).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    let walk_of = |name: &str| {
        let (_, m) = results
            .iter()
            .find(|(t, _)| t.name == name)
            .expect("target measured");
        // The walk is kept in test_keys (probe's and control's), as OONI-compatible x_ keys.
        let json = serde_json::to_value(m).expect("serialises");
        let probe = json["test_keys"]["x_delegation"]["outcome"].clone();
        let control = json["test_keys"]["control"]["x_delegation"]["outcome"].clone();
        (probe, control)
    };
    assert_eq!(
        walk_of("registry.suspended"),
        ("nxdomain".into(), "nxdomain".into())
    );
    assert_eq!(walk_of("registry.lame"), ("lame".into(), "lame".into()));
    assert_eq!(
        walk_of("registry.resolver-nxdomain"),
        ("answered".into(), "answered".into())
    );
    // A name that resolves is not walked.
    assert_eq!(
        walk_of("registry.accessible"),
        (serde_json::Value::Null, serde_json::Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_canary_blocked_is_never_a_shutdown() {
    let s = Scenario::builtin("canaries-blocked").expect("built-in scenario");
    let lab = Lab::start(&s).await.expect("lab starts");
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    lab.shutdown().await;
    let misses: Vec<String> = report.misses.iter().map(|m| m.to_string()).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    // The scenario does what it says: every check made found every canary silent, and the
    // verdict names what proved the vantage point online.
    let checked: Vec<_> = results
        .iter()
        .filter_map(|(_, m)| Some((m.test_keys.x_reachability.as_ref()?, m)))
        .collect();
    assert!(!checked.is_empty(), "failed targets made no check");
    for (r, m) in checked {
        assert!(
            !r.canaries.is_empty() && r.canaries.iter().all(|c| !c.answered),
            "{}: a canary answered: {:?}",
            m.input,
            r.canaries
        );
        let v = m.verdict.as_ref().expect("judged");
        assert!(
            v.evidence
                .iter()
                .any(|e| e.starts_with("the vantage point was online") && e.contains("control")),
            "{}: {:?}",
            m.input,
            v.evidence
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_dropped_to_all_but_the_isp_resolver_is_not_a_shutdown() {
    let misses = eval("dns-firewall").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_shutdown_without_canaries_is_offline_from_the_run_alone() {
    let s = Scenario::builtin("kz-shutdown").expect("built-in scenario");
    let mut lab = Lab::start(&s).await.expect("lab starts");
    // `--canaries none`: the control, the resolver and the other targets decide.
    let mut probe = (*lab.session.probe).clone();
    probe.canaries.clear();
    let probe = std::sync::Arc::new(probe);
    lab.session.reach = std::sync::Arc::new(interfero_session::reach::Monitor::new(probe.clone()));
    lab.session.probe = probe;
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    lab.shutdown().await;
    let misses: Vec<String> = report.misses.iter().map(|m| m.to_string()).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    for (_, m) in &results {
        let v = m.verdict.as_ref().expect("judged");
        let decided = v
            .evidence
            .iter()
            .find(|e| e.starts_with("decided by:"))
            .unwrap_or_else(|| panic!("{}: no deciding evidence: {:?}", m.input, v.evidence));
        assert!(
            decided.contains("control:") && decided.contains("resolver:"),
            "{decided}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_from_what_moved_whatever_the_server_or_cdn_does() {
    // No close_notify, CDN edges refusing or error-paging the innocuous name: throttled when
    // the pair shows it, inconclusive with the rates when nothing compares, never blocked.
    let misses = eval("cdn-quirks").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_slow_path_is_not_a_block() {
    // 4% of the probe's DNS datagrams lost (the first included): retransmitted, not blocked.
    let misses = eval("lossy-slow").await;
    assert!(misses.is_empty(), "{misses:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_ipv6_at_the_vantage_point_blocks_nothing() {
    // AAAA answers to ::1, where nothing listens: every IPv6 connect refused, IPv4 works.
    // Each site is judged over IPv4 and IPv6 is said unavailable at the vantage point.
    let dual = verdicts("ipv6-broken")
        .await
        .remove("accessible.dual-stack")
        .expect("judged");
    let v6 = dual
        .x_families
        .iter()
        .find(|o| o.family == interfero_model::Family::Ipv6)
        .expect("IPv6 stated");
    assert_eq!(
        v6.state,
        interfero_model::FamilyState::UnavailableHere,
        "{dual:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_sharing_an_address_compare_with_each_other() {
    // Shared hosting and CDN edges: the innocuous name is refused or error-paged, so a name
    // throttled alone is told by another name's page from the same address; a whole address
    // slowed is slow for every name there.
    let seen = verdicts("shared-address").await;
    for name in [
        "throughput.shared-edge-refused",
        "throughput.shared-edge-error-page",
    ] {
        let v = seen.get(name).expect("judged");
        assert_eq!(
            (v.status, v.rules.first().map(String::as_str)),
            (Status::Throttled, Some("throughput.same_address_ratio")),
            "{name}: {:?}",
            v.evidence
        );
    }
}
