//! `interfero lab`: demo, eval, bench, up.

use crate::run::{default_db, finish, Sink};
use anyhow::Context as _;
use clap::Subcommand;
use interfero_lab::{Scenario, WorldKind};
use interfero_lab_run::lab::Lab;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The lab's subcommands.
#[derive(Subcommand)]
pub enum LabCmd {
    /// Start a Kazakhstan-flavoured censor on loopback, measure it, show the verdicts.
    Demo {
        /// SQLite database for the lab's invented measurements (default: `lab.db` beside
        /// `interfero run`'s database; never that database itself).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Also write the measurements as JSONL here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Upload to a collector (queued in the database first).
        #[command(flatten)]
        submit: crate::submit::SubmitArgs,
    },
    /// The control as shipped under hostile load on loopback: idle and slow connections, a
    /// flood of bad requests from many addresses, an honest client beside them.
    Siege {
        /// Connections opened and left idle.
        #[arg(long, default_value_t = 2000)]
        idle: usize,
        /// Connections that send half a request head and stop.
        #[arg(long, default_value_t = 200)]
        slow: usize,
        /// Hostile requests in all.
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        /// Addresses the hostile requests come from.
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Write the figures as Markdown to this file (e.g. docs/siege.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Besiege this `interfero` binary instead of this one (e.g. an earlier build, to
        /// compare).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Score the verdicts against the lab's ground truth.
    Eval {
        /// userspace (loopback, no privileges) or kernel (namespaces, nftables, tc; root).
        #[arg(long, default_value = "userspace")]
        world: WorldKind,
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
        /// shipped (`interfero run` and `interfero control` at their defaults) or fast (the
        /// test suite's short timeouts, an unlimited control).
        #[arg(long, default_value = "shipped")]
        profile: interfero_lab_run::lab::Profile,
        /// Round trip added to every exchange of every scenario, in ms (a scenario's own,
        /// if longer, is kept).
        #[arg(long, default_value_t = 0)]
        rtt_ms: u32,
        /// Jitter on top of the round trip, in ms.
        #[arg(long, default_value_t = 0)]
        jitter_ms: u32,
        /// Share of packets lost, in percent: every packet either way in the kernel world
        /// (TCP retransmits), DNS datagrams only in the userspace world (loopback cannot
        /// lose segments).
        #[arg(long, default_value_t = 0)]
        loss_pct: u32,
    },
    /// Watch a world whose rules switch on and off: rounds on its scenario clock, events
    /// scored against the rules.
    Watch {
        /// Built-in scenario name or a scenario file.
        #[arg(long, default_value = "kz-watch")]
        scenario: String,
        /// Scenario time between rounds (e.g. 6h).
        #[arg(long, default_value = "6h", value_parser = humantime::parse_duration)]
        step: std::time::Duration,
        /// Rounds to run.
        #[arg(long, default_value_t = 27)]
        rounds: usize,
        /// Keep the rounds and events in this SQLite database (default: in memory; never
        /// `interfero run`'s database).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print the score as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the score as Markdown to this file (e.g. docs/watch.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Archive pages that change on a schedule (removed, image replaced, 404, blocked here
    /// only, varying by itself) and score the change events against the schedule.
    Archive {
        /// Built-in scenario name or a scenario file.
        #[arg(long, default_value = "kz-archive")]
        scenario: String,
        /// Scenario time between rounds.
        #[arg(long, default_value = "12h", value_parser = humantime::parse_duration)]
        step: std::time::Duration,
        /// Rounds to run.
        #[arg(long, default_value_t = 21)]
        rounds: usize,
        /// Print the score as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the score as Markdown to this file (e.g. docs/archive.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Measure the benchmark world (2,275 targets behind a round trip) and print the figures.
    Bench(crate::benchcmd::BenchArgs),
    /// Load a collector on loopback with submissions and measure the acknowledgements.
    Load(crate::load::LoadArgs),
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
    /// Where the censor sits: run the `locate` scenario in the kernel world on several paths,
    /// several times each, and score the hop and class its traces give (root).
    Locate {
        /// Runs per path.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Built-in scenario name or a scenario file.
        #[arg(long, default_value = "locate")]
        scenario: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the report as Markdown to this file (e.g. docs/localisation.md).
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Keep a world running and print how to point a probe at it.
    Up {
        /// Built-in scenario name or a scenario file.
        scenario: String,
        /// userspace (loopback, no privileges) or kernel (namespaces, nftables, tc; root).
        #[arg(long, default_value = "userspace")]
        world: WorldKind,
    },
}

/// A built-in scenario by name, or a scenario file.
pub fn scenario(name: &str) -> anyhow::Result<Scenario> {
    if std::path::Path::new(name).exists() {
        return Ok(Scenario::from_path(name)?);
    }
    Ok(Scenario::builtin(name)?)
}

/// The database a lab run keeps its measurements in: `given`, or `lab.db` beside the user's
/// database `user` — never `user` itself, so that nothing reading the user's measurements
/// (an explorer, a collector, a report) can mistake the lab's invented ones for a network's.
pub fn lab_db(given: Option<PathBuf>, user: &Path) -> anyhow::Result<PathBuf> {
    let p = match given {
        Some(p) => p,
        None => {
            let beside = user.with_file_name("lab.db");
            if same_file(&beside, user) {
                user.with_file_name("lab-demo.db")
            } else {
                beside
            }
        }
    };
    if same_file(&p, user) {
        anyhow::bail!(
            "--db {} is your measurements' database: the lab's invented measurements are kept \
             apart; give another file (the default is lab.db beside it)",
            p.display()
        );
    }
    Ok(p)
}

/// Whether `a` and `b` name the same file (the same path, or the same existing file).
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Runs a lab subcommand.
pub async fn lab(cmd: LabCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCmd::Demo { db, out, submit } => demo(db, out, submit).await,
        LabCmd::Siege {
            idle,
            slow,
            requests,
            clients,
            markdown,
            binary,
        } => {
            let plan = interfero_lab_run::siege::Plan {
                idle,
                slow,
                requests,
                clients,
                ..Default::default()
            };
            siege(plan, markdown, binary).await
        }
        LabCmd::Eval {
            world,
            scenario: only,
            json,
            markdown,
            out,
            profile,
            rtt_ms,
            jitter_ms,
            loss_pct,
        } => {
            let setup = crate::labeval::Setup {
                world,
                profile,
                path: crate::labeval::PathSpec {
                    rtt_ms,
                    jitter_ms,
                    loss_pct,
                },
            };
            // Ctrl-C drops the evaluation, and with it the world: the kernel world's
            // namespaces are deleted before the process exits.
            tokio::select! {
                r = crate::labeval::eval(setup, only, json, markdown, out) => r,
                _ = tokio::signal::ctrl_c() => {
                    anyhow::bail!("interrupted: the lab world was stopped and removed")
                }
            }
        }
        LabCmd::Up {
            scenario: name,
            world,
        } => up(&name, world).await,
        LabCmd::Locate {
            runs,
            scenario: name,
            json,
            markdown,
        } => {
            let s = scenario(&name)?;
            let eval = interfero_lab_run::locate::evaluate(
                &s,
                interfero_lab_run::locate::PATHS,
                runs,
                |rows| {
                    for r in rows {
                        eprintln!(
                            "{} hops, censor at {}, run {}: {}: {}",
                            r.hops, r.censor_hop, r.run, r.target, r.evidence
                        );
                    }
                },
            );
            let report = tokio::select! {
                r = eval => r?,
                _ = tokio::signal::ctrl_c() => {
                    anyhow::bail!("interrupted: the lab world was stopped and removed")
                }
            };
            let command =
                format!("interfero lab locate --runs {runs} --markdown docs/localisation.md");
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", report.to_markdown(&command));
            }
            if let Some(path) = markdown {
                std::fs::write(&path, report.to_markdown(&command))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCmd::Archive {
            scenario,
            step,
            rounds,
            json,
            markdown,
        } => crate::archivecmd::lab_archive(&scenario, step, rounds, json, markdown).await,
        LabCmd::Watch {
            scenario,
            step,
            rounds,
            db,
            json,
            markdown,
        } => crate::labwatch::lab_watch(&scenario, step, rounds, db, json, markdown).await,
        LabCmd::Bench(args) => crate::benchcmd::bench(args).await,
        LabCmd::Load(args) => crate::load::load(args).await,
        LabCmd::BenchWorld {
            targets,
            rtt,
            hostile,
        } => crate::benchcmd::bench_world(targets, rtt, hostile).await,
    }
}

async fn demo(
    db: Option<PathBuf>,
    out: Option<PathBuf>,
    submit: crate::submit::SubmitArgs,
) -> anyhow::Result<ExitCode> {
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
    let db = lab_db(db, &default_db())?;
    // The run says it is the lab's (and every measurement names its scenario in
    // `annotations.lab_scenario`).
    let note = format!(
        "lab demo: scenario {} (invented measurements, not a network)",
        s.name
    );
    let mut sink = Sink::open(out.as_deref(), Some(&db), None, &note, &lab.session.vantage)?;
    sink.submit = crate::submit::Submitter::start(&submit, &db, None)?;
    crate::run::measure_into(&lab.session, targets, &mut sink, false).await;
    finish(&sink, false, out.as_deref(), Some(&db));
    if let Some(s) = sink.submit.take() {
        s.finish().await;
    }
    println!("\nexplore: `interfero lab eval --scenario kz-demo` scores these verdicts against the censor's rules;");
    println!("         each measurement's JSON (evidence, rules, raw observations) is in the database's `json` column.");
    lab.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn up(name: &str, world: WorldKind) -> anyhow::Result<ExitCode> {
    let s = scenario(name)?;
    let lab = tokio::select! {
        lab = Lab::start_in(&s, world) => lab?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted while starting the world"),
    };
    // A private directory (mkdtemp: fresh, 0700, never a symlink someone planted).
    let tmp = tempfile::Builder::new()
        .prefix("interfero-lab-")
        .tempdir()?;
    let dir = tmp.path();
    let ca = dir.join("lab-ca.pem");
    std::fs::write(&ca, lab.world.ca_pem())
        .with_context(|| format!("cannot write {}", ca.display()))?;
    // The lab's own canaries, so that a probe pointed at the lab never tries public ones.
    let canaries = dir.join("canaries.toml");
    std::fs::write(&canaries, crate::canaries::to_toml(&lab.world.canaries())?)
        .with_context(|| format!("cannot write {}", canaries.display()))?;
    // In the kernel world the probe must run in the client namespace, behind the censor.
    let prefix = match lab.kernel() {
        Some(k) => {
            println!(
                "world `{}` is up in the kernel world: namespaces {}-*, the censor in {} \
                 (hop {} of {}). Measure it from the client namespace with:\n",
                s.name,
                k.tag(),
                k.router_netns()
                    .get(usize::from(k.options().censor_hop.saturating_sub(1)))
                    .map_or("?", String::as_str),
                k.options().censor_hop,
                k.options().hops
            );
            format!("ip netns exec {} ", k.client_netns())
        }
        None => {
            println!("world `{}` is up. Measure it with:\n", s.name);
            String::new()
        }
    };
    let urls: Vec<String> = lab
        .world
        .targets()
        .into_iter()
        .filter(|t| t.supported.is_ok())
        .map(|t| t.url)
        .collect();
    println!(
        "  {prefix}interfero run --lab-only --resolver {} --root-hints {} --control http://{}/ --ca-file {} --canaries {} {}\n",
        lab.world.probe_resolver(),
        lab.world.root_hints()[0],
        lab.control_addr,
        ca.display(),
        canaries.display(),
        urls.first().cloned().unwrap_or_default()
    );
    println!("targets:");
    for u in urls {
        println!("  {u}");
    }
    println!("\nCtrl-C stops the world.");
    let _ = tokio::signal::ctrl_c().await;
    lab.shutdown().await;
    drop(tmp);
    Ok(ExitCode::SUCCESS)
}

async fn siege(
    plan: interfero_lab_run::siege::Plan,
    markdown: Option<PathBuf>,
    binary: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    // Bounded, as every load loop here must be.
    if plan.idle + plan.slow > 10_000 || plan.requests > 100_000 || plan.clients == 0 {
        anyhow::bail!("lab siege: at most 10,000 idle+slow connections and 100,000 requests, from at least one client");
    }
    let bin = match binary {
        Some(b) => b,
        None => std::env::current_exe().context("cannot find the interfero binary")?,
    };
    eprintln!(
        "siege: {} idle, {} slow connections, {} requests from {} addresses against {}",
        plan.idle,
        plan.slow,
        plan.requests,
        plan.clients,
        bin.display()
    );
    let report = interfero_lab_run::siege::run(&bin, plan).await?;
    let command = format!(
        "interfero lab siege --idle {} --slow {} --requests {} --clients {}",
        plan.idle, plan.slow, plan.requests, plan.clients
    );
    let text = report.markdown(&command, &interfero_lab_run::usage::machine());
    println!("{text}");
    if let Some(p) = markdown {
        std::fs::write(&p, &text).with_context(|| format!("cannot write {}", p.display()))?;
        eprintln!("written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_never_writes_into_the_users_database() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("interfero.db");
        assert_eq!(lab_db(None, &user).unwrap(), dir.path().join("lab.db"));
        let mine = dir.path().join("mine.db");
        assert_eq!(lab_db(Some(mine.clone()), &user).unwrap(), mine);
        assert!(lab_db(Some(user.clone()), &user).is_err());
        // The same file by another spelling, once it exists.
        std::fs::write(&user, b"").unwrap();
        let other = dir.path().join(".").join("interfero.db");
        let e = lab_db(Some(other), &user).unwrap_err().to_string();
        assert!(e.contains("kept apart"), "{e}");
        // A user whose own database is called lab.db.
        let named = dir.path().join("lab.db");
        assert_eq!(
            lab_db(None, &named).unwrap(),
            dir.path().join("lab-demo.db")
        );
    }
}
