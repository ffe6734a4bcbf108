//! `interfero incident add|edit|list|show|import|export|draft`: the incident register on the
//! local database. The CLI is the operator (it has the file): it sees drafts and restricted
//! records; `--public` shows or exports what the public would get.

use crate::escape::terminal;
use anyhow::Context;
use interfero_model::incident::{
    Evidence, EvidenceQuery, Incident, Kind, PartialDate, RecordStatus, Visibility,
};
use interfero_register::evidence::StoreSource;
use interfero_register::{draft, Format};
use interfero_store::{
    Audience, IncidentChange, IncidentFilter, IncidentStore, OnExisting, SqliteStore,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The register's subcommands.
#[derive(clap::Subcommand)]
pub enum IncidentCmd {
    /// Add records from a TOML/JSON/CSV file, or a draft made from a stored event.
    Add(AddArgs),
    /// Change a record: its status, visibility, end, title, summary, evidence, or all of it
    /// from a file exported with `show --toml`.
    Edit(EditArgs),
    /// List records (all, for the operator; `--public`: only what the public sees).
    List(ListArgs),
    /// Show a record with its evidence looked up and checked against the verdicts.
    Show(ShowArgs),
    /// Import records from files or directories (`data/incidents`), all or none.
    Import(ImportArgs),
    /// Export records as TOML, JSON, CSV or STOP-compatible CSV.
    Export(ExportArgs),
}

/// `--db` for every subcommand.
#[derive(clap::Args)]
pub struct Db {
    /// The database (default: $INTERFERO_DB or ~/.local/share/interfero/interfero.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

impl Db {
    fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(crate::run::default_db)
    }

    /// Opens the database; reading commands refuse a missing one (opening it would create an
    /// empty database at a mistyped path).
    fn open(&self, create: bool) -> anyhow::Result<SqliteStore> {
        let p = self.path();
        if !create && !p.is_file() {
            anyhow::bail!(
                "--db {}: no such database (import records first, or give the right --db)",
                p.display()
            );
        }
        Ok(SqliteStore::open(&p)?)
    }
}

/// `incident add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// A TOML, JSON or CSV file of records.
    #[arg(required_unless_present = "from_event")]
    pub file: Option<PathBuf>,
    /// Draft a record from this stored event (block_started, shutdown_started, coordinated).
    #[arg(long, conflicts_with = "file")]
    pub from_event: Option<i64>,
    #[command(flatten)]
    pub db: Db,
}

/// `incident edit`.
#[derive(clap::Args)]
pub struct EditArgs {
    /// The record's id.
    pub id: String,
    /// Replace the record with this file's (one record, same id; its revision must be current).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// New status: draft, review, published, retracted.
    #[arg(long, value_parser = |s: &str| RecordStatus::parse(s).ok_or(format!("use one of: {}", RecordStatus::names())))]
    pub status: Option<RecordStatus>,
    /// New visibility: public, restricted.
    #[arg(long, value_parser = |s: &str| Visibility::parse(s).ok_or(format!("use one of: {}", Visibility::names())))]
    pub visibility: Option<Visibility>,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New summary.
    #[arg(long)]
    pub summary: Option<String>,
    /// The end date (YYYY, YYYY-MM or YYYY-MM-DD); also ends `ongoing`.
    #[arg(long, value_parser = |s: &str| PartialDate::parse(s).ok_or("write YYYY, YYYY-MM or YYYY-MM-DD".to_string()))]
    pub end: Option<PartialDate>,
    /// Link a stored measurement by id (repeatable).
    #[arg(long)]
    pub add_measurement: Vec<i64>,
    /// Link a stored event by id (repeatable).
    #[arg(long)]
    pub add_event: Vec<i64>,
    /// Link the measurements of a query: `country=KZ network=AS9198 domain=x.kz since=2021-10-01
    /// until=2021-10-11` (any of them).
    #[arg(long, value_parser = parse_query)]
    pub add_query: Vec<EvidenceQuery>,
    #[command(flatten)]
    pub db: Db,
}

/// Filters of `list` and `export`.
#[derive(clap::Args)]
pub struct Filters {
    /// Only this kind.
    #[arg(long, value_parser = |s: &str| Kind::parse(s).ok_or(format!("use one of: {}", Kind::names())))]
    pub kind: Option<Kind>,
    /// Only this country (ISO alpha-2).
    #[arg(long)]
    pub country: Option<String>,
    /// Only this status.
    #[arg(long, value_parser = |s: &str| RecordStatus::parse(s).ok_or(format!("use one of: {}", RecordStatus::names())))]
    pub status: Option<RecordStatus>,
    /// Only records overlapping the days from this one (YYYY-MM-DD) ...
    #[arg(long)]
    pub from: Option<String>,
    /// ... to this one.
    #[arg(long)]
    pub to: Option<String>,
    /// Only what the public sees (published and public records).
    #[arg(long)]
    pub public: bool,
}

