//! Cross-network evidence: one artefact on several networks at about the same time is said to
//! be so; different artefacts, far-apart times or unnamed networks are not linked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::crossnet::{annotate, correlate};
use interfero_model::measurement::{CertInfo, TlsHandshake};
use interfero_model::{Failure, Measurement, Status, Technique, Verdict};

fn mitm(asn: &str, at: &str, spki: &str, input: &str) -> Measurement {
    let mut m = Measurement {
        input: input.into(),
        probe_asn: asn.into(),
        probe_cc: "KZ".into(),
        measurement_start_time: at.into(),
        verdict: Some(Verdict::new(Status::Intercepted, 0.9, "tls.mitm").with(Technique::TlsMitm)),
        ..Measurement::default()
    };
    m.test_keys.tls_handshakes.push(TlsHandshake {
        server_name: "news.example".into(),
        failure: Some(Failure::SslUnknownAuthority),
        x_chain: vec![
            CertInfo {
                spki_sha256: "leaf".into(),
                ..CertInfo::default()
            },
            CertInfo {
                subject: "CN=Qaznet Trust Network".into(),
                spki_sha256: spki.into(),
                ..CertInfo::default()
            },
        ],
        ..TlsHandshake::default()
    });
    m
}

#[test]
fn one_root_on_two_networks_within_the_hour_is_linked() {
    let ms = vec![
        mitm(
            "AS9198",
            "2019-07-18 10:00:00",
            "aaaa",
            "https://news.example/",
        ),
        mitm(
            "AS9198",
            "2019-07-18 11:00:00",
            "aaaa",
            "https://mail.example/",
        ),
        mitm(
            "AS21299",
            "2019-07-18 10:40:00",
            "aaaa",
            "https://news.example/",
        ),
    ];
    let f = correlate(&ms, 3600);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].networks.len(), 2);
    assert_eq!(f[0].networks[0].0, "AS9198 (KZ)");
    assert_eq!(f[0].spread_secs, Some(40 * 60));
    assert_eq!(f[0].inputs.len(), 2);
    assert!(f[0]
        .evidence
        .contains("the same tls.mitm (certificate SPKI sha256 aaaa)"));
    assert!(f[0].evidence.contains("within 40 min"));
    // The finding joins the evidence of each linked verdict, and of no other.
    let mut linked = ms[2].clone();
    assert_eq!(annotate(&mut linked, &f), 1);
    assert!(linked
        .verdict
        .unwrap()
        .evidence
        .iter()
        .any(|e| e == &f[0].evidence));
    let mut other = mitm(
        "AS1",
        "2019-07-18 10:00:00",
        "cccc",
        "https://news.example/",
    );
    assert_eq!(annotate(&mut other, &f), 0);
}

#[test]
fn different_roots_far_apart_times_and_unnamed_networks_are_not_linked() {
    let differ = vec![
        mitm(
            "AS9198",
            "2019-07-18 10:00:00",
            "aaaa",
            "https://n.example/",
        ),
        mitm(
            "AS21299",
            "2019-07-18 10:05:00",
            "bbbb",
            "https://n.example/",
        ),
    ];
    assert!(correlate(&differ, 3600).is_empty());
    let apart = vec![
        mitm(
            "AS9198",
            "2019-07-18 10:00:00",
            "aaaa",
            "https://n.example/",
        ),
        mitm(
            "AS21299",
            "2019-07-20 10:00:00",
            "aaaa",
            "https://n.example/",
        ),
    ];
    assert!(correlate(&apart, 3600).is_empty());
    let unnamed = vec![
        mitm("AS0", "2019-07-18 10:00:00", "aaaa", "https://n.example/"),
        mitm("AS0", "2019-07-18 10:00:00", "aaaa", "https://n.example/"),
    ];
    assert!(correlate(&unnamed, 3600).is_empty());
}

#[test]
fn behaviour_alone_is_called_behaviour() {
    let stall = |asn: &str| Measurement {
        input: "https://n.example/".into(),
        probe_asn: asn.into(),
        measurement_start_time: "2022-01-05 10:00:00".into(),
        verdict: Some(Verdict::new(Status::Blocked, 0.9, "r").with(Technique::TlsTimeout)),
        ..Measurement::default()
    };
    let f = correlate(&[stall("AS1"), stall("AS2")], 60);
    assert_eq!(f.len(), 1);
    assert!(!f[0].signature.identical_artefact());
    assert!(f[0].evidence.contains("the same behaviour (tls.timeout)"));
    // Accessible measurements are never linked.
    let mut ok = stall("AS3");
    ok.verdict = Some(Verdict::new(Status::Accessible, 0.9, "r"));
    assert_eq!(correlate(&[ok, stall("AS1")], 60).len(), 0);
}
