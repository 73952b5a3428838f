//! The gradient-descent setup both cases of `connectivity` share: the completion model, the
//! initialization, the numerical rank and the sampled trace.

use crate::data;
use crate::error::Result;
use crate::experiments::gd_trace::Trace;
use crate::init;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;

/// Sampling interval (steps) of the plateau run.
pub(super) const SAMPLE_EVERY: usize = 20;
/// Numerical rank threshold, relative to σ₁(M).
pub(super) const RANK_TOL: f64 = 1e-3;
/// Stop when the training loss is at most this: residuals ~1e-12, far below the differences
/// between the completions compared (order 0.1).
pub(super) const STOP_LOSS: f64 = 1e-24;

/// The depth-2 factorization $W = W_2W_1$ (hidden width `width`) fitting `truth` on `mask`.
pub(super) fn completion_model(truth: &Mat<f64>, mask: &[(usize, usize)], width: usize) -> Result<Model<f64>> {
    let (m, n) = truth.shape();
    let entries = mask.iter().map(|&(i, j)| (i, j, *truth.get(i, j))).collect();
    Model::new(Arch::deep_linear(&[n, width, m])?, Loss::completion((m, n), entries)?)
}

/// Gaussian layers of variance `variance`, the same direction for every variance.
pub(super) fn scaled_init(arch: &Arch, variance: f64, seed: u64) -> Params<f64> {
    // Same direction for every variance: one N(0,1) draw scaled by the standard deviation.
    let mut p = init::gaussian(arch, 1.0, &mut data::rng(seed));
    p.scale_mut(&variance.sqrt());
    p
}

/// Numerical rank: singular values above `RANK_TOL·scale`.
pub(super) fn rank_of(sv: &[f64], scale: f64) -> usize {
    sv.iter().filter(|&&s| s > RANK_TOL * scale).count()
}

/// `(time, loss, singular values)` samples of a run with step `eta`.
pub(super) fn to_trace(t: &Trace, eta: f64) -> Vec<(f64, f64, Vec<f64>)> {
    t.samples.iter().map(|s| (s.step as f64 * eta, s.loss, s.sv.clone())).collect()
}
