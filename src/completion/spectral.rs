//! Spectral measures of a matrix: singular values (`f64`, through nalgebra), the effective rank of
//! Roy and Vetterli, and Schatten-$p$ (quasi-)norms.
//!
//! Derivations and the closed forms the tests compare with: `proofs/matrix_completion.md`.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Real;

/// Singular values of an `f64` matrix, decreasing (`min(rows, cols)` of them), from nalgebra's
/// SVD. Errors on an empty matrix or non-finite entries. (At other precisions,
/// [`crate::closed_form::lindsey_menon::singular_values`].)
pub fn singular_values(x: &Mat<f64>) -> Result<Vec<f64>> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(Error::invalid("matrix", "singular values of an empty matrix"));
    }
    if !x.is_finite() {
        return Err(Error::invalid("matrix", "entries must be finite"));
    }
    let mut s: Vec<f64> = x.to_na().singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

fn check_sigma<S: Real>(sigma: &[S]) -> Result<()> {
    if sigma.is_empty() {
        return Err(Error::invalid("singular values", "need at least one"));
    }
    if sigma.iter().any(|s| !s.is_finite() || *s < s.zero_like()) {
        return Err(Error::invalid("singular values", "must be finite and >= 0"));
    }
    Ok(())
}

/// Effective rank (Roy and Vetterli, 2007) of a matrix with singular values `sigma`:
/// $\exp\bigl(-\sum_i p_i\ln p_i\bigr)$ with $p_i = \sigma_i/\sum_j\sigma_j$ and $0\ln 0 = 0$.
/// It lies in $[1, \operatorname{rank}]$ and equals $r$ for $r$ equal non-zero singular values.
/// Errors if `sigma` is empty, has a negative or non-finite value, or is all zero.
pub fn effective_rank<S: Real>(sigma: &[S]) -> Result<S> {
    check_sigma(sigma)?;
    let proto = sigma[0].zero_like();
    let mut total = proto.clone();
    for s in sigma {
        total += s;
    }
    if total.is_zero() {
        return Err(Error::invalid("singular values", "effective rank of the zero matrix is undefined"));
    }
    let mut h = proto;
    for s in sigma {
        if !s.is_zero() {
            let p = s.clone() / total.clone();
            h -= &(p.clone() * p.ln());
        }
    }
    Ok(h.exp())
}

/// Schatten-$p$ (quasi-)norm $\bigl(\sum_i\sigma_i^p\bigr)^{1/p}$ of a matrix with singular values
/// `sigma`, for $p > 0$ (a norm for $p \ge 1$, a quasi-norm for $0 < p < 1$; $p = 1$ nuclear,
/// $p = 2$ Frobenius). Errors if $p$ is not finite and positive or `sigma` is invalid.
pub fn schatten<S: Real>(sigma: &[S], p: &S) -> Result<S> {
    check_sigma(sigma)?;
    if !(p.is_finite() && *p > p.zero_like()) {
        return Err(Error::invalid("p", format!("Schatten exponent must be finite and > 0, got {p}")));
    }
    let mut s = p.zero_like();
    for x in sigma {
        if !x.is_zero() {
            s += &x.powf(p);
        }
    }
    if s.is_zero() {
        return Ok(s);
    }
    Ok(s.powf(&(p.one_like() / p.clone())))
}

/// Mean squared error over all entries, $\frac1{mn}\|W - M\|_F^2$ (the test error of the matrix
/// completion experiments). Errors if the shapes differ or are empty.
pub fn test_mse(w: &Mat<f64>, m: &Mat<f64>) -> Result<f64> {
    if w.shape() != m.shape() || w.rows() * w.cols() == 0 {
        return Err(Error::dim("matrix", format!("{:?} (non-empty)", m.shape()), format!("{:?}", w.shape())));
    }
    Ok(w.sub(m).norm_sq() / (w.rows() * w.cols()) as f64)
}
