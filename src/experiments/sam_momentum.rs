//! SAM, BAR and momentum on scale-invariant and diagonal problems: Li–Zhang–He's balancedness,
//! BAR, Papazov–Pesme–Flammarion's intrinsic λ and Andriushchenko–Flammarion's balancing exponent,
//! each prediction compared with a measured run.
//!
//! Convention: losses are ½‖·‖² (Li–Zhang–He write ‖·‖²). Their SAM iterates are reproduced
//! exactly by our step size 2η, since SAM's ascent $\rho g/\|g\|$ does not see the factor 2; their
//! time $t = k\eta$ is half ours. Curvatures κ are those of the ½-loss (κ = 1).

use super::{Check, Ctx, Experiment, Summary};
use crate::data;
use crate::error::{Error, Result};
use crate::flow::fields::HeavyBallFlow;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::invariants::{FactorBalance, Law, Monitor};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{BarKind, Method, Optimizer, StepRecord};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::run::{run, RunOptions};
use crate::scalar::Scalar;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "sam-balancedness",
            about: "SAM drives balancedness B = (|x|^2-|y|^2)/2 to its predicted decay and resting value; SGD drifts by an exact eta^2 term",
            run: run_sam_balancedness,
        },
        Experiment {
            name: "momentum-lambda",
            about: "heavy ball pairs (gamma, beta) with equal lambda = gamma/(1-beta)^2 follow one momentum flow; its balance law and mirror form hold",
            run: run_momentum_lambda,
        },
        Experiment {
            name: "bar",
            about: "nBAR and oBAR against SAM and SGD: balancedness, loss, gradient calls per step",
            run: run_bar,
        },
        Experiment {
            name: "sam-diagonal",
            about: "SAM and USAM on diagonal nets: exact per-step balance identity and the balancing exponent -2 rho int g^2",
            run: run_sam_diagonal,
        },
        Experiment {
            name: "sam-lora",
            about: "LoRA-like layers under SAM vs SGD: per-layer balancedness, exact per-layer drift, joint normalization slows each layer",
            run: run_sam_lora,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Noisy two-factor problems (Li–Zhang–He, Fig. 1).

/// Li–Zhang–He's Fig. 1 problems: `Nop` is `½‖xyᵀ − (A + αN)‖²` with `A = diag(0.5, 0, 0)` and
/// `N = diag(1, 0.8, 0.5)·U`, `U` i.i.d. N(0,1) drawn afresh at every step; `Op` is
/// `½(xᵀy − (0.5 + αn))²` with `n ~ N(0,1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Toy {
    Nop,
    Op,
}

/// The paper's start `x₀ = (0.2, −0.1, 0.3)`, `y₀ = −3x₀` (B₀ = −0.56), the same for both problems.
fn toy_start() -> Params<f64> {
    let x = [0.2, -0.1, 0.3];
    let col = |s: f64| Mat::from_fn(3, 1, |i, _| s * x[i]);
    Params::new(vec![col(1.0), col(-3.0)])
}

/// The Fig. 1 run shared by `sam-balancedness` and `bar`.
struct Fig1Run {
    /// Our step on the ½-loss (the paper's 1e-4 on the unhalved loss).
    eta: f64,
    /// Paper time of the horizon.
    t_paper: f64,
    /// Steps to reach it.
    steps: usize,
    /// Save interval (200 points).
    every: usize,
    /// The start, and its balance B₀ = ½(‖x₀‖² − ‖y₀‖²).
    p0: Params<f64>,
    b0: f64,
}

fn fig1_run() -> Fig1Run {
    let (eta, t_paper): (f64, f64) = (2e-4, 10.0);
    let steps = (t_paper / (0.5 * eta)).round() as usize;
    let p0 = toy_start();
    let b0 = 0.5 * (p0.blocks[0].norm_sq() - p0.blocks[1].norm_sq());
    Fig1Run { eta, t_paper, steps, every: steps / 200, p0, b0 }
}

fn toy_model(toy: Toy) -> Result<Model<f64>> {
    match toy {
        Toy::Nop => Model::new(Arch::Factor { d1: 3, d2: 3, r: 1 }, Loss::target(Mat::zeros(3, 3, &0.0))),
        Toy::Op => Model::new(Arch::FactorOp { d: 3 }, Loss::target(Mat::zeros(1, 1, &0.0))),
    }
}

/// Writes the target of step `k`: the clean target plus `alpha` times fresh noise.
fn draw_target(toy: Toy, model: &mut Model<f64>, alpha: f64, rng: &mut ChaCha8Rng) {
    let Loss::Target { phi } = &mut model.loss else { return };
    match toy {
        Toy::Nop => {
            let scale = [1.0, 0.8, 0.5];
            for (i, si) in scale.iter().enumerate() {
                for j in 0..3 {
                    let a = if i == 0 && j == 0 { 0.5 } else { 0.0 };
                    let n: f64 = rng.sample(StandardNormal);
                    *phi.get_mut(i, j) = a + alpha * si * n;
                }
            }
        }
        Toy::Op => {
            let n: f64 = rng.sample(StandardNormal);
            *phi.get_mut(0, 0) = 0.5 + alpha * n;
        }
    }
}

/// What a noisy run recorded.
struct NoisyRun {
    /// `(paper time, B)` every `every` steps.
    b: Vec<(f64, f64)>,
    /// States at the recorded times.
    states: Vec<Params<f64>>,
    /// Law reports (in the monitor's order).
    laws: Vec<crate::invariants::LawReport>,
    /// Final state.
    last: Params<f64>,
    /// Gradient calls.
    grad_calls: usize,
}

