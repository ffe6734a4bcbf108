//! `interfero analyze`: re-judge stored measurements, ours or OONI's.

use crate::{compare, print};
use anyhow::Context as _;
use clap::Args;
use interfero_analysis::{judge, ooni, Context};
use interfero_model::Measurement;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `interfero analyze`.
#[derive(Args)]
pub struct AnalyzeArgs {
    /// JSONL files of measurements, OONI measurement JSON files, or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write the re-judged measurements as JSONL here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a Markdown comparison of our verdicts with OONI's own to this file.
    #[arg(long)]
    pub compare_ooni: Option<PathBuf>,
    /// No table.
    #[arg(long)]
    pub quiet: bool,
}

/// A measurement read from disk, with where it came from.
pub struct Loaded {
    /// File (and line) it came from, relative to the path given.
    pub source: String,
    /// The measurement as read (with OONI's own judgement in its test keys).
    pub measurement: Measurement,
}

fn files_under(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read directory {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            files_under(&e, out)?;
        }
    } else if p.extension().is_some_and(|x| x == "json" || x == "jsonl") {
        out.push(p.to_path_buf());
    } else if !p.exists() {
        anyhow::bail!("{} does not exist", p.display());
    }
    Ok(())
}

/// Reads every measurement under the paths; unreadable lines are reported and skipped.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Vec<Loaded>> {
    let mut files = Vec::new();
    for p in paths {
        files_under(p, &mut files)?;
    }
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let name = f.display().to_string();
        // OONI's analysis files sit beside its measurements: only measurements are read.
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("analysis"))
        {
            continue;
        }
        let whole = f.extension().is_some_and(|x| x == "json");
        let chunks: Vec<(usize, &str)> = if whole {
            vec![(1, text.as_str())]
        } else {
            text.lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l))
                .filter(|(_, l)| !l.trim().is_empty())
                .collect()
        };
        for (line, chunk) in chunks {
            match Measurement::from_ooni_json(chunk) {
                Ok(m) if m.test_name.is_empty() || m.test_name == "web_connectivity" => {
                    out.push(Loaded {
                        source: if whole {
                            name.clone()
                        } else {
                            format!("{name}:{line}")
                        },
                        measurement: m,
                    })
                }
                // Interfero's own records beside measurements (service verdicts): not input.
                Ok(m) if m.test_name.starts_with("x_") => {}
                Ok(m) => eprintln!(
                    "interfero: {name}:{line}: test {} is not web_connectivity (skipped)",
                    m.test_name
                ),
                Err(e) => eprintln!("interfero: {name}:{line}: not a measurement: {e} (skipped)"),
            }
        }
    }
    Ok(out)
}

/// Judges a loaded measurement, returning it with our verdict and OONI summary keys set.
pub fn rejudge(m: &Measurement) -> Measurement {
    let mut m = m.clone();
    let v = judge(&m.input, &m.test_keys, &Context::default());
    let (b, a) = ooni::summary_keys(&v);
    m.test_keys.blocking = b;
    m.test_keys.accessible = a;
    m.verdict = Some(v);
    m
}

/// `interfero analyze`.
pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(&args.paths)?;
    if loaded.is_empty() {
        anyhow::bail!("no measurements found under the paths given");
    }
    let judged: Vec<Measurement> = loaded.iter().map(|l| rejudge(&l.measurement)).collect();
    if let Some(p) = &args.out {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        );
        for m in &judged {
            writeln!(w, "{}", serde_json::to_string(m)?)?;
        }
        w.flush()?;
    }
    if let Some(p) = &args.compare_ooni {
        let md = compare::markdown(&loaded, &judged, &args.paths);
        std::fs::write(p, md).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("comparison with OONI written to {}", p.display());
    }
    if !args.quiet {
        println!("{}", print::verdict_header());
        for m in &judged {
            println!("{}", print::verdict_line(m));
        }
        println!("\n{}", print::summary(&judged));
    }
    Ok(ExitCode::SUCCESS)
}
