//! One test per status and technique of CONTRACT.md, and one per look-alike that must not be
//! called censorship, on hand-built observations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_analysis::{judge, Context};
use interfero_model::control::{ControlDns, ControlHttp, ControlTcp, ControlTls};
use interfero_model::measurement::*;
use interfero_model::{ControlResponse, Failure, Status, Technique, TestKeys, Verdict};

const IP: &str = "93.184.216.34";

struct Obs {
    url: String,
    tk: TestKeys,
}

fn ans(ip: &str) -> DnsAnswer {
    DnsAnswer {
        answer_type: "A".into(),
        ipv4: Some(ip.into()),
        ..Default::default()
    }
}

fn page(url: &str, code: u16, title: &str, len: u64, body: &str) -> HttpRoundTrip {
    HttpRoundTrip {
        request: HttpRequest {
            url: url.into(),
            method: "GET".into(),
            ..Default::default()
        },
        response: HttpResponse {
            code,
            x_title: Some(title.into()),
            x_body_length: Some(len),
            body: Some(BinaryData::Text(body.into())),
            ..Default::default()
        },
        ..Default::default()
    }
}

impl Obs {
    /// A site that the probe and the control both reach, identically.
    fn site(url: &str) -> Obs {
        let https = url.starts_with("https");
        let port = if https { 443 } else { 80 };
        let host = url::Url::parse(url)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        let ep = format!("{IP}:{port}");
        let mut control = ControlResponse {
            dns: ControlDns {
                failure: None,
                addrs: vec![IP.into()],
            },
            http_request: ControlHttp {
                status_code: 200,
                body_length: 5000,
                title: "Independent News Portal".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        control.tcp_connect.insert(
            ep.clone(),
            ControlTcp {
                status: true,
                failure: None,
            },
        );
        let mut tk = TestKeys {
            queries: vec![DnsQuery {
                hostname: host.clone(),
                query_type: "A".into(),
                engine: "udp".into(),
                answers: vec![ans(IP)],
                x_rcode: Some("NOERROR".into()),
                ..Default::default()
            }],
            tcp_connect: vec![TcpConnect {
                ip: IP.into(),
                port,
                status: TcpStatus {
                    success: true,
                    failure: None,
                },
                ..Default::default()
            }],
            requests: vec![page(
                url,
                200,
                "Independent News Portal",
                5000,
                "<p>news</p>",
            )],
            ..Default::default()
        };
        if https {
            control.tls_handshake.insert(
                ep.clone(),
                ControlTls {
                    server_name: host.clone(),
                    status: true,
                    failure: None,
                    x_leaf_sha256: None,
                },
            );
            tk.tls_handshakes.push(TlsHandshake {
                address: ep,
                server_name: host,
                ..Default::default()
            });
        }
        tk.control = Some(control);
        Obs {
            url: url.into(),
            tk,
        }
    }

    fn ctl(&mut self) -> &mut ControlResponse {
        self.tk.control.as_mut().unwrap()
    }

    fn dns_fail(mut self, f: Failure) -> Obs {
        let q = &mut self.tk.queries[0];
        q.answers.clear();
        q.failure = Some(f);
        self.tk.tcp_connect.clear();
        self.tk.tls_handshakes.clear();
        self.tk.requests.clear();
        self
    }

    fn dns_answer(mut self, ip: &str) -> Obs {
        self.tk.queries[0].answers = vec![ans(ip)];
        let port = self.tk.tcp_connect[0].port;
        self.tk.tcp_connect[0].ip = ip.into();
        if let Some(t) = self.tk.tls_handshakes.first_mut() {
            t.address = format!("{ip}:{port}");
        }
        self.tk.requests[0].address = Some(format!("{ip}:{port}"));
        self
    }

    fn tcp_fail(mut self, f: Failure) -> Obs {
        self.tk.tcp_connect[0].status = TcpStatus {
            success: false,
            failure: Some(f),
        };
        self.tk.tls_handshakes.clear();
        self.tk.requests.clear();
        self
    }

    fn tls_fail(mut self, f: Failure) -> Obs {
        self.tk.tls_handshakes[0].failure = Some(f);
        self.tk.tls_handshakes[0].x_after_client_hello = Some(true);
        self.tk.requests.clear();
        self
    }

    fn chain(mut self, issuer: &str) -> Obs {
        self.tk.tls_handshakes[0].x_chain = vec![CertInfo {
            subject: "CN=news.example".into(),
            issuer: issuer.into(),
            sha256: "ab".repeat(32),
            ..Default::default()
        }];
        self
    }

    fn http_fail(mut self, f: Failure) -> Obs {
        let r = &mut self.tk.requests[0];
        r.failure = Some(f);
        r.response = HttpResponse::default();
        self
    }

    fn response(mut self, rt: HttpRoundTrip) -> Obs {
        self.tk.requests = vec![rt];
        self
    }

    fn verdict(&self) -> Verdict {
        judge(&self.url, &self.tk, &Context::default())
    }
}

fn assert_verdict(o: &Obs, status: Status, techniques: &[Technique]) {
    let v = o.verdict();
    assert_eq!(v.status, status, "{v:#?}");
    assert_eq!(v.techniques, techniques, "{v:#?}");
    assert!(!v.rules.is_empty() && !v.evidence.is_empty(), "{v:#?}");
}

#[test]
fn accessible_http_and_https() {
    assert_verdict(&Obs::site("https://news.example/"), Status::Accessible, &[]);
    assert_verdict(&Obs::site("http://news.example/"), Status::Accessible, &[]);
}

#[test]
fn dns_failures_where_control_resolves() {
    for (f, t) in [
        (Failure::DnsNxdomain, Technique::DnsNxdomain),
        (Failure::DnsServfail, Technique::DnsServfail),
        (Failure::DnsRefused, Technique::DnsRefused),
        (Failure::DnsNoAnswer, Technique::DnsNoAnswer),
        (Failure::Timeout, Technique::DnsTimeout),
        (Failure::DnsMisbehaving, Technique::DnsMalformed),
    ] {
        assert_verdict(
            &Obs::site("https://news.example/").dns_fail(f),
            Status::Blocked,
            &[t],
        );
    }
}

#[test]
fn a_resolver_never_reached_is_not_a_dns_timeout() {
    // ICMP unreachable, no route: the query never got an answer because the resolver was not
    // reached, which says nothing about the name.
    for f in [
        Failure::ConnectionRefused,
        Failure::HostUnreachable,
        Failure::NetworkUnreachable,
    ] {
        let v = Obs::site("https://news.example/")
            .dns_fail(f.clone())
            .verdict();
        assert_eq!(v.status, Status::Inconclusive, "{f}: {v:#?}");
        assert!(v.techniques.is_empty(), "{f}: {v:#?}");
        assert_eq!(
            v.rules.first().map(String::as_str),
            Some("dns.resolver_unreachable")
        );
    }
    // A system resolver's "no data" is an answer without records, not a timeout.
    let v = Obs::site("https://news.example/")
        .dns_fail(Failure::Other("android_dns_cache_no_data".into()))
        .verdict();
    assert_eq!(v.techniques, vec![Technique::DnsNoAnswer], "{v:#?}");
}

#[test]
fn real_nxdomain_is_down() {
    let mut o = Obs::site("https://gone.example/").dns_fail(Failure::DnsNxdomain);
    o.ctl().dns = ControlDns {
        failure: Some(Failure::DnsNxdomain),
        addrs: vec![],
    };
    o.ctl().http_request = ControlHttp {
        failure: Some(Failure::DnsNxdomain),
        ..Default::default()
    };
    assert_verdict(&o, Status::Down, &[]);
}

#[test]
fn bogon_answer_not_given_by_control() {
    let o = Obs::site("http://news.example/")
        .dns_answer("10.10.34.35")
        .response(page("http://news.example/", 200, "", 0, ""));
    assert_verdict(&o, Status::Blocked, &[Technique::DnsBogon]);
}

#[test]
fn lab_loopback_address_given_by_control_is_not_a_bogon() {
    let mut o = Obs::site("https://news.test:8443/").dns_answer("127.77.1.10");
    o.ctl().dns.addrs = vec!["127.77.1.10".into()];
    let v = o.verdict();
    assert_eq!(v.status, Status::Accessible, "{v:#?}");
}

#[test]
fn hijack_to_public_address_with_bad_certificate() {
    let o = Obs::site("https://news.example/")
        .dns_answer("185.12.1.99")
        .tls_fail(Failure::SslInvalidHostname);
    let v = o.verdict();
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert_eq!(v.techniques, vec![Technique::DnsHijack]);
    let o = Obs::site("https://news.example/")
        .dns_answer("185.12.1.7")
        .tls_fail(Failure::SslUnknownAuthority);
    assert_eq!(o.verdict().techniques, vec![Technique::DnsHijack]);
}

#[test]
fn cdn_address_with_valid_tls_is_consistent() {
    // The probe's resolver gives another address than the control's, but TLS on it validates.
    let o = Obs::site("https://cdn.example/").dns_answer("151.101.1.1");
    assert_verdict(&o, Status::Accessible, &[]);
}

#[test]
fn a_cdn_address_tied_to_the_https_fetch_is_consistent_without_a_tls_address() {
    // Another address of the same CDN than the control's, and a TLS record without an
    // address (as some OONI probes write it): the page came over HTTPS from that address, so
    // it serves the name over valid TLS. Not a hijack.
    let mut o = Obs::site("https://cdn.example/").dns_answer("151.101.65.69");
    o.tk.tls_handshakes[0].address = String::new();
    assert_verdict(&o, Status::Accessible, &[]);

    // Without the handshake's address and without the request's, only one connect: still tied.
    o.tk.requests[0].address = None;
    assert_verdict(&o, Status::Accessible, &[]);
}

#[test]
fn geo_dns_for_plain_http_with_the_same_page() {
    let o = Obs::site("http://cdn.example/").dns_answer("151.101.1.1");
    assert_verdict(&o, Status::Accessible, &[]);
}

#[test]
fn the_same_page_vouches_only_for_the_address_fetched_and_never_for_a_bogon() {
    // The page came from another address than the resolver's answer: that answer is not
    // vouched for.
    let mut o = Obs::site("http://cdn.example/").dns_answer("151.101.1.1");
    o.tk.requests[0].address = Some("198.51.100.20:80".into());
    assert_eq!(o.verdict().status, Status::Blocked, "{:#?}", o.verdict());
    // A private answer (classifier input, never dialled) is a lie whatever page came back.
    let o = Obs::site("http://cdn.example/").dns_answer("100.64.7.9");
    assert_verdict(&o, Status::Blocked, &[Technique::DnsBogon]);
}

#[test]
fn injection_two_answers() {
    let mut o = Obs::site("https://news.example/")
        .dns_answer("185.12.1.7")
        .tls_fail(Failure::SslInvalidHostname);
    o.tk.queries[0].x_extra_responses.push(DnsResponse {
        t: 0.05,
        rcode: "NOERROR".into(),
        answers: vec![ans(IP)],
    });
    assert_verdict(&o, Status::Blocked, &[Technique::DnsInjection]);
}

#[test]
fn tcp_failures_where_control_connects() {
    for (f, t) in [
        (Failure::Timeout, Technique::TcpTimeout),
        (Failure::ConnectionReset, Technique::TcpReset),
        (Failure::ConnectionRefused, Technique::TcpRefused),
    ] {
        assert_verdict(
            &Obs::site("https://news.example/").tcp_fail(f),
            Status::Blocked,
            &[t],
        );
    }
}

#[test]
fn site_down_refused_for_control_too() {
    let mut o = Obs::site("https://down.example/").tcp_fail(Failure::ConnectionRefused);
    let ep = format!("{IP}:443");
    o.ctl().tcp_connect.insert(
        ep,
        ControlTcp {
            status: false,
            failure: Some(Failure::ConnectionRefused),
        },
    );
    o.ctl().http_request = ControlHttp {
        failure: Some(Failure::ConnectionRefused),
        ..Default::default()
    };
    assert_verdict(&o, Status::Down, &[]);
}

#[test]
fn a_control_that_refused_to_measure_is_no_control() {
    // The control's scope forbids the site's addresses: it saw nothing, so the probe's failure
    // is neither "down" (the control fails too) nor a block.
    let mut o = Obs::site("https://intranet.example/").tcp_fail(Failure::ConnectionRefused);
    let ep = format!("{IP}:443");
    o.ctl().tcp_connect.insert(
        ep,
        ControlTcp {
            status: false,
            failure: Some(Failure::DestinationRefused),
        },
    );
    o.ctl().http_request = ControlHttp {
        failure: Some(Failure::DestinationRefused),
        ..Default::default()
    };
    let v = o.verdict();
    assert_eq!(v.status, Status::Inconclusive, "{v:#?}");
    assert!(cites(&v, &["refused"]), "{v:#?}");
}

#[test]
fn a_refused_entry_of_the_control_is_not_evidence() {
    // The control reached the site but refused one of the probe's endpoints: that entry says
    // nothing about the address, so a reset there is still judged against the site.
    let mut o = Obs::site("https://news.example/").tcp_fail(Failure::ConnectionReset);
    o.ctl().tcp_connect.insert(
        format!("{IP}:443"),
        ControlTcp {
            status: false,
            failure: Some(Failure::DestinationRefused),
        },
    );
    let v = o.verdict();
    assert_ne!(v.status, Status::Down, "{v:#?}");
}

#[test]
fn the_probes_own_failures_are_never_interference() {
    let local = || Failure::Other("unknown_failure: Too many open files (os error 24)".into());
    for o in [
        Obs::site("https://news.example/").tcp_fail(local()),
        Obs::site("https://news.example/").tls_fail(local()),
        Obs::site("http://news.example/").http_fail(local()),
        Obs::site("https://news.example/").dns_fail(local()),
        Obs::site("https://news.example/").tcp_fail(Failure::DestinationRefused),
    ] {
        let v = o.verdict();
        assert_ne!(v.status, Status::Blocked, "{v:#?}");
        assert!(v.techniques.is_empty(), "{v:#?}");
    }
}

#[test]
fn tls_failures_after_client_hello() {
    for (f, t) in [
        (Failure::Timeout, Technique::TlsTimeout),
        (Failure::ConnectionReset, Technique::TlsReset),
        (Failure::Eof, Technique::TlsEof),
    ] {
        assert_verdict(
            &Obs::site("https://news.example/").tls_fail(f),
            Status::Blocked,
            &[t],
        );
    }
}

#[test]
fn a_handshake_cut_once_then_completed_on_a_retry_is_not_a_block() {
    // The probe's first handshake was reset; its retry on a new connection completed and the
    // page came: a server dropping some connections, not a filter on the name.
    let mut o = Obs::site("https://news.example/");
    let mut cut = o.tk.tls_handshakes[0].clone();
    cut.failure = Some(Failure::ConnectionReset);
    o.tk.tls_handshakes.insert(0, cut);
    o.tk.tcp_connect.push(o.tk.tcp_connect[0].clone());
    let v = o.verdict();
    assert_eq!(v.status, Status::Accessible, "{v:#?}");
    assert!(
        cites(&v, &["connection_reset", "retry"]),
        "the cut and the retry are said: {:?}",
        v.evidence
    );
}

#[test]
fn interception_untrusted_issuer_where_control_valid() {
    let o = Obs::site("https://news.example/")
        .tls_fail(Failure::SslUnknownAuthority)
        .chain("CN=Some Middlebox CA");
    assert_verdict(&o, Status::Intercepted, &[Technique::TlsMitm]);
}

#[test]
fn interception_by_known_state_root_is_named() {
    let o = Obs::site("https://news.example/")
        .tls_fail(Failure::SslUnknownAuthority)
        .chain("C=KZ, O=ISCA, CN=Information Security Certification Authority");
    let v = o.verdict();
    assert_eq!(v.status, Status::Intercepted);
    // Intercepted because the certificate is untrusted where the control's is valid; the
    // name only says which root it claims to be.
    assert!(
        v.rules.iter().any(|r| r == "tls.chain.state_root_name"),
        "{v:#?}"
    );
    assert!(cites(&v, &["KZ", "by name only"]), "{v:#?}");
}

/// The listed SHA-1 of one ISCA certificate (OONI's 2024 Kazakhstan report).
const ISCA_SHA1: &str = "fabda72fa1f620c160420a496194b61f82a01b4a";

#[test]
fn a_state_root_name_alone_never_makes_an_interception() {
    // A site whose own, valid chain names a listed root (states issue certificates to their
    // own sites too): reached as the control reached it.
    let o = Obs::site("https://egov.example/")
        .chain("C=KZ, O=ISCA, CN=Information Security Certification Authority");
    assert_verdict(&o, Status::Accessible, &[]);
}

#[test]
fn a_listed_key_is_interception_unless_the_control_got_the_same_leaf() {
    let mut o = Obs::site("https://news.example/").chain("CN=Whatever Issuer");
    o.tk.tls_handshakes[0].x_chain[0].sha1 = ISCA_SHA1.into();
    // The device trusts the state root (installed), so the handshake validated: only the key
    // tells, and the control was handed another certificate.
    let v = o.verdict();
    assert_eq!(v.status, Status::Intercepted, "{v:#?}");
    assert!(v.rules.iter().any(|r| r == "tls.chain.known_state_root"));
    assert!(cites(&v, &["by key"]), "{v:#?}");

    // The same leaf at the control: the site's own certificate chains there, and says so.
    let ep = format!("{IP}:443");
    o.ctl().tls_handshake.get_mut(&ep).unwrap().x_leaf_sha256 = Some("ab".repeat(32));
    assert_verdict(&o, Status::Accessible, &[]);
    let v = o.verdict();
    assert!(cites(&v, &["site's own certificate"]), "{v:#?}");
}

#[test]
fn self_signed_seen_by_control_too_is_down() {
    let mut o = Obs::site("https://selfsigned.example/").tls_fail(Failure::SslUnknownAuthority);
    let ep = format!("{IP}:443");
    o.ctl().tls_handshake.get_mut(&ep).unwrap().status = false;
    o.ctl().tls_handshake.get_mut(&ep).unwrap().failure = Some(Failure::SslUnknownAuthority);
    assert_verdict(&o, Status::Down, &[]);
}

#[test]
fn http_failures_where_control_fetches() {
    for (f, t) in [
        (Failure::Timeout, Technique::HttpTimeout),
        (Failure::ConnectionReset, Technique::HttpReset),
        (Failure::Eof, Technique::HttpEof),
    ] {
        assert_verdict(
            &Obs::site("http://news.example/").http_fail(f),
            Status::Blocked,
            &[t],
        );
    }
}

#[test]
fn blockpage_fingerprint_decides_even_without_control() {
    let body = "<html><iframe src=\"http://www.anonymous.com.bh\"></iframe></html>";
    let mut o =
        Obs::site("http://news.example/").response(page("http://news.example/", 200, "", 60, body));
    // Use a fingerprint row that exists: look one up rather than guessing.
    let fps = interfero_analysis::fingerprint::Fingerprints::builtin();
    let matched = fps.match_http(&o.tk.requests[0].response);
    if matched.is_empty() {
        // Fall back to a redirect-to-blockpage header row.
        let mut rt = page("http://news.example/", 302, "", 0, "");
        rt.response.headers_list.push((
            "Location".into(),
            "http://www.bluecoat.com/notify-NotifyUser1".into(),
        ));
        o = o.response(rt);
    }
    assert_verdict(&o, Status::Blocked, &[Technique::HttpBlockpage]);
    o.tk.control = None;
    o.tk.control_failure = Some("connection_refused".into());
    assert_verdict(&o, Status::Blocked, &[Technique::HttpBlockpage]);
}

#[test]
fn plaintext_diff() {
    let o = Obs::site("http://news.example/").response(page(
        "http://news.example/",
        200,
        "Welcome",
        300,
        "<p>x</p>",
    ));
    // A difference alone: what was seen is named, interference is not claimed.
    assert_verdict(&o, Status::Inconclusive, &[Technique::HttpDiff]);
    // Corroborated by a failure on the way (a reset connection to another address): blocked.
    let mut o = o;
    let mut reset = o.tk.tcp_connect[0].clone();
    reset.ip = "198.51.100.7".into();
    reset.status.success = false;
    reset.status.failure = Some(Failure::ConnectionReset);
    o.tk.tcp_connect.push(reset);
    assert_verdict(&o, Status::Blocked, &[Technique::HttpDiff]);
}

#[test]
fn a_hosting_placeholder_is_a_known_non_blockpage() {
    let o = Obs::site("http://news.example/").response(page(
        "http://news.example/",
        200,
        "Welcome to nginx!",
        600,
        "<html><head><title>Welcome to nginx!</title></head><body>default</body></html>",
    ));
    let v = o.verdict();
    assert_eq!(v.status, Status::Down, "{v:#?}");
    assert_eq!(
        v.rules.first().map(String::as_str),
        Some("http.diff.known_false_positive")
    );
}

#[test]
fn dynamic_page_is_not_a_diff() {
    let o = Obs::site("http://news.example/").response(page(
        "http://news.example/",
        200,
        "Independent News Portal",
        2900,
        "<p>other</p>",
    ));
    assert_verdict(&o, Status::Accessible, &[]);
}

#[test]
fn captcha_over_valid_tls_is_server_side() {
    let o = Obs::site("https://news.example/").response(page(
        "https://news.example/",
        403,
        "Just a moment...",
        900,
        "captcha",
    ));
    assert_verdict(&o, Status::Down, &[Technique::HttpServerSide]);
}

#[test]
fn throttled_by_paired_transfer() {
    let mut o = Obs::site("https://news.example/");
    let mk = |role: &str, name: &str, bytes: u64, secs: f64| Throughput {
        address: format!("{IP}:443"),
        server_name: name.into(),
        role: role.into(),
        bytes,
        seconds: secs,
        samples: (1..=10).map(|i| bytes * i / 10).collect(),
        interval: secs / 10.0,
        failure: None,
    };
    o.tk.x_throughput = vec![
        mk("target", "news.example", 160_000, 10.0),
        mk("paired", "x.invalid", 2_000_000, 1.0),
    ];
    let v = o.verdict();
    assert_eq!(v.status, Status::Throttled, "{v:#?}");
    assert_eq!(v.techniques, vec![Technique::Throughput]);
    // A slow server slows both: not throttling.
    o.tk.x_throughput = vec![
        mk("target", "news.example", 160_000, 10.0),
        mk("paired", "x.invalid", 170_000, 10.0),
    ];
    assert_eq!(o.verdict().status, Status::Accessible);
}

/// Whether one line of the verdict's evidence says every one of `words`.
fn cites(v: &Verdict, words: &[&str]) -> bool {
    v.evidence
        .iter()
        .any(|e| words.iter().all(|w| e.contains(w)))
}

fn leg(role: &str, name: &str, bytes: u64, secs: f64, failure: Option<Failure>) -> Throughput {
    Throughput {
        address: format!("{IP}:443"),
        server_name: name.into(),
        role: role.into(),
        bytes,
        seconds: secs,
        samples: (1..=10).map(|i| bytes * i / 10).collect(),
        interval: secs / 10.0,
        failure,
    }
}

#[test]
fn a_leg_closed_without_close_notify_still_has_its_rate() {
    // The innocuous-name leg moved the whole page quickly, then the server closed without a
    // TLS close_notify (read as an EOF error): its rate still counts.
    let mut o = Obs::site("https://news.example/");
    o.tk.x_throughput = vec![
        leg("target", "news.example", 160_000, 10.0, None),
        leg("paired", "x.invalid", 2_000_000, 1.0, Some(Failure::Eof)),
    ];
    let v = o.verdict();
    assert_eq!(v.status, Status::Throttled, "{v:#?}");
    assert!(
        cites(&v, &["paired leg ended with eof_error"]),
        "{:?}",
        v.evidence
    );
}

#[test]
fn legs_sharing_a_slowed_path_unevenly_are_not_throttling_when_the_fetch_was_fast() {
    // The whole path is slowed: the page's own fetch, alone on it, read its 512 KiB at 890
    // kbit/s; the two timed legs then ran together and shared the path unevenly (the target's
    // leg at a third of the innocuous one's rate, as under loss).
    let mut o = Obs::site("https://news.example/");
    o.tk.requests[0].address = Some(format!("{IP}:443"));
    o.tk.requests[0].response.x_body_length = Some(524_288);
    o.tk.requests[0].t0 = 0.0;
    o.tk.requests[0].t = 4.7;
    o.tk.x_throughput = vec![
        leg("target", "news.example", 300_000, 10.0, None),
        leg("paired", "x.invalid", 900_000, 10.0, None),
    ];
    let v = o.verdict();
    assert_eq!(v.status, Status::Accessible, "{v:#?}");
    assert!(
        cites(&v, &["ratio 0.33", "own fetch"]),
        "the legs' ratio is named and explained: {:?}",
        v.evidence
    );
    // A policer on the name slows the fetch as much as the leg: throttled, as before.
    o.tk.requests[0].failure = Some(Failure::Timeout);
    o.tk.http_experiment_failure = Some(Failure::Timeout);
    o.tk.requests[0].t = 10.0;
    o.tk.requests[0].response.x_body_length = Some(40_000);
    o.tk.requests[0].response.x_last_byte_t = Some(9.9);
    o.tk.x_throughput[0] = leg("target", "news.example", 40_000, 10.0, None);
    let v = o.verdict();
    assert_eq!(v.status, Status::Throttled, "{v:#?}");
    assert_eq!(v.rules[0], "throughput.paired_ratio");
    // A burst let through first is fewer bytes than the leg moved afterwards: still throttled.
    o.tk.requests[0].response.x_body_length = Some(100_000);
    o.tk.requests[0].t = 0.5;
    o.tk.requests[0].response.x_last_byte_t = Some(0.5);
    o.tk.requests[0].failure = None;
    o.tk.http_experiment_failure = None;
    o.tk.x_throughput[0] = leg("target", "news.example", 300_000, 10.0, None);
    assert_eq!(o.verdict().rules[0], "throughput.paired_ratio");
    // A fetch to another address says nothing about this path.
    o.tk.requests[0].response.x_body_length = Some(1_125_000);
    o.tk.requests[0].t = 10.0;
    o.tk.requests[0].address = Some("198.18.9.9:443".into());
    assert_eq!(o.verdict().rules[0], "throughput.paired_ratio");
}

#[test]
fn a_stall_with_nothing_to_compare_is_inconclusive_with_the_rates() {
    // The page's head came, its body crawled, the fetch timed out; the CDN answered the
    // innocuous name with a small error page (or refused it): not a block.
    let mut o = Obs::site("https://news.example/");
    o.tk.requests[0].failure = Some(Failure::Timeout);
    o.tk.http_experiment_failure = Some(Failure::Timeout);
    for paired in [
        leg("paired", "x.invalid", 900, 0.1, None),
        leg(
            "paired",
            "x.invalid",
            0,
            0.0,
            Some(Failure::SslFailedHandshake),
        ),
    ] {
        o.tk.x_throughput = vec![leg("target", "news.example", 160_000, 10.0, None), paired];
        let v = o.verdict();
        assert_eq!(v.status, Status::Inconclusive, "{v:#?}");
        assert_eq!(
            v.rules.first().map(String::as_str),
            Some("throughput.no_comparison")
        );
        assert!(v.evidence[0].contains("128 kbit/s"), "{:?}", v.evidence);
    }
}

#[test]
fn a_page_that_crawled_until_the_timeout_is_a_rate_when_the_timed_legs_moved_nothing() {
    // The whole path is slowed: the page's head came and 114 kB of its body crawled in until
    // the fetch timed out; the timed legs made afterwards waited behind the queued bytes and
    // timed out in their handshakes. The fetch's own bytes are a rate: not a block.
    let mut o = Obs::site("https://news.example/");
    o.tk.requests[0].failure = Some(Failure::Timeout);
    o.tk.requests[0].response.x_body_length = Some(114_000);
    o.tk.requests[0].response.x_last_byte_t = Some(9.9);
    o.tk.requests[0].t0 = 0.0;
    o.tk.requests[0].t = 10.0;
    o.tk.http_experiment_failure = Some(Failure::Timeout);
    o.tk.x_throughput = vec![
        leg("target", "news.example", 0, 0.0, Some(Failure::Timeout)),
        leg("paired", "x.invalid", 0, 0.0, Some(Failure::Timeout)),
    ];
    let v = o.verdict();
    assert_eq!(v.status, Status::Inconclusive, "{v:#?}");
    assert_eq!(v.rules[0], "throughput.no_comparison");
    assert!(v.evidence[0].contains("91 kbit/s"), "{:?}", v.evidence);
    assert!(cites(&v, &["page's own fetch"]), "{:?}", v.evidence);
    // Another name's page came fast from the same address: the slowness is this name's.
    let t = interfero_analysis::throttle::wants_same_address(&o.tk).expect("a rate to compare");
    assert_eq!((t.role.as_str(), t.bytes), ("fetch", 114_000));
    o.tk.x_same_address = vec![leg("fetch", "other.example", 2_000_000, 1.0, None)];
    assert_eq!(o.verdict().rules[0], "throughput.same_address_ratio");
    // A slower crawl, still arriving late in the fetch, is a rate however few its bytes.
    o.tk.x_same_address.clear();
    o.tk.requests[0].response.x_body_length = Some(40_000);
    o.tk.requests[0].response.x_last_byte_t = Some(6.5);
    assert_eq!(o.verdict().rules[0], "throughput.no_comparison");
    // Starved by the other transfers on an address slowed as a whole (as seen in the kernel
    // world): 49 kB over 2.4 s, then nothing until the cut at 5 s. Still a crawl.
    o.tk.requests[0].t = 5.0;
    o.tk.requests[0].response.x_body_length = Some(49_026);
    o.tk.requests[0].response.x_last_byte_t = Some(2.38);
    assert_eq!(o.verdict().rules[0], "throughput.no_comparison");
    o.tk.requests[0].t = 10.0;
    // A head and a few bytes, then nothing for seconds (a filter freezing the connection after
    // its first packets): no rate, and the timeout is judged as a timeout.
    o.tk.requests[0].response.x_body_length = Some(16_000);
    o.tk.requests[0].response.x_last_byte_t = Some(0.4);
    assert_eq!(o.verdict().status, Status::Blocked, "{:#?}", o.verdict());
    // Without the last byte's time (imported records), only a body large enough to compare.
    o.tk.requests[0].response.x_last_byte_t = None;
    assert_eq!(o.verdict().status, Status::Blocked, "{:#?}", o.verdict());
    o.tk.requests[0].response.x_body_length = Some(114_000);
    assert_eq!(
        o.verdict().status,
        Status::Inconclusive,
        "{:#?}",
        o.verdict()
    );
}

#[test]
fn a_head_held_back_after_valid_tls_is_judged_from_the_timed_legs() {
    // TLS validated for the name, then no response head came before the cut (a path slowed
    // as a whole, with another page filling it); the legs timed afterwards moved bytes.
    let mut o = Obs::site("https://news.example/");
    o.tk.requests[0].failure = Some(Failure::Timeout);
    o.tk.requests[0].response = Default::default();
    o.tk.http_experiment_failure = Some(Failure::Timeout);
    // The innocuous name is refused there: nothing on the path to compare, so not a block.
    let refused = leg("paired", "x.invalid", 0, 0.0, Some(Failure::Eof));
    o.tk.x_throughput = vec![
        leg("target", "news.example", 290_000, 10.0, None),
        refused.clone(),
    ];
    let v = o.verdict();
    assert_eq!(v.status, Status::Inconclusive, "{v:#?}");
    assert_eq!(v.rules[0], "throughput.no_comparison");
    // Another name at the address as slow: the path's, not the name's.
    o.tk.x_same_address = vec![leg("target", "other.example", 295_000, 10.0, None)];
    assert_eq!(o.verdict().rules[0], "throughput.same_address_alike");
    // The innocuous name came fast on the same path: this name is throttled.
    o.tk.x_same_address.clear();
    o.tk.x_throughput[1] = leg("paired", "x.invalid", 2_000_000, 1.0, None);
    assert_eq!(o.verdict().status, Status::Throttled, "{:#?}", o.verdict());
    // The leg under the name moved nothing while the innocuous one came: a block, as before.
    o.tk.x_throughput[0] = leg("target", "news.example", 0, 0.0, Some(Failure::Timeout));
    let v = o.verdict();
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert_eq!(v.techniques, vec![Technique::HttpTimeout]);
    assert!(
        cites(
            &v,
            &[
                "under the target's name nothing came (generic_timeout_error)",
                "x.invalid the page came at 16000 kbit/s"
            ]
        ),
        "the legs are cited: {:?}",
        v.evidence
    );
}

#[test]
fn with_no_pair_another_names_transfer_to_the_same_address_decides() {
    // The innocuous name was refused at this address; during the run another site served
    // from the same address moved a megabyte quickly: the slowness is this name's.
    let mut o = Obs::site("https://news.example/");
    o.tk.requests[0].failure = Some(Failure::Timeout);
    o.tk.http_experiment_failure = Some(Failure::Timeout);
    let refused = leg(
        "paired",
        "x.invalid",
        0,
        0.0,
        Some(Failure::SslFailedHandshake),
    );
    o.tk.x_throughput = vec![leg("target", "news.example", 160_000, 10.0, None), refused];
    assert!(interfero_analysis::throttle::wants_same_address(&o.tk).is_some());
    o.tk.x_same_address = vec![leg("target", "other.example", 2_000_000, 1.0, None)];
    let v = o.verdict();
    assert_eq!(v.status, Status::Throttled, "{v:#?}");
    assert_eq!(v.rules[0], "throughput.same_address_ratio");
    assert!(v.confidence < 0.9, "weaker than a pair");
    assert!(v.evidence[0].contains("other.example"), "{:?}", v.evidence);
    // The same rate elsewhere at that address: the path or the server, not the name.
    o.tk.x_same_address = vec![leg("target", "other.example", 170_000, 10.0, None)];
    let v = o.verdict();
    assert_eq!(v.status, Status::Inconclusive, "{v:#?}");
    assert_eq!(v.rules[0], "throughput.same_address_alike");
    // Another address, the same name, or too few bytes: not comparable, as before.
    for other in [
        Throughput {
            address: "198.18.0.99:443".into(),
            ..leg("target", "other.example", 2_000_000, 1.0, None)
        },
        leg("target", "news.example", 2_000_000, 1.0, None),
        leg("target", "other.example", 9_000, 0.01, None),
    ] {
        o.tk.x_same_address = vec![other];
        assert_eq!(o.verdict().rules[0], "throughput.no_comparison");
    }
    // A usable pair is the comparison: nothing else is wanted.
    o.tk.x_throughput[1] = leg("paired", "x.invalid", 2_000_000, 1.0, None);
    assert!(interfero_analysis::throttle::wants_same_address(&o.tk).is_none());
}

#[test]
fn answers_are_classified_when_the_control_failed() {
    let mut o = Obs::site("http://news.example/").dns_answer("233.252.0.35");
    o.tk.control = None;
    o.tk.control_failure = Some("control unreachable".into());
    assert_verdict(&o, Status::Inconclusive, &[Technique::DnsBogon]);
    // A shared-address-space answer may be an intranet's: without a control it is not called
    // a lie. (A known blocking address would be: that is a fingerprint, not a comparison.)
    let mut o = Obs::site("http://news.example/").dns_answer("100.64.7.9");
    o.tk.control = None;
    o.tk.control_failure = Some("control unreachable".into());
    assert!(o.verdict().techniques.is_empty(), "{:#?}", o.verdict());
}

#[test]
fn no_control_is_inconclusive() {
    let mut o = Obs::site("https://news.example/").tls_fail(Failure::Timeout);
    o.tk.control = None;
    o.tk.control_failure = Some("control unreachable".into());
    // What was seen is named; that it is interference is not claimed.
    assert_verdict(&o, Status::Inconclusive, &[Technique::TlsTimeout]);
}

#[test]
fn no_control_names_each_step_it_saw_fail_and_never_interception() {
    let none = |mut o: Obs| {
        o.tk.control = None;
        o
    };
    let site = || Obs::site("https://news.example/");
    let cases = [
        (
            none(site().dns_fail(Failure::DnsNxdomain)),
            vec![Technique::DnsNxdomain],
        ),
        (
            none(site().tcp_fail(Failure::ConnectionReset)),
            vec![Technique::TcpReset],
        ),
        (none(site().tls_fail(Failure::Eof)), vec![Technique::TlsEof]),
        // An untrusted certificate without a control is a broken site as much as a middlebox.
        (
            none(
                site()
                    .tls_fail(Failure::SslUnknownAuthority)
                    .chain("CN=Some Middlebox CA"),
            ),
            vec![],
        ),
    ];
    for (o, techniques) in cases {
        assert_verdict(&o, Status::Inconclusive, &techniques);
    }
}

#[test]
fn redirect_hop_failure_is_judged_at_its_step() {
    let mut o = Obs::site("http://news.example/");
    let mut first = page("http://news.example/", 302, "", 0, "");
    first
        .response
        .headers_list
        .push(("Location".into(), "http://www.news.example/".into()));
    let mut second = page("http://www.news.example/", 0, "", 0, "");
    second.failure = Some(Failure::ConnectionReset);
    second.response = HttpResponse::default();
    o.tk.requests = vec![second, first];
    assert_verdict(&o, Status::Blocked, &[Technique::HttpReset]);
}

#[test]
fn the_same_announced_network_is_weaker_corroboration_never_proof() {
    // Two addresses of one CDN's network (classifier input, never dialled).
    let (probe, control) = ("151.101.65.69", "151.101.1.1");
    let net = |ip: &str| interfero_netdb::lookup(ip.parse().unwrap()).map(|n| n.asn);
    assert!(
        net(probe).is_some() && net(probe) == net(control),
        "the table names both"
    );
    let mut o = Obs::site("http://cdn.example/")
        .dns_answer(probe)
        .response(page(
            "http://cdn.example/",
            200,
            "Other",
            300,
            "<p>other</p>",
        ));
    o.tk.requests[0].address = Some(format!("{probe}:80"));
    if let Some(c) = o.tk.control.as_mut() {
        c.dns.addrs = vec![control.into()];
    }
    let v = o.verdict();
    // Still what the fetch showed (another page from another address), stated with less
    // confidence and the weaker evidence named.
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.confidence <= 0.6, "{v:#?}");
    assert!(
        cites(&v, &["same announced network", "not proof"]),
        "{v:#?}"
    );
}
