//! What a record must satisfy beyond its types: ids, countries, dates in order, evidence that
//! names something. Each problem names the field it is in, so a file's line can be found.

use interfero_model::incident::{Evidence, Incident, PartialDate};

/// One thing wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field (`end`, `place.country`, `evidence[2]`), whose key locates the line.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

fn problem(field: &str, message: impl Into<String>) -> Problem {
    Problem {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Whether `id` is a usable record id: 1–100 of `a-z`, `0-9`, `-`, not starting with `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A time as the store writes it (`YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`).
pub fn valid_time(s: &str) -> bool {
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let date_ok = date.len() == 10 && PartialDate::parse(date).is_some_and(|d| d.day.is_some());
    let time_ok = time.is_none_or(|t| {
        let b = t.as_bytes();
        b.len() == 8
            && b[2] == b':'
            && b[5] == b':'
            && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
            && t[0..2] < *"24"
            && t[3..5] < *"60"
            && t[6..8] < *"61"
    });
    date_ok && time_ok
}

/// Every problem of the record (empty when valid).
pub fn problems(i: &Incident) -> Vec<Problem> {
    let mut out = Vec::new();
    if !valid_id(&i.id) {
        out.push(problem(
            "id",
            format!(
                "id {:?} is not usable: write 1-100 lowercase letters, digits and '-' \
                 (e.g. kz-2021-10-hola-news-block)",
                i.id
            ),
        ));
    }
    if i.title.trim().is_empty() {
        out.push(problem(
            "title",
            "the title is empty: say what happened in one line",
        ));
    }
    let cc = &i.place.country;
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
        out.push(problem(
            "country",
            format!("country {cc:?} is not an ISO 3166 alpha-2 code (e.g. KZ)"),
        ));
    }
    if let Some(end) = i.end {
        if end.last_day() < i.start.first_day() {
            out.push(problem(
                "end",
                format!(
                    "end {end} is before start {}: swap them or fix the date",
                    i.start
                ),
            ));
        }
        if i.ongoing {
            out.push(problem(
                "ongoing",
                format!("ongoing = true but it ended on {end}: drop one of them"),
            ));
        }
    }
    if let Some(scope) = &i.network_scope {
        for a in &scope.asns {
            let ok = a
                .strip_prefix("AS")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                out.push(problem(
                    "asns",
                    format!("network {a:?} is not written AS<number>"),
                ));
            }
        }
        for d in &scope.domains {
            if d.contains('/') || d.contains(' ') || !d.contains('.') {
                out.push(problem(
                    "domains",
                    format!("domain {d:?} is not a bare domain (write holanews.kz, no scheme)"),
                ));
            }
        }
    }
    for (n, r) in i.related.iter().enumerate() {
        if r.incident == i.id {
            out.push(problem(
                "related",
                format!("related[{n}] names the record itself"),
            ));
        } else if !valid_id(&r.incident) {
            out.push(problem(
                "related",
                format!("related[{n}]: {:?} is not an incident id", r.incident),
            ));
        }
    }
    for (n, e) in i.evidence.iter().enumerate() {
        let field = format!("evidence[{n}]");
        match e {
            Evidence::Measurement {
                id: None,
                uid: None,
            } => out.push(problem(
                &field,
                "a measurement evidence needs its id or its uid",
            )),
            Evidence::Query { query } => {
                let q = query;
                if q.country.is_none() && q.network.is_none() && q.domain.is_none() {
                    out.push(problem(
                        &field,
                        "a query needs a country, a network or a domain (it would select \
                         every measurement)",
                    ));
                }
                for (name, t) in [("since", &q.since), ("until", &q.until)] {
                    if let Some(t) = t.as_deref().filter(|t| !valid_time(t)) {
                        out.push(problem(
                            &field,
                            format!("query {name} {t:?}: write YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"),
                        ));
                    }
                }
                if let (Some(a), Some(b)) = (&q.since, &q.until) {
                    if b.get(..10) < a.get(..10) {
                        out.push(problem(
                            &field,
                            format!("query until {b} is before since {a}"),
                        ));
                    }
                }
            }
            Evidence::Capture { id, .. }
                if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                out.push(problem(
                    &field,
                    format!("{id:?} is not a capture id (64 hex digits)"),
                ));
            }
            Evidence::Url { url, .. } if url::Url::parse(url).is_err() => {
                out.push(problem(&field, format!("{url:?} is not a URL")));
            }
            _ => {}
        }
    }
    for (n, s) in i.sources.iter().enumerate() {
        if s.publisher.trim().is_empty() {
            out.push(problem("sources", format!("sources[{n}] has no publisher")));
        }
    }
    out
}
