//! `interfero watch`: rounds of measurements, and the changes between them as events.

use crate::run::{
    check_outputs, collect_targets, default_db, inputs_of, session, stop_on_interrupt, RunArgs,
};
use anyhow::Context as _;
use interfero_analysis::timeline::Change;
use interfero_session::watcher::{describe, watch as run_watch, Pace, Round};
use interfero_store::SqliteStore;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// `interfero watch`.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// Targets, list, control, resolver, database ... as for `run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// Time between round starts (e.g. 15m, 1h; at least 1s).
    #[arg(long, default_value = "15m", value_parser = parse_interval)]
    pub interval: Duration,
    /// Stop after this many rounds (default: until Ctrl-C).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Also capture every target each round and keep it as WARC beside the database
    /// (DB.captures/), with content_removed / content_changed events (see `interfero archive`).
    #[arg(long)]
    pub archive: bool,
}

/// `--interval`: a duration of at least a second (0 would measure in a tight loop).
fn parse_interval(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(d),
        Ok(_) => Err("the interval must be at least 1s".into()),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn print_round(r: &Round) {
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
        println!("  {mark} {}", crate::escape::terminal(&describe(c)));
    }
}

/// `interfero watch`.
pub async fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let a = &args.run;
    let targets = collect_targets(a)?;
    let session = session(a)?;
    let db = (!a.no_db).then(|| a.db.clone().unwrap_or_else(default_db));
    check_outputs(
        a.out.as_deref(),
        db.as_deref(),
        a.db.is_some(),
        &inputs_of(a),
    )?;
    // `--no-db`: the rounds and events live in memory for the watch's own timeline only.
    let store = match &db {
        Some(p) => SqliteStore::open(p)?,
        None => SqliteStore::open_in_memory()?,
    };
    // Opened (and truncated) last, once everything else is known to work.
    let mut out = match &a.out {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("cannot create --out file {}", p.display()))?,
        )),
        None => None,
    };
    if !a.quiet {
        let kept = match (&db, &a.out) {
            (Some(d), Some(o)) => format!("{} and {}", d.display(), o.display()),
            (Some(d), None) => d.display().to_string(),
            (None, Some(o)) => o.display().to_string(),
            (None, None) => "nowhere (--no-db without --out: printed only)".into(),
        };
        println!(
            "watching {} targets every {}; measurements and events go to {kept} (Ctrl-C stops)",
            targets.len(),
            humantime::format_duration(args.interval),
        );
    }
    let mut out_errors = 0usize;
    let mut first_out_error = None;
    let quiet = a.quiet;
    let stop = stop_on_interrupt();
    if args.archive && db.is_none() {
        return Err(crate::exit::fail(
            crate::exit::USAGE,
            "--archive keeps captures beside the database: drop --no-db",
        ));
    }
    let urls: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
    let archiving = async {
        match (&db, args.archive) {
            (Some(db), true) => {
                let (every, stop) = (args.interval, stop.clone());
                let db = db.clone();
                crate::archivecmd::watch_archive(
                    &session,
                    urls,
                    db,
                    &store,
                    every,
                    args.rounds,
                    stop,
                )
                .await
            }
            _ => Vec::new(),
        }
    };
    let watching = run_watch(
        &session,
        targets,
        &store,
        Pace::Wall {
            interval: args.interval,
        },
        args.rounds,
        stop.clone(),
        |r| {
            if let Some(w) = out.as_mut() {
                for m in &r.measurements {
                    let line = serde_json::to_string(m).unwrap_or_default();
                    if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                        out_errors += 1;
                        first_out_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            if !quiet {
                print_round(r)
            }
        },
    );
    let (mut errors, archive_errors) = tokio::join!(watching, archiving);
    errors.extend(archive_errors);
    for e in errors.iter().take(20) {
        eprintln!("interfero: {e}");
    }
    if let Some(e) = &first_out_error {
        eprintln!("interfero: writing --out: {e} ({out_errors} measurements not written)");
    }
    let interrupted = *stop.borrow();
    Ok(crate::exit::of_run(
        1,
        usize::from(interrupted),
        // Store errors are retried round after round (reported above); a line --out could
        // not take is lost.
        out_errors,
    ))
}
