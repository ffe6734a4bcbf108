//! `interfero run`.

use crate::print;
use anyhow::{bail, Context as _};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use interfero_model::target::{parse_list, Target};
use interfero_model::Measurement;
use interfero_probe::{load_ca_file, ControlClient, ProbeConfig, Resolver};
use interfero_session::{Session, Vantage};
use interfero_store::{MeasurementStore, RunId, RunInfo, SqliteStore};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `interfero run`.
#[derive(Args)]
pub struct RunArgs {
    /// URLs (https://example.kz/) or bare domains (example.kz, meaning https://example.kz/).
    pub targets: Vec<String>,
    /// A Citizen Lab CSV (url,category_code,...) or a file of one target a line; `kz` and
    /// `global` name the vendored Citizen Lab lists.
    #[arg(long)]
    pub list: Option<String>,
    /// Base URL of an `interfero control` (or OONI test helper) on an unfiltered network.
    #[arg(long)]
    pub control: Option<String>,
    /// Resolver to use (IP or IP:PORT); default: the system's, from /etc/resolv.conf.
    #[arg(long)]
    pub resolver: Option<String>,
    /// Extra trust anchors (PEM), added to the public roots.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Targets measured at once (1 to 4096).
    #[arg(long, default_value_t = interfero_session::DEFAULT_PARALLEL, value_parser = parse_parallel)]
    pub parallel: usize,
    /// Write every measurement as one JSON line to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SQLite database for the measurements (default: ~/.local/share/interfero/interfero.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Do not store in a database.
    #[arg(long)]
    pub no_db: bool,
    /// Store in this store instead of --db: `clickhouse://HOST:PORT/DB` (`https://` for TLS;
    /// user and password from INTERFERO_CLICKHOUSE_USER / INTERFERO_CLICKHOUSE_PASSWORD) or a
    /// SQLite file path.
    #[arg(long, value_name = "URL", conflicts_with_all = ["db", "no_db"])]
    pub store: Option<String>,
    /// No progress bar and no table.
    #[arg(long)]
    pub quiet: bool,
    /// Country code to record; `--cc ZZ --asn AS0` records neither. Without --cc and --asn,
    /// both are looked up from the address the control saw (in the embedded IP-to-network
    /// table), and the address itself is never kept.
    #[arg(long)]
    pub cc: Option<String>,
    /// Network (e.g. AS9198) to record (see --cc).
    #[arg(long)]
    pub asn: Option<String>,
    /// Endpoints tried when a target fails, to tell a shutdown from a block: `public` (large
    /// resolvers abroad), `none`, or a TOML file (format: data/canaries/public.toml).
    #[arg(long, default_value = "public")]
    pub canaries: String,
    /// Measure a service as a whole (telegram, whatsapp, signal, facebook, instagram,
    /// youtube, linkedin, or all): each endpoint, then the service's own verdict.
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// Find where the censor sits: after a block a device on the path causes, re-send the
    /// triggering packet with TTL 1, 2, 3 ... (up to 10 s more per blocked target).
    #[arg(long)]
    pub trace: bool,
    /// Bearer token for a control that requires one (a file holding the token).
    #[arg(long)]
    pub control_token_file: Option<PathBuf>,
    /// Refuse a plain http:// control away from this machine (a censor can forge its answers).
    #[arg(long)]
    pub require_https: bool,
    /// Upload to a collector (queued in the database first).
    #[command(flatten)]
    pub submit: crate::submit::SubmitArgs,
    /// Refuse every destination outside loopback and 198.18.0.0/15, resolver included: for
    /// measuring a lab (`interfero lab up` prints it), so that nothing leaves the machine.
    #[arg(long)]
    pub lab_only: bool,
    /// Where the delegation walk of a failing name starts: `iana` (the real root servers),
    /// `none` (no walk), or IP[:PORT],... (a lab's own root).
    #[arg(long, default_value = "iana")]
    pub root_hints: String,
}

/// The database used when `--db` is not given.
pub fn default_db() -> PathBuf {
    if let Some(p) = std::env::var_os("INTERFERO_DB") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("interfero").join("interfero.db")
}

/// The most targets in flight `--parallel` accepts: beyond it a run only exhausts sockets.
pub const MAX_PARALLEL: usize = 4096;

