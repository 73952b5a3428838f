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

// ---------------------------------------------------------------------------------------------
// Building blocks of the notebooks (each returns its figure and the numbers worth printing).

/// One rung of [`precision_ladder`].
#[derive(Clone, Debug)]
pub struct Rung {
    /// Number type, e.g. `f64`, `mpfr256`, `rational`.
    pub precision: String,
    /// Worst absolute deviation from GD's exact per-step balancedness identity.
    pub worst_abs: f64,
    /// Whether every deviation was exactly zero.
    pub exact_zero: bool,
}

fn gd_identity<S: crate::scalar::Scalar>(proto: &S, eta: S, steps: usize) -> Result<crate::invariants::LawReport> {
    let (model, p0) = problem()?;
    let (model, p0) = (model.cast(proto), p0.cast(proto));
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() })?;
    let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(eta));
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(steps), &mut mon)?;
    Ok(traj.laws[0].clone())
}

/// GD (η = 1/10) on [`problem`]: the deviation from the exact per-step identity
/// $C_j^+ = C_j + \eta^2(A_{j+1}^\top A_{j+1} - A_jA_j^\top)$ in `f64`, in MPFR at each of `bits`
/// (`steps` steps), and in exact rationals (`rational_steps` steps, where it is exactly zero).
/// The figure plots the deviation per step on a log scale (zeros cannot be drawn there; the
/// rational rung is reported in the rungs only).
pub fn precision_ladder(steps: usize, bits: &[u32], rational_steps: usize) -> Result<(Figure, Vec<Rung>)> {
    let mut fig = Figure::new(
        "precision_ladder",
        "GD's balancedness identity at increasing precision",
        "step k",
        "max |C(k) − identity|",
    )
    .log_y();
    let mut rungs = Vec::new();
    let r = gd_identity(&0.0f64, 0.1, steps)?;
    fig = fig.with(Series::line("f64", r.series.iter().map(|&(t, d)| (t / 0.1, d)).collect()));
    rungs.push(Rung { precision: "f64".into(), worst_abs: r.worst_abs, exact_zero: r.exact_zero });
    for &b in bits {
        let proto = crate::scalar::Mp::new(b);
        let eta = crate::scalar::Scalar::ratio_like(&proto, 1, 10);
        let r = gd_identity(&proto, eta, steps)?;
        fig = fig.with(Series::line(format!("MPFR {b} bits"), r.series.iter().map(|&(t, d)| (t / 0.1, d)).collect()));
        rungs.push(Rung { precision: format!("mpfr{b}"), worst_abs: r.worst_abs, exact_zero: r.exact_zero });
    }
    let q = crate::scalar::Q::new();
    let r = gd_identity(&q, crate::scalar::Q::from((1, 10)), rational_steps)?;
    rungs.push(Rung { precision: "rational".into(), worst_abs: r.worst_abs, exact_zero: r.exact_zero });
    Ok((fig, rungs))
}

fn max_abs_of(ms: &[crate::mat::Mat<f64>]) -> f64 {
    ms.iter().filter_map(|m| m.max_abs()).fold(0.0, f64::max)
}

/// What [`weight_decay_balancing`] measured.
#[derive(Clone, Debug)]
pub struct Balancing {
    /// `max |μ(t)|` for gradient flow, GD and the closed form `e^{−2λt} max |μ(0)|`, log scale.
    pub figure: Figure,
    /// Gradient flow (RK4): worst deviation from `μ(t) = e^{−2λt} μ(0)`, relative to `max |μ(0)|`.
    pub flow_rel: f64,
    /// `max |μ|` at `t1`: gradient flow, then GD.
    pub final_mu: (f64, f64),
}

