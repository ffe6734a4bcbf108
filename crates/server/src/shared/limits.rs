//! Admission: how much of a server one client may use. A request rate per client (token
//! bucket, 429 with `Retry-After` beyond it) and a fair gate in front of the expensive work:
//! at most N jobs at once in total and M per client, the waiting served client by client in
//! turn, so that one client with many requests cannot starve the rest.
//!
//! Written here rather than taken from tower's `ConcurrencyLimit`/`RateLimit`: those are
//! global (one client can take every slot) and have no per-client fairness or `Retry-After`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Who a client is for the limits: an IPv4 address, or an IPv6 /64 (one host usually holds a
/// whole /64, so counting single IPv6 addresses would let it multiply itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of a client at `ip` (IPv4-mapped IPv6 counts as the IPv4 address).
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(_) => ClientKey(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                    ClientKey(IpAddr::V6(net))
                }
            },
        }
    }
}

/// What one server admits per client and in total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// Jobs running at once, all clients together (at least 1).
    pub max_concurrent: usize,
    /// Jobs running at once for one client (at least 1).
    pub per_client_concurrent: usize,
    /// Requests of one client waiting for a slot; beyond, 429.
    pub per_client_queue: usize,
    /// Sustained requests per second of one client (0: no rate limit).
    pub rate_per_sec: f64,
    /// Requests one client may send at once after being idle.
    pub burst: f64,
}

impl Admission {
    /// No per-client limits: for a lab or a benchmark, where every request comes from one
    /// trusted address.
    pub fn unlimited(max_concurrent: usize) -> Admission {
        Admission {
            max_concurrent,
            per_client_concurrent: max_concurrent,
            per_client_queue: usize::MAX,
            rate_per_sec: 0.0,
            burst: 0.0,
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// Over the client's request rate: try again after this long.
    Rate(Duration),
    /// The client already has as many requests waiting as it may.
    Queue,
}

impl Refusal {
    /// Seconds for `Retry-After` (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Refusal::Rate(d) => d.as_secs_f64().ceil().max(1.0) as u64,
            Refusal::Queue => 1,
        }
    }
}

/// Most clients whose buckets are kept; beyond, full (idle) buckets are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// Per-client token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` requests a second sustained, `burst` at once; a rate of 0 admits everything.
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at `now`, or says how long until one is there.
    pub fn check(&self, key: ClientKey, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut b = lock(&self.buckets);
        if b.len() >= MAX_TRACKED && !b.contains_key(&key) {
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = b.entry(key).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.rate))
        }
    }
}

#[derive(Debug, Default)]
struct ClientState {
    running: usize,
    waiting: VecDeque<oneshot::Sender<()>>,
}

#[derive(Debug)]
struct GateState {
    free: usize,
    clients: HashMap<ClientKey, ClientState>,
    /// Clients with someone waiting, in the order they will be served.
    turn: VecDeque<ClientKey>,
}

/// Slots for expensive jobs, shared fairly between clients.
#[derive(Debug)]
pub struct FairGate {
    per_client: usize,
    queue: usize,
    state: Mutex<GateState>,
}

/// A slot held; released when dropped.
#[derive(Debug)]
pub struct Slot {
    gate: Arc<FairGate>,
    key: ClientKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.release(self.key);
    }
}

