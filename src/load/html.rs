//! A self-contained HTML report a capacity planner reads at a glance: the table, then one
//! section per workload with small charts of its own (small multiples, never one crowded
//! plot): latency over time (p50 and p99) and throughput over time; latency by percentile
//! as HdrHistogram plots it (the percentile axis logarithmic in 1/(1-p), so 90%, 99%,
//! 99.9% are evenly spaced), corrected and uncorrected side by side in open loop; latency
//! versus offered rate for a ramp and for `--find-max`, with the SLO or threshold as a
//! line. Latency axes are logarithmic. Lines are labelled at their right end, in a margin
//! kept for the labels, instead of a legend over them. Inline SVG: no script, nothing
//! fetched.
//!
//! Page and charts are maud templates (checked at compile time, every value escaped), the
//! charts maud emitting SVG elements. A plotting crate was weighed and not taken: plotters'
//! SVG backend labels series in a legend box (`configure_series_labels`), not at the
//! lines' ends; its log axes put minor ticks at every multiple of a decade (2, 3, … 9),
//! not 1-2-5; and the percentile axis (log in 1/(1-p)) is not one of its scales. These
//! charts would be its drawing primitives under the same layout code as here (scales, tick
//! choice, labels spread apart), so the layout is this module's and maud writes the
//! elements.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::cond::{Bound, Condition, Metric};
use super::find_max::Capacity;
use super::record::{Sample, Summary};
use super::report::{LoadReport, Row, fmt_ns};

const P50: &str = "#1f77b4";
const P99: &str = "#d62728";
const UNCORRECTED: &str = "#7f7f7f";
const RATE: &str = "#2ca02c";
const LIMIT: &str = "#444";
const PASS: &str = "#2ca02c";
const FAIL: &str = "#d62728";

const W: f64 = 440.0;
const H: f64 = 230.0;
const LEFT: f64 = 58.0;
/// Room for the lines' labels.
const RIGHT: f64 = 84.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 38.0;
/// Decades of the percentile axis at most: 0% .. 99.999%.
const DECADES: u32 = 5;

/// A value-to-pixel mapping along one axis, linear or logarithmic.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        let (lo, hi, v) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.max(self.lo).log10())
        } else {
            (self.lo, self.hi, v)
        };
        let f = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
        self.from + (self.to - self.from) * f
    }
}

/// A round number at or above `v` whose quarters are round too, close enough that the
/// data fills most of the axis.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.6, 2.0, 2.4, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|c| *c >= v * 0.999)
        .unwrap_or(10.0 * mag)
}

/// A logarithmic range over the positive values, out to whole decades.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return (1e3, 1e6);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// Ticks of a log range: every decade, and 2 and 5 between when it spans two decades or less.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10().round() as i32;
    let mut out = Vec::new();
    for d in 0..=decades {
        let base = lo * 10f64.powi(d);
        out.push(base);
        if decades <= 2 && d < decades {
            out.extend([2.0 * base, 5.0 * base]);
        }
    }
    out
}

