//! `interfero lab eval`: every built-in scenario (or one), scored against its ground truth.

use anyhow::Context as _;
use interfero_lab::score::score;
use interfero_lab::{Scenario, WorldKind};
use interfero_lab_run::lab::{Lab, Profile};
use std::path::PathBuf;
use std::process::ExitCode;

/// What the userspace world cannot emulate: written into docs/accuracy.md with every run.
const USERSPACE_LIMITS: &str = "\
World: userspace (loopback, no privileges). `tcp.timeout`, `tcp.reset` and `tcp.refused` need \
SYN-level filtering per source address, impossible on shared loopback listeners: they are \
listed as unsupported here and scored in the kernel world (`docs/accuracy-kernel.md`). So are \
a vantage point with no IPv6 route (`ipv6-absent`) and one with working IPv6 (`ipv6-working`): \
loopback always has ::1 and only that one IPv6 address.\n\n";

/// How the kernel world emulates the censor: written into docs/accuracy-kernel.md.
const KERNEL_LIMITS: &str = "\
World: kernel (Linux network namespaces: client — r1 — r2 (censor) — servers, 198.18.0.0/15). \
The probe measures from the client namespace through real routers; nftables in the censor's \
router drops (`tcp.drop`, `shutdown`) and rejects with a RST (`tcp.refuse`); `tcp.reset` \
answers the SYN with a crossing SYN and a RST, so connect() fails with a reset; address \
throttles are tc htb classes. DNS, SNI, Host and keyword rules stay in the userspace \
middlebox in the servers namespace (NFQUEUE is absent on these kernels). The control measures \
from the servers namespace and never crosses the censor.\n\n";

/// What the report says about misses.
const KNOWN_MISSES: &str = "\
Shutdowns are judged from all the evidence of the run, made when targets fail: the lab's \
canaries (a canary site only rules matching everything touch, and the name at both \
resolvers), the control (a shutdown cuts the probe's channel to it, as a real one does), the \
resolver and the run's other targets; silent canaries alone never make a shutdown \
(`canaries-blocked`). \
Services are scored from their endpoints' verdicts (`service:NAME` rows). Every miss, if any, \
is listed at the end with the evidence behind it.\n\n";

/// Scenarios that make up the accuracy suite.
fn suite(only: Option<String>) -> Vec<String> {
    match only {
        Some(s) => vec![s],
        None => Scenario::builtin_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// The path every scenario is measured over, on top of its own (`lab eval --rtt-ms …`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathSpec {
    /// Round trip added to every exchange (a scenario's own, if longer, is kept).
    pub rtt_ms: u32,
    /// Jitter on top of it.
    pub jitter_ms: u32,
    /// Packets lost, percent (DNS datagrams only in the userspace world).
    pub loss_pct: u32,
}

impl PathSpec {
    fn check(&self) -> anyhow::Result<()> {
        if self.rtt_ms > 2000 || self.jitter_ms > 1000 || self.loss_pct > 20 {
            anyhow::bail!(
                "--rtt-ms at most 2000, --jitter-ms at most 1000, --loss-pct at most 20 \
                 (beyond them no web page loads anywhere)"
            );
        }
        Ok(())
    }

    fn apply(&self, s: &mut Scenario, kind: WorldKind) {
        s.rtt_ms = s.rtt_ms.max(self.rtt_ms);
        s.jitter_ms = s.jitter_ms.max(self.jitter_ms);
        match kind {
            WorldKind::Userspace => s.loss_pct = s.loss_pct.max(self.loss_pct),
            WorldKind::Kernel => s.packet_loss_pct = s.packet_loss_pct.max(self.loss_pct),
        }
    }

    /// The flags that give this path.
    fn flags(&self) -> String {
        let mut f = String::new();
        for (name, v) in [
            ("rtt-ms", self.rtt_ms),
            ("jitter-ms", self.jitter_ms),
            ("loss-pct", self.loss_pct),
        ] {
            if v > 0 {
                f.push_str(&format!(" --{name} {v}"));
            }
        }
        f
    }

    /// The path in words, for the report.
    fn describe(&self, kind: WorldKind) -> String {
        if *self == PathSpec::default() {
            return "each scenario's own (most: loopback speed, no loss)".into();
        }
        let loss = match kind {
            _ if self.loss_pct == 0 => String::from("no added loss"),
            WorldKind::Userspace => format!(
                "{}% of DNS datagrams lost (loopback cannot lose TCP segments; the kernel world \
                 loses every kind of packet)",
                self.loss_pct
            ),
            WorldKind::Kernel => format!(
                "{}% of packets lost each way in the censor's router (nftables `numgen random`): \
                 TCP retransmits, DNS retries",
                self.loss_pct
            ),
        };
        format!(
            "at least {} ms round trip with up to {} ms jitter on every exchange, {loss}",
            self.rtt_ms, self.jitter_ms
        )
    }
}

/// How `lab eval` runs: the world, the probe's profile and the path.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Userspace or kernel.
    pub world: WorldKind,
    /// Shipped defaults or the tests' fast settings.
    pub profile: Profile,
    /// The path over every scenario.
    pub path: PathSpec,
}

