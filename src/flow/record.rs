//! What every integrator reports to: the save schedule, the saved samples with their energy
//! integrals, the counters and how the integration ended.
//!
//! An integrator declares how it steps ([`Recorder::fixed_steps`] or [`Recorder::adaptive`]),
//! reports accepted steps ([`Recorder::accepted`], [`Recorder::observe_step`]) and, for adaptive
//! methods, lands on each [`Recorder::next_target`] and saves there ([`Recorder::save`]); it
//! counts its work in [`Recorder::stats`], and ends early with [`Recorder::non_finite`],
//! [`Recorder::step_underflow`], [`Recorder::convergence_failure`] or [`Recorder::step_limit`],
//! keeping the points it has. The recorder evaluates the loss, the recorded function of the state
//! ([`Hooks`]), the monitor and the observers at the saved points, so integrators never see the
//! model, the monitor or the observers. Discrete runs ([`crate::run::Run`]) save through the same
//! recorder.

use super::VectorField;
use crate::closed_form::reference::{Gap, Reference};
use crate::error::Result;
use crate::invariants::Monitor;
use crate::model::Model;
use crate::observe::{Observation, Observer, ObserverMode, Observers};
use crate::optim::StepRecord;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Save, Stats, Trajectory};

/// A function of the time and the state, saved at every saved point (diffrax's `SaveAt(fn=…)`).
pub type RecordFn<'a, S> = Box<dyn FnMut(&S, &Params<S>) -> Vec<S> + 'a>;

/// What a run or a flow does at its points besides saving the loss: a function of the state
/// recorded at every saved point, whether the states themselves are kept, and observers.
pub struct Hooks<'a, S: Scalar> {
    /// The function recorded into [`Trajectory::recorded`], if any.
    pub record: Option<RecordFn<'a, S>>,
    /// Whether [`Trajectory::states`] keeps the saved states (true by default).
    pub keep_states: bool,
    /// Observers called at the start, after steps and at the end.
    pub observers: Observers<'a, S>,
    /// A closed form compared with the state at every saved point, if any.
    pub reference: Option<Box<dyn Reference<S> + 'a>>,
}

impl<S: Scalar> Default for Hooks<'_, S> {
    fn default() -> Self {
        Hooks { record: None, keep_states: true, observers: Observers::default(), reference: None }
    }
}

impl<'a, S: Scalar> Hooks<'a, S> {
    /// Records `f(t, y)` at every saved point.
    pub fn record(&mut self, f: impl FnMut(&S, &Params<S>) -> Vec<S> + 'a) {
        self.record = Some(Box::new(f));
    }
    /// Adds an observer.
    pub fn observe(&mut self, obs: &'a mut dyn Observer<S>, mode: ObserverMode) {
        self.observers.push(obs, mode);
    }
}

/// The last saved state.
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

/// Collects the saved points (loss, recorded function, states), counters and the outcome of one
/// integration over $[0, t_1]$ or one discrete run, and calls the monitor and the observers.
///
/// The save schedule lives here and nowhere else: a fixed-step method declares its steps
/// ([`Recorder::fixed_steps`]) and reports each accepted step ([`Recorder::accepted`]), which
/// saves on the schedule; an adaptive method declares itself ([`Recorder::adaptive`]), asks for
/// the next time to land on ([`Recorder::next_target`]), saves there ([`Recorder::save`]) and
/// shows its accepted steps to the observers ([`Recorder::observe_step`]).
pub struct Recorder<'a, S: Scalar> {
    /// Final time.
    pub t1: f64,
    /// The save schedule.
    pub save: Save,
    /// Whether the integrator should accumulate $\int_0^t\|F\|^2ds$ (the energy quadrature hook).
    pub energy: bool,
    /// Work done so far.
    pub stats: Stats,
    /// How the integration ended (`Done` until an integrator says otherwise).
    pub outcome: Outcome,
    model: Option<&'a Model<S>>,
    monitor: Option<&'a mut Monitor<S>>,
    hooks: Hooks<'a, S>,
    gap: Option<Gap<S>>,
    times: Vec<S>,
    steps: Vec<usize>,
    states: Vec<Params<S>>,
    loss: Vec<f64>,
    recorded: Vec<Vec<S>>,
    last: Option<Sample<S>>,
    targets: Vec<f64>,
    next_target: usize,
    save_steps: Vec<usize>,
    next_step: usize,
}

impl<'a, S: Scalar> Recorder<'a, S> {
    /// A recorder for $[0, t_1]$ with schedule `save`, without a model, monitor or hooks.
    pub fn new(t1: f64, save: Save, energy: bool) -> Self {
        Recorder {
            t1,
            save,
            energy,
            stats: Stats::default(),
            outcome: Outcome::Done,
            model: None,
            monitor: None,
            hooks: Hooks::default(),
            gap: None,
            times: Vec::new(),
            steps: Vec::new(),
            states: Vec::new(),
            loss: Vec::new(),
            recorded: Vec::new(),
            last: None,
            targets: Vec::new(),
            next_target: 0,
            save_steps: Vec::new(),
            next_step: 0,
        }
    }

