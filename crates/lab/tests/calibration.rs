//! The calibration table: per confidence band, how often the verdicts in it were right.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap in a test is a failed test

use interfero_lab::score::score;
use interfero_lab::{Expectation, LabTarget};
use interfero_model::{Status, Technique, Verdict};

fn target(name: &str, status: Status) -> LabTarget {
    LabTarget {
        name: name.into(),
        url: format!("https://{name}.test/"),
        expect: Expectation {
            status,
            techniques: Vec::new(),
            accept: Vec::new(),
        },
        supported: Ok(()),
    }
}

#[test]
fn each_band_counts_its_verdicts_and_the_right_ones() {
    let results = vec![
        (
            target("a", Status::Accessible),
            Verdict::new(Status::Accessible, 0.9, "r"),
        ),
        (
            target("b", Status::Accessible),
            Verdict::new(Status::Blocked, 0.9, "r"),
        ),
        (
            target("c", Status::Blocked),
            Verdict::new(Status::Blocked, 1.0, "r"),
        ),
        (
            target("d", Status::Blocked),
            Verdict::new(Status::Blocked, 0.5, "r").with(Technique::DnsTimeout),
        ),
    ];
    let r = score(&results);
    let band = |from: f64| {
        r.calibration
            .iter()
            .find(|b| (b.from - from).abs() < 1e-9)
            .map(|b| (b.verdicts, b.right))
    };
    assert_eq!(band(0.85), Some((2, 1)));
    // Confidence 1.0 falls in the last band.
    assert_eq!(band(0.95), Some((1, 1)));
    // The right status with the wrong techniques is not right.
    assert_eq!(band(0.5), Some((1, 0)));
    assert_eq!(band(0.0), Some((0, 0)));
    assert!(r.to_markdown().contains("| [0.85, 0.95) | 2 | 1 | 50.0% |"));
}
