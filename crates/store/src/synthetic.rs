//! Synthetic measurements, for tests and for benchmarks of write throughput and of queries.

use interfero_model::incident::{Incident, Kind, PartialDate, Place, RecordStatus, Visibility};
use interfero_model::{Measurement, Status, Technique, Verdict};

/// The networks [`varied`] spreads measurements over (Kazakh ASes, and one elsewhere).
pub const NETWORKS: [(&str, &str); 5] = [
    ("KZ", "AS9198"),
    ("KZ", "AS48503"),
    ("KZ", "AS206026"),
    ("KZ", "AS21299"),
    ("KG", "AS8449"),
];

/// The categories [`varied`] uses (OONI's test-list codes).
pub const CATEGORIES: [&str; 6] = ["NEWS", "POLR", "HUMR", "SRCH", "GRP", "COMT"];

/// How many distinct domains [`varied`] uses.
pub const DOMAINS: usize = 200;

/// The `i`-th of a realistic spread of measurements for query tests and benchmarks: 30 days
/// from 2026-11-01, the five [`NETWORKS`], [`DOMAINS`] domains in the six [`CATEGORIES`], and
/// verdicts that depend on domain and network the way censorship does (a few domains blocked
/// on most Kazakh networks, some only on one, throttling and interception on a few, some
/// unjudged), so that per-day, per-network and per-domain counts differ. Deterministic in `i`;
/// every measurement has its own observations (distinct uids).
pub fn varied(i: usize) -> Measurement {
    let domain = (i * 7919) % DOMAINS;
    let (cc, asn) = NETWORKS[(i / 3) % NETWORKS.len()];
    let day = (i / 11) % 30;
    let second = i % 86_400;
    let verdict = match (domain % 10, asn) {
        (0 | 1, a) if a != "AS8449" => Some(
            Verdict::new(
                Status::Blocked,
                0.97,
                "tls.stall_after_client_hello.control_ok",
            )
            .with(Technique::TlsTimeout),
        ),
        (2, "AS9198") => Some(
            Verdict::new(Status::Blocked, 0.95, "dns.nxdomain.control_ok")
                .with(Technique::DnsNxdomain),
        ),
        (3, "AS48503") => Some(Verdict::new(Status::Throttled, 0.8, "throughput.ratio")),
        (4, _) if day >= 20 => Some(Verdict::new(Status::Intercepted, 0.9, "tls.state_root")),
        (5, _) if i.is_multiple_of(13) => {
            Some(Verdict::new(Status::Down, 0.9, "control_failed_too"))
        }
        (6, _) if i.is_multiple_of(17) => None,
        (7, _) if i.is_multiple_of(5) => {
            Some(Verdict::new(Status::Inconclusive, 0.3, "control_failed"))
        }
        _ => Some(Verdict::new(
            Status::Accessible,
            0.95,
            "all_steps_match_control",
        )),
    };
    let mut m = Measurement {
        data_format_version: "0.2.0".to_string(),
        input: format!("https://news-{domain}.example/article/{}", i % 3),
        test_name: "web_connectivity".to_string(),
        test_version: "0.5.0".to_string(),
        measurement_start_time: format!(
            "2026-11-{:02} {:02}:{:02}:{:02}",
            day + 1,
            second / 3600 % 24,
            second / 60 % 60,
            second % 60
        ),
        test_start_time: format!("2026-11-{:02} 00:00:00", day + 1),
        // Distinct observations for every i, whatever the other fields repeat.
        test_runtime: 1.0 + i as f64 / 1e6,
        probe_asn: asn.to_string(),
        probe_cc: cc.to_string(),
        probe_ip: "127.0.0.1".to_string(),
        software_name: interfero_model::measurement::SOFTWARE_NAME.to_string(),
        software_version: "0.1.0".to_string(),
        verdict,
        ..Measurement::default()
    };
    m.annotations.insert(
        "category_code".into(),
        CATEGORIES[domain % CATEGORIES.len()].into(),
    );
    m
}

/// `n` plausible, distinct measurements: inputs `https://site-N.example/`, statuses and
/// techniques cycling through a few realistic combinations.
pub fn measurements(n: usize) -> Vec<Measurement> {
    (0..n).map(measurement).collect()
}

/// The `i`-th synthetic measurement.
pub fn measurement(i: usize) -> Measurement {
    let verdict = match i % 4 {
        0 => Verdict::new(Status::Accessible, 0.95, "all_steps_match_control"),
        1 => Verdict::new(
            Status::Blocked,
            0.97,
            "tls.stall_after_client_hello.control_ok",
        )
        .with(Technique::TlsTimeout)
        .because("TLS handshake timed out after ClientHello"),
        2 => Verdict::new(Status::Blocked, 0.9, "dns.nxdomain.control_ok")
            .with(Technique::DnsNxdomain)
            .with(Technique::HttpBlockpage),
        _ => Verdict::new(Status::Inconclusive, 0.3, "control_failed"),
    };
    Measurement {
        data_format_version: "0.2.0".to_string(),
        input: format!("https://site-{i}.example/"),
        test_name: "web_connectivity".to_string(),
        test_version: "0.5.0".to_string(),
        measurement_start_time: format!("2026-11-30 10:{:02}:{:02}", (i / 60) % 60, i % 60),
        test_start_time: "2026-11-30 10:00:00".to_string(),
        test_runtime: 1.5,
        probe_asn: "AS9198".to_string(),
        probe_cc: "KZ".to_string(),
        probe_ip: "127.0.0.1".to_string(),
        software_name: interfero_model::measurement::SOFTWARE_NAME.to_string(),
        software_version: "0.1.0".to_string(),
        verdict: Some(verdict),
        ..Measurement::default()
    }
}

/// A Kazakh web-connectivity measurement of `input` at `time` on network `asn`, judged
/// `status` (with `technique`) by a test rule: for tests that need a few chosen verdicts.
pub fn judged(
    input: &str,
    time: &str,
    asn: &str,
    status: Status,
    technique: Option<Technique>,
) -> Measurement {
    let mut v = Verdict::new(status, 0.9, "test.rule");
    if let Some(t) = technique {
        v = v.with(t);
    }
    Measurement {
        input: input.into(),
        test_name: "web_connectivity".into(),
        measurement_start_time: time.into(),
        probe_cc: "KZ".into(),
        probe_asn: asn.into(),
        verdict: Some(v),
        ..Measurement::default()
    }
}

/// A published, public record of a website block in Kazakhstan with id `id`, title
/// `title of ID`, starting at `start` (a partial date: `2021`, `2021-03`, `2021-03-04`; one
/// that does not parse starts in 2021).
pub fn incident(id: &str, start: &str) -> Incident {
    Incident {
        id: id.into(),
        title: format!("title of {id}"),
        summary: String::new(),
        kind: Kind::WebsiteBlock,
        codes: Default::default(),
        start: PartialDate::parse(start).unwrap_or(PartialDate {
            year: 2021,
            month: None,
            day: None,
        }),
        end: None,
        ongoing: false,
        place: Place {
            country: "KZ".into(),
            admin1: None,
            locality: None,
        },
        targets: vec![],
        actors: vec![],
        network_scope: None,
        context: vec![],
        related: vec![],
        outcome: None,
        official_position: None,
        evidence: vec![],
        sources: vec![],
        status: RecordStatus::Published,
        visibility: Visibility::Public,
        audit: Default::default(),
    }
}
