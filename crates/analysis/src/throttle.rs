//! Throttling: a transfer under the target's name far slower than the same transfer, on the same
//! path, under a name no filter targets. A slow server or a congested link slows both.

use interfero_model::measurement::{HttpRoundTrip, TestKeys, Throughput};
use interfero_model::{Failure, Status, Technique, Verdict};
use std::borrow::Cow;

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

/// A leg whose rate can be read: it moved bytes over a measurable time, however its connection
/// ended (servers often close without a TLS close_notify, which reads as an error: the bytes
/// that came still came, at the rate they came).
fn moved<'a>(tk: &'a TestKeys, role: &str) -> Option<&'a Throughput> {
    tk.x_throughput
        .iter()
        .find(|t| t.role == role && t.bytes > 0 && t.seconds > 0.0)
}

/// The innocuous-name leg when it moved enough to be compared with ([`MIN_PAIRED_BYTES`]): an
/// error page for a name the server does not serve has no rate worth comparing with.
fn usable_paired(tk: &TestKeys) -> Option<&Throughput> {
    moved(tk, "paired").filter(|p| p.bytes >= MIN_PAIRED_BYTES)
}

/// Why a leg gave no bytes, as its failure names it.
fn why_nothing(t: &Throughput) -> &str {
    t.failure.as_ref().map_or("no bytes", Failure::as_str)
}

/// A timed-out body was still arriving when its last bytes came this late in the fetch's time
/// (a share of it). A shaper with a deep queue delivers in bursts seconds apart as TCP backs
/// off, and on an address slowed as a whole other transfers can starve this one for more than
/// half of the wait (seen in the kernel world: 49 kB over 2.4 s, then nothing until the cut at
/// 5 s), so the quiet spell before the timeout says little; a filter that freezes the
/// connection after its first packets goes quiet within a few round trips of the request.
pub const CRAWL_LATE_SHARE: f64 = 0.25;

/// A round trip whose page began as a transfer (role `fetch`): the body's bytes over the time
/// from the request to the body's end or the failure that cut it. That time includes the
/// server's wait before its first byte, so the rate is never overstated. `None` without a 2xx
/// head, body bytes, an address or a measurable time.
fn as_transfer(rt: &HttpRoundTrip, address: Option<String>) -> Option<Throughput> {
    let bytes = rt.response.x_body_length.filter(|&b| b > 0)?;
    let seconds = rt.t - rt.t0;
    if !(200..300).contains(&rt.response.code) || seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    let url = url::Url::parse(&rt.request.url).ok()?;
    Some(Throughput {
        address: address?,
        server_name: url.host_str()?.to_ascii_lowercase(),
        role: "fetch".into(),
        bytes,
        seconds,
        samples: Vec::new(),
        interval: 0.0,
        failure: rt.failure.clone(),
    })
}

/// [`as_transfer`] for a round trip that moved enough to be compared with
/// ([`MIN_PAIRED_BYTES`]): another name's page, for the same-address comparison.
pub fn round_trip_transfer(rt: &HttpRoundTrip) -> Option<Throughput> {
    as_transfer(rt, rt.address.clone()).filter(|t| t.bytes >= MIN_PAIRED_BYTES)
}

/// Whether a timed-out body was still arriving when the fetch gave up: its last bytes came in
/// the latter part of the fetch's time ([`CRAWL_LATE_SHARE`]). A body cut after its first
/// packets (a filter that freezes a connection once it has seen enough) went quiet at the
/// start: that is not a rate. Records without the last byte's time (imported ones) count when
/// they moved enough to be compared.
fn crawling(rt: &HttpRoundTrip) -> bool {
    let bytes = rt.response.x_body_length.unwrap_or(0);
    match rt.response.x_last_byte_t {
        Some(last) => bytes > 0 && last - rt.t0 >= CRAWL_LATE_SHARE * (rt.t - rt.t0),
        None => bytes >= MIN_PAIRED_BYTES,
    }
}

/// The target's timed transfer: its leg under the target's name when that moved bytes, else
/// the page's own fetch when its body was still crawling in at the timeout. The timed leg is
/// made after the fetch, and on a path slowed as a whole its handshake can wait behind the
/// fetch's queued bytes until it times out: the fetch moved what it moved, and that is a rate.
fn target_transfer(tk: &TestKeys) -> Option<Cow<'_, Throughput>> {
    if let Some(t) = moved(tk, "target") {
        return Some(Cow::Borrowed(t));
    }
    if tk.http_experiment_failure != Some(Failure::Timeout) {
        return None;
    }
    let rt = tk
        .requests
        .iter()
        .find(|rt| rt.failure == Some(Failure::Timeout))
        .filter(|rt| crawling(rt))?;
    // Imported measurements may carry no address on the request: the one connection that
    // succeeded on the URL's port is the one the page came over.
    let address = rt.address.clone().or_else(|| {
        let port = url::Url::parse(&rt.request.url)
            .ok()?
            .port_or_known_default()?;
        crate::facts::sole_connect(tk, port).map(|a| a.to_string())
    });
    as_transfer(rt, address).map(Cow::Owned)
}

