//! Fuzzing at scale, inside `cargo test` and bounded in time: a fixed number of generated
//! cases for target parsing, list parsing and OONI measurement import (arbitrary text,
//! arbitrary JSON, and OONI's real samples mutated byte by byte and field by field). Nothing
//! may panic, and what is accepted keeps its promises (bounded, no credentials, scrubbable).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::target::{parse_list, MAX_TARGET_LEN};
use interfero_model::{Measurement, Target};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

/// Cases per property: enough to find what a few hundred do not, a few seconds each in a
/// debug build. `INTERFERO_FUZZ_CASES=1000000` runs a longer campaign.
const CASES: u32 = 3000;

fn config() -> ProptestConfig {
    let cases = std::env::var("INTERFERO_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn samples() -> &'static [String] {
    static S: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ooni");
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("analysis")
                {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        out.sort();
        assert!(out.len() >= 50, "the OONI samples are missing");
        out
    })
}

/// URL-ish text: schemes, hosts, credentials, ports, IPv6, percent signs, controls.
fn urlish() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("https://".to_string()),
        Just("http://".to_string()),
        Just("ftp://".to_string()),
        Just("user:pass@".to_string()),
        Just("[::1]".to_string()),
        Just("[2001:db8::1]".to_string()),
        Just(":0".to_string()),
        Just(":65536".to_string()),
        Just(":443".to_string()),
        Just("%2e%00".to_string()),
        Just("\u{1b}[2J".to_string()),
        Just("xn--80ak6aa92e.com".to_string()),
        Just("example.kz".to_string()),
        Just("/path?q=1#f".to_string()),
        "[a-z0-9.-]{0,12}",
        "\\PC{0,6}",
        any::<String>(),
    ];
    proptest::collection::vec(part, 0..6).prop_map(|v| v.concat())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every (path to a) value in `v`, depth first.
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = here.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(4) {
                let mut p = here.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    let next = match v {
        Value::Object(m) => m.get_mut(first),
        Value::Array(a) => first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    };
    if let Some(n) = next {
        set(n, rest, new);
    }
}

/// An imported measurement is as harmless as one we made: it serialises, and scrubbing
/// and forgetting the user do not panic on it.
fn exercise(m: Measurement) {
    let mut m = m;
    let _ = serde_json::to_string(&m).expect("serialises");
    m.test_keys.scrub_address("203.0.113.7");
    m.test_keys.scrub_address("2001:db8::7");
    m.forget_user(Some("198.51.100.1"), &[], "fuzz");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn targets_never_panic_and_keep_their_promises(s in urlish()) {
        if let Ok(t) = Target::parse(&s) {
            prop_assert!(t.url.starts_with("http://") || t.url.starts_with("https://"));
            prop_assert!(t.url.len() <= MAX_TARGET_LEN * 3, "{}", t.url.len());
            let u = url::Url::parse(&t.url).unwrap();
            prop_assert!(u.username().is_empty() && u.password().is_none(), "{}", t.url);
            prop_assert_ne!(u.port(), Some(0));
            prop_assert!(!t.url.chars().any(char::is_control));
            // What was accepted parses again to itself.
            prop_assert_eq!(Target::parse(&t.url).map(|t| t.url), Ok(t.url.clone()));
        } else if let Err(e) = Target::parse(&s) {
            prop_assert!(e.to_string().len() < 1000);
        }
    }

    #[test]
    fn lists_never_panic(lines in proptest::collection::vec(urlish(), 0..40), csv in any::<bool>()) {
        let mut text = if csv { "url,category_code,category_description\n".to_string() } else { String::new() };
        for l in &lines {
            text.push_str(l);
            text.push_str(if csv { ",NEWS,x\n" } else { "\n" });
        }
        let (targets, problems) = parse_list(&text);
        prop_assert!(targets.len() + problems.len() <= text.lines().count());
        for p in &problems {
            prop_assert!(p.line >= 1 && p.line <= text.lines().count());
        }
    }

    #[test]
    fn ooni_import_of_any_text_never_panics(s in any::<String>()) {
        if let Ok(m) = Measurement::from_ooni_json(&s) {
            exercise(m);
        }
    }

    #[test]
    fn ooni_import_of_any_json_never_panics(v in arb_json()) {
        if let Ok(m) = Measurement::from_ooni_json(&v.to_string()) {
            exercise(m);
        }
    }

    #[test]
    fn mutated_ooni_samples_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0usize..4), 1..8),
    ) {
        let s = samples();
        let mut bytes = s[pick.index(s.len())].clone().into_bytes();
        for (at, b, kind) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = b,
                1 => { bytes.remove(i); }
                2 => bytes.insert(i, b),
                _ => bytes.truncate(i),
            }
        }
        if let Ok(m) = Measurement::from_ooni_json(&String::from_utf8_lossy(&bytes)) {
            exercise(m);
        }
    }

    #[test]
    fn ooni_samples_with_a_field_replaced_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        new in arb_json(),
    ) {
        let s = samples();
        let mut v: Value = serde_json::from_str(&s[pick.index(s.len())]).unwrap();
        let mut all = Vec::new();
        paths(&v, Vec::new(), &mut all);
        let path = all[at.index(all.len())].clone();
        set(&mut v, &path, new);
        if let Ok(m) = Measurement::from_ooni_json(&v.to_string()) {
            exercise(m);
        }
    }
}
