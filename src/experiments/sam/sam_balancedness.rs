//! `sam-balancedness`: Li–Zhang–He's balancedness $B = (\|x\|^2 - \|y\|^2)/2$ under SAM on noisy
//! two-factor problems: its predicted decay and resting value; SGD's exact $\eta^2$ drift.

use super::common::{draw_target, fig1_run, noisy_run, toy_model, Fig1Run, Toy};
use crate::compare::nan_max;
use crate::data;
use crate::error::{Error, Result};
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::{FactorBalance, Law, Monitor};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series, Style};

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

/// SGD on NOP at one noise level.
#[derive(Clone, Debug)]
pub struct SgdNop {
    /// Noise amplitude $\alpha$.
    pub alpha: f64,
    /// Worst relative deviation of SGD's exact $\eta^2$ drift.
    pub drift_law_worst_rel: f64,
    /// $B_T - B_0$.
    pub drift: f64,
    /// $(t, B_t)$.
    pub b: Vec<(f64, f64)>,
}

/// SAM's resting value against the orbit equilibrium (NOP, $\alpha = 1$).
#[derive(Clone, Debug)]
pub struct Rest {
    /// Paper time where the average starts.
    pub from_t: f64,
    /// Late states at which the equilibrium was computed.
    pub states: usize,
    /// Monte Carlo noise draws per state.
    pub samples: usize,
    /// Time-averaged $B$ over the last 40% of the run.
    pub actual: f64,
    /// The mean zero of the expected one-step drift on the scaling orbit.
    pub predicted: f64,
}

/// SAM on NOP at one noise level.
#[derive(Clone, Debug)]
pub struct SamNop {
    /// Noise amplitude $\alpha$.
    pub alpha: f64,
    /// Worst relative deviation of SAM's exact one-step change of $B$.
    pub drift_law_worst_rel: f64,
    /// $(t, B_t)$.
    pub b: Vec<(f64, f64)>,
    /// $\|w_T\|^2$.
    pub w_final: f64,
    /// The resting value (at $\alpha = 1$ only).
    pub rest: Option<Rest>,
}

/// SAM on OP at one noise level: the measured decay against the refined and first-order predictions.
#[derive(Clone, Debug)]
pub struct SamOp {
    /// Noise amplitude $\alpha$.
    pub alpha: f64,
    /// $(t, B_t)$.
    pub b: Vec<(f64, f64)>,
    /// $\ln|B_T/B_0|$.
    pub actual: f64,
    /// $\int [2\rho|f'|/\|w\| + 2\kappa\rho^2 + 2\kappa\rho^3 \operatorname{sgn}(f')x^\top y/\|w\|^3]\,dt$.
    pub refined: f64,
    /// The first-order lemma's $\int 2\rho|f'|/\|w\|\,dt$.
    pub first_order: f64,
}

/// What `sam-balancedness` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Paper time of the horizon.
    pub t_paper: f64,
    /// $B_0$.
    pub b0: f64,
    /// SGD on NOP.
    pub sgd_nop: Vec<SgdNop>,
    /// SAM ($\rho = 0.1$) on NOP.
    pub sam_nop: Vec<SamNop>,
    /// SAM ($\rho = 0.2$) on OP.
    pub sam_op: Vec<SamOp>,
    /// SGD on OP at $\alpha = 1$: $(t, B_t)$.
    pub sgd_op: Vec<(f64, f64)>,
    /// Non-square target $(m, n, r)$ and the time-averaged $\|X\|^2/\|Y\|^2$.
    pub non_square: ((usize, usize, usize), f64),
}