/// `--parallel`: 1 to [`MAX_PARALLEL`] (0 would measure nothing and wait forever).
pub fn parse_parallel(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_PARALLEL).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 1 to {MAX_PARALLEL}")),
    }
}

/// Parses `IP` or `IP:PORT` (port 53 by default).
pub fn parse_resolver(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        if sa.port() == 0 {
            bail!("--resolver {s:?}: port 0 cannot be queried (give IP or IP:PORT, e.g. 192.0.2.53:53)");
        }
        return Ok(sa);
    }
    if let Ok(ip) = s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!("--resolver {s:?} is not an IP address or IP:PORT (e.g. 192.0.2.53 or 192.0.2.53:5353)")
}

fn vendored_list(name: &str) -> Option<&'static str> {
    match name {
        "kz" => Some(include_str!("../../../data/test-lists/kz.csv")),
        "global" => Some(include_str!("../../../data/test-lists/global.csv")),
        _ => None,
    }
}

/// The largest list file read (the global list is 150 KB; 64 MiB is some 500,000 URLs).
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Reads a list file, bounded in size; a list that is not UTF-8 text is refused in one line.
fn read_list(list: &str) -> anyhow::Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(list).with_context(|| {
        format!("cannot read the list {list:?} (give a file, or `kz` / `global`)")
    })?;
    let mut bytes = Vec::new();
    f.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the list {list:?}"))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        bail!(
            "the list {list:?} is larger than {} MiB: split it",
            MAX_LIST_BYTES >> 20
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the list {list:?} is not UTF-8 text (byte {}): save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The targets of the command line, the list's bad lines reported (with numbers) and skipped.
pub fn collect_targets(args: &RunArgs) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::new();
    for t in &args.targets {
        targets.push(Target::parse(t).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    targets.extend(crate::services::targets(&crate::services::select(
        &args.services,
    )?)?);
    if let Some(list) = &args.list {
        let (text, name) = match vendored_list(list) {
            Some(t) if !Path::new(list).exists() => {
                (t.to_string(), format!("vendored list {list}"))
            }
            _ => (read_list(list)?, list.clone()),
        };
        let (parsed, problems) = parse_list(&text);
        for p in problems.iter().take(50) {
            eprintln!(
                "interfero: {}, line {}: {} (skipped)",
                crate::escape::terminal(&name),
                p.line,
                crate::escape::terminal(&p.message)
            );
        }
        if problems.len() > 50 {
            eprintln!(
                "interfero: {}: {} more bad lines (skipped)",
                crate::escape::terminal(&name),
                problems.len() - 50
            );
        }
        targets.extend(parsed);
    }
    if targets.is_empty() {
        bail!("nothing to measure: give targets (e.g. `interfero run example.kz`) or --list FILE");
    }
    let mut seen = std::collections::HashSet::new();
    targets.retain(|t| seen.insert(t.url.clone()));
    Ok(targets)
}

/// The same file, by identity when both exist (a symlink or `./` spelling is the same file).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Checks, before anything is written, that the outputs can be used without destroying an
/// input: `--out` is not the list (nor the database), and a `--db` the user named lies in a
/// directory that exists (the default database's directory is created).
pub fn check_outputs(
    out: Option<&Path>,
    db: Option<&Path>,
    db_given: bool,
    inputs: &[&Path],
) -> anyhow::Result<()> {
    for (name, p) in [("--out", out), ("--db", db)] {
        let Some(p) = p else { continue };
        if let Some(i) = inputs.iter().find(|i| same_file(i, p)) {
            bail!(
                "{name} {} is also an input ({}): it would be overwritten; write to another file",
                p.display(),
                i.display()
            );
        }
        if p.is_dir() {
            bail!("{name} {} is a directory: give a file name", p.display());
        }
    }
    if let (Some(o), Some(d)) = (out, db) {
        if same_file(o, d) {
            bail!(
                "--out and --db name the same file {}: give two files",
                o.display()
            );
        }
    }
    if let Some(p) = out {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            bail!(
                "--out {}: the directory {} does not exist (create it, or write elsewhere)",
                p.display(),
                dir.display()
            );
        }
    }
    if let Some(p) = db {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            if db_given {
                bail!(
                    "--db {}: the directory {} does not exist (create it, or choose another --db)",
                    p.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {} for the database", dir.display()))?;
        }
    }
    Ok(())
}

/// The files a run reads that its outputs must not overwrite.
pub fn inputs_of(args: &RunArgs) -> Vec<&Path> {
    let mut v: Vec<&Path> = Vec::new();
    if let Some(l) = &args.list {
        if vendored_list(l).is_none() || Path::new(l).exists() {
            v.push(Path::new(l));
        }
    }
    if let Some(c) = args.ca_file.as_deref() {
        v.push(c);
    }
    if Path::new(&args.canaries).exists() {
        v.push(Path::new(&args.canaries));
    }
    v
}

/// Where measurements go as they complete: a JSONL file and a database, each optional.
pub struct Sink {
    out: Option<std::io::BufWriter<std::fs::File>>,
    store: Option<(Box<dyn MeasurementStore>, RunId)>,
    /// Every measurement kept, for the final table.
    pub kept: Vec<Measurement>,
    /// Errors met while keeping (reported at the end, never fatal to measuring); the first
    /// [`MAX_ERRORS`] are kept, `failures` counts them all.
    pub errors: Vec<String>,
    /// How many measurements could not be written somewhere they were meant to go.
    pub failures: usize,
    /// The upload queue, with `--submit`.
    pub submit: Option<crate::submit::Submitter>,
}

/// Keep-errors kept for the report (a full disk fails every line the same way).
pub const MAX_ERRORS: usize = 20;

impl Sink {
    /// Opens the outputs; failing here is a usage error, before anything is measured. The
    /// database is opened first and `--out` (which truncates) last, so a bad `--db` leaves an
    /// existing `--out` file as it was.
    pub fn open(
        out: Option<&Path>,
        db: Option<&Path>,
        store: Option<&str>,
        note: &str,
        vantage: &Vantage,
    ) -> anyhow::Result<Sink> {
        let opened: Option<Box<dyn MeasurementStore>> = match (store, db) {
            (Some(url), _) => Some(interfero_store::open(url)?),
            (None, Some(p)) => Some(Box::new(SqliteStore::open(p)?)),
            (None, None) => None,
        };
        let store = match opened {
            Some(s) => {
                let run = s.begin_run(&RunInfo {
                    started: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
                    software_version: env!("CARGO_PKG_VERSION").into(),
                    probe_cc: vantage.probe_cc.clone(),
                    probe_asn: vantage.probe_asn.clone(),
                    note: note.into(),
                })?;
                Some((s, run))
            }
            None => None,
        };
        let out = match out {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create --out file {}", p.display()))?,
            )),
            None => None,
        };
        Ok(Sink {
            out,
            store,
            kept: Vec::new(),
            errors: Vec::new(),
            failures: 0,
            submit: None,
        })
    }

    fn error(&mut self, e: String) {
        self.failures += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        }
    }

    /// Keeps one measurement: written and flushed at once, so an interruption loses nothing.
    pub fn keep(&mut self, m: Measurement) {
        if let Some(w) = &mut self.out {
            let line = serde_json::to_string(&m).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                self.error(format!("writing --out: {e}"));
            }
        }
        let stored = self.store.as_ref().map(|(s, run)| s.insert(*run, &m));
        if let Some(Err(e)) = stored {
            self.error(format!(
                "storing {}: {e}",
                crate::escape::terminal(&m.input)
            ));
        }
        if let Some(Err(e)) = self.submit.as_mut().map(|s| s.enqueue(&m)) {
            self.error(format!(
                "queueing {} for --submit: {e}",
                crate::escape::terminal(&m.input)
            ));
        }
        self.kept.push(m);
    }
}

