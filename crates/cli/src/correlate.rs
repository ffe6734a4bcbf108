//! `interfero correlate`: the same interference on different networks at about the same time
//! (measurements from several probes: a collector's database, or several `--out` files).

use crate::analyze::{load, rejudge};
use interfero_analysis::crossnet::correlate as find;
use interfero_store::{Event, EventKind, Filter, MeasurementStore, SqliteStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `interfero correlate`.
#[derive(clap::Args)]
pub struct CorrelateArgs {
    /// JSONL files or OONI measurement files (re-judged), or directories of them.
    pub paths: Vec<PathBuf>,
    /// Also read every measurement in this SQLite database (e.g. a collector's).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// How close the first sightings on each network must be (e.g. 1h, 30m).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// Record each finding as a `coordinated` event in the --db database.
    #[arg(long, requires = "db")]
    pub record: bool,
    /// Write every measurement (re-judged) as JSONL here, with each finding added to the
    /// evidence of the verdicts it links.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `interfero correlate`.
pub fn correlate(args: CorrelateArgs) -> anyhow::Result<ExitCode> {
    let files = crate::analyze::files(&args.paths)?;
    let mut inputs: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
    inputs.extend(args.db.as_deref());
    crate::run::check_outputs(args.out.as_deref(), None, false, &inputs)?;
    let mut ms: Vec<_> = load(&args.paths)?
        .iter()
        .map(|l| rejudge(&l.measurement))
        .collect();
    let store = match &args.db {
        // Read from, so it must exist: opening a mistyped path would make an empty database.
        Some(p) if !p.is_file() => anyhow::bail!(
            "--db {}: no such database (give the path of an existing one)",
            p.display()
        ),
        Some(p) => Some(SqliteStore::open(p)?),
        None => None,
    };
    if let Some(s) = &store {
        ms.extend(s.measurements(&Filter::default())?);
    }
    if ms.is_empty() {
        anyhow::bail!("nothing to correlate: give measurement files or --db PATH");
    }
    let window = i64::try_from(args.window.as_secs()).unwrap_or(i64::MAX);
    let findings = find(&ms, window);
    let named = ms.iter().filter(|m| m.probe_asn != "AS0").count();
    println!(
        "{} measurements ({} from a named network: measurements made without --asn cannot be \
         linked), {} finding(s)",
        ms.len(),
        named,
        findings.len()
    );
    for f in &findings {
        // Evidence and inputs come from other probes' files: no control sequences.
        println!("\n- {}", crate::escape::terminal(&f.evidence));
        for i in f.inputs.iter().take(10) {
            println!("    {}", crate::escape::terminal(i));
        }
        if let (true, Some(s)) = (args.record, &store) {
            s.record_event(&Event {
                input: f.inputs.first().cloned().unwrap_or_default(),
                kind: EventKind::Coordinated,
                technique: Some(f.signature.technique),
                started: f.networks.first().map(|n| n.1.clone()).unwrap_or_default(),
                ended: None,
                evidence: vec![f.evidence.clone()],
            })?;
        }
    }
    if let Some(p) = &args.out {
        let mut text = String::new();
        for mut m in ms {
            interfero_analysis::crossnet::annotate(&mut m, &findings);
            text.push_str(&serde_json::to_string(&m)?);
            text.push('\n');
        }
        std::fs::write(p, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
