//! `interfero lab bench`: the benchmark world measured by the real probe and control, with the
//! figures of `docs/performance.md`. The world and the control run in a child process
//! (`lab bench-world`), so this process's CPU and memory are the probe's own.

use anyhow::Context as _;
use clap::Args;
use interfero_lab::bench::{self, Kind};
use interfero_lab_run::bench::{measure, probe_config, WorldCost, WorldInfo, WorldServer};
use interfero_lab_run::bench_report::{BenchReport, HostileReport};
use interfero_lab_run::{ideal, throughput, usage};
use interfero_model::Measurement;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Where the generated sections of a Markdown file begin and end (the prose around is kept).
const BEGIN: &str = "<!-- lab bench: generated, do not edit -->";
const END: &str = "<!-- lab bench: end -->";
const HOSTILE_BEGIN: &str = "<!-- lab bench --hostile: generated, do not edit -->";
const HOSTILE_END: &str = "<!-- lab bench --hostile: end -->";

/// Arguments of `lab bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Targets of the benchmark world (1 to 100,000).
    #[arg(long, default_value_t = bench::DEFAULT_TARGETS, value_parser = parse_targets)]
    pub targets: usize,
    /// Round-trip time the lab adds, in milliseconds.
    #[arg(long, default_value_t = bench::DEFAULT_RTT_MS)]
    pub rtt: u32,
    /// Targets in flight.
    #[arg(long, default_value_t = 64, value_parser = crate::run::parse_parallel)]
    pub parallel: usize,
    /// Measurements judged for the analyze throughput (cycling through the run's own).
    #[arg(long, default_value_t = 1_000_000)]
    pub analyze: usize,
    /// Rows written for the SQLite throughput, in each mode.
    #[arg(long, default_value_t = 20_000)]
    pub writes: usize,
    /// Write the figures into this Markdown file (between the generated-section markers when
    /// the file has them, else appended).
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Instead of the mix: this many hostile sites (half endless body, half slow drip), to
    /// check that memory and time stay within per-target bounds.
    #[arg(long, value_parser = parse_targets)]
    pub hostile: Option<usize>,
}

/// The largest benchmark world: 44 times the Kazakh + global lists; a larger one only
/// exhausts memory building names and answers (100,000,000 aborted in the allocator).
pub const MAX_TARGETS: usize = 100_000;

/// `--targets` / `--hostile`: 1 to [`MAX_TARGETS`].
fn parse_targets(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_TARGETS).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 1 to {MAX_TARGETS}")),
    }
}

type WorldLines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Starts the world process and reads where it answers.
async fn start_world(
    targets: usize,
    rtt: u32,
    hostile: bool,
) -> anyhow::Result<(tokio::process::Child, WorldLines, WorldInfo)> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(["lab", "bench-world", "--targets"])
        .arg(targets.to_string())
        .arg("--rtt")
        .arg(rtt.to_string());
    if hostile {
        cmd.arg("--hostile");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the world process")?;
    let stdout = child.stdout.take().context("no stdout from the world")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next_line()
        .await?
        .context("the world process ended")?;
    let info: WorldInfo = serde_json::from_str(&first).context("the world's first line")?;
    Ok((child, lines, info))
}