impl Filters {
    fn filter(&self) -> IncidentFilter {
        IncidentFilter {
            audience: if self.public {
                Audience::Public
            } else {
                Audience::Operator
            },
            kind: self.kind,
            country: self.country.as_ref().map(|c| c.to_ascii_uppercase()),
            status: self.status,
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

/// `incident list`.
#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub db: Db,
}

/// `incident show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// The record's id.
    pub id: String,
    /// Print the record as TOML (to edit and give back with `edit --file`).
    #[arg(long)]
    pub toml: bool,
    /// Also print its history (the audit trail).
    #[arg(long)]
    pub history: bool,
    #[command(flatten)]
    pub db: Db,
}

/// `incident import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Files (.toml, .json, .csv) or directories of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Store a new revision of records that exist with other content (default: refuse).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub db: Db,
}

/// `incident export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// toml, json, csv, or stop (STOP-compatible CSV of shutdowns, throttling, service blocks).
    #[arg(long, default_value = "toml", value_parser = |s: &str| Format::parse(s).ok_or("use toml, json, csv or stop".to_string()))]
    pub format: Format,
    /// Write here (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub db: Db,
}

fn parse_query(s: &str) -> Result<EvidenceQuery, String> {
    let mut q = EvidenceQuery::default();
    // `since=2021-10-01 08:00:00` keeps its time: a word without `=` continues the last value.
    let mut last: Option<&mut Option<String>> = None;
    for word in s.split_whitespace() {
        match word.split_once('=') {
            Some((k, v)) => {
                let slot = match k {
                    "country" => &mut q.country,
                    "network" => &mut q.network,
                    "domain" => &mut q.domain,
                    "since" => &mut q.since,
                    "until" => &mut q.until,
                    _ => {
                        return Err(format!(
                            "unknown key {k:?}: use country, network, domain, since, until"
                        ))
                    }
                };
                *slot = Some(v.to_string());
                last = Some(slot);
            }
            None => match last.as_deref_mut() {
                Some(Some(v)) => {
                    v.push(' ');
                    v.push_str(word);
                }
                _ => return Err(format!("{word:?}: write key=value")),
            },
        }
    }
    Ok(q)
}

