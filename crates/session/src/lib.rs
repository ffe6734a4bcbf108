//! A measurement session: targets go through the probe concurrently, each measurement is judged
//! by the analysis and handed to the caller (who stores and prints it) as soon as it is done, so
//! an interrupted run keeps everything measured so far. The product's runs only: the lab's
//! orchestration lives in `interfero-lab-run`, and nothing here depends on the lab.

pub mod archiving;
pub mod hosts;
pub mod reach;
pub mod service;
pub mod transfers;
pub mod upload;
pub mod watcher;

/// Targets measured at once unless the user says otherwise (`interfero run --parallel`).
pub const DEFAULT_PARALLEL: usize = 32;

use interfero_analysis::trust::StateRoots;
use interfero_analysis::{judge, ooni, Context};
use interfero_model::measurement::SOFTWARE_NAME;
use interfero_model::{Measurement, Target};
use interfero_probe::schedule::RunShared;
use interfero_probe::{ControlClient, ProbeConfig};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

/// What the measurements say about where they were made (never who made them).
#[derive(Debug, Clone)]
pub struct Vantage {
    /// Country code, `ZZ` when unknown or hidden.
    pub probe_cc: String,
    /// Network, `AS0` when unknown or hidden.
    pub probe_asn: String,
}

impl Default for Vantage {
    fn default() -> Self {
        Vantage {
            probe_cc: "ZZ".into(),
            probe_asn: "AS0".into(),
        }
    }
}

/// Everything a run needs besides its targets.
#[derive(Debug, Clone)]
pub struct Session {
    /// How to measure.
    pub probe: Arc<ProbeConfig>,
    /// The control, when one is configured.
    pub control: Option<Arc<ControlClient>>,
    /// Targets in flight at once.
    pub parallel: usize,
    /// Where the measurements are made.
    pub vantage: Vantage,
    /// Labels copied into every measurement's annotations.
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// Reachability checks, shared by every target of the session.
    pub reach: Arc<reach::Monitor>,
    /// Known state interception roots the verdicts name (the shipped list, plus any the
    /// caller knows by key, such as a lab's fictional root).
    pub state_roots: Arc<StateRoots>,
}

impl Session {
    /// The judging context of this session.
    pub fn context(&self) -> Context<'_> {
        Context {
            state_roots: &self.state_roots,
            ..Context::default()
        }
    }
}

/// The shipped list of state roots, for a session that knows no others.
pub fn shipped_state_roots() -> Arc<StateRoots> {
    Arc::new(StateRoots::builtin().clone())
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Targets measured.
    pub measured: usize,
    /// Targets not measured because the run was interrupted.
    pub skipped: usize,
}

fn now_ooni() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Measures one target and judges it.
pub async fn measure_one(session: &Session, target: &Target, test_start: &str) -> Measurement {
    let started = Instant::now();
    let start_time = now_ooni();
    let mut tk =
        interfero_probe::web::measure(&session.probe, &target.url, session.control.as_deref())
            .await;
    // Pages, headers and redirects may echo the user's address: the control told us what it
    // is, and the device's own global addresses are known. Remove every spelling before
    // judging (so no evidence quotes it), again from the whole record at the end, then forget
    // it.
    let public = tk.control.as_mut().and_then(|c| c.x_client_address.take());
    // The network is named from the address (when a table is given), then the address is
    // forgotten with the rest: only the AS number and country are kept.
    let network = public
        .as_deref()
        .and_then(|a| a.parse::<std::net::IpAddr>().ok())
        .and_then(|ip| session.probe.networks?.lookup(ip));
    let (probe_asn, probe_cc) = match network {
        Some(n) => (n.as_label(), n.country().to_string()),
        None => (
            session.vantage.probe_asn.clone(),
            session.vantage.probe_cc.clone(),
        ),
    };
    let device = device_addresses();
    let mut forms = interfero_model::scrub::Forms::default();
    for a in public
        .iter()
        .cloned()
        .chain(device.iter().map(|ip| ip.to_string()))
    {
        forms.extend(&a);
    }
    if !forms.is_empty() {
        tk.scrub_forms(&forms);
    }
    let why_unknown = if session.control.is_none() {
        "no --control was given"
    } else if tk.control_failure.is_some() {
        "the control failed"
    } else {
        "the control did not report the address it saw"
    };
    let mut verdict = judge(&target.url, &tk, &session.context());
    // A slow transfer whose innocuous-name leg gave nothing to compare with: the run's other
    // transfers to the same address are the next best evidence on that path (those finished
    // so far), and the target is judged again with them.
    if let Some(t) = interfero_analysis::throttle::wants_same_address(&tk) {
        let others = session.reach.transfers.same_address(&t);
        if !others.is_empty() {
            tk.x_same_address = others;
            verdict = judge(&target.url, &tk, &session.context());
        }
    }
    // What this target showed about the path is evidence for the others failing with it.
    session.reach.observe(&target.url, &tk);
    // Every connect of one family failed: does the vantage point have that family at all
    // (its canaries, the run's other targets)? Judged again with the answer, so that broken
    // or absent IPv6 here is never the site's block, and a block of one family still is.
    if let Some(family) = reach::failed_family(&tk) {
        let c = session
            .reach
            .family_since(started, &target.url, family)
            .await;
        tk.x_family_checks.push(c);
        verdict = judge(&target.url, &tk, &session.context());
    }
    // A DNS failure may be the configured resolver's own (dead, mistyped, stopped): ask it a
    // question every resolver answers, and judge again with the answer. Without canaries the
    // resolver is also one of the sources that tell a cut from a block, so it is asked then
    // for any failure.
    if (tk.dns_experiment_failure.is_some() || !session.reach.has_canaries())
        && interfero_analysis::reach::explained_by_outage(&verdict)
    {
        let r = session.reach.resolver_since(started).await;
        tk.x_resolver_check = Some((*r).clone());
        verdict = judge(&target.url, &tk, &session.context());
    }
    // A failure may be the connection's rather than the site's: ask whether anything at all
    // was reachable (canaries, the control, the resolver, the run's other targets), and judge
    // again with the answer (kept in the measurement as evidence).
    if interfero_analysis::reach::explained_by_outage(&verdict) {
        let r = session.reach.check_since(started, &target.url).await;
        tk.x_reachability = Some(r);
        verdict = judge(&target.url, &tk, &session.context());
    }
    // Interference a device on the path causes after a trigger: find where it sits (bounded
    // by the probe's trace settings; only for such verdicts, so normal runs stay fast).
    if session.probe.trace.enabled {
        if let Some(req) = interfero_analysis::locate::plan(&tk, &verdict) {
            tk.x_trace = Some(interfero_probe::trace::run(&session.probe, &req).await);
            verdict = judge(&target.url, &tk, &session.context());
        }
    }
    let (blocking, accessible) = ooni::summary_keys(&verdict);
    tk.blocking = blocking;
    tk.accessible = accessible;
    let mut annotations = session.annotations.clone();
    if let Some(c) = &target.category_code {
        annotations.insert("category_code".into(), c.clone().into());
    }
    let mut m = Measurement {
        data_format_version: "0.2.0".into(),
        input: target.url.clone(),
        test_name: "web_connectivity".into(),
        test_version: "0.5.0".into(),
        measurement_start_time: start_time,
        test_start_time: test_start.to_string(),
        test_runtime: started.elapsed().as_secs_f64(),
        probe_asn,
        probe_cc,
        probe_ip: "127.0.0.1".into(),
        software_name: SOFTWARE_NAME.into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        annotations,
        test_keys: tk,
        verdict: Some(verdict),
        extra: Default::default(),
    };
    m.forget_user(public.as_deref(), device, why_unknown);
    m
}

