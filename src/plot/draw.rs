//! Drawing one [`Chart`] on a plotters drawing area: the axes with round ticks, the bands,
//! the reference lines labelled on the line, the series in their own styles (lines broken
//! where a value cannot be shown, hollow markers, error bars, bars with their values) and the
//! legend where it covers the fewest data.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::axis::TickedAxis;
use crate::plot::glyph::glyph;
use crate::plot::legend::{self, Key};
use crate::plot::style::{Dash, Style, reference_style, style};
use crate::plot::ticks::{Tick, linear_minor, linear_ticks, log_minor, log_ticks, seconds_ticks};
use crate::plot::{Chart, Series, SeriesKind};

/// Most ticks on the x and the y axis.
const MAX_X_TICKS: usize = 10;
const MAX_Y_TICKS: usize = 9;
/// Tick label and axis title font sizes (pixels).
const LABEL_SIZE: u32 = 14;
const DESC_SIZE: u32 = 15;
/// Series with more points than this get smaller markers.
const DENSE: usize = 300;
/// Fill colours of the shaded x intervals, in order (drawn at 35 % opacity).
const BAND_SHADES: [RGBColor; 3] = [RGBColor(240, 150, 150), RGBColor(150, 150, 150), RGBColor(140, 170, 230)];

type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickedAxis, TickedAxis>>;