/// Runs `method` on a noisy toy for `steps` steps (fresh noise each step from `seed`), calling
/// `each(model, record)` after every step, recording B every `every` steps.
#[allow(clippy::too_many_arguments)]
fn noisy_run(
    toy: Toy,
    p0: &Params<f64>,
    method: Method,
    alpha: f64,
    steps: usize,
    every: usize,
    seed: u64,
    monitor: &mut Monitor<f64>,
    mut each: impl FnMut(&Model<f64>, &StepRecord<f64>),
) -> Result<NoisyRun> {
    let mut model = toy_model(toy)?;
    model.check_params(p0)?;
    let mut opt = Optimizer::new(method.clone(), &0.0)?;
    let mut rng = data::rng(seed);
    let mut p = p0.clone();
    let bal = |p: &Params<f64>| 0.5 * (p.blocks[0].norm_sq() - p.blocks[1].norm_sq());
    // Time in the paper's units: its step is half ours.
    let tp = 0.5 * method.eta();
    let mut out =
        NoisyRun { b: vec![(0.0, bal(&p))], states: vec![p.clone()], laws: vec![], last: p.clone(), grad_calls: 0 };
    monitor.start(&model, &p);
    for k in 1..=steps {
        draw_target(toy, &mut model, alpha, &mut rng);
        let rec = opt.step(&model, &mut p)?;
        if !p.is_finite() {
            return Err(Error::Other(format!("{} diverged at step {k} (alpha = {alpha})", method.name())));
        }
        monitor.after_step(&model, &rec, &p, k, &(k as f64 * method.eta()));
        each(&model, &rec);
        if k % every == 0 || k == steps {
            out.b.push((k as f64 * tp, bal(&p)));
            out.states.push(p.clone());
        }
    }
    out.laws = monitor.reports();
    out.last = p;
    out.grad_calls = opt.grad_calls;
    Ok(out)
}

/// Mean over `noises` of SAM's exact one-step change of B from the point `(c·x, y/c)`, divided by
/// η: `ρu(⟨g_x,h_x⟩ − ⟨g_y,h_y⟩) + (η/2)(‖h_x‖² − ‖h_y‖²)` (the per-step identity, every order in ρ).
fn mean_sam_drift(model: &mut Model<f64>, p: &Params<f64>, c: f64, noises: &[Mat<f64>], eta: f64, rho: f64) -> f64 {
    let mut q = p.clone();
    q.blocks[0].scale_mut(&c);
    q.blocks[1].scale_mut(&(1.0 / c));
    let mut ws = model.workspace(&0.0);
    let (mut g, mut h) = (q.zeros_like(), q.zeros_like());
    let mut total = 0.0;
    for n in noises {
        if let Loss::Target { phi } = &mut model.loss {
            phi.clone_from(n);
        }
        model.grad_into(&mut ws, &q, None, &mut g);
        let norm = g.norm_sq().sqrt();
        if norm == 0.0 {
            continue;
        }
        let mut pert = q.clone();
        pert.axpy(&(rho / norm), &g);
        model.grad_into(&mut ws, &pert, None, &mut h);
        let first = rho / norm * (g.blocks[0].dot(&h.blocks[0]) - g.blocks[1].dot(&h.blocks[1]));
        total += first + 0.5 * eta * (h.blocks[0].norm_sq() - h.blocks[1].norm_sq());
    }
    total / noises.len() as f64
}

