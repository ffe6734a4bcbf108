//! End to end: the real probe and control against the userspace censor lab. Every supported
//! target of every built-in scenario must get the verdict its censor rules say (status and
//! techniques).

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
