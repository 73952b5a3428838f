//! Fibres of the product map: Kempf–Ness (`kempf-ness`), the balancing flows
//! (`balancing-flows`), the fast–slow split (`fast-slow`), the end-to-end flow from balanced
//! initializations (`end-to-end`) and the two-layer Riccati closed form (`riccati`).
//!
//! Every check compares a closed form with a numerical flow (or a numerical minimization) and
//! states its tolerance from the integrator's order and step.

pub mod balancing_flows;
mod common;
pub mod end_to_end;
pub mod fast_slow;
pub mod kempf_ness;
pub mod riccati;

use super::Experiment;

/// This group's experiments, in registry order.
pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        kempf_ness::experiment(),
        balancing_flows::experiment(),
        fast_slow::experiment(),
        end_to_end::experiment(),
        riccati::experiment(),
    ]
}
