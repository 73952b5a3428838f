//! `basic-inequality`: GD's basic inequality on least squares, its exact per-step slack, and its
//! failure beyond $\eta = 1/L$.

use crate::closed_form::{basic_inequality as bi, diagonal as dg};
use crate::compare::{nan_max, nan_min};
use crate::data;
use crate::error::{Error, Result};
use crate::experiments::{Check, Experiment, Recipe};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::scalar::{Mp, Scalar, Q};

/// Least-squares problem: depth-one network `d → 1`, `Regression` loss with Gaussian `X` and
/// `y = w* X + 0.5·noise` (not interpolable, so `min f > 0`).
pub fn least_squares(n: usize, d: usize, seed: u64) -> Result<Model<f64>> {
    let mut rng = data::rng(seed);
    let w = data::gaussian(1, d, 1.0, &mut rng);
    let (x, y) = data::regression(&w, n, 0.5, &mut rng);
    Model::new(Arch::deep_linear(&[d, 1])?, Loss::regression(x, y)?)
}

/// GD with the given step sizes; returns, per `T = 1..`, the minimum over `zs` of the slack of
/// the basic inequality and of its summed form.
fn bi_slacks(model: &Model<f64>, p0: &Params<f64>, etas: &[f64], zs: &[Params<f64>]) -> Result<(Vec<f64>, Vec<f64>)> {
    let fz: Vec<f64> = zs.iter().map(|z| model.loss(z)).collect();
    let mut p = p0.clone();
    let mut sum_eta = 0.0;
    let mut sum_gap = vec![0.0; zs.len()];
    let (mut bi_min, mut sum_min) = (Vec::new(), Vec::new());
    for &eta in etas {
        let (_, g) = model.grad(&p);
        p.axpy(&-eta, &g);
        sum_eta += eta;
        let f = model.loss(&p);
        let (mut m1, mut m2) = (f64::INFINITY, f64::INFINITY);
        for (k, z) in zs.iter().enumerate() {
            let rhs = bi::bound(z, p0, &p, &sum_eta)?;
            m1 = m1.min(rhs - (f - fz[k]));
            sum_gap[k] += eta * (f - fz[k]);
            let half_dist = rhs * sum_eta;
            m2 = m2.min(half_dist - sum_gap[k]);
        }
        bi_min.push(m1);
        sum_min.push(m2);
    }
    Ok((bi_min, sum_min))
}

/// The exact per-step identity of the basic inequality on a quadratic model in number type `S`:
/// the largest `|(‖θ−z‖² − ‖θ⁺−z‖²)/(2η) − (f(θ⁺) − f(z)) − slack|` over `steps` steps.
pub fn bi_identity_defect<S: Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    z: &Params<S>,
    eta: &S,
    steps: usize,
) -> Result<S> {
    let mut p = p0.clone();
    let fz = model.loss(z);
    let mut worst = eta.zero_like();
    let two = eta.from_i64_like(2);
    for _ in 0..steps {
        let slack = bi::step_slack(model, &p, z, eta)?;
        let (_, g) = model.grad(&p);
        let mut next = p.clone();
        next.axpy(&-eta.clone(), &g);
        let mut d0 = p.clone();
        d0.axpy(&-eta.one_like(), z);
        let mut d1 = next.clone();
        d1.axpy(&-eta.one_like(), z);
        let lhs = (d0.norm_sq() - d1.norm_sq()) / (two.clone() * eta.clone()) - (model.loss(&next) - fz.clone());
        let dev = (lhs - slack).abs();
        if dev > worst {
            worst = dev;
        }
        p = next;
    }
    Ok(worst)
}

/// GD with one step-size schedule: the slacks of the basic inequality.
#[derive(Clone, Debug)]
pub struct SlackRun {
    /// The schedule.
    pub label: String,
    /// Per $T$, the minimum over the reference points $z$ of the slack of BI.
    pub bi_min: Vec<f64>,
    /// The minimum of `bi_min`.
    pub min_bi: f64,
    /// The minimum over $T$ and $z$ of the slack of the summed form.
    pub min_sum: f64,
}

