//! `interfero archive URL...` (capture pages and keep them as WARC), `interfero archive
//! export|list`, the archive side of `watch --archive`, and `interfero lab archive`.

use anyhow::Context;
use clap::{Args, Subcommand};
use interfero_archive::Archive;
use interfero_probe::{load_ca_file, ControlClient, ProbeConfig, Resolver};
use interfero_session::archiving::Keeper;
use interfero_store::{CaptureIndex, MeasurementStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `interfero archive`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    cmd: Option<ArchiveCmd>,
    /// URLs to capture (a bare domain means https://DOMAIN/).
    urls: Vec<String>,
    /// Base URL of an `interfero control`: it captures each page too, from its network.
    #[arg(long)]
    control: Option<String>,
    /// Bearer token for a control that requires one (a file holding the token).
    #[arg(long)]
    control_token_file: Option<PathBuf>,
    /// Resolver to use (IP or IP:PORT); default: the system's.
    #[arg(long)]
    resolver: Option<String>,
    /// Extra trust anchors (PEM).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// The database whose capture index lists the captures (default as for `run`); the
    /// captures go to DB.captures/ beside it.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Also write these captures as one WARC file (record-gzipped).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Most bytes kept of one body (more is cut and marked truncated).
    #[arg(long, default_value_t = interfero_probe::capture::DEFAULT_CAP)]
    cap: usize,
}

