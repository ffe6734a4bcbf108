//! `interfero explore`: the explorer and the OONI-shaped API over a measurement database, in
//! a browser, without a collector (`interfero serve` mounts the same routers beside one).

use anyhow::Context as _;
use clap::Args;
use interfero_server::explorer::incidents::Register;
use interfero_server::explorer::ExplorerOptions;
use interfero_server::{ServeOptions, ServeStats};
use interfero_store::{MeasurementStore, SqliteStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `interfero explore`.
#[derive(Args)]
pub struct ExploreArgs {
    /// SQLite database to read (default: yours, `~/.local/share/interfero/interfero.db`, or
    /// `INTERFERO_DB`).
    #[arg(long, conflicts_with = "lab")]
    pub db: Option<PathBuf>,
    /// Read the lab's database (`lab.db` beside yours, where `lab demo` keeps its invented
    /// measurements) instead of yours.
    #[arg(long)]
    pub lab: bool,
    /// Address to listen on. Loopback by default: the explorer shows everything stored.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL, for absolute links in the Atom feeds (e.g. https://explorer.example/).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The operator's bearer tokens (one a line): a request carrying one sees draft and
    /// restricted incidents and may edit the register over HTTP. Without it nobody can.
    #[arg(long)]
    pub operator_token_file: Option<PathBuf>,
}

/// Serves the explorer until Ctrl-C.
pub async fn explore(a: ExploreArgs) -> anyhow::Result<ExitCode> {
    let user = crate::run::default_db();
    let db = match (a.db, a.lab) {
        (Some(p), _) => p,
        (None, true) => user.with_file_name("lab.db"),
        (None, false) => user,
    };
    if !db.exists() {
        anyhow::bail!(
            "{} does not exist: measure first (`interfero run ...`, or `interfero lab demo` and then `explore --lab`), or give --db",
            db.display()
        );
    }
    let operator = crate::serve::operator_tokens(a.operator_token_file.as_deref())?;
    let sqlite =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))?);
    let store: Arc<dyn MeasurementStore> = sqlite.clone();
    eprintln!(
        "interfero: {}",
        crate::serve::register_note(true, &operator)
    );
    let opts = ExplorerOptions {
        public_url: a.public_url,
        register: Register::new(sqlite, operator),
        captures: crate::archivecmd::capture_source(&db),
        ..ExplorerOptions::default()
    };
    let router = interfero_server::explorer::router(store.clone(), opts.clone())
        .merge(interfero_server::api::router(store, opts));
    let (listener, addr) = crate::control::listen_on(a.listen).await?;
    eprintln!(
        "interfero: the explorer of {} is at http://{addr}/ (Ctrl-C stops it)",
        db.display()
    );
    interfero_server::serve_with(
        listener,
        router,
        ServeOptions::default(),
        Arc::new(ServeStats::default()),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
