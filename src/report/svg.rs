//! Inline SVG charts for the HTML report: no script, no external asset, black text on
//! white with one fill colour (and every value written on its bar, so a grey-scale print
//! loses nothing). Each chart has a `<title>` and `<desc>` for screen readers.

use std::fmt::Write as _;

use super::html::esc;
use super::model::Bin;

/// The bar colour: dark enough for text beside it and for grey-scale printing.
const FILL: &str = "#2f5d8a";

/// Horizontal bars, one per `(label, value)`, longest scale first as given.
pub fn bars(id: &str, title: &str, desc: &str, items: &[(String, u64)]) -> String {
    const WIDTH: u32 = 640;
    const LABEL: u32 = 190;
    const ROW: u32 = 26;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = ROW * (items.len().max(1) as u32) + 10;
    let mut s = open(id, title, desc, WIDTH, height);
    if items.is_empty() {
        let _ = write!(s, r#"<text x="0" y="20" class="label">none</text>"#);
    }
    let span = f64::from(WIDTH - LABEL - 60);
    for (i, (label, value)) in items.iter().enumerate() {
        let y = i as u32 * ROW + 5;
        let w = (span * *value as f64 / max as f64).round().max(1.0);
        let _ = write!(
            s,
            r#"<g data-bar="{label}"><text x="{lx}" y="{ty}" class="label" text-anchor="end">{label}</text><rect x="{LABEL}" y="{y}" width="{w}" height="{h}" fill="{FILL}"/><text x="{vx}" y="{ty}" class="value">{value}</text></g>"#,
            label = esc(label),
            lx = LABEL - 8,
            ty = y + 15,
            h = ROW - 8,
            vx = f64::from(LABEL) + w + 6.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// A histogram of employees per share bin, with the axis labelled in percent.
pub fn histogram(id: &str, title: &str, desc: &str, bins: &[Bin], x_label: &str) -> String {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 230;
    const LEFT: u32 = 40;
    const BOTTOM: u32 = 50;
    const TOP: u32 = 20;
    let max = bins.iter().map(|b| b.employees).max().unwrap_or(0).max(1);
    let plot_h = f64::from(HEIGHT - BOTTOM - TOP);
    let slot = f64::from(WIDTH - LEFT - 10) / bins.len().max(1) as f64;
    let mut s = open(id, title, desc, WIDTH, HEIGHT);
    let base = f64::from(HEIGHT - BOTTOM);
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{base}" x2="{x2}" y2="{base}" stroke="#000" stroke-width="1"/>"##,
        x2 = WIDTH - 10
    );
    for (i, b) in bins.iter().enumerate() {
        let h = plot_h * b.employees as f64 / max as f64;
        let x = f64::from(LEFT) + slot * i as f64;
        let _ = write!(
            s,
            r#"<g data-bin="{label}" data-employees="{n}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{FILL}"/><text x="{cx:.1}" y="{vy:.1}" class="value" text-anchor="middle">{n}</text><text x="{cx:.1}" y="{ly}" class="tick" text-anchor="middle">{short}</text></g>"#,
            label = esc(&b.label),
            n = b.employees,
            y = base - h,
            w = slot - 4.0,
            cx = x + (slot - 4.0) / 2.0,
            vy = base - h - 4.0,
            ly = HEIGHT - BOTTOM + 16,
            short = (b.from * 100.0).round(),
        );
    }
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" class="label" text-anchor="middle">{label}</text></svg>"#,
        x = (WIDTH + LEFT) / 2,
        y = HEIGHT - 10,
        label = esc(x_label),
    );
    s
}

fn open(id: &str, title: &str, desc: &str, width: u32, height: u32) -> String {
    format!(
        r#"<svg id="{id}" class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>"#,
        id = esc(id),
        title = esc(title),
        desc = esc(desc),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_labels_and_carry_a_title() {
        let s = bars("c", "Alerts <by> rule", "d", &[("a<b".into(), 3)]);
        assert!(s.contains("<title id=\"c-title\">Alerts &lt;by&gt; rule</title>"));
        assert!(s.contains("a&lt;b"));
        assert!(!s.contains("a<b"));
    }
}