/// What stood for the timed leg, when the page's own fetch did.
fn stood_in(tk: &TestKeys, target: &Throughput) -> Option<String> {
    (target.role == "fetch").then(|| {
        let leg = tk.x_throughput.iter().find(|t| t.role == "target");
        format!(
            "the timed transfer under the target's name moved nothing ({}): the rate is the \
             page's own fetch, {} bytes in {:.1} s before it timed out",
            leg.and_then(|t| t.failure.as_ref())
                .map_or("not made", Failure::as_str),
            target.bytes,
            target.seconds
        )
    })
}

/// The timed legs' ratio fell below [`RATIO_THRESHOLD`], but the page's own fetch under the
/// same name, to the same address, moved at least as many bytes as the name's leg at no less
/// than that share of the innocuous leg's rate. The fetch ran alone before the two legs, which
/// run together: on a path slowed as a whole they share it, and under loss one can take three
/// times the other's share. A policer on the name slows every byte sent under it (a burst it
/// lets through first is fewer bytes than the leg then moved), so such a fetch shows the low
/// ratio was the sharing's, not the name's.
struct Uneven<'a> {
    leg: &'a Throughput,
    paired: &'a Throughput,
    fetch: Throughput,
}

/// The [`Uneven`] case, when the measurement shows it.
fn unevenly_shared(tk: &TestKeys) -> Option<Uneven<'_>> {
    let leg = moved(tk, "target")?;
    let paired = usable_paired(tk)?;
    let rp = paired.kbps();
    if rp <= 0.0 || leg.kbps() / rp >= RATIO_THRESHOLD {
        return None;
    }
    let fetch = tk
        .requests
        .iter()
        .filter(|rt| rt.address.as_deref() == Some(leg.address.as_str()))
        .filter_map(|rt| as_transfer(rt, rt.address.clone()))
        .filter(|f| f.server_name.eq_ignore_ascii_case(&leg.server_name))
        .filter(|f| f.bytes >= leg.bytes.max(MIN_PAIRED_BYTES))
        .find(|f| f.kbps() >= RATIO_THRESHOLD * rp)?;
    Some(Uneven { leg, paired, fetch })
}

/// Why the timed legs' low ratio was not called throttling ([`unevenly_shared`]): said
/// beside the verdict given instead.
pub fn shared_unevenly(tk: &TestKeys) -> Option<String> {
    let Uneven { leg, paired, fetch } = unevenly_shared(tk)?;
    let (rt, rp) = (leg.kbps(), paired.kbps());
    Some(format!(
        "the timed legs, run together to {}, came at {rt:.0} kbit/s under {} and at {rp:.0} \
         kbit/s under {} (ratio {:.2}), but the page's own fetch under {}, alone on the same \
         address, moved {} bytes at {:.0} kbit/s: a policer on the name would have slowed it \
         too, so the legs shared a slow path unevenly",
        leg.address,
        leg.server_name,
        paired.server_name,
        rt / rp,
        fetch.server_name,
        fetch.bytes,
        fetch.kbps()
    ))
}

/// How a leg ended, when it ended with an error after moving bytes.
fn ended(t: &Throughput) -> Option<String> {
    // The page's own fetch ended as its round trip says, and `stood_in` names it.
    if t.role == "fetch" {
        return None;
    }
    t.failure.as_ref().map(|f| {
        format!(
            "the {} leg ended with {} after {} bytes: its rate is those bytes over their time",
            t.role,
            f.as_str(),
            t.bytes
        )
    })
}

/// What the timed legs showed when they do not make a throttling verdict: a leg under the
/// target's name that moved nothing beside an innocuous-name leg that moved the page on the
/// same path is evidence the failure is the name's, and is said beside a failure verdict.
pub fn legs_seen(tk: &TestKeys) -> Option<String> {
    let target = tk.x_throughput.iter().find(|t| t.role == "target")?;
    let paired = usable_paired(tk)?;
    (target.bytes == 0).then(|| {
        format!(
            "timed afterwards on the same address {}: under the target's name nothing came \
             ({}); under the innocuous name {} the page came at {:.0} kbit/s ({} bytes)",
            target.address,
            why_nothing(target),
            paired.server_name,
            paired.kbps(),
            paired.bytes
        )
    })
}

