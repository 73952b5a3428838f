//! Closed-form references against numerical flows and discrete runs: each flow is integrated by
//! RK4 (`common.rs`), so the tolerances of the `f64` checks are the integrator's truncation error; the
//! 256-bit checks compare a closed form with the model's own gradient field by an eighth-order
//! central difference, or with an exact discrete identity.

pub mod basic_inequality;
mod common;
pub mod diagonal_implicit_bias;
pub mod razin_cohen;
pub mod saxe_modes;

use super::Experiment;

/// The closed-form experiments, in registry order.
pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        diagonal_implicit_bias::experiment(),
        saxe_modes::experiment(),
        basic_inequality::experiment(),
        razin_cohen::experiment(),
    ]
}
