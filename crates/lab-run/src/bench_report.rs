//! The figures of a `lab bench` run, and their text and Markdown renderings.

use crate::bench::{ProbeRun, WorldCost};
use crate::ideal::Ideal;
use crate::throughput::Offline;
use std::fmt::Write;

/// Everything `lab bench` measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The command line that produced it.
    pub command: String,
    /// The machine it ran on.
    pub machine: String,
    /// Targets of the world.
    pub targets: usize,
    /// Round trip added by the lab, ms.
    pub rtt_ms: u32,
    /// Targets in flight.
    pub parallel: usize,
    /// The probe side.
    pub probe: ProbeRun,
    /// The world and control side.
    pub world: WorldCost,
    /// The ideal time of the world.
    pub ideal: Ideal,
    /// Offline throughput (analyze, SQLite).
    pub offline: Offline,
    /// Lines on what bounds the figures, printed under the table.
    pub notes: Vec<String>,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl BenchReport {
    /// Efficiency: ideal ÷ actual wall time.
    pub fn efficiency(&self) -> f64 {
        self.ideal.wall.as_secs_f64() / self.probe.wall.as_secs_f64().max(1e-9)
    }

    fn per_target_ms(&self, secs: f64) -> f64 {
        secs * 1000.0 / self.probe.measured.max(1) as f64
    }

    /// `(figure, value, target)` rows.
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let p = &self.probe;
        let wall = p.wall.as_secs_f64();
        let r = |a: &str, b: String, c: &str| (a.to_string(), b, c.to_string());
        let acc = &self.probe.report;
        let right = acc.correct;
        vec![
            r(
                "targets measured",
                format!("{} of {}", p.measured, self.targets),
                "",
            ),
            r("wall time", format!("{wall:.1} s"), "≤ 180 s"),
            r(
                "targets per second",
                format!("{:.1}", p.measured as f64 / wall.max(1e-9)),
                "",
            ),
            r(
                "ideal time (critical path)",
                format!(
                    "{:.1} s (Σ {:.0} s ÷ {}, longest {:.1} s)",
                    self.ideal.wall.as_secs_f64(),
                    self.ideal.total.as_secs_f64(),
                    self.parallel,
                    self.ideal.longest.as_secs_f64()
                ),
                "",
            ),
            r(
                "measured durations (Σ ÷ parallel, longest)",
                format!(
                    "{:.1} s, longest {:.1} s",
                    p.durations.iter().map(|(_, d)| d).sum::<f64>() / self.parallel.max(1) as f64,
                    p.durations.iter().map(|(_, d)| *d).fold(0.0, f64::max)
                ),
                "",
            ),
            r(
                "efficiency (ideal ÷ actual)",
                format!("{:.2}", self.efficiency()),
                "≥ 0.8",
            ),
            r(
                "CPU per target, probe process",
                format!("{:.2} ms", self.per_target_ms(p.cpu.as_secs_f64())),
                "≤ 2 ms",
            ),
            r(
                "CPU per target, control (other process)",
                format!("{:.2} ms", self.per_target_ms(self.world.control_cpu_s)),
                "",
            ),
            r(
                "CPU per target, lab world (other process)",
                format!("{:.2} ms", self.per_target_ms(self.world.world_cpu_s)),
                "",
            ),
            r(
                "peak memory, probe process (VmHWM)",
                format!("{:.0} MB", mib(p.peak_rss)),
                "≤ 150 MB",
            ),
            r(
                "peak memory, world + control process",
                format!("{:.0} MB", mib(self.world.peak_rss)),
                "",
            ),
            r(
                "accuracy of the run",
                format!(
                    "{right} of {} right ({:.1}%)",
                    acc.scored,
                    100.0 * right as f64 / acc.scored.max(1) as f64
                ),
                "no regression",
            ),
            r(
                "analyze: judge only",
                format!(
                    "{:.0} measurements/s/core ({} judged)",
                    self.offline.judge_per_s, self.offline.judged
                ),
                "≥ 100,000",
            ),
            r(
                "analyze: parse JSON + judge",
                format!("{:.0} measurements/s/core", self.offline.parse_judge_per_s),
                "",
            ),
            r(
                "SQLite writes, one transaction each",
                format!(
                    "{:.0} rows/s ({} rows)",
                    self.offline.sqlite_single_per_s, self.offline.sqlite_rows
                ),
                "",
            ),
            r(
                "SQLite writes, 1,000 per transaction",
                format!("{:.0} rows/s", self.offline.sqlite_batch_per_s),
                "",
            ),
        ]
    }

    /// A plain-text table.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "lab bench: {} targets, {} ms RTT, {} in flight — {}\n\n",
            self.targets, self.rtt_ms, self.parallel, self.machine
        );
        for (a, b, c) in self.rows() {
            let _ = writeln!(out, "  {a:<42} {b:<52} {c}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "\n{n}");
        }
        out
    }

    /// The Markdown section written to `docs/performance.md`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Command: `{}`\n", self.command);
        let _ = writeln!(out, "Machine: {}\n", self.machine);
        let _ = writeln!(
            out,
            "World: {} targets, {} ms round trip added by the lab, {} in flight.\n",
            self.targets, self.rtt_ms, self.parallel
        );
        out.push_str("| figure | value | target |\n|---|---|---|\n");
        for (a, b, c) in self.rows() {
            let _ = writeln!(out, "| {a} | {b} | {c} |");
        }
        for n in &self.notes {
            let _ = writeln!(out, "\n{n}");
        }
        if !self.probe.report.misses.is_empty() {
            out.push_str("\nMisses of the run:\n\n");
            for m in self.probe.report.misses.iter().take(20) {
                let _ = writeln!(
                    out,
                    "- {} ({}): expected {} {:?}, got {} {:?} by {:?}",
                    m.name,
                    m.url,
                    m.expected_status,
                    m.expected_techniques,
                    m.got_status,
                    m.got_techniques,
                    m.rules
                );
            }
        }
        out
    }
}

