//! Exact per-step identities of discrete optimizers (`gd-drift-exact`, `diagonal-drift-exact`,
//! `sam-drift-exact`): checked with zero tolerance in rational arithmetic over random cases, then
//! in MPFR and `f64`, where the deviation is the rounding error of the precision. The random cases
//! are drawn, from fixed seeds, with the strategies of [`crate::testing::strategies`].

pub mod common;
pub mod diagonal_drift_exact;
pub mod gd_drift_exact;
pub mod sam_drift_exact;

use super::Experiment;

/// This group's experiments, in registry order.
pub(super) fn experiments() -> Vec<Experiment> {
    vec![gd_drift_exact::experiment(), diagonal_drift_exact::experiment(), sam_drift_exact::experiment()]
}