/// The 1-D tightness case at one $\eta L$: $f = (L/2)x^2$, $z = \theta_0 = 1$, $T = 1$, in rationals.
#[derive(Clone, Debug)]
pub struct Tightness {
    /// $\eta L$, as text (an exact rational).
    pub eta_l: String,
    /// The slack, as text.
    pub slack: String,
    /// Whether the slack is negative.
    pub violated: bool,
    /// $|\text{slack} - (L/2)\eta L(1 - \eta L)|$ (zero when the formula is exact).
    pub defect: f64,
}

/// What `basic-inequality` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The smoothness $L$.
    pub l: f64,
    /// GD steps per schedule.
    pub steps: usize,
    /// The rounding allowance $10^{-12}\max(1, \max_z f(z))$.
    pub tol: f64,
    /// Random $\eta_t \in [0.05/L, 1/L]$, $\eta = 1/L$, and $\eta = 1.5/L$ (outside the theorem).
    pub runs: Vec<SlackRun>,
    /// $\eta = 1.5/L$ from $\theta^*$ plus the top eigenvector: per-$T$ minimum slack.
    pub bad: Vec<f64>,
    /// Its minimum.
    pub min_bad: f64,
    /// The per-step identity's largest defect in exact rationals (4 steps, $\eta = 1/8$).
    pub exact_defect: f64,
    /// The same at 256 bits along 50 steps at $\eta = 1/L$.
    pub mp256_defect: f64,
    /// The 1-D tightness cases at $\eta L = 1$ and $3/2$.
    pub tightness: Vec<Tightness>,
}

