//! What the user asks to measure: URLs, bare domains, and lists of them.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use url::Url;

/// One thing to measure: an http(s) URL, with its test-list category when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The URL as measured (a bare domain becomes `https://DOMAIN/`).
    pub url: String,
    /// The Citizen Lab category code, when the target came from a test list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_code: Option<String>,
}

/// Why a target could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Not a URL nor a domain name.
    #[error(
        "{0:?} is not a URL or a domain name (expected e.g. https://example.kz/ or example.kz)"
    )]
    Invalid(String),
    /// A URL of a scheme the probe does not measure.
    #[error("{0:?}: only http:// and https:// URLs can be measured")]
    Scheme(String),
    /// A URL without a host name.
    #[error("{0:?} has no host name")]
    NoHost(String),
    /// Port 0 cannot be connected to.
    #[error("{0:?}: port 0 cannot be measured")]
    PortZero(String),
    /// Longer than any URL worth measuring (the error shows its beginning only).
    #[error(
        "a target of {len} bytes is longer than the {MAX_TARGET_LEN} allowed (it begins {start:?})"
    )]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// Its first characters.
        start: String,
    },
}

/// The longest target accepted, in bytes: browsers and servers commonly stop near 8 KiB, and a
/// longer one is only an echo of hostile input into every measurement and error.
pub const MAX_TARGET_LEN: usize = 4096;

/// At most this many characters of a bad input are echoed in an error.
const SHOWN: usize = 100;

/// The beginning of a bad input, for an error message.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(SHOWN).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl Target {
    /// Parses a URL or a bare domain name. Credentials in the URL (`https://user:pass@host/`)
    /// are dropped: they would be sent to the control and recorded in every measurement.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let s = input.trim();
        if s.len() > MAX_TARGET_LEN {
            return Err(TargetError::TooLong {
                len: s.len(),
                start: shown(s),
            });
        }
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TargetError::Invalid(shown(s)));
        }
        let candidate = if s.contains("://") {
            s.to_string()
        } else if is_domain(s) {
            format!("https://{s}/")
        } else {
            return Err(TargetError::Invalid(shown(s)));
        };
        let mut url = Url::parse(&candidate).map_err(|_| TargetError::Invalid(shown(s)))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(TargetError::Scheme(shown(s)));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(TargetError::NoHost(shown(s)));
        }
        if url.port() == Some(0) {
            return Err(TargetError::PortZero(shown(s)));
        }
        // Both setters fail only for URLs that cannot have credentials, which have none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Target {
            url: url.to_string(),
            category_code: None,
        })
    }

    /// The host name of the target's URL.
    pub fn host(&self) -> String {
        Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    }
}

fn is_domain(s: &str) -> bool {
    let host = s.split(':').next().unwrap_or("");
    host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

/// A line of a list that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListProblem {
    /// 1-based line number in the list.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses a Citizen Lab CSV (`url,category_code,...` with a header) or a plain list of one target
/// a line (blank lines and `#` comments ignored). Bad lines are reported, not fatal; duplicates
/// are dropped.
pub fn parse_list(text: &str) -> (Vec<Target>, Vec<ListProblem>) {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |field: &str, category: Option<String>, line: usize| match Target::parse(field) {
        Ok(mut t) => {
            t.category_code = category;
            if seen.insert(t.url.clone()) {
                targets.push(t);
            }
        }
        Err(e) => problems.push(ListProblem {
            line,
            message: e.to_string(),
        }),
    };
    let text = text.trim_start_matches('\u{feff}');
    if text.starts_with("url,") {
        // A Citizen Lab list: columns found by name in the header, quoted fields as CSV has them.
        match crate::csv::records(text) {
            Ok(records) => {
                let mut records = records.into_iter();
                let header = records.next().map(|(_, h)| h).unwrap_or_default();
                let col = |name: &str, or: usize| {
                    header.iter().position(|h| h.trim() == name).unwrap_or(or)
                };
                let (url_c, cat_c) = (col("url", 0), col("category_code", 1));
                for (line, row) in records {
                    let get = |c: usize| row.get(c).map_or("", |f| f.trim());
                    if get(0).starts_with('#') || row.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let category = Some(get(cat_c).to_string()).filter(|c| !c.is_empty());
                    add(get(url_c), category, line);
                }
            }
            Err(e) => problems.push(ListProblem {
                line: e.line,
                message: format!("not a readable CSV list: {}", e.message),
            }),
        }
    } else {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            add(line, None, i + 1);
        }
    }
    (targets, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_domain_becomes_https() {
        assert_eq!(
            Target::parse("example.kz").unwrap().url,
            "https://example.kz/"
        );
        assert_eq!(
            Target::parse("http://a.kz/x?y").unwrap().url,
            "http://a.kz/x?y"
        );
    }

    #[test]
    fn credentials_port_zero_and_huge_inputs() {
        assert_eq!(
            Target::parse("https://alice:s3cret@a.kz/x").unwrap().url,
            "https://a.kz/x"
        );
        assert_eq!(
            Target::parse("https://a.kz:0/"),
            Err(TargetError::PortZero("https://a.kz:0/".into()))
        );
        let huge = format!("https://a.kz/{}", "x".repeat(50 << 20));
        let e = Target::parse(&huge).unwrap_err().to_string();
        assert!(e.len() < 400, "the error echoes {} bytes", e.len());
        let e = Target::parse(&"y".repeat(3000)).unwrap_err().to_string();
        assert!(e.len() < 400, "the error echoes {} bytes", e.len());
        assert!(Target::parse("https://a.kz/\u{1b}[2J").is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Target::parse("not a url").is_err());
        assert!(Target::parse("ftp://a.kz/").is_err());
        assert!(Target::parse("localhost").is_err());
    }

    #[test]
    fn csv_list_with_bad_line() {
        let text = "url,category_code,category_description\nhttp://a.kz/,NEWS,News\nbad line here,X,Y\nhttps://b.kz/,POLR,x\n";
        let (t, p) = parse_list(text);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].category_code.as_deref(), Some("NEWS"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 3);
    }

    #[test]
    fn csv_list_with_quoted_fields() {
        let text = "url,category_code,notes\n\"http://a.kz/x,y\",NEWS,\"a note\nover two lines\"\nnot a url,X,\nhttps://b.kz/,POLR,\n";
        let (t, p) = parse_list(text);
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].url, "http://a.kz/x,y");
        assert_eq!(t[1].category_code.as_deref(), Some("POLR"));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 4);
    }

    #[test]
    fn plain_list() {
        let (t, p) = parse_list("# c\na.kz\n\nhttps://b.kz/\na.kz\n");
        assert_eq!(t.len(), 2);
        assert!(p.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = Target::parse(&s);
            let _ = parse_list(&s);
        }
    }
}
