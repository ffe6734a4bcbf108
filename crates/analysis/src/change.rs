//! What changed between two captures of the same URL, and whether its publisher or the network
//! did it.
//!
//! A page is *removed* when it answers 404/410, redirects to the site's home page, or answers
//! 200 with a "not found" page in place of the article (a soft 404); *replaced* when it answers
//! with a different page; *altered* when its text changed or an embedded image was swapped (the
//! blurred mural). What the site varies by itself (clocks, counters, rotating teasers) is
//! learned from captures taken back to back ([`Variation::learn`]), as the HTTP diff learns from
//! the control, and never counts. Comparing the vantage point's capture with the control's then
//! says who: gone at both is the publisher's doing; gone only at the vantage point is
//! interference (judged by the verdict rules as for any measurement).

use crate::pagetext::{extract, PageText};
use interfero_model::capture::Capture;
use std::collections::BTreeSet;

/// How a page changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The article is gone: 404/410, a redirect to the home page, or a soft-404 page.
    Removed,
    /// A different page stands at the URL.
    Replaced,
    /// The same page with its text changed or an image swapped.
    Altered,
}

/// Which sign of removal was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Removal {
    /// HTTP 404 or 410.
    Status(u16),
    /// A redirect to the site's home page.
    ToHome,
    /// A 200 page saying the article is not found.
    Soft404,
}

/// The difference between two captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What kind of change.
    pub kind: ChangeKind,
    /// The sign of removal, for [`ChangeKind::Removed`].
    pub removal: Option<Removal>,
    /// Lines removed (`- `) and added (`+ `), what the site varies by itself left out.
    pub diff: Vec<String>,
    /// Images no longer on the page and new ones.
    pub images_removed: Vec<String>,
    /// Images on the page that were not before.
    pub images_added: Vec<String>,
    /// Images kept under the same URL in both captures whose bytes differ: the URL and the
    /// payload digests before and after (`sha256:BASE32`, as in the WARC records).
    pub images_replaced: Vec<Replaced>,
}

/// An embedded image whose bytes changed under the same URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The image's URL.
    pub url: String,
    /// The digest of its bytes before.
    pub before: String,
    /// The digest of its bytes after.
    pub after: String,
}

/// `sha256:` + base32 of the SHA-256 of `bytes`, the WARC payload digest form.
pub fn payload_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        data_encoding::BASE32.encode(&sha2::Sha256::digest(bytes))
    )
}

impl Change {
    /// The change as readable text: a summary line, then the diff lines.
    pub fn describe(&self) -> String {
        let mut s = match (self.kind, self.removal) {
            (ChangeKind::Removed, Some(Removal::Status(c))) => format!("removed (HTTP {c})"),
            (ChangeKind::Removed, Some(Removal::ToHome)) => {
                "removed (redirect to home page)".into()
            }
            (ChangeKind::Removed, _) => "removed (a 'not found' page)".into(),
            (ChangeKind::Replaced, _) => "replaced by a different page".into(),
            (ChangeKind::Altered, _) => "altered".into(),
        };
        for i in &self.images_removed {
            s.push_str(&format!("\n- [image] {i}"));
        }
        for i in &self.images_added {
            s.push_str(&format!("\n+ [image] {i}"));
        }
        for r in &self.images_replaced {
            s.push_str(&format!(
                "\nimage {} replaced (digest {} → {})",
                r.url, r.before, r.after
            ));
        }
        for l in &self.diff {
            s.push('\n');
            s.push_str(l);
        }
        s
    }
}

/// What the site varies by itself, learned from captures taken back to back: lines seen to
/// differ between two such captures, and their shapes (digits folded), never count as change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variation {
    lines: BTreeSet<String>,
    shapes: BTreeSet<String>,
    images: BTreeSet<String>,
    /// Embedded images whose bytes differed between captures taken back to back.
    image_bytes: BTreeSet<String>,
}

