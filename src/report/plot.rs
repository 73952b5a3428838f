//! Figures for papers: line plots written as SVG, PNG and CSV (the data, for pgfplots or
//! matplotlib), and shown inline in evcxr notebooks.
//!
//! Rendering is deterministic and needs no system font: the DejaVu Sans font is compiled in and
//! registered with plotters before the first drawing, so a figure renders to the same bytes on
//! every machine. Each series gets its own colour *and* its own marker shape (and dashed series
//! their own dash pattern), so that curves stay distinct when printed in grayscale. Logarithmic
//! axes drop the points they cannot show (zero, negative, NaN, infinite) instead of failing, and
//! label their decades `1e-60`, `1e-30`, ….
//!
//! ```
//! use linflow::report::{Figure, Series, Style};
//! let fig = Figure::new("decay", "Balancedness", "step", "|C|")
//!     .log_y()
//!     .with(Series::line("GD", (0..50).map(|k| (k as f64, 0.5f64.powi(k))).collect()))
//!     .with(Series::line("bound", (0..50).map(|k| (k as f64, 0.6f64.powi(k))).collect()).styled(Style::Dashed));
//! let svg = fig.to_svg().unwrap();
//! assert!(svg.contains("Balancedness") && svg.contains("bound"));
//! let png = fig.to_png().unwrap();
//! assert_eq!(&png[1..4], b"PNG");
//! ```

use crate::error::{Error, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Width in pixels of a rendered figure (PNG and SVG).
pub const WIDTH: u32 = 800;
/// Height in pixels of a rendered figure.
pub const HEIGHT: u32 = 560;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Style {
    /// A line.
    #[default]
    Line,
    /// Markers only.
    Points,
    /// A line with markers.
    LinePoints,
    /// A dashed line (closed forms and references).
    Dashed,
}

/// One labelled series of `(x, y)` points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
}

impl Series {
    /// A line series.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, style: Style::Line }
    }
    /// A series drawn as markers only.
    pub fn points(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, style: Style::Points }
    }
    /// Sets the style.
    pub fn styled(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
    /// The same series with `y` replaced by `|y|` (for log plots of signed deviations).
    pub fn abs(mut self) -> Self {
        for p in &mut self.points {
            p.1 = p.1.abs();
        }
        self
    }
}

/// A 2-D figure with labelled axes, optional log scales and a legend.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Figure {
    /// File stem (`name.svg`, `name.png`, `name.csv`).
    pub name: String,
    /// Title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The data.
    pub series: Vec<Series>,
    /// Explicit x range `(lo, hi)` in data units (`None`: fitted to the data).
    #[serde(default)]
    pub x_range: Option<(f64, f64)>,
    /// Explicit y range `(lo, hi)` in data units (`None`: fitted to the data).
    #[serde(default)]
    pub y_range: Option<(f64, f64)>,
}

impl Figure {
    /// An empty figure.
    pub fn new(
        name: impl Into<String>,
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            series: Vec::new(),
            x_range: None,
            y_range: None,
        }
    }
    /// Logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }
    /// Logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }
    /// Fixes the x range (data units; both ends must be positive on a log axis).
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }
    /// Fixes the y range (data units; both ends must be positive on a log axis).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
    /// Adds a series.
    pub fn with(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// The data in long CSV form: `series,x,y`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("series,x,y\n");
        for ser in &self.series {
            let label = ser.label.replace('"', "'");
            for (x, y) in &ser.points {
                s.push_str(&format!("\"{label}\",{x:e},{y:e}\n"));
            }
        }
        s
    }

    /// The figure as an SVG document of [`WIDTH`]×[`HEIGHT`] pixels.
    pub fn to_svg(&self) -> Result<String> {
        render_svg(std::slice::from_ref(self), 1)
    }

    /// The figure as PNG bytes, [`WIDTH`]×[`HEIGHT`] pixels.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        render_png(std::slice::from_ref(self), 1)
    }

    /// Writes `dir/name.csv`, `dir/name.svg` and `dir/name.png`, each atomically; returns the
    /// paths written.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        check_name(&self.name)?;
        save_all(dir, &self.name, &self.to_csv(), self.to_svg()?, self.to_png()?)
    }

    /// Shows the figure inline in an evcxr notebook (prints it as `image/svg+xml` rich output).
    /// evcxr calls this method when a cell's value is a `Figure`.
    pub fn evcxr_display(&self) {
        evcxr_print(self.to_svg());
    }

    /// What [`Figure::evcxr_display`] prints: the SVG between evcxr's rich-output markers (or a
    /// plain-text message when the figure cannot be drawn).
    pub fn evcxr_content(&self) -> String {
        evcxr_content(self.to_svg())
    }
}

