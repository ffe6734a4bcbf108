//! `interfero control`: a test helper safe to put on the internet by default.

use crate::run::parse_resolver;
use anyhow::Context as _;
use clap::Args;
use interfero_model::addr::Scope;
use interfero_probe::{load_ca_file, ProbeConfig, Resolver};
use interfero_server::{Admission, Limits, ServeOptions, ServeStats, Tokens};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `interfero control`.
#[derive(Args)]
pub struct ControlArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    pub listen: String,
    /// Resolver to use (IP or IP:PORT); default: the system's.
    #[arg(long)]
    pub resolver: Option<String>,
    /// Extra trust anchors (PEM).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Also measure loopback, private, link-local and other reserved addresses. Risk: anyone
    /// who can reach the port can make this machine fetch from its own private network.
    /// For labs only.
    #[arg(long)]
    pub allow_private: bool,
    /// TLS, tokens, proxies and logging, as for every server.
    #[command(flatten)]
    pub exposure: ExposureArgs,
    /// Measurements at once, all clients together.
    #[arg(long, default_value_t = Limits::default().admission.max_concurrent)]
    pub max_concurrent: usize,
    /// Measurements at once for one client address (an IPv6 /64 counts as one). Raise it for
    /// your own large runs, together with --token-file.
    #[arg(long, default_value_t = Limits::default().admission.per_client_concurrent)]
    pub per_client: usize,
    /// Requests a second one client address may sustain (0: no limit).
    #[arg(long, default_value_t = Limits::default().admission.rate_per_sec)]
    pub rate: f64,
    /// Connections open at once (default: 1,024, or fewer if the descriptor limit is low).
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// Where the delegation walk of a failing name starts: `iana` (the real root servers),
    /// `none` (no walk), or IP[:PORT],... (a lab's own root).
    #[arg(long, default_value = "iana")]
    pub root_hints: String,
}

/// `interfero control`.
pub async fn control(args: ControlArgs) -> anyhow::Result<ExitCode> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen {:?} is not ADDR:PORT (e.g. 127.0.0.1:8080)",
            args.listen
        )
    })?;
    if args.max_concurrent == 0 || args.per_client == 0 || args.rate.is_nan() || args.rate < 0.0 {
        anyhow::bail!("--max-concurrent and --per-client must be at least 1, --rate at least 0");
    }
    let resolver = match &args.resolver {
        Some(r) => Resolver::Addr(parse_resolver(r)?),
        None => Resolver::System,
    };
    let extra_roots = match &args.ca_file {
        Some(p) => load_ca_file(p)?,
        None => Vec::new(),
    };
    let tokens = args.exposure.tokens()?;
    let tls = args.exposure.tls()?;
    interfero_server::raise_descriptor_limit();
    let cfg = Arc::new(ProbeConfig {
        resolver,
        extra_roots,
        scope: if args.allow_private {
            Scope::Any
        } else {
            Scope::Public
        },
        delegation: interfero_probe::dns::walk::DelegationSettings {
            hints: interfero_probe::dns::walk::RootHints::parse(&args.root_hints)
                .map_err(anyhow::Error::msg)?,
            ..Default::default()
        },
        ..ProbeConfig::default()
    });
    let defaults = Limits::default();
    let limits = Limits {
        admission: Admission {
            max_concurrent: args.max_concurrent,
            per_client_concurrent: args.per_client,
            rate_per_sec: args.rate,
            ..defaults.admission
        },
        ..defaults
    };
    let opts = args
        .exposure
        .serve_options(tls.clone(), args.max_connections);
    let (listener, bound) = listen_on(listen).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("interfero control listening on {scheme}://{bound}/ (Ctrl-C stops)");
    for line in startup_notes(&args, &tokens, &opts) {
        eprintln!("interfero control: {line}");
    }
    let measurer = interfero_server::measurer_fn(move |req| {
        let cfg = cfg.clone();
        async move { interfero_probe::helper::answer(&cfg, &req).await }
    });
    let router = interfero_server::control_router(Arc::new(measurer), limits, tokens);
    let stats = Arc::new(ServeStats::default());
    interfero_server::serve_with(listener, router, opts, stats, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// What the operator should know about how exposed this control is.
fn startup_notes(args: &ControlArgs, tokens: &Tokens, opts: &ServeOptions) -> Vec<String> {
    let mut notes = Vec::new();
    if tokens.is_open() {
        notes.push(
            "open to any probe (as OONI's helpers are); --token-file restricts it to yours".into(),
        );
    } else {
        notes.push("answers only probes with a token from --token-file".into());
    }
    if args.allow_private {
        notes.push("--allow-private: it will fetch from loopback and private networks; never expose this port".into());
    } else {
        notes.push("refuses loopback, private, link-local and reserved destinations".into());
    }
    if opts.tls.is_none() {
        notes.push("plain HTTP: on a network a censor can forge its answers; use --tls-cert/--tls-key or a TLS proxy".into());
    }
    if args.exposure.log_client_addresses {
        notes.push("--log-client-addresses: the request log identifies who measured".into());
    }
    notes.push(format!(
        "limits: {} connections, {} measurements at once ({} per client), {} requests/s per client",
        opts.max_connections, args.max_concurrent, args.per_client, args.rate
    ));
    notes
}

/// How a server is exposed: the flags `control` and `serve` share.
#[derive(Args)]
pub struct ExposureArgs {
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Only answer probes that send one of these bearer tokens (one a line, # comments).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// A reverse proxy in front of this server (repeatable): from it, and only from it, the
    /// client's address (used for rate limits, never kept) is read from X-Forwarded-For.
    #[arg(long = "trust-proxy")]
    pub trust_proxy: Vec<IpAddr>,
    /// Put clients' addresses in the request log. Risk: the log then identifies the people
    /// who measured.
    #[arg(long)]
    pub log_client_addresses: bool,
}

impl ExposureArgs {
    /// The accepted bearer tokens (none: every client is served).
    pub fn tokens(&self) -> anyhow::Result<Tokens> {
        Ok(match &self.token_file {
            Some(p) => Tokens::load(p)?,
            None => Tokens::default(),
        })
    }

    /// The TLS configuration, when --tls-cert and --tls-key are given.
    pub fn tls(&self) -> anyhow::Result<Option<Arc<interfero_server::TlsConfig>>> {
        Ok(match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some(interfero_server::tls_config(c, k)?),
            _ => None,
        })
    }

    /// How to serve: `tls`, these proxies and logging, and at most `max_connections` (default:
    /// what the descriptor limit allows).
    pub fn serve_options(
        &self,
        tls: Option<Arc<interfero_server::TlsConfig>>,
        max_connections: Option<usize>,
    ) -> ServeOptions {
        ServeOptions {
            max_connections: max_connections
                .unwrap_or_else(interfero_server::default_max_connections),
            tls,
            trusted_proxies: self.trust_proxy.clone(),
            log_client_addresses: self.log_client_addresses,
            ..ServeOptions::default()
        }
    }
}

/// Listens on `listen`; returns the listener and the address it got (port 0 picks one).
pub async fn listen_on(
    listen: std::net::SocketAddr,
) -> anyhow::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().unwrap_or(listen);
    Ok((listener, bound))
}
