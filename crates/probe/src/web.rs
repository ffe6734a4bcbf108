//! The Web Connectivity measurement: DNS, then the control query alongside TCP/TLS/HTTP and the
//! DNS linger. The control's answer, as soon as it comes, lets a stalled step be decided early
//! (`adaptive`).

use crate::adaptive::{Cut, Hint};
use crate::dns::Linger;
use crate::fetch::{self, Steps};
use crate::{http, Clock, ControlClient, ProbeConfig};
use interfero_model::{ControlRequest, TestKeys};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Measures `url` from here, and asks `control` (when given) what an unfiltered vantage sees.
pub async fn measure(cfg: &ProbeConfig, url: &str, control: Option<&ControlClient>) -> TestKeys {
    let clock = Clock::start();
    let mut tk = TestKeys {
        client_resolver: Some(
            cfg.resolver
                .addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "system".into()),
        ),
        ..TestKeys::default()
    };
    let parsed = match fetch::parse_web_url(url) {
        Ok(u) => u,
        Err(f) => {
            tk.http_experiment_failure = Some(f);
            return tk;
        }
    };
    // The first answers are enough to go on; later replies (injection) are listened for while
    // the rest of the measurement runs.
    let (addrs, dns_failure, lookup) = fetch::resolve(cfg, &parsed, &clock, Linger::Defer).await;
    tk.dns_experiment_failure = dns_failure.clone();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let endpoints: Vec<SocketAddr> = addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    let mut req = control_request(cfg, url, &endpoints);
    // A name the resolver fails: the zones' own servers say whether the registry still
    // delegates it; the control walks too, from outside the network.
    let walk_host =
        crate::dns::walk::worth_walking(dns_failure.as_ref()).then(|| fetch::host_name(&parsed));
    req.x_delegation = walk_host.is_some() && !cfg.delegation.hints.servers.is_empty();

    let (hint, cut) = Cut::channel(cfg.adaptive);
    let ask_control = async {
        let c = control?;
        let asked = tokio::time::Instant::now();
        let answer = c.query(&req).await;
        if let Ok(r) = &answer {
            hint.send_replace(Some(Arc::new(Hint::from_answer(r, asked.elapsed()))));
        }
        Some(answer)
    };
    let finish_dns = async {
        match lookup {
            Some(l) => l.finish().await,
            None => Vec::new(),
        }
    };
    let fetch_here = async {
        let mut steps = Steps::new(Linger::Defer, cut);
        // Without addresses there is nothing to connect to: the HTTP step fails as DNS did
        // (OONI reports the DNS error as the HTTP failure too).
        let failure = if endpoints.is_empty() {
            dns_failure.clone()
        } else {
            let first: Vec<SocketAddr> = endpoints
                .iter()
                .take(cfg.max_addresses.max(1))
                .copied()
                .collect();
            fetch::follow(cfg, parsed.clone(), first, &clock, &mut steps).await
        };
        (steps, failure)
    };
    let walk_here = async {
        match &walk_host {
            Some(h) => crate::dns::walk::walk(cfg, h, &clock).await,
            None => None,
        }
    };
    let (answer, (mut steps, http_failure), first_queries, walked) =
        tokio::join!(ask_control, fetch_here, finish_dns, walk_here);
    tk.queries = first_queries;
    tk.x_delegation = walked;
    steps.finish().await;

    match answer {
        Some(Ok(r)) => tk.control = Some(r),
        Some(Err(e)) => tk.control_failure = Some(e.to_string()),
        None => {}
    }
    // Paired transfers tell a throttled transfer from a blocked one: worth running when the
    // response had begun, or when over TLS a handshake valid for the name was followed by
    // silence (a filter that let it through has seen all it can see: a path slowed as a whole,
    // or a policer of that name, can hold back the head past the cut). A plaintext request met
    // with silence is the common blackholing filter, which read the request: no rate to time.
    let timed_out = http_failure == Some(interfero_model::Failure::Timeout);
    let head_came = steps.requests.last().is_some_and(|r| r.response.code != 0);
    if (timed_out && (head_came || silent_after_valid_tls(&steps))) || slow_body(cfg, &steps) {
        // The control times its own transfer at the same time, when it answered at all.
        let mut rate_req = req.clone();
        rate_req.x_throughput = true;
        let control_rate = async {
            match control {
                Some(c) if tk.control.is_some() => c.query(&rate_req).await.ok()?.x_throughput,
                _ => None,
            }
        };
        let (pairs, control_rate) =
            tokio::join!(slow_fetch_transfers(cfg, &steps, &clock), control_rate);
        if !pairs.is_empty() {
            tk.x_throughput = pairs;
            if let (Some(c), Some(rate)) = (tk.control.as_mut(), control_rate) {
                c.x_throughput = Some(rate);
            }
        }
    }
    tk.queries.extend(steps.queries);
    tk.tcp_connect = steps.tcp_connect;
    tk.tls_handshakes = steps.tls_handshakes;
    tk.requests = steps.requests;
    tk.requests.reverse(); // OONI orders requests last hop first
    tk.http_experiment_failure = http_failure;
    tk
}

