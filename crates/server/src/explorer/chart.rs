//! Charts as SVG made by the server: stacked bars by status (counts or percentages) and a grid
//! of one row per domain or network against the first axis. The same SVG is put inline in the
//! pages (each bar and cell a link to its measurements, so no script is needed) and served
//! alone at `/chart.svg` as an image to paste into a report.
//!
//! Written by hand rather than with plotters: plotters' SVG backend draws primitives only, with
//! no way to wrap a bar in a link or give it a `<title>` tooltip, which is what makes a bar
//! lead to its measurements; the geometry here is a few lines of arithmetic.

use interfero_model::Status;
use interfero_store::Counts;
use std::fmt::Write;

/// The order statuses are stacked in (interference at the bottom, where it is read first).
pub const STACK: [&str; 8] = [
    "blocked",
    "intercepted",
    "throttled",
    "offline",
    "down",
    "inconclusive",
    "unjudged",
    "accessible",
];

/// The colour of a status (also used by the style sheet's legend classes).
pub fn colour(status: &str) -> &'static str {
    match status {
        "accessible" => "#3b9a57",
        "blocked" => "#c62828",
        "throttled" => "#e08a00",
        "intercepted" => "#7b1fa2",
        "down" => "#5c7c8a",
        "offline" => "#222222",
        "inconclusive" => "#b0b0b0",
        _ => "#dcdcdc",
    }
}

/// Escapes text for XML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// One bar: its label, its counts, and the link to its measurements.
pub struct Bar {
    /// The bucket key shown under the bar.
    pub label: String,
    /// Counts by status.
    pub counts: Counts,
    /// Where the bar leads (a search narrowed to it); each status segment adds `status=`.
    pub href: String,
}

/// Text around a chart: its title, and the line that says where it came from.
pub struct Caption {
    /// What the chart shows.
    pub title: String,
    /// Where it came from (the explorer URL of the chart).
    pub source: String,
}

const W: f64 = 860.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 44.0;
const PLOT_H: f64 = 220.0;

fn percent(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

fn header(out: &mut String, h: f64, cap: &Caption) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><rect width="{W}" height="{h}" fill="#ffffff"/><text x="{LEFT}" y="16" font-size="14" font-weight="bold">{t}</text>"##,
        t = esc(&cap.title)
    );
    let mut x = LEFT;
    for s in STACK {
        let _ = write!(
            out,
            r##"<rect x="{x}" y="24" width="10" height="10" fill="{}"/><text x="{}" y="33">{s}</text>"##,
            colour(s),
            x + 13.0
        );
        x += 13.0 + 7.0 * s.len() as f64 + 14.0;
    }
}

fn footer(out: &mut String, h: f64, cap: &Caption) {
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="{}" fill="#555">Interfero · {}</text></svg>"##,
        h - 6.0,
        esc(&cap.source)
    );
}

/// Stacked bars by status, one per bucket, as counts or (with `pct`) as percentages of each
/// bar's total. An empty chart says so.
pub fn stacked(bars: &[Bar], pct: bool, cap: &Caption) -> String {
    let label_h = 64.0;
    let h = TOP + PLOT_H + label_h + 20.0;
    let mut out = String::with_capacity(256 + bars.len() * 600);
    header(&mut out, h, cap);
    let max = if pct {
        100.0
    } else {
        bars.iter()
            .map(|b| b.counts.total)
            .max()
            .unwrap_or(0)
            .max(1) as f64
    };
    let base = TOP + PLOT_H;
    // Four grid lines with their values.
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let y = base - PLOT_H * i as f64 / 4.0;
        let label = if pct {
            format!("{v:.0}%")
        } else {
            format!("{}", v.round() as u64)
        };
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{}" y="{:.1}" text-anchor="end" fill="#444">{label}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0
        );
    }
    if bars.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle">No measurement matches.</text>"##,
            W / 2.0,
            TOP + PLOT_H / 2.0
        );
    }
    let slot = (W - LEFT - RIGHT) / bars.len().max(1) as f64;
    let bw = (slot * 0.8).max(1.0);
    let every = (bars.len() as f64 / 30.0).ceil().max(1.0) as usize;
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bw) / 2.0;
        let mut y = base;
        let total = b.counts.total;
        for s in STACK {
            let n = b.counts.by_status.get(s).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let v = if pct { percent(n, total) } else { n as f64 };
            let hgt = PLOT_H * v / max;
            y -= hgt;
            let sep = if b.href.contains('?') { '&' } else { '?' };
            let href = if Status::parse(s).is_some() {
                format!("{}{sep}status={s}", b.href)
            } else {
                b.href.clone()
            };
            let _ = write!(
                out,
                r##"<a href="{}"><rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{hgt:.1}" fill="{}"><title>{}: {s} {n} of {total} ({:.1}%)</title></rect></a>"##,
                esc(&href),
                colour(s),
                esc(&b.label),
                percent(n, total)
            );
        }
        if i % every == 0 {
            let lx = x + bw / 2.0;
            let ly = base + 10.0;
            let _ = write!(
                out,
                r##"<text x="{lx:.1}" y="{ly:.1}" transform="rotate(45 {lx:.1} {ly:.1})">{}</text>"##,
                esc(&shorten(&b.label, 18))
            );
        }
    }
    footer(&mut out, h, cap);
    out
}

/// One row of a grid: its label, and its cells' counts and links, in column order.
pub struct Row {
    /// The row's key (a domain, a network) as shown.
    pub label: String,
    /// Where the row's label leads.
    pub href: String,
    /// One cell per column, `None` where nothing was measured.
    pub cells: Vec<Option<(Counts, String)>>,
}

