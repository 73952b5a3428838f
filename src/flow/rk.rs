//! The one entry point [`solve`] and the fixed-step Runge–Kutta methods (explicit and
//! Gauss–Legendre).

use super::embedded::EmbeddedPair;
use super::tableau::Tableau;
use super::VectorField;
use crate::error::{Error, Result};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Trajectory};
use serde::{Deserialize, Serialize};

/// A time integrator.
///
/// | variant | order | steps | number types |
/// |---|---|---|---|
/// | `Euler`, `Heun`, `Rk4` | 1, 2, 4 | fixed | `f64`, `Mp`, `Q` |
/// | `Rk8` (Cooper–Verner) | 8 | fixed | `f64`, `Mp` |
/// | `GaussLegendre` (implicit) | 2·stages | fixed | `f64`, `Mp` |
/// | `Dopri5`, `Dop853` (`ode_solvers`) | 5, 8 | adaptive | `f64` |
/// | `Dp5`, `Dp8` (allocation-free [`embedded`](super::embedded) driver) | 5, 8 | adaptive | `f64` |
/// | `Gbs` (Gragg–Bulirsch–Stoer) | variable | adaptive | `f64`, `Mp` |
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
    /// Cooper–Verner explicit Runge–Kutta of order 8 (11 stages) with fixed step `h`; its
    /// coefficients involve $\sqrt{21}$, computed at the working precision.
    Rk8 {
        /// Step.
        h: f64,
    },
    /// Implicit Gauss–Legendre collocation with 1, 2 or 3 stages (orders 2, 4, 6) and fixed step
    /// `h`. It conserves every quadratic invariant of the vector field up to the accuracy of the
    /// stage equations, which are solved by fixed-point iteration down to the working precision.
    GaussLegendre {
        /// 1 (implicit midpoint), 2 or 3.
        stages: usize,
        /// Step.
        h: f64,
    },
    /// Dormand–Prince 5(4) with step-size control, through `ode_solvers` (`f64` only).
    Dopri5 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Dormand–Prince 8(5,3) with step-size control, through `ode_solvers` (`f64` only).
    Dop853 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Dormand–Prince 5(4) with a PI step-size controller, on the allocation-free flat driver of
    /// [`embedded`](super::embedded) (`f64` only).
    Dp5 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Prince–Dormand RK8(7)13M ("Dopri8") with step-size control, on the allocation-free flat
    /// driver of [`embedded`](super::embedded) (`f64` only).
    Dp8 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Gragg–Bulirsch–Stoer extrapolation of the modified midpoint rule, with step-size and
    /// order control: reaches tolerances near the working precision (e.g. $10^{-66}$ at 256 bits).
    Gbs {
        /// Relative tolerance (a number or an exact string such as `"1e-300"`).
        #[serde(deserialize_with = "super::f64_tolerance")]
        rtol: f64,
        /// Absolute tolerance (a number or an exact string).
        #[serde(deserialize_with = "super::f64_tolerance")]
        atol: f64,
    },
    /// Taylor's method for polynomial gradient flows ([`taylor`](super::taylor)): order and step
    /// from an exact tolerance (Jorba–Zou), series through the model's own gradient code.
    Taylor {
        /// Tolerance (exact: `"2^-1000"`, `"1e-300"`, or `"auto"` = a few ulps).
        #[serde(default)]
        tol: super::Tolerance,
        /// Fixed order instead of the tolerance's.
        #[serde(default)]
        order: Option<usize>,
        /// Upper bound on the step.
        #[serde(default)]
        max_step: Option<f64>,
    },
}

impl Integrator {
    /// Name for reports.
    pub fn name(&self) -> String {
        match self {
            Integrator::Euler { .. } => "euler".into(),
            Integrator::Heun { .. } => "heun".into(),
            Integrator::Rk4 { .. } => "rk4".into(),
            Integrator::Rk8 { .. } => "rk8".into(),
            Integrator::GaussLegendre { stages, .. } => format!("gl{stages}"),
            Integrator::Dopri5 { .. } => "dopri5".into(),
            Integrator::Dop853 { .. } => "dop853".into(),
            Integrator::Dp5 { .. } => "dp5".into(),
            Integrator::Dp8 { .. } => "dp8".into(),
            Integrator::Gbs { .. } => "gbs".into(),
            Integrator::Taylor { .. } => "taylor".into(),
        }
    }

