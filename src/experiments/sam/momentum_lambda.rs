//! `momentum-lambda`: heavy-ball pairs $(\gamma, \beta)$ with equal $\lambda = \gamma/(1-\beta)^2$ follow one
//! momentum flow (Papazov–Pesme–Flammarion); its balance law and mirror form.

use super::common::diagonal_problem;
use crate::compare::{log_log_slope, max_abs_diff_mats, nan_max, nan_min};
use crate::error::{Error, Result};
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::fields::HeavyBallFlow;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::invariants::{Law, Monitor};
use crate::mat::Mat;
use crate::model::Loss;
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::run::{run, RunOptions};
use crate::scalar::Scalar;

/// Composite Simpson weights on `m + 1` equally spaced points (`m` even) with spacing `h`.
fn simpson_weights(m: usize, h: f64) -> Vec<f64> {
    (0..=m)
        .map(|i| {
            let c = if i == 0 || i == m {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            c * h / 3.0
        })
        .collect()
}

/// $\max |a - b|$ over the entries of two equal-shape matrices (NaN-propagating).
fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    max_abs_diff_mats(std::slice::from_ref(a), std::slice::from_ref(b))
}

/// The mirror form at $T$: relative residuals with and without $\delta_t$, and $a_T/\alpha$ on the support.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// Relative residual of $\tfrac12\operatorname{arcsinh}(\beta_t/a_t^2) + \delta_t$ off range($X$).
    pub with_delta: f64,
    /// The same without $\delta_t$ (the negative control).
    pub without_delta: f64,
    /// $a_T/\alpha$ on the support of $\beta^*$.
    pub scale_on_support: Vec<f64>,
}

/// What `momentum-lambda` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The horizon $T$ (a multiple of the save interval).
    pub t1: f64,
    /// RK4 step of the momentum flow.
    pub h: f64,
    /// Save interval (Simpson's rule grid).
    pub hs: f64,
    /// Per pair $(\beta, \gamma, \Delta t)$: worst relative deviation of the heavy-ball identity.
    pub identity: Vec<(f64, f64, f64, f64)>,
    /// Per pair, $(t, \|\beta_{MGD}(t) - \beta_{MGF}(t)\|_\infty)$.
    pub pair_paths: Vec<Vec<(f64, f64)>>,
    /// $(\Delta t, \max_t \text{gap})$ per pair.
    pub path_err: Vec<(f64, f64)>,
    /// $(\Delta t, \text{gap at } T)$ per pair.
    pub end_err: Vec<(f64, f64)>,
    /// Negative control: $\gamma$ doubled ($\lambda = 0.2$) at the smallest $\Delta t$: distance at $T$ to the
    /// $\lambda = 0.1$ flow, and that run's $\Delta t$.
    pub other_lambda: (f64, f64),
    /// Relative error of the balance law at $T$.
    pub balance_err: f64,
    /// $\min_t \min_i (u_i \pm v_i)$ along the flow (the mirror form needs it positive).
    pub min_u_pm_v: f64,
    /// The mirror form, when $u \pm v > 0$ along the run.
    pub mirror: Option<Mirror>,
    /// Per $\lambda \in \{0, 0.05, 0.1, 0.15\}$: $(\lambda, \|\beta_T - \beta^*\|_2, \|\beta_T\|_1, \text{loss})$.
    pub recovery: Vec<(f64, f64, f64, f64)>,
}

