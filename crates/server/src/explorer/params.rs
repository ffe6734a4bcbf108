//! The explorer's URL vocabulary: one set of query parameters for search, charts, downloads
//! and feeds, read into the store's [`Query`] (bad values are refused with one line saying
//! what is wrong) and written back as a canonical query string, so that every link (a chart's
//! bar, its CSV, its image) carries exactly the same filter.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use interfero_model::{Status, Technique};
use interfero_store::{Axis, Cursor, Order, Query};
use serde::Deserialize;

/// The parameters as they come in a URL (every one optional, every one text: a malformed
/// value is a message, not a rejection by the extractor).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Country (`KZ`).
    pub cc: Option<String>,
    /// Network (`AS9198` or `9198`).
    pub asn: Option<String>,
    /// Host name.
    pub domain: Option<String>,
    /// Exact URL.
    pub input: Option<String>,
    /// Test-list category (`NEWS`).
    pub category: Option<String>,
    /// Verdict status.
    pub status: Option<String>,
    /// One technique (`tls.timeout`).
    pub technique: Option<String>,
    /// From (a date, or a date and time).
    pub since: Option<String>,
    /// Until (a date: that whole day included; a date and time: before it).
    pub until: Option<String>,
    /// Probe run id.
    pub run: Option<String>,
    /// Keyset cursor of the next page.
    pub after: Option<String>,
    /// `newest` (default) or `oldest`.
    pub order: Option<String>,
    /// A chart's first axis.
    pub x: Option<String>,
    /// A chart's second axis (a grid).
    pub y: Option<String>,
    /// Percentages instead of counts (`1`).
    pub pct: Option<String>,
}

/// A filter read from [`Params`], normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The store query.
    pub query: Query,
    /// The `since`/`until` as the user wrote them (normalised), for forms and links.
    pub since: String,
    /// See `since`.
    pub until: String,
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Bounds what one parameter may hold (a URL's worth), so no value is unbounded.
const MAX_VALUE: usize = 2048;

fn parse_time(s: &str, end: bool) -> Result<(String, String), String> {
    let s = s.replace('T', " ");
    let s = s.trim_end_matches('Z');
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        // A date alone as `until` means "that day included".
        let bound = if end { d + Duration::days(1) } else { d };
        return Ok((bound.format("%Y-%m-%d").to_string(), s.to_string()));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            let t = t.format("%Y-%m-%d %H:%M:%S").to_string();
            return Ok((t.clone(), t));
        }
    }
    Err(format!(
        "{} {s:?} is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)",
        if end { "until" } else { "since" }
    ))
}

/// `AS9198` from `9198`, `as9198` or `AS9198`; `None` when it is not a network number.
pub fn normalise_asn(s: &str) -> Option<String> {
    let digits = s
        .strip_prefix("AS")
        .or_else(|| s.strip_prefix("as"))
        .unwrap_or(s);
    (!digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("AS{digits}"))
}

impl Params {
    /// The filter these parameters describe, or one line saying which is wrong and how.
    pub fn filter(&self) -> Result<Filter, String> {
        for v in [
            &self.cc,
            &self.asn,
            &self.domain,
            &self.input,
            &self.category,
            &self.since,
            &self.until,
        ]
        .into_iter()
        .flatten()
        {
            if v.len() > MAX_VALUE {
                return Err(format!("a parameter is longer than {MAX_VALUE} bytes"));
            }
        }
        let mut f = Filter::default();
        let q = &mut f.query;
        if let Some(cc) = clean(&self.cc) {
            if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(format!(
                    "country {cc:?} is not a two-letter code such as KZ"
                ));
            }
            q.probe_cc = Some(cc.to_ascii_uppercase());
        }
        if let Some(asn) = clean(&self.asn) {
            q.probe_asn =
                Some(normalise_asn(asn).ok_or_else(|| {
                    format!("network {asn:?} is not an AS number such as AS9198")
                })?);
        }
        q.domain = clean(&self.domain).map(str::to_ascii_lowercase);
        q.input = clean(&self.input).map(str::to_string);
        q.category = clean(&self.category).map(str::to_ascii_uppercase);
        if let Some(s) = clean(&self.status) {
            q.status = Some(Status::parse(s).ok_or_else(|| {
                format!("status {s:?} is not one of accessible, blocked, throttled, intercepted, down, offline, inconclusive")
            })?);
        }
        if let Some(t) = clean(&self.technique) {
            q.technique = Some(
                Technique::parse(t)
                    .ok_or_else(|| format!("technique {t:?} is not known (e.g. tls.timeout)"))?,
            );
        }
        if let Some(s) = clean(&self.since) {
            let (bound, shown) = parse_time(s, false)?;
            q.since = Some(bound);
            f.since = shown;
        }
        if let Some(s) = clean(&self.until) {
            let (bound, shown) = parse_time(s, true)?;
            q.until = Some(bound);
            f.until = shown;
        }
        if let Some(r) = clean(&self.run) {
            q.run = Some(r.parse().map_err(|_| {
                format!("run {r:?} is not a run number (see a measurement's page)")
            })?);
        }
        Ok(f)
    }

    /// The page cursor, if any (a cursor that does not parse is refused).
    pub fn cursor(&self) -> Result<Option<Cursor>, String> {
        match clean(&self.after) {
            None => Ok(None),
            Some(c) => Cursor::decode(c)
                .map(Some)
                .ok_or_else(|| "the page link is damaged: start the search again".to_string()),
        }
    }

    /// The order (newest first unless `order=oldest`).
    pub fn order(&self) -> Order {
        match clean(&self.order) {
            Some("oldest") => Order::Oldest,
            _ => Order::Newest,
        }
    }

    /// The chart's axes: `x` (default day) and an optional `y`.
    pub fn axes(&self) -> Result<(Axis, Option<Axis>), String> {
        let read = |v: &str| {
            Axis::parse(v).ok_or_else(|| {
                format!("axis {v:?} is not one of hour, day, month, country, network, domain, input, category, status, run")
            })
        };
        let x = clean(&self.x).map(read).transpose()?.unwrap_or(Axis::Day);
        let y = clean(&self.y).map(read).transpose()?;
        if y == Some(x) {
            return Err("the two axes must differ".into());
        }
        Ok((x, y))
    }

    /// Whether percentages were asked for.
    pub fn percent(&self) -> bool {
        matches!(clean(&self.pct), Some("1" | "true" | "yes"))
    }
}