/// The zero-drift balancedness on the scaling orbit of `p`: the B of `(c·x, y/c)` where SAM's
/// expected one-step change of B vanishes (bisection in ln c; the drift decreases in c).
fn orbit_equilibrium(
    toy: Toy,
    p: &Params<f64>,
    alpha: f64,
    eta: f64,
    rho: f64,
    samples: usize,
    seed: u64,
) -> Result<f64> {
    let mut model = toy_model(toy)?;
    let mut rng = data::rng(seed);
    let noises: Vec<Mat<f64>> = (0..samples)
        .map(|_| {
            draw_target(toy, &mut model, alpha, &mut rng);
            match &model.loss {
                Loss::Target { phi } => phi.clone(),
                _ => unreachable!("toy losses are targets"),
            }
        })
        .collect();
    let (mut lo, mut hi) = (-0.5f64, 0.5f64);
    let mut d = |lc: f64| mean_sam_drift(&mut model, p, lc.exp(), &noises, eta, rho);
    let mut tries = 0;
    while d(lo) < 0.0 || d(hi) > 0.0 {
        lo -= 0.5;
        hi += 0.5;
        tries += 1;
        if tries > 10 {
            return Err(Error::Other("no sign change of the expected drift on the scaling orbit".into()));
        }
    }
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if d(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let c = (0.5 * (lo + hi)).exp();
    Ok(0.5 * (c * c * p.blocks[0].norm_sq() - p.blocks[1].norm_sq() / (c * c)))
}

fn run_sam_balancedness(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "sam-balancedness",
        "Li-Zhang-He Fig. 1: x0 = (0.2,-0.1,0.3), y0 = -3 x0, NOP target diag(0.5,0,0) + alpha diag(1,.8,.5) U, \
         OP target 0.5 + alpha n, fresh noise each step; SGD vs SAM (rho = 0.1 NOP, 0.2 OP), paper step 1e-4 \
         (our 2e-4 on the 1/2-loss), paper time up to 10.",
    );
    let Fig1Run { eta, t_paper, steps, every, p0, b0 } = fig1_run();

    // --- SGD: the exact per-step identity, with noise.
    let mut fig_nop = Figure::new(
        "sam_balancedness_nop",
        "NOP: |‖x‖² − ‖y‖²| under SGD and SAM (ρ = 0.1)",
        "time t (paper units, k·1e-4)",
        "|‖x_t‖² − ‖y_t‖²|",
    );
    let sgd_alphas: &[f64] = if ctx.quick { &[1.0] } else { &[0.5, 1.0] };
    for &alpha in sgd_alphas {
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta, 0.0));
        let r = noisy_run(Toy::Nop, &p0, Method::Gd { eta }, alpha, steps, every, 7, &mut mon, |_, _| {})?;
        s.check(Check::at_most(
            format!("sgd-exact-drift-alpha-{alpha}"),
            "SGD changes B by exactly (eta^2/2)(|g_x|^2 - |g_y|^2) at every step (fresh noise each step); each check \
             compares two f64 evaluations of O(1) numbers from a few dozen roundings, so 1e-12 relative is a 100x margin",
            r.laws[0].worst_rel,
            1e-12,
        ));
        let drift = r.b.last().map(|x| x.1).unwrap_or(f64::NAN) - b0;
        s.notes.push(format!("SGD NOP alpha {alpha}: B_T - B_0 = {drift:.3e} over paper time {t_paper}"));
        fig_nop = fig_nop
            .with(Series::line(format!("SGD α = {alpha}"), r.b.iter().map(|&(t, b)| (t, 2.0 * b.abs())).collect()));
    }

    // --- SAM on NOP at several noise levels.
    let rho_nop = 0.1;
    let sam_alphas: &[f64] = if ctx.quick { &[0.0, 1.0, 2.0] } else { &[0.0, 0.5, 1.0, 2.0] };
    for &alpha in sam_alphas {
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta, rho_nop));
        let r =
            noisy_run(Toy::Nop, &p0, Method::Sam { eta, rho: rho_nop }, alpha, steps, every, 11, &mut mon, |_, _| {})?;
        s.check(Check::at_most(
            format!("sam-exact-drift-nop-alpha-{alpha}"),
            "SAM changes B by exactly eta rho u (<g_x,h_x> - <g_y,h_y>) + (eta^2/2)(|h_x|^2 - |h_y|^2) per step \
             (rounding only: 1e-12 relative)",
            r.laws[0].worst_rel,
            1e-12,
        ));
        fig_nop = fig_nop
            .with(Series::line(format!("SAM α = {alpha}"), r.b.iter().map(|&(t, b)| (t, 2.0 * b.abs())).collect()));
        let bt = r.b.last().map(|x| x.1).unwrap_or(f64::NAN);
        let wt = r.last.norm_sq();
        s.notes.push(format!("SAM NOP alpha {alpha}: B_T = {bt:.4}, |w_T|^2 = {wt:.3e}"));
        if alpha == 0.0 {
            let worst = r.b.iter().map(|x| x.1.abs()).fold(0.0, f64::max);
            s.check(Check::at_least(
                "nop-no-noise-imbalance-grows",
                "where the claim does not apply: without noise SAM increases |B| over a long stretch (the gradient \
                 sits in the y-block, so the leading term pushes B away from 0); max_t |B_t| - |B_0| must be > 0",
                worst - b0.abs(),
                1e-3,
            ));
            s.notes.push(format!(
                "no noise: SAM raises |B| from {:.4} to max {worst:.4}; the balancing claim needs gradient noise",
                b0.abs()
            ));
        }
        if alpha == 2.0 {
            s.check(Check::at_most(
                "nop-large-noise-collapse",
                "where the claim is trivial: with large noise (alpha = 2) SAM collapses to the saddle (0,0), so |B| -> 0 \
                 because both factors vanish; |w_T|^2 below 1e-2 (from 1.4) detects the collapse",
                wt,
                1e-2,
            ));
            s.notes.push(format!("alpha = 2: collapse to the saddle, |w_T|^2 = {wt:.2e}: |B| -> 0 is trivial here"));
        }
        if alpha == 1.0 {
            // Resting value against the orbit equilibrium, averaged over the last 40% of the run.
            let start = r.b.len() * 3 / 5;
            let picks: Vec<usize> = (start..r.b.len()).step_by(((r.b.len() - start) / 8).max(1)).collect();
            let samples = if ctx.quick { 1500 } else { 4000 };
            let mut pred = 0.0;
            for (i, &k) in picks.iter().enumerate() {
                pred += orbit_equilibrium(Toy::Nop, &r.states[k], alpha, eta, rho_nop, samples, 100 + i as u64)?;
            }
            pred /= picks.len() as f64;
            let actual = r.b[start..].iter().map(|x| x.1).sum::<f64>() / (r.b.len() - start) as f64;
            s.check(Check::at_most(
                "nop-resting-value",
                format!(
                    "SAM's resting B (mean over paper time {:.0}..{t_paper}, alpha = 1) matches the zero of the expected \
                     exact one-step drift on the scaling orbit (Monte Carlo, {samples} noise draws, at {} late states) \
                     within 5% relative (Monte Carlo error of the root ~1-2%, fluctuations of B about its rest ~2%)",
                    r.b[start].0,
                    picks.len()
                ),
                ((actual - pred) / pred).abs(),
                0.05,
            ));
            s.notes.push(format!("NOP alpha 1: resting B {actual:.4}, orbit equilibrium {pred:.4}"));
        }
    }
    ctx.save_figure(&fig_nop, &mut s)?;

    // --- OP: the refined decay law.
    let rho_op = 0.2;
    let mut fig_op = Figure::new(
        "sam_balancedness_op",
        "OP: |‖x‖² − ‖y‖²| under SGD and SAM (ρ = 0.2)",
        "time t (paper units, k·1e-4)",
        "|‖x_t‖² − ‖y_t‖²|",
    )
    .log_y();
    let op_alphas: &[f64] = if ctx.quick { &[0.0, 1.0] } else { &[0.0, 0.5, 1.0] };
    for &alpha in op_alphas {
        let (mut first, mut refined) = (0.0, 0.0);
        let mut mon = Monitor::new();
        let r =
            noisy_run(Toy::Op, &p0, Method::Sam { eta, rho: rho_op }, alpha, steps, every, 13, &mut mon, |m, rec| {
                let (x, y) = (&rec.before.blocks[0], &rec.before.blocks[1]);
                let xy = x.dot(y);
                let fp = xy - m.loss_target_scalar();
                let w = (x.norm_sq() + y.norm_sq()).sqrt();
                let a = 2.0 * rho_op * fp.abs() / w;
                first += eta * a;
                refined += eta * (a + 2.0 * rho_op * rho_op + 2.0 * rho_op.powi(3) * fp.signum() * xy / w.powi(3));
            })?;
        let bt = r.b.last().map(|x| x.1).unwrap_or(f64::NAN);
        let actual = (bt / b0).abs().ln();
        s.check(Check::at_most(
            format!("op-refined-decay-alpha-{alpha}"),
            "ln|B_T/B_0| of SAM on OP matches -int [2 rho |f'|/|w| + 2 kappa rho^2 + 2 kappa rho^3 sgn(f') x^T y/|w|^3] dt \
             (kappa = 1) within 1% relative: the neglected terms are O(rho^4) and O(eta) per unit time",
            ((actual + refined) / actual).abs(),
            0.01,
        ));
        let share = first / actual.abs();
        s.notes.push(format!(
            "OP alpha {alpha}: ln|B_T/B_0| = {actual:.4}, refined {:.4}, first-order lemma alone {:.4} ({:.0}% of the decay)",
            -refined,
            -first,
            100.0 * share
        ));
        if alpha == 0.0 {
            s.check(Check::at_most(
                "op-first-order-explains-little",
                "without noise the first-order lemma (-2 rho |f'| B/|w|) explains at most half of the measured decay \
                 (the data-independent 2 kappa rho^2 term dominates)",
                share,
                0.5,
            ));
        }
        fig_op = fig_op
            .with(Series::line(format!("SAM α = {alpha}"), r.b.iter().map(|&(t, b)| (t, 2.0 * b.abs())).collect()));
        fig_op = fig_op.with(
            Series::line(
                format!("prediction α = {alpha}"),
                vec![(0.0, 2.0 * b0.abs()), (t_paper, 2.0 * b0.abs() * (-refined).exp())],
            )
            .styled(Style::Dashed),
        );
    }
    {
        let mut mon = Monitor::new();
        let r = noisy_run(Toy::Op, &p0, Method::Gd { eta }, 1.0, steps, every, 13, &mut mon, |_, _| {})?;
        fig_op = fig_op.with(Series::line("SGD α = 1", r.b.iter().map(|&(t, b)| (t, 2.0 * b.abs())).collect()));
        s.notes.push(format!("SGD OP alpha 1: B_T = {:.5}", r.b.last().map(|x| x.1).unwrap_or(f64::NAN)));
    }
    ctx.save_figure(&fig_op, &mut s)?;

    // --- Non-square target: the noise-driven rest is n|X|^2 = m|Y|^2, not B = 0.
    let (m, n, r) = (8usize, 6usize, 2usize);
    let ratio = non_square_rest(m, n, r, if ctx.quick { 100.0 } else { 150.0 })?;
    s.check(Check::at_most(
        "non-square-rest",
        format!(
            "where the claim does not apply: with i.i.d. noise on a {m}x{n} rank-{r} target SAM rests at n|X|^2 = m|Y|^2 \
             (E|N Y|^2 = m|Y|^2, E|N^T X|^2 = n|X|^2), i.e. |X|^2/|Y|^2 = m/n, not at B = 0; the time-averaged ratio \
             over the second half must be within 5% of m/n (the signal and the normalization by the random |g| shift \
             the rest by about 1%)"
        ),
        (ratio / (m as f64 / n as f64) - 1.0).abs(),
        0.05,
    ));
    s.notes.push(format!("non-square {m}x{n}: mean |X|^2/|Y|^2 = {ratio:.4} (m/n = {:.4})", m as f64 / n as f64));
    Ok(s)
}