    /// Sets the model that defines the loss of a saved state, the monitor checked at each save
    /// (its time laws, and the energy identity when `energy`), and the hooks.
    pub fn with(
        mut self,
        model: Option<&'a Model<S>>,
        monitor: Option<&'a mut Monitor<S>>,
        hooks: Hooks<'a, S>,
    ) -> Self {
        self.model = model;
        self.monitor = if model.is_some() { monitor } else { None };
        self.gap = hooks.reference.as_ref().map(|r| Gap::new("reference", &r.name()));
        self.hooks = hooks;
        self
    }

    /// Starts at `y0` (time 0, position `pos`, the part of the state the model reads): the
    /// monitor's and observers' initial values, and the first saved point.
    pub fn start(&mut self, y0: &Params<S>, pos: &Params<S>) {
        let t0 = y0.proto().zero_like();
        if let (Some(model), Some(mon)) = (self.model, self.monitor.as_deref_mut()) {
            mon.start(model, y0);
        }
        let obs = Observation { step: 0, t: &t0, state: y0, model: self.model, step_record: None };
        self.hooks.observers.start(&obs);
        self.store(y0, pos, None, &t0.clone(), 0, &t0);
    }

    /// Step indices at which a fixed-step method with `n` steps of length `h` saves (0 excluded,
    /// `n` included): the discrete runs' [`Save::steps`].
    pub fn save_steps(&self, n: usize, h: f64) -> Vec<usize> {
        self.save.steps(n, h).into_iter().filter(|&k| k > 0).collect()
    }

    /// Declares a fixed-step method of `n` steps of length `h`: [`Recorder::accepted`] then saves
    /// on the schedule's steps (for `Save::Times`, the first step at or after each time).
    pub fn fixed_steps(&mut self, n: usize, h: f64) {
        self.save_steps = self.save_steps(n, h);
        self.next_step = 0;
    }

    /// Times at which an adaptive method stops and saves, increasing, ending with `t1`.
    pub fn save_times(&self) -> Result<Vec<f64>> {
        let mut v = self.save.times(self.t1)?;
        v.push(self.t1);
        v.dedup();
        Ok(v)
    }

    /// Declares an adaptive method, which lands on every save time ([`Recorder::next_target`]).
    pub fn adaptive(&mut self) -> Result<()> {
        self.targets = self.save_times()?;
        self.next_target = 0;
        Ok(())
    }

    /// The next save time after `reached` (the time integrated to so far), `None` when `t1` has
    /// been reached.
    pub fn next_target(&mut self, reached: f64) -> Option<f64> {
        while self.next_target < self.targets.len() && self.targets[self.next_target] <= reached {
            self.next_target += 1;
        }
        self.targets.get(self.next_target).copied()
    }

    /// Whether any observer was added.
    pub fn observing(&self) -> bool {
        !self.hooks.observers.is_empty()
    }

    /// Whether some observer is shown step `k` (a flat-state driver converts its state only then).
    pub fn wants_step(&self, k: usize) -> bool {
        !self.hooks.observers.is_empty() && self.hooks.observers.wants(k)
    }

    /// Shows the state `y` after step `k` (time `t`) to the observers that ask for it; `step_record`
    /// is a discrete run's step.
    pub fn observe_step(&mut self, k: usize, t: &S, y: &Params<S>, step_record: Option<&StepRecord<S>>) {
        if self.wants_step(k) {
            let obs = Observation { step: k, t, state: y, model: self.model, step_record };
            self.hooks.observers.step(&obs);
        }
    }

    /// Reports accepted step `k` of a fixed-step method, reaching `y` at time `t` with energy
    /// integral `e`: the observers see it, and it is saved if the schedule says so.
    pub fn accepted(&mut self, field: &dyn VectorField<S>, k: usize, t: &S, y: &Params<S>, e: &S) {
        self.observe_step(k, t, y, None);
        if self.is_save_step(k) {
            self.save(field, y, e, k, t);
        }
    }

    /// Whether step `k` of a fixed-step schedule ([`Recorder::fixed_steps`]) is saved; steps are
    /// asked about in increasing order.
    pub fn is_save_step(&mut self, k: usize) -> bool {
        while self.next_step < self.save_steps.len() && self.save_steps[self.next_step] < k {
            self.next_step += 1;
        }
        self.save_steps.get(self.next_step) == Some(&k)
    }

    /// Saves `y` at time `t` after `step` steps, with energy integral `energy`.
    pub fn save(&mut self, field: &dyn VectorField<S>, y: &Params<S>, energy: &S, step: usize, t: &S) {
        let pos = field.position(y);
        self.save_with(y, &pos, None, energy, step, t);
    }

