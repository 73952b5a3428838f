//! The exact Hessian and the Jacobians of the discrete step maps.
//!
//! The Hessian is assembled column by column from exact Hessian-vector products
//! ([`Hvp`]: the model's one gradient run on dual numbers), $H e_j$, so it is exact in rationals
//! and correct to rounding in MPFR and `f64`. Coordinates are those of [`Params::flatten`]
//! (block after block, each block row-major).

use crate::error::{Error, Result};
use crate::flow::fields::Hvp;
use crate::mat::Mat;
use crate::model::Model;
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::scalar::Scalar;

/// Applies `method` once, as the optimizer does: returns $\theta_{k+1}$ from $\theta_k$ = `p`
/// (and $\theta_{k-1}$ = `prev` for momentum methods; ignored otherwise). The Jacobians of
/// [`step_jacobian`] are the derivatives of this map.
pub fn apply_step<S: Scalar>(
    model: &Model<S>,
    method: &Method<S>,
    p: &Params<S>,
    prev: &Params<S>,
) -> Result<Params<S>> {
    let mut out = p.clone();
    Optimizer::exact(method.clone())?.with_previous(prev.clone()).step(model, &mut out)?;
    Ok(out)
}

fn needs_sqrt() -> Error {
    Error::Unsupported("SAM's normalization needs a square root: use f64 or MPFR".into())
}

/// The Hessian $\nabla^2 L(\theta)$ (weight decay included) as a $D\times D$ matrix.
pub fn hessian<S: Scalar>(model: &Model<S>, p: &Params<S>) -> Mat<S> {
    let n = p.len();
    let proto = p.proto();
    let mut hvp = Hvp::new(model);
    let (mut g, mut hv) = (p.zeros_like(), p.zeros_like());
    let mut e = p.zeros_like();
    let mut h = Mat::zeros(n, n, &proto);
    let mut unit = vec![proto.zero_like(); n];
    for j in 0..n {
        unit[j] = proto.one_like();
        e.set_from_slice(&unit);
        unit[j] = proto.zero_like();
        hvp.eval(p, &e, &mut g, &mut hv);
        for (i, x) in hv.iter().enumerate() {
            *h.get_mut(i, j) = x.clone();
        }
    }
    h
}

fn identity<S: Scalar>(n: usize, proto: &S) -> Mat<S> {
    Mat::eye(n, n, proto)
}

/// `a·I − b·M`.
fn shifted<S: Scalar>(a: &S, b: &S, m: &Mat<S>) -> Mat<S> {
    identity(m.rows(), &m.proto()).scaled(a).sub(&m.scaled(b))
}

/// The $2D\times 2D$ block matrix $\begin{pmatrix} A & B \\ I & 0\end{pmatrix}$.
fn companion<S: Scalar>(a: &Mat<S>, b: &Mat<S>) -> Mat<S> {
    let n = a.rows();
    let proto = a.proto();
    Mat::from_fn(2 * n, 2 * n, |i, j| match (i < n, j < n) {
        (true, true) => a.get(i, j).clone(),
        (true, false) => b.get(i, j - n).clone(),
        (false, true) if i - n == j => proto.one_like(),
        _ => proto.zero_like(),
    })
}

/// The Jacobian of the step map at $\theta$ (and $\theta_{k-1}$ = `prev` for momentum methods):
///
/// | map | Jacobian |
/// |---|---|
/// | GD | $I - \eta H(\theta)$ |
/// | heavy ball | $\begin{pmatrix}(1+\beta)I - \gamma H(\theta) & -\beta I\\ I & 0\end{pmatrix}$ |
/// | Nesterov | $\begin{pmatrix}(1+\beta)(I - \eta H(y)) & -\beta(I - \eta H(y))\\ I & 0\end{pmatrix}$ |
/// | USAM | $I - \eta H(\theta + \rho g)\,(I + \rho H(\theta))$ |
/// | SAM | $I - \eta H(\theta + \rho\hat g)\bigl(I + \tfrac{\rho}{\|g\|}(I - \hat g\hat g^\top) H(\theta)\bigr)$, $\hat g = g/\|g\|$ |
///
/// ($g = \nabla L(\theta)$; SAM at $g = 0$ takes the ascent as zero, as the optimizer does, and
/// its map is not differentiable there: an error is returned.)
pub fn step_jacobian<S: Scalar>(
    model: &Model<S>,
    method: &Method<S>,
    p: &Params<S>,
    prev: &Params<S>,
) -> Result<Mat<S>> {
    let proto = p.proto();
    let one = proto.one_like();
    Ok(match method {
        Method::Gd { eta } => shifted(&one, eta, &hessian(model, p)),
        Method::HeavyBall { eta, beta } => {
            let a = shifted(&(one.clone() + beta.clone()), eta, &hessian(model, p));
            let b = identity(p.len(), &proto).scaled(&-beta.clone());
            companion(&a, &b)
        }
        Method::Nesterov { eta, beta } => {
            let mut y = p.clone();
            y.axpy(beta, p);
            y.axpy(&-beta.clone(), prev);
            let m = shifted(&one, eta, &hessian(model, &y));
            companion(&m.scaled(&(one.clone() + beta.clone())), &m.scaled(&-beta.clone()))
        }
        Method::Usam { eta, rho } => {
            let h0 = hessian(model, p);
            let mut q = p.clone();
            q.axpy(rho, &model.grad(p).1);
            let inner = identity(p.len(), &proto).add(&h0.scaled(rho));
            shifted(&one, eta, &hessian(model, &q).matmul(&inner))
        }
        Method::Sam { eta, rho } => {
            let g = model.grad(p).1;
            let norm = g.norm_sq().try_sqrt().ok_or_else(needs_sqrt)?;
            if norm.is_zero() {
                return Err(Error::invalid(
                    "parameters",
                    "SAM's step is not differentiable where the gradient is zero",
                ));
            }
            let ghat: Vec<S> = g.flatten().into_iter().map(|x| x / norm.clone()).collect();
            let n = p.len();
            let proj = Mat::from_fn(n, n, |i, j| {
                let d = if i == j { one.clone() } else { proto.zero_like() };
                d - ghat[i].clone() * ghat[j].clone()
            });
            let h0 = hessian(model, p);
            let inner = identity(n, &proto).add(&proj.matmul(&h0).scaled(&(rho.clone() / norm.clone())));
            let mut q = p.clone();
            q.axpy(&(rho.clone() / norm), &g);
            shifted(&one, eta, &hessian(model, &q).matmul(&inner))
        }
        Method::Bar { .. } => return Err(not_smooth()),
    })
}

/// BAR's rescaling switches on a comparison of norms: its step map has no Jacobian there.
pub(crate) fn not_smooth() -> Error {
    Error::invalid(
        "method",
        "the stability analysis covers gd, heavy_ball, nesterov, usam and sam (BAR's rescaling is not smooth)",
    )
}
