//! `interfero lab watch`: the watcher against a lab world's scenario clock, its events scored.

use crate::watch::print_round;
use interfero_store::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    // Never into the user's measurements (checked before the world starts).
    let db = match db {
        Some(p) => Some(crate::labcmd::lab_db(Some(p), &crate::run::default_db())?),
        None => None,
    };
    let lab = interfero_lab_run::lab::Lab::start(&s).await?;
    let store = match &db {
        Some(p) => SqliteStore::open(p)?,
        None => SqliteStore::open_in_memory()?,
    };
    eprintln!(
        "watching `{}` for {rounds} rounds, the scenario clock {} apart",
        s.name,
        humantime::format_duration(step)
    );
    let score = interfero_lab_run::labwatch::watch_lab(
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
        crate::print::write_report(p, &score.to_markdown(&s.name, &command))?;
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