/// GD on least squares under three step-size schedules against 24 reference points; the exact
/// per-step identity in rationals and at 256 bits; the 1-D tightness case.
pub fn measure(quick: bool) -> Result<Measured> {
    let (n, d, steps) = if quick { (20, 8, 400) } else { (40, 15, 3000) };
    let model = least_squares(n, d, 51)?;
    let l = bi::smoothness(&model)?;
    let mut rng = data::rng(52);
    let p0 = Params::new(vec![data::gaussian(1, d, 1.0, &mut rng)]);
    let (sxx, syx) = match &model.loss {
        Loss::Regression { sxx, syx, .. } => (sxx.clone(), syx.clone()),
        _ => unreachable!("least_squares builds a regression loss"),
    };
    let theta_star = dg::solve_linear(&sxx, syx.as_slice()).ok_or_else(|| Error::Other("singular Sxx".into()))?;
    let theta_star = Params::new(vec![Mat::from_vec(1, d, theta_star)]);
    let mut zs = vec![p0.clone(), theta_star.clone(), p0.zeros_like()];
    for k in 0..21 {
        let mut z = theta_star.clone();
        z.axpy(&(0.5 * (1 + k % 4) as f64), &Params::new(vec![data::gaussian(1, d, 1.0, &mut rng)]));
        zs.push(z);
    }
    use rand::Rng;
    let random_etas: Vec<f64> = (0..steps).map(|_| rng.random_range(0.05..=1.0) / l).collect();
    bi::check_steps(&random_etas, l)?;
    let schedules: Vec<(String, Vec<f64>)> = vec![
        ("eta_t random in [0.05/L, 1/L]".into(), random_etas),
        ("eta = 1/L".into(), vec![1.0 / l; steps]),
        ("eta = 1.5/L (outside the theorem)".into(), vec![1.5 / l; steps]),
    ];
    // Rounding scale: f and the distances are O(10) here, each slack is a difference of such terms.
    let scale = nan_max(std::iter::once(1.0).chain(zs.iter().map(|z| model.loss(z))));
    let tol = 1e-12 * scale;
    let mut runs = Vec::new();
    for (label, etas) in schedules {
        let (bi_min, sum_min) = bi_slacks(&model, &p0, &etas, &zs)?;
        runs.push(SlackRun {
            label,
            min_bi: nan_min(bi_min.iter().copied()),
            min_sum: nan_min(sum_min.iter().copied()),
            bi_min,
        });
    }
    // Beyond 1/L from a start along the top eigenvector of H: with z = θ0, the first step's slack is
    // (η/2)‖g‖²(1 − ηL) < 0.
    let eig = sxx.to_na().symmetric_eigen();
    let top = eig.eigenvalues.imax();
    let mut p_bad = theta_star.clone();
    for j in 0..d {
        *p_bad.blocks[0].get_mut(0, j) += eig.eigenvectors[(j, top)];
    }
    let mut zs_bad = zs.clone();
    zs_bad.push(p_bad.clone());
    let (bad, _) = bi_slacks(&model, &p_bad, &vec![1.5 / l; steps], &zs_bad)?;
    // Exact per-step identity: rationals (zero) and 256 bits.
    let q = Q::new();
    let small = least_squares(6, 3, 53)?;
    let dq = bi_identity_defect(
        &small.cast(&q),
        &p0_small(3).cast(&q),
        &p0_small(3).zeros_like().cast(&q),
        &Q::from((1, 8)),
        4,
    )?;
    let mp = Mp::new(256);
    let dm =
        bi_identity_defect(&model.cast(&mp), &p0.cast(&mp), &theta_star.cast(&mp), &mp.from_f64_like(1.0 / l), 50)?;
    // Tightness: f = (L/2)x^2, z = theta_0 = 1, T = 1: slack = (L/2) eta L (1 - eta L), exactly.
    let lq = Q::from(2);
    let mut tightness = Vec::new();
    for (num, den) in [(1i64, 2i64), (3, 4)] {
        let eta = Q::from((num, den));
        let x1: Q = Q::from(1) - eta.clone() * lq.clone();
        let lhs: Q = lq.clone() / 2 * x1.clone() * x1.clone() - lq.clone() / 2;
        let rhs: Q = -(Q::from(1) - x1.clone()) * (Q::from(1) - x1) / (2 * eta.clone());
        let slack: Q = rhs - lhs;
        let el: Q = eta * lq.clone();
        let formula: Q = lq.clone() / 2 * el.clone() * (Q::from(1) - el.clone());
        tightness.push(Tightness {
            eta_l: el.to_string(),
            slack: slack.to_string(),
            violated: slack < 0,
            defect: Q::from(slack - formula).to_f64().abs(),
        });
    }
    Ok(Measured {
        l,
        steps,
        tol,
        runs,
        min_bad: nan_min(bad.iter().copied()),
        bad,
        exact_defect: dq.to_f64().abs(),
        mp256_defect: dm.to_f64(),
        tightness,
    })
}

/// BI and its summed form hold for $\eta \le 1/L$; it fails beyond; the slack identity is exact.
pub fn checks(m: &Measured) -> Vec<Check> {
    let tol = m.tol;
    let mut v = Vec::new();
    for r in m.runs.iter().take(2) {
        let label = &r.label;
        v.push(Check::at_least(
            format!("bi-holds ({label})"),
            format!("min over T and z of the slack of BI is >= 0 up to rounding (-1e-12 x max f = {tol:.1e})"),
            r.min_bi,
            -tol,
        ));
        v.push(Check::at_least(
            format!("bi-sum-holds ({label})"),
            "the summed form sum eta_t (f(theta_{t+1}) - f(z)) <= |z-theta_0|^2/2 - |z-theta_T|^2/2 holds to rounding",
            r.min_sum,
            -tol * m.steps as f64,
        ));
    }
    v.push(Check::at_most(
        "bi-fails-beyond-1-over-L",
        "with eta = 1.5/L, theta_0 - theta* along H's top eigenvector and z = theta_0, the inequality is violated \
         (first-step slack (eta/2)|g|^2 (1 - eta L) = -eta L^2/4 < 0): the condition eta <= 1/L is needed",
        m.min_bad,
        -1e-3,
    ));
    v.push(Check::at_most(
        "step-identity-exact-rationals",
        "the per-step slack identity holds with zero error in exact rationals (4 GD steps, eta = 1/8)",
        m.exact_defect,
        0.0,
    ));
    v.push(Check::at_most(
        "step-identity-mpfr256",
        "the per-step identity at 256 bits along 50 GD steps at eta = 1/L: rounding ~1e-77 x O(100) terms; 1e-60",
        m.mp256_defect,
        1e-60,
    ));
    for t in &m.tightness {
        v.push(Check::at_most(
            format!("tightness-1d (eta L = {})", t.eta_l),
            "f = (L/2)x^2, z = theta_0, T = 1: the slack equals (L/2) eta L (1 - eta L) exactly (rationals)",
            t.defect,
            0.0,
        ));
    }
    v
}