/// The value on the drawn axis: log10 on a logarithmic axis (`None` if it cannot be shown).
pub fn axis_value(v: f64, log: bool) -> Option<f64> {
    if !log {
        return v.is_finite().then_some(v);
    }
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

/// Major ticks (drawn position, label) and minor grid positions of one axis over the drawn
/// range `[t0, t1]`.
struct AxisTicks {
    major: Vec<(f64, String)>,
    minor: Vec<f64>,
}

fn axis_ticks(t0: f64, t1: f64, log: bool, seconds: bool, max: usize) -> AxisTicks {
    let drawn = |ticks: Vec<Tick>| -> Vec<(f64, String)> {
        ticks.into_iter().filter_map(|t| Some((axis_value(t.value, log)?, t.label))).collect()
    };
    if !log {
        let ticks = linear_ticks(t0, t1, max);
        let minor = linear_minor(t0, t1, &ticks);
        return AxisTicks { major: drawn(ticks), minor };
    }
    let (lo, hi) = (10f64.powf(t0), 10f64.powf(t1));
    let ticks = if seconds { seconds_ticks(lo, hi, max) } else { log_ticks(lo, hi, max) };
    let minor = log_minor(lo, hi, 12).into_iter().map(f64::log10).collect();
    AxisTicks { major: drawn(ticks), minor }
}

fn category_ticks(names: &[String]) -> AxisTicks {
    AxisTicks { major: names.iter().enumerate().map(|(i, n)| (i as f64, n.clone())).collect(), minor: vec![] }
}

fn label_at(ticks: &[(f64, String)], v: f64, span: f64) -> String {
    ticks.iter().find(|(t, _)| (t - v).abs() <= 1e-9 * span.max(1e-300)).map(|(_, l)| l.clone()).unwrap_or_default()
}

/// The drawn (x, y) of a point, `None` if it cannot be shown.
fn drawn_point(x: f64, y: f64, chart: &Chart) -> Option<(f64, f64)> {
    Some((axis_value(x, chart.log_x)?, axis_value(y, chart.log_y)?))
}

/// The runs of consecutive points that can be shown (a line breaks at the others).
fn runs(series: &Series, chart: &Chart) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![vec![]];
    for p in &series.points {
        match drawn_point(p.x, p.y, chart) {
            Some(q) => out.last_mut().expect("never empty").push(q),
            None if out.last().is_some_and(|r| !r.is_empty()) => out.push(vec![]),
            None => {}
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The series' style (its own index or its position).
fn series_style(i: usize, s: &Series) -> Style {
    style(s.style.unwrap_or(i))
}

fn draw_line<DB: DrawingBackend>(
    ctx: &mut Ctx<'_, DB>,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    dash: Dash,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let stroke = color.stroke_width(2);
    match dash.pattern() {
        None => ctx.draw_series(LineSeries::new(points, stroke)).map(|_| ()),
        Some((d, g)) => ctx.draw_series(DashedLineSeries::new(points, d, g, stroke)).map(|_| ()),
    }
}

/// Draws `chart` on `root`.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    draw_chart(root, chart).map_err(|e| e.to_string())
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (lx, ly) = (chart.log_x, chart.log_y);
    let xs = chart.series.iter().flat_map(|s| s.points.iter().filter_map(move |p| axis_value(p.x, lx)));
    let ys = chart.series.iter().flat_map(|s| {
        s.points.iter().flat_map(move |p| {
            [axis_value(p.y - p.err, ly).or(axis_value(p.y, ly)), axis_value(p.y + p.err, ly)].into_iter().flatten()
        })
    });
    let hl = chart.hlines.iter().filter_map(|(y, _)| axis_value(*y, ly));
    let bars = chart.series.iter().any(|s| s.kind == SeriesKind::Bars);
    let (x0, x1) = if chart.x_categories.is_empty() {
        bounds(xs)
    } else {
        // Half a slot beyond the first and the last category.
        (-0.6, chart.x_categories.len() as f64 - 0.4)
    };
    let (mut y0, mut y1) = bounds(ys.chain(hl));
    if bars {
        // Bars stand on 0 (on 1 on a logarithmic axis) and get room above for their values.
        let lowest = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter_map(|p| axis_value(p.y, ly)))
            .fold(f64::INFINITY, f64::min);
        if lowest >= 0.0 {
            y0 = 0.0;
        }
        y1 += 0.04 * (y1 - y0);
    }
    let x_ticks = if chart.x_categories.is_empty() {
        axis_ticks(x0, x1, lx, chart.x_seconds, MAX_X_TICKS)
    } else {
        category_ticks(&chart.x_categories)
    };
    let y_ticks = axis_ticks(y0, y1, ly, false, MAX_Y_TICKS);
    let label_font = TextStyle::from(("sans-serif", LABEL_SIZE).into_font());
    let mut widest = 0;
    for (_, l) in &y_ticks.major {
        widest = widest.max(root.estimate_text_size(l, &label_font)?.0);
    }
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(52)
        .y_label_area_size(widest + 44)
        .build_cartesian_2d(
            TickedAxis { lo: x0, hi: x1, major: x_ticks.major.iter().map(|t| t.0).collect(), minor: x_ticks.minor },
            TickedAxis { lo: y0, hi: y1, major: y_ticks.major.iter().map(|t| t.0).collect(), minor: y_ticks.minor },
        )?;
    let (xspan, yspan) = (x1 - x0, y1 - y0);
    let mut mesh = ctx.configure_mesh();
    if !chart.x_categories.is_empty() {
        // No vertical grid through the bars.
        mesh.disable_x_mesh();
    }
    mesh.x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|v| label_at(&x_ticks.major, *v, xspan))
        .y_label_formatter(&|v| label_at(&y_ticks.major, *v, yspan))
        .bold_line_style(RGBColor(200, 200, 200))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", LABEL_SIZE))
        .axis_desc_style(("sans-serif", DESC_SIZE))
        .draw()?;
    let mut entries: Vec<(Key, String)> = Vec::new();
    for (i, (from, to, label)) in chart.x_bands.iter().enumerate() {
        let (Some(a), Some(b)) = (axis_value(*from, lx), axis_value(*to, lx)) else { continue };
        let shade = BAND_SHADES[i % BAND_SHADES.len()].mix(0.35);
        ctx.draw_series(std::iter::once(Rectangle::new([(a, y0), (b, y1)], shade.filled())))?;
        entries.push((Key::Swatch(shade), label.clone()));
    }
    let mut hline_labels = Vec::new();
    for (i, (y, label)) in chart.hlines.iter().enumerate() {
        let Some(v) = axis_value(*y, ly) else { continue };
        let (color, dash) = reference_style(i);
        draw_line(&mut ctx, vec![(x0, v), (x1, v)], color, dash)?;
        hline_labels.push((ctx.backend_coord(&(x0, v)).1, color, label.clone()));
    }
    let mut occupied = Vec::new();
    for (i, series) in chart.series.iter().enumerate() {
        let st = series_style(i, series);
        let stroke = st.color.stroke_width(2);
        let lines = runs(series, chart);
        let mut label = series.label.clone();
        let hidden = series.points.iter().filter(|p| drawn_point(p.x, p.y, chart).is_none()).count();
        if lines.is_empty() && !series.points.is_empty() {
            label.push_str(" (no value > 0: not on the log axis)");
        } else if hidden > 0 && series.kind != SeriesKind::Line {
            // Measured points a log axis cannot show are counted, not silently dropped.
            let s = if hidden == 1 { "" } else { "s" };
            label.push_str(&format!(" ({hidden} point{s} ≤ 0 not shown)"));
        }
        for run in &lines {
            for w in run.windows(2) {
                let (a, b) = (ctx.backend_coord(&w[0]), ctx.backend_coord(&w[1]));
                let n = ((a.0 - b.0).abs().max((a.1 - b.1).abs()) / 4).max(1);
                occupied.extend((0..=n).map(|k| (a.0 + (b.0 - a.0) * k / n, a.1 + (b.1 - a.1) * k / n)));
            }
            occupied.extend(run.iter().map(|p| ctx.backend_coord(p)));
        }
        let with_errors = matches!(series.kind, SeriesKind::Markers | SeriesKind::MarkedLine);
        if with_errors {
            let bars: Vec<(f64, f64, f64)> = series
                .points
                .iter()
                .filter(|p| p.err > 0.0)
                .filter_map(|p| {
                    let (x, y) = drawn_point(p.x, p.y, chart)?;
                    let lo = axis_value(p.y - p.err, ly).unwrap_or(y0).max(y0);
                    let hi = axis_value(p.y + p.err, ly).unwrap_or(y).min(y1);
                    Some((x, lo, hi))
                })
                .collect();
            ctx.draw_series(
                bars.iter().map(|&(x, lo, hi)| PathElement::new([(x, lo), (x, hi)], st.color.stroke_width(1))),
            )?;
        }
        let draws_line = matches!(series.kind, SeriesKind::Line | SeriesKind::MarkedLine);
        if draws_line {
            for run in &lines {
                draw_line(&mut ctx, run.clone(), st.color, st.dash)?;
            }
        }
        let (r, marker_stroke) = if series.points.len() > DENSE { (2, st.color.stroke_width(1)) } else { (4, stroke) };
        let marked: Vec<(f64, f64)> = match series.kind {
            SeriesKind::Markers | SeriesKind::MarkedLine => lines.concat(),
            // A line's isolated point would not show otherwise.
            SeriesKind::Line => lines.iter().filter(|r| r.len() == 1).flatten().copied().collect(),
            SeriesKind::Bars => vec![],
        };
        ctx.draw_series(marked.iter().map(|&p| glyph(p, st.marker, r, marker_stroke)))?;
        if series.kind == SeriesKind::Bars {
            let fill = st.color.mix(0.8);
            let base = y0.max(0.0);
            let tops: Vec<(f64, f64, f64)> =
                series.points.iter().filter_map(|p| Some((axis_value(p.x, lx)?, axis_value(p.y, ly)?, p.y))).collect();
            ctx.draw_series(
                tops.iter().map(|&(x, y, _)| Rectangle::new([(x - 0.35, base), (x + 0.35, y)], fill.filled())),
            )?;
            let font = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            for &(x, y, v) in &tops {
                let (px, py) = ctx.backend_coord(&(x, y));
                root.draw(&Text::new(format!("{v}"), (px, py - 3), font.clone()))?;
                for k in 0..=10 {
                    let (_, pb) = ctx.backend_coord(&(x, base));
                    occupied.extend([-30, 0, 30].map(|dx| (px + dx, py + (pb - py) * k / 10)));
                }
            }
            entries.push((Key::Swatch(fill), label));
        } else {
            entries
                .push((Key::Series { style: st, line: draws_line, marker: !marked.is_empty() || with_errors }, label));
        }
    }
    let (xr, yr) = ctx.plotting_area().get_pixel_range();
    let area = (xr.start, yr.start, xr.end, yr.end);
    occupied.extend(label_reference_lines(root, area, &hline_labels)?);
    if entries.len() >= 2 {
        let size = legend::size(root, &entries)?;
        let at = legend::place(area, size, &occupied, chart.legend);
        legend::draw(root, &entries, at, size)?;
    }
    Ok(())
}