/// Several figures side by side in a grid, rendered as one image (each panel keeps its own axes
/// and legend).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Panels {
    /// File stem.
    pub name: String,
    /// The panels, row by row.
    pub figures: Vec<Figure>,
    /// Panels per row (at least 1).
    pub cols: usize,
}

impl Panels {
    /// Panels `figures` in rows of `cols`.
    pub fn new(name: impl Into<String>, figures: Vec<Figure>, cols: usize) -> Self {
        Panels { name: name.into(), figures, cols: cols.max(1) }
    }
    /// The data of every panel: `panel,series,x,y`.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("panel,series,x,y\n");
        for f in &self.figures {
            for line in f.to_csv().lines().skip(1) {
                s.push_str(&format!("\"{}\",{line}\n", f.name.replace('"', "'")));
            }
        }
        s
    }
    /// SVG of the grid (each panel [`WIDTH`]×[`HEIGHT`]).
    pub fn to_svg(&self) -> Result<String> {
        render_svg(&self.figures, self.cols)
    }
    /// PNG of the grid.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        render_png(&self.figures, self.cols)
    }
    /// Writes `dir/name.{csv,svg,png}` atomically; returns the paths.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        check_name(&self.name)?;
        save_all(dir, &self.name, &self.to_csv(), self.to_svg()?, self.to_png()?)
    }
    /// Shows the grid inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_print(self.to_svg());
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Error::invalid("figure name", format!("must be a plain file stem, got `{name}`")));
    }
    Ok(())
}

fn save_all(dir: &Path, name: &str, csv: &str, svg: String, png: Vec<u8>) -> Result<Vec<PathBuf>> {
    let paths = [dir.join(format!("{name}.csv")), dir.join(format!("{name}.svg")), dir.join(format!("{name}.png"))];
    super::write_atomic(&paths[0], csv.as_bytes())?;
    super::write_atomic(&paths[1], svg.as_bytes())?;
    super::write_atomic(&paths[2], &png)?;
    Ok(paths.to_vec())
}

fn evcxr_print(svg: Result<String>) {
    println!("{}", evcxr_content(svg));
}

