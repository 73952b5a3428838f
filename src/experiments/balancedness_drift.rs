//! `conservation-demo`: gradient flow conserves the balancedness matrices
//! $C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top$ of a deep linear network; gradient descent moves them
//! by exactly $\eta^2(A_{j+1}^\top A_{j+1} - A_j A_j^\top)$ per step, so that at a fixed time $t$
//! (after $t/\eta$ steps) the drift is first order in $\eta$.

use super::{Check, Experiment, Recipe};
use crate::data;
use crate::error::Result;
use crate::flow::{FlowProblem, GradientFlow, Integrator};
use crate::init;
use crate::invariants::{Balancedness, Law, LawReport, Monitor};
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::run::{run, RunOptions};
use crate::trajectory::Save;

/// The GD step sizes, largest first (each half the previous).
pub const ETAS: [f64; 3] = [0.1, 0.05, 0.025];
/// The RK4 step of the gradient-flow run.
pub const H: f64 = 0.01;

/// The experiment's registry entry.
pub fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: "conservation-demo",
        about: "gradient flow conserves balancedness; GD drifts by an exact eta^2 term per step",
        run: |ctx| RECIPE.run(ctx),
    }]
}

/// The problem: a 3-4-4-3 deep linear network fitting a Gaussian 3×3 target from a Gaussian
/// initialization (scale 0.5), all from fixed seeds.
pub fn problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::deep_linear(&[3, 4, 4, 3])?;
    let target = data::gaussian(3, 3, 1.0, &mut data::rng(11));
    let model = Model::new(arch.clone(), Loss::target(target))?;
    let p0 = init::gaussian(&arch, 0.5, &mut data::rng(12));
    Ok((model, p0))
}

/// One GD run of [`measure`].
#[derive(Clone, Debug)]
pub struct GdRun {
    /// Step size.
    pub eta: f64,
    /// `max_j max |C_j(t) − C_j(0)|` at every step (the report of [`Law::Conserved`]).
    pub drift: LawReport,
    /// The exact per-step identity [`Law::gd_balancedness`] checked at every step.
    pub identity: LawReport,
}

/// What [`measure`] measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The horizon.
    pub t1: f64,
    /// One GD run per step size of [`ETAS`], each for `t1/η` steps.
    pub gd: Vec<GdRun>,
    /// Negative control: the first run checked against the identity stated with a step size 10%
    /// too large.
    pub wrong_eta: LawReport,
    /// Gradient flow (RK4, step [`H`], 200 saves): the drift of the balancedness.
    pub flow: LawReport,
}

impl GdRun {
    /// The drift at the last step.
    pub fn final_drift(&self) -> f64 {
        self.drift.series.last().map(|p| p.1).unwrap_or(f64::NAN)
    }
}

/// Runs GD with each step size of [`ETAS`] and gradient flow (RK4, step [`H`]) up to time
/// `t1 = 2` (quick) or `8` on [`problem`], tracking the balancedness.
pub fn measure(quick: bool) -> Result<Measured> {
    let t1 = if quick { 2.0 } else { 8.0 };
    let (model, p0) = problem()?;
    let mut gd = Vec::new();
    let mut wrong_eta = None;
    for eta in ETAS {
        let steps = (t1 / eta).round() as usize;
        let mut opt = Optimizer::new(Method::Gd { eta }, &0.0)?;
        let mut mon = Monitor::new()
            .track(Balancedness, Law::Conserved)
            .track(Balancedness, Law::gd_balancedness(eta))
            .track(Balancedness, Law::gd_balancedness(1.1 * eta));
        let mut laws = run(&model, &mut opt, &p0, &RunOptions::steps(steps), &mut mon)?.laws.into_iter();
        let (drift, identity, wrong) = (laws.next(), laws.next(), laws.next());
        if let (Some(drift), Some(identity), Some(wrong)) = (drift, identity, wrong) {
            wrong_eta.get_or_insert(wrong);
            gd.push(GdRun { eta, drift, identity });
        }
    }
    let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
    let traj = FlowProblem::new(GradientFlow::new(&model), &p0, t1)
        .model(&model)
        .save(Save::grid(t1, 200))
        .monitor(&mut mon)
        .solve(&Integrator::Rk4 { h: H })?;
    let unchecked = || LawReport::unchecked("balancedness", "missing");
    Ok(Measured {
        t1,
        gd,
        wrong_eta: wrong_eta.unwrap_or_else(unchecked),
        flow: traj.laws.into_iter().next().unwrap_or_else(unchecked),
    })
}

/// The claims: GD's identity holds to rounding at every step (and a wrong η is rejected), the
/// drift at fixed time is first order in η, and RK4 conserves the balancedness.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = Vec::new();
    for r in &m.gd {
        v.push(Check::at_most(
            format!("gd-exact-drift-eta-{}", r.eta),
            "GD's per-step balancedness identity holds to rounding: each check compares two f64 evaluations \
             of O(1) matrices built from a few hundred roundings (eps = 2.2e-16), so 1e-12 leaves a 10x margin",
            if r.identity.checked() { r.identity.worst_rel } else { f64::NAN },
            1e-12,
        ));
    }
    v.push(Check::at_least(
        "gd-law-negative-control",
        "the same identity stated with a step size 10% too large is rejected: its deviation is of the order of \
         the eta^2 term itself, far above the 1e-12 rounding bound (required: >= 1e-6)",
        if m.wrong_eta.checked() { m.wrong_eta.worst_rel } else { f64::NAN },
        1e-6,
    ));
    let ratio = match (m.gd.first(), m.gd.get(1)) {
        (Some(a), Some(b)) => a.final_drift() / b.final_drift(),
        _ => f64::NAN,
    };
    v.push(Check::near(
        "gd-drift-first-order",
        "halving eta halves the drift at time t1 (t1/eta steps of size eta^2 each: drift = eta * I + O(eta^2), \
         so the ratio is 2 + O(eta); 0.35 allows the O(eta) term at eta = 0.1)",
        ratio,
        2.0,
        0.35,
    ));
    v.push(Check::at_most(
        "flow-conserves",
        "RK4 conserves balancedness up to its truncation error, O(h^4) = 1e-8 for h = 0.01 times the \
         growth of the solution over [0, t1]; 1e-6 bounds it",
        if m.flow.checked() { m.flow.worst_abs } else { f64::NAN },
        1e-6,
    ));
    v
}

/// One figure: the drift against time, GD for each η and gradient flow (dashed), log scale.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig = Figure::new(
        "balancedness_drift",
        "Balancedness drift: gradient descent vs gradient flow",
        "time t",
        "max |C(t) − C(0)|",
    )
    .log_y();
    for r in &m.gd {
        fig = fig.with(Series::law(format!("GD, η = {}", r.eta), &r.drift));
    }
    fig = fig.with(Series::law(format!("gradient flow (RK4, h = {H})"), &m.flow).styled(Style::Dashed));
    vec![fig]
}

/// The drift at the horizon for each η and for the flow.
pub fn notes(m: &Measured) -> Vec<String> {
    vec![format!(
        "drift at t1 = {}: {}; gradient flow (RK4, h = {H}): {:e}",
        m.t1,
        m.gd.iter().map(|r| format!("eta {}: {:e}", r.eta, r.final_drift())).collect::<Vec<_>>().join(", "),
        m.flow.worst_abs
    )]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "conservation-demo",
    description: "Balancedness C_j = W_{j+1}^T W_{j+1} - W_j W_j^T of a 3-4-4-3 deep linear network: conserved by \
                  gradient flow, moved by gradient descent by exactly eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T) per step.",
    measure,
    checks,
    figures,
    notes,
};
