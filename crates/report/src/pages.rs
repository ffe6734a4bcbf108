//! Record pages: an index of the records with facets (kind, year, status) and one page per
//! record with its evidence and its chart, written as static files. The explorer serves the
//! same templates when it has incident pages; until then `interfero report --pages DIR`
//! writes them.

use crate::view::{IncidentView, Section};
use crate::{kind_label, ReportError};
use askama::Template;
use std::collections::BTreeMap;
use std::path::Path;

/// One facet value with its count and the page listing its records.
#[derive(Debug, Clone)]
pub struct Facet {
    /// The value in words.
    pub label: String,
    /// How many records.
    pub count: usize,
    /// The anchor of its group on the index.
    pub anchor: String,
}

/// The index of the records.
#[derive(Template)]
#[template(path = "index.html", escape = "html")]
pub struct Index {
    /// The title.
    pub title: String,
    /// Records per kind.
    pub kinds: Vec<Facet>,
    /// Records per year of their start.
    pub years: Vec<Facet>,
    /// Records per status (operators see drafts).
    pub statuses: Vec<Facet>,
    /// The records, grouped by section.
    pub sections: Vec<Section>,
    /// Whether drafts are included.
    pub operator: bool,
}

/// One record's page.
#[derive(Template)]
#[template(path = "record.html", escape = "html")]
pub struct Record<'a> {
    /// The record.
    pub inc: &'a IncidentView,
    /// Always true: links between records go to their files.
    pub pages: bool,
}

fn facets(values: impl Iterator<Item = (String, String)>) -> Vec<Facet> {
    let mut n = BTreeMap::<(String, String), usize>::new();
    for v in values {
        *n.entry(v).or_insert(0) += 1;
    }
    n.into_iter()
        .map(|((anchor, label), count)| Facet {
            label,
            count,
            anchor,
        })
        .collect()
}

/// The index of `sections`' records.
pub fn index(title: &str, sections: &[Section], operator: bool) -> Index {
    let all: Vec<&IncidentView> = sections.iter().flat_map(|s| &s.incidents).collect();
    Index {
        title: title.to_string(),
        kinds: facets(all.iter().map(|i| {
            let k = interfero_model::incident::Kind::parse(&i.kind_code);
            // A kind links to its section (the family it belongs to).
            let anchor = format!("section-{}", i.family.as_str());
            (anchor, k.map(kind_label).unwrap_or("other").to_string())
        })),
        years: facets(all.iter().map(|i| {
            let y = i.start.get(..4).unwrap_or("").to_string();
            (y.clone(), y)
        })),
        statuses: facets(all.iter().map(|i| {
            let s = i.badge.clone().unwrap_or_else(|| "published".into());
            (s.clone(), s)
        })),
        sections: sections.to_vec(),
        operator,
    }
}

/// Writes `index.html` and `<id>.html` for every record into `dir` (created if needed);
/// returns how many record pages were written.
pub fn write(
    dir: &Path,
    title: &str,
    sections: &[Section],
    operator: bool,
) -> Result<usize, ReportError> {
    let io = |e: std::io::Error| ReportError::Params(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(
        dir.join("index.html"),
        index(title, sections, operator).render()?,
    )
    .map_err(io)?;
    let mut n = 0;
    for inc in sections.iter().flat_map(|s| &s.incidents) {
        // Ids are validated (a-z, 0-9, '-'), so they are safe file names.
        let page = Record { inc, pages: true }.render()?;
        std::fs::write(dir.join(format!("{}.html", inc.id)), page).map_err(io)?;
        n += 1;
    }
    Ok(n)
}
