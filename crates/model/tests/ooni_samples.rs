//! Every OONI sample shipped in testdata/ parses into our types.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_model::Measurement;
use std::path::Path;

fn samples() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ooni");
    let mut out = Vec::new();
    for dir in ["fastpath-samples", "webconnectivity-generated"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == "measurement.json")
                    || (dir == "fastpath-samples" && p.extension().is_some_and(|x| x == "json"))
                {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn all_63_samples_parse() {
    let files = samples();
    // 50 generated scenarios + 13 fastpath samples (shared/ holds 63, not the 64 the issue counts).
    assert_eq!(files.len(), 63);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        match Measurement::from_ooni_json(&text) {
            Ok(m) => assert!(!m.input.is_empty(), "{}", f.display()),
            Err(e) => bad.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
