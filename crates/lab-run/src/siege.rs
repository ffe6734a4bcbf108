//! `lab siege`: the control as shipped (the `interfero control` binary at its defaults, in a
//! child process) under hostile load on loopback, bounded in count and time: thousands of idle
//! connections, slow heads, and a flood of requests from many addresses that try to reach
//! private space or send garbage, while an honest client keeps asking. Measures the child's
//! memory (RSS from /proc), what each request got, the honest client's latency and how fast
//! idle connections are reaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};

/// Addresses the idle and slow connections come from (each over its connection share).
pub const IDLE_SOURCES: usize = 4;

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Connections opened and left idle.
    pub idle: usize,
    /// Connections that send half a request head and stop.
    pub slow: usize,
    /// Hostile requests in all, from `clients` loopback addresses.
    pub requests: usize,
    /// Distinct client addresses of the flood (127.0.1.x ...).
    pub clients: usize,
    /// Requests of the honest client (one address of its own) during the flood.
    pub honest: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            idle: 2000,
            slow: 200,
            requests: 10_000,
            clients: 50,
            honest: 50,
        }
    }
}

/// What a siege measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The plan.
    pub idle: usize,
    /// Slow-head connections opened.
    pub slow: usize,
    /// Hostile requests sent.
    pub requests: usize,
    /// Flood client addresses.
    pub clients: usize,
    /// The control's own startup notes (its limits).
    pub notes: Vec<String>,
    /// RSS of the control after start, KiB.
    pub rss_start_kib: u64,
    /// RSS with every idle and slow connection open, KiB.
    pub rss_idle_kib: u64,
    /// RSS right after the flood, KiB.
    pub rss_flood_kib: u64,
    /// Peak RSS of the whole siege (VmHWM), KiB.
    pub rss_peak_kib: u64,
    /// Idle and slow connections the control closed within a second (over its limit).
    pub closed_at_once: usize,
    /// Seconds until the control had closed every idle and slow connection.
    pub reaped_s: f64,
    /// Flood answers by HTTP status (0: connection closed without an answer).
    pub statuses: BTreeMap<u16, usize>,
    /// Honest requests answered 200.
    pub honest_ok: usize,
    /// Honest requests sent.
    pub honest: usize,
    /// Honest latencies, ms, sorted.
    pub honest_ms: Vec<f64>,
    /// Seconds the flood took.
    pub flood_s: f64,
}

/// Why a siege could not run.
#[derive(Debug, thiserror::Error)]
pub enum SiegeError {
    /// The control could not be started or said nothing usable.
    #[error("cannot start the control {0}: {1}")]
    Start(String, String),
}

fn kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn start(bin: &Path) -> Result<(Child, SocketAddr, Vec<String>), SiegeError> {
    let fail = |e: String| SiegeError::Start(bin.display().to_string(), e);
    // A free port named on the command line (earlier builds print the address they were
    // given, not the one bound).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| fail(e.to_string()))?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin)
        .args(["control", "--listen", &listen, "--resolver", "127.0.0.1:9"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| fail("no stderr".into()))?;
    let mut lines = BufReader::new(stderr).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| fail("no output within 10 s".into()))?
        .map_err(|e| fail(e.to_string()))?
        .unwrap_or_default();
    let addr = first
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| fail(format!("no address in {first:?}")))?;
    let mut notes = Vec::new();
    while let Ok(Ok(Some(l))) =
        tokio::time::timeout(Duration::from_millis(200), lines.next_line()).await
    {
        notes.push(l.trim_start_matches("interfero control: ").to_string());
    }
    // Keep draining, so the control never writes into a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr, notes))
}

async fn connect_from(source: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(source, 0))?;
    s.connect(to).await
}

/// One request on a fresh connection; the status (0: no answer). Bounded by 30 s.
async fn request(source: IpAddr, to: SocketAddr, head: &str, body: &[u8]) -> u16 {
    let go = async {
        let mut s = connect_from(source, to).await.ok()?;
        s.write_all(head.as_bytes()).await.ok()?;
        s.write_all(body).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        // Only the status line matters; read the rest away (bounded by the server's caps).
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n.min(4096)]),
            }
            if got.len() > 64 * 1024 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&got);
        text.split(' ').nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(30), go)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

fn post(body: &[u8]) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: control\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
}

/// The hostile requests, in turn: private destinations in several spellings, garbage, deep
/// nesting, liveness checks.
fn hostile(i: usize) -> (String, Vec<u8>) {
    let bodies: [&[u8]; 5] = [
        br#"{"http_request":"http://127.0.0.1:1/","x_throughput":true}"#,
        br#"{"http_request":"http://[::ffff:127.0.0.1]:22/","tcp_connect":["127.0.0.1:22","[::1]:22"]}"#,
        br#"{"http_request": 5}"#,
        b"{\"http_request\": ",
        &[b'['; 4096],
    ];
    match i % 6 {
        5 => (
            "GET /health HTTP/1.1\r\nHost: control\r\nConnection: close\r\n\r\n".into(),
            Vec::new(),
        ),
        k => (post(bodies[k]), bodies[k].to_vec()),
    }
}