/// This device's global addresses, listed once per process.
pub(crate) fn device_addresses() -> &'static [std::net::IpAddr] {
    static ADDRS: std::sync::OnceLock<Vec<std::net::IpAddr>> = std::sync::OnceLock::new();
    ADDRS.get_or_init(interfero_probe::local::global_addresses)
}

/// Measures every target, at most `session.parallel` at once, calling `on_done` with each
/// judged measurement as it completes. When `stop` turns true, no new target starts and the
/// ones in flight are abandoned; what was already handed over stays handed over.
pub async fn run(
    session: &Session,
    targets: Vec<Target>,
    mut stop: watch::Receiver<bool>,
    mut on_done: impl FnMut(Measurement),
) -> Summary {
    let total = targets.len();
    let test_start = Arc::new(now_ooni());
    let limit = Arc::new(Semaphore::new(session.parallel.max(1)));
    let (tx, mut rx) = mpsc::channel::<Measurement>(session.parallel.max(1) * 2);
    // One DNS cache and one set of per-address limits for this run's measurements.
    let mut probe = (*session.probe).clone();
    probe.run = Some(Arc::new(RunShared::new(probe.max_per_address)));
    let mut queue = hosts::Queue::new(targets, hosts::HostLimits::new(probe.max_per_host));
    let feeder_session = Session {
        probe: Arc::new(probe),
        ..session.clone()
    };
    let feeder_stop = stop.clone();
    let feeder = tokio::spawn(async move {
        let mut inner = JoinSet::new();
        while !queue.is_empty() {
            if *feeder_stop.borrow() {
                break;
            }
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            let Some((target, host)) = queue.next().await else {
                break;
            };
            let (s, tx, start) = (feeder_session.clone(), tx.clone(), test_start.clone());
            inner.spawn(async move {
                let m = measure_one(&s, &target, &start).await;
                drop((permit, host));
                let _ = tx.send(m).await;
            });
            // Reap finished tasks so a long list does not keep every handle.
            while inner.try_join_next().is_some() {}
        }
        while inner.join_next().await.is_some() {}
    });
    let mut measured = 0;
    let mut can_stop = true;
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => { measured += 1; on_done(m); }
                None => break,
            },
            changed = stop.changed(), if can_stop => {
                if changed.is_err() {
                    can_stop = false;
                } else if *stop.borrow() {
                    // Dropping the feeder's JoinSet aborts every measurement in flight.
                    feeder.abort();
                    // Hand over what finished while the stop was being noticed.
                    while let Ok(m) = rx.try_recv() { measured += 1; on_done(m); }
                    break;
                }
            }
        }
    }
    Summary {
        measured,
        skipped: total - measured,
    }
}
