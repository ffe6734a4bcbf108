//! Running the real probe and control against a lab world: the ground for `lab demo`, `lab eval`
//! and the tests that prove every verdict.
//!
//! In the userspace world everything runs on the caller's runtime, on loopback. In the kernel
//! world the probe runs on the client namespace's runtime (its traffic crosses the censor's
//! router), the control measures from the servers namespace (its traffic never does), and the
//! control's API listens on the client namespace's loopback, as an out-of-band channel.

use interfero_lab::score::{score, Report};
use interfero_lab::{KernelNet, KernelOptions, LabError, LabTarget, Scenario, World, WorldKind};
use interfero_model::addr::Scope;
use interfero_model::{Measurement, Target};
use interfero_probe::{ControlClient, ProbeConfig, Resolver, Timeouts};
use interfero_server::{measurer_fn, serve_control, Limits};
use interfero_session::{run, Session, Vantage};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

/// What `Lab::eval` found.
pub struct Evaluation {
    /// The score.
    pub report: Report,
    /// Every scored verdict with its truth: targets, services, and unsupported targets (as
    /// `inconclusive` by rule `unsupported`).
    pub judged: Vec<(LabTarget, interfero_model::Verdict)>,
    /// The measurements behind the targets' verdicts.
    pub results: Vec<(LabTarget, Measurement)>,
}

/// How the lab's probe and control are set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// Short timeouts, a 3 s throughput window, 64 targets at once and an unlimited control:
    /// the test suite's, where every round trip is sub-millisecond.
    #[default]
    Fast,
    /// As shipped: `interfero run`'s defaults (timeouts, throughput window, walk bounds, 32
    /// targets at once, the control client's timeout and retries) against `interfero
    /// control`'s default limits (8 measurements at once per client, 20 requests a second).
    Shipped,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Fast => "fast",
            Profile::Shipped => "shipped",
        })
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fast" => Ok(Profile::Fast),
            "shipped" => Ok(Profile::Shipped),
            _ => Err(format!("unknown profile {s:?}: shipped or fast")),
        }
    }
}

/// A world with a control server beside it, ready to be measured.
pub struct Lab {
    /// The censor's world.
    pub world: World,
    /// Where the control listens (in the kernel world: on the client namespace's loopback).
    pub control_addr: SocketAddr,
    /// A probe configured to measure this world.
    pub session: Session,
    stop_control: Option<oneshot::Sender<()>>,
    stop_relay: Option<oneshot::Sender<()>>,
    // After `world`: fields drop in order, and the world's tasks must end before the
    // namespaces go.
    kernel: Option<KernelNet>,
}

/// Binds a listener on `ip` (port 0) from a thread of `rt`, i.e. in `rt`'s namespace.
async fn bind_in(rt: &Handle, ip: IpAddr) -> Result<std::net::TcpListener, LabError> {
    rt.spawn_blocking(move || {
        let l = std::net::TcpListener::bind((ip, 0))?;
        l.set_nonblocking(true)?;
        Ok::<_, std::io::Error>(l)
    })
    .await
    .map_err(|e| LabError::Io(std::io::Error::other(e.to_string())))?
    .map_err(LabError::Io)
}

/// Timeouts for the lab: its round trips are sub-millisecond, so a few seconds separates an
/// answer from a stall with a wide margin and keeps a whole suite under a minute.
pub fn lab_timeouts() -> Timeouts {
    Timeouts {
        dns: Duration::from_secs(2),
        dns_linger: Duration::from_millis(200),
        connect: Duration::from_secs(3),
        tls: Duration::from_secs(3),
        http: Duration::from_secs(5),
    }
}

/// Trace bounds for the lab: sub-millisecond round trips, so a short wait per hop tells
/// silence from an answer; the injected DNS answer leads the real one by 50 ms.
pub fn lab_trace() -> interfero_probe::TraceSettings {
    interfero_probe::TraceSettings {
        enabled: true,
        max_hops: 16,
        hop_wait: Duration::from_millis(400),
        settle: Duration::from_millis(150),
        budget: Duration::from_secs(10),
    }
}

/// Walk bounds for the lab: its servers answer in well under a millisecond.
pub fn lab_walk() -> interfero_probe::dns::walk::WalkBounds {
    interfero_probe::dns::walk::WalkBounds {
        budget: Duration::from_secs(4),
        ..Default::default()
    }
}

impl Lab {
    /// Starts the userspace world and a control (on loopback, measuring from the world's
    /// uncensored vantage point) and configures a probe for it.
    pub async fn start(scenario: &Scenario) -> Result<Lab, LabError> {
        Self::start_in(scenario, WorldKind::Userspace).await
    }

    /// Starts the world of `kind` (the kernel world with its default path).
    pub async fn start_in(scenario: &Scenario, kind: WorldKind) -> Result<Lab, LabError> {
        Self::start_profiled(scenario, kind, Profile::Fast).await
    }

