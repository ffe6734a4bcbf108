//! Scoring verdicts against ground truth. Pure: no I/O, no clock.
//!
//! A verdict is right when its status is the expected one (or one of the target's `accept`
//! alternatives) and its techniques are exactly the expected ones. For the confusion matrix, a
//! status in `accept` counts as the truth for that target, so accepted alternatives are not
//! errors. Unsupported targets are listed apart and never scored.

use crate::scenario::LabTarget;
use interfero_model::{Status, Technique, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Precision and recall of one label (a status or a technique).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The status or technique name.
    pub label: String,
    /// Predicted and expected.
    pub tp: usize,
    /// Predicted, not expected.
    pub fp: usize,
    /// Expected, not predicted.
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// tp / (tp + fp), none when nothing was predicted.
    pub precision: Option<f64>,
    /// tp / (tp + fn), none when nothing was expected.
    pub recall: Option<f64>,
}

/// One target the verdict got wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Miss {
    /// Target label.
    pub name: String,
    /// Target URL.
    pub url: String,
    /// Expected status.
    pub expected_status: Status,
    /// Expected techniques.
    pub expected_techniques: Vec<Technique>,
    /// Verdict status.
    pub got_status: Status,
    /// Verdict techniques.
    pub got_techniques: Vec<Technique>,
    /// The rules that decided the verdict.
    pub rules: Vec<String>,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {} [{}], got {} [{}] by {}",
            self.name,
            self.expected_status,
            techs(&self.expected_techniques),
            self.got_status,
            techs(&self.got_techniques),
            self.rules.join(", ")
        )
    }
}

/// A target left out because the world cannot emulate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unsupported {
    /// Target label.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The score of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Targets scored.
    pub scored: usize,
    /// Targets with the right status and exactly the right techniques.
    pub correct: usize,
    /// Targets with the right status.
    pub status_correct: usize,
    /// `matrix[i][j]`: expected `Status::ALL[i]`, verdict `Status::ALL[j]`.
    pub matrix: Vec<Vec<usize>>,
    /// Per status, in `Status::ALL` order.
    pub per_status: Vec<Metric>,
    /// Per technique expected or seen, in vocabulary order.
    pub per_technique: Vec<Metric>,
    /// Wrong verdicts.
    pub misses: Vec<Miss>,
    /// Targets not scored.
    pub unsupported: Vec<Unsupported>,
    /// Per confidence band, how often the verdicts in it were right.
    #[serde(default)]
    pub calibration: Vec<Band>,
}

/// Verdicts whose confidence lies in `[from, to)` (the last band includes 1.0), and how many
/// were right (status and techniques).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Lowest confidence of the band.
    pub from: f64,
    /// Highest confidence of the band (exclusive, but for the last).
    pub to: f64,
    /// Verdicts in the band.
    pub verdicts: usize,
    /// Of those, right.
    pub right: usize,
}

/// The confidence bands of the calibration table.
const BANDS: [(f64, f64); 5] = [
    (0.0, 0.5),
    (0.5, 0.7),
    (0.7, 0.85),
    (0.85, 0.95),
    (0.95, 1.0),
];

fn band_of(confidence: f64) -> usize {
    BANDS
        .iter()
        .position(|(from, to)| confidence >= *from && confidence < *to)
        .unwrap_or(BANDS.len() - 1)
}

fn metric(label: &str, tp: usize, fp: usize, fn_: usize) -> Metric {
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    Metric {
        label: label.to_string(),
        tp,
        fp,
        fn_,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
    }
}

