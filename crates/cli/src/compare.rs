//! The Markdown comparison of our verdicts with OONI's own, for `analyze --compare-ooni`.

use crate::analyze::Loaded;
use crate::escape::markdown as md;
use interfero_analysis::ooni::ooni_status;
use interfero_model::{Measurement, Status, Verdict};
use std::fmt::Write as _;
use std::path::PathBuf;

fn ooni_label(m: &Measurement) -> String {
    let b = match &m.test_keys.blocking {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => "null".into(),
    };
    let a = m
        .test_keys
        .accessible
        .map(|a| a.to_string())
        .unwrap_or_else(|| "null".into());
    // `blocking` is whatever the file said: escaped, it cannot open HTML or a heading.
    format!("blocking={}, accessible={a}", md(&b))
}

/// Why our verdict differs from OONI's, from the rule that decided ours.
fn why(ooni: Status, v: &Verdict) -> String {
    let rule = v.rules.first().map(String::as_str).unwrap_or("");
    let s = match rule {
        "tls.certificate_untrusted.control_valid" => "the control validated a certificate on the same address, so the certificate the probe got was substituted on the path: interception (`tls.mitm`). OONI has no interception verdict and files a certificate error either as the site's fault or, when DNS also differs, as DNS tampering.",
        "tls.failure.control_fails_too" => "the control's handshake failed the same way: the site's certificate is at fault, not the network.",
        "reached.same_as_control" if ooni == Status::Blocked => "the probe completed TLS valid for the name on the address it was given (or fetched the control's page over HTTP), which only the site's own servers can do: a CDN or geo-DNS answer, not tampering. OONI compares IPs and ASNs with one control and calls any other address inconsistent.",
        "reached.same_as_control" => "every step matched the control.",
        "dns.hijack.not_in_control_no_valid_tls" => "the resolver's addresses are not the control's and do not serve the name over valid TLS (or serve another page): the answer was forged, even though something answered there. OONI accepts any successful HTTPS fetch as \"not blocked\", but this fetch did not come from the site.",
        "dns.bogon.not_in_control" => "the answer is a private or loopback address the control does not give.",
        "http.server_side.authenticated" => "the refusal came over TLS valid for the name, so the site itself wrote it (captcha, geoblock): `down` with `http.server_side`, not network interference.",
        "http.diff.known_false_positive" => "the page matches a fingerprint of a known non-blockpage (OONI's own `fp` rows): the site's doing, not a censor's.",
        "site.control_fails_too" | "tcp.failure.control_fails_too" => "the control failed too: the site is down (or misbehaves) for everyone, which is not interference.",
        "control.missing" => "without a control nothing but a certain signal (a blockpage fingerprint, a state root) may decide: we say inconclusive instead of guessing.",
        "http.failure.control_fetches" => "the probe's exchange failed at a step where the control's succeeded: interference, told by step and failure.",
        "reached.tls_valid.control_failed" => "the control failed, but the probe reached the site over TLS valid for the name: whatever happened to the control, this vantage point was not blocked.",
        "dns.answer_for_nonexistent_name" => "the control finds that the name does not exist, yet the probe's resolver answered with addresses: a name that does not exist has none, so the answer was made up (OONI's \"ghost\" DNS).",
        "http.probe_error" => "the probe's own HTTP code crashed (an `unknown_failure` from a decoding bug): that says nothing about the network, so we say inconclusive instead of counting it as interference.",
        "http.blockpage.fingerprint" => "the plaintext response (or the redirect that led to it) matches a blockpage fingerprint: a certain signal of blocking. OONI's Web Connectivity accepted the redirect chain as a normal page.",
        "control.failed.probe_plaintext" => "the control failed and a plaintext page cannot be authenticated: inconclusive.",
        _ => "",
    };
    if s.is_empty() {
        format!("rule `{}`.", md(rule).replace('`', "'"))
    } else {
        s.to_string()
    }
}

