//! Charts (plotters, PNG or SVG): a metric vs context (sessions, tokens/s, $/Mtok; linear or log
//! y), memory breakdown per chip, KV per token by attention family. PNG text is drawn with the
//! DejaVu Sans font embedded in the binary, so no system font is needed; SVG text stays text with
//! the generic CSS family `sans-serif`, which every SVG viewer resolves to a font it has.

use crate::error::{Error, Result};
use crate::evaluate::Report;
use crate::units::to_gib;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        // The font is embedded and known good; a failure would only leave text unrendered.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

/// One line of a chart over context length.
pub struct Series {
    pub label: String,
    /// (context tokens, value)
    pub points: Vec<(u64, f64)>,
}

/// A y axis scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    Linear,
    /// Logarithmic: values of zero or below are left out (they have no place on it).
    Log,
}

/// Dash patterns, one per round of the colour cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// Point markers, one per round of the colour cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

/// How line `i` is drawn: colour `i` of the eight, and once the colours repeat, the dash
/// pattern and marker of its round, so the first 32 lines all look different.
pub fn look(i: usize) -> (usize, Dash, Marker) {
    let round = i / COLORS.len();
    let dash = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::Dashed][round % 4];
    let marker = [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Cross,
    ][round % 4];
    (i % COLORS.len(), dash, marker)
}

/// One bar of a memory-breakdown chart (GiB per chip).
pub struct MemoryBar {
    pub label: String,
    pub weights: f64,
    pub overheads: f64,
    pub kv_used: f64,
    pub free: f64,
}

impl MemoryBar {
    /// The bar for an evaluated report: KV in use = whole sessions × their bytes.
    pub fn from_report(label: String, r: &Report) -> MemoryBar {
        let total = to_gib(r.total_memory_bytes_per_chip);
        let weights = to_gib(r.weights_bytes_per_chip);
        let overheads = to_gib(
            r.activation_bytes_per_chip + r.non_torch_bytes_per_chip + r.cuda_graph_bytes_per_chip,
        );
        let kv_used = to_gib(
            r.sessions_per_replica
                .saturating_mul(r.kv_bytes_per_session_per_chip),
        );
        MemoryBar {
            label,
            weights,
            overheads,
            kv_used,
            free: (total - weights - overheads - kv_used).max(0.0),
        }
    }
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Io {
        file: "plot".into(),
        reason: e.to_string(),
    }
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The legend box, top right.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

/// A short label for a y value: whole numbers with thousands separators from 100 up, else three
/// significant digits.
fn y_label(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        let n = crate::units::thousands(a.round() as u64);
        if v < 0.0 {
            format!("-{n}")
        } else {
            n
        }
    } else if a == 0.0 {
        "0".into()
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let t = format!("{v:.digits$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    }
}

/// The y range of a chart: from 0 (linear) or just under the smallest positive value (log) to
/// just over the largest.
fn y_range(series: &[Series], scale: Scale) -> (f64, f64) {
    let ys = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
    };
    let max = ys().fold(0.0, f64::max);
    match scale {
        Scale::Linear => (0.0, (max * 1.1).max(1e-9)),
        Scale::Log => {
            let min = ys().filter(|&y| y > 0.0).fold(f64::INFINITY, f64::min);
            if min.is_finite() {
                (min / 1.5, (max * 1.5).max(min * 2.0))
            } else {
                (0.1, 10.0)
            }
        }
    }
}

fn lines_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    series: &[Series],
    scale: Scale,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let mut xs: Vec<u64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    xs.sort_unstable();
    xs.dedup();
    let (lo, hi) = (
        *xs.first().unwrap_or(&1) as f64,
        *xs.last().unwrap_or(&2) as f64,
    );
    let (ylo, yhi) = y_range(series, scale);
    let x = (lo..hi.max(lo * 2.0))
        .log_scale()
        .with_key_points(xs.iter().map(|&x| x as f64).collect::<Vec<_>>());
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80);
    let y_desc = match scale {
        Scale::Linear => y_desc.to_string(),
        Scale::Log => format!("{y_desc} (log scale)"),
    };
    match scale {
        Scale::Linear => {
            let chart = builder.build_cartesian_2d(x, ylo..yhi).map_err(err)?;
            draw_lines(chart, &y_desc, series, scale)?
        }
        Scale::Log => {
            let chart = builder
                .build_cartesian_2d(x, (ylo..yhi).log_scale())
                .map_err(err)?;
            draw_lines(chart, &y_desc, series, scale)?
        }
    }
    root.present().map_err(err)
}

