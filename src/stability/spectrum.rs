//! Eigenvalues: complex ones of a general `f64` matrix (nalgebra's real Schur form), real ones of a
//! symmetric matrix in any [`Real`] precision (cyclic Jacobi), and the closed-form roots of the
//! heavy-ball companion blocks.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::{Real, Scalar};
use num_complex::Complex;

pub use crate::linalg::symmetric_eigenvalues;

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
