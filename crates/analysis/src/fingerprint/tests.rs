use super::*;
use interfero_model::measurement::BinaryData;
use proptest::prelude::*;

fn resp(body: &str, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        code: 200,
        headers_list: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Some(BinaryData::Text(body.to_string())),
        ..HttpResponse::default()
    }
}

fn names(ms: &[FingerprintMatch]) -> Vec<&str> {
    ms.iter().map(|m| m.name.as_str()).collect()
}

const HEADER: &str = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n";

#[test]
fn builtin_parses_every_row() {
    let fp = Fingerprints::builtin();
    assert_eq!(fp.skipped(), &[] as &[SkippedFingerprint]);
    // 226 DNS rows + 1,729 HTTP rows in the vendored files, + 10 hosting placeholder pages
    // (known non-blockpages, data/placeholders.csv).
    assert_eq!(fp.len(), 226 + 1729 + 10);
}

#[test]
fn body_contains() {
    let r = resp("<p>write to it-security-operations@etisalat.ae</p>", &[]);
    let m = Fingerprints::builtin().match_http(&r);
    let hit = m.iter().find(|m| m.name == "ooni.ae_3").expect("ooni.ae_3");
    assert_eq!(hit.location, "body");
    assert_eq!(hit.scope, "isp");
    assert_eq!(hit.expected_countries, vec!["AE"]);
}

#[test]
fn body_full_needs_the_whole_body() {
    let fp = Fingerprints::builtin();
    assert!(names(&fp.match_http(&resp("<HTML></HTML>", &[]))).contains(&"cl.susp_blankhtml_1"));
    let longer = resp("<HTML></HTML><p>more</p>", &[]);
    assert!(!names(&fp.match_http(&longer)).contains(&"cl.susp_blankhtml_1"));
}

#[test]
fn body_regexp_is_a_real_regexp() {
    // OONI's pipeline would search for this pattern as a literal and miss the page.
    let body = "If you believe the requested page should not be blocked please click \
                <a href=\"http://www.internet.gov.sa/resources/block-unblock-request\">here</a>";
    let m = Fingerprints::builtin().match_http(&resp(body, &[]));
    let hit = m
        .iter()
        .find(|m| m.name == "cp.b_nat_sa_national_2")
        .expect("regexp row");
    assert_eq!(hit.scope, "nat");
}

