//! Razin–Cohen's 2×2 matrix-completion instance (arXiv:2005.06398): implicit regularization
//! that no norm explains.
//!
//! Observed entries $W_{12} = 1$, $W_{21} = 1$, $W_{22} = 0$ (zero-based `(0,1)`, `(1,0)`, `(1,1)`),
//! loss $\ell(W) = \tfrac12\sum_{\text{obs}}(W_{ij} - b_{ij})^2$; every interpolant has $\det W = -1$.
//!
//! * **Sign of the determinant.** For a deep linear network of square layers, Jacobi's formula gives
//!   $\frac{d}{dt}\ln|\det W| = -\sum_j\operatorname{tr}(W_j^{-1}G_j)$ under gradient flow. For a balanced
//!   network ($W_{j+1}^\top W_{j+1} = W_jW_j^\top$) all terms are equal, so
//!   $\frac{d}{dt}\ln|\det W| = -N\operatorname{tr}(W_1^{-1}G_1) = -N\operatorname{tr}\bigl(V\Sigma^{(N-2)/N}U^\top\nabla\ell(W)\bigr)$
//!   with $W = U\Sigma V^\top$: bounded as $\det W\to 0$ for $N \ge 2$, so the sign of $\det W$ never
//!   changes in finite time ([`log_det_rate`]).
//! * **Norms diverge.** If $\det W > 0$ and $\ell < 1/2$, with $r = \sqrt{2\ell}$ each observed entry is
//!   within $r$ of its target, so $W_{12}W_{21} \ge (1-r)^2$ and $|W_{22}| \le r$; $\det W > 0$ then forces
//!   $|W_{11}|\,r \ge |W_{11}W_{22}| > W_{12}W_{21} \ge (1-r)^2$, i.e.
//!   $|W_{11}| > (1-\sqrt{2\ell})^2/\sqrt{2\ell}$ ([`w11_lower_bound`]).

use super::diagonal::solve_linear;
use super::saxe::precondition;
use crate::data;
use crate::error::{Error, Result};
use crate::init;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::{Real, Scalar};

const NAME: &str = "Razin-Cohen";

/// The completion loss of the instance: entries `(0,1) = 1`, `(1,0) = 1`, `(1,1) = 0` observed.
pub fn instance() -> Loss<f64> {
    Loss::completion((2, 2), vec![(0, 1, 1.0), (1, 0, 1.0), (1, 1, 0.0)]).expect("indices are in range")
}

/// The depth-`depth` model of the instance (widths `2, 2, …, 2`).
pub fn model(depth: usize) -> Result<Model<f64>> {
    if depth == 0 {
        return Err(Error::invalid("depth", "needs at least one layer"));
    }
    Model::new(Arch::deep_linear(&vec![2; depth + 1])?, instance())
}

/// Lower bound $(1 - \sqrt{2\ell})^2/\sqrt{2\ell}$ on $|W_{11}|$ when $\det W > 0$ and the loss is
/// $\ell$, `0 < ℓ < 1/2`.
pub fn w11_lower_bound<S: Real>(loss: &S) -> Result<S> {
    if !(loss.is_finite() && *loss > loss.zero_like() && *loss < loss.ratio_like(1, 2)) {
        return Err(precondition(NAME, format!("the |W11| bound needs 0 < loss < 1/2, got {loss}")));
    }
    let r = (loss.from_i64_like(2) * loss.clone()).sqrt();
    Ok((r.one_like() - r.clone()).square() / r)
}

/// Balanced initialization with $\det W(0) > 0$: a Gaussian $2\times2$ end-to-end matrix with entries
/// $N(0, \text{scale}^2)$ (first row negated when its determinant is negative), factored by
/// [`init::balanced`].
pub fn balanced_init(depth: usize, scale: f64, seed: u64) -> Result<Params<f64>> {
    let arch = Arch::deep_linear(&vec![2; depth + 1])?;
    let mut a = data::gaussian(2, 2, scale, &mut data::rng(seed));
    let det = a.get(0, 0) * a.get(1, 1) - a.get(0, 1) * a.get(1, 0);
    if det < 0.0 {
        for j in 0..2 {
            *a.get_mut(0, j) = -*a.get(0, j);
        }
    }
    init::balanced(&arch, &a)
}

