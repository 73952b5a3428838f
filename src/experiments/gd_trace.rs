//! Plain gradient descent with a loss-based stop and sampled singular values, shared by the
//! matrix-factorization experiments (`connectivity`, `overparam-slowdown`).
//!
//! Every step is [`Optimizer::step`] with [`Method::Gd`], so the gradient is the model's one
//! gradient ([`Model::grad_into`]).

use crate::error::Result;
use crate::mat::Mat;
use crate::model::Model;
use crate::optim::{Method, Optimizer};
use crate::params::Params;

/// Singular values of an `f64` matrix (decreasing), by nalgebra's SVD (accurate for small
/// singular values, unlike the square roots of Gram eigenvalues).
pub(crate) fn singular_values(w: &Mat<f64>) -> Vec<f64> {
    let mut s: Vec<f64> = w.to_na().singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

/// Nuclear norm (sum of singular values).
pub(crate) fn nuclear_norm(w: &Mat<f64>) -> f64 {
    singular_values(w).iter().sum()
}

/// One sampled point of a run.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Step index.
    pub step: usize,
    /// Loss at that step.
    pub loss: f64,
    /// Singular values of the end-to-end matrix.
    pub sv: Vec<f64>,
}

/// The outcome of [`train`].
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    /// Final parameters.
    pub last: Params<f64>,
    /// Loss at the final parameters.
    pub final_loss: f64,
    /// First step whose loss is at most `drop_fraction · L(0)` (if reached).
    pub first_drop: Option<usize>,
    /// Samples (every `sample_every` steps, plus the last).
    pub samples: Vec<Sample>,
}

/// Options of [`train`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrainOptions {
    /// Step size.
    pub eta: f64,
    /// Step budget.
    pub max_steps: usize,
    /// Stop once the loss is at most this.
    pub stop_loss: f64,
    /// Sample every this many steps (`0`: only the first and last state).
    pub sample_every: usize,
    /// Records the first step at which the loss falls to this fraction of its initial value.
    pub drop_fraction: f64,
}

/// Runs GD on `model` from `p0` until the loss is at most `stop_loss` or the budget is spent.
pub(crate) fn train(model: &Model<f64>, p0: &Params<f64>, o: TrainOptions) -> Result<Trace> {
    model.check_params(p0)?;
    let mut opt = Optimizer::new(Method::Gd { eta: o.eta }, &0.0)?;
    let mut p = p0.clone();
    let l0 = model.loss(&p);
    let sample =
        |k: usize, p: &Params<f64>, loss: f64| Sample { step: k, loss, sv: singular_values(&model.end_to_end(p)) };
    let mut samples = vec![sample(0, &p, l0)];
    let mut first_drop = None;
    let mut k = 0;
    let mut loss = l0;
    while k < o.max_steps && loss > o.stop_loss {
        let rec = opt.step(model, &mut p)?;
        // rec.loss is the loss before this step, i.e. at step k.
        if first_drop.is_none() && rec.loss <= o.drop_fraction * l0 {
            first_drop = Some(k);
        }
        k += 1;
        if !p.is_finite() {
            return Err(crate::error::Error::Other(format!("gradient descent diverged at step {k} (eta = {})", o.eta)));
        }
        loss = if o.sample_every > 0 && k % o.sample_every == 0 {
            let l = model.loss(&p);
            samples.push(sample(k, &p, l));
            l
        } else {
            rec.loss
        };
    }
    let final_loss = model.loss(&p);
    if samples.last().map(|s| s.step) != Some(k) {
        samples.push(sample(k, &p, final_loss));
    }
    Ok(Trace { last: p, final_loss, first_drop, samples })
}