impl Setup {
    /// The command that regenerates a report written to `file`.
    fn regen(&self, file: &std::path::Path) -> String {
        let mut flags = String::new();
        if self.profile != Profile::Shipped {
            flags.push_str(&format!(" --profile {}", self.profile));
        }
        flags.push_str(&self.path.flags());
        match self.world {
            WorldKind::Userspace => format!(
                "cargo run --release -- lab eval{flags} --markdown {}",
                file.display()
            ),
            WorldKind::Kernel => format!(
                "sudo target/release/interfero lab eval --world kernel{flags} --markdown {}",
                file.display()
            ),
        }
    }

    /// The probe's settings in words, for the report.
    fn describe_profile(&self) -> &'static str {
        match self.profile {
            Profile::Shipped => {
                "shipped — `interfero run` at its defaults (DNS 3 s, connect and TLS 5 s, HTTP \
                 10 s, a 10 s throughput window, 32 targets at once, the control client's 30 s \
                 timeout and 2 retries) against `interfero control` at its defaults (8 \
                 measurements at once per client, 20 requests a second)"
            }
            Profile::Fast => {
                "fast — the test suite's settings (DNS 2 s, connect and TLS 3 s, HTTP 5 s, a 3 s \
                 throughput window, 64 targets at once, an unlimited control), not what ships"
            }
        }
    }
}