    /// Starts the world of `kind` with the probe and control set as `profile` says.
    pub async fn start_profiled(
        scenario: &Scenario,
        kind: WorldKind,
        profile: Profile,
    ) -> Result<Lab, LabError> {
        match kind {
            WorldKind::Userspace => {
                let world = World::start(scenario).await?;
                Self::around(scenario, world, None, profile).await
            }
            WorldKind::Kernel => {
                let (kernel, world) = KernelNet::start(scenario, KernelOptions::default()).await?;
                Self::around(scenario, world, Some(kernel), profile).await
            }
        }
    }

    /// Starts the kernel world with the path `opts` describes (root only).
    pub async fn start_kernel(scenario: &Scenario, opts: KernelOptions) -> Result<Lab, LabError> {
        let (kernel, world) = KernelNet::start(scenario, opts).await?;
        Self::around(scenario, world, Some(kernel), Profile::Fast).await
    }

    /// The kernel world's namespaces and runtimes, in the kernel world.
    pub fn kernel(&self) -> Option<&KernelNet> {
        self.kernel.as_ref()
    }

    /// Where the probe runs: the client namespace, or the caller's runtime.
    fn probe_rt(&self) -> Handle {
        self.kernel
            .as_ref()
            .map_or_else(Handle::current, |k| k.client().clone())
    }