    /// The fixed step, for fixed-step methods.
    pub fn step_size(&self) -> Option<f64> {
        match self {
            Integrator::Euler { h }
            | Integrator::Heun { h }
            | Integrator::Rk4 { h }
            | Integrator::Rk8 { h }
            | Integrator::GaussLegendre { h, .. } => Some(*h),
            _ => None,
        }
    }

    /// The classical order (for `Gbs`, `None`: it varies).
    pub fn order(&self) -> Option<usize> {
        match self {
            Integrator::Euler { .. } => Some(1),
            Integrator::Heun { .. } => Some(2),
            Integrator::Rk4 { .. } => Some(4),
            Integrator::Rk8 { .. } | Integrator::Dop853 { .. } | Integrator::Dp8 { .. } => Some(8),
            Integrator::GaussLegendre { stages, .. } => Some(2 * stages),
            Integrator::Dopri5 { .. } | Integrator::Dp5 { .. } => Some(5),
            Integrator::Gbs { .. } | Integrator::Taylor { .. } => None,
        }
    }

    /// The Butcher tableau of a fixed-step method at the precision of `proto`.
    pub fn tableau<S: Scalar>(&self, proto: &S) -> Result<Tableau<S>> {
        match self {
            Integrator::Euler { .. } => Ok(Tableau::euler(proto)),
            Integrator::Heun { .. } => Ok(Tableau::heun(proto)),
            Integrator::Rk4 { .. } => Ok(Tableau::rk4(proto)),
            Integrator::Rk8 { .. } => Tableau::cooper_verner8(proto),
            Integrator::GaussLegendre { stages, .. } => Tableau::gauss_legendre(*stages, proto),
            other => {
                Err(Error::invalid("integrator", format!("{} is adaptive and has no fixed tableau", other.name())))
            }
        }
    }