fn evcxr_content(svg: Result<String>) -> String {
    match svg {
        Ok(svg) => format!("EVCXR_BEGIN_CONTENT image/svg+xml\n{svg}\nEVCXR_END_CONTENT"),
        Err(e) => format!("EVCXR_BEGIN_CONTENT text/plain\nfigure could not be drawn: {e}\nEVCXR_END_CONTENT"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

const FONT: &str = "sans-serif";
const TITLE_SIZE: f64 = 24.0;
const DESC_SIZE: f64 = 21.0;
const TICK_SIZE: f64 = 18.0;
const LEGEND_SIZE: f64 = 18.0;
const LINE_WIDTH: u32 = 2;
const MARKER_R: i32 = 5;
const MARKER_SPACING: f64 = 90.0;

/// Colours (Okabe–Ito, colour-blind safe), cycled by series index.
const COLORS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(0, 0, 0),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Dash patterns (on, off, on, off, … in multiples of the line width) for dashed series.
const DASHES: [&[f64]; 4] = [&[6.0, 4.0], &[1.5, 3.0], &[8.0, 3.0, 1.5, 3.0], &[12.0, 6.0]];

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    OpenCircle,
    OpenSquare,
    OpenTriangle,
    Cross,
}

const MARKERS: [Marker; 8] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::OpenCircle,
    Marker::OpenSquare,
    Marker::OpenTriangle,
    Marker::Cross,
];

static FONTS: Once = Once::new();

/// Registers the bundled DejaVu Sans as plotters' `sans-serif` (once per process).
fn ensure_font() {
    FONTS.call_once(|| {
        // The bytes are a valid TrueType font compiled into the binary; registration cannot fail
        // for them, and a failure would surface as a drawing error, not a panic.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn draw_err(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("drawing a figure: {e}"))
}

fn grid_size(n: usize, cols: usize) -> (u32, u32, usize, usize) {
    let cols = cols.max(1).min(n.max(1));
    let rows = n.max(1).div_ceil(cols);
    (WIDTH * cols as u32, HEIGHT * rows as u32, rows, cols)
}

fn render_svg(figs: &[Figure], cols: usize) -> Result<String> {
    ensure_font();
    let (w, h, rows, cols) = grid_size(figs.len(), cols);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        draw_grid(&root, figs, rows, cols)?;
        root.present().map_err(draw_err)?;
    }
    // Name the bundled font first so that viewers with DejaVu Sans show exactly the PNG's glyphs.
    Ok(s.trim_end().replace("font-family=\"sans-serif\"", "font-family=\"DejaVu Sans, sans-serif\""))
}

fn render_png(figs: &[Figure], cols: usize) -> Result<Vec<u8>> {
    ensure_font();
    let (w, h, rows, cols) = grid_size(figs.len(), cols);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw_grid(&root, figs, rows, cols)?;
        root.present().map_err(draw_err)?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| draw_err("bitmap buffer size"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(draw_err)?;
    Ok(out.into_inner())
}

fn draw_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figs: &[Figure],
    rows: usize,
    cols: usize,
) -> Result<()> {
    root.fill(&WHITE).map_err(draw_err)?;
    let areas = root.split_evenly((rows, cols));
    for (fig, area) in figs.iter().zip(areas.iter()) {
        draw_figure(root, area, fig)?;
    }
    Ok(())
}

/// One axis in plot coordinates (`log10` of the data on a log axis).
#[derive(Clone, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
    labels: Vec<String>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        (limit.0 as f64 + t * (limit.1 - limit.0) as f64).round() as i32
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return vec![];
        }
        if hint.weight().allow_light_points() && hint.max_num_points() > hint.bold_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl Axis {
    fn label(&self, v: f64) -> String {
        self.major
            .iter()
            .position(|m| (m - v).abs() <= 1e-9 * (self.hi - self.lo))
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }
}

/// A value on an axis in plot coordinates, `None` when it cannot be shown.
fn transform(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10()).filter(|l| l.is_finite())
    } else {
        Some(v)
    }
}