    async fn around(
        scenario: &Scenario,
        world: World,
        kernel: Option<KernelNet>,
        profile: Profile,
    ) -> Result<Lab, LabError> {
        let fast = profile == Profile::Fast;
        let timeouts = if fast {
            lab_timeouts()
        } else {
            Timeouts::default()
        };
        let roots = rustls_pki_types::pem::PemObject::pem_slice_iter(world.ca_pem().as_bytes())
            .filter_map(Result::ok)
            .collect::<Vec<rustls_pki_types::CertificateDer<'static>>>();
        // The lab's own root: a failing name's delegation is walked inside the lab.
        let delegation = interfero_probe::dns::walk::DelegationSettings {
            hints: interfero_probe::dns::walk::RootHints {
                servers: world.root_hints(),
                port: interfero_lab::DNS_PORT,
            },
            bounds: if fast { lab_walk() } else { Default::default() },
        };
        let control_cfg = Arc::new(ProbeConfig {
            resolver: Resolver::Addr(world.control_resolver()),
            extra_roots: roots.clone(),
            timeouts,
            bind_ip: Some(world.control_bind_ip()),
            // The lab's sites live in private space: the control's `--allow-private`, confined
            // to the lab like the probe.
            scope: Scope::Lab,
            delegation: delegation.clone(),
            ..ProbeConfig::default()
        });
        // The control's API: where the probe can reach it without crossing the censor.
        let (probe_rt, control_rt, api_ip) = match &kernel {
            Some(k) => (
                k.client().clone(),
                k.servers().clone(),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
            ),
            None => (
                Handle::current(),
                Handle::current(),
                world.control_bind_ip(),
            ),
        };
        let listener = bind_in(&probe_rt, api_ip).await?;
        let control_addr = listener.local_addr().map_err(LabError::Io)?;
        let measurer = measurer_fn(move |req| {
            let cfg = control_cfg.clone();
            async move { interfero_probe::helper::answer(&cfg, &req).await }
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let limits = if fast {
            Limits {
                // One trusted client (the lab's probe): no per-client share or rate.
                admission: interfero_server::Admission::unlimited(256),
                ..Limits::default()
            }
        } else {
            Limits::default()
        };
        // The control serves (and so measures) from `control_rt`'s namespace, whatever
        // namespace its listening socket was made in.
        control_rt.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let stop = async move {
                let _ = stop_rx.await;
            };
            let _ = serve_control(listener, Arc::new(measurer), limits, stop).await;
        });
        let probe = ProbeConfig {
            resolver: Resolver::Addr(world.probe_resolver()),
            extra_roots: roots,
            timeouts,
            throughput_window: if fast {
                Duration::from_secs(3)
            } else {
                ProbeConfig::default().throughput_window
            },
            canaries: world.canaries(),
            // On loopback, a socket bound to 127.0.0.1 cannot reach anything else (the kernel
            // refuses the route): an answer the censor forged off loopback (a bogon, a hijack
            // address) is never connected to beyond this machine.
            bind_ip: kernel
                .is_none()
                .then_some(std::net::IpAddr::from([127, 0, 0, 1])),
            // On loopback every address is one hop away: a trace could only say "unknown".
            trace: interfero_probe::TraceSettings {
                enabled: kernel.is_some(),
                ..if fast {
                    lab_trace()
                } else {
                    Default::default()
                }
            },
            // Nothing the censor answers can send the lab's probe off the machine.
            scope: Scope::Lab,
            delegation,
            ..ProbeConfig::default()
        };
        let probe = Arc::new(probe);
        // A dead control: a port that was bound, then freed, so nothing answers there.
        let dead = bind_in(&probe_rt, api_ip)
            .await?
            .local_addr()
            .map_err(LabError::Io)?;
        // The probe reaches the control through a relay that a shutdown cuts, as a real
        // shutdown cuts every path abroad.
        let relay = bind_in(&probe_rt, api_ip).await?;
        let relay_addr = relay.local_addr().map_err(LabError::Io)?;
        let (stop_relay, relay_stop) = oneshot::channel::<()>();
        let cut = world.shutdown_switch();
        probe_rt.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(relay) else {
                return;
            };
            let stop = async move {
                let _ = relay_stop.await;
            };
            crate::labcut::relay(listener, control_addr, cut, stop).await;
        });
        let base = if scenario.control { relay_addr } else { dead };
        let mut control = ControlClient::new(format!("http://{base}/"));
        if fast {
            control.retries = 1;
            control.timeout = Duration::from_secs(20);
        }
        let mut annotations = serde_json::Map::new();
        annotations.insert("lab_scenario".into(), scenario.name.clone().into());
        let session = Session {
            reach: Arc::new(interfero_session::reach::Monitor::new(probe.clone())),
            probe,
            control: Some(Arc::new(control)),
            parallel: if fast {
                64
            } else {
                interfero_session::DEFAULT_PARALLEL
            },
            vantage: Vantage::default(),
            annotations,
            state_roots: Arc::new(lab_state_roots(&world)),
        };
        Ok(Lab {
            world,
            control_addr,
            session,
            stop_control: Some(stop_tx),
            stop_relay: Some(stop_relay),
            kernel,
        })
    }

    /// Measures the world's supported targets and pairs each with its ground truth.
    pub async fn measure(
        &self,
        mut on_done: impl FnMut(&LabTarget, &Measurement),
    ) -> Vec<(LabTarget, Measurement)> {
        let targets: Vec<LabTarget> = self
            .world
            .targets()
            .into_iter()
            .filter(|t| t.supported.is_ok())
            .collect();
        let list = targets
            .iter()
            .map(|t| Target {
                url: t.url.clone(),
                category_code: None,
            })
            .collect();
        // The probe runs where its sockets must be made; measurements come back here.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let session = self.session.clone();
        let probe = self.probe_rt().spawn(async move {
            let (_keep, stop) = watch::channel(false);
            run(&session, list, stop, |m| {
                let _ = tx.send(m);
            })
            .await;
        });
        let mut out = Vec::new();
        while let Some(m) = rx.recv().await {
            if let Some(t) = targets.iter().find(|t| t.url == m.input) {
                on_done(t, &m);
                out.push((t.clone(), m));
            }
        }
        let _ = probe.await;
        out
    }

    /// Measures and scores the world: the accuracy report, with unsupported targets listed.
    pub async fn eval(&self) -> Evaluation {
        let results = self.measure(|_, _| {}).await;
        let mut judged: Vec<(LabTarget, interfero_model::Verdict)> = results
            .iter()
            .filter_map(|(t, m)| m.verdict.clone().map(|v| (t.clone(), v)))
            .collect();
        // Services are judged from their endpoints' verdicts, and scored like targets.
        for svc in self.world.services() {
            if svc.truth.supported.is_err() {
                continue;
            }
            let parts =
                interfero_session::service::parts(&svc.endpoints, results.iter().map(|(_, m)| m));
            judged.push((
                svc.truth,
                interfero_analysis::service::judge_service(&parts),
            ));
        }
        for t in self
            .world
            .targets()
            .into_iter()
            .filter(|t| t.supported.is_err())
        {
            judged.push((
                t,
                interfero_model::Verdict::new(
                    interfero_model::Status::Inconclusive,
                    0.0,
                    "unsupported",
                ),
            ));
        }
        Evaluation {
            report: score(&judged),
            judged,
            results,
        }
    }

    /// Stops the control and the world; in the kernel world, then removes its namespaces.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop_control.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.stop_relay.take() {
            let _ = tx.send(());
        }
        let kernel = self.kernel.take();
        self.world.shutdown().await;
        if let Some(k) = kernel {
            k.shutdown().await;
        }
    }
}

/// The shipped state roots plus the world's fictional one, known by its key as the real ones
/// are: the lab's interception is then judged exactly as a listed root would be.
fn lab_state_roots(world: &World) -> interfero_analysis::trust::StateRoots {
    use rustls_pki_types::pem::PemObject;
    let spki = rustls_pki_types::CertificateDer::pem_slice_iter(world.mitm_ca_pem().as_bytes())
        .filter_map(Result::ok)
        .map(|der| interfero_probe::cert_info(&der).spki_sha256)
        .collect();
    interfero_analysis::trust::StateRoots::builtin().with_extra(vec![
        interfero_analysis::trust::StateRoot {
            name: "Qaznet Trust Network (Interfero lab copy)".into(),
            country: "KZ".into(),
            period: "lab".into(),
            subject_contains: Vec::new(),
            spki_sha256: spki,
            cert_sha1: Vec::new(),
        },
    ])
}
