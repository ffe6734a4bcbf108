//! Built-in scenarios load; every suite target is supported or marked with a reason; the suite
//! covers every technique the userspace world can emulate; scoring is right on a hand example.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_lab::score::score;
use interfero_lab::{Expectation, LabTarget, Scenario, ScenarioTime, WorldKind};
use interfero_model::{Status, Technique, Verdict};

#[test]
fn builtins_load() {
    for n in Scenario::builtin_names() {
        let s = Scenario::builtin(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert!(!s.targets.is_empty(), "{n}");
    }
    assert!(Scenario::builtin("nope").is_err());
    let kz = Scenario::builtin("kz-demo").unwrap();
    assert!((18..=24).contains(&kz.targets.len()));
}

#[test]
fn suite_coverage_and_support() {
    let s = Scenario::builtin("suite").unwrap();
    let targets = s.targets_at(ScenarioTime::default());
    let supported = |t: &LabTarget| t.supported.is_ok();
    for name in [
        "dns.nxdomain",
        "dns.servfail",
        "dns.refused",
        "dns.no_answer",
        "dns.timeout",
        "dns.bogon",
        "dns.hijack",
        "dns.injection",
        "tls.timeout",
        "tls.reset",
        "tls.eof",
        "tls.mitm",
        "http.timeout",
        "http.reset",
        "http.eof",
        "http.blockpage",
        "http.diff",
        "throughput",
    ] {
        let t = Technique::parse(name).unwrap();
        assert!(
            targets
                .iter()
                .any(|x| supported(x) && x.expect.techniques.contains(&t)),
            "no supported target for {name}"
        );
    }
    for name in ["tcp.timeout", "tcp.reset", "tcp.refused"] {
        let t = targets.iter().find(|x| x.name == name).unwrap();
        let reason = t.supported.as_ref().unwrap_err();
        assert!(reason.contains("kernel"), "{reason}");
    }
    assert!(targets.iter().any(|t| t.name == "http.blockpage.redirect"));
    // Look-alikes are never expected blocked.
    for name in [
        "down.refused",
        "down.nxdomain",
        "flaky",
        "dynamic",
        "cdn",
        "captcha",
        "cert.expired",
        "slow-honest",
    ] {
        let t = targets.iter().find(|x| x.name == name).unwrap();
        assert_ne!(t.expect.status, Status::Blocked, "{name}");
    }
}

#[test]
fn rejects_bad_scenarios() {
    assert!(Scenario::parse("name = \"x\"\n[[sites]]\nname = \"real.com\"\n").is_err());
    let bad_window = "name = \"x\"\n[[sites]]\nname = \"a.test\"\n[[rules]]\nid = \"r\"\nmatch = { sni = \"a.test\" }\naction = \"tls.stall\"\nactive = [{ from = \"d2\", to = \"d1\" }]\n";
    assert!(Scenario::parse(bad_window).is_err());
    let bad_match = "name = \"x\"\n[[rules]]\nid = \"r\"\nmatch = { host = \"a.test\" }\naction = \"dns.nxdomain\"\n";
    assert!(Scenario::parse(bad_match).is_err());
}

#[test]
fn a_bogon_answer_that_could_route_off_the_machine_is_refused() {
    // Link-local cloud metadata, a private range, a public address, loopback: each could carry
    // a probe's connection somewhere the lab does not own (or into the lab's own block).
    for addr in [
        "169.254.169.254",
        "10.10.34.35",
        "93.184.216.34",
        "127.0.0.9",
    ] {
        let text = format!("name = \"x\"\nbogon_address = \"{addr}\"\n");
        let err = Scenario::parse(&text).unwrap_err().to_string();
        assert!(err.contains("could route off"), "{addr}: {err}");
    }
    for addr in ["233.252.0.35", "224.0.0.1", "255.255.255.255"] {
        let text = format!("name = \"x\"\nbogon_address = \"{addr}\"\n");
        assert!(Scenario::parse(&text).is_ok(), "{addr}");
    }
}

fn target(name: &str, status: Status, techniques: &[Technique], accept: &[Status]) -> LabTarget {
    LabTarget {
        name: name.into(),
        url: format!("https://{name}.test:8443/"),
        expect: Expectation {
            status,
            techniques: techniques.to_vec(),
            accept: accept.to_vec(),
        },
        supported: Ok(()),
    }
}

fn verdict(status: Status, techniques: &[Technique]) -> Verdict {
    let mut v = Verdict::new(status, 0.9, "r");
    for t in techniques {
        v.add(*t);
    }
    v
}

#[test]
fn score_hand_example() {
    use Status::*;
    use Technique::*;
    let mut unsupported = target("tcp", Blocked, &[TcpReset], &[]);
    unsupported.supported = Err("kernel only".into());
    let results = vec![
        (
            target("a", Blocked, &[TlsTimeout], &[]),
            verdict(Blocked, &[TlsTimeout]),
        ),
        (
            target("b", Blocked, &[DnsNxdomain], &[]),
            verdict(Blocked, &[DnsNxdomain]),
        ),
        // Miss: right status, wrong technique.
        (
            target("c", Blocked, &[TlsReset], &[]),
            verdict(Blocked, &[TlsEof]),
        ),
        // Miss: a down site called blocked.
        (target("d", Down, &[], &[]), verdict(Blocked, &[TlsTimeout])),
        (target("e", Accessible, &[], &[]), verdict(Accessible, &[])),
        // Accepted alternative: not a miss, counted as inconclusive on both sides.
        (
            target("f", Accessible, &[], &[Inconclusive]),
            verdict(Inconclusive, &[]),
        ),
        (unsupported, verdict(Accessible, &[])),
    ];
    let r = score(&results);
    assert_eq!((r.scored, r.correct, r.status_correct), (6, 4, 5));
    assert_eq!(r.unsupported.len(), 1);
    assert_eq!(
        r.misses.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["c", "d"]
    );
    let blocked = r.per_status.iter().find(|m| m.label == "blocked").unwrap();
    // 3 right blocked, 1 down called blocked: precision 3/4, recall 3/3.
    assert_eq!((blocked.tp, blocked.fp, blocked.fn_), (3, 1, 0));
    assert_eq!(blocked.precision, Some(0.75));
    assert_eq!(blocked.recall, Some(1.0));
    let down = r.per_status.iter().find(|m| m.label == "down").unwrap();
    assert_eq!(
        (down.tp, down.fn_, down.precision, down.recall),
        (0, 1, None, Some(0.0))
    );
    let tt = r
        .per_technique
        .iter()
        .find(|m| m.label == "tls.timeout")
        .unwrap();
    assert_eq!((tt.tp, tt.fp, tt.fn_), (1, 1, 0));
    let reset = r
        .per_technique
        .iter()
        .find(|m| m.label == "tls.reset")
        .unwrap();
    assert_eq!(
        (reset.tp, reset.fn_, reset.precision, reset.recall),
        (0, 1, None, Some(0.0))
    );
    assert_eq!(r.matrix[1][1], 3); // blocked -> blocked
    assert_eq!(r.matrix[4][1], 1); // down -> blocked
    assert_eq!(r.matrix[6][6], 1); // accepted inconclusive
    let text = r.to_text();
    assert!(
        text.contains("MISS d: expected down [-], got blocked [tls.timeout]"),
        "{text}"
    );
    assert!(r
        .to_markdown()
        .contains("| `blocked` | 3 | 1 | 0 | 75.0% | 100.0% |"));
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["per_status"][1]["fn"], 0);
}

