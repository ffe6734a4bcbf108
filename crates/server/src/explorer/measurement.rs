//! The measurement page's content: the verdict in words, the rules and every piece of
//! evidence, then each step as observed beside the control's. Everything here is text taken
//! from a measurement that may come from a hostile site or probe: it is only ever put into
//! templates that escape it.

use super::chart;
use super::networks;
use interfero_analysis::trust::StateRoots;
use interfero_model::failure::Failure;
use interfero_model::measurement::{BinaryData, Measurement};
use interfero_model::Technique;
use interfero_store::query::domain_of;
use interfero_store::Stored;

/// What a technique means, in words a reader outside the field follows.
pub fn technique_words(t: Technique) -> &'static str {
    use Technique::*;
    match t {
        DnsNxdomain => "the resolver said the name does not exist while the control resolved it",
        DnsServfail => "the resolver failed (SERVFAIL) while the control resolved the name",
        DnsRefused => "the resolver refused to answer while the control resolved the name",
        DnsNoAnswer => "the resolver gave no address while the control got one",
        DnsTimeout => "the resolver did not answer in time while the control resolved the name",
        DnsBogon => "the resolver answered with a private or reserved address the control did not get",
        DnsHijack => "the resolver answered with addresses the control did not get, which do not serve the site",
        DnsInjection => "an answer was injected on the path",
        DnsMalformed => "the answer was malformed",
        TcpTimeout => "connecting timed out while the control connected",
        TcpReset => "the connection was reset while the control connected",
        TcpRefused => "the connection was refused while the control connected",
        TlsTimeout => "the TLS handshake stalled after the ClientHello while the control's succeeded",
        TlsReset => "the TLS handshake was reset after the ClientHello while the control's succeeded",
        TlsEof => "the TLS handshake was cut after the ClientHello while the control's succeeded",
        TlsMitm => "the site's certificate came from an untrusted issuer while the control's was valid",
        HttpTimeout => "the HTTP exchange timed out while the control's succeeded",
        HttpReset => "the HTTP exchange was reset while the control's succeeded",
        HttpEof => "the HTTP exchange was cut while the control's succeeded",
        HttpBlockpage => "the response was a known blockpage",
        HttpDiff => "the response differed from the control's beyond what the site itself varies",
        HttpServerSide => "the site itself refused this vantage point",
        Throughput => "the transfer was far slower than the control's",
        Shutdown => "no protocol reached any canary: the network was cut off",
        DnsDelegationRemoved => "the domain's delegation was removed from its parent zone",
        DnsDelegationBroken => "the domain's delegation is broken: its name servers do not answer for it",
        // Technique grows (`#[non_exhaustive]`): a new one is shown by its name until it has
        // words here.
        _ => "a technique this explorer has no words for yet: see its name",
    }
}

fn failure(f: &Option<Failure>) -> String {
    f.as_ref()
        .map(|f| f.as_str().to_string())
        .unwrap_or_default()
}

/// A row of a table of steps: cells as text.
pub type Cells = Vec<String>;

/// One TLS handshake with its chain.
pub struct Tls {
    /// Address, server name, version, outcome, the control's outcome.
    pub summary: Cells,
    /// Subject, issuer, validity, fingerprints: one row per certificate, leaf first.
    pub chain: Vec<Cells>,
    /// The national (state) root the chain leads to, named, if any.
    pub national_root: Option<String>,
}

/// Everything the measurement page shows.
pub struct View {
    /// The uid.
    pub uid: String,
    /// The verdict in one sentence.
    pub sentence: String,
    /// The status name (for its colour).
    pub status: String,
    /// Techniques, each with its words.
    pub techniques: Vec<(String, String)>,
    /// The rules that decided.
    pub rules: Vec<String>,
    /// Every piece of evidence.
    pub evidence: Vec<String>,
    /// Confidence as a percentage.
    pub confidence: String,
    /// Facts about the measurement: label and value.
    pub facts: Vec<(String, String)>,
    /// DNS: hostname, type, resolver, answers or failure, beside the control's.
    pub dns: Vec<Cells>,
    /// The control's DNS answer.
    pub control_dns: String,
    /// TCP connects: address, outcome, time, control.
    pub tcp: Vec<Cells>,
    /// TLS handshakes.
    pub tls: Vec<Tls>,
    /// HTTP hops: URL, status, title, size, failure, location.
    pub http: Vec<Cells>,
    /// The control's HTTP answer: status, title, size, failure.
    pub control_http: Cells,
    /// Throughput transfers: name, role, kbit/s, bytes, seconds, failure.
    pub throughput: Vec<Cells>,
    /// The throughput curve (SVG), when there are samples.
    pub throughput_svg: String,
    /// Trace hops: TTL and what came back.
    pub trace: Vec<Cells>,
    /// Where the censor sits, per the trace.
    pub censor: String,
    /// The measurement JSON, pretty.
    pub raw: String,
    /// Domain of the input, for links.
    pub domain: String,
    /// The network, for links.
    pub asn: String,
    /// The country, for links.
    pub cc: String,
}