    /// Saves `y` (position `pos`) at time `t` after `step` steps; `loss` when already computed.
    /// The monitor checks its time laws on `y` and its energy identity on `pos`.
    pub fn save_with(&mut self, y: &Params<S>, pos: &Params<S>, loss: Option<f64>, energy: &S, step: usize, t: &S) {
        if let (Some(model), Some(mon)) = (self.model, self.monitor.as_deref_mut()) {
            mon.at_time(model, y, step, t);
            if self.energy {
                mon.at_time_energy(model, pos, energy, step, t);
            }
        }
        self.store(y, pos, loss, energy, step, t);
    }

    fn store(&mut self, y: &Params<S>, pos: &Params<S>, loss: Option<f64>, energy: &S, step: usize, t: &S) {
        let loss = loss.unwrap_or_else(|| self.model.map_or(f64::NAN, |m| m.loss(pos).to_f64()));
        self.times.push(t.clone());
        self.steps.push(step);
        self.loss.push(loss);
        if let Some(f) = self.hooks.record.as_mut() {
            self.recorded.push(f(t, y));
        }
        if let (Some(r), Some(g)) = (self.hooks.reference.as_deref(), self.gap.as_mut()) {
            g.check(r, step, t, y);
        }
        if self.hooks.keep_states {
            self.states.push(y.clone());
        }
        match &mut self.last {
            Some(s) => {
                s.t.clone_from(t);
                s.step = step;
                s.y.clone_from(y);
                s.energy.clone_from(energy);
            }
            None => self.last = Some(Sample { t: t.clone(), step, y: y.clone(), energy: energy.clone() }),
        }
    }

    /// The last saved state (the initial one before any save).
    pub fn last_saved(&self) -> Option<&Sample<S>> {
        self.last.as_ref()
    }

    /// Ends at the last finite state `last` (time `t`, `step` steps) after a non-finite value
    /// appeared at time `t_bad`.
    pub fn non_finite(
        &mut self,
        field: &dyn VectorField<S>,
        last: &Params<S>,
        energy: &S,
        step: usize,
        t: &S,
        t_bad: f64,
    ) {
        self.outcome = Outcome::NonFinite { step: step + 1, time: t_bad };
        self.save_last(field, last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because the step size `h` underflowed.
    #[allow(clippy::too_many_arguments)] // the state, where and why: all are reported
    pub fn step_underflow(
        &mut self,
        field: &dyn VectorField<S>,
        last: &Params<S>,
        energy: &S,
        step: usize,
        t: &S,
        h: f64,
        reason: String,
    ) {
        self.outcome = Outcome::StepUnderflow { t: t.to_f64(), h, reason };
        self.save_last(field, last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because an implicit step of size `h` did not converge.
    #[allow(clippy::too_many_arguments)] // the state, where and why: all are reported
    pub fn convergence_failure(
        &mut self,
        field: &dyn VectorField<S>,
        last: &Params<S>,
        energy: &S,
        step: usize,
        t: &S,
        h: f64,
        reason: String,
    ) {
        self.outcome = Outcome::ConvergenceFailure { t: t.to_f64(), h, reason };
        self.save_last(field, last, energy, step, t);
    }

    /// Ends at `last` (time `t`) because the step budget was spent.
    pub fn step_limit(&mut self, field: &dyn VectorField<S>, last: &Params<S>, energy: &S, step: usize, t: &S) {
        self.outcome = Outcome::StepLimit { steps: step };
        self.save_last(field, last, energy, step, t);
    }

    /// Keeps the state where an integration stopped early (unless it was just saved).
    fn save_last(&mut self, field: &dyn VectorField<S>, last: &Params<S>, energy: &S, step: usize, t: &S) {
        let tf = t.to_f64();
        let saved = self.last.as_ref().map_or(f64::NEG_INFINITY, |s| s.t.to_f64());
        if tf > saved {
            self.save(field, last, energy, step, t);
        }
    }

    /// The trajectory: the saved points, the monitor's reports, `method`'s name, the counters
    /// and `grad_calls`; the observers see the last saved state.
    pub fn finish(mut self, method: String, grad_calls: usize) -> Trajectory<S> {
        if let Some(s) = &self.last {
            let obs = Observation { step: s.step, t: &s.t, state: &s.y, model: self.model, step_record: None };
            self.hooks.observers.end(&obs);
        }
        let precision = self.last.as_ref().map_or_else(String::new, |s| s.y.proto().kind_name());
        Trajectory {
            method,
            precision,
            times: self.times,
            steps: self.steps,
            states: self.states,
            loss: self.loss,
            recorded: self.recorded,
            reference: self.gap.map(Gap::finish),
            laws: self.monitor.map_or_else(Vec::new, |m| m.reports()),
            grad_calls,
            stats: self.stats,
            outcome: self.outcome,
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
