//! Discrete runs: an [`Optimizer`] iterated from an initial point, observed by a [`Monitor`].

use crate::error::Result;
use crate::invariants::Monitor;
use crate::model::Model;
use crate::optim::Optimizer;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Save, Trajectory};

/// Options of a discrete run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Number of steps.
    pub steps: usize,
    /// Which states to keep.
    pub save: Save,
    /// A run whose loss exceeds `divergence · max(1, L(θ_0))` is stopped as diverged.
    pub divergence: f64,
}

impl RunOptions {
    /// `steps` steps, saving every state.
    pub fn steps(steps: usize) -> Self {
        RunOptions { steps, save: Save::Every { n: 1 }, divergence: 1e30 }
    }
    /// Sets the save schedule.
    pub fn save(mut self, save: Save) -> Self {
        self.save = save;
        self
    }
}

/// Runs `opt` from `p0` for `opts.steps` steps. Time advances by [`crate::optim::Method::dt`]
/// per step. A non-finite value or a diverging loss stops the run with the matching
/// [`Outcome`]; the trajectory then ends at the last finite state.
///
/// ```
/// use linflow::prelude::*;
/// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
/// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
/// let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
/// let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &0.0).unwrap();
/// let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(0.1));
/// let traj = run(&model, &mut opt, &p0, &RunOptions::steps(100), &mut mon).unwrap();
/// assert!(traj.outcome.is_done());
/// assert!(traj.laws[0].worst_rel < 1e-12);
/// ```
pub fn run<S: Scalar>(
    model: &Model<S>,
    opt: &mut Optimizer<S>,
    p0: &Params<S>,
    opts: &RunOptions,
    monitor: &mut Monitor<S>,
) -> Result<Trajectory<S>> {
    model.check_params(p0)?;
    // Time is t_k = k·Δt in the run's number type, Δt = η or η/(1−β) from the method's own
    // hyperparameters (one product per saved step, so t_k is k·Δt correctly rounded, exactly k·Δt
    // in rationals).
    let dt = opt.method.dt();
    let time = |k: usize| dt.clone() * dt.from_i64_like(k as i64);
    let save = opts.save.steps(opts.steps, dt.to_f64());
    let mut next_save = 0;
    let mut traj = Trajectory {
        method: opt.method.name().into(),
        precision: p0.proto().kind_name(),
        times: Vec::new(),
        steps: Vec::new(),
        states: Vec::new(),
        loss: Vec::new(),
        laws: Vec::new(),
        grad_calls: 0,
        outcome: Outcome::Done,
    };
    let mut p = p0.clone();
    let loss0 = model.loss(&p).to_f64();
    let limit = opts.divergence * loss0.abs().max(1.0);
    monitor.start(model, &p);
    let keep = |traj: &mut Trajectory<S>, k: usize, p: &Params<S>, loss: f64| {
        traj.times.push(time(k));
        traj.steps.push(k);
        traj.states.push(p.clone());
        traj.loss.push(loss);
    };
    keep(&mut traj, 0, &p, loss0);
    next_save += 1;
    let calls0 = opt.grad_calls;
    for k in 1..=opts.steps {
        let last = p.clone();
        let rec = opt.step(model, &mut p)?;
        let t = time(k);
        if !p.is_finite() {
            traj.outcome = Outcome::NonFinite { step: k, time: t.to_f64() };
            if traj.steps.last() != Some(&(k - 1)) {
                keep(&mut traj, k - 1, &last, model.loss(&last).to_f64());
            }
            break;
        }
        let loss = model.loss(&p).to_f64();
        if loss.is_nan() || loss.abs() > limit {
            traj.outcome = Outcome::Diverged { step: k, time: t.to_f64(), loss };
            if traj.steps.last() != Some(&(k - 1)) {
                keep(&mut traj, k - 1, &last, model.loss(&last).to_f64());
            }
            break;
        }
        monitor.after_step(model, &rec, &p, k, &t);
        if next_save < save.len() && save[next_save] == k {
            keep(&mut traj, k, &p, loss);
            next_save += 1;
        }
    }
    traj.grad_calls = opt.grad_calls - calls0;
    traj.laws = monitor.reports();
    Ok(traj)
}
