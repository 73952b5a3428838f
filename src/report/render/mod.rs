//! Drawing figures with plotters (the `plot` feature): the fonts, colours, markers and dash
//! patterns, the grid of panels, each figure's axes, series and legend.

mod axis;
mod path;

use self::axis::{make_axis, transform};
use self::path::{along, dash, pieces, thin};
use super::figure::{Figure, Panels, Series, Style, HEIGHT, WIDTH};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::sync::Once;

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

impl Figure {
    /// The figure as an SVG document of [`WIDTH`]×[`HEIGHT`] pixels.
    pub fn to_svg(&self) -> Result<String> {
        render_svg(std::slice::from_ref(self), 1)
    }

    /// The figure as PNG bytes, [`WIDTH`]×[`HEIGHT`] pixels.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        render_png(std::slice::from_ref(self), 1)
    }
}

impl Panels {
    /// SVG of the grid (each panel [`WIDTH`]×[`HEIGHT`]).
    pub fn to_svg(&self) -> Result<String> {
        render_svg(&self.figures, self.cols)
    }

    /// PNG of the grid.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        render_png(&self.figures, self.cols)
    }
}

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