/// Whether the last hop's page arrived, but slowly enough to be worth a paired transfer.
fn slow_body(cfg: &ProbeConfig, steps: &Steps) -> bool {
    let Some(last) = steps.requests.last() else {
        return false;
    };
    let bytes = last.response.x_body_length.unwrap_or(0);
    let secs = last.t - last.t0;
    if last.failure.is_some() || bytes < crate::config::SLOW_FETCH_MIN_BYTES || secs <= 0.0 {
        return false;
    }
    (bytes as f64 * 8.0 / 1000.0) / secs < cfg.slow_fetch_kbps
}

/// Whether the last hop was sent over a TLS handshake that validated for its name on its
/// address, and no response head came back.
fn silent_after_valid_tls(steps: &Steps) -> bool {
    let Some(last) = steps.requests.last() else {
        return false;
    };
    last.response.code == 0
        && last.request.url.starts_with("https:")
        && last.address.as_deref().is_some_and(|a| {
            steps
                .tls_handshakes
                .iter()
                .any(|t| t.address == a && t.failure.is_none())
        })
}

/// When the last hop timed out (or crawled) on a connection that worked (TCP, and TLS valid for
/// the name), the page may be throttled rather than blocked: measure the path's rate under the target's
/// name and under a name no filter targets, at once.
async fn slow_fetch_transfers(
    cfg: &ProbeConfig,
    steps: &Steps,
    clock: &Clock,
) -> Vec<interfero_model::measurement::Throughput> {
    let Some(last) = steps.requests.last() else {
        return Vec::new();
    };
    let Some(addr) = last
        .address
        .as_deref()
        .and_then(|a| a.parse::<SocketAddr>().ok())
    else {
        return Vec::new();
    };
    let Ok(url) = url::Url::parse(&last.request.url) else {
        return Vec::new();
    };
    let https = url.scheme() == "https";
    let host = fetch::host_name(&url);
    let tls_ok = steps
        .tls_handshakes
        .iter()
        .any(|t| t.address == addr.to_string() && t.failure.is_none());
    if https && !tls_ok {
        return Vec::new();
    }
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    crate::throughput::paired(cfg, addr, https, &host, &path, clock).await
}

/// The control request for `url`: every resolved endpoint and the headers we send.
pub fn control_request(cfg: &ProbeConfig, url: &str, endpoints: &[SocketAddr]) -> ControlRequest {
    let mut headers = BTreeMap::new();
    headers.insert("Accept".to_string(), vec![http::ACCEPT.to_string()]);
    headers.insert("User-Agent".to_string(), vec![cfg.user_agent.clone()]);
    ControlRequest {
        http_request: url.to_string(),
        http_request_headers: headers,
        tcp_connect: endpoints.iter().map(|e| e.to_string()).collect(),
        ..ControlRequest::default()
    }
}