impl Filter {
    /// The filter as a canonical query string (no leading `?`), for links.
    pub fn to_query_string(&self) -> String {
        let q = &self.query;
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        let pairs: [(&str, Option<String>); 9] = [
            ("cc", q.probe_cc.clone()),
            ("asn", q.probe_asn.clone()),
            ("domain", q.domain.clone()),
            ("input", q.input.clone()),
            ("category", q.category.clone()),
            ("status", q.status.map(|s| s.as_str().to_string())),
            ("technique", q.technique.map(|t| t.as_str().to_string())),
            ("since", Some(self.since.clone()).filter(|s| !s.is_empty())),
            ("until", Some(self.until.clone()).filter(|s| !s.is_empty())),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                s.append_pair(k, &v);
            }
        }
        if let Some(r) = q.run {
            s.append_pair("run", &r.to_string());
        }
        s.finish()
    }

    /// This filter with `key=value` set (for a chart bar's link to its measurements).
    pub fn with(&self, key: &str, value: &str) -> Filter {
        let mut p = Params::default();
        let q = &self.query;
        p.cc = q.probe_cc.clone();
        p.asn = q.probe_asn.clone();
        p.domain = q.domain.clone();
        p.input = q.input.clone();
        p.category = q.category.clone();
        p.status = q.status.map(|s| s.as_str().to_string());
        p.technique = q.technique.map(|t| t.as_str().to_string());
        p.since = Some(self.since.clone());
        p.until = Some(self.until.clone());
        p.run = q.run.map(|r| r.to_string());
        let v = Some(value.to_string());
        match key {
            "cc" => p.cc = v,
            "asn" => p.asn = v,
            "domain" => p.domain = v,
            "input" => p.input = v,
            "category" => p.category = v,
            "status" => p.status = v,
            "technique" => p.technique = v,
            "since" => p.since = v,
            "until" => p.until = v,
            "run" => p.run = v,
            _ => {}
        }
        p.filter().unwrap_or_else(|_| self.clone())
    }

    /// This filter narrowed to one bucket of `axis` (a bar or a grid cell), when the axis is
    /// one a search can filter by.
    pub fn narrowed(&self, axis: Axis, key: &str) -> Filter {
        match axis {
            Axis::Day => self.with("since", key).with("until", key),
            Axis::Hour => self
                .with("since", &format!("{key}:00:00"))
                .with("until", &format!("{key}:59:59")),
            Axis::Month => {
                let first = format!("{key}-01");
                let last = NaiveDate::parse_from_str(&first, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                    .map(|d| (d - Duration::days(1)).format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| first.clone());
                self.with("since", &first).with("until", &last)
            }
            Axis::Country => self.with("cc", key),
            Axis::Network => self.with("asn", key),
            Axis::Domain => self.with("domain", key),
            Axis::Input => self.with("input", key),
            Axis::Category => self.with("category", key),
            Axis::Status => self.with("status", key),
            Axis::Run => self.with("run", key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        serde_urlencoded::from_str(&qs).unwrap()
    }

    #[test]
    fn until_a_date_includes_that_day_and_round_trips() {
        let f = p(&[("until", "2026-11-30"), ("asn", "9198"), ("cc", "kz")])
            .filter()
            .unwrap();
        assert_eq!(f.query.until.as_deref(), Some("2026-12-01"));
        assert_eq!(f.query.probe_asn.as_deref(), Some("AS9198"));
        assert_eq!(f.query.probe_cc.as_deref(), Some("KZ"));
        let again: Params = serde_urlencoded::from_str(&f.to_query_string()).unwrap();
        assert_eq!(again.filter().unwrap(), f);
    }

    #[test]
    fn bad_values_are_one_clear_line() {
        let e = p(&[("status", "evil")]).filter().unwrap_err();
        assert!(e.contains("status \"evil\""), "{e}");
        assert!(p(&[("since", "yesterday")]).filter().is_err());
        assert!(p(&[("cc", "KAZ")]).filter().is_err());
        assert!(p(&[("x", "day"), ("y", "day")]).axes().is_err());
    }

    #[test]
    fn a_bar_narrows_to_its_bucket() {
        let f = p(&[("cc", "KZ")]).filter().unwrap();
        let n = f.narrowed(Axis::Day, "2026-11-03");
        assert_eq!(n.query.since.as_deref(), Some("2026-11-03"));
        assert_eq!(n.query.until.as_deref(), Some("2026-11-04"));
        assert_eq!(n.query.probe_cc.as_deref(), Some("KZ"));
        let m = f.narrowed(Axis::Month, "2026-02");
        assert_eq!(m.until, "2026-02-28");
    }
}