/// The slacks of every schedule, the violation beyond $1/L$, and the 1-D slacks.
pub fn notes(m: &Measured) -> Vec<String> {
    let l = m.l;
    let mut v = Vec::new();
    for (k, r) in m.runs.iter().enumerate() {
        let (label, m1, m2) = (&r.label, r.min_bi, r.min_sum);
        if k >= 2 {
            v.push(format!(
                "{label}: min slack of BI {m1:.3e}, of BI-sum {m2:.3e} (L = {l:.4}); the theorem does not cover this step \
                 size{}",
                if m1 < 0.0 { " and the inequality is violated" } else { ", and here it happens to hold" }
            ));
        }
        v.push(format!("{label}: min slack BI {m1:.3e}, BI-sum {m2:.3e}"));
    }
    v.push(format!(
        "eta = 1.5/L from theta* + top eigenvector: min slack {:.3e} (predicted first-step slack -eta L^2/4 = {:.3e})",
        m.min_bad,
        -1.5 / l * l * l / 4.0
    ));
    for t in &m.tightness {
        v.push(format!(
            "1-D tightness, L = 2, eta L = {}: slack = {} ({})",
            t.eta_l,
            t.slack,
            if t.violated { "violated: eta > 1/L" } else { "zero at eta = 1/L: the 1/L condition is sharp" }
        ));
    }
    v
}

/// The minimum slack against $T$ for each schedule and for the start beyond $1/L$.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let by_step = |xs: &[f64]| xs.iter().enumerate().map(|(t, v)| ((t + 1) as f64, *v)).collect::<Vec<_>>();
    let mut fig = Figure::new(
        "basic_inequality_slack",
        "Slack of the basic inequality (min over 24 reference points z)",
        "step T",
        "min_z slack",
    )
    .log_x();
    for r in &m.runs {
        fig = fig.with(Series::line(r.label.clone(), by_step(&r.bi_min)));
    }
    vec![fig.with(Series::line("eta = 1.5/L, theta_0 - theta* on the top eigenvector", by_step(&m.bad)))]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "basic-inequality",
    description:
        "The basic inequality of gradient descent on convex least squares: f(theta_T) - f(z) <= (|z - theta_0|^2 - \
         |z - theta_T|^2)/(2 sum eta_t) for every reference z when eta_t <= 1/L; its exact per-step slack \
         eta/2 g^T(I - eta H)g + 1/2 (z-theta)^T H (z-theta); and its failure for eta > 1/L.",
    measure,
    checks,
    figures,
    notes,
};

fn p0_small(d: usize) -> Params<f64> {
    Params::new(vec![Mat::from_fn(1, d, |_, j| 0.5 - 0.25 * j as f64)])
}

/// The `basic-inequality` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "GD's basic inequality on least squares: holds for eta <= 1/L, exact per-step slack, fails beyond",
        run: |ctx| RECIPE.run(ctx),
    }
}
