//! Convergence orders of discrete methods against the flows they approximate; part of `orders`.
//!
//! At a fixed time $T$ the state error of a discrete method against its flow behaves like
//! $C\eta^p(1 + O(\eta))$; the slope of $\log\|\text{error}\|$ against $\log\eta$, fitted by least
//! squares over four step sizes, estimates $p$:
//!
//! | discrete method | flow | $p$ |
//! |---|---|---|
//! | GD, $t_k = k\eta$ | gradient flow | 1 |
//! | GD | modified flow on $L + \frac{\eta}{4}\|\nabla L\|^2$ | 2 |
//! | SAM (ρ fixed) | $\dot w = -\nabla L(w + \rho\nabla L/\|\nabla L\|)$ | 1 |
//! | heavy ball (λ fixed), $t_k = k\gamma/(1-\beta)$ | $\lambda\ddot w + \dot w + \nabla L = 0$ | 1 in $\Delta t$ |

use crate::compare::log_log_slope;
use crate::data;
use crate::error::Result;
use crate::experiments::Check;
use crate::flow::fields::{HeavyBallFlow, ModifiedGdFlow, SamFlow, SamForm};
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions, VectorField};
use crate::init;
use crate::invariants::Monitor;
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::run::{run, RunOptions};

/// Reference flows: RK4 at this step. Its global error, O(h⁴) ≈ 1e-12, is far below the smallest
/// discrete error measured (GD against its modified flow at η = 0.005, about 1e-6).
const H_REF: f64 = 1e-3;

fn flow_end<F: VectorField<f64>>(field: &mut F, model: &Model<f64>, y0: &Params<f64>, t1: f64) -> Result<Params<f64>> {
    let traj = solve(
        field,
        model,
        y0,
        &Integrator::Rk4 { h: H_REF },
        &SolveOptions { t1, save_times: vec![] },
        &mut Monitor::new(),
    )?;
    Ok(traj.states.last().expect("solve keeps the final state").clone())
}

fn discrete_end(model: &Model<f64>, method: Method, p0: &Params<f64>, steps: usize) -> Result<Params<f64>> {
    let mut opt = Optimizer::new(method, &0.0)?;
    let traj = run(
        model,
        &mut opt,
        p0,
        &RunOptions::steps(steps).save(crate::trajectory::Save::Every { n: steps }),
        &mut Monitor::new(),
    )?;
    Ok(traj.states.last().expect("run keeps the final state").clone())
}

fn dist(a: &Params<f64>, b: &Params<f64>) -> f64 {
    let mut d = a.clone();
    d.axpy(&-1.0, b);
    d.norm_sq().sqrt()
}

/// The test problem: a 2-3-2 linear network fitting a Gaussian target from a Gaussian start
/// (scale 0.6), fixed seeds.
fn problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::deep_linear(&[2, 3, 2])?;
    let target = data::gaussian(2, 2, 1.0, &mut data::rng(41));
    let model = Model::new(arch.clone(), Loss::target(target))?;
    Ok((model, init::gaussian(&arch, 0.6, &mut data::rng(42))))
}

/// One discrete method against its flow: the state error at time $T$ per step size.
#[derive(Clone, Debug)]
pub struct DiscreteOrder {
    /// Which comparison, e.g. `gd-vs-modified-flow`.
    pub name: &'static str,
    /// The predicted order $p$.
    pub order: f64,
    /// $(\eta, \|\text{discrete} - \text{flow}\|)$ at $T$ (heavy ball: $\Delta t$ in place of $\eta$).
    pub errors: Vec<(f64, f64)>,
    /// Least-squares log-log slope of `errors`.
    pub slope: f64,
}

/// The time $T$ at which the discrete runs are compared with their flows.
pub(super) fn compare_time(quick: bool) -> f64 {
    if quick {
        1.0
    } else {
        2.0
    }
}

