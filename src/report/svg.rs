//! Inline SVG charts for the HTML report: no script, no external asset, black text on
//! white with one fill colour (and every value written on its bar, so a grey-scale print
//! loses nothing). Each chart has a `<title>` and `<desc>` for screen readers.

use std::fmt::Write as _;

use super::html::esc;
use super::model::Bin;

/// The bar colour: dark enough for text beside it and for grey-scale printing.
const FILL: &str = "#2f5d8a";

/// The least length of a bar with a non-zero value: a count of 2 beside one of 1,891 is
/// 0.2 px on a linear scale and would vanish; its number beside it says its true size.
pub const MIN_BAR_PX: f64 = 4.0;

/// A bar's length on a linear scale of `span` pixels for `max`, at least [`MIN_BAR_PX`]
/// when `value` is not zero (and nothing when it is).
fn length(span: f64, value: u64, max: u64) -> f64 {
    if value == 0 {
        return 0.0;
    }
    (span * value as f64 / max.max(1) as f64).max(MIN_BAR_PX)
}

/// `1891` as `1,891`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
        let w = length(span, *value, max).round();
        let _ = write!(
            s,
            r#"<g data-bar="{label}"><text x="{lx}" y="{ty}" class="label" text-anchor="end">{label}</text><rect x="{LABEL}" y="{y}" width="{w}" height="{h}" fill="{FILL}"/><text x="{vx}" y="{ty}" class="value">{value}</text></g>"#,
            label = esc(label),
            lx = LABEL - 8,
            ty = y + 15,
            h = ROW - 8,
            vx = f64::from(LABEL) + w + 6.0,
            value = thousands(*value),
        );
    }
    s.push_str("</svg>");
    s
}

/// A histogram of employees per share bin: each bar labelled by its range ("0–10%") and
/// its count written above it, on a linear scale where a non-zero bar is at least
/// [`MIN_BAR_PX`] tall (said under the axis), so one employee beside thousands shows.
pub fn histogram(id: &str, title: &str, desc: &str, bins: &[Bin], x_label: &str) -> String {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 250;
    const LEFT: u32 = 40;
    const BOTTOM: u32 = 70;
    const TOP: u32 = 20;
    let max = bins.iter().map(|b| b.employees).max().unwrap_or(0).max(1);
    let plot_h = f64::from(HEIGHT - BOTTOM - TOP);
    let slot = f64::from(WIDTH - LEFT - 10) / bins.len().max(1) as f64;
    let mut s = open(id, title, desc, WIDTH, HEIGHT);
    let base = f64::from(HEIGHT - BOTTOM);
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{base}" x2="{x2}" y2="{base}" stroke="#000" stroke-width="1"/><text x="12" y="{my}" class="label" text-anchor="middle" transform="rotate(-90 12 {my})">employees</text>"##,
        x2 = WIDTH - 10,
        my = (TOP + HEIGHT - BOTTOM) / 2,
    );
    for (i, b) in bins.iter().enumerate() {
        let h = length(plot_h, b.employees, max);
        let x = f64::from(LEFT) + slot * i as f64;
        let _ = write!(
            s,
            r#"<g data-bin="{label}" data-employees="{n}"><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{FILL}"/><text x="{cx:.1}" y="{vy:.1}" class="value" text-anchor="middle">{count}</text><text x="{cx:.1}" y="{ly}" class="tick" text-anchor="middle">{label}</text></g>"#,
            label = esc(&b.label),
            n = b.employees,
            count = thousands(b.employees),
            y = base - h,
            w = slot - 4.0,
            cx = x + (slot - 4.0) / 2.0,
            vy = base - h - 4.0,
            ly = HEIGHT - BOTTOM + 16,
        );
    }
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y1}" class="label" text-anchor="middle">{label}</text><text x="{x}" y="{y2}" class="note" text-anchor="middle">linear scale; a bar of at least one employee is drawn at least {MIN_BAR_PX} px tall, its count above it</text></svg>"#,
        x = (WIDTH + LEFT) / 2,
        y1 = HEIGHT - BOTTOM + 36,
        y2 = HEIGHT - BOTTOM + 54,
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

    fn bin(i: u32, employees: u64) -> Bin {
        Bin {
            label: format!("{}–{}%", i * 10, i * 10 + 10),
            from: f64::from(i) / 10.0,
            to: f64::from(i + 1) / 10.0,
            employees,
        }
    }

    /// The `height` of the bar of the bin labelled `label`.
    fn bar_height(svg: &str, label: &str) -> f64 {
        let g = &svg[svg.find(&format!("data-bin=\"{label}\"")).unwrap()..];
        let h = &g[g.find(" height=\"").unwrap() + 9..];
        h[..h.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn a_bar_of_two_beside_one_of_1891_is_visible_and_bins_are_labelled_by_range() {
        let bins: Vec<Bin> = [2, 0, 0, 0, 0, 1, 2, 7, 14, 1891]
            .into_iter()
            .enumerate()
            .map(|(i, n)| bin(i as u32, n))
            .collect();
        let s = histogram("h", "t", "d", &bins, "share (%)");
        assert!(bar_height(&s, "0–10%") >= MIN_BAR_PX);
        assert!(bar_height(&s, "50–60%") >= MIN_BAR_PX);
        assert_eq!(bar_height(&s, "10–20%"), 0.0, "nothing drawn for none");
        assert_eq!(bar_height(&s, "90–100%"), 160.0);
        assert!(
            s.contains(r#"class="tick" text-anchor="middle">90–100%</text>"#),
            "{s}"
        );
        assert!(s.contains(">1,891</text>"), "{s}");
        assert!(s.contains("linear scale"), "{s}");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1891), "1,891");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
