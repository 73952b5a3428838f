//! Trajectories: what a run or a flow produced, and how it ended.

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
}

impl Outcome {
    /// Whether the run reached its horizon.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
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
    /// Saved states.
    pub states: Vec<Params<S>>,
    /// Loss at each saved state.
    pub loss: Vec<f64>,
    /// One report per tracked invariant.
    pub laws: Vec<LawReport>,
    /// Gradient (right-hand-side) evaluations.
    pub grad_calls: usize,
    /// How the run ended.
    pub outcome: Outcome,
}

impl<S: Scalar> Trajectory<S> {
    /// The last saved state.
    pub fn last(&self) -> &Params<S> {
        self.states.last().expect("a trajectory holds at least its initial state")
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
            laws: self.laws.clone(),
            grad_calls: self.grad_calls,
            outcome: self.outcome.clone(),
        }
    }

    /// CSV with columns `time, step, loss`, then every parameter entry (`b{block}_{row}_{col}`).
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
        for (k, p) in self.states.iter().enumerate() {
            s.push_str(&format!("{:e},{},{:e}", self.times[k].to_f64(), self.steps[k], self.loss[k]));
            for x in p.iter() {
                s.push_str(&format!(",{:e}", x.to_f64()));
            }
            s.push('\n');
        }
        s
    }
}
