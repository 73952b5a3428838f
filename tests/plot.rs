//! Figures: files are written atomically with the data as CSV, the SVG carries the labels and
//! the legend, the PNG decodes to a paper-size image with drawn content, log axes survive data
//! they cannot show, and rendering is deterministic.
#![cfg(feature = "plot")]

use linflow::report::{Figure, Panels, Series, Style};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn decay_figure() -> Figure {
    Figure::new("decay", "Moment map under weight decay", "time t", "norm of mu(t)")
        .log_y()
        .with(Series::line("gradient descent", (0..200).map(|k| (k as f64 * 0.1, (-0.3 * k as f64).exp())).collect()))
        .with(
            Series::line("closed form", (0..200).map(|k| (k as f64 * 0.1, (-0.3 * k as f64).exp())).collect())
                .styled(Style::Dashed),
        )
}

/// The Okabe–Ito blue of the first series, counted in the decoded PNG.
fn count_color(img: &image::RgbImage, c: [u8; 3]) -> usize {
    img.pixels().filter(|p| p.0 == c).count()
}

#[test]
fn save_writes_csv_svg_png_and_nothing_else() {
    let dir = tmp("save");
    let fig = decay_figure();
    let paths = fig.save(&dir).unwrap();
    let names: Vec<String> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["decay.csv", "decay.svg", "decay.png"]);
    for p in &paths {
        assert!(std::fs::metadata(p).unwrap().len() > 0, "{} is empty", p.display());
    }
    // The CSV holds every point of every series (header + 2 × 200 rows), values round-tripping.
    let csv = std::fs::read_to_string(&paths[0]).unwrap();
    assert_eq!(csv.lines().count(), 1 + 400);
    let row: Vec<&str> = csv.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(row[0], "\"gradient descent\"");
    assert_eq!(row[2].parse::<f64>().unwrap(), (-0.3f64).exp());
    // Atomic writes leave no temporary files behind.
    let mut listed: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    listed.sort();
    assert_eq!(listed.len(), 3, "{listed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svg_has_title_axis_labels_legend_and_bundled_font() {
    let svg = decay_figure().to_svg().unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    for text in ["Moment map under weight decay", "time t", "norm of mu(t)", "gradient descent", "closed form"] {
        assert!(svg.contains(&format!(">\n{text}\n</text>")), "missing text `{text}`");
    }
    assert!(svg.contains("DejaVu Sans"));
    assert!(svg.contains("width=\"800\"") && svg.contains("height=\"560\""));
}

#[test]
fn png_decodes_at_paper_size_with_drawn_curves() {
    let png = decay_figure().to_png().unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (800, 560));
    // Text and axes: a few percent of the pixels are dark (an empty canvas has none).
    let dark = img.pixels().filter(|p| p.0.iter().all(|&c| c < 100)).count();
    assert!(dark > 2000, "only {dark} dark pixels");
    // The first series' colour appears (a line of ~600 px at width 2, plus markers) ...
    let blue = count_color(&img, [0, 114, 178]);
    assert!(blue > 500, "only {blue} pixels of the first series' colour");
    // ... and is absent from a figure without series (negative control for the count).
    let empty = Figure::new("empty", "", "x", "y").to_png().unwrap();
    let empty = image::load_from_memory(&empty).unwrap().to_rgb8();
    assert_eq!(count_color(&empty, [0, 114, 178]), 0);
}

#[test]
fn rendering_is_deterministic() {
    let (a, b) = (decay_figure(), decay_figure());
    assert_eq!(a.to_svg().unwrap(), b.to_svg().unwrap());
    assert_eq!(a.to_png().unwrap(), b.to_png().unwrap());
}

#[test]
fn log_axes_drop_zero_negative_and_non_finite_values() {
    let bad = vec![(0.0, 0.0), (1.0, -1.0), (2.0, f64::NAN), (3.0, f64::INFINITY), (4.0, 1e-60), (5.0, 1.0)];
    let fig = Figure::new("bad", "Drift", "step", "deviation")
        .log_y()
        .log_x()
        .with(Series::line("mixed", bad))
        .with(Series::line("all zero", vec![(1.0, 0.0), (2.0, 0.0)]))
        .with(Series::points("nan x", vec![(f64::NAN, 1.0), (-1.0, 2.0)]));
    let svg = fig.to_svg().unwrap();
    // The data span 60 decades: the axis is labelled by decades, down to 1e-60.
    assert!(svg.contains(">\n1e-60\n<"), "no 1e-60 tick label");
    assert!(svg.contains(">\n1e0\n<"));
    fig.to_png().unwrap();
    // Only unusable data: still a figure (empty axes), not a panic.
    let none = Figure::new("none", "", "x", "y").log_y().with(Series::line("zeros", vec![(0.0, 0.0), (1.0, -2.0)]));
    none.to_svg().unwrap();
    none.to_png().unwrap();
}