/// Weight decay balances a deep linear network: under gradient flow of
/// $E(W_N\cdots W_1) + \frac\lambda2\sum_j\|W_j\|^2$ the moment map obeys
/// $\dot\mu_j = -2\lambda\mu_j$, so $\mu(t) = e^{-2\lambda t}\mu(0)$ exactly, whatever the loss.
/// Runs gradient flow (RK4, step `h`) and GD (step `eta`) on [`problem`] with decay `lambda`.
pub fn weight_decay_balancing(lambda: f64, eta: f64, h: f64, t1: f64) -> Result<Balancing> {
    use crate::invariants::{MomentMap, Quantity};
    let (model, p0) = problem()?;
    let model = model.with_weight_decay(lambda)?;
    let mu0 = max_abs_of(&MomentMap.eval(&model, &p0));
    let save_times: Vec<f64> = (1..=100).map(|k| t1 * k as f64 / 100.0).collect();
    let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0 * lambda));
    let flow = solve(
        &mut GradientFlow::new(&model),
        &model,
        &p0,
        &Integrator::Rk4 { h },
        &SolveOptions { t1, save_times },
        &mut mon,
    )?;
    let flow_pts: Vec<(f64, f64)> =
        flow.times.iter().zip(&flow.states).map(|(t, p)| (*t, max_abs_of(&MomentMap.eval(&model, p)))).collect();
    let steps = (t1 / eta).round() as usize;
    let mut opt = Optimizer::new(Method::Gd { eta }, &0.0)?;
    let gd = run(
        &model,
        &mut opt,
        &p0,
        &RunOptions::steps(steps).save(crate::trajectory::Save::Every { n: (steps / 100).max(1) }),
        &mut Monitor::new(),
    )?;
    let gd_pts: Vec<(f64, f64)> =
        gd.times.iter().zip(&gd.states).map(|(t, p)| (*t, max_abs_of(&MomentMap.eval(&model, p)))).collect();
    let closed: Vec<(f64, f64)> = flow.times.iter().map(|t| (*t, mu0 * (-2.0 * lambda * t).exp())).collect();
    let final_mu = (flow_pts.last().map(|p| p.1).unwrap_or(f64::NAN), gd_pts.last().map(|p| p.1).unwrap_or(f64::NAN));
    let figure = Figure::new(
        "weight_decay_balancing",
        format!("Weight decay λ = {lambda} balances the network"),
        "time t",
        "max |μ(t)|",
    )
    .log_y()
    .with(Series::line(format!("gradient flow (RK4, h = {h})"), flow_pts))
    .with(Series::line(format!("GD, η = {eta}"), gd_pts))
    .with(Series::line("e^(−2λt) max |μ(0)|", closed).styled(Style::Dashed));
    Ok(Balancing { figure, flow_rel: flow.laws[0].worst_rel, final_mu })
}

/// What [`kempf_ness_orbit`] measured.
#[derive(Clone, Debug)]
pub struct KempfNess {
    /// `½Σ‖(g_s·W)_j‖²` against `s`, from the balanced point and from an unbalanced point.
    pub figure: Figure,
    /// The grid value of `s` minimizing the norm along the orbit through the balanced point.
    pub argmin_balanced: f64,
    /// The same for the orbit through the unbalanced point `g_{s0}·W`.
    pub argmin_unbalanced: f64,
    /// `max |μ|` at the balanced point (zero up to rounding).
    pub mu_balanced: f64,
    /// Largest change of the end-to-end matrix along both orbits (zero up to rounding).
    pub product_change: f64,
}

/// The group action $g\cdot W = (g_jW_jg_{j-1}^{-1})_j$ with $g_j = e^{s\xi_j}$ on the hidden
/// layers ($g_0 = g_N = I$): it leaves the end-to-end matrix unchanged.
pub fn act(p: &Params<f64>, xi: &[crate::mat::Mat<f64>], s: f64) -> Result<Params<f64>> {
    let g = xi.iter().map(|x| crate::linalg::sym_exp(x, &s)).collect::<Result<Vec<_>>>()?;
    let g_inv = xi.iter().map(|x| crate::linalg::sym_exp(x, &-s)).collect::<Result<Vec<_>>>()?;
    crate::closed_form::lindsey_menon::act_with_inverses(p, &g, &g_inv)
}

