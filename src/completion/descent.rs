//! Plain gradient descent $\theta_{k+1} = \theta_k - \eta\nabla L(\theta_k)$ on the one gradient
//! ([`Model::grad_into`]), run until the loss falls to a threshold or a step cap is reached, with
//! an observer called on a schedule. This is the training loop of the matrix-factorization
//! experiments (stop at training loss $\le 10^{-6}$).

use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// When [`descend`] stops and what it records.
#[derive(Clone, Debug)]
pub struct DescentOptions {
    /// Step size η > 0.
    pub eta: f64,
    /// Stop as soon as the loss at the current point is at most this (≥ 0).
    pub tol: f64,
    /// At most this many steps.
    pub max_steps: usize,
    /// Call the observer every this many steps (≥ 1), and at the last point.
    pub observe_every: usize,
}

/// Why [`descend`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The loss reached the threshold.
    Converged,
    /// The step cap was reached first.
    StepCap,
    /// The loss or the parameters became non-finite (the step size is too large).
    NonFinite,
}

/// The result of [`descend`].
#[derive(Clone, Debug)]
pub struct Descent<S> {
    /// The last finite point.
    pub params: Params<S>,
    /// Steps taken to reach it.
    pub steps: usize,
    /// The loss there.
    pub loss: f64,
    /// Why the run stopped.
    pub stop: Stop,
}

/// Gradient descent from `p0` until `L(θ) ≤ opts.tol` or `opts.max_steps` steps.
/// `observe(step, θ, L(θ))` is called at step 0, every `opts.observe_every` steps and at the last
/// point. Errors on invalid options or parameters that do not fit the model.
pub fn descend<S: Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    opts: &DescentOptions,
    mut observe: impl FnMut(usize, &Params<S>, f64),
) -> Result<Descent<S>> {
    if !(opts.eta.is_finite() && opts.eta > 0.0) {
        return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {}", opts.eta)));
    }
    if !(opts.tol.is_finite() && opts.tol >= 0.0) {
        return Err(Error::invalid("tol", format!("loss threshold must be finite and >= 0, got {}", opts.tol)));
    }
    if opts.observe_every == 0 {
        return Err(Error::invalid("observe_every", "must be at least 1"));
    }
    model.check_params(p0)?;
    let proto = p0.proto();
    let minus_eta = proto.from_f64_like(-opts.eta);
    let mut ws = model.workspace(&proto);
    let mut p = p0.clone();
    let mut g = p0.zeros_like();
    let mut step = 0;
    // The last point with a finite loss, kept so that a diverging run returns it.
    let mut last: Option<(Params<S>, f64)> = None;
    loop {
        let loss = model.grad_into(&mut ws, &p, None, &mut g).to_f64();
        if !loss.is_finite() || !p.is_finite() {
            return match last {
                Some((q, l)) => {
                    observe(step - 1, &q, l);
                    Ok(Descent { params: q, steps: step - 1, loss: l, stop: Stop::NonFinite })
                }
                None => Err(Error::invalid("parameters", "the loss at the initial point is not finite")),
            };
        }
        let stop = if loss <= opts.tol {
            Some(Stop::Converged)
        } else if step >= opts.max_steps {
            Some(Stop::StepCap)
        } else {
            None
        };
        if let Some(stop) = stop {
            observe(step, &p, loss);
            return Ok(Descent { params: p, steps: step, loss, stop });
        }
        if step % opts.observe_every == 0 {
            observe(step, &p, loss);
        }
        match &mut last {
            Some((q, l)) => {
                q.clone_from(&p);
                *l = loss;
            }
            None => last = Some((p.clone(), loss)),
        }
        p.axpy(&minus_eta, &g);
        step += 1;
    }
}
