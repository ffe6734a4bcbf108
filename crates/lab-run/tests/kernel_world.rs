//! End to end in the kernel world: the real probe in a client namespace, the censor in a router
//! namespace (nftables for tcp.* and shutdown, the middlebox for the rest), the control beside
//! the servers. The tcp.* targets that userspace cannot emulate are scored and right, every
//! other verdict matches the userspace world's, and nothing is left behind. Needs root and
//! `nft`: skips with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_lab::kernel::{self, lab_namespaces};
use interfero_lab::{LabTarget, Scenario, WorldKind};
use interfero_lab_run::lab::Lab;
use interfero_model::{Family, FamilyState, Measurement, Technique};
use std::collections::BTreeMap;

fn available() -> bool {
    match kernel::check() {
        Ok(()) => true,
        Err(e) => {
            kernel::report_skip("the kernel world tests", &e);
            false
        }
    }
}

type Seen = BTreeMap<String, (String, Vec<Technique>)>;

/// Runs `name` in world `kind`: the report, each target's (status, techniques), and the
/// kernel world's namespace prefix.
async fn eval(name: &str, kind: WorldKind) -> (interfero_lab::score::Report, Seen, Option<String>) {
    let s = Scenario::builtin(name).expect("built-in scenario");
    let lab = Lab::start_in(&s, kind).await.expect("lab starts");
    let tag = lab.kernel().map(|k| k.tag().to_string());
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    let results: Vec<(LabTarget, Measurement)> = results;
    lab.shutdown().await;
    // A miss is printed whole (shown only when the test fails): the evidence to find out why.
    for (t, m) in &results {
        if report.misses.iter().any(|x| x.name == t.name) {
            eprintln!(
                "missed {}: {}",
                t.name,
                serde_json::to_string_pretty(m).unwrap_or_default()
            );
        }
    }
    let seen = results
        .into_iter()
        .filter_map(|(t, m)| {
            let v = m.verdict?;
            let mut tech = v.techniques.clone();
            tech.sort();
            Some((t.name, (v.status.to_string(), tech)))
        })
        .collect();
    (report, seen, tag)
}