#[test]
fn python_style_brace_is_literal() {
    let m = Fingerprints::builtin().match_http(&resp(r#"{"msg": "x", "id": 3}"#, &[]));
    let hit = m
        .iter()
        .find(|m| m.name == "cp.fp_x_msg_id")
        .expect("cp.fp_x_msg_id");
    assert!(hit.is_false_positive());
    assert_eq!(python_re::braces(r#"{"a":.{2,3}x}"#), r#"\{"a":.{2,3}x\}"#);
}

#[test]
fn header_prefix_with_any_name_case() {
    let fp = Fingerprints::builtin();
    let r = resp("", &[("SERVER", "Protected by WireFilter 8000 (ae)")]);
    let m = fp.match_http(&r);
    let hit = m.iter().find(|m| m.name == "ooni.ae_0").expect("ooni.ae_0");
    assert_eq!(hit.location, "header.server");
    assert_eq!(hit.expected_countries, vec!["AE", "SA"]);
    // A prefix must start the value.
    let r = resp("", &[("Server", "nginx, Protected by WireFilter")]);
    assert!(!names(&fp.match_http(&r)).contains(&"ooni.ae_0"));
}

#[test]
fn header_full() {
    let fp = Fingerprints::builtin();
    let r = resp("", &[("Location", "http://www.warning.or.kr")]);
    assert!(names(&fp.match_http(&r)).contains(&"ooni.kr_2"));
    let r = resp("", &[("Location", "http://www.warning.or.kr/x")]);
    assert!(!names(&fp.match_http(&r)).contains(&"ooni.kr_2"));
}

#[test]
fn header_contains_catches_what_ooni_skips() {
    // The prefix row ooni.ru_82 (`http://block.runnet.ru`) misses an HTTPS redirect; only the
    // header `contains` row, which OONI's pipeline skips, catches it.
    let r = resp(
        "",
        &[("location", "https://block.runnet.ru/?url=example.org")],
    );
    let m = Fingerprints::builtin().match_http(&r);
    assert_eq!(names(&m), vec!["cl.inst_edu_runnet_forward"]);
}

#[test]
fn false_positive_row() {
    let body = "<html><body><h1>Welcome to nginx!</h1>\
                <p><em>Thank you for using nginx.</em></p></body></html>";
    let m = Fingerprints::builtin().match_http(&resp(body, &[]));
    let hit = m
        .iter()
        .find(|m| m.name == "cp.fp_x_fpru_nginx")
        .expect("fp row");
    assert!(hit.is_false_positive());
}

#[test]
fn ordinary_page_matches_nothing() {
    let body = "<!doctype html><html><head><title>Example Domain</title></head><body>\
                <h1>Example Domain</h1><p>This domain is for use in documentation examples \
                without needing permission.</p></body></html>";
    let r = resp(
        body,
        &[
            ("Content-Type", "text/html"),
            ("Server", "ECAcc (dcd/7D5A)"),
        ],
    );
    assert_eq!(Fingerprints::builtin().match_http(&r), vec![]);
}

#[test]
fn dns_full() {
    let fp = Fingerprints::builtin();
    assert_eq!(names(&fp.match_dns("8.7.198.45")), vec!["ooni.cn_0"]);
    assert!(fp.match_dns("8.7.198.4").is_empty());
    assert!(fp.match_dns("93.184.215.14").is_empty());
}

#[test]
fn custom_rows_prefix_on_body_bad_regexp_and_quotes() {
    let http = format!(
        "{HEADER}a,isp,,body,prefix,<html><b>Blocked,5,KZ,,,\n\
         b,nat,,body,regexp,(unclosed,5,,,,\n\
         c,nat,,header.x-why,contains,\"by order, \"\"court\"\"\",7,\"KZ, RU\",,,\n\
         d,nat,,status,full,451,5,,,,\n"
    );
    let fp = Fingerprints::parse(HEADER, &http).unwrap();
    let skipped: Vec<&str> = fp.skipped().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, vec!["d", "b"]);
    assert_eq!(fp.skipped()[1].line, 3);
    let r = resp(
        "<html><b>Blocked</b>",
        &[("X-Why", "blocked by order, \"court\" 12")],
    );
    let m = fp.match_http(&r);
    assert_eq!(names(&m), vec!["a", "c"]);
    assert_eq!(m[1].expected_countries, vec!["KZ", "RU"]);
    assert_eq!(m[1].confidence_no_fp, 7);
    assert!(fp.match_http(&resp(" <html><b>Blocked", &[])).is_empty());
}

#[test]
fn unreadable_files_are_errors() {
    assert!(matches!(
        Fingerprints::parse("name,scope\n", ""),
        Err(FingerprintError::MissingColumn { file: "dns", .. })
    ));
    let bad = format!("{HEADER}a,isp,,body,contains,\"open,5,,,,\n");
    assert!(matches!(
        Fingerprints::parse(HEADER, &bad),
        Err(FingerprintError::Csv {
            file: "http",
            line: 2,
            ..
        })
    ));
}

proptest! {
    #[test]
    fn random_responses_never_panic(body in ".{0,400}", value in ".{0,80}", addr in ".{0,40}") {
        let fp = Fingerprints::builtin();
        let r = resp(&body, &[("Location", value.as_str()), ("server", value.as_str())]);
        let _ = fp.match_http(&r);
        let _ = fp.match_dns(&addr);
    }

    #[test]
    fn random_csv_never_panics(text in "[a-z,\"\n.{}()*\\\\]{0,300}") {
        let _ = Fingerprints::parse(&text, &text);
    }
}
