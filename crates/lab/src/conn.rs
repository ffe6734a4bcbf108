//! One listener per site address is "censor + origin": on accept it looks at the peer, applies
//! the censor's TLS/HTTP/throttle rules to probe-side peers only (anything but the control's
//! bind address), then serves the origin. The lab blockpage server lives here too.

use crate::censor;
use crate::http::{self, read_request, Request, BLOCKPAGE_BODY, REPLACED_BODY};
use crate::pki::{Leaf, BLOCKPAGE_NAME};
use crate::rtt::Pace;
use crate::scenario::{Action, Site, SiteKind, UnknownSni};
use crate::util::{arm_reset, hold};
use crate::world::{Shared, BLOCKPAGE_URL};
use rustls::server::Acceptor;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_rustls::LazyConfigAcceptor;

/// How long the client may take to send its ClientHello or finish the handshake.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);
/// Upper bound on any one connection (endless bodies, drips, throttled transfers).
const CONN_MAX: Duration = Duration::from_secs(300);
/// Default body of a `large` site: 2 MiB.
const LARGE_DEFAULT: usize = 2 * 1024 * 1024;
/// Server time of a `slow` site before each response.
pub(crate) const SLOW_SERVER_TIME: Duration = Duration::from_millis(200);
/// Bytes written between pacing sleeps when throttling.
const PACE_CHUNK: usize = 1024;

/// What a listener serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    /// Site number `idx` of the scenario, over TLS or not.
    Site { idx: usize, tls: bool },
    /// The lab blockpage server (target of dns.hijack and http.redirect).
    Blockpage { tls: bool },
}

/// Accepts connections until the world stops.
pub(crate) async fn serve(sh: Arc<Shared>, listener: TcpListener, role: Role) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            // Out of descriptors or similar: back off rather than spin.
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        let probe = !sh.is_control(peer.ip());
        let sh2 = sh.clone();
        sh.tasks.spawn(async move {
            let _ = timeout(CONN_MAX, handle(sh2, stream, role, probe)).await;
        });
    }
}

async fn handle(sh: Arc<Shared>, stream: TcpStream, role: Role, probe: bool) {
    let pace = Pace::accepted_now(sh.rtt());
    let (idx, tls) = match role {
        Role::Blockpage { tls } => return blockpage(sh, stream, tls, pace).await,
        Role::Site { idx, tls } => (idx, tls),
    };
    // The listener's own site: what address rules name. The site served is picked below by
    // SNI or Host, when others share this address.
    let Some(owner) = sh.scenario.sites.get(idx) else {
        return;
    };
    if probe && censor::shutdown(&sh.scenario, sh.kind, sh.now()) {
        return hold(stream).await;
    }
    if owner.kind == SiteKind::Flaky {
        let n = sh
            .conn_count
            .get(idx)
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed));
        if n % 2 == 1 {
            arm_reset(&stream);
            return;
        }
    }
    if !tls {
        // The site is picked by the request's Host, once it is read.
        return exchange(&sh, idx, None, stream, probe, None, pace).await;
    }
    let Ok(Ok(start)) = timeout(
        HANDSHAKE_WAIT,
        LazyConfigAcceptor::new(Acceptor::default(), stream),
    )
    .await
    else {
        return;
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase);
    let Some(site) = sh.scenario.sites.get(sh.served(idx, sni.as_deref())) else {
        return;
    };
    let foreign = sni
        .as_deref()
        .is_some_and(|n| !n.eq_ignore_ascii_case(&site.name));
    if foreign && site.unknown_sni == UnknownSni::Refuse {
        // A CDN edge that serves no such name: the handshake ends before a server hello.
        pace.first_bytes().await;
        let mut io = start.io;
        let _ = io.shutdown().await;
        return;
    }
    if site.kind == SiteKind::TlsGarbage {
        pace.first_bytes().await;
        let mut io = start.io;
        let _ = io
            .write_all(b"\x15\x03\x03garbage-not-tls\x00\xff\xfe")
            .await;
        let _ = io.shutdown().await;
        return;
    }
    // A router's injector resets this ClientHello; the real server is farther away.
    if probe && censor::reset_at_hop(&sh.scenario, sh.kind, sh.now(), sni.as_deref()) {
        tokio::time::sleep(crate::dns::INJECTION_LAG).await;
    }
    let action = if probe {
        censor::tls(&sh.scenario, sh.kind, sh.now(), &owner.name, sni.as_deref())
    } else {
        None
    };
    if action != Some(Action::TlsStall) {
        // The answer to the ClientHello (server flight, or the censor's reset/EOF).
        pace.first_bytes().await;
    }
    let (leaf, name) = match action {
        Some(Action::TlsStall) => return hold(start.io).await,
        Some(Action::TlsReset) => return arm_reset(&start.io),
        Some(Action::TlsEof) => {
            let mut io = start.io;
            let _ = io.shutdown().await;
            return;
        }
        Some(Action::TlsIntercept) => {
            (Leaf::Mitm, sni.clone().unwrap_or_else(|| site.name.clone()))
        }
        _ => (Leaf::Origin(site.cert), site.name.clone()),
    };
    let Ok(cfg) = sh.pki.config(leaf, &name) else {
        return;
    };
    let Ok(Ok(stream)) = timeout(HANDSHAKE_WAIT, start.into_stream(cfg)).await else {
        return;
    };
    exchange(&sh, idx, Some(site), stream, probe, sni.as_deref(), pace).await
}

