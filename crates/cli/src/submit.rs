//! `--submit URL` (run, watch, lab demo) and `interfero upload`: measurements are queued in
//! the local database as they are kept, and sent to the collector in the background.

use anyhow::Context as _;
use clap::Args;
use interfero_model::Measurement;
use interfero_probe::{load_ca_file, CollectorClient};
use interfero_session::upload::Uploader;
use interfero_store::Outbox;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Where and how to submit.
#[derive(Args, Clone, Debug, Default)]
pub struct SubmitArgs {
    /// Send every measurement to this collector (`interfero serve`, or OONI's), queued in
    /// the database first: a cut network or a restart loses nothing.
    #[arg(long)]
    pub submit: Option<String>,
    /// Bearer token for a collector that requires one (a file holding the token).
    #[arg(long, requires = "submit")]
    pub submit_token_file: Option<PathBuf>,
    /// How long to keep sending at the end before leaving the rest queued (sent by the next
    /// run, watch or `interfero upload`).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub submit_wait: Duration,
    /// Time allowed for one request to the collector.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub submit_timeout: Duration,
}

/// The collector client the arguments describe.
pub fn client(
    args: &SubmitArgs,
    url: &str,
    ca_file: Option<&Path>,
) -> anyhow::Result<CollectorClient> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        anyhow::bail!(
            "--submit {:?} is not an http(s) URL (e.g. https://collector.example.org/)",
            crate::escape::terminal(url)
        );
    }
    let mut c = CollectorClient::new(if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    });
    c.timeout = args.submit_timeout;
    if let Some(p) = ca_file {
        c.extra_roots = load_ca_file(p)?;
    }
    if let Some(p) = &args.submit_token_file {
        c.token = Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --submit-token-file {}", p.display()))?
                .trim()
                .to_string(),
        );
    }
    Ok(c)
}

/// A background upload of one database's queue.
pub struct Submitter {
    outbox: Arc<Outbox>,
    client: CollectorClient,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    wait: Duration,
    queued: usize,
}

impl Submitter {
    /// Starts uploading the queue in `db` (what earlier runs left is sent too).
    pub fn start(
        args: &SubmitArgs,
        db: &Path,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<Option<Submitter>> {
        let Some(url) = &args.submit else {
            return Ok(None);
        };
        let client = client(args, url, ca_file)?;
        let outbox = Arc::new(Outbox::open(db)?);
        let up = Uploader::new(outbox.clone(), client.clone());
        let wake = up.wake.clone();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            if let Err(e) = up.run(stop_rx).await {
                eprintln!("interfero: the upload queue failed: {e}");
            }
        });
        Ok(Some(Submitter {
            outbox,
            client,
            wake,
            stop,
            task,
            wait: args.submit_wait,
            queued: 0,
        }))
    }

    /// Queues one measurement.
    pub fn enqueue(&mut self, m: &Measurement) -> Result<(), interfero_store::StoreError> {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        self.outbox.enqueue(&self.client.base_url, m, &now)?;
        self.queued += 1;
        self.wake.notify_one();
        Ok(())
    }

    /// Stops the background upload, sends what is left for at most `--submit-wait`, and says
    /// what was sent and what stays queued.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let mut up = Uploader::new(self.outbox.clone(), self.client.clone());
        if let Err(e) = up.drain(self.wait).await {
            eprintln!("interfero: the upload queue failed: {e}");
        }
        report(&self.outbox, &self.client.base_url);
    }
}

fn report(outbox: &Outbox, url: &str) {
    let shown = crate::escape::terminal(url);
    match outbox.counts(url) {
        Ok(c) if c.waiting == 0 => {
            eprintln!("interfero: {} measurement(s) sent to {shown}", c.sent)
        }
        Ok(c) => eprintln!(
            "interfero: {} measurement(s) sent to {shown}, {} still queued (sent by the next \
             run or watch with --submit, or `interfero upload --submit {shown}`)",
            c.sent, c.waiting
        ),
        Err(e) => eprintln!("interfero: cannot read the upload queue: {e}"),
    }
}

/// `interfero upload`.
#[derive(Args)]
pub struct UploadArgs {
    /// The database whose queue is sent (default: the same as `interfero run`).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Extra trust anchors (PEM) for an https:// collector.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Collector, token and waits.
    #[command(flatten)]
    pub submit: SubmitArgs,
}

/// `interfero upload`: sends what the queue holds for `--submit`, for at most `--submit-wait`;
/// exits 0 when nothing is left, 1 when some stays queued.
pub async fn upload(args: UploadArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = &args.submit.submit else {
        anyhow::bail!("give the collector: interfero upload --submit URL");
    };
    let db = args.db.clone().unwrap_or_else(crate::run::default_db);
    if !db.is_file() {
        anyhow::bail!("--db {}: no such database", db.display());
    }
    let client = client(&args.submit, url, args.ca_file.as_deref())?;
    let outbox = Arc::new(Outbox::open(&db)?);
    outbox.retry_now(&client.base_url)?;
    let mut up = Uploader::new(outbox.clone(), client.clone());
    up.drain(args.submit.submit_wait).await?;
    report(&outbox, &client.base_url);
    Ok(if outbox.counts(&client.base_url)?.waiting == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