/// Waits for a slot; if dropped after the slot was granted but before it was taken, gives the
/// slot back.
struct Waiting {
    gate: Arc<FairGate>,
    key: ClientKey,
    rx: oneshot::Receiver<()>,
    taken: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if !self.taken && self.rx.try_recv().is_ok() {
            self.gate.release(self.key);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counters half-updated in a way that
    // matters more than refusing service forever would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FairGate {
    /// `total` slots, at most `per_client` for one client, `queue` of its requests waiting.
    pub fn new(total: usize, per_client: usize, queue: usize) -> Arc<FairGate> {
        Arc::new(FairGate {
            per_client: per_client.max(1),
            queue,
            state: Mutex::new(GateState {
                free: total.max(1),
                clients: HashMap::new(),
                turn: VecDeque::new(),
            }),
        })
    }

    /// A slot for `key`: at once when one is free and the client is under its share, else in
    /// its turn; `Refusal::Queue` when the client already has its whole queue waiting.
    pub async fn acquire(self: &Arc<Self>, key: ClientKey) -> Result<Slot, Refusal> {
        let rx = {
            let mut st = lock(&self.state);
            let free = st.free;
            let c = st.clients.entry(key).or_default();
            c.waiting.retain(|tx| !tx.is_closed());
            if free > 0 && c.running < self.per_client && c.waiting.is_empty() {
                c.running += 1;
                st.free -= 1;
                return Ok(Slot {
                    gate: self.clone(),
                    key,
                });
            }
            if c.waiting.len() >= self.queue {
                return Err(Refusal::Queue);
            }
            let (tx, rx) = oneshot::channel();
            c.waiting.push_back(tx);
            if !st.turn.contains(&key) {
                st.turn.push_back(key);
            }
            rx
        };
        let mut w = Waiting {
            gate: self.clone(),
            key,
            rx,
            taken: false,
        };
        // The sender lives in the gate until it is granted, so this only fails if the gate
        // itself is gone, which `self` prevents.
        let granted = (&mut w.rx).await.is_ok();
        w.taken = true;
        if granted {
            Ok(Slot {
                gate: self.clone(),
                key,
            })
        } else {
            Err(Refusal::Queue)
        }
    }

    /// How many slots are free now (for tests and figures).
    pub fn free(&self) -> usize {
        lock(&self.state).free
    }

    fn release(&self, key: ClientKey) {
        let mut st = lock(&self.state);
        st.free += 1;
        if let Some(c) = st.clients.get_mut(&key) {
            c.running = c.running.saturating_sub(1);
        }
        self.dispatch(&mut st);
    }

    /// Hands free slots to waiting clients: each to the waiting client with the fewest jobs
    /// running (ties in turn order), so that a client with many requests gets one slot more
    /// only once everyone waiting has as many.
    fn dispatch(&self, st: &mut GateState) {
        while st.free > 0 {
            let mut best: Option<(usize, usize)> = None;
            for (i, k) in st.turn.iter().enumerate() {
                let Some(c) = st.clients.get(k) else { continue };
                let eligible = c.running < self.per_client && !c.waiting.is_empty();
                if eligible && best.is_none_or(|(_, r)| c.running < r) {
                    best = Some((i, c.running));
                }
            }
            let Some(key) = best.and_then(|(i, _)| st.turn.remove(i)) else {
                break;
            };
            let Some(c) = st.clients.get_mut(&key) else {
                continue;
            };
            while let Some(tx) = c.waiting.pop_front() {
                // A closed sender is a waiter that gave up: skip it.
                if tx.send(()).is_ok() {
                    c.running += 1;
                    st.free -= 1;
                    break;
                }
            }
            if !c.waiting.is_empty() {
                st.turn.push_back(key);
            }
        }
        let GateState { clients, turn, .. } = st;
        turn.retain(|k| clients.get(k).is_some_and(|c| !c.waiting.is_empty()));
        clients.retain(|_, c| c.running > 0 || !c.waiting.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let r = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        let k = key("192.0.2.1");
        for _ in 0..3 {
            assert!(r.check(k, t0).is_ok());
        }
        let wait = r.check(k, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        assert!(r.check(key("192.0.2.2"), t0).is_ok(), "others unaffected");
        assert!(r.check(k, t0 + Duration::from_millis(500)).is_ok());
        assert!(r.check(k, t0 + Duration::from_millis(500)).is_err());
    }

    #[tokio::test]
    async fn a_greedy_client_gets_its_share_and_the_others_their_turn() {
        let gate = FairGate::new(2, 2, 100);
        let (greedy, honest) = (key("192.0.2.1"), key("192.0.2.2"));
        let a = gate.acquire(greedy).await.unwrap();
        let b = gate.acquire(greedy).await.unwrap();
        // The greedy client queues more; the honest one queues after it.
        let g = gate.clone();
        let more: Vec<_> = (0..5)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.acquire(greedy).await.map(|s| (greedy, s)) })
            })
            .collect();
        tokio::task::yield_now().await;
        let h = {
            let g = gate.clone();
            tokio::spawn(async move { g.acquire(honest).await.map(|s| (honest, s)) })
        };
        // Let every task reach the gate's queue (counted, not timed).
        while lock(&gate.state)
            .clients
            .values()
            .map(|c| c.waiting.len())
            .sum::<usize>()
            < 6
        {
            tokio::task::yield_now().await;
        }
        drop(a);
        // The first free slot goes to the honest client, whose turn comes before the greedy
        // client's second turn.
        let (who, s) = h.await.unwrap().unwrap();
        assert_eq!(who, honest);
        drop(s);
        drop(b);
        for m in more {
            let (who, s) = m.await.unwrap().unwrap();
            assert_eq!(who, greedy);
            drop(s);
        }
        assert_eq!(gate.free(), 2);
        assert!(lock(&gate.state).clients.is_empty());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_and_cancelled_waiters_give_back_their_slot() {
        let gate = FairGate::new(1, 1, 1);
        let k = key("192.0.2.1");
        let held = gate.acquire(k).await.unwrap();
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.acquire(k).await.map(drop) });
        while lock(&gate.state).clients[&k].waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.acquire(k).await.unwrap_err(), Refusal::Queue);
        waiter.abort();
        let _ = waiter.await;
        drop(held);
        assert_eq!(gate.free(), 1, "the aborted waiter holds nothing");
        let again = gate.acquire(k).await.unwrap();
        drop(again);
        assert_eq!(gate.free(), 1);
    }
}