/// The throttling verdict, when the paired transfers show one; `inconclusive` with the rates
/// when the page's own transfer moved bytes and then stalled but the innocuous-name leg gives
/// nothing to compare with (refused, or answered with a small error page, as many CDNs do for
/// a name they do not serve): a stall that may be a policer is not called a block.
pub fn judge(tk: &TestKeys) -> Option<Verdict> {
    let target = target_transfer(tk)?;
    let target = target.as_ref();
    let Some(paired) = usable_paired(tk) else {
        return unpaired(tk, target);
    };
    let (rt, rp) = (target.kbps(), paired.kbps());
    if rp <= 0.0 {
        return unpaired(tk, target);
    }
    let ratio = rt / rp;
    if ratio >= RATIO_THRESHOLD || unevenly_shared(tk).is_some() {
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
    v.evidence.extend(stood_in(tk, target));
    v.evidence
        .extend([target, paired].into_iter().filter_map(ended));
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

/// The page's transfer moved bytes and the fetch then timed out, with no usable innocuous-name
/// leg on the same path: `inconclusive`, with every rate there is.
fn unpaired(tk: &TestKeys, target: &Throughput) -> Option<Verdict> {
    if tk.http_experiment_failure != Some(Failure::Timeout) {
        return None;
    }
    let rt = target.kbps();
    let paired = match tk.x_throughput.iter().find(|t| t.role == "paired") {
        None => "no transfer under an innocuous name was made".to_string(),
        Some(p) if p.bytes == 0 => format!(
            "the transfer under the innocuous name {} gave no bytes ({})",
            p.server_name,
            why_nothing(p)
        ),
        Some(p) => format!(
            "the transfer under the innocuous name {} was answered differently ({} bytes, at \
             {:.0} kbit/s: an error page, not the page)",
            p.server_name,
            p.bytes,
            p.kbps()
        ),
    };
    if let Some(v) = same_address(tk, target, &paired) {
        return Some(v);
    }
    // What was seen (a slow transfer) is named; that it is interference is not claimed.
    let mut v = Verdict::new(Status::Inconclusive, 0.5, "throughput.no_comparison")
        .with(Technique::Throughput)
        .because(format!(
            "{} bytes for {} at {rt:.0} kbit/s, then the fetch timed out; {paired}: nothing on \
             the same path to compare the rate with, so neither a block nor throttling is shown",
            target.bytes, target.server_name
        ));
    if let Some(c) = tk.control.as_ref().and_then(|c| c.x_throughput.as_ref()) {
        v.evidence.push(format!(
            "the control fetched at {:.0} kbit/s (another path: not compared)",
            c.kbps()
        ));
    }
    v.evidence.extend(stood_in(tk, target));
    v.evidence.extend(ended(target));
    Some(v)
}

/// The target's timed transfer when a comparison with the run's other transfers to the same
/// address may be wanted: the pair gave nothing to compare with. The session then looks for
/// such transfers ([`TestKeys::x_same_address`]) and judges again.
pub fn wants_same_address(tk: &TestKeys) -> Option<Cow<'_, Throughput>> {
    let target = target_transfer(tk)?;
    (usable_paired(tk).is_none() && tk.http_experiment_failure == Some(Failure::Timeout))
        .then_some(target)
}

/// The next best comparison when the innocuous-name leg gave nothing: another name's transfer
/// from this vantage point to the same address during the run. It is weaker than a pair (made
/// at another moment, for another page), so it gives a lower confidence and says so; a
/// comparable rate there leaves the verdict to the rest of the evidence, since the slowness is
/// then the path's or the server's, not the name's.
fn same_address(tk: &TestKeys, target: &Throughput, paired: &str) -> Option<Verdict> {
    let other = tk
        .x_same_address
        .iter()
        .filter(|t| {
            t.address == target.address
                && t.server_name != target.server_name
                && t.bytes >= MIN_PAIRED_BYTES
                && t.seconds > 0.0
        })
        .max_by(|a, b| a.kbps().total_cmp(&b.kbps()))?;
    let (rt, ro) = (target.kbps(), other.kbps());
    if ro <= 0.0 {
        return None;
    }
    let ratio = rt / ro;
    let seen = format!(
        "{} bytes for {} at {rt:.0} kbit/s, then the fetch timed out; {paired}; during the run \
         {} moved {} bytes from the same address {} at {ro:.0} kbit/s (ratio {ratio:.2})",
        target.bytes, target.server_name, other.server_name, other.bytes, target.address
    );
    let mut v = if ratio < RATIO_THRESHOLD {
        Verdict::new(Status::Throttled, 0.8, "throughput.same_address_ratio")
            .with(Technique::Throughput)
            .because(seen)
            .because(
                "compared with another name's transfer to the same address at another moment \
                 of the run, not with a pair made at the same time: weaker evidence than a pair",
            )
    } else {
        Verdict::new(Status::Inconclusive, 0.5, "throughput.same_address_alike")
            .with(Technique::Throughput)
            .because(seen)
            .because(
                "another name reached the same rate from the same address: the slowness is \
                 the path's or the server's, not shown to be this name's",
            )
    };
    v.evidence.extend(stood_in(tk, target));
    v.evidence.extend(ended(target));
    Some(v)
}