/// Errors at time $T$ of the four comparisons (GD against gradient flow and against its modified
/// flow, SAM against its flow, heavy ball against its flow), over $\eta = 0.04 \ldots 0.005$.
pub(super) fn measure_discrete(quick: bool) -> Result<Vec<DiscreteOrder>> {
    let etas = [0.04, 0.02, 0.01, 0.005];
    let t1 = compare_time(quick);
    let (rho, lambda) = (0.05, 0.1);
    let (model, p0) = problem()?;
    let steps = |dt: f64| (t1 / dt).round() as usize;
    let gf = flow_end(&mut GradientFlow::new(&model), &model, &p0, t1)?;
    let sam = flow_end(&mut SamFlow::new(&model, rho, SamForm::Exact)?, &model, &p0, t1)?;
    let hb = HeavyBallFlow::position(&flow_end(
        &mut HeavyBallFlow::new(&model, lambda)?,
        &model,
        &HeavyBallFlow::initial(&p0),
        t1,
    )?);
    let (mut e_gf, mut e_mod, mut e_sam, mut e_hb) = (vec![], vec![], vec![], vec![]);
    for &eta in &etas {
        let gd = discrete_end(&model, Method::Gd { eta }, &p0, steps(eta))?;
        e_gf.push((eta, dist(&gd, &gf)));
        let modified = flow_end(&mut ModifiedGdFlow::new(&model, eta)?, &model, &p0, t1)?;
        e_mod.push((eta, dist(&gd, &modified)));
        let s = discrete_end(&model, Method::Sam { eta, rho }, &p0, steps(eta))?;
        e_sam.push((eta, dist(&s, &sam)));
        // Heavy ball with Δt = eta at fixed λ: β = 1 − Δt/λ, γ = λ(1−β)² = Δt²/λ.
        let beta = 1.0 - eta / lambda;
        let gamma = eta * eta / lambda;
        let h = discrete_end(&model, Method::HeavyBall { eta: gamma, beta }, &p0, steps(eta))?;
        e_hb.push((eta, dist(&h, &hb)));
    }
    Ok([
        ("gd-vs-gradient-flow", 1.0, e_gf),
        ("gd-vs-modified-flow", 2.0, e_mod),
        ("sam-vs-sam-flow", 1.0, e_sam),
        ("heavy-ball-vs-momentum-flow", 1.0, e_hb),
    ]
    .into_iter()
    .map(|(name, order, errors)| DiscreteOrder { name, order, slope: log_log_slope(&errors), errors })
    .collect())
}

/// The order checks of the discrete runs against their flows, compared at time `t1`.
pub(super) fn discrete_checks(results: &[DiscreteOrder], t1: f64) -> Vec<Check> {
    results
        .iter()
        .map(|r| {
            Check::near(
                format!("order-{}", r.name),
                format!(
                    "fitted log-log slope of the state error at T = {t1} over eta = 0.04..0.005 (reference flow RK4 at \
                     h = {H_REF}); the error is C eta^p (1 + a eta + ...), which shifts the fitted slope by about a times \
                     the mean eta (~0.02), so a margin of 0.15 admits |a| up to ~7"
                ),
                r.slope,
                r.order,
                0.15,
            )
        })
        .collect()
}

/// The fitted slopes and the errors.
pub(super) fn discrete_notes(results: &[DiscreteOrder]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            format!(
                "{}: slope {:.3}; errors {}",
                r.name,
                r.slope,
                r.errors.iter().map(|(e, x)| format!("{e}: {x:.3e}")).collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

/// The errors against the step size, one series per comparison.
pub(super) fn discrete_figure(results: &[DiscreteOrder]) -> Figure {
    let mut fig = Figure::new(
        "discrete_orders",
        "Discrete methods against their flows at a fixed time",
        "step size η (heavy ball: Δt)",
        "‖discrete − flow‖ at time T",
    )
    .log_x()
    .log_y();
    for r in results {
        fig = fig.with(Series::points(format!("{} (slope {:.2})", r.name, r.slope), r.errors.clone()));
    }
    fig
}
