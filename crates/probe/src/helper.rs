//! The control (test-helper) side: what an unfiltered vantage point sees of a URL, measured with
//! the same step functions as the probe.

use crate::adaptive::Cut;
use crate::dns::Linger;
use crate::fetch::{self, Steps};
use crate::{Clock, ProbeConfig};
use interfero_model::control::{ControlDns, ControlHttp, ControlIpInfo, ControlTcp, ControlTls};
use interfero_model::{ControlRequest, ControlResponse};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// Most endpoints the control connects to for one request (its own plus the probe's).
const MAX_ENDPOINTS: usize = 16;

/// `ip_info` flag: the probe resolved this address.
pub const FLAG_PROBE: u32 = 1;
/// `ip_info` flag: the control resolved this address.
pub const FLAG_CONTROL: u32 = 2;
/// `ip_info` flag: the address was in the probe's `tcp_connect`.
pub const FLAG_PROBE_CONNECT: u32 = 4;
/// `ip_info` flag: the address is a bogon (private, loopback, reserved).
pub const FLAG_BOGON: u32 = 8;

/// Answers a control request: resolve, connect to our and the probe's endpoints, TLS, fetch.
pub async fn answer(cfg: &ProbeConfig, req: &ControlRequest) -> ControlResponse {
    let clock = Clock::start();
    let mut resp = ControlResponse::default();
    let url = match fetch::parse_web_url(&req.http_request) {
        Ok(u) => u,
        Err(f) => {
            resp.dns.failure = Some(f.clone());
            resp.http_request.failure = Some(f);
            return resp;
        }
    };
    // The control's answer carries no later DNS replies: no linger.
    let (own, dns_failure, _) = fetch::resolve(cfg, &url, &clock, Linger::Skip).await;
    resp.dns = ControlDns {
        failure: dns_failure.clone(),
        addrs: own.iter().map(|ip| ip.to_string()).collect(),
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let requested: Vec<SocketAddr> = req
        .tcp_connect
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let mut eps: Vec<SocketAddr> = own
        .iter()
        .take(cfg.max_addresses.max(1))
        .map(|ip| SocketAddr::new(*ip, port))
        .collect();
    for ep in &requested {
        if !eps.contains(ep) {
            eps.push(*ep);
        }
    }
    eps.truncate(MAX_ENDPOINTS);

    let mut steps = Steps::new(Linger::Skip, Cut::never());
    // A timed transfer, when asked, runs beside the measurement so that it adds no time. Only
    // to an address the control itself resolved for the URL (and may reach): a caller must not
    // make the control download from an address of its choosing.
    let own_ep = own
        .iter()
        .find(|ip| cfg.scope.permits(**ip))
        .map(|ip| SocketAddr::new(*ip, port));
    let rate = async {
        match own_ep {
            Some(ep) if req.x_throughput => Some(own_transfer(cfg, &url, ep, &clock).await),
            _ => None,
        }
    };
    let measured = async {
        if eps.is_empty() {
            dns_failure
        } else {
            fetch::follow(cfg, url.clone(), eps.clone(), &clock, &mut steps).await
        }
    };
    // The control's copy for the archive, when asked: the same steps (and the same scope
    // checks on every connect), its own fetch beside the measurement.
    let copy = async {
        if req.x_capture {
            let v = interfero_model::capture::Vantage::Control;
            let cap = crate::capture::CONTROL_CAP;
            Some(crate::capture::capture(cfg, &req.http_request, v, cap).await)
        } else {
            None
        }
    };
    // The control walks the delegation when its own resolution fails, or when the probe's did.
    let walk = async {
        if req.x_delegation || crate::dns::walk::worth_walking(resp.dns.failure.as_ref()) {
            crate::dns::walk::walk(cfg, &fetch::host_name(&url), &clock).await
        } else {
            None
        }
    };
    let (failure, rate, walked, copy) = tokio::join!(measured, rate, walk, copy);
    resp.x_throughput = rate;
    resp.x_delegation = walked;
    resp.x_capture = copy;
    let (n_tcp, n_tls) = steps.first_hop.unwrap_or((0, 0));
    for t in steps.tcp_connect.iter().take(n_tcp) {
        let key = format!(
            "{}",
            SocketAddr::new(t.ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])), t.port)
        );
        resp.tcp_connect.entry(key).or_insert(ControlTcp {
            status: t.status.success,
            failure: t.status.failure.clone(),
        });
    }
    for h in steps.tls_handshakes.iter().take(n_tls) {
        resp.tls_handshake
            .entry(h.address.clone())
            .or_insert(ControlTls {
                server_name: h.server_name.clone(),
                status: h.failure.is_none(),
                failure: h.failure.clone(),
                x_leaf_sha256: h.x_chain.first().map(|c| c.sha256.clone()),
            });
    }
    resp.http_request = final_http(&steps, failure);
    resp.ip_info = ip_info(&own, &requested);
    resp
}

/// The control's own timed transfer of the page, for a probe that saw it crawl: the rate an
/// unfiltered vantage point gets from the same server.
async fn own_transfer(
    cfg: &ProbeConfig,
    url: &url::Url,
    addr: SocketAddr,
    clock: &Clock,
) -> interfero_model::measurement::Throughput {
    let host = fetch::host_name(url);
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let leg = crate::throughput::Leg {
        role: "control",
        sni: host.clone(),
    };
    let https = url.scheme() == "https";
    crate::throughput::transfer(cfg, addr, https, &host, &path, &leg, clock).await
}

/// The control's summary of the last round trip of the chain.
fn final_http(steps: &Steps, failure: Option<interfero_model::Failure>) -> ControlHttp {
    let mut out = ControlHttp {
        failure,
        ..ControlHttp::default()
    };
    let Some(last) = steps.requests.last() else {
        return out;
    };
    let r = &last.response;
    if r.code != 0 {
        out.status_code = i64::from(r.code);
    }
    out.body_length = r
        .x_body_length
        .and_then(|n| i64::try_from(n).ok())
        .unwrap_or(-1);
    out.title = r.x_title.clone().unwrap_or_default();
    out.x_body_is_truncated = r.body_is_truncated;
    let mut headers = BTreeMap::new();
    for (k, v) in &r.headers_list {
        headers
            .entry(canonical_header(k))
            .or_insert_with(|| v.clone());
    }
    out.headers = headers;
    out
}

/// `content-type` -> `Content-Type`, as OONI's test helper writes header names.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Flags for every address either side resolved.
fn ip_info(own: &[IpAddr], requested: &[SocketAddr]) -> BTreeMap<String, ControlIpInfo> {
    let mut info: BTreeMap<String, ControlIpInfo> = BTreeMap::new();
    for ip in own {
        info.entry(ip.to_string()).or_default().flags |= FLAG_CONTROL;
    }
    for ep in requested {
        info.entry(ep.ip().to_string()).or_default().flags |= FLAG_PROBE | FLAG_PROBE_CONNECT;
    }
    for (ip, i) in info.iter_mut() {
        if ip.parse().is_ok_and(interfero_model::addr::is_bogon) {
            i.flags |= FLAG_BOGON;
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_written_as_ooni_writes_them() {
        assert_eq!(canonical_header("content-type"), "Content-Type");
        assert_eq!(canonical_header("X-FOO"), "X-Foo");
    }
}
