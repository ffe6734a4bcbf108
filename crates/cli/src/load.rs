//! `interfero lab load`: a load generator for a collector on loopback. It opens one report
//! per network, then submits `--count` distinct measurements over `--connections` keep-alive
//! connections, as fast as acknowledged or at a fixed `--rate` (an open loop: each
//! submission has its scheduled time, and its latency counts from then, so a stalled server
//! is not hidden by the generator waiting for it), and prints the acknowledged rate and the
//! acknowledgement latencies.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use interfero_model::Measurement;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `interfero lab load`.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// The collector (`http://127.0.0.1:PORT/`; loopback only).
    #[arg(long)]
    pub target: String,
    /// Measurements to submit (at most 1,000,000).
    #[arg(long, default_value_t = 20_000)]
    pub count: usize,
    /// Submissions a second, scheduled (0: as fast as acknowledged).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Submit a real OONI Web Connectivity measurement (10 KB of observations, judged in
    /// full) instead of small synthetic ones.
    #[arg(long)]
    pub realistic: bool,
}

/// A real measurement from OONI's QA scenarios (a site reached as the control reached it).
const SAMPLE: &str = include_str!(
    "../../../testdata/ooni/webconnectivity-generated/successWithHTTPS/measurement.json"
);

const NETWORKS: [(&str, &str); 4] = [
    ("KZ", "AS9198"),
    ("KZ", "AS48503"),
    ("KZ", "AS206026"),
    ("KZ", "AS21299"),
];

fn measurement(i: usize, realistic: bool, base: &Option<Measurement>, batch: &str) -> Measurement {
    let (cc, asn) = NETWORKS[i % NETWORKS.len()];
    let mut m = match (realistic, base) {
        (true, Some(b)) => b.clone(),
        _ => interfero_store::synthetic::varied(i),
    };
    m.probe_cc = cc.into();
    m.probe_asn = asn.into();
    // The sample names the report OONI filed it under; ours are opened here.
    m.extra.remove("report_id");
    // Distinct observations for every i: each is a new measurement, not a duplicate. The
    // batch mark makes this run's differ from an earlier run's against the same store too
    // (a duplicate is answered from the uid index without writing, which is much cheaper
    // than a new row and would flatter the figure).
    m.test_runtime = 1.0 + i as f64 / 1e7;
    m.annotations.insert("load_batch".into(), batch.into());
    m
}

struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
}

async fn connect(addr: &str) -> anyhow::Result<Conn> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn { sender })
}

/// The longest answer to one submission the load generator reads.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

async fn post(c: &mut Conn, host: &str, path: &str, body: Vec<u8>) -> anyhow::Result<(u16, Bytes)> {
    c.sender.ready().await?;
    let req = hyper::Request::post(path)
        .header("Host", host)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let resp = c.sender.send_request(req).await?;
    let status = resp.status().as_u16();
    // A collector answers a submission with a uid: anything longer than this is not one, and
    // a target that streams forever must not grow the load generator.
    let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("the collector's answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `interfero lab load`.
pub async fn load(args: LoadArgs) -> anyhow::Result<std::process::ExitCode> {
    let url = url::Url::parse(&args.target).context("--target is not a URL")?;
    let host = url.host_str().unwrap_or_default().to_string();
    let ip: std::net::IpAddr = host
        .trim_matches(['[', ']'])
        .parse()
        .context("--target must name a loopback address")?;
    if url.scheme() != "http" || !ip.is_loopback() {
        anyhow::bail!("--target must be http://127.0.0.1:PORT/ (the load stays on loopback)");
    }
    if args.count == 0 || args.count > 1_000_000 || args.connections == 0 || args.connections > 1024
    {
        anyhow::bail!("--count must be 1 to 1,000,000 and --connections 1 to 1,024");
    }
    let addr = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
    let base = if args.realistic {
        Some(Measurement::from_ooni_json(SAMPLE)?)
    } else {
        None
    };
    // One report per network, as a probe opens them.
    let mut c = connect(&addr).await?;
    let mut reports = Vec::new();
    for (cc, asn) in NETWORKS {
        let body = serde_json::json!({"test_name": "web_connectivity", "probe_cc": cc,
            "probe_asn": asn, "format": "json", "software_name": "interfero-load",
            "software_version": env!("CARGO_PKG_VERSION"), "data_format_version": "0.2.0",
            "test_version": "0.5.0"});
        let (status, b) = post(&mut c, &host, "/report", body.to_string().into_bytes()).await?;
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
        let id = v["report_id"].as_str().filter(|_| status == 200);
        reports.push(format!(
            "/report/{}",
            id.context("the collector opened no report")?
        ));
    }
    let batch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default();
    // Bodies are made before the clock starts: the figure is the collector's, not ours.
    let bodies: Vec<Vec<u8>> = (0..args.count)
        .map(|i| {
            let m = measurement(i, args.realistic, &base, &batch);
            serde_json::to_vec(&serde_json::json!({"format": "json", "content": m}))
                .unwrap_or_default()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let reports = Arc::new(reports);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.count)));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let mut conn = connect(&addr).await?;
        let (bodies, reports, next) = (bodies.clone(), reports.clone(), next.clone());
        let (latencies, errors, host) = (latencies.clone(), errors.clone(), host.clone());
        let rate = args.rate;
        let addr = addr.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let scheduled = if rate > 0.0 {
                    let at = start + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                    at
                } else {
                    Instant::now()
                };
                let path = &reports[i % reports.len()];
                match post(&mut conn, &host, path, body.clone()).await {
                    Ok((200, b)) if b.starts_with(b"{\"measurement_uid\"") => {
                        let took = scheduled.elapsed();
                        latencies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(took);
                    }
                    other => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            let why = match other {
                                Ok((status, b)) => {
                                    format!("HTTP {status}: {}", String::from_utf8_lossy(&b))
                                }
                                Err(e) => e.to_string(),
                            };
                            let why: String = why.chars().take(300).collect();
                            eprintln!("interfero lab load: first failure: {why}");
                        }
                        if let Ok(c) = connect(&addr).await {
                            conn = c;
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = start.elapsed();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort();
    let acked = lat.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| offered | measurements | acknowledged | ack/s | p50 ms | p90 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |",
        if args.rate > 0.0 {
            format!("{:.0}/s", args.rate)
        } else {
            "max".into()
        },
        if args.realistic {
            "OONI sample, 10 KB"
        } else {
            "synthetic, 1 KB"
        },
        acked,
        acked as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.9)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    let failed = errors.load(Ordering::Relaxed);
    if failed > 0 {
        eprintln!("interfero lab load: {failed} submissions not acknowledged");
    }
    Ok(if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}
