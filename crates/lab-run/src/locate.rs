//! Scoring "where the censor sits": the `locate` scenario in the kernel world, on several
//! paths (hops, censor hop), several runs each; every located target's trace must give the
//! censor's hop exactly and its class. Ground truth: the path's `censor_hop`, each target's
//! `locate` class.

use crate::lab::Lab;
use interfero_lab::{KernelOptions, LabError, Scenario};
use serde::Serialize;
use std::fmt::Write as _;

/// The paths measured by default: hops 3–5, the censor at 2, 3 and 4.
pub const PATHS: &[(u8, u8)] = &[(3, 2), (4, 3), (5, 4), (5, 2)];

/// One located target in one run.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    /// Routers on the path.
    pub hops: u8,
    /// The censor's hop (truth).
    pub censor_hop: u8,
    /// Run number (1-based) on this path.
    pub run: usize,
    /// Target name.
    pub target: String,
    /// Expected class.
    pub class: String,
    /// The verdict's status.
    pub status: String,
    /// The hop the trace gave.
    pub got_hop: Option<u8>,
    /// The class the trace gave.
    pub got_class: String,
    /// The evidence line.
    pub evidence: String,
}

impl Located {
    /// Exact hop.
    pub fn hop_right(&self) -> bool {
        self.got_hop == Some(self.censor_hop)
    }

    /// Right class.
    pub fn class_right(&self) -> bool {
        self.got_class == self.class
    }
}

/// Every run's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocateReport {
    /// One row per located target per run.
    pub rows: Vec<Located>,
}

impl LocateReport {
    /// Share of rows with the exact hop.
    pub fn hop_accuracy(&self) -> f64 {
        share(
            self.rows.iter().filter(|r| r.hop_right()).count(),
            self.rows.len(),
        )
    }

    /// Share of rows with the right class.
    pub fn class_accuracy(&self) -> f64 {
        share(
            self.rows.iter().filter(|r| r.class_right()).count(),
            self.rows.len(),
        )
    }

    /// A Markdown report: overall figures, per target and path, and every miss.
    pub fn to_markdown(&self, command: &str) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "# Where the censor sits: localisation accuracy (kernel world)\n"
        );
        let _ = writeln!(m, "Regenerate with:\n\n```\n{command}\n```\n");
        let _ = writeln!(
            m,
            "Scenario `locate`: the censor acts in router `censor_hop` of a path of `hops` routers \
             (Linux network namespaces); the probe's TTL-limited trace must give that hop exactly \
             and the device class (on-path: injects; in-path: drops).\n"
        );
        let _ = writeln!(
            m,
            "**Exact hop: {}/{} = {:.1}%. Class right: {:.1}%.**\n",
            self.rows.iter().filter(|r| r.hop_right()).count(),
            self.rows.len(),
            100.0 * self.hop_accuracy(),
            100.0 * self.class_accuracy()
        );
        let _ = writeln!(
            m,
            "| target | class | hops | censor hop | runs | exact hop | class right |"
        );
        let _ = writeln!(m, "|---|---|---|---|---|---|---|");
        let mut keys: Vec<(String, u8, u8)> = self
            .rows
            .iter()
            .map(|r| (r.target.clone(), r.hops, r.censor_hop))
            .collect();
        keys.dedup();
        keys.sort();
        keys.dedup();
        for (t, hops, hop) in keys {
            let rows: Vec<&Located> = self
                .rows
                .iter()
                .filter(|r| r.target == t && r.hops == hops && r.censor_hop == hop)
                .collect();
            let class = rows.first().map(|r| r.class.as_str()).unwrap_or_default();
            let _ = writeln!(
                m,
                "| {t} | {class} | {hops} | {hop} | {} | {} | {} |",
                rows.len(),
                rows.iter().filter(|r| r.hop_right()).count(),
                rows.iter().filter(|r| r.class_right()).count()
            );
        }
        let misses: Vec<&Located> = self
            .rows
            .iter()
            .filter(|r| !r.hop_right() || !r.class_right())
            .collect();
        let _ = writeln!(m, "\n## Misses ({})\n", misses.len());
        for r in misses {
            let _ = writeln!(
                m,
                "- {} ({} hops, censor at {}, run {}): {} — {}",
                r.target, r.hops, r.censor_hop, r.run, r.status, r.evidence
            );
        }
        if let Some(r) = self
            .rows
            .iter()
            .find(|r| r.hop_right() && r.class == "in-path")
        {
            let _ = writeln!(m, "\n## Example evidence\n\n- in-path: `{}`", r.evidence);
        }
        if let Some(r) = self
            .rows
            .iter()
            .find(|r| r.hop_right() && r.class == "on-path")
        {
            let _ = writeln!(m, "- on-path: `{}`", r.evidence);
        }
        m.push_str(LIMITS);
        m
    }
}

/// What the figures do not show, printed under them.
const LIMITS: &str = "
## Limits

- The lab's routers answer every expired packet (`icmp_ratelimit` 0) and the real server is
  50 ms farther than the injector; real routers rate-limit or stay silent, and an injector may
  lose the race. The analysis then says `unknown` rather than a hop (see
  `crates/analysis/tests/locate.rs`), so real-world coverage is lower than these figures.
- A connected TCP socket reports an expired ClientHello only as an errno (no router address):
  routers are named from the control sweep of SYNs, which the kernel reports in full.
- The censor is the router itself: a transparent bridge between two routers would appear at
  the hop of the router after it.
";

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// Measures `scenario` in the kernel world on each path, `runs` times, calling `progress`
/// after each run. Each run builds and removes its own namespaces.
pub async fn evaluate(
    scenario: &Scenario,
    paths: &[(u8, u8)],
    runs: usize,
    mut progress: impl FnMut(&[Located]),
) -> Result<LocateReport, LabError> {
    let truth: Vec<(String, String)> = scenario
        .targets
        .iter()
        .filter_map(|t| Some((t.name.clone(), t.locate.clone()?)))
        .collect();
    let mut report = LocateReport::default();
    for &(hops, censor_hop) in paths {
        for run in 1..=runs {
            let lab = Lab::start_kernel(scenario, KernelOptions { hops, censor_hop }).await?;
            let results = lab.measure(|_, _| {}).await;
            lab.shutdown().await;
            let rows: Vec<Located> = truth
                .iter()
                .map(|(name, class)| {
                    let v = results
                        .iter()
                        .find(|(t, _)| &t.name == name)
                        .and_then(|(_, m)| m.verdict.clone());
                    let loc = v
                        .as_ref()
                        .and_then(|v| v.x_censor.clone())
                        .unwrap_or_default();
                    Located {
                        hops,
                        censor_hop,
                        run,
                        target: name.clone(),
                        class: class.clone(),
                        status: v
                            .as_ref()
                            .map_or("unmeasured".into(), |v| v.status.to_string()),
                        got_hop: loc.hop,
                        got_class: loc.class,
                        evidence: v
                            .as_ref()
                            .and_then(|v| {
                                v.evidence.iter().find(|e| e.starts_with("censor")).cloned()
                            })
                            .unwrap_or_else(|| "no trace".into()),
                    }
                })
                .collect();
            progress(&rows);
            report.rows.extend(rows);
        }
    }
    Ok(report)
}