impl Variation {
    /// Learns from two captures of the same page taken back to back (nothing real changed
    /// between them): whatever differs is the site's own variation.
    pub fn learn(&mut self, a: &Capture, b: &Capture) {
        let (pa, pb) = (text_of(a), text_of(b));
        let (sa, sb): (BTreeSet<_>, BTreeSet<_>) =
            (pa.lines.iter().collect(), pb.lines.iter().collect());
        for l in sa.symmetric_difference(&sb) {
            self.lines.insert((*l).clone());
            self.shapes.insert(shape(l));
        }
        let (ia, ib): (BTreeSet<_>, BTreeSet<_>) =
            (pa.images.iter().collect(), pb.images.iter().collect());
        for i in ia.symmetric_difference(&ib) {
            self.images.insert(shape(i));
        }
        for r in replaced_images(a, b, &Variation::default()) {
            self.image_bytes.insert(r.url);
        }
    }

    fn is_noise(&self, line: &str) -> bool {
        self.lines.contains(line) || self.shapes.contains(&shape(line))
    }
}

/// A line with every run of digits folded to `#` (a clock, a counter, a view count).
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_digits = false;
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

fn text_of(c: &Capture) -> PageText {
    c.page().map(|e| extract(&e.body)).unwrap_or_default()
}

/// Phrases of "not found" pages (English, Russian, Kazakh), lowercase.
const NOT_FOUND: &[&str] = &[
    "not found",
    "page does not exist",
    "no longer available",
    "has been removed",
    "страница не найдена",
    "не найдена",
    "материал удален",
    "бет табылмады",
];

/// Compares the `before` and `after` captures of one URL from one vantage point. `None` when
/// nothing changed beyond `variation`, or when `after` got no page (a failure is a
/// measurement's question: see [`attribute`]).
pub fn compare(before: &Capture, after: &Capture, variation: &Variation) -> Option<Change> {
    let (b, a) = (before.page()?, after.page()?);
    let removed = |removal| Change {
        kind: ChangeKind::Removed,
        removal: Some(removal),
        diff: Vec::new(),
        images_removed: Vec::new(),
        images_added: Vec::new(),
        images_replaced: Vec::new(),
    };
    let was_ok = (200..300).contains(&b.status);
    if was_ok && matches!(a.status, 404 | 410) {
        return Some(removed(Removal::Status(a.status)));
    }
    if was_ok && is_home(&before.url, &a.url) && !is_home(&before.url, &b.url) {
        return Some(removed(Removal::ToHome));
    }
    let (pb, pa) = (extract(&b.body), extract(&a.body));
    let diff = line_diff(&pb.lines, &pa.lines, variation);
    let (gone, new) = image_diff(&pb.images, &pa.images, variation);
    let replaced = replaced_images(before, after, variation);
    if diff.is_empty()
        && gone.is_empty()
        && new.is_empty()
        && replaced.is_empty()
        && a.status == b.status
    {
        return None;
    }
    let said_before = says_not_found(&pb);
    if was_ok && !said_before && says_not_found(&pa) && similarity(&pb.lines, &pa.lines) < 0.5 {
        return Some(removed(Removal::Soft404));
    }
    let kind = if similarity(&pb.lines, &pa.lines) < 0.3 && pb.title != pa.title {
        ChangeKind::Replaced
    } else {
        ChangeKind::Altered
    };
    Some(Change {
        kind,
        removal: None,
        diff,
        images_removed: gone,
        images_added: new,
        images_replaced: replaced,
    })
}

/// Images kept in both captures under the same URL, answered 2xx with a body both times, whose
/// bytes differ (and are not seen to differ by themselves). A body cut at the cap is compared
/// as kept: a change past the cut is not seen.
fn replaced_images(before: &Capture, after: &Capture, v: &Variation) -> Vec<Replaced> {
    let usable = |e: &&interfero_model::capture::Exchange| {
        (200..300).contains(&e.status) && !e.body.is_empty()
    };
    after
        .embeds
        .iter()
        .filter(usable)
        .filter(|a| !v.image_bytes.contains(&a.url))
        .filter_map(|a| {
            let b = before.embed(&a.url).filter(usable)?;
            (b.body != a.body).then(|| Replaced {
                url: a.url.clone(),
                before: payload_digest(&b.body),
                after: payload_digest(&a.body),
            })
        })
        .collect()
}

/// Whether `final_url` is the home page of `asked`'s site (same host, path `/`).
fn is_home(asked: &str, final_url: &str) -> bool {
    let (Ok(a), Ok(f)) = (url::Url::parse(asked), url::Url::parse(final_url)) else {
        return false;
    };
    a.host_str() == f.host_str()
        && matches!(f.path(), "/" | "" | "/index.html")
        && f.query().is_none()
}