#[test]
fn explicit_ranges_clip_and_bad_ranges_are_errors() {
    let fig = decay_figure().x_range(0.0, 5.0).y_range(1e-3, 1.0);
    let svg = fig.to_svg().unwrap();
    assert!(svg.contains(">\n0.001\n<"), "y range not applied");
    fig.to_png().unwrap();
    let err = decay_figure().y_range(0.0, 1.0).to_svg().unwrap_err().to_string();
    assert!(err.contains("y_range"), "{err}");
    let err = decay_figure().x_range(2.0, 1.0).to_png().unwrap_err().to_string();
    assert!(err.contains("x_range"), "{err}");
    let err = decay_figure().x_range(0.0, f64::NAN).to_png().unwrap_err().to_string();
    assert!(err.contains("x_range"), "{err}");
}

#[test]
fn series_differ_by_marker_shape_not_only_colour() {
    // Two series: the first gets filled circles, the second filled squares (polygons), so they
    // stay apart in grayscale; a single series gets no markers.
    let svg = decay_figure().to_svg().unwrap();
    assert!(svg.contains("<circle"));
    assert!(svg.contains("<polygon"));
    let one = Figure::new("one", "", "x", "y").with(Series::line("a", vec![(0.0, 0.0), (1.0, 1.0)]));
    let svg1 = one.to_svg().unwrap();
    assert!(!svg1.contains("<circle") && !svg1.contains("<polygon"));
}

#[test]
fn evcxr_content_wraps_the_svg() {
    let s = decay_figure().evcxr_content();
    assert!(s.starts_with("EVCXR_BEGIN_CONTENT image/svg+xml\n<svg"));
    assert!(s.ends_with("</svg>\nEVCXR_END_CONTENT"), "{}", &s[s.len() - 60..]);
    let bad = decay_figure().y_range(-1.0, 1.0).evcxr_content();
    assert!(bad.starts_with("EVCXR_BEGIN_CONTENT text/plain"));
}

#[test]
fn panels_render_side_by_side() {
    let p = Panels::new("pair", vec![decay_figure(), decay_figure().log_x()], 2);
    let img = image::load_from_memory(&p.to_png().unwrap()).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1600, 560));
    let csv = p.to_csv();
    assert_eq!(csv.lines().count(), 1 + 800);
    assert!(csv.lines().nth(1).unwrap().starts_with("\"decay\",\"gradient descent\","));
    let dir = tmp("panels");
    assert_eq!(p.save(&dir).unwrap().len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(Figure::new("a/b", "", "x", "y").save(&dir).is_err());
}

#[test]
fn reproducing_twice_gives_identical_files() {
    let (a, b) = (tmp("rep-a"), tmp("rep-b"));
    linflow::experiments::reproduce("conservation-demo", &a, true).unwrap();
    linflow::experiments::reproduce("conservation-demo", &b, true).unwrap();
    let mut names: Vec<_> =
        std::fs::read_dir(a.join("conservation-demo")).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}"); // summary.json and the figure as csv, svg, png
    for n in names {
        let (x, y) = (
            std::fs::read(a.join("conservation-demo").join(&n)).unwrap(),
            std::fs::read(b.join("conservation-demo").join(&n)).unwrap(),
        );
        assert!(x == y, "{n:?} differs between two runs");
    }
    std::fs::remove_dir_all(&a).unwrap();
    std::fs::remove_dir_all(&b).unwrap();
}

#[test]
fn long_series_are_thinned_to_the_pixel_grid() {
    // 200,000 points across ~700 pixel columns: at most four points per column are kept (first,
    // lowest, highest, last), so the SVG path stays small; drawing all would take ~2.4 MB.
    let pts: Vec<(f64, f64)> = (0..200_000).map(|k| (k as f64, (k as f64 * 0.37).sin())).collect();
    let svg = Figure::new("long", "", "step", "value").with(Series::line("noisy", pts)).to_svg().unwrap();
    assert!(svg.len() < 200_000, "SVG has {} bytes", svg.len());
    // The axes still span all the data (ticks at ±1); the envelope is kept (unit test of `thin`).
    assert!(svg.contains(">\n1.0\n<") && svg.contains(">\n-1.0\n<"));
}