    /// Checks the integrator's parameters.
    pub fn validate(&self) -> Result<()> {
        if let Some(h) = self.step_size() {
            if !(h.is_finite() && h > 0.0) {
                return Err(Error::invalid("h", format!("step must be finite and > 0, got {h}")));
            }
        }
        match self {
            Integrator::GaussLegendre { stages, .. } if !(1..=3).contains(stages) => {
                Err(Error::invalid("stages", format!("Gauss-Legendre has 1, 2 or 3 stages, got {stages}")))
            }
            Integrator::Dopri5 { rtol, atol }
            | Integrator::Dop853 { rtol, atol }
            | Integrator::Dp5 { rtol, atol }
            | Integrator::Dp8 { rtol, atol }
            | Integrator::Gbs { rtol, atol } => {
                if !(rtol.is_finite() && atol.is_finite() && *rtol >= 0.0 && *atol >= 0.0 && rtol + atol > 0.0) {
                    Err(Error::invalid(
                        "rtol/atol",
                        format!("tolerances must be finite, >= 0 and not both 0, got rtol {rtol}, atol {atol}"),
                    ))
                } else {
                    Ok(())
                }
            }
            Integrator::Taylor { order, max_step, .. } => super::taylor::validate(*order, *max_step),
            _ => Ok(()),
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

/// `2^{1-p}` for a number type of `p` bits (`None` for exact rationals).
pub(crate) fn epsilon_of<S: Scalar>(proto: &S) -> Option<S> {
    let bits = proto.precision()?;
    let mut e = proto.one_like();
    let half = proto.ratio_like(1, 2);
    for _ in 1..bits {
        e *= &half;
    }
    Some(e)
}

/// `dst ← src`, entry by entry, reusing `dst`'s storage.
pub(crate) fn copy_into<S: Scalar>(dst: &mut Params<S>, src: &Params<S>) {
    for (d, s) in dst.iter_mut().zip(src.iter()) {
        d.clone_from(s);
    }
}

/// Largest absolute entry.
pub(crate) fn max_abs<S: Scalar>(p: &Params<S>) -> S {
    let mut m = p.proto().zero_like();
    for x in p.iter() {
        let a = x.abs();
        if a > m {
            m = a;
        }
    }
    m
}

/// Collects saved states and checks the monitor's laws.
pub(crate) struct Recorder<'a, S: Scalar> {
    pub model: &'a Model<S>,
    pub monitor: &'a mut Monitor<S>,
    pub traj: Trajectory<S>,
    pub energy: bool,
}

impl<S: Scalar> Recorder<'_, S> {
    /// Saves `y` at time `t` (`step` steps done); `integral` is $\int_0^t\|F\|^2$.
    pub fn save(&mut self, y: &Params<S>, integral: &S, step: usize, t: &S) {
        self.monitor.at_time(self.model, y, step, t);
        if self.energy {
            self.monitor.at_time_energy(self.model, y, integral, step, t);
        }
        self.traj.times.push(t.to_f64());
        self.traj.steps.push(step);
        self.traj.loss.push(self.model.loss(&super::fields::position(self.model, y)).to_f64());
        self.traj.states.push(y.clone());
    }

    /// Ends the trajectory at the last finite state `last` (time `t`) after a non-finite value
    /// appeared at step `step`, time `t_bad`.
    pub fn non_finite(&mut self, last: &Params<S>, step: usize, t: &S, t_bad: f64) {
        self.traj.outcome = Outcome::NonFinite { step, time: t_bad };
        if self.traj.times.last() != Some(&t.to_f64()) {
            self.traj.times.push(t.to_f64());
            self.traj.steps.push(step.saturating_sub(1));
            self.traj.loss.push(self.model.loss(&super::fields::position(self.model, last)).to_f64());
            self.traj.states.push(last.clone());
        }
    }
}

/// Integrates `field` from `y0` over `[0, t1]` and returns the same [`Trajectory`] as a discrete
/// run, with `grad_calls` counting evaluations of the field.
///
/// * Fixed-step methods take `ceil(t1/h)` equal steps and save at the first step at or after
///   each requested time; adaptive methods (`Dopri5`, `Dop853`, `Dp5`, `Dp8`, `Gbs`) land exactly on each save
///   time (and on `t1`).
/// * `monitor` checks its time laws at each save; with [`Monitor::track_energy`] the integral
///   $\int_0^t\|F(\theta)\|^2ds$ is accumulated with the integrator's own quadrature (for an
///   explicit or Gauss–Legendre tableau $h\sum_i b_i\|k_i\|^2$; for `Gbs` as an extra state
///   component), and the energy identity $L(t) + \int_0^t\|\nabla L\|^2ds = L(0)$ of gradient flow
///   is checked.
/// * A non-finite state stops the run with [`Outcome::NonFinite`]; the trajectory ends at the last
///   finite state. Adaptive methods instead shrink the step at a finite-time blow-up and return an
///   error naming the time at which the step size underflowed; exceeding their step budget ends
///   the run with [`Outcome::StepLimit`].
/// * Number types: `Euler`, `Heun`, `Rk4` run in `f64`, `Mp` and `Q`; `Rk8`, `GaussLegendre` and
///   `Gbs` need `f64` or `Mp` (an error names the missing operation otherwise); `Dopri5`, `Dp5`, `Dp8` and
///   `Dop853` run in `f64` only.
///
/// ```
/// use linflow::prelude::*;
/// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
/// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
/// let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
/// let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
/// let opts = SolveOptions { t1: 1.0, save_times: vec![0.5] };
/// let gl = Integrator::GaussLegendre { stages: 2, h: 0.05 };
/// let traj = solve(&mut GradientFlow::new(&model), &model, &p0, &gl, &opts, &mut mon).unwrap();
/// assert_eq!(traj.times, vec![0.0, 0.5, 1.0]);
/// assert!(traj.laws[0].worst_rel < 1e-13); // a quadratic invariant, kept to rounding
/// ```
pub fn solve<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    model: &Model<S>,
    y0: &Params<S>,
    integrator: &Integrator,
    opts: &SolveOptions,
    monitor: &mut Monitor<S>,
) -> Result<Trajectory<S>> {
    model.check_params(&super::fields::position(model, y0))?;
    integrator.validate()?;
    if !(opts.t1.is_finite() && opts.t1 >= 0.0) {
        return Err(Error::invalid("t1", format!("must be finite and >= 0, got {}", opts.t1)));
    }
    if let Some(t) = opts.save_times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(Error::invalid("save_times", format!("times must be finite and >= 0, got {t}")));
    }
    let proto = y0.proto();
    let energy = monitor.tracks_energy();
    let traj = Trajectory {
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
    let mut rec = Recorder { model, monitor, traj, energy };
    match integrator {
        Integrator::Dopri5 { rtol, atol } => super::dopri::integrate(field, y0, false, *rtol, *atol, opts, &mut rec)?,
        Integrator::Dop853 { rtol, atol } => super::dopri::integrate(field, y0, true, *rtol, *atol, opts, &mut rec)?,
        Integrator::Gbs { rtol, atol } => super::gbs::integrate(field, y0, *rtol, *atol, opts, &mut rec)?,
        Integrator::Dp5 { rtol, atol } => {
            super::embedded::integrate(field, y0, &EmbeddedPair::dopri5(&0.0), *rtol, *atol, opts, &mut rec)?
        }
        Integrator::Dp8 { rtol, atol } => {
            super::embedded::integrate(field, y0, &EmbeddedPair::dopri8(&0.0), *rtol, *atol, opts, &mut rec)?
        }
        Integrator::Taylor { tol, order, max_step } => {
            let set = super::taylor::TaylorSettings { tol, order: *order, max_step: *max_step };
            super::taylor::integrate(field, y0, &set, opts, &mut rec)?
        }
        _ => fixed_step(field, y0, integrator, opts, &mut rec)?,
    }
    rec.traj.laws = rec.monitor.reports();
    Ok(rec.traj)
}