/// The worst status seen in a cell and its share: what colours the cell.
fn cell_colour(c: &Counts) -> (&'static str, f64) {
    for s in STACK.iter().take(5) {
        let n = c.by_status.get(*s).copied().unwrap_or(0);
        if n > 0 && percent(n, c.total) >= 5.0 {
            return (colour(s), 0.35 + 0.65 * percent(n, c.total) / 100.0);
        }
    }
    if c.by_status.get("accessible").copied().unwrap_or(0) > 0 {
        (colour("accessible"), 0.8)
    } else {
        (colour("inconclusive"), 0.8)
    }
}

/// A grid: one row per `rows` entry against `columns`, each cell coloured by the worst
/// status seen there (its opacity the share of measurements with it) and linked to them.
pub fn grid(columns: &[String], rows: &[Row], cap: &Caption) -> String {
    let label_w = 190.0;
    let row_h = 18.0;
    let h = TOP + 8.0 + row_h * rows.len().max(1) as f64 + 70.0;
    let mut out = String::new();
    header(&mut out, h, cap);
    let cw = ((W - label_w - RIGHT) / columns.len().max(1) as f64).max(1.0);
    let top = TOP + 8.0;
    if rows.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle">No measurement matches.</text>"##,
            W / 2.0,
            top + 12.0
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = top + row_h * r as f64;
        let _ = write!(
            out,
            r##"<a href="{}"><text x="{}" y="{:.1}" text-anchor="end">{}</text></a>"##,
            esc(&row.href),
            label_w - 6.0,
            y + 13.0,
            esc(&shorten(&row.label, 30))
        );
        for (c, cell) in row.cells.iter().enumerate() {
            let Some((counts, href)) = cell else { continue };
            let (fill, opacity) = cell_colour(counts);
            let x = label_w + cw * c as f64;
            let worst = STACK
                .iter()
                .filter_map(|s| {
                    counts
                        .by_status
                        .get(*s)
                        .map(|n| format!("{s} {n} ({:.0}%)", percent(*n, counts.total)))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(
                out,
                r##"<a href="{}"><rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="{opacity:.2}"><title>{} {}: {worst}</title></rect></a>"##,
                esc(href),
                (cw - 1.0).max(1.0),
                row_h - 2.0,
                esc(&row.label),
                esc(&columns[c]),
            );
        }
    }
    let every = (columns.len() as f64 / 20.0).ceil().max(1.0) as usize;
    let base = top + row_h * rows.len().max(1) as f64 + 8.0;
    for (c, col) in columns.iter().enumerate().step_by(every) {
        let lx = label_w + cw * c as f64 + cw / 2.0;
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{base:.1}" transform="rotate(45 {lx:.1} {base:.1})">{}</text>"##,
            esc(&shorten(col, 14))
        );
    }
    footer(&mut out, h, cap);
    out
}

/// A throughput curve: bytes received at each sampling interval, one line per transfer.
pub fn throughput(lines: &[(String, Vec<u64>, f64)]) -> String {
    let (w, h, l, b) = (520.0, 180.0, 60.0, 150.0);
    let max = lines
        .iter()
        .flat_map(|(_, s, _)| s.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let tmax = lines
        .iter()
        .map(|(_, s, iv)| s.len() as f64 * iv)
        .fold(0.0, f64::max)
        .max(0.001);
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" font-size="11" role="img" aria-label="throughput"><rect width="{w}" height="{h}" fill="#fff"/><line x1="{l}" x2="{}" y1="{b}" y2="{b}" stroke="#999"/><text x="{}" y="{}" text-anchor="end">{} kB</text><text x="{}" y="{}" text-anchor="end">{tmax:.1} s</text>"##,
        w - 10.0,
        l - 4.0,
        14,
        (max / 1000.0).round(),
        w - 10.0,
        b + 14.0
    );
    let colours = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a"];
    for (i, (name, samples, iv)) in lines.iter().enumerate() {
        let pts: Vec<String> = samples
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let x = l + (w - l - 10.0) * ((k + 1) as f64 * iv) / tmax;
                let y = b - (b - 10.0) * (*v as f64) / max;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let c = colours[i % colours.len()];
        let _ = write!(
            out,
            r##"<polyline fill="none" stroke="{c}" stroke-width="2" points="{l},{b} {}"/><text x="{}" y="{}" fill="{c}">{}</text>"##,
            pts.join(" "),
            l + 8.0,
            14.0 + 14.0 * (i + 1) as f64,
            esc(name)
        );
    }
    out.push_str("</svg>");
    out
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> Counts {
        let mut c = Counts::default();
        for (s, n) in pairs {
            c.add(s, *n);
        }
        c
    }

    #[test]
    fn bars_link_each_status_and_escape_labels() {
        let bars = [Bar {
            label: "<script>x</script>".into(),
            counts: counts(&[("blocked", 3), ("accessible", 1)]),
            href: "/search?domain=a.kz".into(),
        }];
        let cap = Caption {
            title: "t\"".into(),
            source: "/chart".into(),
        };
        let svg = stacked(&bars, true, &cap);
        assert!(svg.contains(r##"href="/search?domain=a.kz&amp;status=blocked""##));
        assert!(svg.contains("blocked 3 of 4 (75.0%)"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("t&quot;"));
    }

    #[test]
    fn a_grid_cell_takes_the_worst_status_colour() {
        let (fill, _) = cell_colour(&counts(&[("blocked", 1), ("accessible", 9)]));
        assert_eq!(fill, colour("blocked"));
        let (fill, _) = cell_colour(&counts(&[("accessible", 9)]));
        assert_eq!(fill, colour("accessible"));
    }
}
