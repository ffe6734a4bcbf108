//! `interfero correlate`: the same interference on different networks at about the same time
//! (measurements from several probes: a collector's database, or several `--out` files).

use crate::analyze::{for_each, rejudge};
use interfero_analysis::crossnet::Correlator;
use interfero_model::Measurement;
use interfero_store::{Event, EventKind, MeasurementStore, Order, Query, SqliteStore};
use std::io::Write as _;
use std::ops::ControlFlow;
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
    /// Also read every measurement in this store (`clickhouse://HOST:PORT/DB` or a SQLite
    /// path) instead of --db.
    #[arg(long, value_name = "URL", conflicts_with = "db")]
    pub store: Option<String>,
    /// Record each finding as a `coordinated` event in the --db (or --store) database.
    #[arg(long)]
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
    let store = match &args.db {
        // Read from, so it must exist: opening a mistyped path would make an empty database.
        Some(p) if !p.is_file() => anyhow::bail!(
            "--db {}: no such database (give the path of an existing one)",
            p.display()
        ),
        Some(p) => Some(Box::new(SqliteStore::open(p)?) as Box<dyn MeasurementStore>),
        None => match &args.store {
            Some(url) => Some(interfero_store::open(url)?),
            None => None,
        },
    };
    if args.record && store.is_none() {
        anyhow::bail!("--record needs --db PATH or --store URL to record the findings in");
    }
    // Streamed: files one measurement at a time, the store a batch at a time; only the
    // signatures' first sightings are kept, so memory does not grow with the input.
    let mut correlator = Correlator::default();
    let (mut total, mut named) = (0usize, 0usize);
    let mut take = |m: &Measurement| {
        total += 1;
        named += usize::from(m.probe_asn != "AS0");
        correlator.add(m);
    };
    for_each(&files, |l| take(&rejudge(&l.measurement)));
    if let Some(s) = &store {
        // Judged again from the observations: a stored verdict (a submitter's, or one from
        // older rules) is never taken as it is.
        s.scan(&Query::default(), Order::Oldest, &mut |st| {
            take(&rejudge(&st.measurement));
            ControlFlow::Continue(())
        })?;
    }
    if total == 0 {
        anyhow::bail!("nothing to correlate: give measurement files or --db PATH");
    }
    let window = i64::try_from(args.window.as_secs()).unwrap_or(i64::MAX);
    let findings = correlator.findings(window);
    println!(
        "{} measurements ({} from a named network: measurements made without --asn cannot be \
         linked), {} finding(s)",
        total,
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
                // It spans networks (named in the evidence): no single vantage point.
                probe_cc: String::new(),
                probe_asn: String::new(),
            })?;
        }
    }
    if let Some(p) = &args.out {
        // A second pass over the same sources, each measurement annotated and written as it
        // is read.
        let file = std::fs::File::create(p)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", p.display()))?;
        let mut w = std::io::BufWriter::new(file);
        let mut failed: Option<std::io::Error> = None;
        let mut put = |mut m: Measurement| {
            interfero_analysis::crossnet::annotate(&mut m, &findings);
            let line = serde_json::to_string(&m).map_err(std::io::Error::from);
            if let Err(e) = line.and_then(|l| writeln!(w, "{l}")) {
                failed.get_or_insert(e);
            }
        };
        for_each(&files, |l| put(rejudge(&l.measurement)));
        if let Some(s) = &store {
            s.scan(&Query::default(), Order::Oldest, &mut |st| {
                put(rejudge(&st.measurement));
                ControlFlow::Continue(())
            })?;
        }
        if let Some(e) = failed {
            anyhow::bail!("cannot write {}: {e}", p.display());
        }
        w.flush()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
