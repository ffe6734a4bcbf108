//! Blockpage and DNS fingerprints: OONI's `blocking-fingerprints` (vendored under
//! `data/blocking-fingerprints`, see `SOURCE` there for attribution), matched exactly as the
//! files' Readme defines them.
//!
//! All four pattern types are honoured: `full` (equality), `prefix`, `contains` and `regexp`
//! (a real regular expression). OONI's own pipeline skips its `contains` header rules and runs
//! regexps as literals; Interfero does neither, because both lose blocks (see the tests).
//!
//! Rows scoped `fp` describe known *non*-blockpages; they match like any other row and the
//! caller reads [`FingerprintMatch::is_false_positive`].
//!
//! Speed: this runs on every response against ~1,700 patterns. Per location (`body`, each
//! `header.NAME`, `dns`) the `contains` and `prefix` literals share one Aho-Corasick automaton
//! (one pass over the text finds every occurrence of every literal; a prefix is an occurrence
//! at offset 0), `full` patterns are a hash lookup, and regexps share one `RegexSet` (one pass,
//! linear time). A body is therefore scanned twice at most, not 1,700 times.

use interfero_model::csv;
mod python_re;

use aho_corasick::{AhoCorasick, MatchKind};
use interfero_model::measurement::HttpResponse;
use regex::RegexSet;
use std::collections::HashMap;
use std::sync::OnceLock;

const BUILTIN_DNS: &str = include_str!("../data/blocking-fingerprints/fingerprints_dns.csv");
const BUILTIN_HTTP: &str = include_str!("../data/blocking-fingerprints/fingerprints_http.csv");
/// Generic hosting placeholder pages (default server pages, parked and suspended domains), in
/// OONI's schema with scope `fp`: a plaintext page that differs from the control's because the
/// host shows one of these is not a blockpage.
const PLACEHOLDERS: &str = include_str!("../data/placeholders.csv");

/// Why a fingerprint file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The file is not valid CSV.
    #[error("{file} fingerprints, line {line}: {message}")]
    Csv {
        /// `dns` or `http`.
        file: &'static str,
        /// The line where the bad record starts.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The header row lacks a column the schema requires.
    #[error("{file} fingerprints: the header has no `{column}` column")]
    MissingColumn {
        /// `dns` or `http`.
        file: &'static str,
        /// The missing column.
        column: &'static str,
    },
}

/// A row that was left out (bad regexp, unknown pattern type or location, ...), so that a
/// caller can show it; one bad row never stops the others from working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFingerprint {
    /// `dns` or `http`.
    pub file: &'static str,
    /// The line where the row starts.
    pub line: usize,
    /// The row's name.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// A fingerprint that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintMatch {
    /// The fingerprint's name (`ooni.ru_1`, `cp.fp_x_fpru_nginx`).
    pub name: String,
    /// `nat`, `isp`, `prod`, `inst`, `vbw`, or `fp` for a known false positive.
    pub scope: String,
    /// `body`, `header.NAME` or `dns`.
    pub location: String,
    /// The pattern as written in the file.
    pub pattern: String,
    /// How unlikely a false positive is, by the authors' own assessment (higher is surer).
    pub confidence_no_fp: u8,
    /// Countries where the blockpage is expected (ISO codes), possibly none.
    pub expected_countries: Vec<String>,
}

