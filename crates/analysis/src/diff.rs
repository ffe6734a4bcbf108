//! Comparing the probe's final HTTP response with the control's: does it differ beyond what the
//! site itself varies (dynamic pages, rotating ads)?

use interfero_model::control::ControlHttp;
use interfero_model::measurement::HttpResponse;

/// How the probe's page compares with the control's.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Both status codes equal.
    pub status_match: bool,
    /// Smaller body length over larger (1.0 when either is unknown).
    pub body_proportion: f64,
    /// The titles share their long words (both present).
    pub title_match: bool,
    /// The uncommon headers the two share, lowercased.
    pub common_uncommon_headers: usize,
}

impl Comparison {
    /// OONI's rule, kept because it is sound: same status, and then any of a similar length
    /// (≥ 0.7), the same title words, or shared uncommon headers counts as the same page.
    pub fn same_page(&self) -> bool {
        self.status_match
            && (self.body_proportion >= 0.7 || self.title_match || self.common_uncommon_headers > 0)
    }
}

/// Headers every server sends, which say nothing about whether two pages are the same.
const COMMON_HEADERS: &[&str] = &[
    "date",
    "content-type",
    "server",
    "cache-control",
    "vary",
    "set-cookie",
    "location",
    "expires",
    "x-powered-by",
    "content-encoding",
    "last-modified",
    "accept-ranges",
    "pragma",
    "x-frame-options",
    "etag",
    "x-content-type-options",
    "age",
    "via",
    "p3p",
    "x-xss-protection",
    "content-language",
    "cf-ray",
    "strict-transport-security",
    "link",
    "x-varnish",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "alt-svc",
];

/// Compares a response with the control's final response.
pub fn compare(probe: &HttpResponse, control: &ControlHttp) -> Comparison {
    let probe_len = probe
        .x_body_length
        .map(|l| l as f64)
        .unwrap_or_else(|| probe.body_text().len() as f64);
    let control_len = control.body_length as f64;
    let body_proportion = if probe_len <= 0.0 && control_len <= 0.0 {
        1.0
    } else if control_len < 0.0 || probe.body_is_truncated || control.x_body_is_truncated {
        // A truncated body says nothing about length; treat as matching and let status and
        // title decide.
        1.0
    } else {
        probe_len.min(control_len) / probe_len.max(control_len).max(1.0)
    };
    // Imported measurements often carry the body but no extracted title.
    let probe_title = probe
        .x_title
        .clone()
        .or_else(|| interfero_model::html::title(&probe.body_text()))
        .unwrap_or_default();
    let common = probe
        .headers_list
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| !COMMON_HEADERS.contains(&k.as_str()))
        .filter(|k| control.headers.keys().any(|c| c.eq_ignore_ascii_case(k)))
        .count();
    Comparison {
        status_match: i64::from(probe.code) == control.status_code,
        body_proportion,
        title_match: titles_match(&probe_title, &control.title),
        common_uncommon_headers: common,
    }
}

/// Titles match when every word of five or more letters in the shorter set appears in the other
/// (OONI's idea, made symmetric). A missing or empty title is no evidence: two pages without
/// titles are not thereby the same page.
pub fn titles_match(a: &str, b: &str) -> bool {
    if a.trim().is_empty() || b.trim().is_empty() {
        return false;
    }
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 5)
            .map(str::to_lowercase)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return a.trim().eq_ignore_ascii_case(b.trim());
    }
    let (small, large) = if wa.len() <= wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    small.iter().all(|w| large.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(code: u16, len: u64, title: &str) -> HttpResponse {
        HttpResponse {
            code,
            x_body_length: Some(len),
            x_title: Some(title.into()),
            ..Default::default()
        }
    }

    fn ctl(code: i64, len: i64, title: &str) -> ControlHttp {
        ControlHttp {
            status_code: code,
            body_length: len,
            title: title.into(),
            ..Default::default()
        }
    }

    #[test]
    fn dynamic_page_with_same_title_is_same() {
        let c = compare(
            &resp(200, 5000, "Daily News Portal"),
            &ctl(200, 9000, "Daily News Portal"),
        );
        assert!(c.body_proportion < 0.7);
        assert!(c.same_page());
    }

    #[test]
    fn blockpage_differs() {
        let c = compare(
            &resp(200, 300, "Access restricted"),
            &ctl(200, 9000, "Daily News Portal"),
        );
        assert!(!c.same_page());
        let c = compare(
            &resp(403, 9000, "Daily News Portal"),
            &ctl(200, 9000, "Daily News Portal"),
        );
        assert!(!c.same_page());
    }

    #[test]
    fn title_words() {
        assert!(titles_match(
            "Hello World Today",
            "hello world today - extra words"
        ));
        assert!(!titles_match("Blocked resource", "Independent journalism"));
        assert!(!titles_match("", ""), "no titles are no evidence");
        assert!(!titles_match("News", ""));
    }

    #[test]
    fn a_small_untitled_page_is_not_the_same_page_as_the_sites() {
        // An imported body of 3% of the control's size, no title recorded on either side.
        let probe = HttpResponse {
            code: 200,
            x_body_length: Some(300),
            ..Default::default()
        };
        let c = compare(&probe, &ctl(200, 10_000, ""));
        assert!(!c.title_match && !c.same_page(), "{c:?}");
    }

    #[test]
    fn a_title_is_read_from_a_stored_body_when_none_was_recorded() {
        let probe = HttpResponse {
            code: 200,
            x_body_length: Some(3000),
            body: Some(interfero_model::measurement::BinaryData::Text(
                "<html><title>Daily News Portal</title>...".into(),
            )),
            ..Default::default()
        };
        let c = compare(&probe, &ctl(200, 9000, "Daily News Portal"));
        assert!(c.title_match && c.same_page(), "{c:?}");
    }
}
