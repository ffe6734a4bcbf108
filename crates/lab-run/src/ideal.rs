//! The ideal time of a benchmark world: what a probe that wastes nothing would need, given the
//! world's round-trip time, the protocol's order and the waits the method cannot skip.
//!
//! One target's critical path, with `R` the RTT and `L` the DNS linger (listening for a second,
//! injected answer, which can run beside everything after the first answer):
//!
//! `cp = R (probe DNS) + max(probe's steps after DNS, control, L)`
//!
//! The control is asked after the probe's DNS, because the Web Connectivity request carries the
//! probe's addresses; it resolves (R) and fetches the page itself. Steps cost, in the lab's
//! emulation (`lab/src/rtt.rs`): TCP + TLS = 2R (first server bytes two RTTs after connect),
//! HTTP = 1R, plain HTTP's first response = 2R, a refusal 0. Waits that blocked targets must sit
//! out are the probe's own timeouts: a dropped DNS query waits the DNS timeout (then the control
//! runs, 4R); a stalled TLS handshake waits until the probe may decide (`tls_stall_wait`); a
//! request that is never answered waits until the probe may decide (`http_stall_wait`). Both
//! decisions come from the probe's rule (`probe::adaptive`): once the control has answered that
//! the site works, `max(floor, multiplier × the control's time)`, capped by the full timeout.
//!
//! The world's ideal: `max(Σ cp / parallel, max cp)` — perfect packing of the critical paths
//! into `parallel` slots, and never shorter than its longest target.

use interfero_lab::bench::{Kind, SLOW_SERVER_TIME};
use interfero_probe::ProbeConfig;
use std::time::Duration;

/// The ideal of a world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ideal {
    /// Σ cp.
    pub total: Duration,
    /// max cp.
    pub longest: Duration,
    /// `max(total / parallel, longest)`.
    pub wall: Duration,
}

/// How long the probe waits on a TLS handshake stalled after the ClientHello, when the control
/// answered after `control` and reported a valid handshake: the adaptive wait, capped by the
/// TLS timeout (without adaptation, the timeout).
pub fn tls_stall_wait(cfg: &ProbeConfig, control: Duration) -> Duration {
    match cfg.adaptive {
        Some(a) => a.wait(control).min(cfg.timeouts.tls),
        None => cfg.timeouts.tls,
    }
}

/// How long the probe waits for the head of a response that never comes, when the control
/// fetched the page in `control`. No paired transfers follow: nothing of the response came.
pub fn http_stall_wait(cfg: &ProbeConfig, control: Duration) -> Duration {
    match cfg.adaptive {
        Some(a) => a.wait(control).min(cfg.timeouts.http),
        None => cfg.timeouts.http,
    }
}

/// The critical path of one target of `kind`.
pub fn critical_path(kind: Kind, rtt: Duration, cfg: &ProbeConfig) -> Duration {
    use Kind::*;
    let r = rtt;
    let linger = cfg.timeouts.dns_linger;
    // (probe's steps after its DNS, the control's whole answer).
    let (probe, control) = match kind {
        Https | Dynamic | Cdn | Large => (3 * r, 4 * r),
        Slow => (3 * r + SLOW_SERVER_TIME, 4 * r + SLOW_SERVER_TIME),
        Http => (2 * r, 3 * r),
        // http hop (2R), DNS of the landing name (R), https hop (3R); the control adds its DNS.
        Redirect => (6 * r, 7 * r),
        DownRefused | DownNxdomain => (Duration::ZERO, r),
        TlsStall => (tls_stall_wait(cfg, 4 * r), 4 * r),
        TlsReset | TlsEof | TlsIntercept | DnsHijack | DnsInjection => (2 * r, 4 * r),
        DnsNxdomain | DnsServfail | DnsRefused | DnsNoAnswer => (Duration::ZERO, 4 * r),
        // Nothing answers: the probe waits its DNS timeout, then asks the control.
        DnsTimeout => return cfg.timeouts.dns + 4 * r,
        HttpBlockpage | HttpReset => (2 * r, 3 * r),
        // http hop (2R), DNS of the blockpage server's name (R), its page (2R).
        HttpRedirect => (5 * r, 3 * r),
        HttpTimeout => (r + http_stall_wait(cfg, 3 * r), 3 * r),
        // Both sides cap the body at loopback speed.
        Endless => (3 * r, 4 * r),
        // The head comes, the body never ends in time: both sides wait the HTTP timeout, then
        // the probe runs its paired transfers (the control failed too: nothing is cut).
        Drip => (
            3 * r + cfg.timeouts.http + cfg.throughput_window,
            4 * r + cfg.timeouts.http,
        ),
    };
    r + probe.max(control).max(linger)
}

/// The ideal wall time of measuring `kinds` with `parallel` in flight.
pub fn ideal(kinds: &[Kind], rtt: Duration, cfg: &ProbeConfig, parallel: usize) -> Ideal {
    let paths: Vec<Duration> = kinds.iter().map(|k| critical_path(*k, rtt, cfg)).collect();
    let total: Duration = paths.iter().sum();
    let longest = paths.iter().copied().max().unwrap_or_default();
    let slots = u32::try_from(parallel.max(1)).unwrap_or(u32::MAX);
    Ideal {
        total,
        longest,
        wall: (total / slots).max(longest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessible_https_is_five_round_trips_or_the_linger() {
        let cfg = ProbeConfig::default();
        let r = Duration::from_millis(50);
        // R + max(4R, L): the linger (300 ms) is longer than the control's 4 RTTs at 50 ms.
        assert_eq!(
            critical_path(Kind::Https, r, &cfg),
            r + cfg.timeouts.dns_linger
        );
        let slow = Duration::from_millis(200);
        assert_eq!(critical_path(Kind::Https, slow, &cfg), slow * 5);
        assert_eq!(
            critical_path(Kind::DnsTimeout, r, &cfg),
            cfg.timeouts.dns + r * 4
        );
    }

    #[test]
    fn ideal_is_never_shorter_than_the_longest_target() {
        let cfg = ProbeConfig::default();
        let r = Duration::from_millis(50);
        let one = ideal(&[Kind::HttpTimeout], r, &cfg, 64);
        assert_eq!(one.wall, one.longest);
        let many = ideal(&vec![Kind::Https; 6400], r, &cfg, 64);
        assert_eq!(many.wall, many.total / 64);
    }
}
