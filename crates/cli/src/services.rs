//! `--service`: messaging and social services measured as a whole, from `data/services.toml`.

use anyhow::bail;
use interfero_model::{Measurement, Target};
use serde::Deserialize;

const BUILTIN: &str = include_str!("../../../data/services.toml");

/// A service and its endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Its name (`telegram`).
    pub name: String,
    /// The URLs that make it work.
    pub endpoints: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    service: Vec<Service>,
}

fn builtin() -> anyhow::Result<Vec<Service>> {
    Ok(toml::from_str::<File>(BUILTIN)?.service)
}

/// The services named (`all` for every one), or one line saying which names exist.
pub fn select(names: &[String]) -> anyhow::Result<Vec<Service>> {
    let all = builtin()?;
    if names.iter().any(|n| n == "all") {
        return Ok(all);
    }
    let mut out = Vec::new();
    for n in names {
        match all.iter().find(|s| s.name.eq_ignore_ascii_case(n)) {
            Some(s) => out.push(s.clone()),
            None => bail!(
                "unknown service {n:?}: known are {} (or all)",
                all.iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}

/// The targets to measure for `services`.
pub fn targets(services: &[Service]) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    for s in services {
        for e in &s.endpoints {
            out.push(Target::parse(e).map_err(|err| anyhow::anyhow!("service {}: {err}", s.name))?);
        }
    }
    Ok(out)
}

/// One judged record per service, built from its endpoints' measurements, for the store,
/// `--out` and the table.
pub fn judge(services: &[Service], kept: &[Measurement]) -> Vec<Measurement> {
    services
        .iter()
        .map(|s| {
            // Endpoints as the run measured them (a bare domain becomes https://.../).
            let urls: Vec<String> = s
                .endpoints
                .iter()
                .filter_map(|e| Target::parse(e).ok().map(|t| t.url))
                .collect();
            interfero_session::service::record(&s.name, &urls, kept)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_services_parse_and_unknown_names_are_refused() {
        let all = select(&["all".into()]).unwrap();
        assert!(all.iter().any(|s| s.name == "telegram"));
        assert!(targets(&all).unwrap().len() >= all.len());
        let err = select(&["icq".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown service \"icq\"") && err.contains("telegram"));
    }

    #[test]
    fn a_service_record_is_judged_from_its_endpoints() {
        let svc = Service {
            name: "chat".into(),
            endpoints: vec!["https://a.example/".into(), "https://b.example/".into()],
        };
        let m = |url: &str, s: interfero_model::Status| Measurement {
            input: url.into(),
            verdict: Some(interfero_model::Verdict::new(s, 0.9, "r")),
            ..Measurement::default()
        };
        let kept = vec![
            m("https://a.example/", interfero_model::Status::Accessible),
            m("https://b.example/", interfero_model::Status::Blocked),
        ];
        let out = judge(&[svc], &kept);
        assert_eq!(out[0].input, "service:chat");
        let v = out[0].verdict.as_ref().unwrap();
        assert_eq!(v.status, interfero_model::Status::Blocked);
        assert!(v.evidence.iter().any(|e| e.contains("https://b.example/")));
    }
}
