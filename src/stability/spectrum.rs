//! Eigenvalues: complex ones of a general `f64` matrix (nalgebra's real Schur form), real ones of a
//! symmetric matrix in any [`Real`] precision (cyclic Jacobi), and the closed-form roots of the
//! heavy-ball companion blocks.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::{Real, Scalar};
use num_complex::Complex;

/// The complex eigenvalues of a square `f64` matrix (real Schur form; an error if the QR
/// iteration does not converge or the matrix is not finite).
pub fn eigenvalues(m: &Mat<f64>) -> Result<Vec<Complex<f64>>> {
    if m.rows() != m.cols() {
        return Err(Error::dim("matrix", "a square matrix", format!("{}x{}", m.rows(), m.cols())));
    }
    if !m.is_finite() {
        return Err(Error::invalid("matrix", "entries must be finite to compute eigenvalues"));
    }
    let schur = m
        .to_na()
        .try_schur(f64::EPSILON, 10_000)
        .ok_or_else(|| Error::Other("the Schur decomposition did not converge in 10000 iterations".into()))?;
    Ok(schur.complex_eigenvalues().iter().copied().collect())
}

/// The largest modulus of a list of eigenvalues (0 for an empty list).
pub fn spectral_radius(eigs: &[Complex<f64>]) -> f64 {
    eigs.iter().map(|z| z.norm()).fold(0.0, f64::max)
}

/// The eigenvalues of a symmetric matrix, ascending, by the cyclic Jacobi method at the precision
/// of its entries: sweeps of plane rotations until every off-diagonal entry is below
/// `ε·‖M‖_F` (ε the precision's epsilon), at most 100 sweeps. Only the lower triangle's symmetric
/// part is used: `(M + Mᵀ)/2`.
pub fn symmetric_eigenvalues<S: Real>(m: &Mat<S>) -> Result<Vec<S>> {
    let n = m.rows();
    if n != m.cols() {
        return Err(Error::dim("matrix", "a square matrix", format!("{}x{}", m.rows(), m.cols())));
    }
    if n == 0 {
        return Ok(vec![]);
    }
    let half = m.proto().ratio_like(1, 2);
    let mut a = Mat::from_fn(n, n, |i, j| (m.get(i, j).clone() + m.get(j, i).clone()) * half.clone());
    let tol = a.norm_sq().sqrt() * a.proto().epsilon_like();
    let zero = a.proto().zero_like();
    for _ in 0..100 {
        let mut off = zero.clone();
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    off = off + a.get(i, j).square();
                }
            }
        }
        if off.sqrt() <= tol {
            let mut d: Vec<S> = (0..n).map(|i| a.get(i, i).clone()).collect();
            d.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
            return Ok(d);
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a.get(p, q).clone();
                if apq.is_zero() {
                    continue;
                }
                // Rotation annihilating a_pq: θ = (a_qq − a_pp)/(2a_pq), t = sgn θ/(|θ| + √(θ²+1)).
                let one = apq.one_like();
                let theta = (a.get(q, q).clone() - a.get(p, p).clone()) / (apq.clone() + apq.clone());
                let t = {
                    let r = one.clone() / (theta.abs() + (theta.square() + one.clone()).sqrt());
                    if theta < zero {
                        -r
                    } else {
                        r
                    }
                };
                let c = one.clone() / (t.square() + one.clone()).sqrt();
                let s = t * c.clone();
                for k in 0..n {
                    let (akp, akq) = (a.get(k, p).clone(), a.get(k, q).clone());
                    *a.get_mut(k, p) = c.clone() * akp.clone() - s.clone() * akq.clone();
                    *a.get_mut(k, q) = s.clone() * akp + c.clone() * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a.get(p, k).clone(), a.get(q, k).clone());
                    *a.get_mut(p, k) = c.clone() * apk.clone() - s.clone() * aqk.clone();
                    *a.get_mut(q, k) = s.clone() * apk + c.clone() * aqk;
                }
            }
        }
    }
    Err(Error::Other("the Jacobi eigenvalue iteration did not converge in 100 sweeps".into()))
}

/// The discriminant $(1+\beta-\gamma h)^2 - 4\beta$ of the heavy-ball companion block
/// $\begin{pmatrix}1+\beta-\gamma h & -\beta\\ 1 & 0\end{pmatrix}$, exact in every number type:
/// negative exactly when its two eigenvalues form a complex pair (of modulus $\sqrt\beta$).
pub fn companion_discriminant<S: Scalar>(h: &S, gamma: &S, beta: &S) -> S {
    let one = h.one_like();
    let tr = one + beta.clone() - gamma.clone() * h.clone();
    tr.square() - h.from_i64_like(4) * beta.clone()
}

/// The two roots of $z^2 - (1+\beta-\gamma h)z + \beta$: the eigenvalues of heavy ball's
/// companion block for a Hessian eigenvalue $h$.
pub fn companion_roots<S: Real>(h: &S, gamma: &S, beta: &S) -> [Complex<S>; 2] {
    let one = h.one_like();
    let half = h.ratio_like(1, 2);
    let tr = (one + beta.clone() - gamma.clone() * h.clone()) * half.clone();
    let disc = companion_discriminant(h, gamma, beta);
    let zero = h.zero_like();
    if disc < zero {
        let im = (-disc).sqrt() * half;
        [Complex::new(tr.clone(), im.clone()), Complex::new(tr, -im)]
    } else {
        let r = disc.sqrt() * half;
        [Complex::new(tr.clone() + r.clone(), zero.clone()), Complex::new(tr - r, zero)]
    }
}

/// The two roots of $z^2 - (1+\beta)(1-\eta h)z + \beta(1-\eta h)$: Nesterov's companion block.
pub fn nesterov_roots<S: Real>(h: &S, eta: &S, beta: &S) -> [Complex<S>; 2] {
    let m = h.one_like() - eta.clone() * h.clone();
    let half = h.ratio_like(1, 2);
    let tr = (h.one_like() + beta.clone()) * m.clone() * half.clone();
    let disc = tr.square() - beta.clone() * m;
    let zero = h.zero_like();
    if disc < zero {
        let im = (-disc).sqrt();
        [Complex::new(tr.clone(), im.clone()), Complex::new(tr, -im)]
    } else {
        let r = disc.sqrt();
        [Complex::new(tr.clone() + r.clone(), zero.clone()), Complex::new(tr - r, zero)]
    }
}
