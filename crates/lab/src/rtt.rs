//! Round-trip time added by the lab in userspace. Loopback answers in microseconds and tc netem
//! is absent on these kernels, so the servers of the world wait before they answer: a DNS reply
//! leaves one RTT after its query arrived; a connection's first server bytes leave two RTTs
//! after the accept (the TCP handshake the kernel already finished, plus the first exchange);
//! every later response leaves one RTT after the request that caused it. A client that follows
//! the protocols therefore pays about one RTT per protocol round trip, as on a real path.
//!
//! Not emulated: the delay of a refusal (nothing listens: the kernel refuses at once) and of the
//! TCP handshake itself (folded into the first server bytes, as above).

use std::time::Duration;
use tokio::time::{sleep_until, Instant};

/// The pacing of one server-side connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    accepted: Instant,
    rtt: Duration,
}

impl Pace {
    /// Pacing for a connection accepted now.
    pub(crate) fn accepted_now(rtt: Duration) -> Pace {
        Pace {
            accepted: Instant::now(),
            rtt,
        }
    }

    /// Waits until the connection's first server bytes may leave.
    pub(crate) async fn first_bytes(&self) {
        if !self.rtt.is_zero() {
            sleep_until(self.accepted + self.rtt * 2).await;
        }
    }

    /// Waits until the response to a request read just now may leave (and never before the
    /// connection's first bytes may).
    pub(crate) async fn response(&self) {
        if !self.rtt.is_zero() {
            let at = (Instant::now() + self.rtt).max(self.accepted + self.rtt * 2);
            sleep_until(at).await;
        }
    }
}