/// One step of a Runge–Kutta tableau, explicit or (by fixed-point iteration) implicit.
pub(crate) struct RkStepper<S: Scalar> {
    tab: Tableau<S>,
    explicit: bool,
    k: Vec<Params<S>>,
    k_new: Vec<Params<S>>,
    yi: Params<S>,
    eps: Option<S>,
    max_iter: usize,
    /// Fixed-point iterations used by the last implicit step.
    pub last_iterations: usize,
}

impl<S: Scalar> RkStepper<S> {
    pub fn new(tab: Tableau<S>, y0: &Params<S>) -> Result<Self> {
        let explicit = tab.is_explicit();
        let proto = y0.proto();
        let eps = epsilon_of(&proto);
        if !explicit && eps.is_none() {
            return Err(Error::Unsupported(format!(
                "implicit Runge-Kutta methods iterate to the working precision, which {} does not have; use f64 or Mp",
                proto.kind_name()
            )));
        }
        let s = tab.stages();
        let bits = proto.precision().unwrap_or(53) as usize;
        Ok(RkStepper {
            tab,
            explicit,
            k: vec![y0.zeros_like(); s],
            k_new: if explicit { Vec::new() } else { vec![y0.zeros_like(); s] },
            yi: y0.zeros_like(),
            eps,
            // A contraction by 1/2 per iteration needs `bits` iterations; steps with h·Lipschitz
            // well below the method's stability bound contract much faster.
            max_iter: 2 * bits + 50,
            last_iterations: 0,
        })
    }

    /// `yi ← y + h Σ_j a_ij k_j`.
    fn stage_point(&mut self, i: usize, y: &Params<S>, h: &S, from_new: bool) {
        copy_into(&mut self.yi, y);
        let ks = if from_new { &self.k_new } else { &self.k };
        for (aij, kj) in self.tab.a[i].iter().zip(ks) {
            if !aij.is_zero() {
                self.yi.axpy(&(aij.clone() * h.clone()), kj);
            }
        }
    }