/// The figures of the hostile run (`lab bench --hostile N`).
#[derive(Debug, Clone)]
pub struct HostileReport {
    /// The command line that produced it.
    pub command: String,
    /// The machine it ran on.
    pub machine: String,
    /// Hostile targets (half endless body, half slow drip).
    pub targets: usize,
    /// Targets in flight.
    pub parallel: usize,
    /// The probe side.
    pub probe: ProbeRun,
    /// The ideal time of the world.
    pub ideal: Ideal,
    /// The per-target time bound the probe's timeouts set for these targets.
    pub time_bound: std::time::Duration,
    /// The largest response body any measurement kept, in bytes.
    pub largest_body: u64,
    /// The probe's body cap, in bytes.
    pub body_cap: u64,
    /// Peak memory before the hostile run started (the process's baseline), in bytes.
    pub rss_before: u64,
}

impl HostileReport {
    /// `(figure, value, bound)` rows.
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let p = &self.probe;
        let longest = p.durations.iter().map(|(_, d)| *d).fold(0.0, f64::max);
        let acc = &p.report;
        // Per target in flight: the kept body (cap), a same-size copy while its title is looked
        // for, and hyper's read buffer (at most 408 KiB, under one cap).
        let bound_mem = self.rss_before + self.parallel as u64 * 3 * self.body_cap;
        let r = |a: &str, b: String, c: String| (a.to_string(), b, c);
        vec![
            r(
                "hostile targets measured",
                format!("{} of {}", p.measured, self.targets),
                String::new(),
            ),
            r(
                "wall time",
                format!("{:.1} s", p.wall.as_secs_f64()),
                format!("ideal {:.1} s", self.ideal.wall.as_secs_f64()),
            ),
            r(
                "longest target",
                format!("{longest:.1} s"),
                format!(
                    "≤ {:.1} s (critical path {:.1} s: head, HTTP timeout, paired transfers; plus slack)",
                    self.time_bound.as_secs_f64(),
                    self.ideal.longest.as_secs_f64()
                ),
            ),
            r(
                "largest body kept",
                format!("{} bytes", self.largest_body),
                format!("≤ {} bytes (body cap)", self.body_cap),
            ),
            r(
                "peak memory, probe process",
                format!("{:.0} MB", mib(p.peak_rss)),
                format!(
                    "≤ {:.0} MB (baseline {:.0} MB + {} in flight × 3 body caps)",
                    mib(bound_mem),
                    mib(self.rss_before),
                    self.parallel
                ),
            ),
            r(
                "CPU per target, probe process",
                format!(
                    "{:.2} ms",
                    p.cpu.as_secs_f64() * 1000.0 / p.measured.max(1) as f64
                ),
                String::new(),
            ),
            r(
                "accuracy of the run",
                format!("{} of {} right", acc.correct, acc.scored),
                String::new(),
            ),
        ]
    }

    /// A plain-text table.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "lab bench --hostile: {} endless-body and slow-drip sites, {} in flight — {}\n\n",
            self.targets, self.parallel, self.machine
        );
        for (a, b, c) in self.rows() {
            let _ = writeln!(out, "  {a:<32} {b:<16} {c}");
        }
        out
    }

    /// The Markdown section.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "Command: `{}`\n\nMachine: {}\n\n",
            self.command, self.machine
        );
        out.push_str("| figure | value | bound |\n|---|---|---|\n");
        for (a, b, c) in self.rows() {
            let _ = writeln!(out, "| {a} | {b} | {c} |");
        }
        out
    }
}
