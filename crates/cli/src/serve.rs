//! `interfero serve`: one process for the collector, the public API and the explorer, on one
//! port, over one store (`Arc<dyn MeasurementStore>`: SQLite by default, or ClickHouse with
//! `--store clickhouse://HOST:PORT/DB`, see [`open_store`]). Mounting another router is one
//! line in [`routers`].

use anyhow::Context as _;
use clap::Args;
use interfero_server::collector::{CollectorConfig, Ingest, ReportIds, TestList};
use interfero_server::explorer::incidents::Register;
use interfero_server::{ServeStats, Tokens};
use interfero_store::{Durability, IncidentStore, MeasurementStore, RunInfo, SqliteStore};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `interfero serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443.
    #[arg(long)]
    pub listen: String,
    /// SQLite database of the collector (default: ~/.local/share/interfero/interfero.db).
    #[arg(long, conflicts_with = "store")]
    pub db: Option<PathBuf>,
    /// Another store, by address: `clickhouse://HOST:PORT/DB` (`https://…` for TLS; user and
    /// password from INTERFERO_CLICKHOUSE_USER/_PASSWORD; `?cluster=NAME&node=…` for a sharded
    /// store, docs/scale-out.md), or `sqlite:PATH`.
    #[arg(long)]
    pub store: Option<String>,
    /// The key that signs report ids (created on first start; keep it so that reports
    /// opened before a restart stay open). Default: beside the database, `DB.report-key`.
    #[arg(long)]
    pub report_key: Option<PathBuf>,
    /// A control probes should use, named at check-in and by /api/v1/test-helpers
    /// (repeatable; e.g. https://control.example.org/).
    #[arg(long = "test-helper")]
    pub test_helpers: Vec<String>,
    /// A test list for one country, `CC=FILE` (Citizen Lab CSV; `XX=FILE` for the global
    /// list; repeatable). Default: the vendored `kz` and global lists.
    #[arg(long = "test-list")]
    pub test_lists: Vec<String>,
    /// Correlate the store this often (e.g. 1h) and record each new cross-network finding as
    /// a `coordinated` event.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub correlate: Option<Duration>,
    /// How close the first sightings on each network must be for --correlate.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub correlate_window: Duration,
    /// TLS, tokens, proxies and logging, as for every server.
    #[command(flatten)]
    pub exposure: crate::control::ExposureArgs,
    /// The operator's bearer tokens (one a line): a request carrying one sees draft and
    /// restricted incidents and may edit the register over HTTP (`POST`/`PUT
    /// /api/v1/incidents`). Without it nobody can: editing over HTTP is off. Kept apart from
    /// --token-file, whose tokens probes carry.
    #[arg(long)]
    pub operator_token_file: Option<PathBuf>,
    /// Requests a second one client address may sustain (0: no limit).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Connections open at once (default: 1,024, or fewer if the descriptor limit is low).
    #[arg(long)]
    pub max_connections: Option<usize>,
}

/// What [`open_store`] opened.
pub struct Opened {
    /// The measurements.
    pub store: Arc<dyn MeasurementStore>,
    /// The incident register (in the same database: the SQLite file or the ClickHouse one).
    pub incidents: Option<Arc<dyn IncidentStore>>,
    /// The SQLite file, beside which the archive of captures lives (`None` for a server).
    pub file: Option<PathBuf>,
    /// What to call the store in messages.
    pub name: String,
    /// The default place of the report key.
    pub key: PathBuf,
}

/// Opens the store the arguments name, for serving.
///
/// Every acknowledgement is durable: SQLite commits with a full fsync (the collector batches
/// its inserts so that many share one, see collector::ingest); ClickHouse is opened
/// synchronous ([`interfero_store::open_durable`]): each batch of the collector is one INSERT
/// that the server has answered (through a `Distributed` table: once every shard has its rows)
/// before any of its measurements is acknowledged.
pub fn open_store(args: &ServeArgs) -> anyhow::Result<Opened> {
    if let Some(url) = args
        .store
        .as_deref()
        .filter(|u| interfero_store::is_server_address(u))
    {
        let (store, register) = interfero_store::open_durable_with_register(url)?;
        // No file to put the key beside: in the data directory, one per database address.
        let name: String = url
            .split('?')
            .next()
            .unwrap_or(url)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let key = crate::run::default_db().with_file_name(format!("{name}.report-key"));
        if let Some(dir) = key.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        return Ok(Opened {
            store,
            incidents: Some(register),
            file: None,
            name: crate::escape::terminal(url).to_string(),
            key,
        });
    }
    let path = match &args.store {
        Some(url) => match url.strip_prefix("sqlite:") {
            Some(p) => PathBuf::from(p.trim_start_matches("//")),
            None => anyhow::bail!(
                "--store {}: not a store address (clickhouse://HOST:PORT/DB, https://HOST:PORT/DB \
                 or sqlite:PATH; or use --db PATH)",
                crate::escape::terminal(url)
            ),
        },
        None => args.db.clone().unwrap_or_else(crate::run::default_db),
    };
    crate::run::check_outputs(None, Some(&path), args.db.is_some(), &[])?;
    let store = Arc::new(SqliteStore::open_with(&path, Durability::PowerLoss)?);
    let mut key = path.clone().into_os_string();
    key.push(".report-key");
    Ok(Opened {
        store: store.clone(),
        incidents: Some(store),
        name: path.display().to_string(),
        file: Some(path.clone()),
        key: PathBuf::from(key),
    })
}

