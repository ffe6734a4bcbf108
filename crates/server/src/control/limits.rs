//! What one control server accepts: body size and time, admission, deadline.

use crate::shared::limits::Admission;
use std::time::Duration;

/// What one control server accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// How long a client may take to send its body (408 beyond).
    pub body_timeout: Duration,
    /// Measurements at once, per client and in total, and each client's request rate.
    pub admission: Admission,
    /// How long a request may take, waiting included, before it gets 504.
    pub deadline: Duration,
}

impl Default for Limits {
    /// 64 KiB bodies sent within 10 s; 32 measurements at once, 8 of them for one client
    /// with 32 more waiting; 20 requests a second per client after a burst of 100; 30 s per
    /// request.
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            body_timeout: Duration::from_secs(10),
            admission: Admission {
                max_concurrent: 32,
                per_client_concurrent: 8,
                per_client_queue: 32,
                rate_per_sec: 20.0,
                burst: 100.0,
            },
            deadline: Duration::from_secs(30),
        }
    }
}