fn date_words(time: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.format("%-d %b %Y at %H:%M UTC").to_string())
        .unwrap_or_else(|_| time.to_string())
}

fn sentence(m: &Measurement) -> String {
    let target = domain_of(&m.input);
    let target = if target.is_empty() {
        m.input.clone()
    } else {
        target
    };
    let place = format!("{} in {}", networks::label(&m.probe_asn), m.probe_cc);
    let when = date_words(&m.measurement_start_time);
    match &m.verdict {
        None => format!("On {when} {target} was measured on {place}; it has not been judged."),
        Some(v) => {
            let how = v
                .techniques
                .first()
                .map(|t| technique_words(*t).to_string())
                .or_else(|| v.evidence.first().cloned());
            let status = match v.status.as_str() {
                "down" => "down (the site, not the network, was at fault)",
                "offline" => "unreachable: the vantage point was offline",
                "inconclusive" => "not decided (inconclusive)",
                s => s,
            };
            match how {
                Some(how) => format!("On {when} {target} was {status} on {place}: {how}."),
                None => format!("On {when} {target} was {status} on {place}."),
            }
        }
    }
}

fn cert_count(c: &Option<Vec<BinaryData>>) -> usize {
    c.as_ref().map(Vec::len).unwrap_or(0)
}

/// Builds the page's content from a stored measurement.
pub fn view(s: &Stored) -> View {
    let m = &s.measurement;
    let tk = &m.test_keys;
    let control = tk.control.clone().unwrap_or_default();
    let v = m.verdict.as_ref();
    let mut facts = vec![
        ("Target".into(), m.input.clone()),
        (
            "Measured".into(),
            format!("{} UTC", m.measurement_start_time),
        ),
        ("Network".into(), networks::label(&m.probe_asn)),
        ("Country".into(), m.probe_cc.clone()),
        ("Test".into(), format!("{} {}", m.test_name, m.test_version)),
        (
            "Software".into(),
            format!("{} {}", m.software_name, m.software_version),
        ),
        ("Runtime".into(), format!("{:.2} s", m.test_runtime)),
        ("Measurement uid".into(), s.uid.clone()),
        ("Run".into(), s.run.to_string()),
    ];
    if let Some(r) = &tk.client_resolver {
        facts.push(("Resolver".into(), r.clone()));
    }
    if let Some(cf) = &tk.control_failure {
        facts.push(("Control failure".into(), cf.clone()));
    }
    let dns = tk
        .queries
        .iter()
        .map(|q| {
            let answers = if q.answers.is_empty() {
                failure(&q.failure)
            } else {
                q.answers
                    .iter()
                    .filter_map(|a| a.addr().or(a.hostname.as_deref()).map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            vec![
                q.hostname.clone(),
                q.query_type.clone(),
                q.resolver_address.clone(),
                answers,
                q.x_rcode.clone().unwrap_or_default(),
                format!("{}", q.x_extra_responses.len()),
            ]
        })
        .collect();
    let control_dns = if let Some(f) = &control.dns.failure {
        f.as_str().to_string()
    } else {
        control.dns.addrs.join(", ")
    };
    let tcp = tk
        .tcp_connect
        .iter()
        .map(|c| {
            let key = format!("{}:{}", c.ip, c.port);
            let ctl = control
                .tcp_connect
                .get(&key)
                .map(|t| {
                    if t.status {
                        "connected".to_string()
                    } else {
                        failure(&t.failure)
                    }
                })
                .unwrap_or_default();
            vec![
                key,
                if c.status.success {
                    "connected".into()
                } else {
                    failure(&c.status.failure)
                },
                format!("{:.0} ms", (c.t - c.t0) * 1000.0),
                ctl,
            ]
        })
        .collect();
    let roots = StateRoots::builtin();
    let tls = tk
        .tls_handshakes
        .iter()
        .map(|t| {
            let ctl = control
                .tls_handshake
                .get(&t.address)
                .map(|c| {
                    if c.status {
                        "handshake completed".to_string()
                    } else {
                        failure(&c.failure)
                    }
                })
                .unwrap_or_default();
            let outcome = match (&t.failure, t.x_after_client_hello) {
                (None, _) => "handshake completed".to_string(),
                (Some(f), Some(true)) => format!("{} after the ClientHello", f.as_str()),
                (Some(f), _) => f.as_str().to_string(),
            };
            Tls {
                summary: vec![
                    t.address.clone(),
                    t.server_name.clone(),
                    t.tls_version.clone().unwrap_or_default(),
                    outcome,
                    format!("{:.0} ms", (t.t - t.t0) * 1000.0),
                    format!(
                        "{} certificate(s); {} server byte(s)",
                        cert_count(&t.peer_certificates).max(t.x_chain.len()),
                        t.x_server_bytes.unwrap_or(0)
                    ),
                    ctl,
                ],
                chain: t
                    .x_chain
                    .iter()
                    .map(|c| {
                        vec![
                            c.subject.clone(),
                            c.issuer.clone(),
                            format!("{} – {}", c.not_before, c.not_after),
                            c.sha256.clone(),
                            c.sha1.clone(),
                            c.spki_sha256.clone(),
                        ]
                    })
                    .collect(),
                national_root: roots.match_chain(&t.x_chain).map(|r| {
                    format!(
                        "{} ({}, {}): {}",
                        r.root.name, r.root.country, r.root.period, r.why
                    )
                }),
            }
        })
        .collect();
    let http = tk
        .requests
        .iter()
        .map(|r| {
            let size = r
                .response
                .x_body_length
                .map(|n| {
                    format!(
                        "{n} bytes{}",
                        if r.response.body_is_truncated {
                            " (cut)"
                        } else {
                            ""
                        }
                    )
                })
                .unwrap_or_default();
            vec![
                r.request.url.clone(),
                if r.response.code == 0 {
                    String::new()
                } else {
                    r.response.code.to_string()
                },
                r.response.x_title.clone().unwrap_or_default(),
                size,
                failure(&r.failure),
                r.response
                    .header("location")
                    .unwrap_or_default()
                    .to_string(),
                r.address.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let ch = &control.http_request;
    let control_http = vec![
        if ch.status_code < 0 {
            String::new()
        } else {
            ch.status_code.to_string()
        },
        ch.title.clone(),
        if ch.body_length < 0 {
            String::new()
        } else {
            format!("{} bytes", ch.body_length)
        },
        failure(&ch.failure),
    ];
    let mut transfers: Vec<_> = tk.x_throughput.iter().collect();
    if let Some(t) = &control.x_throughput {
        transfers.push(t);
    }
    let throughput = transfers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = if i >= tk.x_throughput.len() {
                "control".to_string()
            } else {
                t.role.clone()
            };
            vec![
                t.server_name.clone(),
                role,
                format!("{:.0} kbit/s", t.kbps()),
                t.bytes.to_string(),
                format!("{:.2} s", t.seconds),
                failure(&t.failure),
            ]
        })
        .collect();
    let lines: Vec<(String, Vec<u64>, f64)> = transfers
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.samples.is_empty() && t.interval > 0.0)
        .map(|(i, t)| {
            let role = if i >= tk.x_throughput.len() {
                "control"
            } else {
                t.role.as_str()
            };
            (
                format!("{role} {}", t.server_name),
                t.samples.clone(),
                t.interval,
            )
        })
        .collect();
    let throughput_svg = if lines.is_empty() {
        String::new()
    } else {
        chart::throughput(&lines)
    };
    let trace = tk
        .x_trace
        .as_ref()
        .map(|tr| {
            tr.hops
                .iter()
                .map(|h| {
                    let events = h
                        .events
                        .iter()
                        .map(|e| {
                            let mut s = format!("{} at {} ms", e.kind, e.ms);
                            if let Some(f) = &e.from {
                                s.push_str(&format!(" from {f}"));
                            }
                            if let Some(d) = &e.detail {
                                s.push_str(&format!(" ({d})"));
                            }
                            s
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    vec![
                        h.ttl.to_string(),
                        events,
                        h.failure.clone().unwrap_or_default(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let censor = v
        .and_then(|v| v.x_censor.as_ref())
        .map(|c| {
            format!(
                "{}{}{}: {}",
                c.class,
                c.hop.map(|h| format!(" at hop {h}")).unwrap_or_default(),
                c.router
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                c.reason
            )
        })
        .unwrap_or_default();
    View {
        uid: s.uid.clone(),
        sentence: sentence(m),
        status: v
            .map(|v| v.status.as_str())
            .unwrap_or("unjudged")
            .to_string(),
        techniques: v
            .map(|v| {
                v.techniques
                    .iter()
                    .map(|t| (t.as_str().to_string(), technique_words(*t).to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        rules: v.map(|v| v.rules.clone()).unwrap_or_default(),
        evidence: v.map(|v| v.evidence.clone()).unwrap_or_default(),
        confidence: v
            .map(|v| format!("{:.0}%", v.confidence * 100.0))
            .unwrap_or_default(),
        facts,
        dns,
        control_dns,
        tcp,
        tls,
        http,
        control_http,
        throughput,
        throughput_svg,
        trace,
        censor,
        raw: serde_json::to_string_pretty(m).unwrap_or_default(),
        domain: domain_of(&m.input),
        asn: m.probe_asn.clone(),
        cc: m.probe_cc.clone(),
    }
}