fn who() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    )
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Runs an `incident` subcommand.
pub fn incident(cmd: IncidentCmd) -> anyhow::Result<ExitCode> {
    let (by, at) = (who(), now());
    let change = |action| IncidentChange {
        by: &by,
        at: &at,
        action,
    };
    match cmd {
        IncidentCmd::Import(a) => {
            let store = a.db.open(true)?;
            let source = StoreSource::new(&store);
            let on = if a.replace {
                OnExisting::Replace
            } else {
                OnExisting::Refuse
            };
            let saved =
                interfero_register::import(&a.paths, &store, &source, &change("import"), on)?;
            println!(
                "{} record(s) imported into {}",
                saved.len(),
                a.db.path().display()
            );
        }
        IncidentCmd::Add(a) => {
            let store = a.db.open(true)?;
            let source = StoreSource::new(&store);
            if let Some(file) = &a.file {
                let saved = interfero_register::import(
                    std::slice::from_ref(file),
                    &store,
                    &source,
                    &change("add"),
                    OnExisting::Refuse,
                )?;
                for i in &saved {
                    println!("added {} (revision {})", i.id, i.audit.revision);
                }
            } else if let Some(event) = a.from_event {
                let d = draft::from_event(&source, event)?;
                let saved = interfero_register::save_one(
                    &d,
                    &store,
                    &source,
                    &change("draft"),
                    OnExisting::Refuse,
                )?;
                println!(
                    "drafted {} from event {event} ({} evidence entries); it is a restricted \
                     draft: complete it with `interfero incident show {} --toml`, edit, and \
                     `interfero incident edit {} --file FILE`",
                    saved.id,
                    saved.evidence.len(),
                    saved.id,
                    saved.id
                );
            }
        }
        IncidentCmd::Edit(a) => edit(a, &change("edit"))?,
        IncidentCmd::List(a) => {
            let store = a.db.open(false)?;
            let records = store.incidents(&a.filters.filter())?;
            for i in &records {
                println!(
                    "{:<52} {:<10} {:<17} {:<9} {}",
                    terminal(&i.id),
                    i.start.to_string(),
                    i.kind.as_str(),
                    i.status.as_str(),
                    terminal(&i.title)
                );
            }
            println!("{} record(s)", records.len());
        }
        IncidentCmd::Show(a) => show(a)?,
        IncidentCmd::Export(a) => {
            let store = a.db.open(false)?;
            let text = interfero_register::export(&store, &a.filters.filter(), a.format)?;
            match &a.out {
                Some(p) => std::fs::write(p, text)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn edit(a: EditArgs, change: &IncidentChange<'_>) -> anyhow::Result<()> {
    let store = a.db.open(false)?;
    let source = StoreSource::new(&store);
    let Some(mut i) = store.incident(&a.id, Audience::Operator)? else {
        anyhow::bail!("no incident {} in {}", a.id, a.db.path().display());
    };
    if let Some(file) = &a.file {
        i = read_one(file, &a.id)?;
    }
    if let Some(s) = a.status {
        i.status = s;
    }
    if let Some(v) = a.visibility {
        i.visibility = v;
    }
    if let Some(t) = a.title {
        i.title = t;
    }
    if let Some(s) = a.summary {
        i.summary = s;
    }
    if let Some(e) = a.end {
        i.end = Some(e);
        i.ongoing = false;
    }
    i.evidence
        .extend(a.add_measurement.iter().map(|&id| Evidence::Measurement {
            id: Some(id),
            uid: None,
        }));
    i.evidence
        .extend(a.add_event.iter().map(|&id| Evidence::Event { id }));
    i.evidence.extend(
        a.add_query
            .into_iter()
            .map(|query| Evidence::Query { query }),
    );
    let saved = interfero_register::save_one(&i, &store, &source, change, OnExisting::Replace)?;
    println!("{} is at revision {}", saved.id, saved.audit.revision);
    Ok(())
}

fn read_one(file: &Path, id: &str) -> anyhow::Result<Incident> {
    let name = file.display().to_string();
    let format = Format::of_path(file)
        .ok_or_else(|| anyhow::anyhow!("{name}: name the file .toml, .json or .csv"))?;
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
    let mut reads = interfero_register::parse(&name, &text, format)?;
    if reads.len() != 1 || reads[0].incident.id != id {
        anyhow::bail!("{name}: give exactly one record, with id {id}");
    }
    Ok(reads.remove(0).incident)
}

fn show(a: ShowArgs) -> anyhow::Result<()> {
    let store = a.db.open(false)?;
    let Some(i) = store.incident(&a.id, Audience::Operator)? else {
        anyhow::bail!("no incident {} in {}", a.id, a.db.path().display());
    };
    if a.toml {
        print!(
            "{}",
            interfero_register::files::to_toml(std::slice::from_ref(&i))?
        );
        return Ok(());
    }
    let source = StoreSource::new(&store);
    let s = interfero_register::show(&i, &source)?;
    let t = |s: &str| terminal(s).into_owned();
    println!(
        "{}\n{}",
        t(&i.title),
        "=".repeat(i.title.chars().count().min(100))
    );
    println!(
        "{} · {} · {} · {} {} (revision {})",
        i.id, i.kind, i.start, i.status, i.visibility, i.audit.revision
    );
    if let Some(e) = i.end {
        println!("ended {e}");
    }
    println!("{}", t(&i.summary));
    if let Some(o) = &i.outcome {
        println!("outcome: {} {}", o.result, t(&o.text));
    }
    if let Some(p) = &i.official_position {
        println!(
            "official position: {} {}",
            p.stance,
            t(p.justification.as_deref().unwrap_or(""))
        );
    }
    if s.check.disagrees() {
        println!("WARNING: {}", s.check.sentence());
    } else {
        println!("evidence: {}", s.check.sentence());
    }
    for r in &s.evidence {
        println!("  - {}", t(&r.label));
        if matches!(r.evidence, Evidence::Measurement { .. }) {
            continue;
        }
        for f in r.measurements.iter().take(20) {
            println!(
                "      {}",
                t(&interfero_register::evidence::describe_measurement(f))
            );
        }
        if r.measurements.len() > 20 {
            println!("      ... and {} more", r.measurements.len() - 20);
        }
    }
    for m in &s.missing {
        println!("  - {}: no longer in the store", t(m));
    }
    for src in &i.sources {
        println!(
            "source: {}{}",
            t(&src.publisher),
            src.title
                .as_deref()
                .map(|x| format!(", {}", t(x)))
                .unwrap_or_default()
        );
    }
    if a.history {
        for h in store.incident_history(&i.id)? {
            println!(
                "revision {} {} by {} ({})",
                h.revision,
                h.at,
                t(&h.by),
                h.action
            );
        }
    }
    Ok(())
}