#[test]
fn a_registry_action_needs_a_registered_domain_of_its_own() {
    let ok = "name = \"x\"\n[[sites]]\nname = \"gone.test\"\ndelegation = \"removed\"\n";
    assert!(Scenario::parse(ok).is_ok());
    let deep = "name = \"x\"\n[[sites]]\nname = \"www.gone.test\"\ndelegation = \"lame\"\n";
    let e = Scenario::parse(deep).unwrap_err().to_string();
    assert!(e.contains("registered domain"), "{e}");
    let shared = format!("{ok}[[sites]]\nname = \"www.gone.test\"\n");
    assert!(Scenario::parse(&shared).is_err());
}

#[test]
fn working_ipv6_is_the_kernel_worlds_and_family_limits_tcp_rules_only() {
    let s = Scenario::builtin("ipv6-working").unwrap();
    let user = s.targets_in(Default::default(), WorldKind::Userspace);
    assert!(user.iter().all(|t| t
        .supported
        .as_ref()
        .is_err_and(|e| e.contains("working") && e.contains("::1"))));
    let kernel = s.targets_in(Default::default(), WorldKind::Kernel);
    assert!(kernel.iter().all(|t| t.supported.is_ok()));

    let base = "name = \"x\"\nipv6 = \"working\"\n[[sites]]\nname = \"a.test\"\nipv6 = true\n";
    let rule = |m: &str, action: &str| {
        format!("{base}[[rules]]\nid = \"r\"\nmatch = {{ {m} }}\naction = \"{action}\"\n")
    };
    assert!(Scenario::parse(&rule("address = \"a.test\", family = \"ipv6\"", "tcp.drop")).is_ok());
    // family is nftables' business: a middlebox rule cannot use it.
    let e = Scenario::parse(&rule("sni = \"a.test\", family = \"ipv6\"", "tls.stall"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("family"), "{e}");
    // The injectors speak IPv4 only: tcp.reset over IPv6 would be a drop.
    let e = Scenario::parse(&rule("address = \"a.test\"", "tcp.reset"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("IPv4 only"), "{e}");
    assert!(Scenario::parse(&rule(
        "address = \"a.test\", family = \"ipv4\"",
        "tcp.reset"
    ))
    .is_ok());
}
