//! Discrete runs: an [`Optimizer`] iterated from an initial point, observed by a [`Monitor`] and
//! any [`Observer`], saved through the flows' [`Recorder`].

use crate::error::Result;
use crate::flow::record::{Hooks, Recorder};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::observe::{Observer, ObserverMode};
use crate::optim::Optimizer;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Save, Stats, Trajectory};

/// Options of a discrete run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Number of steps.
    pub steps: usize,
    /// Which states to keep.
    pub save: Save,
    /// A run whose loss exceeds `divergence · max(1, L(θ_0))` is stopped as diverged.
    pub divergence: f64,
    /// Stop at the first step whose loss is at most this (finite, ≥ 0), ending in
    /// [`Outcome::Converged`]; a run that takes all `steps` without reaching it ends in
    /// [`Outcome::NotConverged`]. `None`: run all `steps`.
    pub stop_loss: Option<f64>,
}

impl RunOptions {
    /// `steps` steps, saving every state.
    pub fn steps(steps: usize) -> Self {
        RunOptions { steps, save: Save::Every { n: 1 }, divergence: 1e30, stop_loss: None }
    }
    /// Stops at the first step whose loss is at most `loss` (see [`RunOptions::stop_loss`]).
    pub fn stop_loss(mut self, loss: f64) -> Self {
        self.stop_loss = Some(loss);
        self
    }
    /// Sets the save schedule.
    pub fn save(mut self, save: Save) -> Self {
        self.save = save;
        self
    }
}

/// Runs `opt` from `p0` for `opts.steps` steps. Time advances by [`crate::optim::Method::dt`]
/// per step. A non-finite value or a diverging loss stops the run with the matching
/// [`Outcome`]; the trajectory then ends at the last finite state. The shorthand for
/// `Run::new(model, opt, p0, opts.clone()).monitor(monitor).run()` (see [`Run`]).
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
    Run::new(model, opt, p0, opts.clone()).monitor(monitor).run()
}

/// A discrete run: an optimizer iterated from a start, with the save schedule, monitor, a
/// recorded function of the state and observers of a [`crate::flow::FlowProblem`].
///
/// ```
/// use linflow::prelude::*;
/// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
/// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
/// let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
/// let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &0.0).unwrap();
/// // The end-to-end matrix's trace every 10 steps, without keeping the states.
/// let traj = Run::new(&model, &mut opt, &p0, RunOptions::steps(100).save(Save::Every { n: 10 }))
///     .record(|_t: &f64, p: &Params<f64>| {
///         let w = p.blocks[1].matmul(&p.blocks[0]);
///         vec![w.get(0, 0) + w.get(1, 1)]
///     })
///     .keep_states(false)
///     .run()
///     .unwrap();
/// assert_eq!(traj.recorded.len(), 11); // steps 0, 10, ..., 100
/// assert!(traj.states.is_empty());
/// ```
pub struct Run<'a, S: Scalar> {
    model: &'a Model<S>,
    opt: &'a mut Optimizer<S>,
    p0: &'a Params<S>,
    opts: RunOptions,
    monitor: Option<&'a mut Monitor<S>>,
    hooks: Hooks<'a, S>,
}

impl<'a, S: Scalar> Run<'a, S> {
    /// `opt` on `model` from `p0` with `opts`.
    pub fn new(model: &'a Model<S>, opt: &'a mut Optimizer<S>, p0: &'a Params<S>, opts: RunOptions) -> Self {
        Run { model, opt, p0, opts, monitor: None, hooks: Hooks::default() }
    }