/// Kempf–Ness on a 3-4-4-3 network: along the orbit $s\mapsto e^{s\xi}\cdot W$ (random symmetric
/// $\xi$) the squared norm $\frac12\sum_j\|W_j\|^2$ is convex in $s$ with derivative $\langle\mu,\xi\rangle$
/// at $s = 0$; the balanced factorization built by [`init::balanced`] ($\mu = 0$) is the minimum of
/// its orbit, and the unbalanced point $e^{s_0\xi}\cdot W$ has its minimum back at $s = -s_0$.
pub fn kempf_ness_orbit(s0: f64, n_grid: usize) -> Result<KempfNess> {
    use crate::invariants::{MomentMap, Quantity};
    let arch = Arch::deep_linear(&[3, 4, 4, 3])?;
    let target = data::gaussian(3, 3, 1.0, &mut data::rng(21));
    let model = Model::new(arch.clone(), Loss::target(target.clone()))?;
    let w = init::balanced(&arch, &target)?;
    let mut rng = data::rng(22);
    let xi: Vec<_> = [4usize, 4]
        .iter()
        .map(|&d| {
            let a = data::gaussian(d, d, 0.3, &mut rng);
            a.add(&a.t()).scaled(&0.5)
        })
        .collect();
    let unbalanced = act(&w, &xi, s0)?;
    let norm = |p: &Params<f64>| 0.5 * p.norm_sq();
    let phi0 = arch.product(&w);
    let (mut pts_b, mut pts_u, mut change) = (Vec::new(), Vec::new(), 0.0f64);
    let smax = 2.0 * s0.abs().max(0.5);
    for k in 0..=n_grid {
        let s = -smax + 2.0 * smax * k as f64 / n_grid.max(1) as f64;
        let (gb, gu) = (act(&w, &xi, s)?, act(&unbalanced, &xi, s)?);
        change = change
            .max(arch.product(&gb).sub(&phi0).max_abs().unwrap_or(0.0))
            .max(arch.product(&gu).sub(&phi0).max_abs().unwrap_or(0.0));
        pts_b.push((s, norm(&gb)));
        pts_u.push((s, norm(&gu)));
    }
    let argmin = |v: &[(f64, f64)]| v.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|p| p.0).unwrap_or(f64::NAN);
    let (argmin_balanced, argmin_unbalanced) = (argmin(&pts_b), argmin(&pts_u));
    let figure = Figure::new(
        "kempf_ness_orbit",
        "Kempf–Ness: the balanced point minimizes the norm on its orbit",
        "s",
        "½ Σ ‖(g_s · W)_j‖²",
    )
    .log_y()
    .with(Series::line("orbit of the balanced W (μ = 0)", pts_b))
    .with(Series::line(format!("orbit of the unbalanced g_{s0} · W"), pts_u).styled(Style::Dashed));
    Ok(KempfNess {
        figure,
        argmin_balanced,
        argmin_unbalanced,
        mu_balanced: max_abs_of(&MomentMap.eval(&model, &w)),
        product_change: change,
    })
}

/// What [`sam_vs_sgd_balance`] measured.
#[derive(Clone, Debug)]
pub struct SamBalance {
    /// `|B_k|`, `B = ½(‖x‖² − ‖y‖²)`, against the step for SGD and SAM (log scale).
    pub figure: Figure,
    /// `|B|` at the start and at the end: SGD, then SAM.
    pub b0: f64,
    /// Final `|B|` of SGD and of SAM.
    pub final_b: (f64, f64),
    /// Worst relative deviation from the exact per-step identity of `B` (SGD, then SAM).
    pub identity_rel: (f64, f64),
}

/// SAM balances a two-factor problem, SGD does not (Li–Zhang–He): matrix sensing of a rank-one
/// `d×d` matrix with the factorization `x yᵀ`, mini-batches of `batch` measurements (the same
/// batches for both methods), from an unbalanced start (`‖y‖ ≈ 1.5‖x‖`). Each step is also checked
/// against the exact identity for `ΔB` ([`Law::sam_factor`]).
pub fn sam_vs_sgd_balance(eta: f64, rho: f64, steps: usize, batch: usize) -> Result<SamBalance> {
    use crate::invariants::{FactorBalance, Quantity};
    let d = 6;
    let arch = Arch::Factor { d1: d, d2: d, r: 1 };
    let mut rng = data::rng(31);
    let w_star = data::low_rank(d, d, 1, &mut rng);
    let model = Model::new(arch.clone(), data::sensing(&w_star, 40, &mut rng))?;
    let mut p0 = init::gaussian(&arch, 0.4, &mut rng);
    p0.blocks[1].scale_mut(&1.5);
    let save = crate::trajectory::Save::Every { n: (steps / 200).max(1) };
    let mut out = Vec::new();
    for (label, method, law) in [
        ("SGD", Method::Gd { eta }, Law::sam_factor(eta, 0.0)),
        ("SAM", Method::Sam { eta, rho }, Law::sam_factor(eta, rho)),
    ] {
        let mut opt = Optimizer::new(method, &0.0)?.with_batches(batch, 32);
        let mut mon = Monitor::new().track(FactorBalance, law);
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(steps).save(save.clone()), &mut mon)?;
        let pts: Vec<(f64, f64)> = traj
            .steps
            .iter()
            .zip(&traj.states)
            .map(|(k, p)| (*k as f64, FactorBalance.eval(&model, p)[0].get(0, 0).abs()))
            .collect();
        out.push((label, pts, traj.laws[0].worst_rel));
    }
    let b0 = FactorBalance.eval(&model, &p0)[0].get(0, 0).abs();
    let final_b = (out[0].1.last().map(|p| p.1).unwrap_or(f64::NAN), out[1].1.last().map(|p| p.1).unwrap_or(f64::NAN));
    let identity_rel = (out[0].2, out[1].2);
    let mut figure = Figure::new(
        "sam_vs_sgd_balance",
        format!("Balancedness under SGD and SAM (η = {eta}, ρ = {rho})"),
        "step k",
        "|B_k| = ½ |‖x‖² − ‖y‖²|",
    );
    for (label, pts, _) in out {
        figure = figure.with(Series::line(label, pts));
    }
    Ok(SamBalance { figure, b0, final_b, identity_rel })
}

