//! `interfero lab eval`: every built-in scenario (or one), scored against its ground truth.

use anyhow::Context as _;
use interfero_lab::score::score;
use interfero_lab::Scenario;
use interfero_runner::lab::Lab;
use std::path::PathBuf;
use std::process::ExitCode;

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

/// Runs the suite and prints (or writes) the report.
pub async fn eval(
    only: Option<String>,
    json: bool,
    markdown: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut all = Vec::new();
    for name in suite(only) {
        let s = Scenario::builtin(&name)?;
        eprintln!("scenario {name}: starting");
        let lab = Lab::start(&s).await?;
        let (_, results) = lab.eval().await;
        for (t, m) in results {
            if let Some(v) = m.verdict.clone() {
                let mut t = t;
                t.name = format!("{name}/{}", t.name);
                all.push((t, v, m));
            }
        }
        for t in lab
            .world
            .targets()
            .into_iter()
            .filter(|t| t.supported.is_err())
        {
            let mut t = t;
            t.name = format!("{name}/{}", t.name);
            let v = interfero_model::Verdict::new(
                interfero_model::Status::Inconclusive,
                0.0,
                "unsupported",
            );
            all.push((t, v, interfero_model::Measurement::default()));
        }
        lab.shutdown().await;
    }
    let pairs: Vec<_> = all.iter().map(|(t, v, _)| (t.clone(), v.clone())).collect();
    let report = score(&pairs);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.to_text());
    }
    if let Some(p) = markdown {
        let mut md = String::from("# Accuracy against the censor lab\n\nRegenerate with `cargo run --release -- lab eval --markdown docs/accuracy.md`.\n\n");
        md.push_str(&report.to_markdown());
        std::fs::write(&p, md).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