/// Li–Zhang–He's Fig. 1 runs (SGD and SAM on NOP and OP), the resting value, and the non-square rest.
pub fn measure(quick: bool) -> Result<Measured> {
    let Fig1Run { eta, t_paper, steps, every, p0, b0 } = fig1_run();
    // --- SGD: the exact per-step identity, with noise.
    let sgd_alphas: &[f64] = if quick { &[1.0] } else { &[0.5, 1.0] };
    let mut sgd_nop = Vec::new();
    for &alpha in sgd_alphas {
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta, 0.0));
        let r = noisy_run(Toy::Nop, &p0, Method::Gd { eta }, alpha, steps, every, 7, &mut mon, |_, _| {})?;
        sgd_nop.push(SgdNop {
            alpha,
            drift_law_worst_rel: r.laws[0].worst_rel,
            drift: r.b.last().map(|x| x.1).unwrap_or(f64::NAN) - b0,
            b: r.b.clone(),
        });
    }
    // --- SAM on NOP at several noise levels.
    let rho_nop = 0.1;
    let sam_alphas: &[f64] = if quick { &[0.0, 1.0, 2.0] } else { &[0.0, 0.5, 1.0, 2.0] };
    let mut sam_nop = Vec::new();
    for &alpha in sam_alphas {
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta, rho_nop));
        let r =
            noisy_run(Toy::Nop, &p0, Method::Sam { eta, rho: rho_nop }, alpha, steps, every, 11, &mut mon, |_, _| {})?;
        let rest = if alpha == 1.0 {
            // Resting value against the orbit equilibrium, averaged over the last 40% of the run.
            let start = r.b.len() * 3 / 5;
            let picks: Vec<usize> = (start..r.b.len()).step_by(((r.b.len() - start) / 8).max(1)).collect();
            let samples = if quick { 1500 } else { 4000 };
            let mut pred = 0.0;
            for (i, &k) in picks.iter().enumerate() {
                pred += orbit_equilibrium(Toy::Nop, &r.states[k], alpha, eta, rho_nop, samples, 100 + i as u64)?;
            }
            pred /= picks.len() as f64;
            let actual = r.b[start..].iter().map(|x| x.1).sum::<f64>() / (r.b.len() - start) as f64;
            Some(Rest { from_t: r.b[start].0, states: picks.len(), samples, actual, predicted: pred })
        } else {
            None
        };
        sam_nop.push(SamNop {
            alpha,
            drift_law_worst_rel: r.laws[0].worst_rel,
            b: r.b.clone(),
            w_final: r.last.norm_sq(),
            rest,
        });
    }
    // --- OP: the refined decay law.
    let rho_op = 0.2;
    let op_alphas: &[f64] = if quick { &[0.0, 1.0] } else { &[0.0, 0.5, 1.0] };
    let mut sam_op = Vec::new();
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
        sam_op.push(SamOp { alpha, b: r.b.clone(), actual: (bt / b0).abs().ln(), refined, first_order: first });
    }
    let sgd_op = {
        let mut mon = Monitor::new();
        noisy_run(Toy::Op, &p0, Method::Gd { eta }, 1.0, steps, every, 13, &mut mon, |_, _| {})?.b
    };
    // --- Non-square target: the noise-driven rest is n|X|^2 = m|Y|^2, not B = 0.
    let (m, n, r) = (8usize, 6usize, 2usize);
    let ratio = non_square_rest(m, n, r, if quick { 100.0 } else { 150.0 })?;
    Ok(Measured { t_paper, b0, sgd_nop, sam_nop, sam_op, sgd_op, non_square: ((m, n, r), ratio) })
}