/// What [`diagonal_momentum`] measured.
#[derive(Clone, Debug)]
pub struct DiagonalMomentum {
    /// Loss against time `t = kη/(1−β)` for GD and heavy ball at equal `λ = η/(1−β)²` (log scale).
    pub loss: Figure,
    /// The recovered coefficients `β = u⊙v` at `t1` against the sparse truth.
    pub coefficients: Figure,
    /// Per run: `(label, final loss, ‖β − β*‖∞, ‖β‖₁, worst relative deviation from the exact
    /// per-step identity of u² − v²)`.
    pub runs: Vec<(String, f64, f64, f64, f64)>,
    /// `‖β*‖₁` of the truth.
    pub truth_l1: f64,
}

/// A diagonal network `β = u⊙v` (d = 20) on an under-determined sparse regression (10 samples,
/// 3-sparse truth) from the small initialization `α`: GD with step `lambda`, and heavy ball with
/// momentum `β_m ∈ betas` and step `λ(1−β_m)²`, so that all share `λ = η/(1−β_m)²`, up to time
/// `t1`. GD is checked against its exact identity for `u² − v²`, heavy ball against its own.
pub fn diagonal_momentum(alpha: f64, lambda: f64, betas: &[f64], t1: f64) -> Result<DiagonalMomentum> {
    let d = 20;
    let arch = Arch::DiagonalUV { d };
    let mut rng = data::rng(41);
    let truth = data::sparse_row(d, 3, &mut rng);
    let (x, y) = data::regression(&truth, 10, 0.0, &mut rng);
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    let p0 = init::diagonal_alpha(&arch, alpha)?;
    let mut loss = Figure::new(
        "diagonal_momentum_loss",
        format!("Diagonal network, α = {alpha}: GD and heavy ball at λ = {lambda}"),
        "time t = kη/(1−β)",
        "loss",
    )
    .log_y();
    let mut coefficients =
        Figure::new("diagonal_momentum_coefficients", "Recovered coefficients", "coordinate i", "β_i")
            .with(Series::points("truth β*", (0..d).map(|i| (i as f64, *truth.get(0, i))).collect()));
    let mut runs = Vec::new();
    let mut configs = vec![("GD".to_string(), Method::Gd { eta: lambda }, Law::gd_diagonal(lambda))];
    for &b in betas {
        let eta = lambda * (1.0 - b) * (1.0 - b);
        configs.push((
            format!("heavy ball, β = {b}"),
            Method::HeavyBall { eta, beta: b },
            Law::heavy_ball_diagonal(eta, b),
        ));
    }
    for (label, method, law) in configs {
        let steps = (t1 / method.dt()).round() as usize;
        let mut opt = Optimizer::new(method, &0.0)?;
        let mut mon = Monitor::new().track(crate::invariants::DiagonalBalance, law);
        let save = crate::trajectory::Save::LogSpaced { count: 200 };
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(steps).save(save), &mut mon)?;
        let beta = arch.product(traj.last());
        let err = beta.sub(&truth).max_abs().unwrap_or(f64::NAN);
        let l1: f64 = beta.as_slice().iter().map(|v| v.abs()).sum();
        runs.push((label.clone(), *traj.loss.last().unwrap_or(&f64::NAN), err, l1, traj.laws[0].worst_rel));
        loss =
            loss.with(Series::line(label.clone(), traj.times.iter().copied().zip(traj.loss.iter().copied()).collect()));
        coefficients = coefficients.with(Series::points(label, (0..d).map(|i| (i as f64, *beta.get(0, i))).collect()));
    }
    let truth_l1 = truth.as_slice().iter().map(|v| v.abs()).sum();
    Ok(DiagonalMomentum { loss, coefficients, runs, truth_l1 })
}
