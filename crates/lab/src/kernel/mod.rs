//! The kernel world: the userspace middlebox moved behind real routers.
//!
//! ```text
//!  [client ns]──veth──[r1]──veth── … ──[rK: censor]── … ──[rN]──veth──[servers ns]
//!   probe runtime                    nftables: tcp.*,            World (resolvers, sites,
//!   control API on 127.0.0.1         shutdown; tc htb:           blockpage, SNI/Host
//!                                    address throttles;          middlebox) + control's
//!                                    tcp.reset injector          measurements (bind .4)
//! ```
//! The probe measures from the client namespace; its packets cross every router, and the
//! censor's router applies what matches on addresses and ports. The control measures from the
//! servers namespace (never crossing the censor); its API listens on the client namespace's
//! loopback, as an out-of-band channel. SNI, Host and keyword rules stay in the userspace
//! middlebox, because nftables' NFQUEUE is not available on these kernels. Everything runs in
//! this process, on tokio runtimes whose threads joined each namespace (see `runtime`).

mod censor;
mod cmd;
mod inject;
pub mod netns;
pub mod nft;
mod onpath;
mod runtime;
mod tap;
mod tc;

use crate::kind::WorldKind;
use crate::scenario::{Action, Scenario};
use crate::world::{Placement, World};
use crate::LabError;
use censor::Censor;
use inject::Injector;
use netns::{Topology, SERVICE_BLOCK};
use onpath::OnPath;
use runtime::NsRuntime;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, RwLock};
use tokio::runtime::Handle;

pub use netns::{lab_namespaces, sweep_stale, CLIENT_IP, CLIENT_IP6};

/// Shape of the path between client and servers.
#[derive(Debug, Clone, Copy)]
pub struct KernelOptions {
    /// Routers between client and servers (1..=16).
    pub hops: u8,
    /// Which of them is the censor (1 = next to the client).
    pub censor_hop: u8,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            hops: 2,
            censor_hop: 2,
        }
    }
}

/// Says on the terminal that a kernel test did not run and why, as `skipped: TEST: REASON`.
/// Written to the process's stderr directly rather than with `eprintln!`, which the test
/// harness captures and shows only for a failure: a skipped root-only test must not pass
/// silently.
pub fn report_skip(test: &str, reason: &dyn std::fmt::Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {reason}");
}

/// Why the kernel world cannot run here, if it cannot: not root, no `ip`/`nft`, no netns.
pub fn check() -> Result<(), LabError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::KernelUnavailable(
            "needs root (network namespaces, nftables)".into(),
        ));
    }
    for (prog, arg, pkg) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("tc", "-V", "iproute2"),
    ] {
        cmd::run(prog, &[arg], None).map_err(|_| {
            LabError::KernelUnavailable(format!("`{prog}` not found (install {pkg})"))
        })?;
    }
    if !std::path::Path::new("/proc/self/ns/net").exists() {
        return Err(LabError::KernelUnavailable(
            "this kernel has no network namespaces".into(),
        ));
    }
    Ok(())
}

/// The namespaces, runtimes and kernel censor of one kernel world. The `World` it starts runs
/// inside; drop the `World` first, then this (or call `shutdown`).
pub struct KernelNet {
    // Fields drop in order: injectors, runtimes, censor, then the namespaces themselves.
    injector: Option<Injector>,
    on_path: Option<OnPath>,
    client: NsRuntime,
    servers: NsRuntime,
    censor: Arc<Censor>,
    opts: KernelOptions,
    topo: Topology,
}

