use super::VectorField;
use crate::error::{Error, Result};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Trajectory};
use serde::{Deserialize, Serialize};

/// A time integrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Integrator {
    /// Explicit Euler (order 1) with fixed step `h`.
    Euler {
        /// Step.
        h: f64,
    },
    /// Heun's method (order 2) with fixed step `h`.
    Heun {
        /// Step.
        h: f64,
    },
    /// Classical Runge–Kutta (order 4) with fixed step `h`.
    Rk4 {
        /// Step.
        h: f64,
    },
}

impl Integrator {
    /// Name for reports.
    pub fn name(&self) -> String {
        match self {
            Integrator::Euler { .. } => "euler".into(),
            Integrator::Heun { .. } => "heun".into(),
            Integrator::Rk4 { .. } => "rk4".into(),
        }
    }

    /// Butcher tableau `(a, b, c)` with rational coefficients `(num, den)`.
    #[allow(clippy::type_complexity)]
    fn tableau(&self) -> (Vec<Vec<(i64, i64)>>, Vec<(i64, i64)>, Vec<(i64, i64)>) {
        match self {
            Integrator::Euler { .. } => (vec![vec![]], vec![(1, 1)], vec![(0, 1)]),
            Integrator::Heun { .. } => (vec![vec![], vec![(1, 1)]], vec![(1, 2), (1, 2)], vec![(0, 1), (1, 1)]),
            Integrator::Rk4 { .. } => (
                vec![vec![], vec![(1, 2)], vec![(0, 1), (1, 2)], vec![(0, 1), (0, 1), (1, 1)]],
                vec![(1, 6), (1, 3), (1, 3), (1, 6)],
                vec![(0, 1), (1, 2), (1, 2), (1, 1)],
            ),
        }
    }

    fn step_size(&self) -> f64 {
        match self {
            Integrator::Euler { h } | Integrator::Heun { h } | Integrator::Rk4 { h } => *h,
        }
    }
}

/// Options of [`solve`].
#[derive(Clone, Debug)]
pub struct SolveOptions {
    /// Final time (the flow starts at 0).
    pub t1: f64,
    /// Times at which to save the state and check the laws (`t1` is always added).
    pub save_times: Vec<f64>,
}

/// Integrates `field` from `y0` over `[0, t1]`, saving at `save_times` (where steps land: fixed
/// step methods take `ceil(t1/h)` equal steps), with `monitor` checking time laws at each save.
/// `model` evaluates the loss of saved states.
pub fn solve<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    model: &Model<S>,
    y0: &Params<S>,
    integrator: &Integrator,
    opts: &SolveOptions,
    monitor: &mut Monitor<S>,
) -> Result<Trajectory<S>> {
    model.check_params(&super::fields::position(model, y0))?;
    let h = integrator.step_size();
    if !(h.is_finite() && h > 0.0) {
        return Err(Error::invalid("h", format!("step must be finite and > 0, got {h}")));
    }
    if !(opts.t1.is_finite() && opts.t1 >= 0.0) {
        return Err(Error::invalid("t1", format!("must be finite and >= 0, got {}", opts.t1)));
    }
    let n = (opts.t1 / h).ceil() as usize;
    let proto = y0.proto();
    let hs = proto.from_f64_like(opts.t1) / proto.from_i64_like(n.max(1) as i64);
    let hf = opts.t1 / n.max(1) as f64;
    let mut save: Vec<usize> =
        opts.save_times.iter().map(|t| ((t / hf) - 1e-9).ceil().max(0.0) as usize).filter(|&k| k <= n).collect();
    save.push(n);
    save.sort_unstable();
    save.dedup();
    let (a, b, c) = integrator.tableau();
    let conv = |(p, q): (i64, i64)| proto.ratio_like(p, q);
    let a: Vec<Vec<S>> = a.into_iter().map(|r| r.into_iter().map(conv).collect()).collect();
    let b: Vec<S> = b.into_iter().map(conv).collect();
    let c: Vec<S> = c.into_iter().map(conv).collect();
    let mut traj = Trajectory {
        method: integrator.name(),
        precision: proto.kind_name(),
        times: vec![0.0],
        steps: vec![0],
        states: vec![y0.clone()],
        loss: vec![model.loss(&super::fields::position(model, y0)).to_f64()],
        laws: Vec::new(),
        grad_calls: 0,
        outcome: Outcome::Done,
    };
    monitor.start(model, y0);
    let mut y = y0.clone();
    let mut t = proto.zero_like();
    let mut k_stages: Vec<Params<S>> = vec![y0.zeros_like(); b.len()];
    let mut next = 0;
    for step in 1..=n {
        for i in 0..b.len() {
            let mut yi = y.clone();
            for (j, aij) in a[i].iter().enumerate() {
                if !aij.is_zero() {
                    yi.axpy(&(aij.clone() * hs.clone()), &k_stages[j]);
                }
            }
            let ti = t.clone() + c[i].clone() * hs.clone();
            let (head, tail) = k_stages.split_at_mut(i);
            let _ = head;
            field.eval(&ti, &yi, &mut tail[0]);
            traj.grad_calls += 1;
        }
        let last = y.clone();
        for (bi, ki) in b.iter().zip(&k_stages) {
            y.axpy(&(bi.clone() * hs.clone()), ki);
        }
        t += &hs;
        if !y.is_finite() {
            traj.outcome = Outcome::NonFinite { step, time: step as f64 * hf };
            traj.times.push((step - 1) as f64 * hf);
            traj.steps.push(step - 1);
            traj.loss.push(model.loss(&super::fields::position(model, &last)).to_f64());
            traj.states.push(last);
            break;
        }
        while next < save.len() && save[next] < step {
            next += 1;
        }
        if next < save.len() && save[next] == step {
            monitor.at_time(model, &y, step, &t);
            traj.times.push(step as f64 * hf);
            traj.steps.push(step);
            traj.loss.push(model.loss(&super::fields::position(model, &y)).to_f64());
            traj.states.push(y.clone());
        }
    }
    traj.laws = monitor.reports();
    Ok(traj)
}
