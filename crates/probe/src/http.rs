//! One HTTP GET over a stream we built (HTTP/1.1 or h2 by ALPN), bounded in bytes and time.
//!
//! hyper's connection API rather than a client like reqwest: a measurement needs the TCP and
//! TLS steps as separate observations (reqwest lumps their failures together), per-phase
//! timings, the full certificate chain, and a body cut at a byte cap and a deadline.

use crate::adaptive::Cut;
use crate::{failure, Clock, ProbeConfig};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use interfero_model::measurement::{BinaryData, HttpRequest, HttpResponse, HttpRoundTrip};
use interfero_model::Failure;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use url::Url;

/// Aborts the connection task when the round trip is over, whatever way it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Accept header sent (a desktop browser's).
pub const ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The request headers, in the order sent (a desktop browser's set).
fn request_headers(cfg: &ProbeConfig, url: &Url, h2: bool) -> Vec<(String, String)> {
    let mut h = Vec::new();
    if !h2 {
        h.push(("Host".to_string(), host_header(url)));
    }
    h.push(("User-Agent".into(), cfg.user_agent.clone()));
    h.push(("Accept".into(), ACCEPT.into()));
    h.push(("Accept-Language".into(), "en-US,en;q=0.9".into()));
    h
}

/// `host[:port]` as a Host header (default ports omitted).
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Sends GET `url` over `stream` (h2 when `alpn` is `h2`) and records the round trip.
pub async fn get<S>(
    cfg: &ProbeConfig,
    stream: S,
    alpn: Option<&str>,
    url: &Url,
    address: &str,
    clock: &Clock,
) -> HttpRoundTrip
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    get_until(cfg, stream, alpn, url, address, clock, &Cut::never()).await
}

/// Like [`get`], but a response head that does not come is given up as soon as `cut` allows
/// (the control has fetched the page), recorded in `x_adaptive_timeout`. The body, once the
/// head came, always has the full timeout: a slow transfer is measured, not cut.
pub async fn get_until<S>(
    cfg: &ProbeConfig,
    stream: S,
    alpn: Option<&str>,
    url: &Url,
    address: &str,
    clock: &Clock,
    cut: &Cut,
) -> HttpRoundTrip
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let h2 = alpn == Some("h2");
    let headers = request_headers(cfg, url, h2);
    let mut rt = HttpRoundTrip {
        address: Some(address.to_string()),
        alpn: alpn.map(str::to_string),
        request: HttpRequest {
            url: url.to_string(),
            method: "GET".into(),
            headers_list: headers.clone(),
        },
        t0: clock.now(),
        ..HttpRoundTrip::default()
    };
    let started = Instant::now();
    let deadline = started + cfg.timeouts.http;
    let head = tokio::select! {
        h = timeout_at(deadline, send(stream, url, &headers, h2)) => h,
        _ = cut.http(started) => {
            rt.x_adaptive_timeout = Some(started.elapsed().as_secs_f64());
            return finish(rt, Some(Failure::Timeout), clock);
        }
    };
    let (resp, _driver) = match head {
        Err(_) => return finish(rt, Some(Failure::Timeout), clock),
        Ok(Err(f)) => return finish(rt, Some(f), clock),
        Ok(Ok(r)) => r,
    };
    let (parts, mut body) = resp.into_parts();
    rt.response.code = parts.status.as_u16();
    rt.response.headers_list = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_string(), v)
        })
        .collect();
    let mut buf: Vec<u8> = Vec::new();
    let mut fail = None;
    loop {
        match timeout_at(deadline, body.frame()).await {
            Err(_) => {
                fail = Some(Failure::Timeout);
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                fail = Some(hyper_failure(&e));
                break;
            }
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                if !data.is_empty() {
                    rt.response.x_last_byte_t = Some(clock.now());
                }
                let room = cfg.body_cap.saturating_sub(buf.len());
                if data.len() > room {
                    buf.extend_from_slice(data.get(..room).unwrap_or_default());
                    rt.response.body_is_truncated = true;
                    break;
                }
                buf.extend_from_slice(&data);
            }
        }
    }
    fill_body(&mut rt.response, buf);
    finish(rt, fail, clock)
}

fn finish(mut rt: HttpRoundTrip, fail: Option<Failure>, clock: &Clock) -> HttpRoundTrip {
    rt.failure = fail;
    rt.t = clock.now();
    rt
}

type Head = (hyper::Response<hyper::body::Incoming>, AbortOnDrop);

/// Handshakes HTTP over `stream`, sends the request and waits for the response head.
async fn send<S>(
    stream: S,
    url: &Url,
    headers: &[(String, String)],
    h2: bool,
) -> Result<Head, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    // h2 wants the absolute URI; HTTP/1.1 wants origin-form plus a Host header.
    let uri = if h2 {
        // A fragment is never sent; http::Uri would reject it.
        let mut u = url.clone();
        u.set_fragment(None);
        u.to_string()
    } else {
        match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        }
    };
    let mut req = hyper::Request::get(uri);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| Failure::Other(format!("unknown_failure: bad request: {e}")))?;
    let err = |e: hyper::Error| hyper_failure(&e);
    if h2 {
        let (mut sender, conn) = http2::Builder::new(TokioExecutor::new())
            .max_header_list_size(256 * 1024)
            .handshake(io)
            .await
            .map_err(err)?;
        let driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let resp = sender.send_request(req).await.map_err(err)?;
        Ok((resp, driver))
    } else {
        let (mut sender, conn) = http1::Builder::new()
            .max_buf_size(256 * 1024)
            .handshake(io)
            .await
            .map_err(err)?;
        let driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let resp = sender.send_request(req).await.map_err(err)?;
        Ok((resp, driver))
    }
}

/// The OONI failure for a hyper error: the socket's own error when there is one.
fn hyper_failure(e: &hyper::Error) -> Failure {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return failure::from_io(io);
        }
        src = s.source();
    }
    if e.is_parse() || e.is_parse_status() {
        Failure::Other("http_malformed_response".into())
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        Failure::Eof
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Other(format!("unknown_failure: {e}"))
    }
}

/// Stores the body (text when UTF-8, else base64), its length and its title.
fn fill_body(resp: &mut HttpResponse, buf: Vec<u8>) {
    resp.x_body_length = Some(buf.len() as u64);
    resp.x_title = title(&String::from_utf8_lossy(&buf));
    resp.body = Some(match String::from_utf8(buf) {
        Ok(s) => BinaryData::Text(s),
        Err(e) => {
            let bytes = e.into_bytes();
            BinaryData::Encoded {
                format: "base64".into(),
                data: interfero_model::base64::encode(&bytes),
            }
        }
    });
}

pub use interfero_model::html::title;
