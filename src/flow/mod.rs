//! Continuous-time dynamics: vector fields built on the one gradient, and integrators that return
//! the same [`Trajectory`](crate::trajectory::Trajectory) as discrete runs.

//!
//! [`solve`] is the one entry point for every [`Integrator`]: fixed-step explicit Runge–Kutta
//! (Euler, Heun, RK4, Cooper–Verner RK8), implicit Gauss–Legendre (structure preserving: it keeps
//! quadratic invariants such as balancedness to rounding), `ode_solvers`' Dopri5/Dop853 for `f64`,
//! and Gragg–Bulirsch–Stoer extrapolation for tolerances near the working precision of `Mp`.

mod dopri;
pub mod embedded;
pub mod fields;
mod gbs;
mod rk;
pub mod tableau;
pub mod tape;
pub mod taylor;
mod tolerance;

pub use rk::{solve, Integrator, SolveOptions};
pub use tableau::Tableau;
pub use tolerance::{f64_tolerance, Tolerance};

use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::Scalar;

/// A time-dependent vector field on parameter space, `ẏ = F(t, y)`.
pub trait VectorField<S: Scalar> {
    /// Writes `F(t, y)` into `dy`.
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>);
    /// Name for reports.
    fn name(&self) -> String;
    /// The model whose gradient flow this field is, if it is one (Taylor's method records that
    /// model's gradient).
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        None
    }
}

/// Gradient flow `θ̇ = −∇L(θ)` (with the model's weight decay, if any).
pub struct GradientFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    ws: Option<Workspace<S>>,
}

impl<'a, S: Scalar> GradientFlow<'a, S> {
    /// The gradient flow of `model`.
    pub fn new(model: &'a Model<S>) -> Self {
        GradientFlow { model, ws: None }
    }
}

impl<S: Scalar> VectorField<S> for GradientFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
        self.model.grad_into(ws, y, None, dy);
        let m1 = y.proto().from_i64_like(-1);
        dy.scale_mut(&m1);
    }
    fn name(&self) -> String {
        "gradient flow".into()
    }
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        Some(self.model)
    }
}