/// The observations our verdict rests on, as the analysis wrote them (escaped: they quote the
/// network).
fn observed(v: &Verdict) -> String {
    let seen: Vec<String> = v.evidence.iter().take(3).map(|e| md(e)).collect();
    if seen.is_empty() {
        String::new()
    } else {
        format!(" Observed: {}.", seen.join("; "))
    }
}

/// The whole comparison document.
pub fn markdown(loaded: &[Loaded], judged: &[Measurement], paths: &[PathBuf]) -> String {
    let mut agree = 0;
    let mut rows = String::new();
    let mut diffs = String::new();
    for (l, ours) in loaded.iter().zip(judged) {
        let o = &l.measurement;
        let os = ooni_status(&o.test_keys.blocking, o.test_keys.accessible);
        let Some(v) = &ours.verdict else { continue };
        let same = os == v.status;
        if same {
            agree += 1;
        }
        let name = l
            .source
            .rsplit('/')
            .nth(if l.source.ends_with("measurement.json") {
                1
            } else {
                0
            })
            .unwrap_or(&l.source);
        let name = md(name);
        let techniques = v
            .techniques
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            rows,
            "| {name} | {} | {os} | **{}** {techniques} | `{}` | {} |",
            ooni_label(o),
            v.status,
            v.rules
                .first()
                .map(|r| md(r).replace('`', "'"))
                .unwrap_or_default(),
            if same { "yes" } else { "no" }
        );
        if !same {
            let _ = writeln!(
                diffs,
                "- **{name}** — OONI: {os} ({}); Interfero: {} {techniques}. Why: {}{}",
                ooni_label(o),
                v.status,
                why(os, v),
                observed(v)
            );
        }
    }
    let total = judged.len();
    let cmd = format!(
        "cargo run --release -- analyze {} --compare-ooni docs/ooni-comparison.md --quiet",
        paths
            .iter()
            // Inside a code fence only a fence ends the block: no backticks, no line breaks.
            .map(|p| {
                crate::escape::terminal(&p.display().to_string()).replace(['`', '\n', '\r'], "'")
            })
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut out = String::new();
    let _ = writeln!(out, "# Interfero and OONI on OONI's own measurements\n");
    let _ = writeln!(out, "Regenerate with:\n\n```\n{cmd}\n```\n");
    let _ = writeln!(out, "Samples: OONI's synthetic Web Connectivity QA scenarios (`webconnectivity-generated`, OONI's verdict from the probe's `blocking`/`accessible` keys) and real measurements from OONI's fastpath tests (`fastpath-samples`), vendored in `testdata/ooni/` with their SOURCE files.\n");
    let _ = writeln!(out, "OONI's `blocking`/`accessible` keys map to a status as: a string → blocked; false/true → accessible; false/false → down; null → inconclusive. OONI has no `intercepted` or `throttled` status, and no techniques finer than `dns`, `tcp_ip`, `http-failure`, `http-diff`.\n");
    let _ = writeln!(out, "**{agree} of {total} agree on the status; {} differ.** Every difference is explained below.\n", total - agree);
    let _ = writeln!(out, "## Where we differ, and why\n\n{diffs}");
    let _ = writeln!(out, "## Every sample\n\n| sample | OONI | OONI status | Interfero | rule | same status |\n|---|---|---|---|---|---|\n{rows}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_cites_the_observations_escaped() {
        let v = Verdict::new(Status::Down, 0.9, "site.control_fails_too")
            .because("control: connection_refused_error")
            .because("title <script>x</script>");
        let seen = observed(&v);
        assert!(seen.starts_with(" Observed: control: connection"), "{seen}");
        assert!(seen.contains("title"), "{seen}");
        assert!(!seen.contains("<script"), "{seen}");
        assert_eq!(observed(&Verdict::new(Status::Down, 0.9, "r")), "");
    }
}
