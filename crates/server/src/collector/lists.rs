//! The test lists a collector hands out at check-in: one per country (Citizen Lab's CSV
//! format), plus the global list every probe also gets.

use interfero_model::target::parse_list;
use serde::Serialize;
use std::collections::BTreeMap;

/// URLs handed out by one check-in.
pub const CHECK_IN_URLS: usize = 100;

/// The most URLs `GET /api/v1/test-list/urls` returns (OONI's `limit` cap).
pub const MAX_URLS: usize = 9999;

/// One URL of a test list, in OONI's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestUrl {
    /// The list's category (`NEWS`, `HUMR`, ...), `MISC` when the list has none.
    pub category_code: String,
    /// The list's country (`KZ`), `XX` for the global list.
    pub country_code: String,
    /// The URL.
    pub url: String,
}

/// Lists by country, and the global one.
#[derive(Debug, Clone, Default)]
pub struct TestList {
    by_country: BTreeMap<String, Vec<TestUrl>>,
}

impl TestList {
    /// Adds a list for `country` (`XX`: the global list) from Citizen Lab CSV text (or one
    /// URL a line); returns how many URLs it added. Bad lines are skipped.
    pub fn add_csv(&mut self, country: &str, text: &str) -> usize {
        let (targets, _problems) = parse_list(text);
        let n = targets.len();
        self.by_country
            .entry(country.to_string())
            .or_default()
            .extend(targets.into_iter().map(|t| TestUrl {
                category_code: t.category_code.unwrap_or_else(|| "MISC".into()),
                country_code: country.to_string(),
                url: t.url,
            }));
        n
    }

    /// At most `limit` URLs for a probe in `cc`: the country's list first, then the global
    /// one, only of `categories` when some are named.
    pub fn for_country(&self, cc: &str, categories: &[String], limit: usize) -> Vec<TestUrl> {
        let wanted = |u: &&TestUrl| categories.is_empty() || categories.contains(&u.category_code);
        let country = self.by_country.get(cc).into_iter().flatten();
        let global = self
            .by_country
            .get("XX")
            .into_iter()
            .flatten()
            .filter(move |_| cc != "XX");
        country
            .chain(global)
            .filter(wanted)
            .take(limit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_first_then_global_filtered_by_category() {
        let mut l = TestList::default();
        l.add_csv(
            "KZ",
            "url,category_code\nhttps://a.kz/,NEWS\nhttps://b.kz/,HUMR\n",
        );
        l.add_csv("XX", "url,category_code\nhttps://g.example/,NEWS\n");
        let all = l.for_country("KZ", &[], 10);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].url, "https://a.kz/");
        assert_eq!(all[2].country_code, "XX");
        let news = l.for_country("KZ", &["NEWS".into()], 10);
        assert_eq!(news.len(), 2);
        assert_eq!(l.for_country("RU", &[], 10).len(), 1);
        assert_eq!(l.for_country("KZ", &[], 1).len(), 1);
    }
}
