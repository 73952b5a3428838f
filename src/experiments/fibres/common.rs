//! What the fibre experiments share: save grids and fixed-step integration (RK4).

use crate::error::Result;
use crate::flow::{solve, Integrator, SolveOptions, VectorField};
use crate::invariants::Monitor;
use crate::model::Model;
use crate::params::Params;
use crate::trajectory::Trajectory;

pub(super) fn grid(t1: f64, n: usize) -> Vec<f64> {
    (1..=n).map(|k| t1 * k as f64 / n as f64).collect()
}

/// Gradient flow / a field on a fibre, integrated with RK4 (the one line to change for another
/// integrator).
pub(super) fn integrate<F: VectorField<f64>>(
    field: &mut F,
    model: &Model<f64>,
    y0: &Params<f64>,
    h: f64,
    t1: f64,
    saves: usize,
    monitor: &mut Monitor<f64>,
) -> Result<Trajectory<f64>> {
    solve(field, model, y0, &Integrator::Rk4 { h }, &SolveOptions { t1, save_times: grid(t1, saves) }, monitor)
}