/// Heavy-ball pairs with $\lambda = 0.1$ against the momentum flow (RK4), the flow's balance law and
/// mirror form, and recovery against $\lambda$.
pub fn measure(quick: bool) -> Result<Measured> {
    let (n, d) = if quick { (10, 20) } else { (20, 40) };
    let (model, p0, beta_star) = diagonal_problem(n, d, 3, 0.1, 61)?;
    let lambda = 0.1;
    let t1 = if quick { 10.0 } else { 40.0 };
    let h = 1.25e-3;
    let hs: f64 = 5e-3; // saving interval: every 4 RK4 steps (Simpson's rule on this grid)
    let m = (t1 / hs).round() as usize;
    let m = m - m % 2;
    let t1 = m as f64 * hs;
    let save_times: Vec<f64> = (1..=m).map(|k| k as f64 * hs).collect();
    let mut flow = HeavyBallFlow::new(&model, lambda)?;
    let traj = solve(
        &mut flow,
        &model,
        &HeavyBallFlow::initial(&p0),
        &Integrator::Rk4 { h },
        &SolveOptions { t1, save_times },
        &mut Monitor::new(),
    )?;
    if traj.states.len() != m + 1 {
        return Err(Error::Other(format!("expected {} saved states, got {}", m + 1, traj.states.len())));
    }
    let beta_of = |y: &Params<f64>| model.end_to_end(&HeavyBallFlow::position(y));

    // --- Pairs with equal lambda.
    let betas = [0.5, 0.75, 0.875, 0.9375];
    let every_t = 0.5;
    let (mut identity, mut pair_paths, mut path_err, mut end_err) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &beta in &betas {
        let dt = lambda * (1.0 - beta);
        let gamma = lambda * (1.0 - beta) * (1.0 - beta);
        let steps = (t1 / dt).round() as usize;
        let every = (every_t / dt).round() as usize;
        let mut opt = Optimizer::new(Method::HeavyBall { eta: gamma, beta }, &0.0)?;
        let mut mon = Monitor::new().track(crate::invariants::DiagonalBalance, Law::heavy_ball_diagonal(gamma, beta));
        let r = run(
            &model,
            &mut opt,
            &p0,
            &RunOptions::steps(steps).save(crate::trajectory::Save::Every { n: every }),
            &mut mon,
        )?;
        identity.push((beta, gamma, dt, r.laws[0].worst_rel));
        let mut gaps = Vec::new();
        let mut series = Vec::new();
        for (k, st) in r.states.iter().enumerate() {
            let t = r.times[k];
            let j = (t / hs).round() as usize;
            let e = max_abs_diff(&model.end_to_end(st), &beta_of(&traj.states[j]));
            gaps.push(e);
            if k > 0 {
                series.push((t, e));
            }
        }
        let last = r.states.last().expect("final state");
        end_err.push((dt, max_abs_diff(&model.end_to_end(last), &beta_of(&traj.states[m]))));
        path_err.push((dt, nan_max(gaps)));
        pair_paths.push(series);
    }
    // Negative control: same smallest dt, doubled gamma (lambda = 0.2): a different path.
    let other_lambda = {
        let beta = betas[betas.len() - 1];
        let gamma = 2.0 * lambda * (1.0 - beta) * (1.0 - beta);
        let steps = (t1 / (gamma / (1.0 - beta))).round() as usize;
        let mut opt = Optimizer::new(Method::HeavyBall { eta: gamma, beta }, &0.0)?;
        let r = run(
            &model,
            &mut opt,
            &p0,
            &RunOptions::steps(steps).save(crate::trajectory::Save::FinalOnly),
            &mut Monitor::new(),
        )?;
        (
            max_abs_diff(&model.end_to_end(r.states.last().expect("final")), &beta_of(&traj.states[m])),
            gamma / (1.0 - beta),
        )
    };

    // --- Balance law and mirror form along the flow.
    let w = simpson_weights(m, hs);
    let (mut int_bal, mut a_plus, mut a_minus) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let mut both = Vec::new();
    for (k, y) in traj.states.iter().enumerate() {
        let (u, v, du, dv) = (&y.blocks[0], &y.blocks[1], &y.blocks[2], &y.blocks[3]);
        for i in 0..d {
            let (ui, vi, dui, dvi) = (*u.get(0, i), *v.get(0, i), *du.get(0, i), *dv.get(0, i));
            int_bal[i] += w[k] * (dui * dui - dvi * dvi);
            let (wp, wm) = (ui + vi, ui - vi);
            both.push(wp);
            both.push(wm);
            a_plus[i] += w[k] * ((dui + dvi) / wp).powi(2);
            a_minus[i] += w[k] * ((dui - dvi) / wm).powi(2);
        }
    }
    let min_u_pm_v = nan_min(both);
    let yt = &traj.states[m];
    let (u, v, du, dv) = (&yt.blocks[0], &yt.blocks[1], &yt.blocks[2], &yt.blocks[3]);
    let delta0 = p0.blocks[0].get(0, 0).powi(2);
    let balance_err = nan_max(int_bal.iter().enumerate().map(|(i, ib)| {
        let (ui, vi, dui, dvi) = (*u.get(0, i), *v.get(0, i), *du.get(0, i), *dv.get(0, i));
        let q = ui * ui - vi * vi + 2.0 * lambda * (ui * dui - vi * dvi) - 2.0 * lambda * ib;
        (q - delta0).abs() / delta0
    }));
    let mirror = if min_u_pm_v > 0.0 {
        // ½ arcsinh(β/a²) + δ = −S(t) ∈ range(X): project out range(X).
        let beta_t = model.end_to_end(&HeavyBallFlow::position(yt));
        let Loss::Regression { x, .. } = &model.loss else { unreachable!("regression problem") };
        let q = x.to_na().qr().q();
        let residual = |with_delta: bool| {
            let mvec: Vec<f64> = (0..d)
                .map(|i| {
                    let (ui, vi, dui, dvi) = (*u.get(0, i), *v.get(0, i), *du.get(0, i), *dv.get(0, i));
                    let a2 = (ui * ui - vi * vi) / 2.0;
                    let rp = (dui + dvi) / (ui + vi);
                    let rm = (dui - dvi) / (ui - vi);
                    let delta = lambda * (a_plus[i] - a_minus[i]) / 2.0 + lambda * (rp - rm) / 2.0;
                    0.5 * (beta_t.get(0, i) / a2).asinh() + if with_delta { delta } else { 0.0 }
                })
                .collect();
            let mv = nalgebra::DVector::from_vec(mvec);
            let perp = &mv - &q * (q.transpose() * &mv);
            perp.norm() / mv.norm()
        };
        let scale_on_support = (0..d)
            .filter(|&i| *beta_star.get(0, i) != 0.0)
            .map(|i| ((u.get(0, i).powi(2) - v.get(0, i).powi(2)) / 2.0).sqrt() / 0.1)
            .collect();
        Some(Mirror { with_delta: residual(true), without_delta: residual(false), scale_on_support })
    } else {
        None
    };

    // --- Sparsity of the recovered solution against lambda.
    let mut recovery = Vec::new();
    for &lam in &[0.0, 0.05, 0.1, 0.15] {
        let end = if lam == 0.0 {
            let tr = solve(
                &mut GradientFlow::new(&model),
                &model,
                &p0,
                &Integrator::Rk4 { h: 5e-3 },
                &SolveOptions { t1, save_times: vec![] },
                &mut Monitor::new(),
            )?;
            tr.states.last().expect("final").clone()
        } else {
            let tr = solve(
                &mut HeavyBallFlow::new(&model, lam)?,
                &model,
                &HeavyBallFlow::initial(&p0),
                &Integrator::Rk4 { h: 5e-3 },
                &SolveOptions { t1, save_times: vec![] },
                &mut Monitor::new(),
            )?;
            HeavyBallFlow::position(tr.states.last().expect("final"))
        };
        let b = model.end_to_end(&end);
        let err = b.sub(&beta_star).norm_sq().sqrt();
        let l1: f64 = b.as_slice().iter().map(|x| x.abs()).sum();
        recovery.push((lam, err, l1, model.loss(&end)));
    }
    Ok(Measured {
        t1,
        h,
        hs,
        identity,
        pair_paths,
        path_err,
        end_err,
        other_lambda,
        balance_err,
        min_u_pm_v,
        mirror,
        recovery,
    })
}

