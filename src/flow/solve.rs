//! The catalogue of integrators ([`Integrator`]) and the one place that maps each to its
//! implementation in [`super::integrators`]: [`FlowProblem::solve`], and [`solve`], its shorthand
//! with the model and monitor passed directly.

use super::integrators::embedded::EmbeddedPair;
use super::integrators::tableau::Tableau;
use super::integrators::{
    DormandPrince, EmbeddedRk, ExplicitRk, Extrapolation, FixedStep, GaussLegendre, Integrate, TaylorSeries,
};
use super::problem::FlowProblem;
use super::record::Recorder;
use super::VectorField;
use crate::error::{Error, Result};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::{Save, Trajectory};
use serde::{Deserialize, Serialize};
// The pairs typed as decimals are read exactly through rationals (tens of microseconds); in `f64`
// they are built once per process.
use std::sync::OnceLock;

/// A time integrator.
///
/// | variant | order | steps | number types |
/// |---|---|---|---|
/// | `Euler`, `Heun`, `Rk4` | 1, 2, 4 | fixed | `f64`, `Mp`, `Q` |
/// | `Rk8` (Cooper–Verner) | 8 | fixed | `f64`, `Mp` |
/// | `GaussLegendre` (implicit) | 2·stages | fixed | `f64`, `Mp` |
/// | `Dopri5`, `Dop853` (`ode_solvers`) | 5, 8 | adaptive | `f64` |
/// | `Dp5`, `Dp8` (allocation-free [`embedded`](super::embedded) driver) | 5, 8 | adaptive | `f64` |
/// | `Tsit5` (Tsitouras 5(4), same driver) | 5 | adaptive | `f64` |
/// | `Dp853` (Hairer's DOP853 estimate, same driver) | 8 | adaptive | `f64` |
/// | `Gbs` (Gragg–Bulirsch–Stoer) | variable | adaptive | `f64`, `Mp` |
/// | `Taylor` (gradient flows only) | from `tol` | adaptive (Jorba–Zou) | `f64`, `Mp` |
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
    /// Tsitouras' 5(4) pair (FSAL, six evaluations per step) with a PI step-size controller, on the
    /// allocation-free flat driver of [`embedded`](super::embedded) (`f64` only). Prefer it to
    /// `dp8` where the step is limited by stability rather than accuracy (a stiff late phase, as
    /// in diagonal networks near their sparse solution) at tolerances down to about $10^{-10}$;
    /// see [`tsitouras`](super::integrators::tsitouras).
    Tsit5 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Dormand–Prince 8(5,3) with Hairer's combined 5th/3rd-order error estimate (the method of
    /// Hairer's DOP853 and scipy's `DOP853`), on the allocation-free flat driver of
    /// [`embedded`](super::embedded) (`f64` only): twelve evaluations per step against `dp8`'s
    /// thirteen, and an estimate that behaves like the local error of order 8; see
    /// [`dop853`](super::integrators::dop853).
    Dp853 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Gragg–Bulirsch–Stoer extrapolation of the modified midpoint rule, with step-size and
    /// order control: reaches tolerances near the working precision (e.g. $10^{-66}$ at 256 bits).
    Gbs {
        /// Relative tolerance (a number or an exact string such as `"1e-300"`).
        #[serde(deserialize_with = "super::tolerance::f64_tolerance")]
        rtol: f64,
        /// Absolute tolerance (a number or an exact string).
        #[serde(deserialize_with = "super::tolerance::f64_tolerance")]
        atol: f64,
    },
    /// Taylor's method for gradient flows ([`super::integrators::taylor`]): order and step from an
    /// exact tolerance (Jorba–Zou), the solution's series through the model's own gradient code.
    Taylor {
        /// Tolerance (exact: `"2^-1000"`, `"1e-300"`, `"1/3"`, or `"auto"` = a few ulps).
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
            Integrator::Tsit5 { .. } => "tsit5".into(),
            Integrator::Dp853 { .. } => "dp853".into(),
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

    /// The classical order (for `Gbs` and `Taylor`, `None`: it varies).
    pub fn order(&self) -> Option<usize> {
        match self {
            Integrator::Euler { .. } => Some(1),
            Integrator::Heun { .. } => Some(2),
            Integrator::Rk4 { .. } => Some(4),
            Integrator::Rk8 { .. } | Integrator::Dop853 { .. } | Integrator::Dp8 { .. } | Integrator::Dp853 { .. } => {
                Some(8)
            }
            Integrator::GaussLegendre { stages, .. } => Some(2 * stages),
            Integrator::Dopri5 { .. } | Integrator::Dp5 { .. } | Integrator::Tsit5 { .. } => Some(5),
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
            | Integrator::Tsit5 { rtol, atol }
            | Integrator::Dp853 { rtol, atol }
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
            Integrator::Taylor { order, max_step, .. } => TaylorSeries::validate(*order, *max_step),
            _ => Ok(()),
        }
    }
}

/// Options of [`solve`].
#[derive(Clone, Debug)]
pub struct SolveOptions {
    /// Final time (the flow starts at 0).
    pub t1: f64,
    /// Times at which to save the state and check the laws (`t1` is always added); the same as
    /// [`Save::Times`].
    pub save_times: Vec<f64>,
}

