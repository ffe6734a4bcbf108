//! OONI's summary keys (`blocking`, `accessible`), written from our verdicts so OONI tools can
//! read our measurements, and read from OONI's measurements to compare judgements.

use interfero_model::{Status, Technique, Verdict};
use serde_json::Value;

/// OONI's `blocking` and `accessible` for a verdict of ours.
pub fn summary_keys(v: &Verdict) -> (Value, Option<bool>) {
    let first = v
        .techniques
        .iter()
        .find(|t| !matches!(t, Technique::HttpServerSide));
    match v.status {
        Status::Accessible | Status::Throttled => (Value::Bool(false), Some(true)),
        Status::Down => (Value::Bool(false), Some(false)),
        Status::Blocked | Status::Intercepted => {
            let name = first.map(|t| t.as_str()).unwrap_or("");
            let b = if name.starts_with("dns.") {
                "dns"
            } else if name.starts_with("tcp.") {
                "tcp_ip"
            } else if matches!(first, Some(Technique::HttpDiff | Technique::HttpBlockpage)) {
                "http-diff"
            } else {
                "http-failure"
            };
            (Value::String(b.into()), Some(false))
        }
        Status::Offline | Status::Inconclusive => (Value::Null, None),
    }
}

/// OONI's own judgement of a measurement, from its `blocking`/`accessible` keys, as a status.
pub fn ooni_status(blocking: &Value, accessible: Option<bool>) -> Status {
    match (blocking, accessible) {
        (Value::String(_), _) => Status::Blocked,
        (Value::Bool(false), Some(true)) => Status::Accessible,
        (Value::Bool(false), Some(false)) => Status::Down,
        (Value::Bool(false), None) => Status::Accessible,
        _ => Status::Inconclusive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        let v = Verdict::new(Status::Blocked, 0.9, "r").with(Technique::DnsNxdomain);
        let (b, a) = summary_keys(&v);
        assert_eq!(b, Value::String("dns".into()));
        assert_eq!(ooni_status(&b, a), Status::Blocked);
        let v = Verdict::new(Status::Down, 0.9, "r");
        let (b, a) = summary_keys(&v);
        assert_eq!(ooni_status(&b, a), Status::Down);
    }
}