/// SAM (ρ = 0.05, η = 1e-3) on `½‖XYᵀ − (A + N)‖²` with `A` of rank `r` (`m×n`), `N` i.i.d.
/// N(0,1), from `X₀ ~ 0.8·N(0,1)`, `Y₀ ~ 0.01·N(0,1)`: the mean of `‖X‖²/‖Y‖²` over the second half
/// of `[0, t1]`.
fn non_square_rest(m: usize, n: usize, r: usize, t1: f64) -> Result<f64> {
    let mut rng = data::rng(51);
    let a = data::low_rank(m, n, r, &mut rng);
    let mut model = Model::new(Arch::Factor { d1: m, d2: n, r }, Loss::target(a.clone()))?;
    let (eta, rho) = (1e-3, 0.05);
    let mut p = Params::new(vec![data::gaussian(m, r, 0.8, &mut rng), data::gaussian(n, r, 0.01, &mut rng)]);
    let mut opt = Optimizer::new(Method::Sam { eta, rho }, &0.0)?;
    let steps = (t1 / eta).round() as usize;
    let (mut sum, mut count) = (0.0, 0usize);
    for k in 1..=steps {
        if let Loss::Target { phi } = &mut model.loss {
            *phi = a.add(&data::gaussian(m, n, 1.0, &mut rng));
        }
        opt.step(&model, &mut p)?;
        if k > steps / 2 {
            sum += p.blocks[0].norm_sq() / p.blocks[1].norm_sq();
            count += 1;
        }
    }
    Ok(sum / count as f64)
}

trait TargetScalar {
    fn loss_target_scalar(&self) -> f64;
}

