//! Symmetric eigen-decomposition by cyclic Jacobi rotations at the precision of the input, and
//! the spectral functions built on it.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::{Real, Scalar};

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations, at the precision of the
/// input: returns the eigenvalues in decreasing order and the orthogonal matrix whose columns are
/// the eigenvectors. Only the symmetric part of `a` is used.
pub fn sym_eigen<S: Real>(a: &Mat<S>) -> Result<(Vec<S>, Mat<S>)> {
    let n = a.rows();
    if a.cols() != n || n == 0 {
        return Err(Error::dim(
            "symmetric eigen-decomposition",
            "a non-empty square matrix",
            format!("{:?}", a.shape()),
        ));
    }
    if !a.is_finite() {
        return Err(Error::invalid("matrix", "symmetric eigen-decomposition needs finite entries"));
    }
    let proto = a.proto();
    let half = proto.ratio_like(1, 2);
    let mut m: Vec<S> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            (a.get(i, j).clone() + a.get(j, i).clone()) * half.clone()
        })
        .collect();
    let mut v = Mat::eye(n, n, &proto);
    let eps = proto.epsilon_like();
    let one = proto.one_like();
    for _sweep in 0..200 {
        let mut off = proto.zero_like();
        let mut total = proto.zero_like();
        for i in 0..n {
            for j in 0..n {
                let s = m[i * n + j].square();
                if i != j {
                    off += &s;
                }
                total += &s;
            }
        }
        if off.is_zero() || off <= eps.square() * eps.square() * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q].clone();
                if apq.is_zero() {
                    continue;
                }
                let theta = (m[q * n + q].clone() - m[p * n + p].clone()) / (apq * proto.from_i64_like(2));
                let r = (theta.square() + one.clone()).sqrt();
                let t = if theta >= proto.zero_like() {
                    one.clone() / (theta.clone() + r)
                } else {
                    -(one.clone() / (r - theta.clone()))
                };
                let c = one.clone() / (t.square() + one.clone()).sqrt();
                let s = t * c.clone();
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p].clone(), m[k * n + q].clone());
                    m[k * n + p] = c.clone() * akp.clone() - s.clone() * akq.clone();
                    m[k * n + q] = s.clone() * akp + c.clone() * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k].clone(), m[q * n + k].clone());
                    m[p * n + k] = c.clone() * apk.clone() - s.clone() * aqk.clone();
                    m[q * n + k] = s.clone() * apk + c.clone() * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v.get(k, p).clone(), v.get(k, q).clone());
                    *v.get_mut(k, p) = c.clone() * vkp.clone() - s.clone() * vkq.clone();
                    *v.get_mut(k, q) = s.clone() * vkp + c.clone() * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j * n + j].partial_cmp(&m[i * n + i]).unwrap_or(std::cmp::Ordering::Equal));
    let vals = order.iter().map(|&i| m[i * n + i].clone()).collect();
    let vecs = Mat::from_fn(n, n, |i, k| v.get(i, order[k]).clone());
    Ok((vals, vecs))
}

/// `V f(Λ) Vᵀ` for a symmetric matrix `A = VΛVᵀ`: a spectral function evaluated at the precision
/// of `a`.
pub fn sym_apply<S: Real>(a: &Mat<S>, f: impl Fn(&S) -> S) -> Result<Mat<S>> {
    let (vals, v) = sym_eigen(a)?;
    Ok(spectral(&vals, &v, f))
}

/// `V f(Λ) Vᵀ` from an eigen-decomposition.
pub fn spectral<S: Scalar>(vals: &[S], v: &Mat<S>, f: impl Fn(&S) -> S) -> Mat<S> {
    let n = vals.len();
    let fv: Vec<S> = vals.iter().map(f).collect();
    let vd = Mat::from_fn(n, n, |i, k| v.get(i, k).clone() * fv[k].clone());
    vd.prod(false, v, true)
}

