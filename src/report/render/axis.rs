//! Axes: linear axes with round ticks, logarithmic axes labelled by decades, and the range of a
//! figure's data (dropping what a log axis cannot show).

use crate::error::{Error, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// One axis in plot coordinates (`log10` of the data on a log axis).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) major: Vec<f64>,
    pub(super) minor: Vec<f64>,
    pub(super) labels: Vec<String>,
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
    pub(super) fn label(&self, v: f64) -> String {
        self.major
            .iter()
            .position(|m| (m - v).abs() <= 1e-9 * (self.hi - self.lo))
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }
}

/// A value on an axis in plot coordinates, `None` when it cannot be shown.
pub(super) fn transform(v: f64, log: bool) -> Option<f64> {
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

pub(super) fn make_axis(
    values: impl Iterator<Item = f64>,
    log: bool,
    explicit: Option<(f64, f64)>,
    which: &str,
) -> Result<Axis> {
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
}
