//! Charts (plotters, PNG or SVG): sessions vs context, memory breakdown per chip, KV per token by
//! attention family. Text uses the DejaVu Sans font embedded in the binary, so no system font is
//! needed.

use crate::error::{Error, Result};
use crate::evaluate::Report;
use crate::units::to_gib;
use plotters::coord::Shift;
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

/// One line of a sessions-vs-context chart.
pub struct Series {
    pub label: String,
    /// (context tokens, sessions)
    pub points: Vec<(u64, u64)>,
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

fn sessions_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    series: &[Series],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let xs: Vec<u64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (lo, hi) = (
        *xs.iter().min().unwrap_or(&1) as f64,
        *xs.iter().max().unwrap_or(&2) as f64,
    );
    let ymax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (lo..hi.max(lo * 2.0))
                .log_scale()
                .with_key_points(xs.iter().map(|&x| x as f64).collect::<Vec<_>>()),
            0.0..ymax,
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("context length (tokens, log scale)")
        .y_desc("concurrent sessions")
        .x_label_formatter(&|v| crate::units::tokens_axis_label(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (x as f64, y as f64))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(3)))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
    }
    legend(&mut chart)?;
    root.present().map_err(err)
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
    Sessions {
        title: String,
        series: Vec<Series>,
    },
    Memory {
        title: String,
        bars: Vec<MemoryBar>,
    },
    Kv {
        title: String,
        bars: Vec<(String, f64)>,
    },
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    match chart {
        Chart::Sessions { title, series } => sessions_chart(root, title, series),
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
