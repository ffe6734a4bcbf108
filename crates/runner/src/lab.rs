//! Running the real probe and control against a lab world: the ground for `lab demo`, `lab eval`
//! and the tests that prove every verdict.

use crate::{run, Session, Vantage};
use interfero_lab::score::{score, Report};
use interfero_lab::{LabError, LabTarget, Scenario, World};
use interfero_model::{Measurement, Target};
use interfero_probe::{ControlClient, ProbeConfig, Resolver, Timeouts};
use interfero_server::{measurer_fn, serve_control, Limits};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// A world with a control server beside it, ready to be measured.
pub struct Lab {
    /// The censor's world.
    pub world: World,
    /// Where the control listens.
    pub control_addr: SocketAddr,
    /// A probe configured to measure this world.
    pub session: Session,
    stop_control: Option<oneshot::Sender<()>>,
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

impl Lab {
    /// Starts the world and a control (on loopback, measuring from the world's uncensored
    /// vantage point) and configures a probe for it.
    pub async fn start(scenario: &Scenario) -> Result<Lab, LabError> {
        let world = World::start(scenario).await?;
        let roots = rustls_pki_types::pem::PemObject::pem_slice_iter(world.ca_pem().as_bytes())
            .filter_map(Result::ok)
            .collect::<Vec<rustls_pki_types::CertificateDer<'static>>>();
        let control_cfg = Arc::new(ProbeConfig {
            resolver: Resolver::Addr(world.control_resolver()),
            extra_roots: roots.clone(),
            timeouts: lab_timeouts(),
            bind_ip: Some(world.control_bind_ip()),
            ..ProbeConfig::default()
        });
        let listener = tokio::net::TcpListener::bind((world.control_bind_ip(), 0))
            .await
            .map_err(LabError::Io)?;
        let control_addr = listener.local_addr().map_err(LabError::Io)?;
        let measurer = measurer_fn(move |req| {
            let cfg = control_cfg.clone();
            async move { interfero_probe::helper::answer(&cfg, &req).await }
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let limits = Limits {
            max_concurrent: 256,
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
        let probe = ProbeConfig {
            resolver: Resolver::Addr(world.probe_resolver()),
            extra_roots: roots,
            timeouts: lab_timeouts(),
            throughput_window: Duration::from_secs(3),
            canaries: world.canaries(),
            ..ProbeConfig::default()
        };
        let probe = Arc::new(probe);
        // A dead control: a port that was bound, then freed, so nothing answers there.
        let dead = match std::net::TcpListener::bind((world.control_bind_ip(), 0)) {
            Ok(l) => l.local_addr().map_err(LabError::Io)?,
            Err(e) => return Err(LabError::Io(e)),
        };
        let base = if scenario.control { control_addr } else { dead };
        let mut control = ControlClient::new(format!("http://{base}/"));
        control.retries = 1;
        control.timeout = Duration::from_secs(20);
        let mut annotations = serde_json::Map::new();
        annotations.insert("lab_scenario".into(), scenario.name.clone().into());
        let session = Session {
            reach: Arc::new(crate::reach::Monitor::new(probe.clone())),
            probe,
            control: Some(Arc::new(control)),
            parallel: 64,
            vantage: Vantage::default(),
            annotations,
        };
        Ok(Lab {
            world,
            control_addr,
            session,
            stop_control: Some(stop_tx),
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
        let (_keep, stop) = watch::channel(false);
        let mut out = Vec::new();
        run(&self.session, list, stop, |m| {
            if let Some(t) = targets.iter().find(|t| t.url == m.input) {
                on_done(t, &m);
                out.push((t.clone(), m));
            }
        })
        .await;
        out
    }

    /// Measures and scores the world: the accuracy report, with unsupported targets listed.
    pub async fn eval(&self) -> (Report, Vec<(LabTarget, Measurement)>) {
        let results = self.measure(|_, _| {}).await;
        let mut judged: Vec<(LabTarget, interfero_model::Verdict)> = results
            .iter()
            .filter_map(|(t, m)| m.verdict.clone().map(|v| (t.clone(), v)))
            .collect();
        // Services are judged from their endpoints' verdicts, and scored like targets.
        for svc in self.world.scenario().services_at(self.world.now()) {
            if svc.truth.supported.is_err() {
                continue;
            }
            let parts: Vec<(String, interfero_model::Verdict)> = results
                .iter()
                .filter(|(t, _)| svc.endpoints.contains(&t.url))
                .filter_map(|(t, m)| m.verdict.clone().map(|v| (t.url.clone(), v)))
                .collect();
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
        (score(&judged), results)
    }

    /// Stops the control and the world.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop_control.take() {
            let _ = tx.send(());
        }
        self.world.shutdown().await;
    }
}
