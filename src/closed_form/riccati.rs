//! Two-layer gradient flow in closed form through the matrix Riccati equation, with imbalance
//! $\lambda I$ (Fukumizu 1998 for $\lambda = 0$; Tarmoun et al. 2021, Dominé et al. 2025 for the
//! imbalanced case; derivation: `proofs/riccati.md`).
//!
//! Loss $\frac12\|Y - UV^\top\|_F^2$ with $U$ `m×k`, $V$ `n×k` (in linflow: [`crate::model::Arch::Factor`]
//! with [`crate::model::Loss::target`]). With $Q = [U; V]$ and $\Lambda = U^\top U - V^\top V$
//! (conserved), if $\Lambda = \lambda I_k$ then $P = QQ^\top$ solves
//! $\dot P = S_\lambda P + PS_\lambda - P^2$, $S_\lambda = \begin{pmatrix}\frac\lambda2 I & Y\\ Y^\top & -\frac\lambda2 I\end{pmatrix}$, so
//! $$P(t) = e^{S_\lambda t}Q_0\bigl[I_k + Q_0^\top K(t)Q_0\bigr]^{-1}Q_0^\top e^{S_\lambda t},\qquad
//! K(t) = \int_0^t e^{2S_\lambda s}\,ds,$$
//! and $UV^\top(t)$ is the top-right `m×n` block of $P(t)$.
//!
//! In `f64` the formula cancels catastrophically once $e^{2\mu t}$ is large (errors up to $10^{-5}$
//! were reported); evaluate it in MPFR ([`crate::scalar::Mp`]) and round the result.

use crate::error::{Error, Result};
use crate::linalg::{cholesky, solve, sym_eigen};
use crate::mat::Mat;
use crate::scalar::Real;

const REF: &str = "two-layer Riccati closed form";

fn pre(message: impl Into<String>) -> Error {
    Error::Precondition { reference: REF.into(), message: message.into() }
}

/// The closed form for one initialization, with the eigen-decomposition of $S_\lambda$ computed
/// once (at the precision of the data).
#[derive(Clone, Debug)]
pub struct Riccati<S> {
    m: usize,
    n: usize,
    lambda: S,
    eig: Vec<S>,
    vecs: Mat<S>,
    q0: Mat<S>,
}

impl<S: Real> Riccati<S> {
    /// Preconditions: `y` is `m×n`, `u0` is `m×k`, `v0` is `n×k` with finite entries, and
    /// $U_0^\top U_0 - V_0^\top V_0 = \lambda I_k$ for some $\lambda$, to within
    /// $10^3\,\epsilon\max(1, \|\Lambda\|_{\max})$ of the working precision (construct such
    /// initializations with [`lambda_balanced_init`] at the precision you evaluate in).
    pub fn new(y: &Mat<S>, u0: &Mat<S>, v0: &Mat<S>) -> Result<Self> {
        let (m, n) = y.shape();
        let k = u0.cols();
        if u0.rows() != m || v0.rows() != n || v0.cols() != k || k == 0 || m == 0 || n == 0 {
            return Err(Error::dim(
                "Riccati data",
                format!("Y m x n, U0 m x k, V0 n x k with k >= 1 (Y is {m}x{n})"),
                format!("U0 {:?}, V0 {:?}", u0.shape(), v0.shape()),
            ));
        }
        if !(y.is_finite() && u0.is_finite() && v0.is_finite()) {
            return Err(Error::invalid("Y, U0, V0", "entries must be finite"));
        }
        let lam = u0.gram_t().sub(&v0.gram_t());
        let proto = y.proto();
        let lambda = lam.trace() / proto.from_i64_like(k as i64);
        let scale =
            lam.max_abs().map(|x| if x > proto.one_like() { x } else { proto.one_like() }).unwrap_or(proto.one_like());
        let dev = lam.sub(&Mat::eye(k, k, &proto).scaled(&lambda)).max_abs().unwrap_or(proto.zero_like());
        let tol = proto.epsilon_like() * proto.from_i64_like(1000) * scale;
        if dev > tol {
            return Err(pre(format!(
                "U0^T U0 - V0^T V0 must equal lambda I_k: it deviates from {:e} I by {:e} (allowed {:e})",
                lambda.to_f64(),
                dev.to_f64(),
                tol.to_f64()
            )));
        }
        let half = lambda.clone() * proto.ratio_like(1, 2);
        let s = Mat::from_fn(m + n, m + n, |i, j| match (i < m, j < m) {
            (true, true) if i == j => half.clone(),
            (false, false) if i == j => -half.clone(),
            (true, false) => y.get(i, j - m).clone(),
            (false, true) => y.get(j, i - m).clone(),
            _ => proto.zero_like(),
        });
        let (eig, vecs) = sym_eigen(&s)?;
        let q0 = Mat::from_fn(m + n, k, |i, j| if i < m { u0.get(i, j).clone() } else { v0.get(i - m, j).clone() });
        Ok(Riccati { m, n, lambda, eig, vecs, q0 })
    }

