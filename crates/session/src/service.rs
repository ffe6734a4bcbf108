//! Services judged as a whole: their endpoints' verdicts gathered from a run's measurements,
//! and a record (`test_name` `x_service`) holding the service's verdict beside them.

use interfero_analysis::service::judge_service;
use interfero_model::measurement::SOFTWARE_NAME;
use interfero_model::{Measurement, Verdict};

/// The verdicts of `endpoints` (URLs) among `measured`, in the endpoints' order; an endpoint
/// not measured (an interrupted run) is left out.
pub fn parts<'a>(
    endpoints: &[String],
    measured: impl IntoIterator<Item = &'a Measurement> + Clone,
) -> Vec<(String, Verdict)> {
    endpoints
        .iter()
        .filter_map(|url| {
            let m = measured.clone().into_iter().find(|m| &m.input == url)?;
            Some((url.clone(), m.verdict.clone()?))
        })
        .collect()
}

/// The record of service `name` made of `endpoints`, judged from `measured`.
pub fn record(name: &str, endpoints: &[String], measured: &[Measurement]) -> Measurement {
    let parts = parts(endpoints, measured);
    let first = measured.first();
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "endpoints".into(),
        parts
            .iter()
            .map(|(u, _)| u.clone())
            .collect::<Vec<_>>()
            .into(),
    );
    let from_first = |f: fn(&Measurement) -> &String| first.map(f).cloned().unwrap_or_default();
    Measurement {
        data_format_version: "0.2.0".into(),
        input: format!("service:{name}"),
        test_name: "x_service".into(),
        test_version: "0.1.0".into(),
        measurement_start_time: from_first(|m| &m.measurement_start_time),
        test_start_time: from_first(|m| &m.test_start_time),
        probe_asn: from_first(|m| &m.probe_asn),
        probe_cc: from_first(|m| &m.probe_cc),
        probe_ip: "127.0.0.1".into(),
        software_name: SOFTWARE_NAME.into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        annotations,
        verdict: Some(judge_service(&parts)),
        ..Measurement::default()
    }
}
