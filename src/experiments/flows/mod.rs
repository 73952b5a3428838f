//! Continuous time: conservation laws of gradient flow shown to hold far beyond `f64` (to $10^{-60}$
//! at 256 bits), structure-preserving integration (Gauss–Legendre) against explicit Runge–Kutta,
//! the conservation error against the working precision, and fitted convergence orders.

mod common;
pub mod gf_conservation;
pub mod orders;
mod orders_discrete;
pub mod precision_ladder;

use super::Experiment;

/// This group's experiments, in registry order.
pub(super) fn experiments() -> Vec<Experiment> {
    vec![gf_conservation::experiment(), precision_ladder::experiment(), orders::experiment()]
}