/// The exact drifts, where the balancing claim does and does not apply, the resting value, the
/// refined OP decay, and the non-square rest.
pub fn checks(m: &Measured) -> Vec<Check> {
    let (t_paper, b0) = (m.t_paper, m.b0);
    let mut v = Vec::new();
    for r in &m.sgd_nop {
        v.push(Check::at_most(
            format!("sgd-exact-drift-alpha-{}", r.alpha),
            "SGD changes B by exactly (eta^2/2)(|g_x|^2 - |g_y|^2) at every step (fresh noise each step); each check \
             compares two f64 evaluations of O(1) numbers from a few dozen roundings, so 1e-12 relative is a 100x margin",
            r.drift_law_worst_rel,
            1e-12,
        ));
    }
    for r in &m.sam_nop {
        v.push(Check::at_most(
            format!("sam-exact-drift-nop-alpha-{}", r.alpha),
            "SAM changes B by exactly eta rho u (<g_x,h_x> - <g_y,h_y>) + (eta^2/2)(|h_x|^2 - |h_y|^2) per step \
             (rounding only: 1e-12 relative)",
            r.drift_law_worst_rel,
            1e-12,
        ));
        if r.alpha == 0.0 {
            v.push(Check::at_least(
                "nop-no-noise-imbalance-grows",
                "where the claim does not apply: without noise SAM increases |B| over a long stretch (the gradient \
                 sits in the y-block, so the leading term pushes B away from 0); max_t |B_t| - |B_0| must be > 0",
                nan_max(r.b.iter().map(|x| x.1.abs())) - b0.abs(),
                1e-3,
            ));
        }
        if r.alpha == 2.0 {
            v.push(Check::at_most(
                "nop-large-noise-collapse",
                "where the claim is trivial: with large noise (alpha = 2) SAM collapses to the saddle (0,0), so |B| -> 0 \
                 because both factors vanish; |w_T|^2 below 1e-2 (from 1.4) detects the collapse",
                r.w_final,
                1e-2,
            ));
        }
        if let Some(rest) = &r.rest {
            v.push(Check::at_most(
                "nop-resting-value",
                format!(
                    "SAM's resting B (mean over paper time {:.0}..{t_paper}, alpha = 1) matches the zero of the expected \
                     exact one-step drift on the scaling orbit (Monte Carlo, {} noise draws, at {} late states) \
                     within 5% relative (Monte Carlo error of the root ~1-2%, fluctuations of B about its rest ~2%)",
                    rest.from_t, rest.samples, rest.states
                ),
                ((rest.actual - rest.predicted) / rest.predicted).abs(),
                0.05,
            ));
        }
    }
    for r in &m.sam_op {
        v.push(Check::at_most(
            format!("op-refined-decay-alpha-{}", r.alpha),
            "ln|B_T/B_0| of SAM on OP matches -int [2 rho |f'|/|w| + 2 kappa rho^2 + 2 kappa rho^3 sgn(f') x^T y/|w|^3] dt \
             (kappa = 1) within 1% relative: the neglected terms are O(rho^4) and O(eta) per unit time",
            ((r.actual + r.refined) / r.actual).abs(),
            0.01,
        ));
        if r.alpha == 0.0 {
            v.push(Check::at_most(
                "op-first-order-explains-little",
                "without noise the first-order lemma (-2 rho |f'| B/|w|) explains at most half of the measured decay \
                 (the data-independent 2 kappa rho^2 term dominates)",
                r.first_order / r.actual.abs(),
                0.5,
            ));
        }
    }
    let ((mm, n, rk), ratio) = m.non_square;
    v.push(Check::at_most(
        "non-square-rest",
        format!(
            "where the claim does not apply: with i.i.d. noise on a {mm}x{n} rank-{rk} target SAM rests at n|X|^2 = m|Y|^2 \
             (E|N Y|^2 = m|Y|^2, E|N^T X|^2 = n|X|^2), i.e. |X|^2/|Y|^2 = m/n, not at B = 0; the time-averaged ratio \
             over the second half must be within 5% of m/n (the signal and the normalization by the random |g| shift \
             the rest by about 1%)"
        ),
        (ratio / (mm as f64 / n as f64) - 1.0).abs(),
        0.05,
    ));
    v
}