fn draw_lines<'a, DB: DrawingBackend + 'a, X, Y>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, Y>>,
    y_desc: &str,
    series: &[Series],
    scale: Scale,
) -> Result<()>
where
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("context length (tokens, log scale)")
        .y_desc(y_desc)
        .x_label_formatter(&|v| crate::units::tokens_axis_label(*v))
        .y_label_formatter(&|v| y_label(*v))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let (c, dash, marker) = look(i);
        let color = COLORS[c];
        let style = color.stroke_width(3);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (x as f64, y))
            .filter(|&(_, y)| y.is_finite() && (scale == Scale::Linear || y > 0.0))
            .collect();
        let drawn = match dash {
            Dash::Solid => chart.draw_series(LineSeries::new(pts.clone(), style)),
            Dash::Dashed => chart.draw_series(DashedLineSeries::new(pts.clone(), 12, 6, style)),
            Dash::Dotted => chart.draw_series(DashedLineSeries::new(pts.clone(), 3, 5, style)),
        }
        .map_err(err)?;
        drawn.label(s.label.clone()).legend(move |at| {
            EmptyElement::at(at) + legend_line(dash, style) + marker_shape((12, 0), marker, color)
        });
        for &p in &pts {
            chart
                .plotting_area()
                .draw(&(EmptyElement::at(p) + marker_shape((0, 0), marker, color)))
                .map_err(err)?;
        }
    }
    legend(&mut chart)
}

/// The legend's sample of a line, 24 pixels long from its anchor.
fn legend_line<DB: DrawingBackend>(
    dash: Dash,
    style: ShapeStyle,
) -> DynElement<'static, DB, (i32, i32)> {
    let path = vec![(0, 0), (24, 0)];
    match dash {
        Dash::Solid => PathElement::new(path, style).into_dyn(),
        Dash::Dashed => DashedPathElement::new(path, 8, 4, style).into_dyn(),
        Dash::Dotted => DashedPathElement::new(path, 3, 4, style).into_dyn(),
    }
}

/// A marker centred `at` pixels from its anchor.
fn marker_shape<DB: DrawingBackend>(
    at: (i32, i32),
    marker: Marker,
    color: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    let (x, y) = at;
    match marker {
        Marker::Circle => Circle::new((x, y), 4, color.filled()).into_dyn(),
        Marker::Triangle => Polygon::new(
            vec![(x, y - 5), (x - 5, y + 4), (x + 5, y + 4)],
            color.filled(),
        )
        .into_dyn(),
        Marker::Square => {
            Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], color.filled()).into_dyn()
        }
        Marker::Cross => PathElement::new(
            vec![
                (x - 5, y - 5),
                (x + 5, y + 5),
                (x, y),
                (x - 5, y + 5),
                (x + 5, y - 5),
            ],
            color.stroke_width(2),
        )
        .into_dyn(),
    }
}