fn index(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// Scores verdicts against the targets' expectations.
pub fn score(results: &[(LabTarget, Verdict)]) -> Report {
    let n = Status::ALL.len();
    let mut matrix = vec![vec![0usize; n]; n];
    let mut pairs: Vec<(Status, Status, BTreeSet<Technique>, BTreeSet<Technique>)> = Vec::new();
    let mut misses = Vec::new();
    let mut unsupported = Vec::new();
    let (mut correct, mut status_correct) = (0, 0);
    let mut calibration: Vec<Band> = BANDS
        .iter()
        .map(|(from, to)| Band {
            from: *from,
            to: *to,
            verdicts: 0,
            right: 0,
        })
        .collect();
    for (target, verdict) in results {
        if let Err(reason) = &target.supported {
            unsupported.push(Unsupported {
                name: target.name.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        let e = &target.expect;
        let truth = if e.accept.contains(&verdict.status) {
            verdict.status
        } else {
            e.status
        };
        let want: BTreeSet<Technique> = e.techniques.iter().copied().collect();
        let got: BTreeSet<Technique> = verdict.techniques.iter().copied().collect();
        if let Some(cell) = matrix
            .get_mut(index(truth))
            .and_then(|row| row.get_mut(index(verdict.status)))
        {
            *cell += 1;
        }
        let ok_status = truth == verdict.status;
        status_correct += usize::from(ok_status);
        if let Some(b) = calibration.get_mut(band_of(verdict.confidence)) {
            b.verdicts += 1;
            b.right += usize::from(ok_status && want == got);
        }
        if ok_status && want == got {
            correct += 1;
        } else {
            misses.push(Miss {
                name: target.name.clone(),
                url: target.url.clone(),
                expected_status: e.status,
                expected_techniques: want.iter().copied().collect(),
                got_status: verdict.status,
                got_techniques: got.iter().copied().collect(),
                rules: verdict.rules.clone(),
            });
        }
        pairs.push((truth, verdict.status, want, got));
    }
    let per_status = Status::ALL
        .iter()
        .map(|s| {
            let tp = pairs.iter().filter(|p| p.0 == *s && p.1 == *s).count();
            let fp = pairs.iter().filter(|p| p.0 != *s && p.1 == *s).count();
            let fn_ = pairs.iter().filter(|p| p.0 == *s && p.1 != *s).count();
            metric(s.as_str(), tp, fp, fn_)
        })
        .collect();
    let per_technique = Technique::ALL
        .iter()
        .filter(|t| pairs.iter().any(|p| p.2.contains(t) || p.3.contains(t)))
        .map(|t| {
            let tp = pairs
                .iter()
                .filter(|p| p.2.contains(t) && p.3.contains(t))
                .count();
            let fp = pairs
                .iter()
                .filter(|p| !p.2.contains(t) && p.3.contains(t))
                .count();
            let fn_ = pairs
                .iter()
                .filter(|p| p.2.contains(t) && !p.3.contains(t))
                .count();
            metric(t.as_str(), tp, fp, fn_)
        })
        .collect();
    Report {
        scored: pairs.len(),
        correct,
        status_correct,
        matrix,
        per_status,
        per_technique,
        misses,
        unsupported,
        calibration,
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

fn techs(t: &[Technique]) -> String {
    if t.is_empty() {
        return "-".into();
    }
    t.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(",")
}

impl Report {
    /// Rows of the metric tables (status first, then techniques), shared by both renderings.
    fn metric_rows(&self) -> Vec<[String; 6]> {
        self.per_status
            .iter()
            .filter(|m| m.tp + m.fp + m.fn_ > 0)
            .chain(&self.per_technique)
            .map(|m| {
                [
                    m.label.clone(),
                    m.tp.to_string(),
                    m.fp.to_string(),
                    m.fn_.to_string(),
                    pct(m.precision),
                    pct(m.recall),
                ]
            })
            .collect()
    }

    /// A plain-text rendering for terminals.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} scored, {} right ({} with the right status), {} unsupported",
            self.scored,
            self.correct,
            self.status_correct,
            self.unsupported.len()
        );
        let _ = writeln!(
            out,
            "\n{:<22} {:>4} {:>4} {:>4} {:>9} {:>9}",
            "label", "tp", "fp", "fn", "precision", "recall"
        );
        for r in self.metric_rows() {
            let _ = writeln!(
                out,
                "{:<22} {:>4} {:>4} {:>4} {:>9} {:>9}",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
        let _ = write!(out, "\nexpected \\ got   ");
        for s in Status::ALL {
            let _ = write!(out, " {:>5.5}", s.as_str());
        }
        for (i, row) in self.matrix.iter().enumerate() {
            let name = Status::ALL.get(i).map_or("?", |s| s.as_str());
            let _ = write!(out, "\n{name:<17}");
            for c in row {
                let _ = write!(out, " {c:>5}");
            }
        }
        out.push('\n');
        for m in &self.misses {
            let _ = writeln!(out, "MISS {}", m);
        }
        for u in &self.unsupported {
            let _ = writeln!(out, "UNSUPPORTED {}: {}", u.name, u.reason);
        }
        out
    }

    /// A markdown rendering for reports and release notes.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "**{} scored, {} right ({} with the right status), {} unsupported**\n\n\
             | label | tp | fp | fn | precision | recall |\n|---|---:|---:|---:|---:|---:|\n",
            self.scored,
            self.correct,
            self.status_correct,
            self.unsupported.len()
        );
        for r in self.metric_rows() {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                r[0], r[1], r[2], r[3], r[4], r[5]
            );
        }
        out.push_str("\n| expected \\ got |");
        for s in Status::ALL {
            let _ = write!(out, " {s} |");
        }
        out.push_str("\n|---|");
        out.push_str(&"---:|".repeat(Status::ALL.len()));
        for (i, row) in self.matrix.iter().enumerate() {
            let name = Status::ALL.get(i).map_or("?", |s| s.as_str());
            let _ = write!(out, "\n| {name} |");
            for c in row {
                let _ = write!(out, " {c} |");
            }
        }
        out.push('\n');
        out.push_str(
            "\n**Calibration** (per confidence band, how often the verdict was right: status and \
             techniques)\n\n| confidence | verdicts | right | share right |\n|---|---:|---:|---:|\n",
        );
        for b in &self.calibration {
            let share = (b.verdicts > 0).then(|| b.right as f64 / b.verdicts as f64);
            let close = if b.to >= 1.0 { ']' } else { ')' };
            let _ = writeln!(
                out,
                "| [{:.2}, {:.2}{close} | {} | {} | {} |",
                b.from,
                b.to,
                b.verdicts,
                b.right,
                pct(share)
            );
        }
        if !self.misses.is_empty() {
            out.push_str("\n**Misses**\n\n");
            for m in &self.misses {
                let _ = writeln!(out, "- {}", m);
            }
        }
        if !self.unsupported.is_empty() {
            out.push_str("\n**Unsupported here**\n\n");
            for u in &self.unsupported {
                let _ = writeln!(out, "- {}: {}", u.name, u.reason);
            }
        }
        out
    }
}
