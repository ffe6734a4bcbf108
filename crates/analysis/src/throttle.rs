//! Throttling: a transfer under the target's name far slower than the same transfer, on the same
//! path, under a name no filter targets. A slow server or a congested link slows both.

use interfero_model::measurement::{TestKeys, Throughput};
use interfero_model::{Status, Technique, Verdict};

/// Below this share of the paired rate, the target's transfer is throttled.
pub const RATIO_THRESHOLD: f64 = 0.4;

/// The fewest bytes the paired leg must move for its rate to be compared.
pub const MIN_PAIRED_BYTES: u64 = 64 * 1024;

/// How flat the per-interval rate is once the transfer is under way: the coefficient of
/// variation of the interval rates after the first (policers give a flat plateau).
pub fn plateau_cv(t: &Throughput) -> Option<f64> {
    let rates: Vec<f64> = t
        .samples
        .windows(2)
        .filter_map(|w| match w {
            [a, b] => Some(b.saturating_sub(*a) as f64),
            _ => None,
        })
        .skip(1)
        .collect();
    if rates.len() < 3 {
        return None;
    }
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    if mean <= 0.0 {
        return None;
    }
    let var = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rates.len() as f64;
    Some(var.sqrt() / mean)
}

/// The throttling verdict, when the paired transfers show one.
pub fn judge(tk: &TestKeys) -> Option<Verdict> {
    let ok = |role: &str| {
        tk.x_throughput
            .iter()
            .find(|t| t.role == role && t.failure.is_none() && t.bytes > 0)
    };
    let target = ok("target")?;
    let paired = ok("paired")?;
    // A paired leg that moved only a few bytes (an error page for the innocuous name) has no
    // rate worth comparing with.
    if paired.bytes < MIN_PAIRED_BYTES {
        return None;
    }
    let (rt, rp) = (target.kbps(), paired.kbps());
    if rp <= 0.0 {
        return None;
    }
    let ratio = rt / rp;
    if ratio >= RATIO_THRESHOLD {
        return None;
    }
    let mut v = Verdict::new(Status::Throttled, 0.9, "throughput.paired_ratio")
        .with(Technique::Throughput)
        .because(format!(
            "{} bytes for {} at {rt:.0} kbit/s; the same path under {} at {rp:.0} kbit/s (ratio {ratio:.2})",
            target.bytes, target.server_name, paired.server_name
        ));
    if let Some(c) = tk.control.as_ref().and_then(|c| c.x_throughput.as_ref()) {
        v.evidence
            .push(format!("control fetched at {:.0} kbit/s", c.kbps()));
    }
    if let Some(cv) = plateau_cv(target) {
        if cv < 0.25 {
            v.confidence = 0.95;
            v.evidence.push(format!(
                "rate held to a flat plateau (variation {cv:.2}): the signature of a policer"
            ));
        }
    }
    Some(v)
}