/// Access to the TCP socket under a stream, to reset or half-close it below TLS (an on-path
/// censor cannot send a TLS close_notify or alert on the server's behalf).
pub(crate) trait Tcp {
    fn tcp(&mut self) -> &mut TcpStream;
}
impl Tcp for TcpStream {
    fn tcp(&mut self) -> &mut TcpStream {
        self
    }
}
impl Tcp for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&mut self) -> &mut TcpStream {
        self.get_mut().0
    }
}

/// One request on a connection to the listener of site `owner` (what address rules name):
/// served as `site` (picked by SNI over TLS), or without one as the site its Host names.
async fn exchange<S>(
    sh: &Shared,
    owner: usize,
    site: Option<&Site>,
    mut s: S,
    probe: bool,
    sni: Option<&str>,
    pace: Pace,
) where
    S: AsyncRead + AsyncWrite + Unpin + Tcp,
{
    let Some(req) = read_request(&mut s).await else {
        return;
    };
    let by_host = || sh.scenario.sites.get(sh.served(owner, Some(&req.host)));
    let (Some(owner), Some(site)) = (sh.scenario.sites.get(owner), site.or_else(by_host)) else {
        return;
    };
    let t = sh.now();
    let action = if probe {
        censor::http(&sh.scenario, sh.kind, t, &owner.name, &req.host, &req.path)
    } else {
        None
    };
    if action != Some(Action::HttpTimeout) {
        pace.response().await;
    }
    {
        match action {
            Some(Action::HttpBlockpage) => {
                send(
                    &mut s,
                    &http::response(200, "OK", BLOCKPAGE_BODY.as_bytes(), &[]),
                )
                .await;
                return;
            }
            Some(Action::HttpRedirect) => {
                let loc = format!("{BLOCKPAGE_URL}?blocked={}", req.host);
                send(
                    &mut s,
                    &http::response(302, "Found", b"", &[("Location", &loc)]),
                )
                .await;
                return;
            }
            Some(Action::HttpReplace) => {
                send(
                    &mut s,
                    &http::response(200, "OK", REPLACED_BODY.as_bytes(), &[]),
                )
                .await;
                return;
            }
            Some(Action::HttpReset) => return arm_reset(s.tcp()),
            Some(Action::HttpTimeout) => return hold(s).await,
            Some(Action::HttpEof) => {
                let _ = s.tcp().shutdown().await;
                return;
            }
            _ => {}
        }
    }
    let foreign = sni.is_some_and(|n| !n.eq_ignore_ascii_case(&site.name));
    if foreign && site.unknown_sni == UnknownSni::ErrorPage {
        let page = b"<html><head><title>421 Misdirected Request</title></head><body>Unknown domain</body></html>";
        send(
            &mut s,
            &http::response(421, "Misdirected Request", page, &[]),
        )
        .await;
        return;
    }
    if let Some((code, extra, body)) = crate::content::serve(&site.pages, &req.path, t) {
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        send(&mut s, &http::response(code, "", &body, &extra)).await;
        return;
    }
    let policed = if probe {
        censor::throttle(&sh.scenario, sh.kind, t, &owner.name, sni, &req.host)
    } else {
        None
    };
    // The slower of the censor's policer and the origin's own uplink.
    let rate = match (policed, site.uplink_kbps) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    origin(site, &req, probe, s, rate).await;
}

