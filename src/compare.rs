//! Comparing measurements: fitted orders, NaN-propagating gaps, Richardson extrapolation.
//!
//! Every function here answers NaN when it cannot measure (a non-finite input, mismatched shapes,
//! nothing to compare), so that a check built on it fails instead of passing on nothing:
//! [`crate::experiments::Check`] rejects NaN.
//!
//! ```
//! use linflow::compare::{fit_order, richardson};
//! // The error of a second-order method: e(h) = 3h².
//! let pts: Vec<(f64, f64)> = [0.1, 0.05, 0.025].iter().map(|&h| (h, 3.0 * h * h)).collect();
//! assert!((fit_order(&pts) - 2.0).abs() < 1e-12);
//! // A(h) = 1 + h²: extrapolating at order 2 recovers A(0) = 1.
//! assert!((richardson(1.0 + 0.01, 1.0 + 0.0025, 2.0) - 1.0).abs() < 1e-15);
//! ```

use crate::error::Result;
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::Trajectory;

/// Least-squares slope of $y$ against $x$ over `points`; NaN when a coordinate is non-finite,
/// when there are fewer than two points, or when every $x$ is the same.
pub fn linear_slope(points: &[(f64, f64)]) -> f64 {
    if points.len() < 2 || points.iter().any(|&(x, y)| !x.is_finite() || !y.is_finite()) {
        return f64::NAN;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return f64::NAN;
    }
    sxy / sxx
}

/// Least-squares slope of $\ln y$ against $\ln x$: the exponent $p$ of a power law $y = c\,x^p$.
/// NaN when any coordinate is non-positive or non-finite (a zero error has no logarithm: the fit
/// would otherwise be dominated by `-inf`), or when [`linear_slope`] is NaN.
pub fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    if points.iter().any(|&(x, y)| !(x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite())) {
        return f64::NAN;
    }
    let logs: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    linear_slope(&logs)
}

/// The order of convergence fitted to `(step, error)` pairs: [`log_log_slope`].
pub fn fit_order(points: &[(f64, f64)]) -> f64 {
    log_log_slope(points)
}

/// The largest of `values`, NaN if any is NaN or there is none (`f64::max` would skip a NaN).
pub fn nan_max(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut m = f64::NAN;
    for (i, v) in values.into_iter().enumerate() {
        if v.is_nan() {
            return f64::NAN;
        }
        if i == 0 || v > m {
            m = v;
        }
    }
    m
}

/// The smallest of `values`, NaN if any is NaN or there is none (`f64::min` would skip a NaN).
pub fn nan_min(values: impl IntoIterator<Item = f64>) -> f64 {
    -nan_max(values.into_iter().map(|v| -v))
}

/// $\max_i |a_i - b_i|$ in `f64`; NaN when the lengths differ, a slice is empty, or any difference
/// is NaN. An infinite difference is the maximum.
pub fn max_abs_diff<S: Scalar>(a: &[S], b: &[S]) -> f64 {
    if a.len() != b.len() {
        return f64::NAN;
    }
    nan_max(a.iter().zip(b).map(|(x, y)| diff_abs(x, y)))
}

/// $|x - y|$ in `f64`, NaN when either is NaN (and for $\infty - \infty$).
fn diff_abs<S: Scalar>(x: &S, y: &S) -> f64 {
    let (fx, fy) = (x.to_f64(), y.to_f64());
    if fx.is_nan() || fy.is_nan() {
        return f64::NAN;
    }
    (x.clone() - y.clone()).abs().to_f64()
}

/// The largest absolute entry of `a − b` over matrices of equal shapes; NaN when the lists or any
/// shapes differ, when there is no entry, or when an entry is NaN.
pub fn max_abs_diff_mats<S: Scalar>(a: &[Mat<S>], b: &[Mat<S>]) -> f64 {
    if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.shape() != y.shape()) {
        return f64::NAN;
    }
    nan_max(a.iter().zip(b).flat_map(|(x, y)| x.as_slice().iter().zip(y.as_slice()).map(|(u, v)| diff_abs(u, v))))
}

/// [`max_abs_diff_mats`] over the blocks of two parameter vectors.
pub fn max_abs_diff_params<S: Scalar>(a: &Params<S>, b: &Params<S>) -> f64 {
    max_abs_diff_mats(&a.blocks, &b.blocks)
}

/// The largest absolute entry over matrices, NaN if any entry is NaN or there is none.
pub fn max_abs_mats<S: Scalar>(ms: &[Mat<S>]) -> f64 {
    nan_max(ms.iter().flat_map(|m| m.as_slice().iter().map(|x| x.to_f64().abs())))
}

/// Richardson extrapolation: from $A(h)$ and $A(h/2)$ of a quantity with error expansion
/// $A(h) = A + c\,h^p + O(h^{p+1})$, the estimate $\bigl(2^p A(h/2) - A(h)\bigr)/(2^p - 1)$ of $A$,
/// whose error is $O(h^{p+1})$. NaN when an input is non-finite or $p \le 0$.
pub fn richardson(a_h: f64, a_half: f64, p: f64) -> f64 {
    if !(a_h.is_finite() && a_half.is_finite() && p.is_finite() && p > 0.0) {
        return f64::NAN;
    }
    let r = 2f64.powf(p);
    (r * a_half - a_h) / (r - 1.0)
}

/// The gap of a trajectory against a reference on its saved times: one `(t, max |state − reference(t)|)`
/// per saved state, the gap from [`max_abs_diff_params`] (NaN where shapes differ or a value is NaN).
pub fn gap<S: Scalar>(
    traj: &Trajectory<S>,
    mut reference: impl FnMut(&S) -> Result<Params<S>>,
) -> Result<Vec<(f64, f64)>> {
    traj.times.iter().zip(&traj.states).map(|(t, p)| Ok((t.to_f64(), max_abs_diff_params(p, &reference(t)?)))).collect()
}

/// The largest gap of [`gap`] (NaN when the trajectory saved nothing or any gap is NaN).
pub fn max_gap<S: Scalar>(traj: &Trajectory<S>, reference: impl FnMut(&S) -> Result<Params<S>>) -> Result<f64> {
    Ok(nan_max(gap(traj, reference)?.into_iter().map(|p| p.1)))
}