#[derive(Subcommand)]
enum ArchiveCmd {
    /// Write kept captures (all, or one URL's) as one WARC file.
    Export {
        /// Only the captures of this URL.
        #[arg(long)]
        url: Option<String>,
        /// The WARC file to write (record-gzipped).
        #[arg(long)]
        out: PathBuf,
        /// The database (default as for `run`).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// List kept captures (all, or one URL's), oldest first.
    List {
        /// Only the captures of this URL.
        #[arg(long)]
        url: Option<String>,
        /// The database (default as for `run`).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// Where the captures of database `db` are kept: `DB.captures/` beside it.
pub fn archive_dir(db: &Path) -> PathBuf {
    db.with_extension("captures")
}

/// The archive of database `db` for the explorer, when `DB.captures/` exists (its index is
/// opened in the database); `None` otherwise (the explorer then says there is no archive).
pub fn capture_source(db: &Path) -> Option<interfero_server::explorer::captures::CaptureSource> {
    let dir = archive_dir(db);
    if !dir.is_dir() {
        return None;
    }
    let index = match CaptureIndex::open(db) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("interfero: captures not shown: {e}");
            return None;
        }
    };
    let archive = Archive::open(&dir).ok()?;
    Some(interfero_server::explorer::captures::CaptureSource {
        index: std::sync::Arc::new(index),
        archive,
    })
}

fn open(db: Option<PathBuf>) -> anyhow::Result<(Archive, CaptureIndex, PathBuf)> {
    let db = db.unwrap_or_else(crate::run::default_db);
    let index = CaptureIndex::open(&db)?;
    let dir = archive_dir(&db);
    let archive = Archive::open(&dir)
        .with_context(|| format!("cannot open the archive {}", dir.display()))?;
    Ok((archive, index, db))
}

/// The probe configuration and control of an archive command.
pub fn probe_and_control(
    resolver: Option<&str>,
    ca_file: Option<&Path>,
    control: Option<&str>,
    token_file: Option<&Path>,
) -> anyhow::Result<(ProbeConfig, Option<Arc<ControlClient>>)> {
    let resolver = match resolver {
        Some(r) => Resolver::Addr(crate::run::parse_resolver(r)?),
        None => Resolver::System,
    };
    let extra_roots = match ca_file {
        Some(p) => load_ca_file(p)?,
        None => Vec::new(),
    };
    let control = match control {
        Some(u) => {
            crate::run::check_control_url(u)?;
            let mut c = ControlClient::new(u.to_string());
            c.extra_roots = extra_roots.clone();
            if let Some(p) = token_file {
                let t = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read --control-token-file {}", p.display()))?;
                c.token = Some(t.trim().to_string());
            }
            Some(Arc::new(c))
        }
        None => None,
    };
    let cfg = ProbeConfig {
        resolver,
        extra_roots,
        ..ProbeConfig::default()
    };
    Ok((cfg, control))
}

/// `interfero archive`.
pub async fn archive(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        Some(ArchiveCmd::Export { url, out, db }) => return export(url, &out, db),
        Some(ArchiveCmd::List { url, db }) => return list(url, db),
        None => {}
    }
    if args.urls.is_empty() {
        return Err(crate::exit::fail(
            crate::exit::USAGE,
            "give one or more URLs to capture (or `archive export --out FILE`)",
        ));
    }
    let urls: Vec<String> = args
        .urls
        .iter()
        .map(|u| {
            if u.contains("://") {
                u.clone()
            } else {
                format!("https://{u}/")
            }
        })
        .collect();
    let (cfg, control) = probe_and_control(
        args.resolver.as_deref(),
        args.ca_file.as_deref(),
        args.control.as_deref(),
        args.control_token_file.as_deref(),
    )?;
    let (archive, index, db) = open(args.db)?;
    let dir = archive.dir().to_path_buf();
    let mut keeper = Keeper::new(archive, Some(index), args.cap.max(1));
    let at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let (kept, errors) = keeper.round(&cfg, control.as_deref(), &urls, &at).await;
    let mut ids = Vec::new();
    for k in &kept {
        let what = match (&k.failure, k.status) {
            (Some(f), 0) => format!("no page: {f}"),
            (_, s) => format!(
                "HTTP {s}{}",
                if k.truncated {
                    ", truncated at the cap"
                } else {
                    ""
                }
            ),
        };
        let id = k.id.as_deref().unwrap_or("not kept");
        let ctl = k
            .control_id
            .as_deref()
            .map(|c| format!(", control {}", &c[..12.min(c.len())]))
            .unwrap_or_default();
        println!(
            "{}  {what}  capture {id}{ctl}",
            crate::escape::terminal(&k.url)
        );
        for n in &k.notes {
            println!("    {}", crate::escape::terminal(n));
        }
        ids.extend(k.id.clone());
        ids.extend(k.control_id.clone());
    }
    for e in &errors {
        eprintln!("interfero: {}", crate::escape::terminal(e));
    }
    println!(
        "captures kept in {} (listed in {})",
        dir.display(),
        db.display()
    );
    if let Some(out) = &args.out {
        let (archive, _, _) = open(Some(db.clone()))?;
        write_export(&archive, &ids, out)?;
    }
    Ok(if ids.is_empty() {
        ExitCode::from(crate::exit::NOTHING_MEASURED)
    } else if !errors.is_empty() {
        ExitCode::from(crate::exit::KEEP_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_export(archive: &Archive, ids: &[String], out: &Path) -> anyhow::Result<()> {
    // Written to a temporary file and renamed: an export that fails leaves no half file.
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let n = archive.export(ids, tmp.as_file_mut())?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("{n} captures written to {}", out.display());
    Ok(())
}

fn export(url: Option<String>, out: &Path, db: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (archive, index, _) = open(db)?;
    let ids: Vec<String> = index
        .list(url.as_deref())?
        .into_iter()
        .map(|e| e.id)
        .collect();
    if ids.is_empty() {
        return Err(crate::exit::fail(
            crate::exit::NOTHING_MEASURED,
            "no captures kept (for that URL): nothing to export",
        ));
    }
    write_export(&archive, &ids, out)?;
    Ok(ExitCode::SUCCESS)
}

fn list(url: Option<String>, db: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (_, index, _) = open(db)?;
    for e in index.list(url.as_deref())? {
        let line = format!(
            "{}  {:7}  {}  HTTP {}{}  {}  {}",
            e.started,
            e.vantage,
            e.url,
            e.status,
            if e.truncated { " truncated" } else { "" },
            e.payload_digest,
            e.id
        );
        println!("{}", crate::escape::terminal(&line));
    }
    Ok(ExitCode::SUCCESS)
}

/// The archive side of `watch --archive`: a capture round every `interval` until `stop`.
pub async fn watch_archive(
    session: &interfero_session::Session,
    urls: Vec<String>,
    db: PathBuf,
    store: &dyn MeasurementStore,
    interval: Duration,
    rounds: Option<usize>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let (archive, index, _) = match open(Some(db)) {
        Ok(x) => x,
        Err(e) => return vec![format!("archive: {e}")],
    };
    let mut keeper = Keeper::new(archive, Some(index), interfero_probe::capture::DEFAULT_CAP)
        .with_vantage(&session.vantage.probe_cc, &session.vantage.probe_asn);
    let began = tokio::time::Instant::now();
    let mut all_errors = Vec::new();
    for i in 0.. {
        if rounds.is_some_and(|n| i >= n) || *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(began + interval.saturating_mul(i as u32)) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let control = session.control.as_deref();
        let (kept, errors) = keeper.round(&session.probe, control, &urls, &at).await;
        for k in kept {
            if let Some(e) = k.event {
                println!(
                    "  archive: {}",
                    crate::escape::terminal(&interfero_session::archiving::describe(&e))
                );
                if let Err(err) = store.record_event(&e) {
                    all_errors.push(format!("archive event not stored: {err}"));
                }
            }
        }
        all_errors.extend(errors);
    }
    all_errors
}

/// `interfero lab archive`: pages that change on a schedule, archived and scored.
#[cfg(feature = "lab")]
pub async fn lab_archive(
    name: &str,
    step: Duration,
    rounds: usize,
    json: bool,
    markdown: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let s = crate::labcmd::scenario(name)?;
    let lab = interfero_lab_run::lab::Lab::start(&s).await?;
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let db = tmp.path().join("lab.db");
    let store = interfero_store::SqliteStore::open(&db)?;
    let index = CaptureIndex::open(&db)?;
    eprintln!(
        "archiving `{}` for {rounds} rounds, the scenario clock {} apart",
        s.name,
        humantime::format_duration(step)
    );
    let score = interfero_lab_run::labarchive::archive_lab(
        &lab,
        &archive_dir(&db),
        Some(index),
        &store,
        interfero_lab::ScenarioTime(0),
        step.as_secs().max(60),
        rounds,
    )
    .await;
    lab.shutdown().await;
    if let Some(p) = &markdown {
        let command = format!(
            "interfero lab archive --scenario {name} --step {} --rounds {rounds} --markdown {}",
            humantime::format_duration(step),
            p.display()
        );
        crate::print::write_report(p, &score.to_markdown(&s.name, &command))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&score)?);
    } else {
        for line in score.to_text().lines() {
            println!("{}", crate::escape::terminal(line));
        }
    }
    Ok(if score.perfect() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
