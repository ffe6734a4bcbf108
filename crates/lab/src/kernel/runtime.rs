//! Putting threads into a network namespace. A socket belongs to the namespace of the thread
//! that created it, for its whole life; so a tokio runtime whose every thread (workers and
//! blocking pool) joined a namespace on start creates all its sockets there, and in-process code
//! (probe, control, middlebox) runs on either side of the censor by choosing its runtime.

use crate::LabError;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use tokio::runtime::{Builder, Handle, Runtime};

/// The file that names namespace `ns` (made by `ip netns add`).
fn ns_file(ns: &str) -> Result<File, LabError> {
    let path = format!("/var/run/netns/{ns}");
    File::open(&path).map_err(|e| LabError::Command {
        cmd: format!("open {path}"),
        detail: e.to_string(),
    })
}

/// Moves the calling thread into the network namespace behind `fd`.
fn enter(fd: &File) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor, which `fd` keeps open for the call; it changes
    // nothing but the calling thread's network namespace.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `f` on a short-lived thread inside namespace `ns` (e.g. to write a per-namespace
/// sysctl or to open the sockets of a packet injector).
pub(crate) fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T, LabError> {
    let fd = ns_file(ns)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(&fd).map_err(|e| LabError::Command {
                    cmd: format!("setns {ns}"),
                    detail: e.to_string(),
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(LabError::Command {
                    cmd: format!("thread in {ns}"),
                    detail: "panicked".into(),
                })
            })
    })
}

/// A runtime whose threads all live in one namespace. Dropping it stops the runtime without
/// blocking (it may be dropped from async code); `stop` waits for its threads.
pub(crate) struct NsRuntime {
    rt: Option<Runtime>,
    handle: Handle,
}

impl NsRuntime {
    /// Builds a runtime of `workers` threads inside namespace `ns`.
    pub(crate) fn new(ns: &str, workers: usize) -> Result<NsRuntime, LabError> {
        // Prove that this process may enter the namespace before any runtime thread tries.
        in_netns(ns, || ())?;
        let fd = Arc::new(ns_file(ns)?);
        let rt = Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(format!("{ns}-rt"))
            .enable_all()
            .on_thread_start(move || {
                if let Err(e) = enter(&fd) {
                    // A runtime thread outside the lab's namespace would put lab traffic on the
                    // host's network, which the lab must never do: stop everything instead.
                    eprintln!("interfero lab: cannot enter the lab namespace: {e}");
                    std::process::abort();
                }
            })
            .build()
            .map_err(LabError::Io)?;
        Ok(NsRuntime {
            handle: rt.handle().clone(),
            rt: Some(rt),
        })
    }

    /// A handle to spawn work inside the namespace.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops the runtime and waits (bounded) for its threads to leave, so that the namespace
    /// holds no reference when it is deleted.
    pub(crate) async fn stop(mut self) {
        if let Some(rt) = self.rt.take() {
            let _ = tokio::task::spawn_blocking(move || {
                rt.shutdown_timeout(std::time::Duration::from_secs(2))
            })
            .await;
        }
    }
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
