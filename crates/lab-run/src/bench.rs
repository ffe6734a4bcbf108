//! `lab bench`: the benchmark world (lab crate) measured by the real probe and control, with
//! what it cost. The world and the control run in their own tokio runtimes (threads named
//! `ifo-world…` and `ifo-control…`), normally in a child process, so that the probe's own CPU
//! and memory can be told apart from the servers it measures.

use crate::usage;
use interfero_lab::bench::{BenchWorld, Kind};
use interfero_lab::score::{score, Report};
use interfero_lab::{LabError, LabTarget, World};
use interfero_model::{Status, Target, Verdict};
use interfero_probe::{ControlClient, ProbeConfig, Resolver};
use interfero_server::{measurer_fn, serve_control, Limits};
use interfero_session::{run, Session, Vantage};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, watch};

/// Thread-name prefix of the world's runtime.
pub const WORLD_THREADS: &str = "ifo-world";
/// Thread-name prefix of the control's runtime.
pub const CONTROL_THREADS: &str = "ifo-control";

/// Where a running benchmark world and its control answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorldInfo {
    /// The censored resolver (the probe's `--resolver`).
    pub resolver: SocketAddr,
    /// The control's base URL.
    pub control: String,
    /// The lab CA the probe trusts.
    pub ca_pem: String,
}

/// What the world side cost, read just before it stops.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorldCost {
    /// CPU seconds of the world's threads (resolvers, censor, origins).
    pub world_cpu_s: f64,
    /// CPU seconds of the control's threads (its HTTP server and measurements).
    pub control_cpu_s: f64,
    /// Peak resident memory of the process that ran them, in bytes.
    pub peak_rss: u64,
}

/// A benchmark world and a control, each on its own runtime.
pub struct WorldServer {
    world_rt: Option<Runtime>,
    control_rt: Option<Runtime>,
    world: Option<World>,
    stop_control: Option<oneshot::Sender<()>>,
    /// Where to point the probe.
    pub info: WorldInfo,
}

fn runtime(name: &'static str) -> Result<Runtime, LabError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(LabError::Io)
}

impl WorldServer {
    /// Starts `bench`'s world and a control beside it (from inside an async context).
    pub async fn start(bench: &BenchWorld) -> Result<WorldServer, LabError> {
        let world_rt = runtime(WORLD_THREADS)?;
        let control_rt = runtime(CONTROL_THREADS)?;
        let scenario = bench.scenario.clone();
        let world = match world_rt
            .spawn(async move { World::start(&scenario).await })
            .await
        {
            Ok(Ok(w)) => w,
            failed => {
                // A runtime may not be dropped inside another: let both go in the background.
                world_rt.shutdown_background();
                control_rt.shutdown_background();
                return Err(match failed {
                    Ok(Err(e)) => e,
                    _ => LabError::Io(std::io::Error::other("the world's task failed")),
                });
            }
        };
        let roots = rustls_pki_types::pem::PemObject::pem_slice_iter(world.ca_pem().as_bytes())
            .filter_map(Result::ok)
            .collect::<Vec<rustls_pki_types::CertificateDer<'static>>>();
        let control_cfg = Arc::new(ProbeConfig {
            resolver: Resolver::Addr(world.control_resolver()),
            extra_roots: roots,
            bind_ip: Some(world.control_bind_ip()),
            scope: interfero_model::addr::Scope::Lab,
            ..ProbeConfig::default()
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let bind_ip = world.control_bind_ip();
        let control_addr = control_rt
            .spawn(async move {
                // Bound inside the control's runtime, so its I/O is driven there.
                let listener = tokio::net::TcpListener::bind((bind_ip, 0)).await?;
                let addr = listener.local_addr()?;
                let measurer = measurer_fn(move |req| {
                    let cfg = control_cfg.clone();
                    async move { interfero_probe::helper::answer(&cfg, &req).await }
                });
                let limits = Limits {
                    // One trusted client (the lab's probe): no per-client share or rate.
                    admission: interfero_server::Admission::unlimited(512),
                    ..Limits::default()
                };
                tokio::spawn(serve_control(
                    listener,
                    Arc::new(measurer),
                    limits,
                    async move {
                        let _ = stop_rx.await;
                    },
                ));
                Ok::<_, std::io::Error>(addr)
            })
            .await;
        let control_addr = match control_addr {
            Ok(Ok(a)) => a,
            failed => {
                drop(world);
                world_rt.shutdown_background();
                control_rt.shutdown_background();
                return Err(match failed {
                    Ok(Err(e)) => LabError::Io(e),
                    _ => LabError::Io(std::io::Error::other("the control's task failed")),
                });
            }
        };
        let info = WorldInfo {
            resolver: world.probe_resolver(),
            control: format!("http://{control_addr}/"),
            ca_pem: world.ca_pem(),
        };
        Ok(WorldServer {
            world_rt: Some(world_rt),
            control_rt: Some(control_rt),
            world: Some(world),
            stop_control: Some(stop_tx),
            info,
        })
    }

    /// CPU of the world's and the control's threads so far, and the process's peak memory.
    pub fn cost(&self) -> WorldCost {
        let secs = |p| usage::threads_cpu(p).map_or(0.0, |d| d.as_secs_f64());
        WorldCost {
            world_cpu_s: secs(WORLD_THREADS),
            control_cpu_s: secs(CONTROL_THREADS),
            peak_rss: usage::peak_rss().unwrap_or(0),
        }
    }
}

impl Drop for WorldServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop_control.take() {
            let _ = tx.send(());
        }
        drop(self.world.take()); // aborts the world's tasks
                                 // Dropping a runtime blocks, which is not allowed inside another runtime.
        for rt in [self.world_rt.take(), self.control_rt.take()]
            .into_iter()
            .flatten()
        {
            rt.shutdown_background();
        }
    }
}