impl TargetScalar for Model<f64> {
    /// The `1×1` target of an OP toy.
    fn loss_target_scalar(&self) -> f64 {
        match &self.loss {
            Loss::Target { phi } => *phi.get(0, 0),
            _ => f64::NAN,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Diagonal networks.

/// Sparse regression on a diagonal net `β = u⊙v`: `X` (`d×n`, samples are columns) i.i.d.
/// N(0,1), `β*` `s`-sparse, `y = β*X`; start `u = √2·α`, `v = 0`.
fn diagonal_problem(
    n: usize,
    d: usize,
    s: usize,
    alpha: f64,
    seed: u64,
) -> Result<(Model<f64>, Params<f64>, Mat<f64>)> {
    let mut rng = data::rng(seed);
    let beta_star = data::sparse_row(d, s, &mut rng);
    let x = data::gaussian(d, n, 1.0, &mut rng);
    let y = beta_star.matmul(&x);
    let arch = Arch::DiagonalUV { d };
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    let p0 = crate::init::diagonal_alpha(&arch, alpha)?;
    Ok((model, p0, beta_star))
}

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

fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    a.sub(b).max_abs().unwrap_or(0.0)
}

fn run_momentum_lambda(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "momentum-lambda",
        "Heavy ball w_{k+1} = w_k - gamma grad F(w_k) + beta (w_k - w_{k-1}) on a diagonal net beta = u*v (sparse \
         regression, alpha = 0.1) against the momentum flow lambda w'' + w' + grad F = 0 with lambda = gamma/(1-beta)^2 \
         (Papazov-Pesme-Flammarion).",
    );
    let (n, d) = if ctx.quick { (10, 20) } else { (20, 40) };
    let (model, p0, beta_star) = diagonal_problem(n, d, 3, 0.1, 61)?;
    let lambda = 0.1;
    let t1 = if ctx.quick { 10.0 } else { 40.0 };
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
    let mut path_err = Vec::new();
    let mut end_err = Vec::new();
    let mut fig_pairs = Figure::new(
        "momentum_pairs",
        "Heavy ball pairs with λ = 0.1 against the momentum flow",
        "time t = kγ/(1−β)",
        "‖β_MGD(t) − β_MGF(t)‖∞",
    )
    .log_y();
    let mut smallest_dt_end = Params::new(vec![]);
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
        s.check(Check::at_most(
            format!("heavy-ball-identity-beta-{beta}"),
            "each heavy-ball step moves u^2 - v^2 by exactly Delta(1 - gamma^2 g^2) + 2 beta (u du - v dv) + \
             beta^2 (du^2 - dv^2) - 2 gamma beta g (du v - dv u) (rounding only: 1e-12 relative)",
            r.laws[0].worst_rel,
            1e-12,
        ));
        let mut worst: f64 = 0.0;
        let mut series = Vec::new();
        for (k, st) in r.states.iter().enumerate() {
            let t = r.times[k];
            let j = (t / hs).round() as usize;
            let e = max_abs_diff(&model.end_to_end(st), &beta_of(&traj.states[j]));
            worst = worst.max(e);
            if k > 0 {
                series.push((t, e));
            }
        }
        let last = r.states.last().expect("final state").clone();
        end_err.push((dt, max_abs_diff(&model.end_to_end(&last), &beta_of(&traj.states[m]))));
        path_err.push((dt, worst));
        fig_pairs = fig_pairs.with(Series::line(format!("β = {beta}, γ = {gamma:.2e}, Δt = {dt}"), series));
        smallest_dt_end = last;
    }
    let margin_claim =
        "the error is C dt (1 + a dt + ...); over dt = 0.05..0.00625 the fitted slope moves by about a times \
                        the mean dt (~0.02), so 0.15 admits |a| up to ~7";
    let sp = super::orders_discrete::log_log_slope(&path_err);
    s.check(Check::near(
        "pairs-path-first-order",
        format!("max over [0, {t1}] of |beta_MGD - beta_MGF|_inf shrinks at first order in dt = gamma/(1-beta) at fixed lambda ({margin_claim})"),
        sp,
        1.0,
        0.15,
    ));
    let se = super::orders_discrete::log_log_slope(&end_err);
    s.check(Check::near(
        "pairs-end-first-order",
        format!("the end points at t = {t1} approach the flow's at first order in dt ({margin_claim})"),
        se,
        1.0,
        0.15,
    ));
    // Negative control: same smallest dt, doubled gamma (lambda = 0.2): a different path.
    {
        let beta = betas[betas.len() - 1];
        let dt = lambda * (1.0 - beta);
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
        let other = max_abs_diff(&model.end_to_end(r.states.last().expect("final")), &beta_of(&traj.states[m]));
        let pair = end_err[end_err.len() - 1].1;
        s.check(Check::at_least(
            "other-lambda-differs",
            format!(
                "negative control: heavy ball with beta = {beta} but gamma doubled (lambda = 0.2, dt = {:.4}) ends at least \
                 5x farther from the lambda = 0.1 flow than the lambda = 0.1 pair with dt = {dt}",
                gamma / (1.0 - beta)
            ),
            other / pair,
            5.0,
        ));
        s.notes.push(format!("end distance to the lambda = 0.1 flow: pair {pair:.3e}, lambda = 0.2 run {other:.3e}"));
    }
    s.notes.push(format!(
        "path errors: {}; end errors: {}",
        path_err.iter().map(|(a, b)| format!("dt {a}: {b:.3e}")).collect::<Vec<_>>().join(", "),
        end_err.iter().map(|(a, b)| format!("dt {a}: {b:.3e}")).collect::<Vec<_>>().join(", ")
    ));
    let _ = smallest_dt_end;
    ctx.save_figure(&fig_pairs, &mut s)?;

    // --- Balance law and mirror form along the flow.
    let w = simpson_weights(m, hs);
    let (mut int_bal, mut a_plus, mut a_minus) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let mut min_w = f64::INFINITY;
    for (k, y) in traj.states.iter().enumerate() {
        let (u, v, du, dv) = (&y.blocks[0], &y.blocks[1], &y.blocks[2], &y.blocks[3]);
        for i in 0..d {
            let (ui, vi, dui, dvi) = (*u.get(0, i), *v.get(0, i), *du.get(0, i), *dv.get(0, i));
            int_bal[i] += w[k] * (dui * dui - dvi * dvi);
            let (wp, wm) = (ui + vi, ui - vi);
            min_w = min_w.min(wp.min(wm));
            a_plus[i] += w[k] * ((dui + dvi) / wp).powi(2);
            a_minus[i] += w[k] * ((dui - dvi) / wm).powi(2);
        }
    }
    let yt = &traj.states[m];
    let (u, v, du, dv) = (&yt.blocks[0], &yt.blocks[1], &yt.blocks[2], &yt.blocks[3]);
    let delta0 = p0.blocks[0].get(0, 0).powi(2);
    let mut bal_err: f64 = 0.0;
    for (i, ib) in int_bal.iter().enumerate() {
        let (ui, vi, dui, dvi) = (*u.get(0, i), *v.get(0, i), *du.get(0, i), *dv.get(0, i));
        let q = ui * ui - vi * vi + 2.0 * lambda * (ui * dui - vi * dvi) - 2.0 * lambda * ib;
        bal_err = bal_err.max((q - delta0).abs() / delta0);
    }
    s.check(Check::at_most(
        "balance-law",
        format!(
            "along the momentum flow u^2 - v^2 + 2 lambda (u u' - v v') - 2 lambda int_0^t (u'^2 - v'^2) stays at its \
             initial value 2 alpha^2 (relative error at t = {t1}); RK4 (h = {h}, error ~1e-12) and Simpson's rule on a \
             {hs} grid (error ~h^4 f'''' t ~ 1e-9) bound it by 1e-7"
        ),
        bal_err,
        1e-7,
    ));
    if min_w <= 0.0 {
        s.notes.push(format!("u +- v reached {min_w:.3e} <= 0: the mirror form does not apply on this run"));
    } else {
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
        let (with, without) = (residual(true), residual(false));
        s.check(Check::at_most(
            "mirror-form",
            format!(
                "implicit regularizer along the flow: 1/2 arcsinh(beta_t/a_t^2) + delta_t lies in range(X) (it equals \
                 -int_0^t grad L), with a_t^2 = (u^2-v^2)/2 and delta_t = lambda (A+ - A-)/2 + lambda (rho'+ - rho'-)/2, \
                 A+- = int (d/dt ln(u+-v))^2; so beta_t minimizes phi_(a_t) + <delta_t, .> on its fibre. Relative \
                 residual at t = {t1}, Simpson error bounds it by 1e-6"
            ),
            with,
            1e-6,
        ));
        s.check(Check::at_least(
            "mirror-form-needs-delta",
            "negative control: without delta_t the residual is at least 100x larger (the momentum perturbation is real)",
            without / with.max(1e-300),
            100.0,
        ));
        let on: Vec<String> = (0..d)
            .filter(|&i| *beta_star.get(0, i) != 0.0)
            .map(|i| format!("{:.3}", ((u.get(0, i).powi(2) - v.get(0, i).powi(2)) / 2.0).sqrt() / 0.1))
            .collect();
        s.notes.push(format!(
            "mirror residual {with:.2e} (without delta {without:.2e}); a_t/alpha on the support at t = {t1}: {}",
            on.join(", ")
        ));
    }

