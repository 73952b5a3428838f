//! Observers: user code called at the start of a run or a flow, after its steps, and at the end
//! (argmin's observer pattern), with a mode that says how often.
//!
//! [`FlowProblem::observe`](crate::flow::FlowProblem::observe) and
//! [`Run::observe`](crate::run::Run::observe) take any number of observers; the
//! [`Monitor`] is one (it checks its laws at the steps it is shown).
//!
//! ```
//! use linflow::prelude::*;
//! use linflow::observe::{Observation, Observer, ObserverMode};
//! /// Counts the steps it is shown.
//! struct Count(usize);
//! impl<S: Scalar> Observer<S> for Count {
//!     fn step(&mut self, _: &Observation<S>) {
//!         self.0 += 1;
//!     }
//! }
//! let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
//! let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
//! let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
//! let mut every = Count(0);
//! let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 1.0)
//!     .model(&model)
//!     .observe(&mut every, ObserverMode::Every(10))
//!     .solve(&Integrator::Rk4 { h: 0.01 })
//!     .unwrap();
//! assert!(traj.outcome.is_done());
//! assert_eq!(every.0, 10); // steps 10, 20, ..., 100
//! ```

use crate::invariants::Monitor;
use crate::model::Model;
use crate::optim::StepRecord;
use crate::params::Params;
use crate::scalar::Scalar;

/// How often an observer's [`Observer::step`] is called ([`Observer::start`] and
/// [`Observer::end`] are always called).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObserverMode {
    /// After every (accepted) step.
    Always,
    /// After steps $n, 2n, 3n, \dots$ (`Every(0)` is never).
    Every(usize),
    /// Only at the start and the end.
    Final,
}

impl ObserverMode {
    /// Whether the observer is shown step `k` (counted from 1).
    pub fn wants(&self, k: usize) -> bool {
        match *self {
            ObserverMode::Always => true,
            ObserverMode::Every(n) => n > 0 && k % n == 0,
            ObserverMode::Final => false,
        }
    }
}

/// What an observer is shown.
pub struct Observation<'e, S: Scalar> {
    /// Steps taken so far (accepted steps for flows; 0 at the start).
    pub step: usize,
    /// Time, in the run's number type.
    pub t: &'e S,
    /// The whole state (for a flow, the field's state: phase-space fields such as heavy ball
    /// append velocities to the positions).
    pub state: &'e Params<S>,
    /// The model, for discrete runs and for flows given one.
    pub model: Option<&'e Model<S>>,
    /// For discrete runs, what the optimizer's last step did (needed by drift laws); `None` at the
    /// start, at the end and for flows.
    pub step_record: Option<&'e StepRecord<S>>,
}

/// User code run alongside a discrete run or a flow.
///
/// For flows, `step` is called after accepted steps of every integrator; the `ode_solvers`
/// baselines (`dopri5`, `dop853`) report their accepted steps at the end of each segment between
/// save times, in order.
pub trait Observer<S: Scalar> {
    /// Called once with the initial state.
    fn start(&mut self, _obs: &Observation<S>) {}
    /// Called after the steps the observer's [`ObserverMode`] selects.
    fn step(&mut self, obs: &Observation<S>);
    /// Called once with the last state reached (the final state, or where a failed run stopped).
    fn end(&mut self, _obs: &Observation<S>) {}
}

/// The monitor as an observer: its initial values at the start, then its laws at every step it
/// is shown (drift laws need a discrete run's step record and are skipped for flows). It needs
/// the model: without one it checks nothing. The energy identity is checked only through
/// [`crate::flow::FlowProblem::monitor`], which has the integrator's quadrature.
impl<S: Scalar> Observer<S> for Monitor<S> {
    fn start(&mut self, obs: &Observation<S>) {
        if let Some(model) = obs.model {
            Monitor::start(self, model, obs.state);
        }
    }
    fn step(&mut self, obs: &Observation<S>) {
        match (obs.model, obs.step_record) {
            (Some(model), Some(rec)) => self.after_step(model, rec, obs.state, obs.step, obs.t),
            (Some(model), None) => self.at_time(model, obs.state, obs.step, obs.t),
            (None, _) => {}
        }
    }
}

/// The observers of one run, each with its mode.
pub struct Observers<'a, S: Scalar> {
    list: Vec<(&'a mut dyn Observer<S>, ObserverMode)>,
}

impl<S: Scalar> Default for Observers<'_, S> {
    fn default() -> Self {
        Observers { list: Vec::new() }
    }
}

impl<'a, S: Scalar> Observers<'a, S> {
    /// Adds an observer.
    pub fn push(&mut self, obs: &'a mut dyn Observer<S>, mode: ObserverMode) {
        self.list.push((obs, mode));
    }
    /// Whether no observer was added.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Whether some observer is shown step `k`.
    pub fn wants(&self, k: usize) -> bool {
        self.list.iter().any(|(_, m)| m.wants(k))
    }
    /// Calls every observer's `start`.
    pub fn start(&mut self, obs: &Observation<S>) {
        self.list.iter_mut().for_each(|(o, _)| o.start(obs));
    }
    /// Calls `step` of the observers that are shown step `obs.step`.
    pub fn step(&mut self, obs: &Observation<S>) {
        for (o, m) in &mut self.list {
            if m.wants(obs.step) {
                o.step(obs);
            }
        }
    }
    /// Calls every observer's `end`.
    pub fn end(&mut self, obs: &Observation<S>) {
        self.list.iter_mut().for_each(|(o, _)| o.end(obs));
    }
}