/// The probe's configuration for a benchmark run: the production defaults (timeouts, body
/// cap, throughput window), pointed at the world.
pub fn probe_config(info: &WorldInfo) -> ProbeConfig {
    let roots = rustls_pki_types::pem::PemObject::pem_slice_iter(info.ca_pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    ProbeConfig {
        resolver: Resolver::Addr(info.resolver),
        extra_roots: roots,
        scope: interfero_model::addr::Scope::Lab,
        ..ProbeConfig::default()
    }
}

/// What the probe side of a benchmark run measured.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Targets measured.
    pub measured: usize,
    /// Wall time of the run.
    pub wall: Duration,
    /// CPU of this process during the run (probe, analysis, and the JSONL writes).
    pub cpu: Duration,
    /// Peak resident memory of this process at the end of the run, in bytes.
    pub peak_rss: u64,
    /// The accuracy of the run against the world's ground truth.
    pub report: Report,
    /// Each target's kind and measured duration (seconds), in completion order.
    pub durations: Vec<(Kind, f64)>,
}

/// Measures every target of `bench` through `info`'s world, `parallel` at once, appending each
/// measurement as a JSON line to `out` (the stored measurements `analyze` is benchmarked on).
pub async fn measure(
    bench: &BenchWorld,
    info: &WorldInfo,
    parallel: usize,
    out: &mut dyn Write,
) -> ProbeRun {
    let mut control = ControlClient::new(info.control.clone());
    control.retries = 1;
    // No canaries: the benchmark measures targets; the reachability check (made only when
    // targets fail, shared between them) is measured by the accuracy suite.
    let probe = Arc::new(probe_config(info));
    let session = Session {
        reach: Arc::new(interfero_session::reach::Monitor::new(probe.clone())),
        probe,
        control: Some(Arc::new(control)),
        parallel,
        vantage: Vantage::default(),
        annotations: Default::default(),
        state_roots: interfero_session::shipped_state_roots(),
    };
    let truth: std::collections::HashMap<&str, (Kind, LabTarget)> = bench
        .scenario
        .targets_at(Default::default())
        .into_iter()
        .zip(&bench.kinds)
        .map(|(t, (url, kind))| (url.as_str(), (*kind, t)))
        .collect();
    let list: Vec<Target> = bench
        .kinds
        .iter()
        .map(|(url, _)| Target {
            url: url.clone(),
            category_code: None,
        })
        .collect();
    let (_keep, stop) = watch::channel(false);
    let cpu0 = usage::process_cpu().unwrap_or_default();
    let started = Instant::now();
    let mut judged: Vec<(LabTarget, Verdict)> = Vec::with_capacity(list.len());
    let mut durations = Vec::with_capacity(list.len());
    let summary = run(&session, list, stop, |m| {
        if let Some((kind, t)) = truth.get(m.input.as_str()) {
            let v = m
                .verdict
                .clone()
                .unwrap_or_else(|| Verdict::new(Status::Inconclusive, 0.0, "no verdict"));
            judged.push((t.clone(), v));
            durations.push((*kind, m.test_runtime));
        }
        if let Ok(line) = serde_json::to_string(&m) {
            let _ = writeln!(out, "{line}");
        }
    })
    .await;
    let wall = started.elapsed();
    let cpu = usage::process_cpu()
        .unwrap_or_default()
        .saturating_sub(cpu0);
    ProbeRun {
        measured: summary.measured,
        wall,
        cpu,
        peak_rss: usage::peak_rss().unwrap_or(0),
        report: score(&judged),
        durations,
    }
}