fn bar_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    labels: &[String],
    stacks: &[(&str, Vec<f64>)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let n = labels.len().max(1);
    let ymax = (0..n)
        .map(|i| {
            stacks
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..n as f64, 0.0..ymax.max(1e-9))
        .map_err(err)?;
    let names = labels.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 0.01 && i < names.len() {
                names[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .y_label_formatter(&|v| {
            if *v >= 10_000.0 {
                crate::units::thousands(*v as u64)
            } else {
                format!("{v:.0}")
            }
        })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let mut base = vec![0.0; n];
    for (k, (name, values)) in stacks.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = (0..n)
            .map(|i| {
                let v = values.get(i).copied().unwrap_or(0.0);
                let r = Rectangle::new(
                    [(i as f64 + 0.15, base[i]), (i as f64 + 0.85, base[i] + v)],
                    color.filled(),
                );
                base[i] += v;
                r
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(name.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    if stacks.len() > 1 {
        legend(&mut chart)?;
    }
    root.present().map_err(err)
}

/// What to draw.
pub enum Chart {
    /// A metric over context length, one line per series.
    Lines {
        title: String,
        y_desc: String,
        series: Vec<Series>,
        scale: Scale,
    },
    Memory {
        title: String,
        bars: Vec<MemoryBar>,
    },
    Kv {
        title: String,
        bars: Vec<(String, f64)>,
    },
    /// A simulation over time: KV in use (% of the pool) above, requests running and waiting
    /// below; points are (seconds, value).
    Timeline {
        title: String,
        kv_percent: Vec<(f64, f64)>,
        running: Vec<(f64, f64)>,
        waiting: Vec<(f64, f64)>,
    },
}

fn timeline_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    kv: &[(f64, f64)],
    lines: [(&str, &[(f64, f64)]); 2],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
    let t_end = kv
        .iter()
        .chain(lines[0].1)
        .chain(lines[1].1)
        .map(|p| p.0)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut chart = ChartBuilder::on(&top)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_end, 0.0..105.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("KV in use (% of pool)")
        .y_label_formatter(&|v| y_label(*v))
        .x_label_formatter(&|v| y_label(*v))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    chart
        // One-pixel lines: wider ones grow miter spikes at the series' sharp turns.
        .draw_series(LineSeries::new(
            kv.iter().copied(),
            COLORS[0].stroke_width(1),
        ))
        .map_err(err)?;
    let top_y = lines
        .iter()
        .flat_map(|l| l.1.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_end, 0.0..top_y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("requests")
        .y_label_formatter(&|v| y_label(*v))
        .x_label_formatter(&|v| y_label(*v))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for (i, (label, pts)) in lines.iter().enumerate() {
        let color = COLORS[i + 1];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(1)))
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    legend(&mut chart)?;
    root.present().map_err(err)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    match chart {
        Chart::Lines {
            title,
            y_desc,
            series,
            scale,
        } => lines_chart(root, title, y_desc, series, *scale),
        Chart::Memory { title, bars } => {
            let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
            let stacks = [
                ("weights", bars.iter().map(|b| b.weights).collect()),
                (
                    "activation + runtime",
                    bars.iter().map(|b| b.overheads).collect(),
                ),
                ("KV cache in use", bars.iter().map(|b| b.kv_used).collect()),
                ("free", bars.iter().map(|b| b.free).collect()),
            ];
            bar_chart(root, title, "memory per chip (GiB)", &labels, &stacks)
        }
        Chart::Timeline {
            title,
            kv_percent,
            running,
            waiting,
        } => timeline_chart(
            root,
            title,
            kv_percent,
            [("running", running), ("waiting", waiting)],
        ),
        Chart::Kv { title, bars } => {
            let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
            let stacks = [("KV bytes per token", bars.iter().map(|b| b.1).collect())];
            bar_chart(root, title, "KV bytes per token (B)", &labels, &stacks)
        }
    }
}

/// Draws `chart` to `path` (.png or .svg) at `width` × `height` pixels.
pub fn render(chart: &Chart, path: &str, width: u32, height: u32) -> Result<()> {
    register_font();
    if !(64..=10_000).contains(&width) || !(64..=10_000).contains(&height) {
        return Err(Error::field(
            "command line",
            "--width/--height",
            format!("{width}×{height}"),
            "64 to 10000 pixels",
        ));
    }
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".svg") {
        draw(
            SVGBackend::new(path, (width, height)).into_drawing_area(),
            chart,
        )
    } else if lower.ends_with(".png") {
        draw(
            BitMapBackend::new(path, (width, height)).into_drawing_area(),
            chart,
        )
    } else {
        Err(Error::field(
            "command line",
            "--output",
            path,
            "a file name ending in .png or .svg",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first 32 lines differ in colour, dash or marker; colours repeat only with a new look.
    #[test]
    fn lines_look_different_when_colours_repeat() {
        let looks: Vec<_> = (0..32).map(look).collect();
        for (i, a) in looks.iter().enumerate() {
            assert!(looks[..i].iter().all(|b| b != a), "line {i}");
        }
        assert_eq!(look(0), (0, Dash::Solid, Marker::Circle));
        assert_eq!(look(8), (0, Dash::Dashed, Marker::Triangle));
        assert_eq!(look(17), (1, Dash::Dotted, Marker::Square));
    }

    #[test]
    fn y_labels() {
        assert_eq!(y_label(0.0), "0");
        assert_eq!(y_label(1500.0), "1,500");
        assert_eq!(y_label(100.0), "100");
        assert_eq!(y_label(12.5), "12.5");
        assert_eq!(y_label(2.0), "2");
        assert_eq!(y_label(0.125), "0.125");
        assert_eq!(y_label(0.0041), "0.0041");
    }

    #[test]
    fn log_range_skips_zero() {
        let s = [Series {
            label: "a".into(),
            points: vec![(1024, 0.0), (2048, 4.0), (4096, 100.0)],
        }];
        let (lo, hi) = y_range(&s, Scale::Log);
        assert!((lo - 4.0 / 1.5).abs() < 1e-9 && (hi - 150.0).abs() < 1e-9);
        assert_eq!(y_range(&s, Scale::Linear), (0.0, 110.00000000000001));
    }

    // SVG text is text (not paths) with a generic family any viewer has, whatever fonts the
    // machine that reads it holds; the title and labels are there to read.
    #[test]
    fn svg_text_needs_no_embedded_font() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        let series: Vec<Series> = (0..10)
            .map(|i| Series {
                label: format!("line {i}"),
                points: vec![(4096, 1.0 + i as f64), (8192, 0.5 + i as f64)],
            })
            .collect();
        let chart = Chart::Lines {
            title: "Title & <what> varies".into(),
            y_desc: "sessions".into(),
            series,
            scale: Scale::Log,
        };
        render(&chart, path.to_str().unwrap(), 800, 500).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let texts: Vec<&str> = svg.match_indices("<text").map(|(i, _)| &svg[i..]).collect();
        assert!(texts.len() > 10, "{}", texts.len());
        for t in &texts {
            let tag = &t[..t.find('>').unwrap()];
            assert!(tag.contains("font-family=\"sans-serif\""), "{tag}");
        }
        assert!(
            svg.contains("Title &amp; &lt;what&gt; varies"),
            "title escaped as text"
        );
        assert!(svg.contains("line 9") && svg.contains("(log scale)"));
        // Lines 8 and 9 reuse the first colours, dashed.
        assert!(
            svg.matches("stroke-dasharray").count() > 0 || svg.matches("<polyline").count() > 10
        );
    }
}