impl<S: Scalar, F: VectorField<S>> FlowProblem<'_, S, F> {
    /// Integrates the problem with `integrator` and returns the same [`Trajectory`] as a discrete
    /// run, with its [`crate::trajectory::Stats`] and, in `grad_calls`, the field evaluations times
    /// [`VectorField::gradient_calls`].
    ///
    /// * Fixed-step methods take `ceil(t1/h)` equal steps and save on the schedule's steps (for
    ///   `Save::Times`, the first step at or after each time); adaptive methods (`Dopri5`,
    ///   `Dop853`, `Dp5`, `Dp8`, `Tsit5`, `Dp853`, `Gbs`, `Taylor`) land exactly on each save time (and on `t1`) and take
    ///   `Save::Times` or `Save::FinalOnly`.
    /// * The monitor checks its time laws at each saved state (the whole state, phase-space
    ///   blocks included); with [`Monitor::track_energy`] the integral $\int_0^t\|F(\theta)\|^2ds$
    ///   is accumulated with the integrator's own quadrature (for an explicit or Gauss–Legendre
    ///   tableau $h\sum_i b_i\|k_i\|^2$; for the adaptive methods as an extra state component),
    ///   and the energy identity $L(t) + \int_0^t\|\nabla L\|^2ds = L(0)$ of gradient flow is
    ///   checked on the position.
    /// * Failures are outcomes and keep the trajectory up to the last good state:
    ///   [`crate::trajectory::Outcome::NonFinite`] (a NaN or infinity appeared),
    ///   [`crate::trajectory::Outcome::StepUnderflow`] (an adaptive step size underflowed, e.g. at
    ///   a finite-time blow-up), [`crate::trajectory::Outcome::ConvergenceFailure`] (Gauss–Legendre
    ///   stage equations), [`crate::trajectory::Outcome::StepLimit`] (an adaptive step budget).
    ///   `Err` is for inputs that cannot run, naming the field at fault.
    /// * Number types: `Euler`, `Heun`, `Rk4` run in `f64`, `Mp` and `Q`; `Rk8`, `GaussLegendre` and
    ///   `Gbs` need `f64` or `Mp` (an error names the missing operation otherwise); `Taylor` needs
    ///   `f64` or `Mp` and a [`super::GradientFlow`] (it records the model's gradient); `Dopri5`, `Dp5`,
    ///   `Dp8`, `Tsit5`, `Dp853` and `Dop853` run in `f64` only.
    pub fn solve(self, integrator: &Integrator) -> Result<Trajectory<S>> {
        self.validate()?;
        integrator.validate()?;
        let FlowProblem { mut field, y0, t1, save, model, monitor, hooks } = self;
        let proto = y0.proto();
        let energy = monitor.as_ref().is_some_and(|m| m.tracks_energy());
        let mut rec = Recorder::new(t1, save, energy).with(model, monitor, hooks);
        if integrator.step_size().is_none() {
            // Adaptive methods land on times: reject step-counting schedules before running.
            rec.save_times()?;
        }
        rec.start(y0, &field.position(y0));
        let field = &mut field;
        match integrator {
            Integrator::Euler { h } | Integrator::Heun { h } | Integrator::Rk4 { h } | Integrator::Rk8 { h } => {
                FixedStep::new(*h, ExplicitRk::new(integrator.tableau(&proto)?, y0)?).integrate(field, y0, &mut rec)?
            }
            Integrator::GaussLegendre { h, .. } => {
                FixedStep::new(*h, GaussLegendre::new(integrator.tableau(&proto)?, y0)?)
                    .integrate(field, y0, &mut rec)?
            }
            Integrator::Dopri5 { rtol, atol } => {
                DormandPrince { eighth: false, rtol: *rtol, atol: *atol }.integrate(field, y0, &mut rec)?
            }
            Integrator::Dop853 { rtol, atol } => {
                DormandPrince { eighth: true, rtol: *rtol, atol: *atol }.integrate(field, y0, &mut rec)?
            }
            Integrator::Dp5 { rtol, atol } => EmbeddedRk { pair: EmbeddedPair::dopri5(&0.0), rtol: *rtol, atol: *atol }
                .integrate(field, y0, &mut rec)?,
            Integrator::Dp8 { rtol, atol } => EmbeddedRk { pair: EmbeddedPair::dopri8(&0.0), rtol: *rtol, atol: *atol }
                .integrate(field, y0, &mut rec)?,
            Integrator::Tsit5 { rtol, atol } => {
                static TSIT5: OnceLock<EmbeddedPair<f64>> = OnceLock::new();
                let pair = TSIT5.get_or_init(|| EmbeddedPair::tsit5(&0.0)).clone();
                EmbeddedRk { pair, rtol: *rtol, atol: *atol }.integrate(field, y0, &mut rec)?
            }
            Integrator::Dp853 { rtol, atol } => {
                static DOP853: OnceLock<EmbeddedPair<f64>> = OnceLock::new();
                let pair = DOP853.get_or_init(|| EmbeddedPair::dop853(&0.0)).clone();
                EmbeddedRk { pair, rtol: *rtol, atol: *atol }.integrate(field, y0, &mut rec)?
            }
            Integrator::Gbs { rtol, atol } => {
                Extrapolation { rtol: *rtol, atol: *atol }.integrate(field, y0, &mut rec)?
            }
            Integrator::Taylor { tol, order, max_step } => {
                TaylorSeries { tol: tol.clone(), order: *order, max_step: *max_step }.integrate(field, y0, &mut rec)?
            }
        }
        let grad_calls = rec.stats.rhs_evals * field.gradient_calls();
        Ok(rec.finish(integrator.name(), grad_calls))
    }
}

/// Integrates `field` from `y0` over `[0, opts.t1]` with `model` defining the loss and
/// `monitor` checking its laws at each save time: the shorthand for
/// `FlowProblem::new(field, y0, opts.t1).save(Save::Times { .. }).model(model).monitor(monitor).solve(integrator)`
/// (see [`FlowProblem::solve`]).
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
    FlowProblem::new(field, y0, opts.t1)
        .save(Save::Times { times: opts.save_times.clone() })
        .model(model)
        .monitor(monitor)
        .solve(integrator)
}
