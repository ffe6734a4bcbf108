//! `interfero watch` and `interfero lab watch`: rounds of measurements, and the changes
//! between them as events.

use crate::run::{collect_targets, default_db, session, RunArgs};
use anyhow::Context as _;
use interfero_analysis::timeline::Change;
use interfero_runner::labwatch::describe;
use interfero_runner::watcher::{watch as run_watch, Pace, Round};
use interfero_store::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `interfero watch`.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// Targets, list, control, resolver, database ... as for `run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Time between round starts (e.g. 15m, 1h).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Stop after this many rounds (default: until Ctrl-C).
    #[arg(long)]
    pub rounds: Option<usize>,
}

fn print_round(r: &Round) {
    let pending = if r.pending > 0 {
        format!(", {} waiting to be stored", r.pending)
    } else {
        String::new()
    };
    println!(
        "round {} at {}: {} measured{pending}",
        r.index, r.at, r.measured
    );
    for c in &r.changes {
        let mark = match c {
            Change::Began { .. } => "+",
            Change::Ended { .. } => "-",
        };
        println!("  {mark} {}", describe(c));
    }
}

fn stop_on_ctrl_c() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
            std::future::pending::<()>().await;
        }
    });
    rx
}

/// `interfero watch`.
pub async fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let targets = collect_targets(&args.run)?;
    let session = session(&args.run)?;
    let db = args.run.db.clone().unwrap_or_else(default_db);
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let store = SqliteStore::open(&db)?;
    println!(
        "watching {} targets every {}; measurements and events go to {} (Ctrl-C stops)",
        targets.len(),
        humantime::format_duration(args.interval),
        db.display()
    );
    let errors = run_watch(
        &session,
        targets,
        &store,
        Pace::Wall {
            interval: args.interval,
        },
        args.rounds,
        stop_on_ctrl_c(),
        print_round,
    )
    .await;
    for e in errors.iter().take(20) {
        eprintln!("interfero: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `interfero lab watch`: steps a lab world's scenario clock and scores the events.
pub async fn lab_watch(
    name: &str,
    step: Duration,
    rounds: usize,
    db: Option<PathBuf>,
    json: bool,
    markdown: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let s = crate::labcmd::scenario(name)?;
    let lab = interfero_runner::lab::Lab::start(&s).await?;
    let store = match &db {
        Some(p) => SqliteStore::open(p)?,
        None => SqliteStore::open_in_memory()?,
    };
    eprintln!(
        "watching `{}` for {rounds} rounds, the scenario clock {} apart",
        s.name,
        humantime::format_duration(step)
    );
    let score = interfero_runner::labwatch::watch_lab(
        &lab,
        &store,
        interfero_lab::ScenarioTime(0),
        step.as_secs().max(60),
        rounds,
        |r| {
            if !json {
                print_round(r)
            }
        },
    )
    .await;
    lab.shutdown().await;
    if let Some(p) = &markdown {
        let command = format!(
            "interfero lab watch --scenario {name} --step {} --rounds {rounds} --markdown {}",
            humantime::format_duration(step),
            p.display()
        );
        std::fs::write(p, score.to_markdown(&s.name, &command))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&score)?);
    } else {
        print!("\n{}", score.to_text());
    }
    Ok(if score.perfect() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