/// Drifts, final values, the resting value and the OP decay shares.
pub fn notes(m: &Measured) -> Vec<String> {
    let (t_paper, b0) = (m.t_paper, m.b0);
    let mut v = Vec::new();
    for r in &m.sgd_nop {
        v.push(format!("SGD NOP alpha {}: B_T - B_0 = {:.3e} over paper time {t_paper}", r.alpha, r.drift));
    }
    for r in &m.sam_nop {
        let (alpha, wt) = (r.alpha, r.w_final);
        let bt = r.b.last().map(|x| x.1).unwrap_or(f64::NAN);
        v.push(format!("SAM NOP alpha {alpha}: B_T = {bt:.4}, |w_T|^2 = {wt:.3e}"));
        if alpha == 0.0 {
            v.push(format!(
                "no noise: SAM raises |B| from {:.4} to max {:.4}; the balancing claim needs gradient noise",
                b0.abs(),
                nan_max(r.b.iter().map(|x| x.1.abs()))
            ));
        }
        if alpha == 2.0 {
            v.push(format!("alpha = 2: collapse to the saddle, |w_T|^2 = {wt:.2e}: |B| -> 0 is trivial here"));
        }
        if let Some(rest) = &r.rest {
            v.push(format!("NOP alpha 1: resting B {:.4}, orbit equilibrium {:.4}", rest.actual, rest.predicted));
        }
    }
    for r in &m.sam_op {
        v.push(format!(
            "OP alpha {}: ln|B_T/B_0| = {:.4}, refined {:.4}, first-order lemma alone {:.4} ({:.0}% of the decay)",
            r.alpha,
            r.actual,
            -r.refined,
            -r.first_order,
            100.0 * r.first_order / r.actual.abs()
        ));
    }
    v.push(format!("SGD OP alpha 1: B_T = {:.5}", m.sgd_op.last().map(|x| x.1).unwrap_or(f64::NAN)));
    let ((mm, n, _), ratio) = m.non_square;
    v.push(format!("non-square {mm}x{n}: mean |X|^2/|Y|^2 = {ratio:.4} (m/n = {:.4})", mm as f64 / n as f64));
    v
}

/// $|\|x\|^2 - \|y\|^2|$ on NOP and on OP (with the refined prediction).
pub fn figures(m: &Measured) -> Vec<Figure> {
    let twice_abs = |b: &[(f64, f64)]| b.iter().map(|&(t, b)| (t, 2.0 * b.abs())).collect::<Vec<_>>();
    let mut fig_nop = Figure::new(
        "sam_balancedness_nop",
        "NOP: |‖x‖² − ‖y‖²| under SGD and SAM (ρ = 0.1)",
        "time t (paper units, k·1e-4)",
        "|‖x_t‖² − ‖y_t‖²|",
    );
    for r in &m.sgd_nop {
        fig_nop = fig_nop.with(Series::line(format!("SGD α = {}", r.alpha), twice_abs(&r.b)));
    }
    for r in &m.sam_nop {
        fig_nop = fig_nop.with(Series::line(format!("SAM α = {}", r.alpha), twice_abs(&r.b)));
    }
    let mut fig_op = Figure::new(
        "sam_balancedness_op",
        "OP: |‖x‖² − ‖y‖²| under SGD and SAM (ρ = 0.2)",
        "time t (paper units, k·1e-4)",
        "|‖x_t‖² − ‖y_t‖²|",
    )
    .log_y();
    for r in &m.sam_op {
        fig_op = fig_op.with(Series::line(format!("SAM α = {}", r.alpha), twice_abs(&r.b))).with(
            Series::line(
                format!("prediction α = {}", r.alpha),
                vec![(0.0, 2.0 * m.b0.abs()), (m.t_paper, 2.0 * m.b0.abs() * (-r.refined).exp())],
            )
            .styled(Style::Dashed),
        );
    }
    fig_op = fig_op.with(Series::line("SGD α = 1", twice_abs(&m.sgd_op)));
    vec![fig_nop, fig_op]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "sam-balancedness",
    description:
        "Li-Zhang-He Fig. 1: x0 = (0.2,-0.1,0.3), y0 = -3 x0, NOP target diag(0.5,0,0) + alpha diag(1,.8,.5) U, \
         OP target 0.5 + alpha n, fresh noise each step; SGD vs SAM (rho = 0.1 NOP, 0.2 OP), paper step 1e-4 \
         (our 2e-4 on the 1/2-loss), paper time up to 10.",
    measure,
    checks,
    figures,
    notes,
};

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

/// The `sam-balancedness` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "SAM drives balancedness B = (|x|^2-|y|^2)/2 to its predicted decay and resting value; SGD drifts by an exact eta^2 term",
        run: |ctx| RECIPE.run(ctx),
    }
}
