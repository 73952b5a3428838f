//! `conservation-demo`: gradient flow conserves the balancedness matrices
//! $C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top$ of a deep linear network; gradient descent moves them
//! by exactly $\eta^2(A_{j+1}^\top A_{j+1} - A_j A_j^\top)$ per step, so that at a fixed time $t$
//! (after $t/\eta$ steps) the drift is first order in $\eta$.
//!
//! The functions here are public so that notebooks and tests draw the same figure.

use super::{Check, Ctx, Experiment, Summary};
use crate::data;
use crate::error::Result;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::init;
use crate::invariants::{Balancedness, Law, Monitor};
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::run::{run, RunOptions};

pub(super) fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: "conservation-demo",
        about: "gradient flow conserves balancedness; GD drifts by an exact eta^2 term per step",
        run: run_demo,
    }]
}

/// The demo problem: a 3-4-4-3 deep linear network fitting a Gaussian 3×3 target from a
/// Gaussian initialization (scale 0.5), all from fixed seeds.
pub fn problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::deep_linear(&[3, 4, 4, 3])?;
    let target = data::gaussian(3, 3, 1.0, &mut data::rng(11));
    let model = Model::new(arch.clone(), Loss::target(target))?;
    let p0 = init::gaussian(&arch, 0.5, &mut data::rng(12));
    Ok((model, p0))
}

/// What [`balancedness_drift`] measured.
#[derive(Clone, Debug)]
pub struct Drift {
    /// The figure: `max |C_j(t) − C_j(0)|` against time, log scale.
    pub figure: Figure,
    /// For each step size: `(η, drift at t1, worst relative deviation from the exact per-step law)`.
    pub gd: Vec<(f64, f64, f64)>,
    /// Negative control: worst relative deviation of the first run from the per-step law stated
    /// with a step size 10% too large (must be far above rounding).
    pub wrong_eta: f64,
    /// Gradient flow (RK4 with step `h`): the largest drift on `[0, t1]`.
    pub flow: f64,
    /// The RK4 step.
    pub h: f64,
}

/// Runs GD with each step size in `etas` and gradient flow (RK4, step `h`) up to time `t1` on
/// [`problem`], tracking the balancedness drift `max_j max |C_j(t) − C_j(0)|`.
pub fn balancedness_drift(etas: &[f64], h: f64, t1: f64) -> Result<Drift> {
    let (model, p0) = problem()?;
    let mut fig = Figure::new(
        "balancedness_drift",
        "Balancedness drift: gradient descent vs gradient flow",
        "time t",
        "max |C(t) − C(0)|",
    )
    .log_y();
    let mut gd = Vec::new();
    let mut wrong_eta = f64::NAN;
    for &eta in etas {
        let steps = (t1 / eta).round() as usize;
        let mut opt = Optimizer::new(Method::Gd { eta }, &0.0)?;
        let mut mon = Monitor::new()
            .track(Balancedness, Law::Conserved)
            .track(Balancedness, Law::gd_balancedness(eta))
            .track(Balancedness, Law::gd_balancedness(1.1 * eta));
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(steps), &mut mon)?;
        let (drift, exact) = (&traj.laws[0], &traj.laws[1]);
        if wrong_eta.is_nan() {
            wrong_eta = traj.laws[2].worst_rel;
        }
        let last = drift.series.last().map(|p| p.1).unwrap_or(f64::NAN);
        gd.push((eta, last, exact.worst_rel));
        fig = fig.with(Series::line(format!("GD, η = {eta}"), drift.series.clone()));
    }
    let n_save = 200;
    let save_times: Vec<f64> = (1..=n_save).map(|k| t1 * k as f64 / n_save as f64).collect();
    let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
    let traj = solve(
        &mut GradientFlow::new(&model),
        &model,
        &p0,
        &Integrator::Rk4 { h },
        &SolveOptions { t1, save_times },
        &mut mon,
    )?;
    let flow = traj.laws[0].worst_abs;
    fig = fig
        .with(Series::line(format!("gradient flow (RK4, h = {h})"), traj.laws[0].series.clone()).styled(Style::Dashed));
    Ok(Drift { figure: fig, gd, wrong_eta, flow, h })
}

fn run_demo(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "conservation-demo",
        "Balancedness C_j = W_{j+1}^T W_{j+1} - W_j W_j^T of a 3-4-4-3 deep linear network: conserved by \
         gradient flow, moved by gradient descent by exactly eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T) per step.",
    );
    let t1 = if ctx.quick { 2.0 } else { 8.0 };
    let d = balancedness_drift(&[0.1, 0.05, 0.025], 0.01, t1)?;
    for &(eta, _, rel) in &d.gd {
        s.check(Check::at_most(
            format!("gd-exact-drift-eta-{eta}"),
            "GD's per-step balancedness identity holds to rounding: each check compares two f64 evaluations \
             of O(1) matrices built from a few hundred roundings (eps = 2.2e-16), so 1e-12 leaves a 10x margin",
            rel,
            1e-12,
        ));
    }
    s.check(Check::at_least(
        "gd-law-negative-control",
        "the same identity stated with a step size 10% too large is rejected: its deviation is of the order of \
         the eta^2 term itself, far above the 1e-12 rounding bound (required: >= 1e-6)",
        d.wrong_eta,
        1e-6,
    ));
    let ratio = d.gd[0].1 / d.gd[1].1;
    s.check(Check::near(
        "gd-drift-first-order",
        "halving eta halves the drift at time t1 (t1/eta steps of size eta^2 each: drift = eta * I + O(eta^2), \
         so the ratio is 2 + O(eta); 0.35 allows the O(eta) term at eta = 0.1)",
        ratio,
        2.0,
        0.35,
    ));
    s.check(Check::at_most(
        "flow-conserves",
        "RK4 conserves balancedness up to its truncation error, O(h^4) = 1e-8 for h = 0.01 times the \
         growth of the solution over [0, t1]; 1e-6 bounds it",
        d.flow,
        1e-6,
    ));
    s.notes.push(format!(
        "drift at t1 = {t1}: {}; gradient flow (RK4, h = {}): {:e}",
        d.gd.iter().map(|(e, x, _)| format!("eta {e}: {x:e}")).collect::<Vec<_>>().join(", "),
        d.h,
        d.flow
    ));
    ctx.save_figure(&d.figure, &mut s)?;
    Ok(s)
}