/// A progress bar on a terminal (hidden elsewhere or when quiet).
pub fn progress(len: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}") {
        pb.set_style(style);
    }
    pb
}

/// Turns true on SIGINT (Ctrl-C). The handler is installed before this returns, so an
/// interruption right after the start is a stop, not the default death by signal.
pub fn stop_on_interrupt() -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut sig) => {
            tokio::spawn(async move {
                if sig.recv().await.is_some() {
                    let _ = stop_tx.send(true);
                    // Keep the sender alive so the run sees the stop.
                    std::future::pending::<()>().await;
                }
            });
        }
        Err(e) => tracing::warn!("cannot catch Ctrl-C: {e}"),
    }
    stop_rx
}

/// Runs `session` over `targets` into `sink`, with a progress bar and Ctrl-C handling.
pub async fn measure_into(
    session: &Session,
    targets: Vec<Target>,
    sink: &mut Sink,
    quiet: bool,
) -> interfero_session::Summary {
    let pb = progress(targets.len(), quiet);
    let stop_rx = stop_on_interrupt();
    let mut warned_control = false;
    let mut warned_resolver = false;
    let summary = interfero_session::run(session, targets, stop_rx, |m| {
        if let (false, Some(f)) = (warned_control, &m.test_keys.control_failure) {
            warned_control = true;
            let f = crate::escape::terminal(f);
            pb.suspend(|| eprintln!("interfero: the control could not be used ({f}); verdicts that need it will be inconclusive"));
        }
        let dead = m.test_keys.x_resolver_check.as_ref().filter(|c| !c.answered);
        if let (false, Some(c)) = (warned_resolver, dead) {
            warned_resolver = true;
            let how = c.rcode.clone().or(c.failure.as_ref().map(|f| f.as_str().to_string()));
            pb.suspend(|| eprintln!(
                "interfero: the resolver does not answer at all ({}): a local fault, not \
                 censorship; names that fail to resolve are judged inconclusive (check --resolver)",
                how.unwrap_or_else(|| "no answer".into())
            ));
        }
        pb.inc(1);
        pb.set_message(m.input.clone());
        sink.keep(m);
    })
    .await;
    pb.finish_and_clear();
    if summary.skipped > 0 {
        eprintln!(
            "interfero: interrupted: kept {} measurements, {} targets not measured",
            summary.measured, summary.skipped
        );
    }
    summary
}