    /// The imbalance $\lambda$.
    pub fn lambda(&self) -> &S {
        &self.lambda
    }

    /// The eigenvalues of $S_\lambda$ (decreasing): $\pm\sqrt{s_i^2 + \lambda^2/4}$ and $\pm\lambda/2$.
    pub fn spectrum(&self) -> &[S] {
        &self.eig
    }

    /// $P(t) = Q(t)Q(t)^\top$ for $t \ge 0$.
    pub fn gram(&self, t: &S) -> Result<Mat<S>> {
        if !t.is_finite() || *t < t.zero_like() {
            return Err(pre(format!("t must be finite and >= 0, got {t}")));
        }
        let proto = t.zero_like();
        let two = proto.from_i64_like(2);
        let e: Vec<S> = self.eig.iter().map(|mu| (mu.clone() * t.clone()).exp()).collect();
        let kd: Vec<S> =
            self.eig.iter().map(|mu| t.clone() * expm1_over_x(&(two.clone() * mu.clone() * t.clone()))).collect();
        let v = &self.vecs;
        // Q0 in the eigenbasis.
        let z = v.prod(true, &self.q0, false);
        let ez = Mat::from_fn(z.rows(), z.cols(), |i, j| e[i].clone() * z.get(i, j).clone());
        let kz = Mat::from_fn(z.rows(), z.cols(), |i, j| kd[i].clone() * z.get(i, j).clone());
        let k = self.q0.cols();
        let inner = Mat::eye(k, k, &proto).add(&z.prod(true, &kz, false));
        let sol = solve(&inner, &ez.t())?;
        let core = ez.matmul(&sol);
        Ok(v.matmul(&core).prod(false, v, true))
    }

    /// $U(t)V(t)^\top$, the top-right block of [`Riccati::gram`].
    pub fn product(&self, t: &S) -> Result<Mat<S>> {
        let p = self.gram(t)?;
        Ok(Mat::from_fn(self.m, self.n, |i, j| p.get(i, self.m + j).clone()))
    }
}

/// $(e^x - 1)/x$ without cancellation for small $|x|$ (series), $1$ at $x = 0$.
fn expm1_over_x<S: Real>(x: &S) -> S {
    let one = x.one_like();
    let half = x.ratio_like(1, 2);
    if x.abs() > half {
        return (x.exp() - one) / x.clone();
    }
    let eps = x.epsilon_like();
    let mut term = one.clone();
    let mut sum = one;
    for k in 2..10_000i64 {
        term = term * x.clone() / x.from_i64_like(k);
        sum += &term;
        if term.abs() <= eps.clone() * sum.abs() {
            break;
        }
    }
    sum
}

/// $U_0 = QL^\top$ with $Q$ the Gram–Schmidt orthonormalization of `raw_u` (`m×k`, $m \ge k$)
/// and $LL^\top = \lambda I + V_0^\top V_0$, so that $U_0^\top U_0 - V_0^\top V_0 = \lambda I_k$ to
/// the working precision. Preconditions: `raw_u` has full column rank, $\lambda I + V_0^\top V_0$
/// is positive definite.
pub fn lambda_balanced_init<S: Real>(v0: &Mat<S>, raw_u: &Mat<S>, lambda: &S) -> Result<Mat<S>> {
    let (m, k) = raw_u.shape();
    if v0.cols() != k || m < k {
        return Err(Error::dim(
            "lambda-balanced init",
            format!("raw U m x {} with m >= k", v0.cols()),
            format!("{:?}", raw_u.shape()),
        ));
    }
    let proto = v0.proto();
    let c = v0.gram_t().add(&Mat::eye(k, k, &proto).scaled(lambda));
    let l = cholesky(&c)?;
    // Modified Gram–Schmidt, twice for orthogonality at the working precision.
    let mut q = raw_u.clone();
    for _pass in 0..2 {
        for j in 0..k {
            for i in 0..j {
                let mut d = proto.zero_like();
                for r in 0..m {
                    d.mul_add_assign(q.get(r, i), q.get(r, j));
                }
                for r in 0..m {
                    let v = d.clone() * q.get(r, i).clone();
                    *q.get_mut(r, j) -= &v;
                }
            }
            let mut nrm = proto.zero_like();
            for r in 0..m {
                nrm += &q.get(r, j).square();
            }
            if nrm.is_zero() {
                return Err(pre("raw U must have full column rank"));
            }
            let nrm = nrm.sqrt();
            for r in 0..m {
                *q.get_mut(r, j) /= &nrm;
            }
        }
    }
    Ok(q.prod(false, &l, true))
}
