//! Trajectories: what a run or a flow produced, and how it ended.

use crate::error::{Error, Result};
use crate::invariants::LawReport;
use crate::params::Params;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Reached the requested horizon.
    Done,
    /// The loss fell to the run's stop threshold ([`crate::run::RunOptions::stop_loss`]) at this
    /// step: the horizon of a run given one.
    Converged {
        /// The first step whose loss is at most the threshold.
        step: usize,
        /// The loss there.
        loss: f64,
    },
    /// A run with a stop threshold took all its steps without its loss falling to it.
    NotConverged {
        /// Steps taken.
        steps: usize,
        /// The loss after the last step.
        loss: f64,
        /// The threshold it did not reach.
        stop_loss: f64,
    },
    /// Stopped at the step limit before the horizon.
    StepLimit {
        /// Steps taken.
        steps: usize,
    },
    /// A NaN or infinity appeared at this step; the trajectory ends at the last finite state.
    NonFinite {
        /// Step at which it appeared.
        step: usize,
        /// Its time.
        time: f64,
    },
    /// The loss exceeded the divergence threshold at this step (the step size is too large).
    Diverged {
        /// Step at which it happened.
        step: usize,
        /// Its time.
        time: f64,
        /// The loss there.
        loss: f64,
    },
    /// An adaptive integrator's step size fell below the resolution of the time (a finite-time
    /// blow-up, or a vector field that is non-finite at every step size); the trajectory ends at
    /// the last accepted state, at time `t` (SciML's `DtLessThanMin`).
    StepUnderflow {
        /// Time of the last accepted state.
        t: f64,
        /// The step size last tried.
        h: f64,
        /// What the controller saw (error estimate, non-finite stages).
        reason: String,
    },
    /// An implicit method's stage equations did not converge; the trajectory ends at the last
    /// state reached, at time `t`.
    ConvergenceFailure {
        /// Time of the last state reached.
        t: f64,
        /// The step size of the failed step.
        h: f64,
        /// Iterations spent and the residual reached against the tolerance.
        reason: String,
    },
}

impl Outcome {
    /// Whether the run reached its horizon: all its steps or time, or its stop threshold.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done | Outcome::Converged { .. })
    }
}

/// When to save states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Save {
    /// Every `n` steps (and the last).
    Every {
        /// Interval in steps.
        n: usize,
    },
    /// About `count` log-spaced steps between 1 and the last (and step 0).
    LogSpaced {
        /// Number of points.
        count: usize,
    },
    /// At the first step at or after each of these times.
    Times {
        /// Times, increasing.
        times: Vec<f64>,
    },
    /// Only the initial and the final state.
    FinalOnly,
}

/// Work done by a run or a flow: evaluations of the right-hand side and accepted and rejected
/// steps (diffrax's `stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Evaluations of the right-hand side (vector field or optimizer step's gradients).
    pub rhs_evals: usize,
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps (error too large or a non-finite stage).
    pub rejected: usize,
}

impl Save {
    /// The step indices to save for a run of `steps` steps of length `dt`, always with 0 and `steps`.
    pub fn steps(&self, steps: usize, dt: f64) -> Vec<usize> {
        let mut v: Vec<usize> = match self {
            Save::Every { n } => (0..=steps).step_by((*n).max(1)).collect(),
            Save::LogSpaced { count } => {
                let c = (*count).max(2);
                let top = (steps.max(1) as f64).ln();
                (0..c).map(|i| (top * i as f64 / (c - 1) as f64).exp().round() as usize).collect()
            }
            Save::Times { times } => {
                times.iter().map(|t| ((t / dt) - 1e-9).ceil().max(0.0) as usize).filter(|&k| k <= steps).collect()
            }
            Save::FinalOnly => vec![],
        };
        v.push(0);
        v.push(steps);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The save times in $(0, t_1)$ for a flow with adaptive steps, which lands exactly on each
    /// (the final time is always saved). Step-counting schedules (`Every`, `LogSpaced`) need a
    /// fixed step and are an error here.
    pub fn times(&self, t1: f64) -> Result<Vec<f64>> {
        match self {
            Save::Times { times } => {
                if let Some(t) = times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
                    return Err(Error::invalid("save", format!("times must be finite and >= 0, got {t}")));
                }
                let mut v: Vec<f64> = times.iter().copied().filter(|&t| t > 0.0 && t < t1).collect();
                v.sort_by(f64::total_cmp);
                v.dedup();
                Ok(v)
            }
            Save::FinalOnly => Ok(Vec::new()),
            Save::Every { .. } | Save::LogSpaced { .. } => Err(Error::invalid(
                "save",
                "Every and LogSpaced count fixed steps: give an adaptive integrator Save::Times or Save::FinalOnly",
            )),
        }
    }
}

