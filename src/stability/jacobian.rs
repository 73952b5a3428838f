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
use crate::params::Params;
use crate::scalar::Scalar;

/// A step map with its hyperparameters in the run's number type.
#[derive(Clone, Debug, PartialEq)]
pub enum StepMap<S> {
    /// GD: $\theta \mapsto \theta - \eta\nabla L(\theta)$.
    Gd {
        /// η.
        eta: S,
    },
    /// Heavy ball on the pair $(\theta_k, \theta_{k-1})$:
    /// $(\theta, \theta') \mapsto (\theta - \gamma\nabla L(\theta) + \beta(\theta - \theta'), \theta)$.
    HeavyBall {
        /// γ.
        eta: S,
        /// β.
        beta: S,
    },
    /// Nesterov on $(\theta_k, \theta_{k-1})$: $y = \theta + \beta(\theta - \theta')$,
    /// $(\theta, \theta') \mapsto (y - \eta\nabla L(y), \theta)$.
    Nesterov {
        /// η.
        eta: S,
        /// β.
        beta: S,
    },
    /// USAM: $\theta \mapsto \theta - \eta\nabla L(\theta + \rho\nabla L(\theta))$.
    Usam {
        /// η.
        eta: S,
        /// ρ.
        rho: S,
    },
    /// SAM: $\theta \mapsto \theta - \eta\nabla L(\theta + \rho\, g/\|g\|)$, $g = \nabla L(\theta)$.
    Sam {
        /// η.
        eta: S,
        /// ρ.
        rho: S,
    },
}

impl<S: Scalar> StepMap<S> {
    /// Whether the state is the pair $(\theta_k, \theta_{k-1})$ (momentum methods).
    pub fn has_memory(&self) -> bool {
        matches!(self, StepMap::HeavyBall { .. } | StepMap::Nesterov { .. })
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            StepMap::Gd { .. } => "gd",
            StepMap::HeavyBall { .. } => "heavy_ball",
            StepMap::Nesterov { .. } => "nesterov",
            StepMap::Usam { .. } => "usam",
            StepMap::Sam { .. } => "sam",
        }
    }

    /// Applies the map once: returns $\theta_{k+1}$ from $\theta_k$ (and $\theta_{k-1}$ for
    /// momentum methods; ignored otherwise). Used to check the Jacobians by finite differences.
    pub fn apply(&self, model: &Model<S>, p: &Params<S>, prev: &Params<S>) -> Result<Params<S>> {
        let grad = |q: &Params<S>| model.grad(q).1;
        let one = p.proto().one_like();
        let mut out = p.clone();
        match self {
            StepMap::Gd { eta } => out.axpy(&-eta.clone(), &grad(p)),
            StepMap::HeavyBall { eta, beta } => {
                out.axpy(&-eta.clone(), &grad(p));
                out.axpy(beta, p);
                out.axpy(&-beta.clone(), prev);
            }
            StepMap::Nesterov { eta, beta } => {
                let mut y = p.clone();
                y.axpy(beta, p);
                y.axpy(&-beta.clone(), prev);
                out = y.clone();
                out.axpy(&-eta.clone(), &grad(&y));
            }
            StepMap::Usam { eta, rho } => {
                let mut q = p.clone();
                q.axpy(rho, &grad(p));
                out.axpy(&-eta.clone(), &grad(&q));
            }
            StepMap::Sam { eta, rho } => {
                let g = grad(p);
                let norm = g.norm_sq().try_sqrt().ok_or_else(needs_sqrt)?;
                let mut q = p.clone();
                if !norm.is_zero() {
                    q.axpy(&(rho.clone() * (one / norm)), &g);
                }
                out.axpy(&-eta.clone(), &grad(&q));
            }
        }
        Ok(out)
    }
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
pub fn step_jacobian<S: Scalar>(model: &Model<S>, map: &StepMap<S>, p: &Params<S>, prev: &Params<S>) -> Result<Mat<S>> {
    let proto = p.proto();
    let one = proto.one_like();
    Ok(match map {
        StepMap::Gd { eta } => shifted(&one, eta, &hessian(model, p)),
        StepMap::HeavyBall { eta, beta } => {
            let a = shifted(&(one.clone() + beta.clone()), eta, &hessian(model, p));
            let b = identity(p.len(), &proto).scaled(&-beta.clone());
            companion(&a, &b)
        }
        StepMap::Nesterov { eta, beta } => {
            let mut y = p.clone();
            y.axpy(beta, p);
            y.axpy(&-beta.clone(), prev);
            let m = shifted(&one, eta, &hessian(model, &y));
            companion(&m.scaled(&(one.clone() + beta.clone())), &m.scaled(&-beta.clone()))
        }
        StepMap::Usam { eta, rho } => {
            let h0 = hessian(model, p);
            let mut q = p.clone();
            q.axpy(rho, &model.grad(p).1);
            let inner = identity(p.len(), &proto).add(&h0.scaled(rho));
            shifted(&one, eta, &hessian(model, &q).matmul(&inner))
        }
        StepMap::Sam { eta, rho } => {
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
    })
}
