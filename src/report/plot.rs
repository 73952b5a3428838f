//! Figures for papers: line plots written as SVG, PNG and CSV (the data, for pgfplots or
//! matplotlib).

use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// Sets the style.
    pub fn styled(mut self, style: Style) -> Self {
        self.style = style;
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

    /// Writes `dir/name.csv` (and, where rendering is available, `.svg` and `.png`); returns the
    /// paths written.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let csv = dir.join(format!("{}.csv", self.name));
        super::write_atomic(&csv, self.to_csv().as_bytes())?;
        Ok(vec![csv])
    }
}
