//! Synthetic measurements, for tests and for benchmarks of write throughput.

use interfero_model::{Measurement, Status, Technique, Verdict};

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