/// The report-id key at `path`, created (32 random bytes, readable by the owner only) when
/// missing.
fn report_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            anyhow::anyhow!(
                "--report-key {}: not a key of 32 bytes (move it away to make a new one)",
                path.display()
            )
        });
    }
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key)
        .map_err(|e| anyhow::anyhow!("no system randomness for the report key: {e}"))?;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create the report key {}", path.display()))?;
    f.write_all(&key)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the report key {}", path.display()))?;
    Ok(key)
}

fn test_lists(specs: &[String]) -> anyhow::Result<TestList> {
    let mut lists = TestList::default();
    if specs.is_empty() {
        lists.add_csv("KZ", include_str!("../../../data/test-lists/kz.csv"));
        lists.add_csv("XX", include_str!("../../../data/test-lists/global.csv"));
        return Ok(lists);
    }
    for s in specs {
        let Some((cc, file)) = s.split_once('=') else {
            anyhow::bail!("--test-list {s:?} is not CC=FILE (e.g. KZ=kz.csv, XX=global.csv)");
        };
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --test-list {file}"))?;
        lists.add_csv(&cc.to_ascii_uppercase(), &text);
    }
    Ok(lists)
}

/// Every router `serve` mounts, over one store. Another router (the explorer, the public
/// API) is one more `.merge(...)` line here.
/// The explorer shows the archive's captures when there is one.
pub fn routers(
    store: Arc<dyn MeasurementStore>,
    ingest: Ingest,
    collector: CollectorConfig,
    register: Register,
    captures: Option<interfero_server::explorer::captures::CaptureSource>,
) -> axum::Router {
    let explorer = interfero_server::explorer::ExplorerOptions {
        register,
        captures,
        ..Default::default()
    };
    axum::Router::new()
        .merge(interfero_server::collector_router(ingest, collector))
        .merge(interfero_server::api::router(
            store.clone(),
            explorer.clone(),
        ))
        .merge(interfero_server::explorer::router(store, explorer))
}

/// `interfero serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not ADDR:PORT (e.g. 127.0.0.1:8080)",
            args.listen
        )
    })?;
    if args.rate.is_nan() || args.rate < 0.0 {
        anyhow::bail!("--rate must be at least 0");
    }
    let tokens = args.exposure.tokens()?;
    let tls = args.exposure.tls()?;
    let lists = test_lists(&args.test_lists)?;
    let operator = operator_tokens(args.operator_token_file.as_deref())?;
    let Opened {
        store,
        incidents,
        file,
        name,
        key: default_key,
    } = open_store(&args)?;
    let key_path = args.report_key.clone().unwrap_or(default_key);
    let key = report_key(&key_path)?;
    let run = store.begin_run(&RunInfo {
        started: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        probe_cc: "ZZ".into(),
        probe_asn: "AS0".into(),
        note: "collector".into(),
    })?;
    let ingest = Ingest::start(store.clone(), run).context("cannot start the writer")?;
    let helpers: Vec<serde_json::Value> = args
        .test_helpers
        .iter()
        .map(|a| serde_json::json!({"address": a, "type": "https"}))
        .collect();
    let collector = CollectorConfig {
        rate_per_sec: args.rate,
        burst: (args.rate * 10.0).max(1.0),
        tokens: tokens.clone(),
        test_helpers: serde_json::json!({ "web-connectivity": helpers }),
        lists: Arc::new(lists),
        ..CollectorConfig::new(ReportIds::new(key))
    };
    interfero_server::raise_descriptor_limit();
    let opts = args
        .exposure
        .serve_options(tls.clone(), args.max_connections);
    let (listener, bound) = crate::control::listen_on(listen).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("interfero serve listening on {scheme}://{bound}/ with {name} (Ctrl-C stops)");
    if tokens.is_open() {
        eprintln!("interfero serve: open to any probe (as OONI's collector is); --token-file restricts it to yours");
    }
    if tls.is_none() {
        eprintln!(
            "interfero serve: plain HTTP: use --tls-cert/--tls-key or a TLS proxy on a network"
        );
    }
    if let Some(every) = args.correlate {
        spawn_correlation(store.clone(), every, args.correlate_window);
    }
    eprintln!(
        "interfero serve: {}",
        register_note(incidents.is_some(), &operator)
    );
    let register = Register {
        incidents,
        tokens: operator,
    };
    let captures = file.as_deref().and_then(crate::archivecmd::capture_source);
    let router = routers(store, ingest, collector, register, captures);
    let stats = Arc::new(ServeStats::default());
    interfero_server::serve_with(listener, router, opts, stats, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The operator's tokens (none without a file: nobody edits over HTTP).
pub fn operator_tokens(file: Option<&Path>) -> anyhow::Result<Tokens> {
    Ok(match file {
        Some(p) => Tokens::load(p)?,
        None => Tokens::default(),
    })
}

/// What the operator should know about the register's exposure.
pub fn register_note(available: bool, operator: &Tokens) -> &'static str {
    match (available, operator.is_open()) {
        (false, _) => "no incident register with this store (it lives in a SQLite database)",
        (true, true) => {
            "incidents: public records only; editing over HTTP is off (--operator-token-file enables it)"
        }
        (true, false) => {
            "incidents: requests with an operator token see drafts and may edit over HTTP"
        }
    }
}

/// Correlates the store every `every` (the first time at once), off the async workers.
fn spawn_correlation(store: Arc<dyn MeasurementStore>, every: Duration, window: Duration) {
    let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = store.clone();
            let done = tokio::task::spawn_blocking(move || {
                interfero_server::collector::correlate::correlate_store(s.as_ref(), window)
            })
            .await;
            match done {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => eprintln!("interfero serve: {n} new coordinated finding(s) recorded"),
                Ok(Err(e)) => eprintln!("interfero serve: correlation failed: {e}"),
                Err(e) => eprintln!("interfero serve: correlation failed: {e}"),
            }
        }
    });
}