    /// Sets the monitor whose laws are checked after every step.
    pub fn monitor(mut self, monitor: &'a mut Monitor<S>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Records `f(t, θ)` at every saved step into [`Trajectory::recorded`].
    pub fn record(mut self, f: impl FnMut(&S, &Params<S>) -> Vec<S> + 'a) -> Self {
        self.hooks.record(f);
        self
    }

    /// Whether the trajectory keeps the saved states (true by default).
    pub fn keep_states(mut self, keep: bool) -> Self {
        self.hooks.keep_states = keep;
        self
    }

    /// Adds an observer, shown the state and the optimizer's step record after the steps its
    /// `mode` selects (see [`crate::observe`]).
    pub fn observe(mut self, obs: &'a mut dyn Observer<S>, mode: ObserverMode) -> Self {
        self.hooks.observe(obs, mode);
        self
    }

    /// Runs the optimizer (see [`run`]).
    pub fn run(self) -> Result<Trajectory<S>> {
        let Run { model, opt, p0, opts, monitor, hooks } = self;
        model.check_params(p0)?;
        if let Some(s) = opts.stop_loss {
            if !(s.is_finite() && s >= 0.0) {
                return Err(crate::error::Error::invalid("stop_loss", format!("must be finite and >= 0, got {s}")));
            }
        }
        // Time is t_k = k·Δt in the run's number type, Δt = η or η/(1−β) from the method's own
        // hyperparameters (one product per saved step, so t_k is k·Δt correctly rounded, exactly
        // k·Δt in rationals).
        let dt = opt.method.dt();
        let time = |k: usize| dt.clone() * dt.from_i64_like(k as i64);
        let zero = dt.zero_like();
        let mut rec =
            Recorder::new(opts.steps as f64 * dt.to_f64(), opts.save.clone(), false).with(Some(model), None, hooks);
        rec.fixed_steps(opts.steps, dt.to_f64());
        let mut p = p0.clone();
        let loss0 = model.loss(&p).to_f64();
        let limit = opts.divergence * loss0.abs().max(1.0);
        let mut monitor = monitor;
        if let Some(m) = monitor.as_deref_mut() {
            m.start(model, &p);
        }
        rec.start(&p, &p);
        let calls0 = opt.grad_calls;
        let mut last = p.clone();
        let mut loss_now = loss0;
        let converged_at_start = opts.stop_loss.is_some_and(|s| loss0 <= s);
        if converged_at_start {
            rec.outcome = Outcome::Converged { step: 0, loss: loss0 };
        }
        for k in (1..=opts.steps).take_while(|_| !converged_at_start) {
            last.clone_from(&p);
            let step = opt.step(model, &mut p)?;
            let t = time(k);
            let loss = if p.is_finite() { model.loss(&p).to_f64() } else { f64::NAN };
            if !p.is_finite() || loss.is_nan() || loss.abs() > limit {
                rec.outcome = if p.is_finite() {
                    Outcome::Diverged { step: k, time: t.to_f64(), loss }
                } else {
                    Outcome::NonFinite { step: k, time: t.to_f64() }
                };
                if rec.last_saved().map(|s| s.step) != Some(k - 1) {
                    rec.save_with(&last, &last, None, &zero, k - 1, &time(k - 1));
                }
                break;
            }
            if let Some(m) = monitor.as_deref_mut() {
                m.after_step(model, &step, &p, k, &t);
            }
            rec.observe_step(k, &t, &p, Some(&step));
            if rec.is_save_step(k) {
                rec.save_with(&p, &p, Some(loss), &zero, k, &t);
            }
            loss_now = loss;
            if opts.stop_loss.is_some_and(|s| loss <= s) {
                rec.outcome = Outcome::Converged { step: k, loss };
                if rec.last_saved().map(|s| s.step) != Some(k) {
                    rec.save_with(&p, &p, Some(loss), &zero, k, &t);
                }
                break;
            }
        }
        if let (Some(stop_loss), Outcome::Done) = (opts.stop_loss, &rec.outcome) {
            rec.outcome = Outcome::NotConverged { steps: opts.steps, loss: loss_now, stop_loss };
        }
        let grad_calls = opt.grad_calls - calls0;
        // A discrete step accepts every step it takes; its right-hand side is the gradient.
        let accepted = rec.last_saved().map_or(0, |s| s.step);
        rec.stats = Stats { rhs_evals: grad_calls, accepted, rejected: 0 };
        let mut traj = rec.finish(opt.method.name().into(), grad_calls);
        if let Some(m) = monitor {
            traj.laws = m.reports();
        }
        Ok(traj)
    }
}
