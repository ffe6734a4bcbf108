//! Services (a messenger, a social network, a video site) measured as a whole: a service is
//! reached through several endpoints, and blocking any essential one breaks it for its users.
//! The service's verdict is built from its parts' verdicts, naming each part.

use interfero_model::{Status, Verdict};

/// How bad a status is for a user of the service, worst first.
fn severity(s: Status) -> u8 {
    match s {
        Status::Blocked => 0,
        Status::Intercepted => 1,
        Status::Throttled => 2,
        Status::Offline => 3,
        Status::Down => 4,
        Status::Inconclusive => 5,
        Status::Accessible => 6,
    }
}

/// Judges a service from its parts' verdicts, given as (endpoint URL, verdict).
pub fn judge_service(parts: &[(String, Verdict)]) -> Verdict {
    let Some(worst) = parts
        .iter()
        .map(|(_, v)| v.status)
        .min_by_key(|s| severity(*s))
    else {
        return Verdict::new(Status::Inconclusive, 0.0, "service.no_parts")
            .because("the service has no endpoint to measure");
    };
    let all = |s: Status| parts.iter().all(|(_, v)| v.status == s);
    let (status, rule) = match worst {
        Status::Blocked | Status::Intercepted | Status::Throttled => {
            (worst, "service.part_interfered")
        }
        Status::Accessible => (Status::Accessible, "service.all_parts_reached"),
        _ if all(Status::Offline) => (Status::Offline, "service.offline"),
        _ if all(Status::Down) => (Status::Down, "service.all_parts_down"),
        // Some parts down or undecided, none interfered with: not enough to say.
        _ => (Status::Inconclusive, "service.mixed"),
    };
    let deciding: Vec<&(String, Verdict)> =
        parts.iter().filter(|(_, v)| v.status == status).collect();
    let confidence = deciding
        .iter()
        .map(|(_, v)| v.confidence)
        .fold(1.0_f64, f64::min);
    let mut out = Verdict::new(status, confidence, rule);
    for (_, v) in &deciding {
        for t in &v.techniques {
            out.add(*t);
        }
    }
    out.evidence.push(format!(
        "{} of {} endpoints {status}",
        deciding.len(),
        parts.len()
    ));
    for (url, v) in parts {
        let techniques: Vec<&str> = v.techniques.iter().map(|t| t.as_str()).collect();
        out.evidence.push(format!(
            "{url}: {}{} ({})",
            v.status,
            if techniques.is_empty() {
                String::new()
            } else {
                format!(" [{}]", techniques.join(", "))
            },
            v.rules.first().map(String::as_str).unwrap_or("-")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use interfero_model::Technique;

    fn part(url: &str, s: Status, t: Option<Technique>) -> (String, Verdict) {
        let mut v = Verdict::new(s, 0.9, "r");
        if let Some(t) = t {
            v.add(t);
        }
        (url.into(), v)
    }

    #[test]
    fn one_blocked_endpoint_blocks_the_service_and_is_named() {
        let v = judge_service(&[
            part("https://web.chat.example/", Status::Accessible, None),
            part(
                "https://api.chat.example/",
                Status::Blocked,
                Some(Technique::TlsTimeout),
            ),
        ]);
        assert_eq!(v.status, Status::Blocked);
        assert_eq!(v.techniques, vec![Technique::TlsTimeout]);
        assert!(v
            .evidence
            .iter()
            .any(|e| e.starts_with("https://api.chat.example/: blocked")));
        assert_eq!(v.evidence[0], "1 of 2 endpoints blocked");
    }

    #[test]
    fn statuses_combine_by_what_the_user_meets() {
        use Status::*;
        let s = |ss: &[Status]| {
            let parts: Vec<_> = ss.iter().map(|s| part("u", *s, None)).collect();
            judge_service(&parts).status
        };
        assert_eq!(s(&[Accessible, Accessible]), Accessible);
        assert_eq!(s(&[Throttled, Intercepted]), Intercepted);
        assert_eq!(s(&[Offline, Offline]), Offline);
        assert_eq!(s(&[Down, Down]), Down);
        assert_eq!(s(&[Down, Accessible]), Inconclusive);
        assert_eq!(s(&[]), Inconclusive);
    }
}