fn says_not_found(p: &PageText) -> bool {
    let t = p.title.to_lowercase();
    let head: String = p
        .lines
        .iter()
        .take(20)
        .map(|l| l.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    NOT_FOUND.iter().any(|n| t.contains(n) || head.contains(n)) || t.contains("404")
}

/// Shared lines over all distinct lines (Jaccard), 1.0 for two empty pages.
fn similarity(a: &[String], b: &[String]) -> f64 {
    let (sa, sb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
    let union = sa.union(&sb).count();
    if union == 0 {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / union as f64
}

fn image_diff(b: &[String], a: &[String], v: &Variation) -> (Vec<String>, Vec<String>) {
    let (sb, sa): (BTreeSet<_>, BTreeSet<_>) = (b.iter().collect(), a.iter().collect());
    let keep = |i: &&&String| !v.images.contains(&shape(i));
    let gone = sb
        .difference(&sa)
        .filter(keep)
        .map(|s| (*s).clone())
        .collect();
    let new = sa
        .difference(&sb)
        .filter(keep)
        .map(|s| (*s).clone())
        .collect();
    (gone, new)
}

/// Most lines of a side the exact diff compares (beyond: lines of one side missing from the
/// other, in order, without alignment).
const DIFF_LIMIT: usize = 2000;

/// `- ` lines of `before` missing from `after` and `+ ` lines new in `after`, in order (a
/// longest-common-subsequence alignment), leaving out what the site varies by itself.
pub fn line_diff(before: &[String], after: &[String], v: &Variation) -> Vec<String> {
    let b: Vec<&String> = before.iter().filter(|l| !v.is_noise(l)).collect();
    let a: Vec<&String> = after.iter().filter(|l| !v.is_noise(l)).collect();
    if b.len() > DIFF_LIMIT || a.len() > DIFF_LIMIT {
        let (sb, sa): (BTreeSet<_>, BTreeSet<_>) = (b.iter().collect(), a.iter().collect());
        let mut out: Vec<String> = b
            .iter()
            .filter(|l| !sa.contains(l))
            .map(|l| format!("- {l}"))
            .collect();
        out.extend(
            a.iter()
                .filter(|l| !sb.contains(l))
                .map(|l| format!("+ {l}")),
        );
        return out;
    }
    // LCS table, (n+1) x (m+1), filled from the end.
    let (n, m) = (b.len(), a.len());
    let mut t = vec![0u16; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[at(i, j)] = if b[i] == a[j] {
                t[at(i + 1, j + 1)].saturating_add(1)
            } else {
                t[at(i + 1, j)].max(t[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && b[i] == a[j] {
            i += 1;
            j += 1;
        } else if i < n && (j == m || t[at(i + 1, j)] >= t[at(i, j + 1)]) {
            out.push(format!("- {}", b[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", a[j]));
            j += 1;
        }
    }
    out
}

/// Who made a page go away or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribution {
    /// Gone (or changed) at the control too: its publisher did it.
    Publisher,
    /// Gone only at the vantage point, the control still sees the page: interference.
    Interference,
    /// The control's capture is missing or failed: who did it is not known.
    Unknown,
}

impl Attribution {
    /// The name written in events (`removed_by_publisher`, `interference`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Attribution::Publisher => "removed_by_publisher",
            Attribution::Interference => "interference",
            Attribution::Unknown => "unknown",
        }
    }
}

/// Who is behind a change the vantage point saw between `before` and `now` (its own captures),
/// given the control's capture made at the same time as `now`: the control's change from the
/// same `before` must match in kind for the publisher to be behind it. A vantage capture that
/// got no page while the control got one is interference too.
pub fn attribute(
    before: &Capture,
    vantage_change: Option<&Change>,
    now: &Capture,
    control_now: Option<&Capture>,
    variation: &Variation,
) -> Attribution {
    let Some(control) = control_now.filter(|c| c.page().is_some()) else {
        return Attribution::Unknown;
    };
    if now.page().is_none() {
        return Attribution::Interference;
    }
    let control_change = compare(before, control, variation);
    match (vantage_change, control_change) {
        (Some(v), Some(c)) if v.kind == c.kind => Attribution::Publisher,
        (Some(_), None) => Attribution::Interference,
        (Some(_), Some(_)) => Attribution::Interference,
        (None, _) => Attribution::Unknown,
    }
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
