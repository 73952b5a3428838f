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

use super::{Check, Ctx, Summary};
use crate::data;
use crate::error::Result;
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

/// Least-squares slope of `ln y` against `ln x`.
pub(crate) fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

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

/// Errors at time `t1` of the four comparisons, each over `etas` (heavy ball: over `Δt`).
#[allow(clippy::type_complexity)]
fn measure(etas: &[f64], t1: f64, rho: f64, lambda: f64) -> Result<Vec<(&'static str, f64, Vec<(f64, f64)>)>> {
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
    for &eta in etas {
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
    Ok(vec![
        ("gd-vs-gradient-flow", 1.0, e_gf),
        ("gd-vs-modified-flow", 2.0, e_mod),
        ("sam-vs-sam-flow", 1.0, e_sam),
        ("heavy-ball-vs-momentum-flow", 1.0, e_hb),
    ])
}

/// Adds to `summary` the order checks of discrete runs against their flows (GD against gradient
/// flow and against its modified flow, SAM against its flow, heavy ball against its flow).
#[allow(dead_code)]
pub(super) fn discrete_checks(ctx: &Ctx, summary: &mut Summary) -> Result<()> {
    let etas = [0.04, 0.02, 0.01, 0.005];
    let t1 = if ctx.quick { 1.0 } else { 2.0 };
    let (rho, lambda) = (0.05, 0.1);
    let results = measure(&etas, t1, rho, lambda)?;
    let mut fig = Figure::new(
        "discrete_orders",
        "Discrete methods against their flows at a fixed time",
        "step size η (heavy ball: Δt)",
        "‖discrete − flow‖ at time T",
    )
    .log_x()
    .log_y();
    for (name, order, pts) in &results {
        let slope = log_log_slope(pts);
        summary.check(Check::near(
            format!("order-{name}"),
            format!(
                "fitted log-log slope of the state error at T = {t1} over eta = 0.04..0.005 (reference flow RK4 at \
                 h = {H_REF}); the error is C eta^p (1 + a eta + ...), which shifts the fitted slope by about a times \
                 the mean eta (~0.02), so a margin of 0.15 admits |a| up to ~7"
            ),
            slope,
            *order,
            0.15,
        ));
        summary.notes.push(format!(
            "{name}: slope {slope:.3}; errors {}",
            pts.iter().map(|(e, x)| format!("{e}: {x:.3e}")).collect::<Vec<_>>().join(", ")
        ));
        fig = fig.with(Series::points(format!("{name} (slope {slope:.2})"), pts.clone()));
    }
    ctx.save_figure(&fig, summary)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_exact_power_law() {
        let pts: Vec<(f64, f64)> = [0.1, 0.05, 0.02].iter().map(|&x: &f64| (x, 3.0 * x.powf(1.5))).collect();
        assert!((log_log_slope(&pts) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn discrete_checks_pass_in_quick_mode() {
        let dir = std::env::temp_dir().join(format!("linflow-orders-discrete-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx { dir: dir.clone(), quick: true };
        let mut s = Summary::new("orders", "test");
        discrete_checks(&ctx, &mut s).unwrap();
        for n in &s.notes {
            println!("{n}");
        }
        assert_eq!(s.checks.len(), 4);
        assert!(s.passed(), "{:#?}\n{:#?}", s.checks, s.notes);
        assert!(!s.figures.is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }
}