/// `lab bench`.
pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.hostile {
        return hostile(&args, n).await;
    }
    let world = bench::world(args.targets, args.rtt);
    let (mut child, mut lines, info) = start_world(args.targets, args.rtt, false).await?;
    eprintln!(
        "world up: {} targets behind {} ms; measuring {} at once",
        args.targets, args.rtt, args.parallel
    );
    // A private directory (mkdtemp: fresh, 0700, never a symlink someone planted).
    let tmp = tempfile::Builder::new()
        .prefix("interfero-bench-")
        .tempdir()?;
    let dir = tmp.path().to_path_buf();
    let jsonl = dir.join("measurements.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
    let probe = measure(&world, &info, args.parallel, &mut out).await;
    out.flush()?;
    drop(out);
    // End of stdin: the world reports what it cost and stops.
    drop(child.stdin.take());
    let cost: WorldCost = match lines.next_line().await? {
        Some(l) => serde_json::from_str(&l).unwrap_or_default(),
        None => WorldCost::default(),
    };
    let _ = child.wait().await;
    eprintln!(
        "measured in {:.1} s; now analyze and SQLite throughput",
        probe.wall.as_secs_f64()
    );
    let kinds: Vec<Kind> = world.kinds.iter().map(|(_, k)| *k).collect();
    let rtt = Duration::from_millis(u64::from(args.rtt));
    let ideal = ideal::ideal(&kinds, rtt, &probe_config(&info), args.parallel);
    let text = std::fs::read_to_string(&jsonl)?;
    let stored: Vec<String> = text.lines().map(str::to_string).collect();
    let mut offline = throughput::analyze(&stored, args.analyze);
    let ms: Vec<Measurement> = stored
        .iter()
        .filter_map(|l| Measurement::from_ooni_json(l).ok())
        .collect();
    let (single, batch) = throughput::sqlite(&ms, args.writes, &dir)?;
    offline.sqlite_single_per_s = single;
    offline.sqlite_batch_per_s = batch;
    offline.sqlite_rows = args.writes;
    drop(tmp);
    let report = BenchReport {
        command: command_line(&args),
        machine: usage::machine(),
        targets: args.targets,
        rtt_ms: args.rtt,
        parallel: args.parallel,
        probe,
        world: cost,
        ideal,
        offline,
        notes: Vec::new(),
    };
    println!("{}", report.to_text());
    if let Some(p) = &args.markdown {
        write_section(p, &report.to_markdown(), BEGIN, END)?;
        eprintln!("figures written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab bench --hostile N`: the hostile world, with its bounds.
async fn hostile(args: &BenchArgs, n: usize) -> anyhow::Result<ExitCode> {
    let world = bench::hostile_world(n, args.rtt);
    let (mut child, _lines, info) = start_world(n, args.rtt, true).await?;
    eprintln!("hostile world up: {n} endless-body and slow-drip sites");
    let rss_before = usage::peak_rss().unwrap_or(0);
    // Measurements go to a file as they complete (as `run --out` does), not to memory.
    let tmp = tempfile::Builder::new()
        .prefix("interfero-hostile-")
        .tempdir()?;
    let path = tmp.path().join("measurements.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let probe = measure(&world, &info, args.parallel, &mut out).await;
    out.flush()?;
    drop(out);
    drop(child.stdin.take());
    let _ = child.wait().await;
    let cfg = probe_config(&info);
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    let largest_body = stored
        .lines()
        .filter_map(|l| Measurement::from_ooni_json(l).ok())
        .flat_map(|m| m.test_keys.requests)
        .filter_map(|r| r.response.x_body_length)
        .max()
        .unwrap_or(0);
    let kinds: Vec<Kind> = world.kinds.iter().map(|(_, k)| *k).collect();
    let rtt = Duration::from_millis(u64::from(args.rtt));
    let ideal = ideal::ideal(&kinds, rtt, &cfg, args.parallel);
    let report = HostileReport {
        command: format!(
            "interfero lab bench --hostile {n} --rtt {} --parallel {}",
            args.rtt, args.parallel
        ),
        machine: usage::machine(),
        targets: n,
        parallel: args.parallel,
        probe,
        ideal,
        // The longest critical path of these kinds, plus one HTTP timeout of slack for the
        // time a measurement may wait for its turn at the control.
        time_bound: ideal.longest + cfg.timeouts.http,
        largest_body,
        body_cap: cfg.body_cap as u64,
        rss_before,
    };
    println!("{}", report.to_text());
    if let Some(p) = &args.markdown {
        write_section(p, &report.to_markdown(), HOSTILE_BEGIN, HOSTILE_END)?;
        eprintln!("figures written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn command_line(args: &BenchArgs) -> String {
    let mut c = format!(
        "interfero lab bench --targets {} --rtt {} --parallel {}",
        args.targets, args.rtt, args.parallel
    );
    if args.analyze != 1_000_000 {
        c.push_str(&format!(" --analyze {}", args.analyze));
    }
    if args.writes != 20_000 {
        c.push_str(&format!(" --writes {}", args.writes));
    }
    if let Some(p) = &args.markdown {
        c.push_str(&format!(" --markdown {}", p.display()));
    }
    c
}

/// Replaces the section of `path` between `begin` and `end` (or appends one).
fn write_section(path: &Path, section: &str, begin: &str, end: &str) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(begin), old.find(end)) {
        (Some(b), Some(e)) if b < e => {
            let head = old.get(..b + begin.len()).unwrap_or_default();
            let tail = old.get(e..).unwrap_or_default();
            format!("{head}\n{section}\n{tail}")
        }
        _ => format!("{old}\n{begin}\n{section}\n{end}\n"),
    };
    std::fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
}

/// `lab bench-world` (internal): serves the benchmark world and a control, prints where they
/// answer as one JSON line, and when stdin ends prints what they cost as another.
pub async fn bench_world(targets: usize, rtt: u32, hostile: bool) -> anyhow::Result<ExitCode> {
    let world = if hostile {
        bench::hostile_world(targets, rtt)
    } else {
        bench::world(targets, rtt)
    };
    let server = WorldServer::start(&world).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", serde_json::to_string(&server.info)?)?;
    stdout.flush()?;
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    writeln!(stdout, "{}", serde_json::to_string(&server.cost())?)?;
    stdout.flush()?;
    drop(server);
    Ok(ExitCode::SUCCESS)
}
