//! What every integrator reports to: the save schedule, the saved samples with their energy
//! integrals, the counters and how the integration ended.
//!
//! An integrator asks the [`Recorder`] where to stop ([`Recorder::save_steps`] for fixed steps,
//! [`Recorder::save_times`] for adaptive ones, which land exactly on each), pushes a sample there
//! ([`Recorder::save`]), counts its work in [`Recorder::stats`], and ends early with
//! [`Recorder::non_finite`], [`Recorder::step_underflow`], [`Recorder::convergence_failure`] or
//! [`Recorder::step_limit`], keeping the samples it has. [`crate::flow::solve`] turns the samples
//! into a [`crate::trajectory::Trajectory`] (losses, laws) afterwards, so integrators never see
//! the model or the monitor.

use crate::error::Result;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Save, Stats};

/// One saved state.
#[derive(Clone, Debug)]
pub struct Sample<S> {
    /// Time, in the working precision.
    pub t: S,
    /// Steps taken (accepted) up to here.
    pub step: usize,
    /// The state.
    pub y: Params<S>,
    /// $\int_0^t\|F\|^2ds$ by the integrator's own quadrature (zero when not tracked).
    pub energy: S,
}

/// Collects samples, counters and the outcome of one integration over $[0, t_1]$.
#[derive(Debug)]
pub struct Recorder<S: Scalar> {
    /// Final time.
    pub t1: f64,
    /// The save schedule.
    pub save: Save,
    /// Whether the integrator should accumulate $\int_0^t\|F\|^2ds$ (the energy quadrature hook).
    pub energy: bool,
    /// Samples after the initial state, in time order.
    pub samples: Vec<Sample<S>>,
    /// Work done so far.
    pub stats: Stats,
    /// How the integration ended (`Done` until an integrator says otherwise).
    pub outcome: Outcome,
}

impl<S: Scalar> Recorder<S> {
    /// A recorder for $[0, t_1]$ with schedule `save`.
    pub fn new(t1: f64, save: Save, energy: bool) -> Self {
        Recorder { t1, save, energy, samples: Vec::new(), stats: Stats::default(), outcome: Outcome::Done }
    }

    /// Step indices at which a fixed-step method with `n` steps of length `h` saves (0 excluded,
    /// `n` included): the discrete runs' [`Save::steps`].
    pub fn save_steps(&self, n: usize, h: f64) -> Vec<usize> {
        self.save.steps(n, h).into_iter().filter(|&k| k > 0).collect()
    }

    /// Times at which an adaptive method stops and saves, increasing, ending with `t1`.
    pub fn save_times(&self) -> Result<Vec<f64>> {
        let mut v = self.save.times(self.t1)?;
        v.push(self.t1);
        v.dedup();
        Ok(v)
    }

    /// Saves `y` at time `t` after `step` steps, with energy integral `energy`.
    pub fn save(&mut self, y: &Params<S>, energy: &S, step: usize, t: &S) {
        self.samples.push(Sample { t: t.clone(), step, y: y.clone(), energy: energy.clone() });
    }

    /// Ends at the last finite state `last` (time `t`, `step` steps) after a non-finite value
    /// appeared at time `t_bad`.
    pub fn non_finite(&mut self, last: &Params<S>, energy: &S, step: usize, t: &S, t_bad: f64) {
        self.outcome = Outcome::NonFinite { step: step + 1, time: t_bad };
        self.save_last(last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because the step size `h` underflowed.
    pub fn step_underflow(&mut self, last: &Params<S>, energy: &S, step: usize, t: &S, h: f64, reason: String) {
        self.outcome = Outcome::StepUnderflow { t: t.to_f64(), h, reason };
        self.save_last(last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because an implicit step of size `h` did not converge.
    pub fn convergence_failure(&mut self, last: &Params<S>, energy: &S, step: usize, t: &S, h: f64, reason: String) {
        self.outcome = Outcome::ConvergenceFailure { t: t.to_f64(), h, reason };
        self.save_last(last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because the step budget was spent.
    pub fn step_limit(&mut self, last: &Params<S>, energy: &S, step: usize, t: &S) {
        self.outcome = Outcome::StepLimit { steps: step };
        self.save_last(last, energy, step, t);
    }

    /// Keeps the state where an integration stopped early (unless it was just saved; the initial
    /// state is kept by `solve`).
    fn save_last(&mut self, last: &Params<S>, energy: &S, step: usize, t: &S) {
        let tf = t.to_f64();
        let saved = self.samples.last().map_or(0.0, |s| s.t.to_f64());
        if tf > saved {
            self.save(last, energy, step, t);
        }
    }
}

/// `2^{1-p}` for a number type of `p` bits (`None` for exact rationals).
pub fn epsilon_of<S: Scalar>(proto: &S) -> Option<S> {
    let bits = proto.precision()?;
    let mut e = proto.one_like();
    let half = proto.ratio_like(1, 2);
    for _ in 1..bits {
        e *= &half;
    }
    Some(e)
}

/// `dst ← src`, entry by entry, reusing `dst`'s storage.
pub fn copy_into<S: Scalar>(dst: &mut Params<S>, src: &Params<S>) {
    for (d, s) in dst.iter_mut().zip(src.iter()) {
        d.clone_from(s);
    }
}

/// Largest absolute entry.
pub fn max_abs<S: Scalar>(p: &Params<S>) -> S {
    let mut m = p.proto().zero_like();
    for x in p.iter() {
        let a = x.abs();
        if a > m {
            m = a;
        }
    }
    m
}
