//! What the measurements of one run share: one DNS cache, and a limit on the connections open
//! at once to one address (sites behind one CDN address, or one server hosting many names,
//! must not see a burst that looks like an attack — or answer it with a refusal that would look
//! like a block).

use crate::dns::cache::DnsCache;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Addresses tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 4096;

/// The state one run's measurements share (set by the runner, fresh for every run).
#[derive(Debug)]
pub struct RunShared {
    /// Identical lookups are sent once per run.
    pub dns: DnsCache,
    per_address: usize,
    addresses: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl RunShared {
    /// Fresh state allowing `per_address` connections at once to one address (at least 1).
    pub fn new(per_address: usize) -> RunShared {
        RunShared {
            dns: DnsCache::new(),
            per_address: per_address.max(1),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// The connections this run may have open to one address at once.
    pub fn per_address(&self) -> usize {
        self.per_address
    }

    fn semaphore(&self, ip: IpAddr) -> Arc<Semaphore> {
        let Ok(mut map) = self.addresses.lock() else {
            return Arc::new(Semaphore::new(self.per_address));
        };
        if map.len() >= MAX_TRACKED {
            let limit = self.per_address;
            map.retain(|_, s| s.available_permits() < limit);
        }
        map.entry(ip)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_address)))
            .clone()
    }

    /// Waits until one more connection to each of `endpoints` is allowed; the permits hold
    /// until dropped. Addresses are taken in sorted order, so two callers never wait on each
    /// other in a cycle.
    pub async fn connections(&self, endpoints: &[SocketAddr]) -> Vec<OwnedSemaphorePermit> {
        let mut ips: Vec<IpAddr> = endpoints.iter().map(SocketAddr::ip).collect();
        ips.sort();
        let mut permits = Vec::with_capacity(ips.len());
        for ip in ips {
            // Several endpoints of one address (two ports) count once per connection.
            if let Ok(p) = self.semaphore(ip).acquire_owned().await {
                permits.push(p);
            }
        }
        permits
    }
}
