//! SVG charts drawn by the report itself (no script, no external request): stacked bars per
//! month and horizontal bars per category. Geometry is computed here; the SVG templates only
//! place it, and escape every label.

use askama::Template;

/// One coloured part of a bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Top edge.
    pub y: f64,
    /// Height.
    pub h: f64,
    /// Fill colour.
    pub color: &'static str,
    /// Tooltip (`<title>`): what and how many.
    pub title: String,
}

/// One bar with its label.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Left edge.
    pub x: f64,
    /// Width.
    pub w: f64,
    /// The label under the bar.
    pub label: String,
    /// The label's centre.
    pub label_x: f64,
    /// Its parts, bottom first.
    pub segments: Vec<Segment>,
    /// The total written above it (empty for 0).
    pub total: String,
    /// Where the total is written.
    pub total_y: f64,
}

/// A legend entry.
#[derive(Debug, Clone)]
pub struct Key {
    /// Left edge of the swatch.
    pub x: f64,
    /// Colour.
    pub color: &'static str,
    /// Label.
    pub label: String,
}

/// A gridline with its value.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Height of the line.
    pub y: f64,
    /// The value.
    pub label: String,
}

/// Stacked vertical bars (incidents or measurements per month).
#[derive(Template, Debug, Clone)]
#[template(path = "columns.svg", escape = "html")]
pub struct Columns {
    /// What the chart shows (`<title>` and `aria-label`).
    pub caption: String,
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// The baseline's height.
    pub base: f64,
    /// Left end of the axis.
    pub left: f64,
    /// The bars.
    pub bars: Vec<Bar>,
    /// The legend.
    pub keys: Vec<Key>,
    /// The legend's height.
    pub key_y: f64,
    /// Gridlines.
    pub grid: Vec<Grid>,
}

/// A series of a stacked chart: its name, colour and one value per column.
pub struct Series {
    /// Name in the legend.
    pub name: String,
    /// Colour.
    pub color: &'static str,
    /// Values per column.
    pub values: Vec<u64>,
}

/// A step that gives at most about five gridlines up to `max`.
fn step(max: u64) -> u64 {
    let raw = (max as f64 / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let nice = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    nice.max(1.0) as u64
}

/// Stacked columns, one per label.
pub fn columns(caption: &str, labels: &[String], series: &[Series]) -> Columns {
    let (width, left, top, base) = (720.0, 36.0, 16.0, 200.0);
    let totals: Vec<u64> = (0..labels.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let step = step(max);
    let top_value = max.div_ceil(step) * step;
    let scale = (base - top) / top_value as f64;
    let slot = (width - left - 8.0) / labels.len().max(1) as f64;
    let bars = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let x = left + slot * i as f64 + slot * 0.15;
            let mut y = base;
            let segments = series
                .iter()
                .filter_map(|s| {
                    let v = s.values.get(i).copied().unwrap_or(0);
                    (v > 0).then(|| {
                        let h = v as f64 * scale;
                        y -= h;
                        Segment {
                            y,
                            h,
                            color: s.color,
                            title: format!("{label}: {v} {}", s.name),
                        }
                    })
                })
                .collect();
            Bar {
                x,
                w: slot * 0.7,
                label: label.clone(),
                label_x: x + slot * 0.35,
                segments,
                total: if totals[i] == 0 {
                    String::new()
                } else {
                    totals[i].to_string()
                },
                total_y: base - totals[i] as f64 * scale - 4.0,
            }
        })
        .collect();
    let grid = (0..=top_value / step)
        .map(|k| Grid {
            y: base - (k * step) as f64 * scale,
            label: (k * step).to_string(),
        })
        .collect();
    let keys = series
        .iter()
        .scan(left, |x, s| {
            let k = Key {
                x: *x,
                color: s.color,
                label: s.name.clone(),
            };
            *x += 24.0 + 7.0 * s.name.chars().count() as f64;
            Some(k)
        })
        .collect();
    Columns {
        caption: caption.to_string(),
        width,
        height: base + 56.0,
        base,
        left,
        bars,
        keys,
        key_y: base + 36.0,
        grid,
    }
}

/// One horizontal bar.
#[derive(Debug, Clone)]
pub struct Row {
    /// Top edge.
    pub y: f64,
    /// Bar length.
    pub w: f64,
    /// The label left of the bar.
    pub label: String,
    /// The value right of it.
    pub value: String,
    /// Where the value is written.
    pub value_x: f64,
    /// Colour.
    pub color: &'static str,
}

/// Horizontal bars (incidents per kind).
#[derive(Template, Debug, Clone)]
#[template(path = "rows.svg", escape = "html")]
pub struct Rows {
    /// What the chart shows.
    pub caption: String,
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Where the bars start (labels are left of it).
    pub left: f64,
    /// The bars.
    pub rows: Vec<Row>,
}

/// Horizontal bars, one per `(label, value, colour)`.
pub fn rows(caption: &str, items: &[(String, u64, &'static str)]) -> Rows {
    let (width, left, row_h) = (720.0, 210.0, 22.0);
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let span = width - left - 40.0;
    let rows = items
        .iter()
        .enumerate()
        .map(|(n, (label, v, color))| {
            let w = (*v as f64 / max as f64 * span).max(if *v > 0 { 2.0 } else { 0.0 });
            Row {
                y: 4.0 + n as f64 * row_h,
                w,
                label: label.clone(),
                value: v.to_string(),
                value_x: left + w + 6.0,
                color,
            }
        })
        .collect();
    Rows {
        caption: caption.to_string(),
        width,
        height: 8.0 + items.len() as f64 * row_h,
        left,
        rows,
    }
}
