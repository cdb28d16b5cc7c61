//! Charts drawn on the server as SVG: a quantity's mean over time with its
//! min-max band, and a night's schedule as a timeline. Text is escaped; the
//! numbers are the only thing the charts compute.

use std::fmt::Write as _;

/// Escapes text for XML (SVG and HTML).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One point: time (Unix ms), mean, min, max.
pub type Point = (i64, f64, f64, f64);

const W: f64 = 640.0;
const H: f64 = 180.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 22.0;

/// A line chart of `points` over `start..end` (Unix ms); an empty one says so.
pub fn line_chart(title: &str, unit: &str, points: &[Point], start: i64, end: i64) -> String {
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="4" width="{}" height="{}" fill="#f7f8fb" stroke="#ccd"/>"##,
        W - LEFT - 4.0,
        H - BOTTOM - 4.0
    );
    let _ = write!(s, r#"<text x="{}" y="16">{} ({})</text>"#, LEFT + 6.0, escape(title), escape(unit));
    let finite: Vec<&Point> =
        points.iter().filter(|p| p.1.is_finite() && p.2.is_finite() && p.3.is_finite()).collect();
    if finite.is_empty() || end <= start {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" fill="#667">no data for this range</text></svg>"##,
            W / 2.0 - 60.0,
            H / 2.0
        );
        return s;
    }
    let lo = finite.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let hi = finite.iter().map(|p| p.3).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let x = |t: i64| LEFT + (t - start) as f64 / (end - start) as f64 * (W - LEFT - 4.0);
    let y = |v: f64| 4.0 + (hi - v) / (hi - lo) * (H - BOTTOM - 4.0);
    // The min-max band, then the mean.
    let mut band = String::new();
    for p in &finite {
        let _ = write!(band, "{:.1},{:.1} ", x(p.0), y(p.3));
    }
    for p in finite.iter().rev() {
        let _ = write!(band, "{:.1},{:.1} ", x(p.0), y(p.2));
    }
    let _ = write!(s, r##"<polygon points="{band}" fill="#cfe0f5" stroke="none"/>"##);
    let mut line = String::new();
    for p in &finite {
        let _ = write!(line, "{:.1},{:.1} ", x(p.0), y(p.1));
    }
    let _ = write!(s, r##"<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>"##);
    let _ = write!(
        s,
        r#"<text x="2" y="14">{}</text><text x="2" y="{}">{}</text>"#,
        num(hi),
        H - BOTTOM,
        num(lo)
    );
    let label = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.format("%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let _ = write!(s, r#"<text x="{LEFT}" y="{}">{}</text>"#, H - 6.0, label(start));
    let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, W - 4.0, H - 6.0, label(end));
    s.push_str("</svg>");
    s
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

/// One bar of a timeline: label, start, end (Unix ms), its class.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub start: i64,
    pub end: i64,
    /// A window the bar may move in, drawn light under it.
    pub window: Option<(i64, i64)>,
    pub class: &'static str,
}

/// A timeline of `bars` over `start..end` (a night), one row each, with the
/// time `now` marked.
pub fn timeline(bars: &[Bar], start: i64, end: i64, now: i64) -> String {
    let row = 18.0;
    let h = 30.0 + row * bars.len() as f64;
    let left = 160.0;
    let w = 820.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="the night's schedule">"#
    );
    if end <= start {
        s.push_str("</svg>");
        return s;
    }
    let x = |t: i64| left + ((t.clamp(start, end) - start) as f64 / (end - start) as f64) * (w - left - 4.0);
    for (i, b) in bars.iter().enumerate() {
        let top = 20.0 + row * i as f64;
        let _ = write!(
            s,
            r#"<text x="2" y="{}">{}</text>"#,
            top + 12.0,
            escape(&crate::pages::shown(&b.label).chars().take(24).collect::<String>())
        );
        if let Some((ws, we)) = b.window {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{top}" width="{:.1}" height="{}" fill="#e6eef8"/>"##,
                x(ws),
                (x(we) - x(ws)).max(1.0),
                row - 4.0
            );
        }
        let color = match b.class {
            "planned" => "#2b7a3d",
            "running" => "#d08a00",
            "done" => "#7a7a7a",
            _ => "#b03030",
        };
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{}" fill="{color}"><title>{}</title></rect>"#,
            x(b.start),
            (x(b.end) - x(b.start)).max(2.0),
            row - 4.0,
            escape(&b.label)
        );
    }
    if (start..=end).contains(&now) {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="12" y2="{h}" stroke="#c00"/><text x="{0:.1}" y="10" fill="#c00">now</text>"##,
            x(now)
        );
    }
    let label = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t).map(|d| d.format("%H:%M").to_string()).unwrap_or_default()
    };
    let _ = write!(
        s,
        r#"<text x="{left}" y="10">{}</text><text x="{}" y="10" text-anchor="end">{}</text>"#,
        label(start),
        w - 4.0,
        label(end)
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_and_say_when_empty() {
        let s = line_chart("<rain>", "mm/h", &[], 0, 1000);
        assert!(s.contains("&lt;rain&gt;") && s.contains("no data for this range"), "{s}");
        let s = line_chart(
            "t",
            "C",
            &[(0, 1.0, 0.5, 2.0), (500, f64::NAN, 0.0, 0.0), (1000, 3.0, 2.0, 4.0)],
            0,
            1000,
        );
        assert!(s.contains("<polyline") && !s.contains("NaN"), "{s}");
        let bars = [Bar { label: "<b>".into(), start: 10, end: 20, window: Some((0, 30)), class: "planned" }];
        let t = timeline(&bars, 0, 100, 50);
        assert!(t.contains("&lt;b&gt;") && t.contains("now"), "{t}");
    }
}
