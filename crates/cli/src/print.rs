//! Human output: the verdict table and the summary grouped by status and technique.

use interfero_model::{Measurement, Status};
use std::collections::BTreeMap;

/// One line per measurement: status, techniques, confidence, target.
pub fn verdict_line(m: &Measurement) -> String {
    let (status, techniques, conf) = match &m.verdict {
        Some(v) => (
            v.status.as_str(),
            v.techniques
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(","),
            format!("{:.2}", v.confidence),
        ),
        None => ("-", String::new(), "-".into()),
    };
    let techniques = if techniques.is_empty() {
        "-".to_string()
    } else {
        techniques
    };
    // The input came from a list or another probe's file: no control sequences reach the
    // terminal.
    format!(
        "{status:<13} {techniques:<24} {conf:>5}  {}",
        crate::escape::terminal(&m.input)
    )
}

/// The header of [`verdict_line`]'s table.
pub fn verdict_header() -> String {
    format!(
        "{:<13} {:<24} {:>5}  {}",
        "STATUS", "TECHNIQUES", "CONF", "TARGET"
    )
}

/// Counts by status, then by technique, added one measurement at a time (a stream of
/// measurements is summed without being kept).
#[derive(Debug, Default)]
pub struct Tally {
    /// Measurements added.
    pub measured: usize,
    by_status: BTreeMap<Status, usize>,
    by_technique: BTreeMap<String, usize>,
}

impl Tally {
    /// Counts one measurement.
    pub fn add(&mut self, m: &Measurement) {
        self.measured += 1;
        if let Some(v) = &m.verdict {
            *self.by_status.entry(v.status).or_default() += 1;
            for t in &v.techniques {
                *self.by_technique.entry(t.as_str().to_string()).or_default() += 1;
            }
        }
    }

    /// The summary's text.
    pub fn text(&self) -> String {
        let mut out = format!("{} measured\n", self.measured);
        out.push_str("  by status:    ");
        out.push_str(
            &self
                .by_status
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        if !self.by_technique.is_empty() {
            out.push_str("\n  by technique: ");
            out.push_str(
                &self
                    .by_technique
                    .iter()
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        out
    }
}

/// Counts by status, then by technique.
pub fn summary(ms: &[Measurement]) -> String {
    let mut t = Tally::default();
    for m in ms {
        t.add(m);
    }
    t.text()
}

/// Where the hand-written part of a generated report begins: what follows it is kept when the
/// command that made the report writes it again.
pub const KEPT_NOTES: &str = "<!-- notes below: kept when this file is regenerated -->";

/// Writes a generated Markdown report to `path`, keeping the hand-written notes after
/// [`KEPT_NOTES`] in the file already there.
pub fn write_report(path: &std::path::Path, generated: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let notes = old.find(KEPT_NOTES).and_then(|i| old.get(i..));
    let text = match notes {
        Some(n) => format!("{}\n\n{n}", generated.trim_end()),
        None => generated.to_string(),
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn a_regenerated_report_keeps_its_notes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.md");
        write_report(&p, "# old\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "# old\n");
        std::fs::write(&p, format!("# old\n{KEPT_NOTES}\n\n## Notes\nby hand\n")).unwrap();
        write_report(&p, "# new\n").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# new\n"), "{text}");
        assert!(text.ends_with("## Notes\nby hand\n"), "{text}");
        assert!(!text.contains("# old"));
    }
}