impl KernelNet {
    /// Builds the namespaces, starts `scenario`'s `World` in the servers namespace and the
    /// censor in router `opts.censor_hop`. Stale namespaces of dead processes are swept first.
    pub async fn start(
        scenario: &Scenario,
        opts: KernelOptions,
    ) -> Result<(KernelNet, World), LabError> {
        check()?;
        if opts.censor_hop == 0 || opts.censor_hop > opts.hops {
            return Err(LabError::Invalid(format!(
                "censor hop {} is not one of the {} routers",
                opts.censor_hop, opts.hops
            )));
        }
        for name in tokio::task::spawn_blocking(sweep_stale)
            .await
            .unwrap_or_default()
        {
            tracing::info!("lab: removed stale namespace {name}");
        }
        let hops = opts.hops;
        let v6 = scenario.ipv6;
        // Building (and, for working IPv6, waiting out address detection) blocks: not on the
        // runtime's threads.
        let topo = tokio::task::spawn_blocking(move || Topology::build(hops)?.with_ipv6(v6, hops))
            .await
            .map_err(|e| LabError::Command {
                cmd: "building namespaces".into(),
                detail: e.to_string(),
            })??;
        let client = NsRuntime::new(&topo.client, 2)?;
        let servers = NsRuntime::new(&topo.servers, 2)?;
        let s = scenario.clone();
        let placement = Placement {
            block: Some(SERVICE_BLOCK),
            kind: WorldKind::Kernel,
        };
        let world = servers
            .handle()
            .spawn(async move { World::start_with(&s, placement).await })
            .await
            .map_err(|e| LabError::Command {
                cmd: "starting the world".into(),
                detail: e.to_string(),
            })??;
        let router = topo
            .routers
            .get(usize::from(opts.censor_hop - 1))
            .cloned()
            .unwrap_or_default();
        let censor = Arc::new(Censor {
            router: router.clone(),
            sites: scenario
                .sites
                .iter()
                .map(|site| {
                    let addrs = [
                        world.site_addr(&site.name),
                        world.site_control_addr(&site.name),
                        world.site_addr6(&site.name),
                    ];
                    let addrs = addrs.into_iter().flatten().collect();
                    (site.name.to_ascii_lowercase(), addrs)
                })
                .collect(),
            uses_tc: scenario
                .rules
                .iter()
                .any(|r| r.action == Action::Throttle && WorldKind::Kernel.kernel_enforces(r)),
            scenario: scenario.clone(),
            resets: Arc::new(RwLock::new(BTreeSet::new())),
            on_path: Arc::default(),
            forged: as_v4(world.blockpage_addr()),
            lock: Mutex::new(()),
        });
        // Routers answer every expired packet: a lab router that rate-limits its ICMP would
        // make a trace's hops depend on what ran before it.
        for r in &topo.routers {
            runtime::in_netns(r, || {
                std::fs::write("/proc/sys/net/ipv4/icmp_ratelimit", "0")
            })?
            .map_err(|e| LabError::Command {
                cmd: format!("icmp_ratelimit in {r}"),
                detail: e.to_string(),
            })?;
        }
        censor.apply(world.now())?;
        let needs_injector = scenario.rules.iter().any(|r| r.action == Action::TcpReset);
        let injector = if needs_injector {
            Some(Injector::start(&router, censor.resets.clone())?)
        } else {
            None
        };
        let injects = scenario
            .rules
            .iter()
            .any(|r| r.at_hop && matches!(r.action, Action::DnsInjection | Action::TlsReset));
        let on_path = if injects {
            Some(OnPath::start(&router, censor.on_path.clone())?)
        } else {
            None
        };
        let hook = censor.clone();
        world.set_time_hook(Box::new(move |t| {
            if let Err(e) = hook.apply(t) {
                tracing::error!("lab: the kernel censor could not follow the clock: {e}");
            }
        }));
        Ok((
            KernelNet {
                injector,
                on_path,
                client,
                servers,
                censor,
                opts,
                topo,
            },
            world,
        ))
    }

    /// Runs work in the client namespace (the probe's side of the censor).
    pub fn client(&self) -> &Handle {
        self.client.handle()
    }

    /// Runs work in the servers namespace (the control's side, never crossing the censor).
    pub fn servers(&self) -> &Handle {
        self.servers.handle()
    }

    /// The client namespace's name (for `ip netns exec`).
    pub fn client_netns(&self) -> &str {
        &self.topo.client
    }

    /// The routers' namespace names, hop 1 first.
    pub fn router_netns(&self) -> &[String] {
        &self.topo.routers
    }

    /// The prefix of every namespace of this world (`ifr-<pid>-<n>`).
    pub fn tag(&self) -> &str {
        &self.topo.tag
    }

    /// The path's shape.
    pub fn options(&self) -> KernelOptions {
        self.opts
    }

    /// Stops the injector and both runtimes (waiting for their threads), removes the nftables
    /// table and deletes every namespace. Stop the `World` first.
    pub async fn shutdown(self) {
        let KernelNet {
            injector,
            on_path,
            client,
            servers,
            censor,
            topo,
            ..
        } = self;
        drop(injector);
        drop(on_path);
        client.stop().await;
        servers.stop().await;
        let _ = tokio::task::spawn_blocking(move || {
            censor.remove();
            drop(topo);
        })
        .await;
    }
}

fn as_v4(ip: std::net::IpAddr) -> Option<Ipv4Addr> {
    match ip {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    }
}