fn nice_step(raw: f64) -> f64 {
    let e = raw.log10().floor();
    let base = 10f64.powf(e);
    let m = raw / base;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 2.5 {
        2.5
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

fn clean_zero(s: String) -> String {
    let t = s.trim_start_matches('-');
    if t.chars().all(|c| c == '0' || c == '.') {
        t.to_string()
    } else {
        s
    }
}

fn linear_axis(mut lo: f64, mut hi: f64, explicit: bool) -> Axis {
    let span = hi - lo;
    let scale = lo.abs().max(hi.abs());
    if span <= 1e-12 * scale || span <= f64::MIN_POSITIVE {
        let c = 0.5 * (lo + hi);
        let half = if c != 0.0 { 0.05 * c.abs() } else { 1.0 };
        lo = c - half;
        hi = c + half;
    } else if !explicit {
        lo -= 0.04 * span;
        hi += 0.04 * span;
    }
    let step = nice_step((hi - lo) / 6.0);
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    let major: Vec<f64> = (k0..=k1).map(|k| k as f64 * step).collect();
    let minor: Vec<f64> = (2 * k0 - 1..=2 * k1 + 1)
        .filter(|k| k % 2 != 0)
        .map(|k| k as f64 * step / 2.0)
        .filter(|v| *v >= lo && *v <= hi)
        .collect();
    let maxabs = major.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let sci = maxabs >= 1e5 || (maxabs > 0.0 && maxabs < 1e-3);
    let labels = major
        .iter()
        .map(|&v| {
            if sci {
                let digits = (maxabs.log10().floor() - step.log10().floor()).max(0.0) as usize
                    + usize::from((step / 10f64.powf(step.log10().floor()) - 2.5).abs() < 1e-9);
                if v == 0.0 {
                    "0".to_string()
                } else {
                    format!("{v:.digits$e}")
                }
            } else {
                let dec = (-(step.log10().floor())).max(0.0) as usize
                    + usize::from((step / 10f64.powf(step.log10().floor()) - 2.5).abs() < 1e-9);
                clean_zero(format!("{v:.dec$}"))
            }
        })
        .collect();
    Axis { lo, hi, major, minor, labels }
}

/// Decades between labelled ticks so that `n_dec` decades get at most about 8 labels.
fn decade_spacing(n_dec: i64) -> i64 {
    [1i64, 2, 3, 4, 5, 10, 20, 25, 50, 100, 200, 500, 1000].into_iter().find(|k| n_dec / k <= 7).unwrap_or(1000)
}

/// A log axis from `lo` to `hi` decades (`log10` units).
fn log_axis(mut lo: f64, mut hi: f64, explicit: bool) -> Axis {
    if hi - lo < 1e-9 {
        lo -= 0.5;
        hi += 0.5;
    } else if !explicit {
        if hi - lo >= 1.0 {
            lo = (lo + 1e-9).floor();
            hi = (hi - 1e-9).ceil();
            // Many decades: end the axis on labelled decades (multiples of the label spacing).
            let k = decade_spacing((hi - lo) as i64 + 1) as f64;
            if k > 1.0 {
                lo = (lo / k).floor() * k;
                hi = (hi / k).ceil() * k;
            }
        } else {
            let pad = 0.05 * (hi - lo);
            lo -= pad;
            hi += pad;
        }
    }
    let d0 = (lo - 1e-9).ceil() as i64;
    let d1 = (hi + 1e-9).floor() as i64;
    let n_dec = (d1 - d0 + 1).max(0);
    let inside = |v: &f64| *v >= lo - 1e-9 && *v <= hi + 1e-9;
    let mut major: Vec<f64>;
    let mut minor: Vec<f64> = Vec::new();
    if n_dec >= 2 {
        let k = decade_spacing(n_dec);
        major = (d0..=d1).filter(|d| d.rem_euclid(k) == 0).map(|d| d as f64).collect();
        if k == 1 {
            for d in d0 - 1..=d1 {
                for m in 2..=9 {
                    minor.push(d as f64 + (m as f64).log10());
                }
            }
            if n_dec <= 2 {
                let extra: Vec<f64> = minor
                    .iter()
                    .copied()
                    .filter(|v| [2f64, 5.0].iter().any(|m| (v.fract().rem_euclid(1.0) - m.log10()).abs() < 1e-9))
                    .collect();
                major.extend(extra);
                major.sort_by(f64::total_cmp);
            }
        } else if n_dec <= 30 {
            minor = (d0..=d1).map(|d| d as f64).collect();
        }
    } else {
        // Less than two decade lines: ticks at 1, 2, 5 (or every mantissa) times a power of ten.
        let cands = |ms: &[f64]| -> Vec<f64> {
            (d0 - 1..=d1 + 1).flat_map(|d| ms.iter().map(move |m| d as f64 + m.log10())).filter(inside).collect()
        };
        major = cands(&[1.0, 2.0, 5.0]);
        if major.len() < 3 {
            major = cands(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        }
        if major.len() < 2 {
            // Within one mantissa step: label the log axis with round linear values.
            let lin = linear_axis(10f64.powf(lo), 10f64.powf(hi), true);
            let (major, labels): (Vec<f64>, Vec<String>) = lin
                .major
                .iter()
                .zip(lin.labels)
                .filter(|(v, _)| **v > 0.0 && inside(&v.log10()))
                .map(|(v, l)| (v.log10(), l))
                .unzip();
            return Axis { lo, hi, major, minor: Vec::new(), labels };
        }
    }
    major.retain(inside);
    minor.retain(|v| inside(v) && !major.iter().any(|m| (m - v).abs() < 1e-9));
    let parts: Vec<(f64, i64)> = major
        .iter()
        .map(|&v| {
            let e = (v + 1e-9).floor();
            (10f64.powf(v - e), e as i64)
        })
        .collect();
    let plain = parts.iter().all(|&(_, e)| (-3..=3).contains(&e));
    let labels = parts
        .iter()
        .map(|&(m, e)| {
            let mant = if (m - m.round()).abs() < 1e-6 { format!("{}", m.round() as i64) } else { format!("{m:.2}") };
            if plain {
                let v = m * 10f64.powi(e as i32);
                let dec = if (m - m.round()).abs() < 1e-6 { (-e).max(0) as usize } else { (2 - e).max(0) as usize };
                clean_zero(format!("{v:.dec$}"))
            } else {
                format!("{mant}e{e}")
            }
        })
        .collect();
    Axis { lo, hi, major, minor, labels }
}

fn make_axis(values: impl Iterator<Item = f64>, log: bool, explicit: Option<(f64, f64)>, which: &str) -> Result<Axis> {
    if let Some((a, b)) = explicit {
        let (ta, tb) = (transform(a, log), transform(b, log));
        match (ta, tb) {
            (Some(ta), Some(tb)) if ta < tb => {
                return Ok(if log { log_axis(ta, tb, true) } else { linear_axis(ta, tb, true) });
            }
            _ => {
                return Err(Error::invalid(
                    which,
                    format!(
                        "expected finite lo < hi{}, got ({a}, {b})",
                        if log { " with lo > 0 on a log axis" } else { "" }
                    ),
                ))
            }
        }
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    Ok(if log { log_axis(lo, hi, false) } else { linear_axis(lo, hi, false) })
}

type Pt = (f64, f64);

/// Clips the segment `p→q` to the box; returns the clipped ends and whether each end was moved.
fn clip(p: Pt, q: Pt, bx: (f64, f64, f64, f64)) -> Option<(Pt, Pt, bool, bool)> {
    let (x0, x1, y0, y1) = bx;
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [(-dx, p.0 - x0), (dx, x1 - p.0), (-dy, p.1 - y0), (dy, y1 - p.1)] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (p.0 + t * dx, p.1 + t * dy);
    Some((at(t0), at(t1), t0 > 0.0, t1 < 1.0))
}

/// The drawable pieces of a series in plot coordinates: polylines broken where a point cannot be
/// shown (non-finite, or ≤ 0 on a log axis) and where the curve leaves the axis box.
fn pieces(points: &[(f64, f64)], log_x: bool, log_y: bool, bx: (f64, f64, f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<(f64, f64)> = None;
    let inside = |p: (f64, f64)| p.0 >= bx.0 && p.0 <= bx.1 && p.1 >= bx.2 && p.1 <= bx.3;
    for &(x, y) in points {
        let t = transform(x, log_x).zip(transform(y, log_y));
        match (prev, t) {
            (Some(p), Some(q)) => {
                if let Some((a, b, ca, cb)) = clip(p, q, bx) {
                    if ca || cur.is_empty() {
                        if cur.len() > 1 {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.clear();
                        cur.push(a);
                    }
                    cur.push(b);
                    if cb {
                        out.push(std::mem::take(&mut cur));
                    }
                } else if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, Some(q)) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if inside(q) {
                    cur.push(q);
                }
            }
            (_, None) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
        prev = t;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Drops points that land on the same pixel column, keeping each column's first, lowest,
/// highest and last point in order (the drawn envelope is unchanged).
fn thin(px: Vec<(i32, i32)>) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(px.len().min(4096));
    let mut i = 0;
    while i < px.len() {
        let mut j = i;
        while j + 1 < px.len() && px[j + 1].0 == px[i].0 {
            j += 1;
        }
        let run = &px[i..=j];
        let lo = (0..run.len()).min_by_key(|&k| run[k].1).unwrap_or(0);
        let hi = (0..run.len()).max_by_key(|&k| run[k].1).unwrap_or(0);
        let mut idx = vec![0, lo, hi, run.len() - 1];
        idx.sort_unstable();
        idx.dedup();
        for k in idx {
            if out.last() != Some(&run[k]) {
                out.push(run[k]);
            }
        }
        i = j + 1;
    }
    out
}

/// Splits a pixel polyline into the "on" pieces of a dash pattern.
fn dash(px: &[(i32, i32)], pattern: &[f64]) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    if px.len() < 2 || pattern.is_empty() {
        return out;
    }
    let (mut k, mut left, mut on) = (0usize, pattern[0], true);
    let mut cur = vec![px[0]];
    for w in px.windows(2) {
        let (a, b) = ((w[0].0 as f64, w[0].1 as f64), (w[1].0 as f64, w[1].1 as f64));
        let d = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut pos = 0.0;
        while d - pos > left {
            pos += left;
            let t = pos / d;
            let p = ((a.0 + t * (b.0 - a.0)).round() as i32, (a.1 + t * (b.1 - a.1)).round() as i32);
            if on {
                cur.push(p);
                out.push(std::mem::take(&mut cur));
            } else {
                cur = vec![p];
            }
            on = !on;
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= d - pos;
        if on {
            cur.push(w[1]);
        }
    }
    if on && cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// Points every `spacing` pixels along a pixel polyline, starting `offset` pixels in.
fn along(px: &[(i32, i32)], offset: f64, spacing: f64) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let mut next = offset;
    let mut walked = 0.0;
    for w in px.windows(2) {
        let (a, b) = ((w[0].0 as f64, w[0].1 as f64), (w[1].0 as f64, w[1].1 as f64));
        let d = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        while next <= walked + d {
            let t = if d > 0.0 { (next - walked) / d } else { 0.0 };
            out.push(((a.0 + t * (b.0 - a.0)).round() as i32, (a.1 + t * (b.1 - a.1)).round() as i32));
            next += spacing;
        }
        walked += d;
    }
    out
}

fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: Marker,
    c: (i32, i32),
    color: RGBColor,
) -> Result<()> {
    let r = MARKER_R;
    let fill = ShapeStyle { color: color.to_rgba(), filled: true, stroke_width: 1 };
    let line = ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: 2 };
    let tri = vec![(c.0, c.1 - r - 1), (c.0 + r + 1, c.1 + r), (c.0 - r - 1, c.1 + r)];
    let sq = vec![(c.0 - r, c.1 - r), (c.0 + r, c.1 - r), (c.0 + r, c.1 + r), (c.0 - r, c.1 + r)];
    let res = match m {
        Marker::Circle => root.draw(&Circle::new(c, r, fill)),
        Marker::OpenCircle => root.draw(&Circle::new(c, r, line)),
        Marker::Square => root.draw(&Polygon::new(sq, fill)),
        Marker::OpenSquare => {
            let mut p = sq;
            p.push(p[0]);
            root.draw(&PathElement::new(p, line))
        }
        Marker::Triangle => root.draw(&Polygon::new(tri, fill)),
        Marker::OpenTriangle => {
            let mut p = tri;
            p.push(p[0]);
            root.draw(&PathElement::new(p, line))
        }
        Marker::Diamond => {
            let q = r + 1;
            root.draw(&Polygon::new(vec![(c.0, c.1 - q), (c.0 + q, c.1), (c.0, c.1 + q), (c.0 - q, c.1)], fill))
        }
        Marker::Cross => root
            .draw(&PathElement::new(vec![(c.0 - r, c.1 - r), (c.0 + r, c.1 + r)], line))
            .and_then(|_| root.draw(&PathElement::new(vec![(c.0 - r, c.1 + r), (c.0 + r, c.1 - r)], line))),
    };
    res.map_err(draw_err)
}

/// How series `i` is drawn: colour, dash pattern (`None`: solid, or no line for points),
/// marker, whether markers go on every point.
struct Look {
    color: RGBColor,
    line: bool,
    dashes: Option<Vec<f64>>,
    marker: Option<Marker>,
    every_point: bool,
}

fn looks(series: &[Series]) -> Vec<Look> {
    let many = series.len() > 1;
    let mut n_dashed = 0;
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let color = COLORS[i % COLORS.len()];
            let marker = MARKERS[i % MARKERS.len()];
            match s.style {
                Style::Line => {
                    Look { color, line: true, dashes: None, marker: many.then_some(marker), every_point: false }
                }
                Style::Dashed => {
                    let pat = DASHES[n_dashed % DASHES.len()].iter().map(|v| v * LINE_WIDTH as f64).collect();
                    n_dashed += 1;
                    Look { color, line: true, dashes: Some(pat), marker: many.then_some(marker), every_point: false }
                }
                Style::Points => Look { color, line: false, dashes: None, marker: Some(marker), every_point: true },
                Style::LinePoints => {
                    Look { color, line: true, dashes: None, marker: Some(marker), every_point: s.points.len() <= 60 }
                }
            }
        })
        .collect()
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> Result<()> {
    // Axes: fitted to every point that can be shown (within an explicit x range, if given).
    let xs = fig.series.iter().flat_map(|s| s.points.iter()).filter_map(|p| transform(p.0, fig.log_x));
    let xa = make_axis(xs, fig.log_x, fig.x_range, "x_range")?;
    let ys = fig
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| transform(p.0, fig.log_x).is_some_and(|x| x >= xa.lo && x <= xa.hi))
        .filter_map(|p| transform(p.1, fig.log_y));
    let ya = make_axis(ys, fig.log_y, fig.y_range, "y_range")?;

    let tick_font = TextStyle::from((FONT, TICK_SIZE).into_font());
    let y_tick_w = ya
        .labels
        .iter()
        .map(|l| area.estimate_text_size(l, &tick_font).map(|s| s.0).unwrap_or(8 * l.len() as u32))
        .max()
        .unwrap_or(20);
    let mut builder = ChartBuilder::on(area);
    builder.margin(14).margin_right(28).x_label_area_size(56).y_label_area_size(y_tick_w + 48);
    if !fig.title.is_empty() {
        builder.caption(&fig.title, (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold));
    }
    let mut chart = builder.build_cartesian_2d(xa.clone(), ya.clone()).map_err(draw_err)?;
    let (fx, fy) = (|v: &f64| xa.label(*v), |v: &f64| ya.label(*v));
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .axis_desc_style((FONT, DESC_SIZE))
        .label_style((FONT, TICK_SIZE))
        .x_labels(1000)
        .y_labels(1000)
        .max_light_lines(100)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .bold_line_style(RGBColor(205, 205, 205).stroke_width(1))
        .light_line_style(RGBColor(238, 238, 238).stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()
        .map_err(draw_err)?;

    // Series, in pixel coordinates of the root area.
    let bx = (xa.lo, xa.hi, ya.lo, ya.hi);
    let looks = looks(&fig.series);
    let n = fig.series.len().max(1) as f64;
    let mut occupied: Vec<(i32, i32)> = Vec::new();
    for (i, (s, look)) in fig.series.iter().zip(&looks).enumerate() {
        let style = ShapeStyle { color: look.color.to_rgba(), filled: false, stroke_width: LINE_WIDTH };
        let polys: Vec<Vec<(i32, i32)>> = pieces(&s.points, fig.log_x, fig.log_y, bx)
            .into_iter()
            .map(|pl| thin(pl.iter().map(|p| chart.backend_coord(p)).collect()))
            .collect();
        for px in &polys {
            occupied.extend(px.first().copied());
            occupied.extend(along(px, 0.0, 6.0));
            if look.line && px.len() > 1 {
                match &look.dashes {
                    None => root.draw(&PathElement::new(px.clone(), style)).map_err(draw_err)?,
                    Some(pat) => {
                        for d in dash(px, pat) {
                            root.draw(&PathElement::new(d, style)).map_err(draw_err)?;
                        }
                    }
                }
            }
            if let Some(m) = look.marker {
                let at = if look.every_point || px.len() == 1 {
                    let mut v = px.clone();
                    v.dedup_by(|a, b| (a.0 - b.0).abs() + (a.1 - b.1).abs() < 3);
                    v
                } else {
                    along(px, 14.0 + MARKER_SPACING * i as f64 / n, MARKER_SPACING)
                };
                for c in at {
                    draw_marker(root, m, c, look.color)?;
                }
            }
        }
    }
    draw_legend(root, &chart.plotting_area().get_pixel_range(), fig, &looks, &occupied)
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &(std::ops::Range<i32>, std::ops::Range<i32>),
    fig: &Figure,
    looks: &[Look],
    occupied: &[(i32, i32)],
) -> Result<()> {
    let entries: Vec<(&Series, &Look)> = fig.series.iter().zip(looks).filter(|(s, _)| !s.label.is_empty()).collect();
    if entries.is_empty() {
        return Ok(());
    }
    let font = TextStyle::from((FONT, LEGEND_SIZE).into_font());
    let text_w = entries
        .iter()
        .map(|(s, _)| root.estimate_text_size(&s.label, &font).map(|s| s.0 as i32).unwrap_or(9 * s.label.len() as i32))
        .max()
        .unwrap_or(0);
    let (sample, pad, row) = (44, 10, (LEGEND_SIZE * 1.35) as i32);
    let (w, h) = (pad * 3 + sample + text_w, pad * 2 + row * entries.len() as i32);
    let (xr, yr) = plot;
    let inset = 10;
    // Candidate places, in order of preference: the corners, then the middles of the sides.
    let (left, right) = (xr.start + inset, xr.end - inset - w);
    let (top, bottom) = (yr.start + inset, yr.end - inset - h);
    let (mid_x, mid_y) = ((xr.start + xr.end - w) / 2, (yr.start + yr.end - h) / 2);
    let places = [
        (right, top),
        (left, top),
        (right, bottom),
        (left, bottom),
        (right, mid_y),
        (left, mid_y),
        (mid_x, top),
        (mid_x, bottom),
        (mid_x, mid_y),
    ];
    let count = |&(x0, y0): &(i32, i32)| {
        occupied.iter().filter(|p| p.0 >= x0 - 4 && p.0 <= x0 + w + 4 && p.1 >= y0 - 4 && p.1 <= y0 + h + 4).count()
    };
    let (x0, y0) = places.iter().copied().min_by_key(count).unwrap_or(places[0]);
    let bg = ShapeStyle { color: WHITE.mix(0.88), filled: true, stroke_width: 0 };
    root.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], bg)).map_err(draw_err)?;
    root.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], RGBColor(150, 150, 150).stroke_width(1)))
        .map_err(draw_err)?;
    for (k, (s, look)) in entries.iter().enumerate() {
        let cy = y0 + pad + row * k as i32 + row / 2;
        let (lx0, lx1) = (x0 + pad, x0 + pad + sample);
        let style = ShapeStyle { color: look.color.to_rgba(), filled: false, stroke_width: LINE_WIDTH };
        if look.line {
            let px = vec![(lx0, cy), (lx1, cy)];
            match &look.dashes {
                None => root.draw(&PathElement::new(px, style)).map_err(draw_err)?,
                Some(pat) => {
                    for d in dash(&px, pat) {
                        root.draw(&PathElement::new(d, style)).map_err(draw_err)?;
                    }
                }
            }
        }
        if let Some(m) = look.marker {
            draw_marker(root, m, ((lx0 + lx1) / 2, cy), look.color)?;
        }
        let text = font.clone().pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ));
        root.draw_text(&s.label, &text, (lx1 + pad, cy)).map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_labels_decades() {
        let a = log_axis(-60.2, -1.3, false);
        assert_eq!(a.lo, -70.0);
        assert_eq!(a.hi, 0.0);
        assert!(a.labels.iter().any(|l| l == "1e-60"), "{:?}", a.labels);
        assert!(a.major.len() <= 8);
    }

    #[test]
    fn linear_ticks_are_round() {
        let a = linear_axis(0.0, 1.0, true);
        assert_eq!(a.labels, vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let b = linear_axis(-3.0, 1000.0, false);
        assert!(b.labels.contains(&"0".to_string()) && b.labels.contains(&"1000".to_string()), "{:?}", b.labels);
    }

    #[test]
    fn clipping_splits_at_the_box() {
        let p = pieces(&[(0.0, 0.0), (2.0, 2.0), (4.0, 0.0)], false, false, (0.0, 4.0, 0.0, 1.0));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], vec![(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(p[1], vec![(3.0, 1.0), (4.0, 0.0)]);
    }

    #[test]
    fn thinning_keeps_each_columns_extremes_in_order() {
        let px = vec![(0, 5), (0, 9), (0, 1), (0, 4), (1, 3), (2, 3), (2, 3)];
        assert_eq!(thin(px), vec![(0, 5), (0, 9), (0, 1), (0, 4), (1, 3), (2, 3)]);
        let col: Vec<(i32, i32)> = (0..1000).map(|k| (7, (k * 37) % 101)).collect();
        let t = thin(col);
        // First (which is also the lowest, 0), highest (100), last (999·37 mod 101 = 98).
        assert_eq!(t, vec![(7, 0), (7, 100), (7, 98)]);
    }

    #[test]
    fn dashes_alternate() {
        let d = dash(&[(0, 0), (100, 0)], &[10.0, 10.0]);
        assert_eq!(d.len(), 5);
        assert_eq!(d[0], vec![(0, 0), (10, 0)]);
        assert_eq!(d[1][0], (20, 0));
    }
}