/// Runs the siege against `bin` (the `interfero` binary).
pub async fn run(bin: &Path, plan: Plan) -> Result<Report, SiegeError> {
    let (mut child, addr, notes) = start(bin).await?;
    let pid = child.id().unwrap_or(0);
    let mut r = Report {
        idle: plan.idle,
        slow: plan.slow,
        requests: plan.requests,
        clients: plan.clients,
        notes,
        rss_start_kib: kib(pid, "VmRSS:"),
        ..Report::default()
    };
    // Idle and slow connections, each watched for the moment the control closes it.
    let opened = Instant::now();
    let mut watchers = Vec::new();
    for i in 0..plan.idle + plan.slow {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1 + (i % IDLE_SOURCES) as u8));
        let Ok(mut s) = connect_from(source, addr).await else {
            continue;
        };
        if i >= plan.idle {
            let _ = s
                .write_all(b"POST / HTTP/1.1\r\nHost: control\r\nX-Slow: ")
                .await;
        }
        let own_open = Instant::now();
        watchers.push(tokio::spawn(async move {
            let mut b = [0u8; 512];
            // Until the control closes it (or 60 s, the siege's bound).
            let _ = tokio::time::timeout(Duration::from_secs(60), async {
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            (own_open.elapsed(), opened.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.rss_idle_kib = kib(pid, "VmRSS:");

    // The flood, from many addresses at once, and an honest client beside it.
    let flood_start = Instant::now();
    let per = plan.requests.div_ceil(plan.clients.max(1));
    let mut flood = Vec::new();
    for c in 0..plan.clients {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (c % 250) as u8));
        let n = per.min(plan.requests.saturating_sub(c * per));
        flood.push(tokio::spawn(async move {
            let mut got = Vec::with_capacity(n);
            for i in 0..n {
                let (head, body) = hostile(c + i);
                got.push(request(source, addr, &head, &body).await);
            }
            got
        }));
    }
    let honest = tokio::spawn(async move {
        // Answered without a measurement (a refused destination), so that its latency is the
        // server's own: admission, queueing, parsing.
        let body = br#"{"http_request":"http://127.0.0.1:1/","tcp_connect":[]}"#;
        let mut ms = Vec::new();
        let mut ok = 0;
        for _ in 0..plan.honest {
            let t = Instant::now();
            if request(
                IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1)),
                addr,
                &post(body),
                body,
            )
            .await
                == 200
            {
                ok += 1;
            }
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        (ok, ms)
    });
    for f in flood {
        for status in f.await.unwrap_or_default() {
            *r.statuses.entry(status).or_default() += 1;
        }
    }
    r.flood_s = flood_start.elapsed().as_secs_f64();
    if let Ok((ok, mut ms)) = honest.await {
        ms.sort_by(f64::total_cmp);
        r.honest_ok = ok;
        r.honest = ms.len();
        r.honest_ms = ms;
    }
    r.rss_flood_kib = kib(pid, "VmRSS:");
    let mut last = Duration::ZERO;
    for w in watchers {
        let never = Duration::from_secs(60);
        let (lived, since_first) = w.await.unwrap_or((never, never));
        if lived < Duration::from_secs(1) {
            r.closed_at_once += 1;
        }
        last = last.max(since_first);
    }
    r.reaped_s = last.as_secs_f64();
    r.rss_peak_kib = kib(pid, "VmHWM:");
    let _ = child.kill().await;
    Ok(r)
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self, command: &str, machine: &str) -> String {
        let mib = |k: u64| k as f64 / 1024.0;
        let mut s = String::new();
        let _ = writeln!(s, "# The control under siege\n");
        let _ = writeln!(s, "Produced by `{command}` on {machine}.\n");
        let _ = writeln!(
            s,
            "`interfero control` as shipped (its default limits; a child process on \
             loopback) faces {} idle connections and {} that send half a request head (from {} \
             addresses), then \
             {} hostile requests from {} addresses (private destinations in several spellings, \
             malformed and deeply nested JSON, liveness checks), while one honest client sends \
             {} requests from an address of its own.\n",
            self.idle, self.slow, IDLE_SOURCES, self.requests, self.clients, self.honest
        );
        let _ = writeln!(s, "The control said at start:\n");
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        let _ = writeln!(s, "\n| figure | value |\n|---|---|");
        let rows = [
            (
                "RSS after start",
                format!("{:.1} MiB", mib(self.rss_start_kib)),
            ),
            (
                "RSS with every idle and slow connection open",
                format!("{:.1} MiB", mib(self.rss_idle_kib)),
            ),
            (
                "RSS after the flood",
                format!("{:.1} MiB", mib(self.rss_flood_kib)),
            ),
            (
                "peak RSS of the whole siege",
                format!("{:.1} MiB", mib(self.rss_peak_kib)),
            ),
            (
                "idle/slow connections closed at once (over their address's share)",
                self.closed_at_once.to_string(),
            ),
            (
                "every idle and slow connection closed after",
                format!("{:.1} s", self.reaped_s),
            ),
            ("flood duration", format!("{:.1} s", self.flood_s)),
            (
                "honest requests answered 200",
                format!("{} of {}", self.honest_ok, self.honest),
            ),
            (
                "honest latency p50 / p99 / max",
                format!(
                    "{:.1} / {:.1} / {:.1} ms",
                    pct(&self.honest_ms, 0.5),
                    pct(&self.honest_ms, 0.99),
                    self.honest_ms.last().copied().unwrap_or(0.0)
                ),
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let _ = writeln!(
            s,
            "\nFlood answers by status (0: closed without an answer):\n"
        );
        let _ = writeln!(s, "| status | requests |\n|---|---|");
        for (code, n) in &self.statuses {
            let _ = writeln!(s, "| {code} | {n} |");
        }
        s
    }
}