/// Short latency labels for ticks: `500µs`, `2ms`, `1s`.
fn tick_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let text = format!("{v:.2}");
    format!("{}{unit}", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Short counts for ticks: `800`, `1.5k`, `20k`.
fn tick_count(v: f64) -> String {
    if v >= 1000.0 {
        let text = format!("{:.1}", v / 1000.0);
        format!("{}k", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{v:.0}")
    }
}

/// A coordinate in the SVG: a tenth of a pixel is finer than any screen shows.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// One small chart: a frame with ticks and titles, lines and marks, labels at the right.
struct Chart {
    class: String,
    title: String,
    x_label: String,
    x: Scale,
    y: Scale,
    /// Grid, ticks, lines and marks, in drawing order.
    parts: Vec<Markup>,
    labels: Vec<(f64, String, &'static str)>,
}

impl Chart {
    fn new(class: &str, title: &str, x: (f64, f64, bool), y: (f64, f64, bool), x_label: &str) -> Chart {
        Chart {
            class: class.to_owned(),
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            x: Scale { lo: x.0, hi: x.1, log: x.2, from: LEFT, to: W - RIGHT },
            y: Scale { lo: y.0, hi: y.1, log: y.2, from: H - BOTTOM, to: TOP },
            parts: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Horizontal grid lines with their labels on the left.
    fn y_ticks(&mut self, ticks: &[f64], show: &dyn Fn(f64) -> String) {
        for &v in ticks {
            let y = px(self.y.at(v));
            self.parts.push(html! {
                line x1=(LEFT) y1=(y) x2=(W - RIGHT) y2=(y) stroke="#e4e4e4" {}
                text.tick x=(LEFT - 5.0) y=(px(self.y.at(v) + 4.0)) text-anchor="end" { (show(v)) }
            });
        }
    }

    /// Tick marks and labels along the bottom.
    fn x_ticks(&mut self, ticks: &[(f64, String)]) {
        for (v, label) in ticks {
            let x = px(self.x.at(*v));
            self.parts.push(html! {
                line x1=(x) y1=(H - BOTTOM) x2=(x) y2=(H - BOTTOM + 4.0) stroke="#888" {}
                text.tick x=(x) y=(H - BOTTOM + 15.0) text-anchor="middle" { (label) }
            });
        }
    }

    /// A polyline through `points` (skipping non-positive values on a log axis), labelled
    /// at its last point.
    fn line(&mut self, points: &[(f64, f64)], colour: &'static str, dashed: bool, label: &str) {
        let kept: Vec<(f64, f64)> = points.iter().copied().filter(|p| !self.y.log || p.1 > 0.0).collect();
        let Some(last) = kept.last() else { return };
        let path: String =
            kept.iter().map(|(x, y)| format!("{},{} ", px(self.x.at(*x)), px(self.y.at(*y)))).collect();
        self.parts.push(html! {
            polyline.series fill="none" stroke=(colour) stroke-width="1.6" stroke-dasharray=[dashed.then_some("5,3")]
                points=(path) {}
        });
        self.labels.push((self.y.at(last.1), label.to_owned(), colour));
    }

    /// A horizontal limit (an SLO or threshold), labelled at the right.
    fn limit(&mut self, v: f64, label: &str) {
        let y = self.y.at(v);
        self.parts.push(html! {
            line.limit x1=(LEFT) y1=(px(y)) x2=(W - RIGHT) y2=(px(y)) stroke=(LIMIT) stroke-dasharray="2,3" {}
        });
        self.labels.push((y, label.to_owned(), LIMIT));
    }

    /// A vertical marker (the answer of a search), labelled at its top.
    fn marker(&mut self, x: f64, label: &str) {
        let at = self.x.at(x);
        // Inside the plot, on the side of the line with more room.
        let right_half = at > (LEFT + W - RIGHT) / 2.0;
        let (tx, anchor) = if right_half { (at - 4.0, "end") } else { (at + 4.0, "start") };
        self.parts.push(html! {
            line x1=(px(at)) y1=(TOP) x2=(px(at)) y2=(H - BOTTOM) stroke=(PASS) stroke-width="1" {}
            text x=(px(tx)) y=(TOP + 10.0) text-anchor=(anchor) fill=(PASS) { (label) }
        });
    }

    /// A passing trial as a dot, a failing one as a cross.
    fn mark(&mut self, x: f64, y: f64, passed: bool) {
        let (x, y) = (self.x.at(x), self.y.at(y));
        self.parts.push(if passed {
            html! { circle.pass cx=(px(x)) cy=(px(y)) r="3.2" fill=(PASS) {} }
        } else {
            let (a, b, c, d) = (px(x - 3.5), px(y - 3.5), px(x + 3.5), px(y + 3.5));
            html! {
                path.fail d={ "M" (a) "," (b) "L" (c) "," (d) "M" (a) "," (d) "L" (c) "," (b) }
                    stroke=(FAIL) stroke-width="1.8" {}
            }
        });
    }

    /// The axes, then the labels at the right, spread so that none overlaps another.
    fn finish(mut self) -> Markup {
        self.labels.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut floor = TOP + 4.0;
        for (y, _, _) in &mut self.labels {
            *y = y.max(floor);
            floor = *y + 13.0;
        }
        // Pushed below the plot, they move back up together.
        let overflow = self.labels.last().map_or(0.0, |l| (l.0 - (H - BOTTOM)).max(0.0));
        // SVG elements are written with explicit end tags: inside HTML, `<line>` without
        // one would hold everything after it.
        html! {
            svg class={ "chart " (self.class) } xmlns="http://www.w3.org/2000/svg" width=(W) height=(H)
                viewBox={ "0 0 " (W) " " (H) } font-family="sans-serif" font-size="11" {
                text.title x=(LEFT) y="15" font-size="12" font-weight="bold" { (self.title) }
                text x=(LEFT + (W - LEFT - RIGHT) / 2.0) y=(H - 6.0) text-anchor="middle" fill="#555" {
                    (self.x_label)
                }
                @for part in &self.parts { (part) }
                path d={ "M" (LEFT) "," (TOP) "V" (H - BOTTOM) "H" (W - RIGHT) } fill="none" stroke="#888" {}
                @for (y, text, colour) in &self.labels {
                    text.label x=(W - RIGHT + 6.0) y=(px(y - overflow + 4.0)) fill=(colour) { (text) }
                }
            }
        }
    }
}

/// A log latency axis over `values` (nanoseconds).
fn latency_axis(values: impl Iterator<Item = f64>) -> ((f64, f64, bool), Vec<f64>) {
    let (lo, hi) = log_range(values);
    ((lo, hi, true), log_ticks(lo, hi))
}

/// Seconds ticks for a time axis.
fn time_ticks(t0: f64, t1: f64) -> Vec<(f64, String)> {
    let span = (t1 - t0).max(1e-9);
    let decimals = if span < 10.0 { 1 } else { 0 };
    (0..=4).map(|i| t0 + span * f64::from(i) / 4.0).map(|t| (t, format!("{:.decimals$}s", t - t0))).collect()
}

/// p50 and p99 per one-second interval of one workload.
fn latency_over_time(samples: &[&Sample]) -> Markup {
    let (t0, t1) = time_span(samples);
    let (y, ticks) = latency_axis(samples.iter().flat_map(|s| [s.p50_ns as f64, s.p99_ns as f64]));
    let mut c = Chart::new("over-time", "Latency over time", (t0, t1, false), y, "seconds");
    c.y_ticks(&ticks, &tick_ns);
    c.x_ticks(&time_ticks(t0, t1));
    let busy: Vec<&&Sample> = samples.iter().filter(|s| s.calls > 0).collect();
    c.line(&busy.iter().map(|s| (s.t, s.p99_ns as f64)).collect::<Vec<_>>(), P99, false, "p99");
    c.line(&busy.iter().map(|s| (s.t, s.p50_ns as f64)).collect::<Vec<_>>(), P50, false, "p50");
    c.finish()
}

fn time_span(samples: &[&Sample]) -> (f64, f64) {
    let t0 = samples.first().map_or(0.0, |s| s.t - s.seconds);
    let t1 = samples.last().map_or(1.0, |s| s.t).max(t0 + 1e-3);
    (t0, t1)
}

/// Successful calls per second (and failed ones, if any) per interval of one workload.
fn throughput_over_time(samples: &[&Sample]) -> Markup {
    let (t0, t1) = time_span(samples);
    let per_second = |n: u64, s: &Sample| if s.seconds > 0.0 { n as f64 / s.seconds } else { 0.0 };
    let ok: Vec<(f64, f64)> = samples.iter().map(|s| (s.t, per_second(s.calls, s))).collect();
    let failed: Vec<(f64, f64)> = samples.iter().map(|s| (s.t, per_second(s.errors + s.wrong, s))).collect();
    let top = nice_ceiling(ok.iter().chain(&failed).map(|p| p.1).fold(0.0, f64::max));
    let mut c =
        Chart::new("over-time", "Throughput over time", (t0, t1, false), (0.0, top, false), "seconds");
    c.y_ticks(&(0..=4).map(|i| top * f64::from(i) / 4.0).collect::<Vec<_>>(), &tick_count);
    c.x_ticks(&time_ticks(t0, t1));
    c.line(&ok, RATE, false, "ok/s");
    if failed.iter().any(|p| p.1 > 0.0) {
        c.line(&failed, FAIL, true, "failed/s");
    }
    c.finish()
}

/// Latency by percentile: corrected, and uncorrected (from the actual send) in open loop.
fn percentile_plot(s: &Summary) -> Markup {
    let decades = (s.count.max(1) as f64).log10().floor().clamp(1.0, f64::from(DECADES)) as u32;
    let curve = |h: &hdrhistogram::Histogram<u64>| -> Vec<(f64, f64)> {
        (0..=100)
            .map(|i| f64::from(decades) * f64::from(i) / 100.0)
            .map(|d| (d, h.value_at_quantile(1.0 - 10f64.powf(-d)) as f64))
            .collect()
    };
    let corrected = curve(&s.histogram);
    let uncorrected = s.uncorrected.as_ref().map(curve);
    let (y, ticks) = latency_axis(corrected.iter().chain(uncorrected.iter().flatten()).map(|p| p.1));
    let mut c =
        Chart::new("percentiles", "Latency by percentile", (0.0, f64::from(decades), false), y, "percentile");
    c.y_ticks(&ticks, &tick_ns);
    let names = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];
    c.x_ticks(&(0..=decades).map(|d| (f64::from(d), names[d as usize].to_owned())).collect::<Vec<_>>());
    c.line(&corrected, P99, false, if uncorrected.is_some() { "corrected" } else { "latency" });
    if let Some(u) = &uncorrected {
        c.line(u, UNCORRECTED, true, "uncorrected");
    }
    c.finish()
}

/// Latency limits from conditions that apply to `workload`: (nanoseconds, label).
fn latency_limits(conditions: &[Condition], workload: &str) -> Vec<(f64, String)> {
    conditions
        .iter()
        .filter(|c| c.applies_to(workload))
        .filter_map(|c| match (c.metric, c.bound) {
            (Metric::Percentile(_) | Metric::Max | Metric::Mean, Bound::Latency(ns)) => {
                Some((ns, format!("{}{}{}", c.metric, c.op, tick_ns(ns))))
            }
            _ => None,
        })
        .collect()
}

/// A ramp: latency (p50, p99, uncorrected p99) against the offered rate of each step.
fn latency_vs_rate(rows: &[&Row], limits: &[(f64, String)]) -> Markup {
    let rate = |r: &Row| r.target_rate.unwrap_or(r.rate);
    let ms = 1e6;
    let p99: Vec<(f64, f64)> = rows.iter().map(|r| (rate(r), r.latency_ms.p99 * ms)).collect();
    let p50: Vec<(f64, f64)> = rows.iter().map(|r| (rate(r), r.latency_ms.p50 * ms)).collect();
    let unc: Vec<(f64, f64)> =
        rows.iter().filter_map(|r| Some((rate(r), r.uncorrected_ms.as_ref()?.p99 * ms))).collect();
    let (y, ticks) =
        latency_axis(p99.iter().chain(&p50).chain(&unc).map(|p| p.1).chain(limits.iter().map(|l| l.0)));
    let x_max = nice_ceiling(p99.iter().map(|p| p.0).fold(0.0, f64::max));
    let mut c = Chart::new("vs-rate", "Latency vs offered rate", (0.0, x_max, false), y, "offered calls/s");
    c.y_ticks(&ticks, &tick_ns);
    c.x_ticks(&(0..=4).map(|i| x_max * f64::from(i) / 4.0).map(|v| (v, tick_count(v))).collect::<Vec<_>>());
    for (ns, label) in limits {
        c.limit(*ns, label);
    }
    c.line(&p99, P99, false, "p99");
    c.line(&unc, UNCORRECTED, true, "p99 uncorr.");
    c.line(&p50, P50, false, "p50");
    c.finish()
}

/// A ramp: achieved against offered rate, with the line where they are equal.
fn achieved_vs_offered(points: &[(f64, f64, Option<bool>)], answer: Option<f64>) -> Markup {
    let top = nice_ceiling(points.iter().map(|p| p.0.max(p.1)).fold(0.0, f64::max));
    let mut c = Chart::new(
        "achieved",
        "Achieved vs offered rate",
        (0.0, top, false),
        (0.0, top, false),
        "offered calls/s",
    );
    let ticks: Vec<f64> = (0..=4).map(|i| top * f64::from(i) / 4.0).collect();
    c.y_ticks(&ticks, &tick_count);
    c.x_ticks(&ticks.iter().map(|v| (*v, tick_count(*v))).collect::<Vec<_>>());
    c.line(&[(0.0, 0.0), (top, top)], UNCORRECTED, true, "offered");
    match points.first().and_then(|p| p.2) {
        // Search trials: marks, pass or fail.
        Some(_) => {
            for (offered, achieved, passed) in points {
                c.mark(*offered, *achieved, passed.unwrap_or(true));
            }
        }
        None => c.line(&points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), RATE, false, "achieved"),
    }
    if let Some(a) = answer {
        c.marker(a, &format!("{}/s", tick_count(a)));
    }
    c.finish()
}

/// `--find-max`: each judged trial's latency SLO terms (else its p99) against the offered
/// rate, pass as a dot and fail as a cross, the SLO bounds as lines and the answer marked.
fn find_max_chart(cap: &Capacity, slo: &[Condition]) -> Markup {
    let limits = latency_limits(slo, &cap.workload);
    let latency_terms: Vec<&str> = slo
        .iter()
        .filter(|c| c.applies_to(&cap.workload) && matches!(c.bound, Bound::Latency(_)))
        .map(|c| c.text.as_str())
        .collect();
    let values: Vec<(f64, f64, bool)> = cap
        .trials
        .iter()
        .filter(|t| t.kind != super::find_max::Kind::Probe)
        .flat_map(|t| {
            let mut v: Vec<f64> = t
                .terms
                .iter()
                .filter(|m| latency_terms.contains(&m.term.as_str()))
                .map(|m| m.value)
                .collect();
            if v.is_empty() {
                v.push(t.latency_ms.p99 * 1e6);
            }
            v.into_iter().map(move |v| (t.offered, v, t.passed))
        })
        .collect();
    let (y, ticks) = latency_axis(values.iter().map(|v| v.1).chain(limits.iter().map(|l| l.0)));
    let x_max = nice_ceiling(values.iter().map(|v| v.0).fold(0.0, f64::max));
    let title = if latency_terms.is_empty() { "p99 per trial" } else { "SLO latency per trial" };
    let mut c = Chart::new("find-max", title, (0.0, x_max, false), y, "offered calls/s");
    c.y_ticks(&ticks, &tick_ns);
    c.x_ticks(&(0..=4).map(|i| x_max * f64::from(i) / 4.0).map(|v| (v, tick_count(v))).collect::<Vec<_>>());
    for (ns, label) in &limits {
        c.limit(*ns, label);
    }
    for (x, v, passed) in &values {
        c.mark(*x, *v, *passed);
    }
    if let Some(a) = cap.max_rate {
        c.marker(a, &format!("{}/s", tick_count(a)));
    }
    c.finish()
}

fn table(rows: &[Row]) -> Markup {
    let open = rows.iter().any(|r| r.uncorrected_ms.is_some());
    let ms = |v: f64| fmt_ns(v * 1e6);
    html! {
        table {
            tr {
                th { "workload" } th { "phase" } th { "ok calls" } th { "ok/s" }
                th { "p50" } th { "p90" } th { "p99" }
                @if open { th { "p99 uncorrected" } }
                th { "p99.9" } th { "max" } th { "mean" } th { "errors" } th { "wrong/checked" }
            }
            @for r in rows {
                @let l = &r.latency_ms;
                @let errors: Vec<String> = r.error_kinds.iter().map(|(k, v)| format!("{k}×{v}")).collect();
                tr {
                    td { (r.workload) } td { (r.phase) } td { (r.count) } td { (format!("{:.1}", r.rate)) }
                    td { (ms(l.p50)) } td { (ms(l.p90)) } td { (ms(l.p99)) }
                    @if open { td { (r.uncorrected_ms.as_ref().map(|u| ms(u.p99)).unwrap_or_default()) } }
                    td { (ms(l.p99_9)) } td { (ms(l.max)) } td { (ms(l.mean)) }
                    td { (r.errors) " " (errors.join(", ")) }
                    td { (r.wrong) "/" (r.checked) }
                }
            }
        }
    }
}

/// The trials of one search, as the terminal shows them.
fn trials_table(cap: &Capacity) -> Markup {
    let result = |t: &super::find_max::Trial| {
        if t.kind == super::find_max::Kind::Probe {
            "closed loop, not judged".to_owned()
        } else if t.passed {
            "pass".to_owned()
        } else {
            format!("FAIL: {}", t.failed_terms().join(", "))
        }
    };
    html! {
        table.trials {
            tr {
                th { "#" } th { "trial" } th { "offered/s" } th { "achieved/s" } th { "seconds" }
                th { "p50" } th { "p99" }
                @for term in &cap.slo { th { (term) } }
                th { "result" }
            }
            @for (i, t) in cap.trials.iter().enumerate() {
                tr {
                    td { (i) } td { (t.kind.name()) } td { (format!("{:.0}", t.offered)) }
                    td { (format!("{:.1}", t.achieved)) } td { (format!("{:.1}", t.seconds)) }
                    td { (fmt_ns(t.latency_ms.p50 * 1e6)) } td { (fmt_ns(t.latency_ms.p99 * 1e6)) }
                    @for term in &cap.slo {
                        @let m = t.terms.iter().find(|m| &m.term == term);
                        td.failed[m.is_some_and(|m| !m.met)] { @if let Some(m) = m { (m.measured) } }
                    }
                    td { (result(t)) }
                }
            }
        }
    }
}

/// One workload's section: its charts side by side.
fn section(name: &str, charts: &[Markup], extra: Option<Markup>) -> Markup {
    html! {
        section.workload data-workload=(name) {
            h2 { (name) }
            div.charts { @for chart in charts { (chart) } }
            @if let Some(extra) = extra { (extra) }
        }
    }
}

fn run_sections(report: &LoadReport, overall: &[Summary], conditions: &[Condition]) -> Markup {
    let sections = overall.iter().map(|s| {
        let samples: Vec<&Sample> = report.timeline.iter().filter(|x| x.workload == s.workload).collect();
        let mut charts = vec![latency_over_time(&samples), throughput_over_time(&samples)];
        if s.count > 0 {
            charts.push(percentile_plot(s));
        }
        let steps: Vec<&Row> =
            report.phases.iter().filter(|r| r.workload == s.workload && r.target_rate.is_some()).collect();
        if steps.len() > 1 {
            charts.push(latency_vs_rate(&steps, &latency_limits(conditions, &s.workload)));
            let points: Vec<_> = steps.iter().map(|r| (r.target_rate.unwrap_or(0.0), r.rate, None)).collect();
            charts.push(achieved_vs_offered(&points, None));
        }
        section(&s.workload, &charts, None)
    });
    html! { @for s in sections { (s) } }
}

fn find_max_sections(report: &LoadReport, slo: &[Condition]) -> Markup {
    html! {
        table {
            tr { th { "workload" } th { "max rate/s meeting the SLO" } th { "confidence" } th { "why" } }
            @for cap in &report.capacity {
                tr {
                    td { (cap.workload) }
                    td { (cap.max_rate.map(|r| format!("{r:.0}")).unwrap_or_else(|| "none".into())) }
                    td { (cap.confidence.level.name()) }
                    td.why { (cap.confidence.why) }
                }
            }
        }
        @for cap in &report.capacity {
            @let points: Vec<_> = cap
                .trials
                .iter()
                .filter(|t| t.kind != super::find_max::Kind::Probe)
                .map(|t| (t.offered, t.achieved, Some(t.passed)))
                .collect();
            @let charts = [find_max_chart(cap, slo), achieved_vs_offered(&points, cap.max_rate)];
            (section(&cap.workload, &charts, Some(trials_table(cap))))
        }
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;max-width:1400px}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}td.why{text-align:left;max-width:40em}td.failed{color:#b00}\
section.workload{margin-top:1.2em;border-top:1px solid #ddd}h2{font-size:1.1em;margin:.6em 0 .3em}\
.charts{display:flex;flex-wrap:wrap;gap:10px}svg.chart{background:#fff;border:1px solid #eee}";

/// The whole page. `conditions` are the thresholds (a run) or the SLO (`--find-max`),
/// drawn as limits on the latency charts.
pub fn render(report: &LoadReport, overall: &[Summary], conditions: &[Condition]) -> String {
    html! {
        (DOCTYPE)
        html {
            head {
                meta charset="utf-8";
                title { "grep11-harness load report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "grep11-harness load report" }
                p {
                    "endpoint " (report.endpoint) " · mode " (report.mode) " · " (report.connections) " connection(s)"
                    @if let Some(c) = report.concurrency { " · " (c) " in flight" }
                    @if report.interrupted { " · " b { "interrupted" } }
                }
                @for v in &report.violations {
                    p style="color:#b00" { "threshold violated: " (v) }
                }
                @if report.capacity.is_empty() {
                    (table(&report.phases))
                    (run_sections(report, overall, conditions))
                } @else {
                    (find_max_sections(report, conditions))
                }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_cover_whole_decades() {
        assert_eq!(log_range([3e5, 2.5e7].into_iter()), (1e5, 1e8));
        assert_eq!(log_ticks(1e5, 1e8), vec![1e5, 1e6, 1e7, 1e8]);
        assert_eq!(log_ticks(1e6, 1e7), vec![1e6, 2e6, 5e6, 1e7]);
        let labels: Vec<String> = log_ticks(1e5, 1e7).into_iter().map(tick_ns).collect();
        assert_eq!(labels, ["100µs", "200µs", "500µs", "1ms", "2ms", "5ms", "10ms"]);
        let s = Scale { lo: 1e5, hi: 1e8, log: true, from: 200.0, to: 20.0 };
        // Each decade takes a third of the height.
        assert_eq!((s.at(1e5), s.at(1e6), s.at(1e8)), (200.0, 140.0, 20.0));
    }

    #[test]
    fn labels_never_overlap_or_leave_the_chart() {
        let mut c = Chart::new("t", "t", (0.0, 1.0, false), (1.0, 1e3, true), "x");
        for label in ["a", "b", "c", "d"] {
            c.line(&[(0.0, 5.0), (1.0, 5.0)], P50, false, label);
        }
        let svg = c.finish().into_string();
        let ys: Vec<f64> = svg
            .split("<text class=\"label\"")
            .skip(1)
            .map(|l| l.split("y=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 4);
        for pair in ys.windows(2) {
            assert!(pair[1] - pair[0] >= 13.0 - 1e-9, "{ys:?}");
        }
        assert!(ys.iter().all(|y| *y > TOP && *y <= H - BOTTOM + 4.0), "{ys:?}");
    }

    fn page(conditions: &[Condition]) -> (String, LoadReport) {
        use crate::load::record::{Recorder, summarize};
        use crate::load::workload::Outcome;
        use std::time::{Duration, Instant};
        let r = Recorder::new(vec!["a".into(), "b".into()], true);
        let t0 = Instant::now();
        for (step, rate) in [100.0, 200.0].into_iter().enumerate() {
            let p = r.begin(&format!("{rate}/s"), Some(rate), false);
            for i in 1..=200u64 {
                let done = t0 + Duration::from_micros(50 * i * (step as u64 + 1));
                r.record(p, (i % 2) as usize, t0, t0, done, &Outcome::Ok { checked: false });
            }
            r.tick();
        }
        r.end();
        let (phases, overall) = summarize(&r);
        let report = LoadReport {
            harness_version: "test".into(),
            endpoint: "embedded emulator".into(),
            mode: "open".into(),
            connections: 1,
            concurrency: None,
            started_unix: 0,
            started_at: String::new(),
            segment: None,
            hlog: None,
            merge: None,
            interrupted: false,
            phases: phases.iter().map(Row::of).collect(),
            overall: overall.iter().map(Row::of).collect(),
            timeline: r.timeline(),
            capacity: Vec::new(),
            violations: Vec::new(),
        };
        (render(&report, &overall, conditions), report)
    }

    /// The tick labels of the first chart of `class` in `html`.
    fn y_tick_labels(html: &str, class: &str) -> Vec<String> {
        let chart = html.split(&format!("<svg class=\"chart {class}\"")).nth(1).unwrap();
        let chart = chart.split("</svg>").next().unwrap();
        chart
            .split("<text class=\"tick\"")
            .skip(1)
            .filter(|t| t.contains("text-anchor=\"end\""))
            .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn every_workload_has_its_own_charts() {
        let (html, _) = page(&[Condition::parse("p99<10ms").unwrap()]);
        let sections: Vec<&str> = html.split("<section class=\"workload\"").skip(1).collect();
        assert_eq!(sections.len(), 2);
        for (section, name) in sections.iter().zip(["a", "b"]) {
            assert!(section.starts_with(&format!(" data-workload=\"{name}\"")), "{section}");
            // Over time (latency, throughput), by percentile, and for the ramp latency and
            // achieved rate against the offered rate.
            assert_eq!(section.matches("<svg class=\"chart ").count(), 5, "{name}");
            for class in ["over-time", "percentiles", "vs-rate", "achieved"] {
                assert!(section.contains(&format!("<svg class=\"chart {class}\"")), "{name}: no {class}");
            }
            // The threshold as a line on the latency-vs-rate chart; corrected and uncorrected.
            assert!(section.contains(">p99&lt;10ms</text>"), "{name}");
            assert!(section.contains(">uncorrected</text>") && section.contains(">corrected</text>"));
        }
    }

    #[test]
    fn latency_axes_are_logarithmic() {
        let (html, _) = page(&[]);
        for class in ["percentiles", "vs-rate"] {
            let labels = y_tick_labels(&html, class);
            assert!(labels.len() >= 3, "{class}: {labels:?}");
            // Ticks are 1, 2, 5 × a power of ten, each decade the same height: the first
            // decade's labels read 10× the previous decade's.
            let values: Vec<f64> = labels
                .iter()
                .map(|l| {
                    let n: f64 = l.trim_end_matches(|c: char| c.is_alphabetic() || c == 'µ').parse().unwrap();
                    let unit = if l.ends_with("ns") {
                        1.0
                    } else if l.ends_with("µs") {
                        1e3
                    } else if l.ends_with("ms") {
                        1e6
                    } else {
                        1e9
                    };
                    n * unit
                })
                .collect();
            for pair in values.windows(2) {
                let r = pair[1] / pair[0];
                assert!([2.0, 2.5, 10.0].iter().any(|w| (r - w).abs() < 1e-6), "{class}: {labels:?}");
            }
            assert!(values.last().unwrap() / values[0] >= 10.0, "{class} spans a decade or more: {labels:?}");
        }
    }
}
