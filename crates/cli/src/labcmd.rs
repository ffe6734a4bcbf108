//! `interfero lab`: demo, eval, bench, up.

use crate::run::{default_db, finish, Sink};
use anyhow::Context as _;
use clap::Subcommand;
use interfero_lab::Scenario;
use interfero_runner::lab::Lab;
use std::path::PathBuf;
use std::process::ExitCode;

/// The lab's subcommands.
#[derive(Subcommand)]
pub enum LabCmd {
    /// Start a Kazakhstan-flavoured censor on loopback, measure it, show the verdicts.
    Demo {
        /// SQLite database for the results (default: the same as `interfero run`).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Also write the measurements as JSONL here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score the verdicts against the lab's ground truth.
    Eval {
        /// userspace (loopback, no privileges) or kernel (namespaces, root).
        #[arg(long, default_value = "userspace")]
        world: String,
        /// Only this scenario (default: every built-in scenario).
        #[arg(long)]
        scenario: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the report as Markdown to this file (e.g. docs/accuracy.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Write every measurement behind the report as JSONL to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure the benchmark world (2,275 targets behind a round trip) and print the figures.
    Bench(crate::benchcmd::BenchArgs),
    /// Serve the benchmark world for `lab bench` (internal).
    #[command(hide = true)]
    BenchWorld {
        /// Targets of the world.
        #[arg(long)]
        targets: usize,
        /// Round trip in milliseconds.
        #[arg(long)]
        rtt: u32,
        /// The hostile world instead of the mix.
        #[arg(long)]
        hostile: bool,
    },
    /// Keep a world running and print how to point a probe at it.
    Up {
        /// Built-in scenario name or a scenario file.
        scenario: String,
    },
}

fn scenario(name: &str) -> anyhow::Result<Scenario> {
    if std::path::Path::new(name).exists() {
        return Ok(Scenario::from_path(name)?);
    }
    Ok(Scenario::builtin(name)?)
}

/// Runs a lab subcommand.
pub async fn lab(cmd: LabCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCmd::Demo { db, out } => demo(db, out).await,
        LabCmd::Eval {
            world,
            scenario: only,
            json,
            markdown,
            out,
        } => {
            if world != "userspace" {
                anyhow::bail!(
                    "the {world:?} world is not available in this build: use --world userspace"
                );
            }
            crate::labeval::eval(only, json, markdown, out).await
        }
        LabCmd::Bench(args) => crate::benchcmd::bench(args).await,
        LabCmd::BenchWorld {
            targets,
            rtt,
            hostile,
        } => crate::benchcmd::bench_world(targets, rtt, hostile).await,
        LabCmd::Up { scenario: name } => up(&name).await,
    }
}

async fn demo(db: Option<PathBuf>, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let s = scenario("kz-demo")?;
    eprintln!(
        "starting the lab world `{}` on loopback: {}",
        s.name, s.description
    );
    let lab = Lab::start(&s).await?;
    let targets = lab
        .world
        .targets()
        .into_iter()
        .filter(|t| t.supported.is_ok())
        .map(|t| interfero_model::Target {
            url: t.url,
            category_code: None,
        })
        .collect::<Vec<_>>();
    eprintln!(
        "measuring {} targets through the censor, with a control beside it",
        targets.len()
    );
    let db = db.unwrap_or_else(default_db);
    let mut sink = Sink::open(out.as_deref(), Some(&db), "lab demo", &lab.session.vantage)?;
    crate::run::measure_into(&lab.session, targets, &mut sink, false).await;
    finish(&sink, false, out.as_deref(), Some(&db));
    println!("\nexplore: `interfero lab eval --scenario kz-demo` scores these verdicts against the censor's rules;");
    println!("         each measurement's JSON (evidence, rules, raw observations) is in the database's `json` column.");
    lab.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn up(name: &str) -> anyhow::Result<ExitCode> {
    let s = scenario(name)?;
    let lab = Lab::start(&s).await?;
    let dir = std::env::temp_dir().join(format!("interfero-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join("lab-ca.pem");
    std::fs::write(&ca, lab.world.ca_pem())
        .with_context(|| format!("cannot write {}", ca.display()))?;
    println!("world `{}` is up. Measure it with:\n", s.name);
    let urls: Vec<String> = lab
        .world
        .targets()
        .into_iter()
        .filter(|t| t.supported.is_ok())
        .map(|t| t.url)
        .collect();
    println!(
        "  interfero run --resolver {} --control http://{}/ --ca-file {} {}\n",
        lab.world.probe_resolver(),
        lab.control_addr,
        ca.display(),
        urls.first().cloned().unwrap_or_default()
    );
    println!("targets:");
    for u in urls {
        println!("  {u}");
    }
    println!("\nCtrl-C stops the world.");
    let _ = tokio::signal::ctrl_c().await;
    lab.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