impl Save {
    /// `count` equally spaced times $t_1 k/\mathrm{count}$, $k = 1, \dots, \mathrm{count}$: a grid
    /// on which a flow and a discrete run with step $t_1/\mathrm{count}$ (or a divisor of it) save
    /// the same times.
    ///
    /// ```
    /// use linflow::trajectory::Save;
    /// assert_eq!(Save::grid(2.0, 4), Save::Times { times: vec![0.5, 1.0, 1.5, 2.0] });
    /// ```
    pub fn grid(t1: f64, count: usize) -> Save {
        Save::Times { times: (1..=count).map(|k| t1 * k as f64 / count as f64).collect() }
    }
}

/// A saved run: times, states, loss, invariant reports, gradient calls and the outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trajectory<S> {
    /// Method or integrator name.
    pub method: String,
    /// Number type, e.g. `f64`, `mpfr256`, `rational`.
    pub precision: String,
    /// Saved times, in the run's number type (`t_k = k·Δt` for discrete runs).
    pub times: Vec<S>,
    /// Step index of each saved state (`0` for flows with adaptive steps: see `times`).
    pub steps: Vec<usize>,
    /// Saved states (empty when the run was asked not to keep them: `keep_states(false)` on
    /// [`crate::flow::FlowProblem`] or [`crate::run::Run`]).
    pub states: Vec<Params<S>>,
    /// Loss at each saved point.
    pub loss: Vec<f64>,
    /// The recorded function of the state at each saved point (`FlowProblem::record`,
    /// `Run::record`; diffrax's `SaveAt(fn=…)`); empty when none was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<Vec<S>>,
    /// One report per tracked invariant.
    pub laws: Vec<LawReport>,
    /// The gap to the closed form attached with
    /// [`FlowProblem::reference`](crate::flow::FlowProblem::reference), over the saved points
    /// (NaN-propagating: a non-finite gap is the worst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<LawReport>,
    /// Passes of the model's gradient: for discrete runs the optimizer's count; for flows the
    /// field evaluations times [`crate::flow::VectorField::gradient_calls`] (a Hessian-vector
    /// product on dual numbers is one more pass).
    pub grad_calls: usize,
    /// Evaluations and accepted/rejected steps.
    #[serde(default)]
    pub stats: Stats,
    /// How the run ended.
    pub outcome: Outcome,
}

impl<S: Scalar> Trajectory<S> {
    /// The last saved state.
    ///
    /// # Panics
    /// When the states were not kept (`keep_states(false)`): use [`Trajectory::recorded`].
    pub fn last(&self) -> &Params<S> {
        self.states.last().expect("a trajectory keeps its states unless asked not to (keep_states(false))")
    }

    /// The same trajectory with states in `f64`.
    pub fn to_f64(&self) -> Trajectory<f64> {
        Trajectory {
            method: self.method.clone(),
            precision: self.precision.clone(),
            times: self.times.iter().map(Scalar::to_f64).collect(),
            steps: self.steps.clone(),
            states: self.states.iter().map(Params::to_f64).collect(),
            loss: self.loss.clone(),
            recorded: self.recorded.iter().map(|r| r.iter().map(Scalar::to_f64).collect()).collect(),
            laws: self.laws.clone(),
            reference: self.reference.clone(),
            grad_calls: self.grad_calls,
            stats: self.stats,
            outcome: self.outcome.clone(),
        }
    }

    /// CSV with columns `time, step, loss`, then every parameter entry (`b{block}_{row}_{col}`)
    /// when the states were kept.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("time,step,loss");
        if let Some(p) = self.states.first() {
            for (b, m) in p.blocks.iter().enumerate() {
                for i in 0..m.rows() {
                    for j in 0..m.cols() {
                        s.push_str(&format!(",b{b}_{i}_{j}"));
                    }
                }
            }
        }
        s.push('\n');
        for k in 0..self.times.len() {
            s.push_str(&format!("{:e},{},{:e}", self.times[k].to_f64(), self.steps[k], self.loss[k]));
            for x in self.states.get(k).into_iter().flat_map(Params::iter) {
                s.push_str(&format!(",{:e}", x.to_f64()));
            }
            s.push('\n');
        }
        s
    }
}
