//! The base of the lab's packet injectors: a thread in the censor's router that reads every
//! IPv4 packet passing there (a packet socket) and may write forged ones (a raw socket whose IP
//! header it writes itself, so the source can be the server's). Stops, and joins, on drop.

use super::runtime::in_netns;
use crate::LabError;
use socket2::{Domain, Protocol, Socket, Type};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// `ETH_P_IP`: the packet socket sees IPv4 only.
pub(crate) const ETH_P_IP: u16 = 0x0800;
/// How often a serving loop looks at its stop flag (the packet socket's read timeout).
const POLL: Duration = Duration::from_millis(100);

/// A running tap thread.
pub(crate) struct Tap {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tap {
    /// Opens the sockets in namespace `router` and runs `serve(tap, raw, stop)` on a thread
    /// named `name`; `serve` must return soon after `stop` turns true.
    pub(crate) fn start<F>(router: &str, name: &str, serve: F) -> Result<Tap, LabError>
    where
        F: FnOnce(Socket, Socket, Arc<AtomicBool>) + Send + 'static,
    {
        let io = |e: std::io::Error| LabError::Command {
            cmd: format!("packet sockets in {router}"),
            detail: e.to_string(),
        };
        // Sockets belong to the namespace of the thread that makes them.
        let (tap, raw) = in_netns(router, || -> std::io::Result<(Socket, Socket)> {
            let proto = Protocol::from(i32::from(ETH_P_IP.to_be()));
            let tap = Socket::new(Domain::PACKET, Type::DGRAM, Some(proto))?;
            tap.set_read_timeout(Some(POLL))?;
            // IPPROTO_RAW: we write the IP header ourselves.
            let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))?;
            Ok((tap, raw))
        })?
        .map_err(io)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || serve(tap, raw, flag))
            .map_err(io)?;
        Ok(Tap {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