/// The eigenvalues of a symmetric matrix in increasing order, at the precision of its entries
/// ([`sym_eigen`]'s, reversed; an empty matrix has none). Only the symmetric part is used.
pub fn symmetric_eigenvalues<S: Real>(m: &Mat<S>) -> Result<Vec<S>> {
    if m.rows() != m.cols() {
        return Err(Error::dim("matrix", "a square matrix", format!("{}x{}", m.rows(), m.cols())));
    }
    if m.rows() == 0 {
        return Ok(vec![]);
    }
    let (mut vals, _) = sym_eigen(m)?;
    vals.reverse();
    Ok(vals)
}

/// The matrix exponential $e^{s\xi}$ of a symmetric $\xi$, at the precision of its entries.
pub fn sym_exp<S: Real>(xi: &Mat<S>, s: &S) -> Result<Mat<S>> {
    sym_apply(xi, |l| (s.clone() * l.clone()).exp())
}

/// The power $A^p$ of a positive semidefinite symmetric matrix, with eigenvalues at most
/// `cut·λ_max` treated as exact zeros and $0^0 = 1$ (so that $A^0 = I$ and the power is smooth on
/// rank-deficient Gram matrices such as $W^\top W$ of a rectangular $W$).
pub fn psd_pow<S: Real>(a: &Mat<S>, p: &S, cut: &S) -> Result<Mat<S>> {
    if p.is_zero() && a.rows() == a.cols() && a.rows() > 0 {
        return Ok(Mat::eye(a.rows(), a.rows(), &p.zero_like()));
    }
    let (vals, v) = sym_eigen(a)?;
    let zero = p.zero_like();
    let top = vals.first().map(|x| x.abs()).unwrap_or_else(|| zero.clone());
    let thr = cut.clone() * top;
    Ok(spectral(&vals, &v, |l| if *l <= thr || *l <= zero { zero.clone() } else { l.powf(p) }))
}

/// Relative threshold below which eigenvalues of a Gram matrix are exact zeros in `f64`
/// ($\approx\epsilon^{3/4}$): the round-off in the exact zero eigenvalues of a rank-deficient
/// $X^\top X$ would otherwise turn into large errors under a power $< 1$.
pub const F64_CUT: f64 = 1.8e-12;

/// $M^p$ from nalgebra's eigen-decomposition of a symmetric positive semidefinite $M$ in `f64`
/// (several powers of one matrix share one decomposition); see [`psd_power`].
pub fn psd_power_eig(eig: &nalgebra::SymmetricEigen<f64, nalgebra::Dyn>, p: f64) -> nalgebra::DMatrix<f64> {
    let n = eig.eigenvalues.len();
    if p == 0.0 {
        return nalgebra::DMatrix::identity(n, n);
    }
    let top = eig.eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()));
    let d = eig.eigenvalues.map(|l| if l <= F64_CUT * top || l <= 0.0 { 0.0 } else { l.powf(p) });
    &eig.eigenvectors * nalgebra::DMatrix::from_diagonal(&d) * eig.eigenvectors.transpose()
}

/// $M^p$ for a symmetric positive semidefinite $M$ in `f64` (eigenvalues at or below
/// [`F64_CUT`] times the largest set to zero; $M^0 = I$).
pub fn psd_power(m: &nalgebra::DMatrix<f64>, p: f64) -> nalgebra::DMatrix<f64> {
    psd_power_eig(&m.clone().symmetric_eigen(), p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_reconstructs_a_symmetric_matrix() {
        let a = Mat::from_fn(4, 4, |i, j| 1.0 / (1.0 + i as f64 + j as f64));
        let (vals, v) = sym_eigen(&a).unwrap();
        let back = spectral(&vals, &v, |l| *l);
        // Hilbert 4x4, condition 1.6e4: rounding of a few sweeps, 1e-14 is ~50 eps.
        assert!(back.sub(&a).max_abs().unwrap() < 1e-14);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]));
        // Known: the largest eigenvalue of the 4x4 Hilbert matrix is 1.500214280059243.
        assert!((vals[0] - 1.500_214_280_059_243).abs() < 1e-14);
    }
}
