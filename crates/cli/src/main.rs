//! `interfero`: measure network interference from where you stand, judge it against a control,
//! keep the evidence. This binary parses arguments and prints; the work is in the crates.

mod analyze;
mod archivecmd;
#[cfg(feature = "lab")]
mod benchcmd;
mod canaries;
mod compare;
mod control;
mod correlate;
mod escape;
mod exit;
mod incident;
#[cfg(feature = "lab")]
mod labcmd;
#[cfg(feature = "lab")]
mod labeval;
#[cfg(feature = "lab")]
mod labwatch;
mod print;
mod report;
mod run;
mod services;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "interfero",
    version,
    about = "Measure whether a network blocks, slows, intercepts or cuts off what people try to reach",
    after_help = exit::HELP
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Log what the probe does (to stderr).
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Measure targets from here, compare with a control, print and store verdicts.
    #[command(after_help = exit::HELP)]
    Run(run::RunArgs),
    /// Serve a control (OONI Web Connectivity test helper) from an unfiltered vantage point.
    Control(control::ControlArgs),
    /// Measure targets again and again; store every round and each change (a block begins or
    /// ends, a shutdown starts, access returns) as an event.
    #[command(after_help = exit::HELP)]
    Watch(watch::WatchArgs),
    /// Find the same interference on different networks at about the same time.
    Correlate(correlate::CorrelateArgs),
    /// Re-judge stored measurements (ours, or OONI's own JSON).
    #[command(after_help = exit::HELP)]
    Analyze(analyze::AnalyzeArgs),
    /// Capture pages and keep them as WARC (from here and from the control); export them.
    Archive(archivecmd::ArchiveArgs),
    /// The incident register: records of what was done, linked to the measurements that prove it.
    Incident {
        #[command(subcommand)]
        cmd: incident::IncidentCmd,
    },
    /// The country report (HTML, PDF) from the register and the measurements of a period.
    Report(report::ReportArgs),
    /// The censor lab: a censor with known rules, to see and prove the verdicts.
    #[cfg(feature = "lab")]
    Lab {
        #[command(subcommand)]
        cmd: labcmd::LabCmd,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("interfero: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = rt.block_on(async {
        match cli.cmd {
            Cmd::Run(a) => run::run(a).await,
            Cmd::Control(a) => control::control(a).await,
            Cmd::Analyze(a) => analyze::analyze(a),
            Cmd::Watch(a) => watch::watch(a).await,
            Cmd::Correlate(a) => correlate::correlate(a),
            Cmd::Incident { cmd } => incident::incident(cmd),
            Cmd::Report(a) => report::report(a),
            #[cfg(feature = "lab")]
            Cmd::Lab { cmd } => labcmd::lab(cmd).await,
            Cmd::Archive(a) => archivecmd::archive(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("interfero: {}", exit::one_line(&e));
            match e.downcast_ref::<exit::Coded>() {
                Some(c) => ExitCode::from(c.code),
                None => ExitCode::from(exit::USAGE),
            }
        }
    }
}