    /// Advances `y` by one step of size `h` from time `t`; adds $h\sum_i b_i\|k_i\|^2$ to `energy`
    /// when given. Returns the number of field evaluations.
    pub fn step<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        h: &S,
        y: &mut Params<S>,
        energy: Option<&mut S>,
    ) -> Result<usize> {
        let s = self.tab.stages();
        let mut evals = 0;
        if self.explicit {
            for i in 0..s {
                self.stage_point(i, y, h, false);
                let ti = t.clone() + self.tab.c[i].clone() * h.clone();
                field.eval(&ti, &self.yi, &mut self.k[i]);
                evals += 1;
            }
        } else {
            evals += self.solve_stages(field, t, h, y)?;
        }
        for (bi, ki) in self.tab.b.iter().zip(&self.k) {
            if !bi.is_zero() {
                y.axpy(&(bi.clone() * h.clone()), ki);
            }
        }
        if let Some(e) = energy {
            for (bi, ki) in self.tab.b.iter().zip(&self.k) {
                *e += &(bi.clone() * h.clone() * ki.norm_sq());
            }
        }
        Ok(evals)
    }

    /// Fixed-point iteration $k_i \leftarrow F(t + c_ih, y + h\sum_j a_{ij}k_j)$ from $k_i = F(t, y)$,
    /// until the stage points move by at most ε·max(1, |y|∞) (or stop moving at the rounding level).
    fn solve_stages<F: VectorField<S>>(&mut self, field: &mut F, t: &S, h: &S, y: &Params<S>) -> Result<usize> {
        let s = self.tab.stages();
        let eps = self.eps.clone().expect("checked in new");
        let one = eps.one_like();
        let ymax = max_abs(y);
        let scale = if ymax > one { ymax } else { one.clone() };
        let tol = eps.clone() * scale.clone();
        // Rounding in the stage sums keeps the update at a few units in the last place; once it no
        // longer decreases below this level the iteration has converged as far as it can.
        let floor = eps * scale * eps_floor_factor(&one);
        field.eval(t, y, &mut self.k[0]);
        let mut evals = 1;
        for i in 1..s {
            let (a, b) = self.k.split_at_mut(i);
            copy_into(&mut b[0], &a[0]);
        }
        let mut prev: Option<S> = None;
        for iter in 1..=self.max_iter {
            for i in 0..s {
                self.stage_point(i, y, h, false);
                let ti = t.clone() + self.tab.c[i].clone() * h.clone();
                field.eval(&ti, &self.yi, &mut self.k_new[i]);
                evals += 1;
            }
            if !self.k_new.iter().all(Params::is_finite) {
                std::mem::swap(&mut self.k, &mut self.k_new);
                self.last_iterations = iter;
                return Ok(evals);
            }
            // Change of the stage points: h·max_i |Σ_j a_ij (k_new_j − k_j)|.
            let mut delta = one.zero_like();
            for blk in 0..self.k[0].blocks.len() {
                for idx in 0..self.k[0].blocks[blk].as_slice().len() {
                    for i in 0..s {
                        let mut d = one.zero_like();
                        for j in 0..s {
                            let dj = self.k_new[j].blocks[blk].as_slice()[idx].clone()
                                - self.k[j].blocks[blk].as_slice()[idx].clone();
                            d.mul_add_assign(&self.tab.a[i][j], &dj);
                        }
                        let d = (d * h.clone()).abs();
                        if d > delta {
                            delta = d;
                        }
                    }
                }
            }
            std::mem::swap(&mut self.k, &mut self.k_new);
            let stalled = prev.as_ref().is_some_and(|p| delta >= *p && delta <= floor);
            if delta <= tol || stalled {
                self.last_iterations = iter;
                return Ok(evals);
            }
            prev = Some(delta);
        }
        Err(Error::Other(format!(
            "Gauss-Legendre stage equations did not converge in {} fixed-point iterations at t = {}: \
             the step h = {} is too large for this vector field (reduce h)",
            self.max_iter,
            t.to_f64(),
            h.to_f64()
        )))
    }
}

fn eps_floor_factor<S: Scalar>(one: &S) -> S {
    one.from_i64_like(64)
}

/// Fixed-step driver: `ceil(t1/h)` equal steps.
fn fixed_step<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    y0: &Params<S>,
    integrator: &Integrator,
    opts: &SolveOptions,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let h = integrator.step_size().expect("fixed-step method");
    let proto = y0.proto();
    let mut stepper = RkStepper::new(integrator.tableau(&proto)?, y0)?;
    let n = (opts.t1 / h).ceil() as usize;
    let hs = proto.from_f64_like(opts.t1) / proto.from_i64_like(n.max(1) as i64);
    let hf = opts.t1 / n.max(1) as f64;
    let mut save: Vec<usize> =
        opts.save_times.iter().map(|t| ((t / hf) - 1e-9).ceil().max(0.0) as usize).filter(|&k| k <= n).collect();
    save.push(n);
    save.sort_unstable();
    save.dedup();
    let mut y = y0.clone();
    let mut last = y0.clone();
    let mut e = proto.zero_like();
    let mut t = proto.zero_like();
    let mut next = 0;
    for step in 1..=n {
        copy_into(&mut last, &y);
        let energy = if rec.energy { Some(&mut e) } else { None };
        rec.traj.grad_calls += stepper.step(field, &t, &hs, &mut y, energy)?;
        // t_k = k·(t1/n) computed from k, so that no rounding accumulates in the time.
        let t_prev = t.clone();
        t = hs.clone() * proto.from_i64_like(step as i64);
        if !y.is_finite() {
            rec.non_finite(&last, step, &t_prev, step as f64 * hf);
            return Ok(());
        }
        while next < save.len() && save[next] < step {
            next += 1;
        }
        if next < save.len() && save[next] == step {
            rec.save(&y, &e, step, &t);
        }
    }
    Ok(())
}