/// The exact heavy-ball identity, first-order convergence of the pairs, the negative control, the
/// balance law and the mirror form.
pub fn checks(m: &Measured) -> Vec<Check> {
    let (t1, h, hs) = (m.t1, m.h, m.hs);
    let mut v: Vec<Check> = m
        .identity
        .iter()
        .map(|&(beta, _, _, worst)| {
            Check::at_most(
                format!("heavy-ball-identity-beta-{beta}"),
                "each heavy-ball step moves u^2 - v^2 by exactly Delta(1 - gamma^2 g^2) + 2 beta (u du - v dv) + \
                 beta^2 (du^2 - dv^2) - 2 gamma beta g (du v - dv u) (rounding only: 1e-12 relative)",
                worst,
                1e-12,
            )
        })
        .collect();
    let margin_claim =
        "the error is C dt (1 + a dt + ...); over dt = 0.05..0.00625 the fitted slope moves by about a times \
                        the mean dt (~0.02), so 0.15 admits |a| up to ~7";
    v.push(Check::near(
        "pairs-path-first-order",
        format!("max over [0, {t1}] of |beta_MGD - beta_MGF|_inf shrinks at first order in dt = gamma/(1-beta) at fixed lambda ({margin_claim})"),
        log_log_slope(&m.path_err),
        1.0,
        0.15,
    ));
    v.push(Check::near(
        "pairs-end-first-order",
        format!("the end points at t = {t1} approach the flow's at first order in dt ({margin_claim})"),
        log_log_slope(&m.end_err),
        1.0,
        0.15,
    ));
    let (beta, _, dt, _) = m.identity[m.identity.len() - 1];
    let (other, other_dt) = m.other_lambda;
    let pair = m.end_err[m.end_err.len() - 1].1;
    v.push(Check::at_least(
        "other-lambda-differs",
        format!(
            "negative control: heavy ball with beta = {beta} but gamma doubled (lambda = 0.2, dt = {other_dt:.4}) ends at least \
             5x farther from the lambda = 0.1 flow than the lambda = 0.1 pair with dt = {dt}"
        ),
        other / pair,
        5.0,
    ));
    v.push(Check::at_most(
        "balance-law",
        format!(
            "along the momentum flow u^2 - v^2 + 2 lambda (u u' - v v') - 2 lambda int_0^t (u'^2 - v'^2) stays at its \
             initial value 2 alpha^2 (relative error at t = {t1}); RK4 (h = {h}, error ~1e-12) and Simpson's rule on a \
             {hs} grid (error ~h^4 f'''' t ~ 1e-9) bound it by 1e-7"
        ),
        m.balance_err,
        1e-7,
    ));
    if let Some(mi) = &m.mirror {
        v.push(Check::at_most(
            "mirror-form",
            format!(
                "implicit regularizer along the flow: 1/2 arcsinh(beta_t/a_t^2) + delta_t lies in range(X) (it equals \
                 -int_0^t grad L), with a_t^2 = (u^2-v^2)/2 and delta_t = lambda (A+ - A-)/2 + lambda (rho'+ - rho'-)/2, \
                 A+- = int (d/dt ln(u+-v))^2; so beta_t minimizes phi_(a_t) + <delta_t, .> on its fibre. Relative \
                 residual at t = {t1}, Simpson error bounds it by 1e-6"
            ),
            mi.with_delta,
            1e-6,
        ));
        v.push(Check::at_least(
            "mirror-form-needs-delta",
            "negative control: without delta_t the residual is at least 100x larger (the momentum perturbation is real)",
            mi.without_delta / mi.with_delta.max(1e-300),
            100.0,
        ));
    }
    v
}

