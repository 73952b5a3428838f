//! Singular values and the thin SVD from the eigen-decomposition of the smaller Gram matrix, at
//! the precision of the input.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::{Real, Scalar};

use super::{pre, sym_eigen};

/// Eigenvalues of the smaller Gram matrix of `x` (the squared singular values, decreasing, the
/// `min(rows, cols)` largest), clipped at zero, with the eigenvectors.
fn gram_eigen<S: Real>(x: &Mat<S>) -> Result<(Vec<S>, Mat<S>, bool)> {
    let wide = x.rows() < x.cols();
    let g = if wide { x.gram() } else { x.gram_t() };
    let (mut vals, v) = sym_eigen(&g)?;
    for l in &mut vals {
        if *l < l.zero_like() {
            *l = l.zero_like();
        }
    }
    Ok((vals, v, wide))
}

fn check_x<S: Scalar>(x: &Mat<S>) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(Error::invalid("x", "matrix must be non-empty"));
    }
    if !x.is_finite() {
        return Err(Error::invalid("x", "matrix must have finite entries"));
    }
    Ok(())
}

/// Singular values of `x` (the `min(rows, cols)` of them, decreasing), at the precision of `x`,
/// from the eigenvalues of the smaller Gram matrix.
pub fn singular_values<S: Real>(x: &Mat<S>) -> Result<Vec<S>> {
    check_x(x)?;
    Ok(gram_eigen(x)?.0.iter().map(Real::sqrt).collect())
}

/// The squared singular values of `x` (decreasing, clipped at zero): the eigenvalues of its
/// smaller Gram matrix, without square roots.
pub fn squared_singular_values<S: Real>(x: &Mat<S>) -> Result<Vec<S>> {
    check_x(x)?;
    Ok(gram_eigen(x)?.0)
}

/// Thin SVD $X = U_r\Sigma V_r^\top$ of a full-rank `x` ($r = \min$ of its dimensions) at the
/// precision of `x`: the eigenvectors of the smaller Gram matrix give one side, $XV_r\Sigma^{-1}$
/// (or $X^\top U_r\Sigma^{-1}$) the other. Returns `(U_r, σ, V_r)`, σ decreasing.
///
/// Precondition: full rank, with the smallest singular value above $\sqrt{\epsilon}\,\sigma_1$ of
/// the precision (below that the Gram matrix does not resolve it).
pub fn thin_svd<S: Real>(x: &Mat<S>) -> Result<(Mat<S>, Vec<S>, Mat<S>)> {
    check_x(x)?;
    let (dn, d0) = x.shape();
    let r = dn.min(d0);
    let (vals, v, wide) = gram_eigen(x)?;
    let proto = x.proto();
    let sig: Vec<S> = vals.iter().take(r).map(Real::sqrt).collect();
    let smax = sig[0].clone();
    let floor = proto.epsilon_like().sqrt() * smax.clone();
    if smax.is_zero() || sig[r - 1] <= floor {
        return Err(pre(format!(
            "X must have full rank {r}: smallest singular value {:e} vs largest {:e}",
            sig[r - 1].to_f64(),
            smax.to_f64()
        )));
    }
    let (u, vr) = if wide {
        let u = Mat::from_fn(dn, r, |i, k| v.get(i, k).clone());
        let xtu = x.prod(true, &u, false);
        let vr = Mat::from_fn(d0, r, |i, k| xtu.get(i, k).clone() / sig[k].clone());
        (u, vr)
    } else {
        let vr = Mat::from_fn(d0, r, |i, k| v.get(i, k).clone());
        let xv = x.matmul(&vr);
        let u = Mat::from_fn(dn, r, |i, k| xv.get(i, k).clone() / sig[k].clone());
        (u, vr)
    };
    Ok((u, sig, vr))
}