impl FingerprintMatch {
    /// Whether the row describes a known non-blockpage (scope `fp`).
    pub fn is_false_positive(&self) -> bool {
        self.scope == "fp"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternType {
    Full,
    Prefix,
    Contains,
    Regexp,
}

/// Everything a location needs to find its matching rules (indexes into `Fingerprints::rules`).
#[derive(Debug, Default)]
struct LocationIndex {
    full: HashMap<String, Vec<usize>>,
    literals: Option<AhoCorasick>,
    literal_rules: Vec<(usize, PatternType)>,
    regexes: Option<RegexSet>,
    regex_rules: Vec<usize>,
}

impl LocationIndex {
    fn collect(&self, text: &str, out: &mut Vec<usize>) {
        if let Some(ids) = self.full.get(text) {
            out.extend(ids);
        }
        if let Some(ac) = &self.literals {
            for m in ac.find_overlapping_iter(text) {
                if let Some(&(rule, kind)) = self.literal_rules.get(m.pattern().as_usize()) {
                    if kind == PatternType::Contains || m.start() == 0 {
                        out.push(rule);
                    }
                }
            }
        }
        if let Some(set) = &self.regexes {
            out.extend(
                set.matches(text)
                    .iter()
                    .filter_map(|i| self.regex_rules.get(i)),
            );
        }
    }
}

/// A parsed, indexed set of DNS and HTTP fingerprints.
#[derive(Debug)]
pub struct Fingerprints {
    rules: Vec<FingerprintMatch>,
    dns: LocationIndex,
    body: LocationIndex,
    /// Keyed by lowercase header name.
    headers: HashMap<String, LocationIndex>,
    skipped: Vec<SkippedFingerprint>,
}

/// A rule on its way into an index.
struct Pending {
    file: &'static str,
    line: usize,
    rule: usize,
    kind: PatternType,
    pattern: String,
}

impl Fingerprints {
    /// OONI's fingerprints as vendored with this crate, parsed once per process.
    pub fn builtin() -> &'static Fingerprints {
        static BUILTIN: OnceLock<Fingerprints> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The vendored files are tested to parse; should they ever not, an empty set
            // (no fingerprint evidence) is the honest degraded behaviour, not a panic.
            let rows = PLACEHOLDERS.split_once('\n').map_or("", |(_, rows)| rows);
            let http = format!("{}\n{rows}", BUILTIN_HTTP.trim_end());
            Fingerprints::parse(BUILTIN_DNS, &http).unwrap_or_else(|_| Fingerprints::empty())
        })
    }

    /// Parses the two CSV files (OONI's schema). Rows that cannot be used are left out and
    /// listed by [`Fingerprints::skipped`]; only an unreadable file is an error.
    pub fn parse(dns_csv: &str, http_csv: &str) -> Result<Fingerprints, FingerprintError> {
        let mut fp = Fingerprints::empty();
        let mut pending: HashMap<String, Vec<Pending>> = HashMap::new();
        fp.read_file("dns", dns_csv, &mut pending)?;
        fp.read_file("http", http_csv, &mut pending)?;
        for (location, rules) in pending {
            let index = fp.build_index(rules);
            match location.as_str() {
                "dns" => fp.dns = index,
                "body" => fp.body = index,
                _ => {
                    if let Some(name) = location.strip_prefix("header.") {
                        fp.headers.insert(name.to_string(), index);
                    }
                }
            }
        }
        Ok(fp)
    }

    /// The fingerprints an address from a DNS answer matches.
    pub fn match_dns(&self, addr: &str) -> Vec<FingerprintMatch> {
        let mut ids = Vec::new();
        self.dns.collect(addr.trim(), &mut ids);
        self.resolve(ids)
    }

    /// The fingerprints an HTTP response matches, in its body or its headers.
    pub fn match_http(&self, resp: &HttpResponse) -> Vec<FingerprintMatch> {
        let mut ids = Vec::new();
        let body = resp.body_text();
        if !body.is_empty() {
            self.body.collect(&body, &mut ids);
        }
        for (name, value) in &resp.headers_list {
            if let Some(index) = self.headers.get(&name.to_ascii_lowercase()) {
                index.collect(value, &mut ids);
            }
        }
        self.resolve(ids)
    }

    /// The rows left out while parsing, and why.
    pub fn skipped(&self) -> &[SkippedFingerprint] {
        &self.skipped
    }

    /// How many fingerprints are in use.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no fingerprint is in use.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn empty() -> Fingerprints {
        Fingerprints {
            rules: Vec::new(),
            dns: LocationIndex::default(),
            body: LocationIndex::default(),
            headers: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    /// Rule indexes to matches, in file order, each once.
    fn resolve(&self, mut ids: Vec<usize>) -> Vec<FingerprintMatch> {
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|i| self.rules.get(i).cloned())
            .collect()
    }

    fn read_file(
        &mut self,
        file: &'static str,
        text: &str,
        pending: &mut HashMap<String, Vec<Pending>>,
    ) -> Result<(), FingerprintError> {
        let records = csv::records(text).map_err(|e| FingerprintError::Csv {
            file,
            line: e.line,
            message: e.message,
        })?;
        let mut records = records.into_iter();
        let Some((_, header)) = records.next() else {
            return Ok(());
        };
        let col = |column: &'static str| {
            header
                .iter()
                .position(|h| h.trim() == column)
                .ok_or(FingerprintError::MissingColumn { file, column })
        };
        let (name_c, scope_c, loc_c) = (col("name")?, col("scope")?, col("location_found")?);
        let (type_c, pat_c) = (col("pattern_type")?, col("pattern")?);
        let (conf_c, cc_c) = (col("confidence_no_fp")?, col("expected_countries")?);
        for (line, row) in records {
            let get = |c: usize| row.get(c).map(String::as_str).unwrap_or("");
            let name = get(name_c).trim().to_string();
            let skip = |reason: String| SkippedFingerprint {
                file,
                line,
                name: name.clone(),
                reason,
            };
            let kind = match get(type_c).trim() {
                "full" => PatternType::Full,
                "prefix" => PatternType::Prefix,
                "contains" => PatternType::Contains,
                "regexp" => PatternType::Regexp,
                other => {
                    self.skipped
                        .push(skip(format!("unknown pattern type {other:?}")));
                    continue;
                }
            };
            let location = get(loc_c).trim().to_ascii_lowercase();
            if !(location == "dns" || location == "body" || location.starts_with("header.")) {
                self.skipped
                    .push(skip(format!("unknown location {location:?}")));
                continue;
            }
            let pattern = get(pat_c).to_string();
            if pattern.is_empty() {
                // An empty literal would match every response.
                self.skipped.push(skip("empty pattern".to_string()));
                continue;
            }
            let confidence_no_fp = match get(conf_c).trim() {
                "" => 0,
                c => match c.parse::<u8>() {
                    Ok(v) => v,
                    Err(_) => {
                        self.skipped
                            .push(skip(format!("confidence_no_fp {c:?} is not a number")));
                        continue;
                    }
                },
            };
            let expected_countries = get(cc_c)
                .split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect();
            let rule = self.rules.len();
            self.rules.push(FingerprintMatch {
                name,
                scope: get(scope_c).trim().to_string(),
                location: location.clone(),
                pattern: pattern.clone(),
                confidence_no_fp,
                expected_countries,
            });
            pending.entry(location).or_default().push(Pending {
                file,
                line,
                rule,
                kind,
                pattern,
            });
        }
        Ok(())
    }

    fn build_index(&mut self, rules: Vec<Pending>) -> LocationIndex {
        let mut index = LocationIndex::default();
        let mut literals = Vec::new();
        // Kept to report rules that an index-wide failure (below) drops.
        let mut literal_src = Vec::new();
        let mut regex_src = Vec::new();
        let mut regexes = Vec::new();
        for p in rules {
            match p.kind {
                PatternType::Full => index.full.entry(p.pattern).or_default().push(p.rule),
                PatternType::Prefix | PatternType::Contains => {
                    literals.push(p.pattern.clone());
                    index.literal_rules.push((p.rule, p.kind));
                    literal_src.push(p);
                }
                PatternType::Regexp => {
                    let translated = python_re::braces(&p.pattern);
                    // Compiled alone first so that one bad pattern is reported by name and
                    // skipped, instead of failing the whole set.
                    match regex::Regex::new(&translated) {
                        Ok(_) => {
                            regexes.push(translated);
                            index.regex_rules.push(p.rule);
                            regex_src.push(p);
                        }
                        Err(e) => self.skip_rule(&p, format!("regexp does not compile: {e}")),
                    }
                }
            }
        }
        if !literals.is_empty() {
            // Standard semantics are required for overlapping search, which finds every
            // literal even where one is a substring of another.
            match AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&literals)
            {
                Ok(ac) => index.literals = Some(ac),
                Err(e) => {
                    index.literal_rules.clear();
                    for p in &literal_src {
                        self.skip_rule(p, format!("literal automaton failed: {e}"));
                    }
                }
            }
        }
        if !regexes.is_empty() {
            match RegexSet::new(&regexes) {
                Ok(set) => index.regexes = Some(set),
                Err(e) => {
                    index.regex_rules.clear();
                    for p in &regex_src {
                        self.skip_rule(p, format!("regexp set failed: {e}"));
                    }
                }
            }
        }
        index
    }

    /// Records a rule that was parsed but cannot be indexed. It stays in `rules` (no match
    /// ever yields its index), which keeps every other index valid.
    fn skip_rule(&mut self, p: &Pending, reason: String) {
        let name = self
            .rules
            .get(p.rule)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        self.skipped.push(SkippedFingerprint {
            file: p.file,
            line: p.line,
            name,
            reason,
        });
    }
}

#[cfg(test)]
mod tests;
