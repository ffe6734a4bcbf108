//! The capture step: fetch a page the way the probe fetches it (same DNS, TCP, TLS, HTTP steps,
//! redirects followed by hand, the destination scope enforced on every connect) and keep every
//! exchange whole — request headers, response headers, body within a cap, times — for the
//! archive. It returns observations only: whether the page changed is analysis's question.

use crate::adaptive::Cut;
use crate::dns::Linger;
use crate::fetch::{self, Steps};
use crate::{Clock, ProbeConfig};
use chrono::{DateTime, SecondsFormat, Utc};
use interfero_model::capture::{Capture, Exchange, Vantage};
use interfero_model::measurement::{BinaryData, HttpRoundTrip};
use std::net::SocketAddr;
use std::time::Duration;

/// The default cap on one body kept in a capture (a long article with inline markup fits; a
/// video does not, and is kept truncated and marked so).
pub const DEFAULT_CAP: usize = 4 * 1024 * 1024;

/// The cap on the control's copy sent back to a probe (it travels in the control's JSON answer).
pub const CONTROL_CAP: usize = 1024 * 1024;

/// Captures `url` from this vantage point, each body cut at `cap` bytes, the whole fetch within
/// the probe's redirect-chain budget, with the page's embedded images (see [`crate::embeds`]
/// for their bounds). Never fails: a failure is recorded in the capture.
pub async fn capture(cfg: &ProbeConfig, url: &str, vantage: Vantage, cap: usize) -> Capture {
    let mut out = fetch_page(cfg, url, vantage, cap).await;
    crate::embeds::fetch_images(cfg, &mut out, cap).await;
    out.finished = rfc3339(Utc::now());
    out
}

/// One URL's redirect chain as a capture, without embedded images.
pub(crate) async fn fetch_page(
    cfg: &ProbeConfig,
    url: &str,
    vantage: Vantage,
    cap: usize,
) -> Capture {
    let mut cfg = cfg.clone();
    cfg.body_cap = cap;
    // A capture is one page, not a measurement of a list: no shared run state (its DNS cache
    // would mix lookups of a measurement into the capture's).
    cfg.run = None;
    let wall = Utc::now();
    let clock = Clock::start();
    let mut out = Capture {
        url: url.to_string(),
        vantage,
        started: rfc3339(wall),
        ..Capture::default()
    };
    let parsed = match fetch::parse_web_url(url) {
        Ok(u) => u,
        Err(f) => {
            out.failure = Some(f);
            out.finished = rfc3339(Utc::now());
            return out;
        }
    };
    let budget = fetch::chain_budget(&cfg) + cfg.timeouts.dns + cfg.timeouts.connect;
    let mut steps = Steps::new(Linger::Skip, Cut::never());
    let run = async {
        let (addrs, dns_failure, _) = fetch::resolve(&cfg, &parsed, &clock, Linger::Skip).await;
        if addrs.is_empty() {
            return Some(dns_failure.unwrap_or(interfero_model::Failure::DnsNoAnswer));
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let eps: Vec<SocketAddr> = addrs
            .into_iter()
            .take(cfg.max_addresses.max(1))
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        fetch::follow(&cfg, parsed.clone(), eps, &clock, &mut steps).await
    };
    // The chain is bounded by its own budget; this outer bound also covers the first lookup.
    out.failure = match tokio::time::timeout(budget, run).await {
        Ok(f) => f,
        Err(_) => Some(interfero_model::Failure::Timeout),
    };
    out.exchanges = steps.requests.iter().map(|rt| exchange(rt, wall)).collect();
    out.finished = rfc3339(Utc::now());
    out
}

/// One round trip as an archived exchange; its time is the capture's start plus `t0`.
fn exchange(rt: &HttpRoundTrip, wall: DateTime<Utc>) -> Exchange {
    let offset = Duration::try_from_secs_f64(rt.t0.max(0.0)).unwrap_or_default();
    let date = wall + chrono::Duration::from_std(offset).unwrap_or_default();
    let body = match &rt.response.body {
        Some(BinaryData::Text(s)) => s.as_bytes().to_vec(),
        Some(BinaryData::Encoded { data, .. }) => interfero_model::base64::decode(data),
        None => Vec::new(),
    };
    Exchange {
        url: rt.request.url.clone(),
        method: rt.request.method.clone(),
        request_headers: rt.request.headers_list.clone(),
        date: rfc3339(date),
        status: rt.response.code,
        response_headers: rt.response.headers_list.clone(),
        body,
        truncated: rt.response.body_is_truncated,
        failure: rt.failure.clone(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