/// Runs the suite as `setup` says and prints (or writes) the report.
pub async fn eval(
    setup: Setup,
    only: Option<String>,
    json: bool,
    markdown: Option<PathBuf>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    setup.path.check()?;
    let kind = setup.world;
    let mut all = Vec::new();
    let mut per_scenario = Vec::new();
    let started = std::time::Instant::now();
    for name in suite(only) {
        let mut s = Scenario::builtin(&name)?;
        setup.path.apply(&mut s, kind);
        eprintln!(
            "scenario {name}: starting ({kind} world, {} profile)",
            setup.profile
        );
        let lab = Lab::start_profiled(&s, kind, setup.profile).await?;
        let ev = lab.eval().await;
        per_scenario.push((name.clone(), s.description.clone(), score(&ev.judged)));
        for (t, v) in ev.judged {
            let m = ev
                .results
                .iter()
                .find(|(r, _)| r.url == t.url)
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            let mut t = t;
            t.name = format!("{name}/{}", t.name);
            all.push((t, v, m));
        }
        lab.shutdown().await;
    }
    let took = started.elapsed();
    let pairs: Vec<_> = all.iter().map(|(t, v, _)| (t.clone(), v.clone())).collect();
    let report = score(&pairs);
    if let Some(p) = &out {
        let mut text = String::new();
        for (_, _, m) in all.iter().filter(|(_, _, m)| !m.input.is_empty()) {
            text.push_str(&serde_json::to_string(m)?);
            text.push('\n');
        }
        std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    // Every miss with the measurement behind it: the rules and evidence that decided.
    let mut behind = String::new();
    for miss in &report.misses {
        if let Some((_, v, _)) = all.iter().find(|(t, _, _)| t.name == miss.name) {
            behind.push_str(&format!("\n{} ({})\n", miss.name, miss.url));
            for e in &v.evidence {
                behind.push_str(&format!("    {e}\n"));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.to_text());
        if !behind.is_empty() {
            println!("\nthe evidence behind each miss:{behind}");
        }
    }
    if let Some(p) = markdown {
        let (title, limits) = match kind {
            WorldKind::Userspace => ("", USERSPACE_LIMITS),
            WorldKind::Kernel => (" (kernel world)", KERNEL_LIMITS),
        };
        let mut md = format!(
            "# Accuracy against the censor lab{title}\n\nRegenerate with `{}`.\n\n",
            setup.regen(&p)
        );
        md.push_str(&format!(
            "Probe and control: {}.\n\nPath: {}.\n\nThe whole suite took {:.0} s.\n\n",
            setup.describe_profile(),
            setup.path.describe(kind),
            took.as_secs_f64()
        ));
        md.push_str(limits);
        md.push_str(KNOWN_MISSES);
        md.push_str(&report.to_markdown());
        md.push_str(&scenario_table(&per_scenario));
        if !behind.is_empty() {
            md.push_str("\n## The evidence behind each miss\n\n```");
            md.push_str(&behind);
            md.push_str("```\n");
        }
        std::fs::write(&p, md).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per scenario: what it is, and how its targets scored.
fn scenario_table(rows: &[(String, String, interfero_lab::score::Report)]) -> String {
    let mut md = String::from(
        "\n**Per scenario**\n\n| scenario | what it is | scored | right | unsupported |\n|---|---|---:|---:|---:|\n",
    );
    for (name, description, r) in rows {
        md.push_str(&format!(
            "| `{name}` | {} | {} | {} | {} |\n",
            crate::escape::markdown(description),
            r.scored,
            r.correct,
            r.unsupported.len()
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_lengthens_every_scenario_and_loses_what_the_world_can_lose() {
        let path = PathSpec {
            rtt_ms: 80,
            jitter_ms: 40,
            loss_pct: 3,
        };
        let mut slow = Scenario::builtin("lossy-slow").unwrap();
        let own_rtt = slow.rtt_ms;
        path.apply(&mut slow, WorldKind::Userspace);
        assert_eq!(
            slow.rtt_ms,
            own_rtt.max(80),
            "a scenario's longer round trip is kept"
        );
        assert_eq!((slow.jitter_ms, slow.packet_loss_pct), (40, 0));
        let mut k = Scenario::builtin("kz-demo").unwrap();
        path.apply(&mut k, WorldKind::Kernel);
        assert_eq!((k.rtt_ms, k.packet_loss_pct, k.loss_pct), (80, 3, 0));
        let setup = Setup {
            world: WorldKind::Kernel,
            profile: Profile::Shipped,
            path,
        };
        assert_eq!(
            setup.regen(std::path::Path::new("docs/x.md")),
            "sudo target/release/interfero lab eval --world kernel --rtt-ms 80 --jitter-ms 40 \
             --loss-pct 3 --markdown docs/x.md"
        );
        assert!(PathSpec {
            loss_pct: 21,
            ..path
        }
        .check()
        .is_err());
    }

    #[test]
    fn the_report_scores_each_scenario_on_its_own_row() {
        let md = scenario_table(&[("shared-address".into(), "a | b".into(), score(&[]))]);
        assert!(
            md.contains("| `shared-address` | a \\| b | 0 | 0 | 0 |"),
            "{md}"
        );
    }
}