    // --- Sparsity of the recovered solution against lambda.
    let mut fig_sp = Figure::new("momentum_sparsity", "Recovery against λ (momentum flow, t = T)", "λ", "‖β_T − β*‖₂");
    let mut pts = Vec::new();
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
        pts.push((lam, err));
        s.notes.push(format!(
            "lambda {lam}: |beta_T - beta*|_2 = {err:.4}, |beta_T|_1 = {l1:.4}, loss {:.2e}",
            model.loss(&end)
        ));
    }
    let worse = pts.windows(2).all(|w| w[1].1 >= w[0].1);
    s.notes.push(format!(
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
    fig_sp = fig_sp.with(Series::line("momentum flow", pts));
    ctx.save_figure(&fig_sp, &mut s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// BAR.

fn run_bar(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "bar",
        "nBAR and oBAR (Li-Zhang-He Algs. 2-3, constant alpha_t = 0.05, rescale a = alpha eta per step) against SAM \
         (rho = 0.1) and SGD on the Fig. 1 NOP problem, without noise and with noise alpha = 0.5.",
    );
    let Fig1Run { eta, steps, every, p0, b0, .. } = fig1_run();
    let a_bar = 0.05;
    let methods = [
        Method::Gd { eta },
        Method::Sam { eta, rho: 0.1 },
        Method::Bar { eta, alpha: a_bar, kind: BarKind::N },
        Method::Bar { eta, alpha: a_bar, kind: BarKind::O },
    ];
    let mut figs = Vec::new();
    for &noise in &[0.0, 0.5] {
        let mut fig = Figure::new(
            format!("bar_noise_{noise}"),
            format!("Balancedness under SGD, SAM, nBAR, oBAR (noise α = {noise})"),
            "time t (paper units, k·1e-4)",
            "B_t = ½(‖x‖² − ‖y‖²)",
        );
        let mut db = std::collections::HashMap::new();
        let mut calls = std::collections::HashMap::new();
        for m in &methods {
            let mut mon = match m {
                Method::Bar { alpha, kind, .. } => Monitor::new().track(FactorBalance, Law::bar(eta, *alpha, *kind)),
                _ => Monitor::new(),
            };
            let r = noisy_run(Toy::Nop, &p0, m.clone(), noise, steps, every, 71, &mut mon, |_, _| {})?;
            if let Method::Bar { .. } = m {
                s.check(Check::at_most(
                    format!("{}-exact-drift-noise-{noise}", m.name()),
                    "BAR's one-step change of B equals the rescale + GD formula (rounding only: 1e-12 relative)",
                    r.laws[0].worst_rel,
                    1e-12,
                ));
            }
            let bt = r.b.last().map(|x| x.1).unwrap_or(f64::NAN);
            let (x, y) = (&r.last.blocks[0], &r.last.blocks[1]);
            let clean = 0.5
                * x.prod(false, y, true)
                    .sub(&Mat::from_fn(3, 3, |i, j| if i == 0 && j == 0 { 0.5 } else { 0.0 }))
                    .norm_sq();
            s.notes.push(format!(
                "noise {noise}, {}: B_T = {bt:.4}, clean loss {clean:.3e}, gradient calls per step {:.2}",
                m.name(),
                r.grad_calls as f64 / steps as f64
            ));
            db.insert(m.name(), bt - b0);
            calls.insert(m.name(), r.grad_calls as f64 / steps as f64);
            fig = fig.with(Series::line(m.name(), r.b.clone()));
        }
        for k in ["nbar", "obar"] {
            let saving = 1.0 - calls[k] / calls["sam"];
            s.check(Check::near(
                format!("{k}-saving-noise-{noise}"),
                "BAR reuses the step's gradient: from the counters, 1 gradient per step against SAM's 2, a saving of exactly 1/2",
                saving,
                0.5,
                0.0,
            ));
        }
        let bt_obar = b0 + db["obar"];
        s.check(Check::at_most(
            format!("obar-balances-noise-{noise}"),
            "oBAR shrinks the larger factor at every step: |B_T| <= 0.1 |B_0| with or without noise",
            bt_obar.abs() / b0.abs(),
            0.1,
        ));
        s.check(Check::at_least(
            format!("nbar-follows-sam-noise-{noise}"),
            "nBAR rescales along SAM's leading balancing term (sign of |g_x| - |g_y|), so B moves in the same direction \
             as under SAM (1 = same sign of B_T - B_0)",
            if db["nbar"] * db["sam"] > 0.0 { 1.0 } else { 0.0 },
            1.0,
        ));
        figs.push(fig);
    }
    ctx.save_figures(&figs, &mut s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// SAM and USAM on diagonal nets.

fn run_sam_diagonal(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "sam-diagonal",
        "SAM and USAM (Andriushchenko-Flammarion's n-SAM) on a diagonal net beta = u*v, sparse regression: the exact \
         per-step balance identity and the balancing exponent ln(Delta_T/Delta_0) = -2 rho int g_i^2 dt.",
    );
    let (n, d) = if ctx.quick { (10, 15) } else { (20, 30) };
    let (model, p0, _) = diagonal_problem(n, d, 3, 0.1, 81)?;
    let (eta, rho): (f64, f64) = (2e-3, 0.05);
    let t1: f64 = if ctx.quick { 20.0 } else { 40.0 };
    let steps = (t1 / eta).round() as usize;

    // Exact in rationals: a few USAM steps with eta = 1/500, rho = 1/20.
    {
        let q = crate::scalar::Q::new();
        let (mq, pq) = (model.cast(&q), p0.cast(&q));
        let (eq, rq) = (crate::scalar::Q::from((1, 500)), crate::scalar::Q::from((1, 20)));
        let mut opt = Optimizer::exact(Method::Usam { eta: eq.clone(), rho: rq.clone() })?;
        let mut mon = Monitor::new().track(crate::invariants::DiagonalBalance, Law::sam_diagonal(eq, rq));
        let tr = run(&mq, &mut opt, &pq, &RunOptions::steps(3), &mut mon)?;
        s.check(Check::at_most(
            "usam-identity-exact-rationals",
            "USAM's per-step balance identity holds with zero error in exact rationals (3 steps, eta = 1/500, rho = 1/20); \
             observed = 0 when every deviation is exactly zero",
            if tr.laws[0].exact_zero { 0.0 } else { 1.0 },
            0.0,
        ));
    }

    let mut fig = Figure::new(
        "sam_diagonal_exponent",
        "Balancing exponent: measured ln(Δ_T/Δ_0) vs −2ρ∫g² dt",
        "predicted exponent",
        "measured ln(Δ_T/Δ_0)",
    );
    let mut diag_line: Vec<(f64, f64)> = Vec::new();
    for (label, method) in [("usam", Method::Usam { eta, rho }), ("sam", Method::Sam { eta, rho })] {
        let normalized = label == "sam";
        let mut opt = Optimizer::new(method.clone(), &0.0)?;
        let mut mon = Monitor::new().track(crate::invariants::DiagonalBalance, Law::sam_diagonal(eta, rho));
        mon.start(&model, &p0);
        let mut p = p0.clone();
        let mut integral = vec![0.0; d];
        let mut ws = model.workspace(&0.0);
        let mut full = p.zeros_like();
        for k in 1..=steps {
            // ∫ g_i² dt (USAM) or ∫ g_i²/‖∇_{(u,v)}L‖ dt (SAM) by the left rectangle rule on the steps.
            let beta = model.end_to_end(&p);
            let mut g = beta.zeros_like();
            model.loss.value_grad(&beta, None, &mut g);
            let scale = if normalized {
                model.grad_into(&mut ws, &p, None, &mut full);
                1.0 / full.norm_sq().sqrt()
            } else {
                1.0
            };
            for (i, acc) in integral.iter_mut().enumerate() {
                *acc += eta * g.get(0, i).powi(2) * scale;
            }
            let rec = opt.step(&model, &mut p)?;
            mon.after_step(&model, &rec, &p, k, &(k as f64 * eta));
        }
        let rep = &mon.reports()[0];
        s.check(Check::at_most(
            format!("{label}-identity-f64"),
            "the per-step balance identity holds along the f64 run to rounding (1e-12 relative)",
            rep.worst_rel,
            1e-12,
        ));
        let delta0 = p0.blocks[0].get(0, 0).powi(2);
        let mut worst: f64 = 0.0;
        let mut worst_refined: f64 = 0.0;
        let mut pts = Vec::new();
        for (i, int_i) in integral.iter().enumerate() {
            let delta = p.blocks[0].get(0, i).powi(2) - p.blocks[1].get(0, i).powi(2);
            let measured = (delta / delta0).ln();
            let pred = -2.0 * rho * int_i;
            // GD's own step adds -eta int g^2 (its per-step factor 1 - eta^2 g^2), USAM only.
            let refined = if normalized { pred } else { pred - eta * int_i };
            pts.push((pred, measured));
            diag_line.push((pred, pred));
            if pred.abs() > 1e-2 {
                worst = worst.max(((measured - pred) / pred).abs());
                worst_refined = worst_refined.max(((measured - refined) / refined).abs());
            }
        }
        if normalized {
            s.notes.push(format!(
                "sam (normalized): worst relative deviation of ln(Delta_T/Delta_0) from -2 rho int g_i^2/|grad_(u,v) L| dt \
                 is {worst:.3}; not checked: the ascent has fixed length rho while |grad L| falls with the loss, so \
                 g' = g + O(rho/|grad L|) and the first-order exponent degrades along the run (the exact per-step \
                 identity above still holds)"
            ));
        } else {
            s.check(Check::at_most(
                "usam-exponent",
                "ln(Delta_T/Delta_0) per coordinate (coordinates with exponent > 0.01) matches -2 rho int g_i^2 dt \
                 within 10% relative: GD's own factor 1 - eta^2 g^2 adds eta/(2 rho) = 2%, and g' = g + O(rho) adds \
                 O(rho) relative terms",
                worst,
                0.1,
            ));
            s.check(Check::at_most(
                "usam-exponent-with-gd-term",
                "with GD's term, -(2 rho + eta) int g_i^2 dt matches within 3% relative (what is left is O(rho) from \
                 g' - g, measured at about 1%)",
                worst_refined,
                0.03,
            ));
            s.notes.push(format!(
                "usam: worst relative deviation of the exponent {worst:.3} (with GD's eta term: {worst_refined:.3})"
            ));
        }
        fig = fig.with(Series::points(label, pts));
    }
    diag_line.sort_by(|a, b| a.0.total_cmp(&b.0));
    fig = fig.with(Series::line("measured = predicted", diag_line).styled(Style::Dashed));
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// LoRA-like layers.

/// What [`lora_run`] measured for each layer: `(time, B_l)` series and the worst relative deviation
/// from the per-layer exact identity.
struct LoraRun {
    b: Vec<Vec<(f64, f64)>>,
    identity: f64,
}

/// `layers` LoRA-like layers `½‖X_lY_lᵀ − (A_l + αN)‖²` (`m×n`, rank `r`, `A_l` of rank `r`,
/// fresh i.i.d. noise), trained jointly by SAM (one normalization over all layers, `rho > 0`) or
/// by SGD (`rho = 0`); start `X_l ~ 0.8·N(0,1)`, `Y_l = 0` (LoRA's initialization).
fn lora_run(
    layers: usize,
    shape: (usize, usize, usize),
    alpha: f64,
    eta: f64,
    rho: f64,
    t1: f64,
    seed: u64,
) -> Result<LoraRun> {
    let (m, n, r) = shape;
    let arch = Arch::Factor { d1: m, d2: n, r };
    let mut rng = data::rng(seed);
    let targets: Vec<Mat<f64>> = (0..layers).map(|_| data::low_rank(m, n, r, &mut rng)).collect();
    let mut models: Vec<Model<f64>> =
        targets.iter().map(|a| Model::new(arch.clone(), Loss::target(a.clone()))).collect::<Result<_>>()?;
    let mut ps: Vec<Params<f64>> =
        (0..layers).map(|_| Params::new(vec![data::gaussian(m, r, 0.8, &mut rng), Mat::zeros(n, r, &0.0)])).collect();
    let mut ws: Vec<_> = models.iter().map(|md| md.workspace(&0.0)).collect();
    let law = Law::sam_factor(eta, rho);
    let Law::ExactDrift { f, .. } = &law else { unreachable!("sam_factor is a drift law") };
    let steps = (t1 / eta).round() as usize;
    let every = (steps / 200).max(1);
    let bal = |p: &Params<f64>| 0.5 * (p.blocks[0].norm_sq() - p.blocks[1].norm_sq());
    let mut out = LoraRun { b: ps.iter().map(|p| vec![(0.0, bal(p))]).collect(), identity: 0.0 };
    let mut noise_rng = data::rng(seed + 1);
    for k in 1..=steps {
        for (md, a) in models.iter_mut().zip(&targets) {
            if let Loss::Target { phi } = &mut md.loss {
                *phi = a.add(&data::gaussian(m, n, alpha, &mut noise_rng));
            }
        }
        let gs: Vec<Params<f64>> = (0..layers)
            .map(|l| {
                let mut g = ps[l].zeros_like();
                models[l].grad_into(&mut ws[l], &ps[l], None, &mut g);
                g
            })
            .collect();
        let norm = gs.iter().map(|g| g.norm_sq()).sum::<f64>().sqrt();
        let u = if rho > 0.0 && norm > 0.0 { Some(1.0 / norm) } else { None };
        for l in 0..layers {
            let h = match u {
                Some(u) => {
                    let mut pert = ps[l].clone();
                    pert.axpy(&(rho * u), &gs[l]);
                    let mut h = ps[l].zeros_like();
                    models[l].grad_into(&mut ws[l], &pert, None, &mut h);
                    h
                }
                None => gs[l].clone(),
            };
            let rec = StepRecord {
                before: ps[l].clone(),
                grads: vec![gs[l].clone(), h.clone()],
                ascent: u,
                loss: 0.0,
                batch: None,
                momentum: None,
            };
            ps[l].axpy(&-eta, &h);
            let pred = f(&models[l], &rec)[0].get(0, 0).to_owned();
            let now = bal(&ps[l]);
            out.identity = out.identity.max((now - pred).abs() / now.abs().max(1e-300));
            if k % every == 0 || k == steps {
                out.b[l].push((k as f64 * eta, now));
            }
        }
        if ps.iter().any(|p| !p.is_finite()) {
            return Err(Error::Other(format!("LoRA run diverged at step {k}")));
        }
    }
    Ok(out)
}

fn run_sam_lora(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "sam-lora",
        "LoRA-like layers X_l Y_l^T (8x6, rank 2, Y_0 = 0) with fresh i.i.d. target noise, trained jointly by SAM \
         (rho = 0.1, noise alpha = 1, one normalization over all layers) and by SGD (eta = 1e-3): per-layer balancedness \
         B_l = (|X_l|^2 - |Y_l|^2)/2.",
    );
    let shape = (8, 6, 2);
    let (eta, rho, alpha) = (1e-3, 0.1, 1.0);
    let t1 = 20.0;
    let layers = 3;
    let sam = lora_run(layers, shape, alpha, eta, rho, t1, 91)?;
    let sgd = lora_run(layers, shape, alpha, eta, 0.0, t1, 91)?;
    let alone = lora_run(1, shape, alpha, eta, rho, t1, 91)?;
    s.check(Check::at_most(
        "per-layer-exact-drift",
        "each layer's B changes by exactly eta rho u (<g_x,h_x> - <g_y,h_y>)_l + (eta^2/2)(|h_x|^2 - |h_y|^2)_l with the \
         joint u = 1/|g| over all layers (rounding only: 1e-12 relative), SAM and SGD runs",
        sam.identity.max(sgd.identity),
        1e-12,
    ));
    let mut fig = Figure::new("sam_lora", "Per-layer balancedness, SAM vs SGD", "time t", "|B_l(t)|").log_y();
    let mut min_gain = f64::INFINITY;
    for l in 0..layers {
        let (b_sam, b_sgd) = (sam.b[l].last().expect("B").1, sgd.b[l].last().expect("B").1);
        min_gain = min_gain.min(b_sgd.abs() / b_sam.abs());
        s.notes.push(format!("layer {l}: B_0 = {:.4}, SGD B_T = {b_sgd:.4}, SAM B_T = {b_sam:.4}", sam.b[l][0].1));
        fig = fig.with(Series::line(format!("SAM layer {l}"), sam.b[l].iter().map(|&(t, b)| (t, b.abs())).collect()));
        fig = fig.with(
            Series::line(format!("SGD layer {l}"), sgd.b[l].iter().map(|&(t, b)| (t, b.abs())).collect())
                .styled(Style::Dashed),
        );
    }
    s.check(Check::at_least(
        "sam-balances-every-layer",
        "with gradient noise SAM leaves every layer at least 1.5x more balanced than SGD (|B_T| ratio SGD/SAM), SGD moving \
         B only by its O(eta) drift",
        min_gain,
        1.5,
    ));
    let decay = |series: &[(f64, f64)]| (series.last().expect("B").1 / series[0].1).abs().ln();
    let (d_alone, d_joint) = (decay(&alone.b[0]), decay(&sam.b[0]));
    s.check(Check::at_least(
        "curse-of-multi-layer",
        "the same layer balances more slowly when SAM normalizes jointly over 3 layers than alone (Theorem 5: the \
         per-layer rate is divided by the joint gradient norm): ln|B_T/B_0| alone / joint >= 1.2",
        d_alone / d_joint,
        1.2,
    ));
    s.notes.push(format!("layer 0 ln|B_T/B_0|: alone {d_alone:.4}, jointly with 3 layers {d_joint:.4}"));
    fig = fig.with(Series::line("SAM layer 0 alone", alone.b[0].iter().map(|&(t, b)| (t, b.abs())).collect()));
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}
