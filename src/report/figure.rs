//! Figures for papers: line plots written as SVG, PNG and CSV (the data, for pgfplots or
//! matplotlib), and shown inline in evcxr notebooks. Drawing needs the `plot` feature (on by
//! default); without it a figure keeps its data and writes only its CSV.
//!
//! Rendering is deterministic and needs no system font: the DejaVu Sans font is compiled in and
//! registered with plotters before the first drawing, so a figure renders to the same bytes on
//! every machine. Each series gets its own colour *and* its own marker shape (and dashed series
//! their own dash pattern), so that curves stay distinct when printed in grayscale. Logarithmic
//! axes drop the points they cannot show (zero, negative, NaN, infinite) instead of failing, and
//! label their decades `1e-60`, `1e-30`, ….
//!
//! ```
//! # #[cfg(feature = "plot")] {
//! use linflow::report::{Figure, Series, Style};
//! let fig = Figure::new("decay", "Balancedness", "step", "|C|")
//!     .log_y()
//!     .with(Series::line("GD", (0..50).map(|k| (k as f64, 0.5f64.powi(k))).collect()))
//!     .with(Series::line("bound", (0..50).map(|k| (k as f64, 0.6f64.powi(k))).collect()).styled(Style::Dashed));
//! let svg = fig.to_svg().unwrap();
//! assert!(svg.contains("Balancedness") && svg.contains("bound"));
//! let png = fig.to_png().unwrap();
//! assert_eq!(&png[1..4], b"PNG");
//! # }
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

    /// Writes `dir/name.csv`, `dir/name.svg` and `dir/name.png`, each atomically (only the CSV
    /// without the `plot` feature); returns the paths written.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        check_name(&self.name)?;
        save_all(dir, &self.name, &self.to_csv(), || Ok((self.to_svg()?, self.to_png()?)))
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
    /// Writes `dir/name.{csv,svg,png}` atomically (only the CSV without the `plot` feature);
    /// returns the paths.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        check_name(&self.name)?;
        save_all(dir, &self.name, &self.to_csv(), || Ok((self.to_svg()?, self.to_png()?)))
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

fn save_all(
    dir: &Path,
    name: &str,
    csv: &str,
    drawn: impl FnOnce() -> Result<(String, Vec<u8>)>,
) -> Result<Vec<PathBuf>> {
    let csv_path = dir.join(format!("{name}.csv"));
    if !cfg!(feature = "plot") {
        super::write_atomic(&csv_path, csv.as_bytes())?;
        return Ok(vec![csv_path]);
    }
    // Draw both images before writing anything, so that a drawing error leaves no partial set.
    let (svg, png) = drawn()?;
    let paths = [csv_path, dir.join(format!("{name}.svg")), dir.join(format!("{name}.png"))];
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

/// Without the `plot` feature a figure keeps its data (CSV) but cannot be drawn.
#[cfg(not(feature = "plot"))]
fn cannot_draw<T>() -> Result<T> {
    Err(Error::Unsupported("drawing figures needs linflow's `plot` feature".into()))
}

#[cfg(not(feature = "plot"))]
impl Figure {
    /// An SVG needs the `plot` feature: without it, an error.
    pub fn to_svg(&self) -> Result<String> {
        cannot_draw()
    }
    /// A PNG needs the `plot` feature: without it, an error.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        cannot_draw()
    }
}

#[cfg(not(feature = "plot"))]
impl Panels {
    /// An SVG needs the `plot` feature: without it, an error.
    pub fn to_svg(&self) -> Result<String> {
        cannot_draw()
    }
    /// A PNG needs the `plot` feature: without it, an error.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        cannot_draw()
    }
}
