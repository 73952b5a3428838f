//! Continuous-time dynamics: vector fields built on the one gradient, and integrators that return
//! the same [`Trajectory`](crate::trajectory::Trajectory) as discrete runs.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the [`VectorField`] trait |
//! | `problem.rs` | [`FlowProblem`]: field, start, horizon, save schedule, model, monitor, recorded function, observers, reference |
//! | `solve.rs` | the [`Integrator`] catalogue and [`FlowProblem::solve`] / [`solve`], the only place that lists the integrators |
//! | `record.rs` | [`record::Recorder`]: the one save schedule, saved points (loss, recorded function of the state, reference gap), monitor and observers, energy quadrature hook, counters, outcome; shared with discrete runs |
//! | `integrators/` | one integrator per file behind [`integrators::Integrate`] |
//! | `fields/` | the vector fields, one concept per file |
//! | `tape.rs` | the one gradient recorded as a tape, evaluated on truncated power series (Taylor's method) |
//! | `fixed_series.rs` | the same tape swept on fixed-point integers (Taylor's method in `Mp`: one rounding per Cauchy sum) |
//! | `tolerance.rs` | exact tolerances (`"2^-1000"`, `"1e-300"`, `"auto"`) converted to the run's number type |
//!
//! Integrators: fixed-step explicit Runge–Kutta (Euler, Heun, RK4, Cooper–Verner RK8), implicit
//! Gauss–Legendre (structure preserving: it keeps quadratic invariants such as balancedness to
//! rounding), the allocation-free Dormand–Prince 5(4) and 8(7) driver and `ode_solvers`'
//! Dopri5/Dop853 for `f64`, and Gragg–Bulirsch–Stoer extrapolation for tolerances near the working
//! precision of `Mp`.

pub mod fields;
pub mod fixed_series;
pub mod integrators;
pub mod problem;
pub mod record;
pub mod solve;
pub mod tape;
pub mod tolerance;

pub use self::fields::GradientFlow;
pub use self::integrators::{embedded, tableau};
pub use self::problem::FlowProblem;
pub use self::solve::{solve, Integrator, SolveOptions};
pub use self::tableau::Tableau;
pub use self::tolerance::Tolerance;

use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use std::borrow::Cow;

/// A time-dependent vector field on a state space, `ẏ = F(t, y)`.
pub trait VectorField<S: Scalar> {
    /// Writes `F(t, y)` into `dy`.
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>);
    /// Name for reports.
    fn name(&self) -> String;
    /// The model's parameters read from a state: the state itself unless the field's state has
    /// more (heavy ball's phase space appends velocities). The solver checks the start and
    /// evaluates the loss on it.
    fn position<'y>(&self, y: &'y Params<S>) -> Cow<'y, Params<S>> {
        Cow::Borrowed(y)
    }
    /// Passes of the model's gradient per evaluation, for
    /// [`Trajectory::grad_calls`](crate::trajectory::Trajectory::grad_calls): 1 by default; a
    /// Hessian-vector product on dual numbers is one more pass.
    fn gradient_calls(&self) -> usize {
        1
    }
    /// The model whose gradient flow $\dot y = -\nabla L(y)$ this field is, if it is exactly
    /// that: Taylor's method records that model's gradient and integrates only such fields.
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        None
    }
    /// For a field that is $c$ times the gradient flow of [`VectorField::gradient_flow_of`]
    /// (a flow run in a rescaled time $\tau = t/c$): that $c$; `None` means 1. Taylor's method
    /// scales the order-$k$ coefficient of the series by $c^k$.
    fn time_scale(&self) -> Option<S> {
        None
    }
}

impl<S: Scalar, F: VectorField<S> + ?Sized> VectorField<S> for &mut F {
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>) {
        (**self).eval(t, y, dy)
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn position<'y>(&self, y: &'y Params<S>) -> Cow<'y, Params<S>> {
        (**self).position(y)
    }
    fn gradient_calls(&self) -> usize {
        (**self).gradient_calls()
    }
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        (**self).gradient_flow_of()
    }
    fn time_scale(&self) -> Option<S> {
        (**self).time_scale()
    }
}