async fn origin<S: AsyncWrite + Unpin + Tcp>(
    site: &Site,
    req: &Request,
    probe: bool,
    mut s: S,
    rate: Option<u32>,
) {
    let title = site.title.clone().unwrap_or_else(|| site.name.clone());
    let ok = |body: Vec<u8>| http::response(200, "OK", &body, &[]);
    let bytes = match site.kind {
        SiteKind::Dynamic => ok(http::dynamic_page(&title).into_bytes()),
        SiteKind::Large => ok(http::filler(site.size.unwrap_or(LARGE_DEFAULT))),
        SiteKind::Redirect => {
            let loc = site.redirect_to.clone().unwrap_or_default();
            http::response(302, "Found", b"", &[("Location", &loc)])
        }
        SiteKind::Captcha if probe => {
            http::response(403, "Forbidden", http::captcha_page().as_bytes(), &[])
        }
        SiteKind::Slow => {
            sleep(SLOW_SERVER_TIME).await;
            ok(http::page(&title, &req.host).into_bytes())
        }
        SiteKind::Endless => {
            if s.write_all(&http::head(200, "OK", None, &[]))
                .await
                .is_err()
            {
                return;
            }
            let chunk = http::filler(16 * 1024);
            while write_paced(&mut s, &chunk, rate).await {}
            return;
        }
        SiteKind::Drip => {
            let body = http::page(&title, &req.host);
            if s.write_all(&http::head(200, "OK", Some(body.len()), &[]))
                .await
                .is_err()
            {
                return;
            }
            for b in body.as_bytes().chunks(1) {
                if s.write_all(b).await.is_err() || s.flush().await.is_err() {
                    return;
                }
                sleep(Duration::from_secs(1)).await;
            }
            return;
        }
        _ => ok(http::page(&title, &req.host).into_bytes()),
    };
    if write_paced(&mut s, &bytes, rate).await && s.flush().await.is_ok() {
        if site.close_notify {
            let _ = s.shutdown().await;
        } else {
            // Closed below TLS: the client reads the whole page, then an EOF with no
            // close_notify.
            let _ = s.tcp().shutdown().await;
        }
    }
}

/// Writes a whole response and closes (TLS: with close_notify), flushing what rustls buffered.
async fn send<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) {
    if s.write_all(bytes).await.is_ok() && s.flush().await.is_ok() {
        let _ = s.shutdown().await;
    }
}

/// Writes `bytes`, paced to `rate` kbit/s when given; false when the client went away.
async fn write_paced<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8], rate: Option<u32>) -> bool {
    let Some(kbps) = rate.filter(|k| *k > 0) else {
        return s.write_all(bytes).await.is_ok() && s.flush().await.is_ok();
    };
    let start = Instant::now();
    let mut sent = 0usize;
    for chunk in bytes.chunks(PACE_CHUNK) {
        if s.write_all(chunk).await.is_err() || s.flush().await.is_err() {
            return false;
        }
        sent += chunk.len();
        // Sleep until the moment at which `sent` bytes are due at the target rate.
        let due = Duration::from_secs_f64(sent as f64 * 8.0 / (f64::from(kbps) * 1000.0));
        sleep_until(start + due).await;
    }
    true
}

/// The lab blockpage server: a blockpage for any Host; over TLS with a certificate valid only
/// for `blockpage.lab.test`, so a hijacked HTTPS name fails validation as it would in the field.
async fn blockpage(sh: Arc<Shared>, stream: TcpStream, tls: bool, pace: Pace) {
    let page = http::response(200, "OK", BLOCKPAGE_BODY.as_bytes(), &[]);
    if !tls {
        let mut s = stream;
        if read_request(&mut s).await.is_some() {
            pace.response().await;
            send(&mut s, &page).await;
        }
        return;
    }
    // The ClientHello waits in the socket; the server flight leaves when it may.
    pace.first_bytes().await;
    let Ok(cfg) = sh.pki.config(Leaf::Blockpage, BLOCKPAGE_NAME) else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let Ok(Ok(mut s)) = timeout(HANDSHAKE_WAIT, acceptor.accept(stream)).await else {
        return;
    };
    if read_request(&mut s).await.is_some() {
        pace.response().await;
        send(&mut s, &page).await;
    }
}