/// Writes each reference line's label on the line (on a white patch that interrupts it),
/// right-aligned, moving a label left when one already placed is too close above or below.
/// Returns the pixels the labels cover.
fn label_reference_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: legend::Rect,
    labels: &[(i32, RGBColor, String)],
) -> Result<Vec<(i32, i32)>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (l, _, r, _) = area;
    let slots = [r - 10, l + (r - l) * 62 / 100, l + (r - l) * 34 / 100];
    let mut placed: Vec<(usize, i32)> = Vec::new();
    let mut covered = Vec::new();
    let font = TextStyle::from(("sans-serif", 13).into_font());
    for (y, color, text) in labels {
        let (w, h) = root.estimate_text_size(text, &font)?;
        let (w, h) = (w as i32, h as i32);
        let slot =
            (0..slots.len()).find(|&s| placed.iter().all(|&(ps, py)| ps != s || (py - y).abs() > h + 6)).unwrap_or(0);
        placed.push((slot, *y));
        let right = slots[slot];
        root.draw(&Rectangle::new([(right - w - 4, y - h / 2 - 1), (right + 3, y + h / 2 + 1)], WHITE.filled()))?;
        let style = font.clone().color(color).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(text.clone(), (right, *y), style))?;
        covered.extend((0..=w / 6).map(|k| (right - w + 6 * k, *y)));
    }
    Ok(covered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::Point;

    fn series(label: &str, ys: &[f64], kind: SeriesKind) -> Series {
        let points = ys.iter().enumerate().map(|(i, &y)| Point { x: i as f64, y, err: 0.0 }).collect();
        Series { label: label.into(), points, kind, style: None }
    }

    fn svg(chart: &Chart) -> String {
        crate::plot::register_font();
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, crate::plot::SIZE).into_drawing_area();
            draw(&root, chart).expect("draws");
            root.present().expect("presents");
        }
        out
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    #[test]
    fn series_that_coincide_are_drawn_in_different_colours_and_patterns() {
        let ys = [0.0, 7130.0, 7130.0, 7130.0];
        let chart = Chart {
            series: vec![
                series("20 km", &[7190.0, 0.0, 0.0, 0.0], SeriesKind::MarkedLine),
                series("80 km", &ys, SeriesKind::MarkedLine),
                series("140 km", &ys, SeriesKind::MarkedLine),
            ],
            ..Chart::default()
        };
        let out = svg(&chart);
        for i in 0..3 {
            assert!(out.contains(&hex(style(i).color)), "series {i}'s colour is not in the drawing");
        }
        let (a, b) = (series_style(1, &chart.series[1]), series_style(2, &chart.series[2]));
        assert!(a.color != b.color && a.dash != b.dash && a.marker != b.marker);
    }

    #[test]
    fn series_sharing_a_style_index_share_a_style() {
        let mut s = series("a", &[1.0], SeriesKind::Line);
        s.style = Some(0);
        assert_eq!(series_style(5, &s), style(0));
        assert_eq!(series_style(5, &series("b", &[1.0], SeriesKind::Line)), style(5));
    }

    #[test]
    fn a_line_breaks_where_a_log_axis_cannot_show_the_value() {
        let chart = Chart { log_y: true, ..Chart::default() };
        let s = series("key", &[38884.0, 0.0, 0.0, 39062.0, 3110.0], SeriesKind::MarkedLine);
        let r = runs(&s, &chart);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].len(), r[1].len()), (1, 2));
    }

    #[test]
    fn tick_labels_are_round_and_never_in_e_notation() {
        let chart = Chart {
            log_x: true,
            x_seconds: true,
            log_y: true,
            series: vec![series("a", &[63.1, 158.0, 3160.0], SeriesKind::Line)],
            ..Chart::default()
        };
        let chart = Chart {
            series: vec![Series {
                points: [60.0, 300.0, 3600.0]
                    .iter()
                    .zip([63.1, 158.0, 3160.0])
                    .map(|(&x, y)| Point { x, y, err: 0.0 })
                    .collect(),
                ..chart.series[0].clone()
            }],
            ..chart
        };
        let out = svg(&chart);
        for label in ["60", "300", "3600", "100", "200", "500", "1000", "2000"] {
            assert!(out.contains(&format!("\n{label}\n")), "no tick {label}");
        }
        for bad in ["6.31e1", "1.58e2", "3.16e3", "e1\n", "e2\n", "e3\n"] {
            assert!(!out.contains(bad), "{bad} in the drawing");
        }
    }

    #[test]
    fn a_series_with_nothing_to_show_on_a_log_axis_says_so_in_the_legend() {
        let chart = Chart {
            log_y: true,
            series: vec![
                series("20 km", &[2.4e10, 2.4e10], SeriesKind::MarkedLine),
                series("140 km", &[0.0, 0.0], SeriesKind::MarkedLine),
            ],
            ..Chart::default()
        };
        assert!(svg(&chart).contains("140 km (no value"), "the legend does not say why 140 km is missing");
        let chart = Chart {
            log_y: true,
            series: vec![
                series("simulated", &[1e-3, 1e-4, 0.0], SeriesKind::Markers),
                series("analytic", &[1e-3, 1e-4, 0.0], SeriesKind::Line),
            ],
            ..Chart::default()
        };
        let out = svg(&chart);
        assert!(out.contains("simulated (1 point ≤ 0 not shown)"), "a dropped measured point is not counted");
        assert!(out.contains("\nanalytic\n"), "an analytic curve's end at 0 is counted");
    }
}
