//! Integrators, one per file, behind one trait ([`Integrate`]); each reports to a
//! [`Recorder`] and never sees the model, the monitor or the list of integrators (that list is
//! [`crate::flow::Integrator`], matched only in `solve.rs`).
//!
//! | file | what |
//! |---|---|
//! | `tableau.rs` | Butcher tableaux and their order conditions |
//! | `explicit_rk.rs` | one step of an explicit tableau ([`ExplicitRk`]) |
//! | `gauss_legendre.rs` | one step of an implicit Gauss–Legendre tableau ([`GaussLegendre`]) |
//! | `fixed_step.rs` | the fixed-step controller, for any [`Stepper`] ([`FixedStep`]) |
//! | `embedded.rs` | Dormand–Prince 5(4) and 8(7) with a PI controller on flat `f64` state |
//! | `tsitouras.rs` | Tsitouras 5(4), a pair for the same driver (`tsit5`) |
//! | `dop853.rs` | Dormand–Prince 8(5,3) with Hairer's combined error estimate, for the same driver (`dp853`) |
//! | `gbs.rs` | Gragg–Bulirsch–Stoer extrapolation with step and order control ([`Extrapolation`]) |
//! | `ode_solvers.rs` | the `ode_solvers` crate's Dopri5/Dop853, a baseline |
//! | `taylor.rs` | Taylor's method for gradient flows through the recorded gradient ([`TaylorSeries`]) |
//!
//! Step-size control is separate from the method where the method allows it: a [`Stepper`]
//! advances one step of a given size, and a controller ([`FixedStep`]) chooses the sizes. The
//! embedded pairs and GBS estimate their error from their own stages, so their controllers live
//! with them.

pub mod dop853;
pub mod embedded;
pub mod explicit_rk;
pub mod fixed_step;
pub mod gauss_legendre;
pub mod gbs;
pub mod ode_solvers;
pub mod tableau;
pub mod taylor;
pub mod tsitouras;

pub use self::embedded::EmbeddedRk;
pub use self::explicit_rk::ExplicitRk;
pub use self::fixed_step::FixedStep;
pub use self::gauss_legendre::GaussLegendre;
pub use self::gbs::Extrapolation;
pub use self::ode_solvers::DormandPrince;
pub use self::taylor::TaylorSeries;

use super::record::Recorder;
use super::VectorField;
use crate::error::Result;
use crate::params::Params;
use crate::scalar::Scalar;

/// An integrator: integrates `field` from `y0` over $[0, t_1]$ of the recorder, saving where the
/// recorder asks.
pub trait Integrate<S: Scalar> {
    /// Runs the integration. `Err` only for a setup that cannot run (a number type the method does
    /// not support, tolerances below the working precision); a failure during the run
    /// (non-finite state, step-size underflow, non-convergence, step limit) is the recorder's
    /// outcome, with the samples saved so far kept.
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()>;
}

/// Why one step failed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFailure {
    /// Field evaluations spent on the failed step.
    pub evals: usize,
    /// What went wrong (e.g. the residual reached against the tolerance).
    pub reason: String,
}

/// One step of a one-step method of a given size, for a step-size controller.
pub trait Stepper<S: Scalar> {
    /// Advances `y` by one step of size `h` from time `t`; adds the method's quadrature of
    /// $\int\|F\|^2$ over the step to `energy` when given. Returns the number of field
    /// evaluations.
    fn step<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        h: &S,
        y: &mut Params<S>,
        energy: Option<&mut S>,
    ) -> std::result::Result<usize, StepFailure>;
}
