//! A flow problem: the field, the start, the horizon, the save schedule and the observers.

use super::record::Hooks;
use super::VectorField;
use crate::closed_form::reference::Reference;
use crate::error::{Error, Result};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::observe::{Observer, ObserverMode};
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::Save;

/// $\dot y = F(t, y)$ from $y(0) = y_0$ over $[0, t_1]$, saved on a [`Save`] schedule, solved
/// by [`FlowProblem::solve`] with any [`crate::flow::Integrator`].
///
/// * `model` (optional) evaluates the loss of every saved state (on the field's
///   [`VectorField::position`]) and checks `y0`'s shapes; without one the loss column is NaN
///   (no loss is defined) and the field checks its own inputs. Fields that act on any chain of
///   matrices, such as the balancing flows, need none.
/// * `monitor` (optional, needs the model its quantities read) checks its time laws at each save.
///
/// ```
/// use linflow::prelude::*;
/// use linflow::flow::fields::MomentMapFlow;
/// // A balancing flow needs no model: it acts on the blocks.
/// let w0 = init::gaussian(&Arch::deep_linear(&[2, 3, 2]).unwrap(), 0.8, &mut data::rng(1));
/// let traj = FlowProblem::new(MomentMapFlow, &w0, 1.0)
///     .save(Save::Times { times: vec![0.25, 0.5] })
///     .solve(&Integrator::Rk4 { h: 0.01 })
///     .unwrap();
/// assert_eq!(traj.times, vec![0.0, 0.25, 0.5, 1.0]);
/// assert_eq!(traj.stats.rhs_evals, 4 * 100); // RK4: four evaluations per step
/// ```
pub struct FlowProblem<'a, S: Scalar, F> {
    /// The vector field.
    pub field: F,
    /// The initial state.
    pub y0: &'a Params<S>,
    /// Final time (the flow starts at 0).
    pub t1: f64,
    /// Which states to keep (`FinalOnly` by default; the initial state is always kept).
    pub save: Save,
    /// The model that defines the loss of a state, if any.
    pub model: Option<&'a Model<S>>,
    /// Laws checked at every save, if any.
    pub monitor: Option<&'a mut Monitor<S>>,
    /// A recorded function of the state, whether states are kept, observers.
    pub hooks: Hooks<'a, S>,
}

impl<'a, S: Scalar, F: VectorField<S>> FlowProblem<'a, S, F> {
    /// The flow of `field` from `y0` over `[0, t1]`, saving the final state only.
    pub fn new(field: F, y0: &'a Params<S>, t1: f64) -> Self {
        FlowProblem { field, y0, t1, save: Save::FinalOnly, model: None, monitor: None, hooks: Hooks::default() }
    }

    /// Sets the save schedule.
    pub fn save(mut self, save: Save) -> Self {
        self.save = save;
        self
    }

    /// Sets the model that defines the loss (and checks the start's shapes).
    pub fn model(mut self, model: &'a Model<S>) -> Self {
        self.model = Some(model);
        self
    }

    /// Sets the monitor whose laws are checked at every save (needs [`FlowProblem::model`]).
    pub fn monitor(mut self, monitor: &'a mut Monitor<S>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Records `f(t, y)` at every saved point into [`Trajectory::recorded`](crate::trajectory::Trajectory::recorded)
    /// (diffrax's `SaveAt(fn=…)`); `y` is the whole state of the field.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
    /// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
    /// let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
    /// // The squared norm of the first layer, without keeping the states.
    /// let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 1.0)
    ///     .model(&model)
    ///     .save(Save::Times { times: vec![0.5] })
    ///     .record(|_t: &f64, y: &Params<f64>| vec![y.blocks[0].as_slice().iter().map(|x| x * x).sum()])
    ///     .keep_states(false)
    ///     .solve(&Integrator::Rk4 { h: 0.01 })
    ///     .unwrap();
    /// assert_eq!(traj.recorded.len(), 3); // t = 0, 0.5, 1
    /// assert!(traj.states.is_empty());
    /// assert_eq!(traj.recorded[0][0], p0.blocks[0].as_slice().iter().map(|x| x * x).sum::<f64>());
    /// ```
    pub fn record(mut self, f: impl FnMut(&S, &Params<S>) -> Vec<S> + 'a) -> Self {
        self.hooks.record(f);
        self
    }

    /// Whether the trajectory keeps the saved states (true by default; the loss and the recorded
    /// function are kept either way).
    pub fn keep_states(mut self, keep: bool) -> Self {
        self.hooks.keep_states = keep;
        self
    }

    /// Adds an observer, called at the start, after the accepted steps its `mode` selects, and at
    /// the end (see [`crate::observe`]).
    pub fn observe(mut self, obs: &'a mut dyn Observer<S>, mode: ObserverMode) -> Self {
        self.hooks.observe(obs, mode);
        self
    }

    /// Attaches a closed form: the solver compares it with the state at every saved point and
    /// reports the worst gap in [`Trajectory::reference`](crate::trajectory::Trajectory::reference)
    /// (SciML's `analytic`; see [`crate::closed_form::reference`]).
    pub fn reference(mut self, r: impl Reference<S> + 'a) -> Self {
        self.hooks.reference = Some(Box::new(r));
        self
    }

    /// Checks the inputs, naming the field at fault.
    pub fn validate(&self) -> Result<()> {
        if !(self.t1.is_finite() && self.t1 >= 0.0) {
            return Err(Error::invalid("t1", format!("must be finite and >= 0, got {}", self.t1)));
        }
        if let Save::Times { times } = &self.save {
            if let Some(t) = times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
                return Err(Error::invalid("save_times", format!("times must be finite and >= 0, got {t}")));
            }
        }
        if !self.y0.is_finite() {
            return Err(Error::invalid("y0", "the initial state must have finite entries"));
        }
        match (self.model, &self.monitor) {
            (Some(model), _) => model.check_params(&self.field.position(self.y0))?,
            (None, Some(m)) if !m.tracked.is_empty() || m.tracks_energy() => {
                return Err(Error::invalid("model", "a monitor needs the model whose quantities and loss it reads"))
            }
            _ => {}
        }
        Ok(())
    }
}