/// `interfero run`.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Everything that can be wrong with the arguments is found before any output is touched.
    let targets = collect_targets(&args)?;
    let session = session(&args)?;
    let services = crate::services::select(&args.services)?;
    let db =
        (!args.no_db && args.store.is_none()).then(|| args.db.clone().unwrap_or_else(default_db));
    check_outputs(
        args.out.as_deref(),
        db.as_deref(),
        args.db.is_some(),
        &inputs_of(&args),
    )?;
    let submit_db = match (&args.submit.submit, &db) {
        (Some(_), None) => bail!("--submit queues measurements in the database: drop --no-db"),
        (_, db) => db.clone(),
    };
    let mut sink = Sink::open(
        args.out.as_deref(),
        db.as_deref(),
        args.store.as_deref(),
        "run",
        &session.vantage,
    )?;
    if let Some(d) = &submit_db {
        sink.submit = crate::submit::Submitter::start(&args.submit, d, args.ca_file.as_deref())?;
    }
    let summary = measure_into(&session, targets, &mut sink, args.quiet).await;
    for record in crate::services::judge(&services, &sink.kept) {
        sink.keep(record);
    }
    finish(&sink, args.quiet, args.out.as_deref(), db.as_deref());
    if let Some(s) = sink.submit.take() {
        s.finish().await;
    }
    Ok(crate::exit::of_run(
        summary.measured,
        summary.skipped,
        sink.failures,
    ))
}

/// Checks a `--control` URL before measuring: an http(s) URL with a host and a port that can
/// be reached, so a typo is a usage error rather than a failure noticed in every measurement.
pub fn check_control_url(u: &str) -> anyhow::Result<()> {
    let shown = crate::escape::terminal(u);
    if !u.contains("://") {
        bail!("--control {shown:?} is not a URL (e.g. https://control.example.org/)");
    }
    Target::parse(u).map_err(|e| anyhow::anyhow!("--control: {e}"))?;
    Ok(())
}

