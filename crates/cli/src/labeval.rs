//! `interfero lab eval`: every built-in scenario (or one), scored against its ground truth.

use anyhow::Context as _;
use interfero_lab::score::score;
use interfero_lab::{Scenario, WorldKind};
use interfero_lab_run::lab::Lab;
use std::path::PathBuf;
use std::process::ExitCode;

/// What the userspace world cannot emulate: written into docs/accuracy.md with every run.
const USERSPACE_LIMITS: &str = "\
World: userspace (loopback, no privileges). `tcp.timeout`, `tcp.reset` and `tcp.refused` need \
SYN-level filtering per source address, impossible on shared loopback listeners: they are \
listed as unsupported here and scored in the kernel world (`docs/accuracy-kernel.md`).\n\n";

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

/// Runs the suite in world `kind` and prints (or writes) the report.
pub async fn eval(
    kind: WorldKind,
    only: Option<String>,
    json: bool,
    markdown: Option<PathBuf>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for name in suite(only) {
        let s = Scenario::builtin(&name)?;
        eprintln!("scenario {name}: starting ({kind} world)");
        let lab = Lab::start_in(&s, kind).await?;
        let ev = lab.eval().await;
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
        let (title, regen, limits) = match kind {
            WorldKind::Userspace => (
                "",
                "cargo run --release -- lab eval --markdown docs/accuracy.md",
                USERSPACE_LIMITS,
            ),
            WorldKind::Kernel => (
                " (kernel world)",
                "sudo target/release/interfero lab eval --world kernel --markdown docs/accuracy-kernel.md",
                KERNEL_LIMITS,
            ),
        };
        let mut md =
            format!("# Accuracy against the censor lab{title}\n\nRegenerate with `{regen}`.\n\n");
        md.push_str(limits);
        md.push_str(KNOWN_MISSES);
        md.push_str(&report.to_markdown());
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
