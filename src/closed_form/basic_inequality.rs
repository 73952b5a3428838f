//! The basic inequality of gradient descent (Paik, Zhou, Telgarsky, Tibshirani, arXiv:2512.24999).
//!
//! For $f$ convex and $L$-smooth and GD $\theta_{t+1} = \theta_t - \eta_t\nabla f(\theta_t)$ with
//! $0 < \eta_t \le 1/L$, every reference point $z$ and every $T$ satisfy
//! $$\sum_{t<T}\eta_t\bigl(f(\theta_{t+1}) - f(z)\bigr) \le \tfrac12\|z-\theta_0\|^2 - \tfrac12\|z - \theta_T\|^2,
//! \qquad f(\theta_T) - f(z) \le \frac{\|z-\theta_0\|^2 - \|z-\theta_T\|^2}{2\sum_{t<T}\eta_t}.$$
//!
//! For a convex quadratic $f$ with Hessian $H$ (least squares: a depth-one
//! [`crate::model::Arch::DeepLinear`] with a `Target` or `Regression` loss) the per-step slack is an
//! exact identity,
//! $$\frac{\|\theta_t - z\|^2 - \|\theta_{t+1} - z\|^2}{2\eta_t} - \bigl(f(\theta_{t+1}) - f(z)\bigr)
//!   = \frac{\eta_t}{2}\,g_t^\top(I - \eta_t H)g_t + \tfrac12(z-\theta_t)^\top H(z-\theta_t),$$
//! which is $\ge 0$ when $\eta_t \le 1/L$ and shows how the inequality fails beyond: the first term
//! turns negative along the top eigenvector of $H$ once $\eta_t > 1/L$.

use super::saxe::precondition;
use crate::error::{Error, Result};
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::Scalar;

const NAME: &str = "basic inequality";

/// The right-hand side $(\|z-\theta_0\|^2 - \|z - \theta_T\|^2)/(2\sum_{t<T}\eta_t)$ (`sum_eta > 0`).
pub fn bound<S: Scalar>(z: &Params<S>, theta0: &Params<S>, theta_t: &Params<S>, sum_eta: &S) -> Result<S> {
    if !(sum_eta.is_finite() && *sum_eta > sum_eta.zero_like()) {
        return Err(precondition(NAME, format!("the sum of step sizes must be > 0, got {sum_eta}")));
    }
    if z.shapes() != theta0.shapes() || z.shapes() != theta_t.shapes() {
        return Err(Error::dim(NAME, format!("{:?}", z.shapes()), format!("{:?}", theta0.shapes())));
    }
    let d0 = diff(z, theta0).norm_sq();
    let dt = diff(z, theta_t).norm_sq();
    Ok((d0 - dt) / (sum_eta.from_i64_like(2) * sum_eta.clone()))
}

fn diff<S: Scalar>(a: &Params<S>, b: &Params<S>) -> Params<S> {
    let mut d = a.clone();
    d.axpy(&-a.proto().one_like(), b);
    d
}

/// Checks that `model` is a convex quadratic this module covers: depth-one deep linear network,
/// `Target` or `Regression` loss, no weight decay.
pub fn check_quadratic<S: Scalar>(model: &Model<S>) -> Result<()> {
    match &model.arch {
        Arch::DeepLinear { widths } if widths.len() == 2 => {}
        a => {
            return Err(precondition(
                NAME,
                format!("needs a convex least-squares problem: a depth-one deep linear model, got {}", a.name()),
            ))
        }
    }
    match &model.loss {
        Loss::Target { .. } | Loss::Regression { .. } => {}
        _ => return Err(precondition(NAME, "needs a target or regression (least-squares) loss")),
    }
    if model.weight_decay.is_some() {
        return Err(precondition(NAME, "stated without weight decay"));
    }
    Ok(())
}

/// The smoothness constant $L = \lambda_{\max}(H)$ of a quadratic `model` ($H = \Sigma_{xx}$ for
/// `Regression`, $I$ for `Target`), computed in `f64`.
pub fn smoothness(model: &Model<f64>) -> Result<f64> {
    check_quadratic(model)?;
    Ok(match &model.loss {
        Loss::Regression { sxx, .. } => {
            let e = sxx.to_na().symmetric_eigen();
            e.eigenvalues.iter().cloned().fold(0.0, f64::max)
        }
        _ => 1.0,
    })
}

/// Checks $0 < \eta_t \le 1/L$ for every step (`Error::Precondition` naming the first offending
/// step).
pub fn check_steps(etas: &[f64], l: f64) -> Result<()> {
    if !(l.is_finite() && l > 0.0) {
        return Err(precondition(NAME, format!("smoothness constant L must be finite and > 0, got {l}")));
    }
    if let Some((k, e)) = etas.iter().enumerate().find(|(_, &e)| !(e > 0.0 && e * l <= 1.0)) {
        return Err(precondition(NAME, format!("needs 0 < eta_t <= 1/L = {}, got eta_{k} = {e}", 1.0 / l)));
    }
    Ok(())
}

/// The Hessian form $a^\top H b$ of a quadratic model (row parameters: $a\,\Sigma_{xx}\,b^\top$).
pub fn hessian_form<S: Scalar>(model: &Model<S>, a: &Params<S>, b: &Params<S>) -> Result<S> {
    check_quadratic(model)?;
    let (wa, wb) = (&a.blocks[0], &b.blocks[0]);
    Ok(match &model.loss {
        Loss::Regression { sxx, .. } => wa.matmul(sxx).dot(wb),
        _ => wa.dot(wb),
    })
}

/// The exact per-step slack of the basic inequality for a quadratic model at iterate `theta`, step
/// `eta`, reference `z`: $\frac{\eta}{2}g^\top(I - \eta H)g + \tfrac12(z-\theta)^\top H(z-\theta)$ with
/// $g = \nabla f(\theta)$.
pub fn step_slack<S: Scalar>(model: &Model<S>, theta: &Params<S>, z: &Params<S>, eta: &S) -> Result<S> {
    let (_, g) = model.grad(theta);
    let half = eta.ratio_like(1, 2);
    let gg = g.norm_sq();
    let ghg = hessian_form(model, &g, &g)?;
    let e = diff(z, theta);
    let ehe = hessian_form(model, &e, &e)?;
    Ok(half.clone() * eta.clone() * (gg - eta.clone() * ghg) + half * ehe)
}