/// The measuring session the arguments describe (resolver, trust, control, canaries).
pub fn session(args: &RunArgs) -> anyhow::Result<Session> {
    let resolver = match &args.resolver {
        Some(r) => Resolver::Addr(parse_resolver(r)?),
        None => Resolver::System,
    };
    let resolver_addr = resolver
        .addr()
        .context("cannot find a resolver (give --resolver IP[:PORT])")?;
    if args.lab_only {
        lab_only_check(resolver_addr.ip(), args.control.as_deref())?;
    }
    let extra_roots = match &args.ca_file {
        Some(p) => load_ca_file(p)?,
        None => Vec::new(),
    };
    if let Some(u) = &args.control {
        check_control_url(u)?;
    }
    let token = match &args.control_token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --control-token-file {}", p.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let control = match &args.control {
        Some(u) => {
            let mut c = ControlClient::new(u.clone());
            c.extra_roots = extra_roots.clone();
            c.token = token;
            if c.is_plaintext_remote() {
                if args.require_https {
                    bail!("--control {u} is plain http:// over the network and --require-https is set: use an https:// control");
                }
                eprintln!("interfero: warning: --control {u} is plain http:// over the network: a censor on the path can forge its answers (use https://, or --require-https to refuse)");
            }
            Some(Arc::new(c))
        }
        None => None,
    };
    if control.is_none() && !args.quiet {
        eprintln!(
            "interfero: no --control given: verdicts that need a control will be inconclusive"
        );
    }
    let vantage = Vantage {
        probe_cc: args.cc.clone().unwrap_or_else(|| "ZZ".into()),
        probe_asn: args.asn.clone().unwrap_or_else(|| "AS0".into()),
    };
    // Given (or hidden with ZZ / AS0) by the user: never looked up.
    let networks = (args.cc.is_none() && args.asn.is_none()).then(interfero_netdb::embedded);
    let probe = Arc::new(ProbeConfig {
        resolver,
        networks,
        extra_roots,
        canaries: crate::canaries::load(&args.canaries)?,
        trace: interfero_probe::TraceSettings {
            enabled: args.trace,
            ..Default::default()
        },
        scope: if args.lab_only {
            interfero_model::addr::Scope::Lab
        } else {
            interfero_model::addr::Scope::Any
        },
        delegation: interfero_probe::dns::walk::DelegationSettings {
            hints: interfero_probe::dns::walk::RootHints::parse(&args.root_hints)
                .map_err(anyhow::Error::msg)?,
            ..Default::default()
        },
        ..ProbeConfig::default()
    });
    let session = Session {
        reach: Arc::new(interfero_session::reach::Monitor::new(probe.clone())),
        probe,
        control,
        parallel: args.parallel.max(1),
        vantage,
        annotations: Default::default(),
        state_roots: interfero_session::shipped_state_roots(),
    };
    Ok(session)
}

/// With `--lab-only`, the resolver and the control must be in the lab too.
fn lab_only_check(resolver: IpAddr, control: Option<&str>) -> anyhow::Result<()> {
    use interfero_model::addr::is_lab;
    if !is_lab(resolver) {
        bail!("--lab-only: the resolver {resolver} is outside loopback and 198.18.0.0/15");
    }
    if let Some(c) = control {
        if !ControlClient::new(c).host_ip().is_some_and(is_lab) {
            bail!("--lab-only: the control {c} is not an address in loopback or 198.18.0.0/15");
        }
    }
    Ok(())
}

/// Prints the table, the summary and where things were kept.
pub fn finish(sink: &Sink, quiet: bool, out: Option<&Path>, db: Option<&Path>) {
    for e in &sink.errors {
        eprintln!("interfero: {e}");
    }
    if sink.failures > sink.errors.len() {
        eprintln!(
            "interfero: ... {} more measurements could not be kept",
            sink.failures - sink.errors.len()
        );
    }
    if quiet {
        return;
    }
    println!("{}", print::verdict_header());
    let mut rows: Vec<&Measurement> = sink.kept.iter().collect();
    rows.sort_by(|a, b| {
        let k = |m: &Measurement| m.verdict.as_ref().map(|v| v.status);
        k(a).cmp(&k(b)).then(a.input.cmp(&b.input))
    });
    for m in rows {
        println!("{}", print::verdict_line(m));
    }
    println!("\n{}", print::summary(&sink.kept));
    if let Some(p) = out {
        println!("measurements (JSONL): {}", p.display());
    }
    if let Some(p) = db {
        println!(
            "database: {}  (sqlite3 {} 'select input,status,techniques from measurements')",
            p.display(),
            p.display()
        );
    }
}
