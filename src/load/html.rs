//! A self-contained HTML report: the tables, a latency-by-percentile plot drawn as
//! HdrHistogram's plots are (the percentile axis logarithmic in 1/(1-p), so 90%, 99%,
//! 99.9% are evenly spaced), and throughput over time. Inline SVG: no script, nothing
//! fetched.

use std::fmt::Write as _;

use html_escape::encode_text;

use super::record::Summary;
use super::report::{LoadReport, fmt_ns};

const COLOURS: &[&str] =
    &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const W: f64 = 720.0;
const H: f64 = 320.0;
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 40.0;
/// Decades of the percentile axis: 0% .. 99.999%.
const DECADES: f64 = 5.0;

fn axis_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

fn frame(svg: &mut String, title: &str, y_max: f64, y_label: &dyn Fn(f64) -> String) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">
<text x="{cx}" y="14" text-anchor="middle" font-size="13">{title}</text>
<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{LEFT}" y1="20" x2="{LEFT}" y2="{b}" stroke="black"/>
"#,
        w = W + 20.0,
        h = H + 20.0,
        cx = W / 2.0,
        b = H - BOTTOM,
        r = W,
        title = encode_text(title),
    );
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let y = (H - BOTTOM) - (H - BOTTOM - 20.0) * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#ddd"/><text x="{x}" y="{ty}" text-anchor="end">{}</text>"##,
            encode_text(&y_label(v)),
            x = LEFT - 4.0,
            ty = y + 4.0,
        );
    }
}

fn y_of(v: f64, y_max: f64) -> f64 {
    (H - BOTTOM) - (H - BOTTOM - 20.0) * (v / y_max).min(1.0)
}

/// Latency by percentile, one line per workload.
pub fn percentile_plot(summaries: &[Summary]) -> String {
    let mut svg = String::new();
    let y_max = axis_max(summaries.iter().map(|s| s.max_ns() as f64).fold(0.0, f64::max));
    frame(&mut svg, "Latency by percentile", y_max, &|v| fmt_ns(v));
    let x_of = |decades: f64| LEFT + (W - LEFT) * decades / DECADES;
    for (d, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"].iter().enumerate() {
        let x = x_of(d as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" y1="20" x2="{x}" y2="{b}" stroke="#eee"/><text x="{x}" y="{ty}" text-anchor="middle">{label}</text>"##,
            b = H - BOTTOM,
            ty = H - BOTTOM + 14.0,
        );
    }
    for (i, s) in summaries.iter().filter(|s| s.count > 0).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = String::new();
        for step in 0..=200 {
            let decades = DECADES * f64::from(step) / 200.0;
            let q = 1.0 - 10f64.powf(-decades);
            let v = s.histogram.value_at_quantile(q) as f64;
            let _ = write!(points, "{:.1},{:.1} ", x_of(decades), y_of(v, y_max));
        }
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/><text x="{x}" y="{y}" fill="{colour}">{name}</text>"#,
            x = LEFT + 8.0,
            y = 34.0 + 13.0 * i as f64,
            name = encode_text(&s.workload),
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text></svg>"#,
        W / 2.0,
        H - 8.0
    );
    svg
}

/// Completed calls per second over the run.
pub fn throughput_plot(report: &LoadReport) -> String {
    let mut svg = String::new();
    let rates: Vec<(f64, f64)> = report
        .timeline
        .iter()
        .filter(|s| s.seconds > 0.0)
        .map(|s| (s.t, (s.calls + s.errors) as f64 / s.seconds))
        .collect();
    let y_max = axis_max(rates.iter().map(|r| r.1).fold(0.0, f64::max));
    let t_max = rates.iter().map(|r| r.0).fold(1.0, f64::max);
    frame(&mut svg, "Throughput (calls/s) over time", y_max, &|v| format!("{v:.0}"));
    let x_of = |t: f64| LEFT + (W - LEFT) * t / t_max;
    // Short runs need a decimal, or the quarter ticks of a 2 s run all read 0s, 1s, 2s.
    let decimals = if t_max < 10.0 { 1 } else { 0 };
    for i in 0..=4 {
        let t = t_max * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{y}" text-anchor="middle">{t:.decimals$}s</text>"#,
            x = x_of(t),
            y = H - BOTTOM + 14.0
        );
    }
    let points: String =
        rates.iter().map(|(t, r)| format!("{:.1},{:.1} ", x_of(*t), y_of(*r, y_max))).collect();
    let _ =
        writeln!(svg, r##"<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{points}"/>"##);
    let _ =
        writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">seconds</text></svg>"#, W / 2.0, H - 8.0);
    svg
}

fn table(report: &LoadReport) -> String {
    let mut out = String::from(
        "<table><tr><th>workload</th><th>phase</th><th>calls</th><th>rate/s</th><th>p50 ms</th><th>p90 ms</th>\
         <th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>mean ms</th><th>stddev ms</th><th>errors</th></tr>\n",
    );
    for r in &report.phases {
        let l = &r.latency_ms;
        let errors: Vec<String> = r.error_kinds.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{} {}</td></tr>",
            encode_text(&r.workload),
            encode_text(&r.phase),
            r.count,
            r.rate,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max,
            l.mean,
            l.stddev,
            r.errors,
            encode_text(&errors.join(", ")),
        );
    }
    out.push_str("</table>\n");
    out
}

/// The whole page.
pub fn render(report: &LoadReport, overall: &[Summary]) -> String {
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>grep11-harness load report</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>\n\
         <h1>grep11-harness load report</h1>\n<p>endpoint {} · mode {} · {} connection(s){}{}</p>\n",
        encode_text(&report.endpoint),
        encode_text(&report.mode),
        report.connections,
        report.concurrency.map(|c| format!(" · {c} in flight")).unwrap_or_default(),
        if report.interrupted { " · <b>interrupted</b>" } else { "" },
    );
    page.push_str(&table(report));
    for v in &report.violations {
        let _ = writeln!(page, "<p style=\"color:#b00\">threshold violated: {}</p>", encode_text(v));
    }
    page.push_str(&percentile_plot(overall));
    page.push_str("<br>\n");
    page.push_str(&throughput_plot(report));
    page.push_str("\n</body></html>\n");
    page
}