fn assert_clean(tag: Option<String>) {
    let tag = tag.expect("a kernel world has namespaces");
    let left: Vec<String> = lab_namespaces(false)
        .into_iter()
        .filter(|n| n.starts_with(&format!("{tag}-")))
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    // The censor's table lived in a router namespace only; the host has none of ours.
    let tables = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .expect("nft runs");
    let tables = String::from_utf8_lossy(&tables.stdout);
    assert!(!tables.contains("interfero"), "nft tables left: {tables}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_tcp_scored_and_rest_as_userspace() {
    if !available() {
        return;
    }
    let (report, kernel_seen, tag) = eval("suite", WorldKind::Kernel).await;
    assert_clean(tag);
    assert!(
        report.unsupported.is_empty(),
        "the kernel world emulates everything: {:?}",
        report.unsupported
    );
    let misses: Vec<String> = report.misses.iter().map(|m| format!("{m}")).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    for (name, tech) in [
        ("tcp.timeout", Technique::TcpTimeout),
        ("tcp.reset", Technique::TcpReset),
        ("tcp.refused", Technique::TcpRefused),
    ] {
        let (status, got) = kernel_seen.get(name).expect("tcp target measured");
        assert_eq!(
            (status.as_str(), got.as_slice()),
            ("blocked", &[tech][..]),
            "{name}"
        );
    }
    let (_, user_seen, _) = eval("suite", WorldKind::Userspace).await;
    let differ: Vec<String> = user_seen
        .iter()
        .filter(|(name, v)| kernel_seen.get(*name) != Some(*v))
        .map(|(name, v)| {
            format!(
                "{name}: userspace {v:?}, kernel {:?}",
                kernel_seen.get(name)
            )
        })
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kz_shutdown_with_real_drops_is_offline() {
    if !available() {
        return;
    }
    // nftables drops everything the client sends: SYNs go unanswered, canaries included.
    let (report, seen, tag) = eval("kz-shutdown", WorldKind::Kernel).await;
    assert_clean(tag);
    assert_eq!(seen.len(), 4, "every target measured");
    let misses: Vec<&str> = report.misses.iter().map(|m| m.name.as_str()).collect();
    assert!(misses.is_empty(), "{misses:?}");
    assert!(seen
        .values()
        .all(|(s, t)| s == "offline" && t == &[Technique::Shutdown]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_walks_the_lab_root_through_the_routers() {
    if !available() {
        return;
    }
    let (report, seen, tag) = eval("registry", WorldKind::Kernel).await;
    assert_clean(tag);
    let misses: Vec<String> = report.misses.iter().map(|m| format!("{m}")).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    assert_eq!(
        seen.get("registry.suspended"),
        Some(&("down".to_string(), vec![Technique::DnsDelegationRemoved]))
    );
    assert_eq!(
        seen.get("registry.lame"),
        Some(&("down".to_string(), vec![Technique::DnsDelegationBroken]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_or_absent_ipv6_at_the_vantage_point_blocks_nothing() {
    if !available() {
        return;
    }
    // Broken: a route to 2001:2::/48 on a link where nothing answers; absent: no IPv6 route.
    // The censor's IPv4 drop stays tcp.timeout alone: IPv6's no-route failures are the
    // vantage point's and name no technique.
    for name in ["ipv6-broken", "ipv6-absent"] {
        let (report, seen, tag) = eval(name, WorldKind::Kernel).await;
        assert_clean(tag);
        assert!(report.misses.is_empty(), "{name}: {:#?}", report.misses);
        assert!(
            report.unsupported.is_empty(),
            "{name}: {:?}",
            report.unsupported
        );
        assert_eq!(
            seen.get("tcp.timeout"),
            Some(&("blocked".to_string(), vec![Technique::TcpTimeout])),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_ipv6_judges_blocks_in_one_family_and_in_both() {
    if !available() {
        return;
    }
    // IPv6 routed end to end: a site dropped over one family while the other reaches it is
    // blocked in that family; both families dropped, stalled or closed are judged as in IPv4.
    let s = Scenario::builtin("ipv6-working").unwrap();
    let lab = Lab::start_in(&s, WorldKind::Kernel)
        .await
        .expect("lab starts");
    let tag = lab.kernel().map(|k| k.tag().to_string());
    let interfero_lab_run::lab::Evaluation {
        report, results, ..
    } = lab.eval().await;
    lab.shutdown().await;
    assert_clean(tag);
    assert!(report.unsupported.is_empty(), "{:?}", report.unsupported);
    let misses: Vec<String> = report.misses.iter().map(|m| format!("{m}")).collect();
    assert!(misses.is_empty(), "{misses:#?}");
    assert_eq!(results.len(), s.targets.len(), "every target measured");
    let families = |name: &str| -> Vec<(Family, FamilyState)> {
        let (_, m) = results.iter().find(|(t, _)| t.name == name).unwrap();
        let v = m.verdict.as_ref().expect("judged");
        v.x_families.iter().map(|o| (o.family, o.state)).collect()
    };
    // Each one-family block is judged in its family, the other family reaching the site.
    use Family::{Ipv4, Ipv6};
    use FamilyState::{Blocked, Reached};
    assert_eq!(
        families("tcp.timeout.ipv6-only"),
        [(Ipv4, Reached), (Ipv6, Blocked)]
    );
    assert_eq!(
        families("tcp.timeout.ipv4-only"),
        [(Ipv4, Blocked), (Ipv6, Reached)]
    );
    // Reached in both families: nothing failed alone, nothing to state.
    assert!(families("accessible.dual-stack").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_sharing_an_address_through_a_real_shaper() {
    if !available() {
        return;
    }
    // The whole address slowed by a tc htb class queues the page's bytes: the timed legs made
    // after the fetch wait behind them, and the fetch's own bytes are the rate. One name slowed
    // alone is compared with the other names' pages from the same address.
    let (report, seen, tag) = eval("shared-address", WorldKind::Kernel).await;
    assert_clean(tag);
    assert!(report.misses.is_empty(), "{:#?}", report.misses);
    for name in [
        "throughput.shared-edge-refused",
        "throughput.shared-edge-error-page",
    ] {
        assert_eq!(
            seen.get(name),
            Some(&("throttled".to_string(), vec![Technique::Throughput])),
            "{name}"
        );
    }
    for name in [
        "throughput.shared-address-slowed",
        "throughput.shared-address-slowed-b",
    ] {
        // Judged from a rate (the fetch's own, the legs having moved nothing), whichever of
        // the two accepted statuses: never from the timeout.
        let (status, techniques) = seen.get(name).expect("judged");
        assert!(
            ["throttled", "inconclusive"].contains(&status.as_str())
                && techniques == &[Technique::Throughput],
            "{name}: {status} {techniques:?}"
        );
    }
}