/// $\det W$ of a $2\times 2$ end-to-end matrix.
pub fn det2<S: Scalar>(w: &Mat<S>) -> S {
    w.get(0, 0).clone() * w.get(1, 1).clone() - w.get(0, 1).clone() * w.get(1, 0).clone()
}

fn trace_inv_prod<S: Scalar>(w: &Mat<S>, g: &Mat<S>) -> Result<S> {
    let n = w.rows();
    let mut tr = w.proto();
    for k in 0..n {
        let col: Vec<S> = (0..n).map(|i| g.get(i, k).clone()).collect();
        let x =
            solve_linear(w, &col).ok_or_else(|| precondition(NAME, "a layer is singular: ln|det W| is not defined"))?;
        tr += &x[k];
    }
    Ok(tr)
}

fn check_square<S: Scalar>(model: &Model<S>, p: &Params<S>) -> Result<()> {
    model.check_params(p)?;
    match &model.arch {
        Arch::DeepLinear { widths } if widths.iter().all(|&w| w == widths[0]) => Ok(()),
        a => Err(precondition(NAME, format!("needs square layers of one width, got {}", a.name()))),
    }
}

/// $\frac{d}{dt}\ln|\det W|$ under gradient flow for a **balanced** network of square layers:
/// $-N\operatorname{tr}(W_1^{-1}G_1)$.
pub fn log_det_rate<S: Scalar>(model: &Model<S>, p: &Params<S>) -> Result<S> {
    check_square(model, p)?;
    let (_, g) = model.grad(p);
    let n = p.blocks.len() as i64;
    Ok(-(trace_inv_prod(&p.blocks[0], &g.blocks[0])? * p.proto().from_i64_like(n)))
}

/// $\frac{d}{dt}\ln|\det W| = -\sum_j\operatorname{tr}(W_j^{-1}G_j)$ under gradient flow for any
/// network of square invertible layers (Jacobi's formula, no balancedness needed).
pub fn log_det_rate_general<S: Scalar>(model: &Model<S>, p: &Params<S>) -> Result<S> {
    check_square(model, p)?;
    let (_, g) = model.grad(p);
    let mut s = p.proto();
    for (w, gj) in p.blocks.iter().zip(&g.blocks) {
        s += &trace_inv_prod(w, gj)?;
    }
    Ok(-s)
}

/// A balanced depth-2 factorization computed in the number type of `a`: $W_1 = A$,
/// $W_2 = (AA^\top)^{1/2}$ (the $2\times2$ square root $(M + \sqrt{\det M}\,I)/\sqrt{\operatorname{tr}M + 2\sqrt{\det M}}$),
/// so $W_2^\top W_2 = W_1W_1^\top$ to the working precision and $\det W = |\det A|\det A$ has the sign
/// of $\det A$. (An `f64` balanced initialization cast to MPFR is balanced only to $10^{-16}$, which is
/// enough to let $\det W$ change sign once it is that small.)
pub fn balanced_two_layer<S: Real>(a: &Mat<S>) -> Result<Params<S>> {
    if a.shape() != (2, 2) {
        return Err(Error::dim("balanced two-layer factor", "2x2", format!("{:?}", a.shape())));
    }
    if det2(a).is_zero() || !a.is_finite() {
        return Err(precondition(NAME, "A must be finite and invertible"));
    }
    let m = a.prod(false, a, true);
    let s = det2(&m).sqrt();
    let t = (m.trace() + s.from_i64_like(2) * s.clone()).sqrt();
    let eye = Mat::eye(2, 2, &s);
    let root = m.add(&eye.scaled(&s)).scaled(&(s.one_like() / t));
    Ok(Params::new(vec![a.clone(), root]))
}