/// Distances, the mirror residuals, and recovery against $\lambda$.
pub fn notes(m: &Measured) -> Vec<String> {
    let t1 = m.t1;
    let pair = m.end_err[m.end_err.len() - 1].1;
    let mut v = vec![
        format!("end distance to the lambda = 0.1 flow: pair {pair:.3e}, lambda = 0.2 run {:.3e}", m.other_lambda.0),
        format!(
            "path errors: {}; end errors: {}",
            m.path_err.iter().map(|(a, b)| format!("dt {a}: {b:.3e}")).collect::<Vec<_>>().join(", "),
            m.end_err.iter().map(|(a, b)| format!("dt {a}: {b:.3e}")).collect::<Vec<_>>().join(", ")
        ),
    ];
    match &m.mirror {
        None => v.push(format!("u +- v reached {:.3e} <= 0: the mirror form does not apply on this run", m.min_u_pm_v)),
        Some(mi) => v.push(format!(
            "mirror residual {:.2e} (without delta {:.2e}); a_t/alpha on the support at t = {t1}: {}",
            mi.with_delta,
            mi.without_delta,
            mi.scale_on_support.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", ")
        )),
    }
    for &(lam, err, l1, loss) in &m.recovery {
        v.push(format!("lambda {lam}: |beta_T - beta*|_2 = {err:.4}, |beta_T|_1 = {l1:.4}, loss {loss:.2e}"));
    }
    let worse = m.recovery.windows(2).all(|w| w[1].1 >= w[0].1);
    v.push(format!(
        "sparsity at t = {t1} (not the t -> infinity limit: the loss is still ~1e-3): the recovery error {} with \
         lambda on this problem{}",
        if worse { "grows monotonically" } else { "is not monotone" },
        if worse {
            "; momentum does not help recovery here (the effective scale shrinks most on the support), as in the \
             reference computations"
        } else {
            ""
        }
    ));
    v
}

/// Each pair's distance to the flow, and recovery against $\lambda$.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig_pairs = Figure::new(
        "momentum_pairs",
        "Heavy ball pairs with λ = 0.1 against the momentum flow",
        "time t = kγ/(1−β)",
        "‖β_MGD(t) − β_MGF(t)‖∞",
    )
    .log_y();
    for (&(beta, gamma, dt, _), series) in m.identity.iter().zip(&m.pair_paths) {
        fig_pairs = fig_pairs.with(Series::line(format!("β = {beta}, γ = {gamma:.2e}, Δt = {dt}"), series.clone()));
    }
    let fig_sp = Figure::new("momentum_sparsity", "Recovery against λ (momentum flow, t = T)", "λ", "‖β_T − β*‖₂")
        .with(Series::line("momentum flow", m.recovery.iter().map(|r| (r.0, r.1)).collect()));
    vec![fig_pairs, fig_sp]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "momentum-lambda",
    description: "Heavy ball w_{k+1} = w_k - gamma grad F(w_k) + beta (w_k - w_{k-1}) on a diagonal net beta = u*v (sparse \
         regression, alpha = 0.1) against the momentum flow lambda w'' + w' + grad F = 0 with lambda = gamma/(1-beta)^2 \
         (Papazov-Pesme-Flammarion).",
    measure,
    checks,
    figures,
    notes,
};

/// The `momentum-lambda` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "heavy ball pairs (gamma, beta) with equal lambda = gamma/(1-beta)^2 follow one momentum flow; its balance law and mirror form hold",
        run: |ctx| RECIPE.run(ctx),
    }
}
