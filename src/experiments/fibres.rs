//! Fibres of the product map: Kempf–Ness (`kempf-ness`), the balancing flows
//! (`balancing-flows`), the fast–slow split (`fast-slow`), the end-to-end flow from balanced
//! initializations (`end-to-end`) and the two-layer Riccati closed form (`riccati`).
//!
//! Every check compares a closed form with a numerical flow (or a numerical minimization) and
//! states its tolerance from the integrator's order and step.

use super::{Check, Ctx, Experiment, Summary};
use crate::closed_form::balancing::{metric_operator, moment_flow_n2, regularizer_flow_scalar};
use crate::closed_form::end_to_end::{preconditioner_spectrum, product_velocity, singular_value_rates};
use crate::closed_form::lindsey_menon::{
    act, balanced_point, kempf_ness_minimum, moment_map, orbit_descent, regularizer,
};
use crate::closed_form::riccati::{lambda_balanced_init, Riccati};
use crate::data;
use crate::error::Result;
use crate::flow::fields::{EndToEndFlow, FastSlow, MomentMapFlow, RegularizerFlow};
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions, VectorField};
use crate::init;
use crate::invariants::{Law, MomentMap, Monitor, Quantity};
use crate::linalg::{singular_values, thin_svd};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};
use crate::trajectory::Trajectory;

pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "kempf-ness",
            about: "the regularizer's minimum on a fibre is (N/2) sum sigma_i^(2/N), attained at balanced points",
            run: run_kempf_ness,
        },
        Experiment {
            name: "balancing-flows",
            about: "balancing flows on a fibre: mu(t) = e^(-2t) mu(0) for (a), the sinh law for (b) at N = 2",
            run: run_balancing,
        },
        Experiment {
            name: "fast-slow",
            about: "gradient flow + (1/eps) balancing: mu decays like e^(-2t/eps), the product follows the learning flow to O(eps)",
            run: run_fast_slow,
        },
        Experiment {
            name: "end-to-end",
            about: "end-to-end flow from balanced inits vs the parameter flow; preconditioner spectrum; singular value rates",
            run: run_end_to_end,
        },
        Experiment {
            name: "riccati",
            about: "two-layer flow with imbalance lambda I against its Riccati closed form evaluated in MPFR",
            run: run_riccati,
        },
    ]
}

/// The end-to-end matrix, as a quantity that the balancing flows conserve.
struct Product;

impl<S: Scalar> Quantity<S> for Product {
    fn name(&self) -> String {
        "end_to_end".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![model.end_to_end(p)]
    }
}

fn max_abs(ms: &[Mat<f64>]) -> f64 {
    ms.iter().filter_map(Mat::max_abs).fold(0.0, f64::max)
}

fn grid(t1: f64, n: usize) -> Vec<f64> {
    (1..=n).map(|k| t1 * k as f64 / n as f64).collect()
}

/// Gradient flow / a field on a fibre, integrated with RK4 (the one line to change for another
/// integrator).
fn integrate<F: VectorField<f64>>(
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

/// A model whose loss only labels saved states (the balancing flows do not use it).
fn fibre_model(widths: &[usize], x: &Mat<f64>) -> Result<Model<f64>> {
    Model::new(Arch::deep_linear(widths)?, Loss::target(x.clone()))
}

/// A group element near the identity, `I + scale·G` for each hidden layer.
fn random_group(widths: &[usize], scale: f64, seed: u64) -> Vec<Mat<f64>> {
    let mut rng = data::rng(seed);
    widths[1..widths.len() - 1]
        .iter()
        .map(|&d| Mat::eye(d, d, &0.0).add(&data::gaussian(d, d, scale, &mut rng)))
        .collect()
}

// ---------------------------------------------------------------------------------------------

fn run_kempf_ness(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "kempf-ness",
        "Kempf-Ness on the fibre F_X of the product map: R(W) = 1/2 sum ||W_j||^2 is at least (N/2) sum sigma_i(X)^(2/N) \
         everywhere on F_X, with equality exactly at balanced points (mu = 0). Gradient descent on the group \
         W <- exp(-eta mu) . W reaches the bound from an unbalanced point; the balanced SVD factorization attains it.",
    );
    let iters = if ctx.quick { 400 } else { 1500 };
    let eta = 0.05;
    let mut values =
        Figure::new("kempf_ness_values", "Orbit descent reaches the Kempf–Ness minimum", "step k", "R(W_k)");
    let mut gaps =
        Figure::new("kempf_ness_gap", "Gap to the Kempf–Ness minimum", "step k", "R(W_k) − (N/2) Σ σ_i^(2/N)").log_y();
    for (label, widths, seed) in
        [("square 3-3-3-3", vec![3usize, 3, 3, 3], 51u64), ("depth 4, 2-2-2-2-2", vec![2, 2, 2, 2, 2], 52)]
    {
        let n = widths.len() - 1;
        let (d0, dn) = (widths[0], widths[n]);
        let x = data::gaussian(dn, d0, 1.0, &mut data::rng(seed));
        let rmin = kempf_ness_minimum(&x, n)?;
        let wb = balanced_point(&x, &widths)?;
        let w0 = act(&wb, &random_group(&widths, 0.4, seed + 100))?;
        let arch = Arch::deep_linear(&widths)?;
        let scale = x.max_abs().unwrap_or(1.0).max(1.0);
        s.check(Check::at_most(
            format!("balanced-construction-{label}"),
            "the SVD factorization W_1 = S V^T, W_j = S, W_N = U S (S = Sigma^(1/N)) has product X, mu = 0 and R = the \
             formula, to rounding: O(1) matrices from a few products and a Jacobi SVD, 1e-12 is ~5000 eps",
            [
                arch.product(&wb).sub(&x).max_abs().unwrap_or(f64::NAN) / scale,
                max_abs(&moment_map(&wb)) / scale,
                (regularizer(&wb) - rmin).abs() / rmin,
            ]
            .into_iter()
            .fold(0.0, f64::max),
            1e-12,
        ));
        // The library's balanced initialization (f64 SVD) attains the same value.
        let wi = init::balanced(&arch, &x)?;
        s.check(Check::at_most(
            format!("init-balanced-attains-minimum-{label}"),
            "init::balanced (nalgebra SVD) gives a point of F_X with R = (N/2) sum sigma^(2/N) and mu = 0 (relative, \
             rounding of O(1) products: 1e-12)",
            [
                arch.product(&wi).sub(&x).max_abs().unwrap_or(f64::NAN) / scale,
                max_abs(&moment_map(&wi)) / scale,
                (regularizer(&wi) - rmin).abs() / rmin,
            ]
            .into_iter()
            .fold(0.0, f64::max),
            1e-12,
        ));
        // Random points of the fibre: none goes below the bound.
        let mut lowest = f64::INFINITY;
        for k in 0..50 {
            let wk = act(&wb, &random_group(&widths, 0.6, 1000 + 7 * seed + k))?;
            lowest = lowest.min(regularizer(&wk) - rmin);
        }
        s.check(Check::at_least(
            format!("lower-bound-random-fibre-points-{label}"),
            "50 random group translates g.W_bal of the balanced point (g = I + 0.6 G) all have R >= the minimum; \
             -1e-12 allows rounding of O(1) sums",
            lowest,
            -1e-12,
        ));
        let (w_end, hist) = orbit_descent(&w0, &eta, iters)?;
        let gap_end = (hist[hist.len() - 1] - rmin) / rmin;
        let monotone = hist.windows(2).map(|w| w[1] - w[0]).fold(f64::NEG_INFINITY, f64::max);
        let below = hist.iter().map(|r| rmin - r).fold(f64::NEG_INFINITY, f64::max);
        s.check(Check::at_most(
            format!("orbit-descent-reaches-minimum-{label}"),
            format!(
                "after {iters} steps of W <- exp(-{eta} mu).W (linear convergence on a closed orbit) R is within 1e-9 \
                 (relative) of (N/2) sum sigma^(2/N); the step size is below 2/(largest orbit Hessian eigenvalue)"
            ),
            gap_end,
            1e-9,
        ));
        s.check(Check::at_most(
            format!("orbit-descent-monotone-and-above-bound-{label}"),
            "R never increases along the descent and never goes below the bound (largest increase or undershoot; \
             1e-12 allows rounding)",
            monotone.max(below),
            1e-12,
        ));
        s.check(Check::at_most(
            format!("orbit-descent-balanced-and-on-fibre-{label}"),
            "the limit is balanced (max |mu| -> 0 like the square root of the gap: 1e-4 bounds sqrt(1e-9) times the scale) \
             and the product is unchanged by the group steps (relative 1e-10: iterated exact inverses in f64)",
            (max_abs(&moment_map(&w_end)) / scale * 1e-6).max(arch.product(&w_end).sub(&x).max_abs().unwrap_or(f64::NAN) / scale),
            1e-10,
        ));
        values = values
            .with(Series::line(
                format!("R(W_k), {label}"),
                hist.iter().enumerate().map(|(k, r)| (k as f64, *r)).collect(),
            ))
            .with(
                Series::line(format!("(N/2) Σ σ^(2/N), {label}"), vec![(0.0, rmin), (iters as f64, rmin)])
                    .styled(Style::Dashed),
            );
        gaps = gaps.with(Series::line(label, hist.iter().enumerate().map(|(k, r)| (k as f64, (r - rmin))).collect()));
        s.notes.push(format!("{label}: R* = {rmin:.15}, R(W_0) = {:.6}, final relative gap {gap_end:e}", hist[0]));
    }
    // Rectangular widths: the generic orbit is not closed, the bound is an infimum.
    let widths = [2usize, 4, 3, 2];
    let x = data::gaussian(2, 2, 1.0, &mut data::rng(53));
    let rmin = kempf_ness_minimum(&x, 3)?;
    let w0 = init::gaussian(&Arch::deep_linear(&widths)?, 0.8, &mut data::rng(54));
    let x0 = Arch::deep_linear(&widths)?.product(&w0);
    let rmin0 = kempf_ness_minimum(&x0, 3)?;
    let (_, hist) = orbit_descent(&w0, &eta, iters)?;
    let below = hist.iter().map(|r| rmin0 - r).fold(f64::NEG_INFINITY, f64::max);
    s.check(Check::at_most(
        "rectangular-infimum-not-undershot",
        "widths 2-4-3-2 (generic orbit not closed): R stays above the infimum (N/2) sum sigma^(2/N) along the whole descent \
         (undershoot at most 1e-12, rounding)",
        below,
        1e-12,
    ));
    s.notes.push(format!(
        "rectangular 2-4-3-2: relative gap after {iters} steps {:e} (approached, not attained: the minimum lies in the orbit closure); \
         unrelated X of the same shape has R* = {rmin:.6}",
        (hist[hist.len() - 1] - rmin0) / rmin0
    ));
    gaps = gaps.with(Series::line(
        "rectangular 2-4-3-2 (infimum)",
        hist.iter().enumerate().map(|(k, r)| (k as f64, (r - rmin0))).collect(),
    ));
    ctx.save_figure(&values, &mut s)?;
    ctx.save_figure(&gaps, &mut s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------

fn run_balancing(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "balancing-flows",
        "Balancing flows on a fibre: (a) W' = -W + N dphi^T(M_W^-1 X) keeps the product and gives mu(t) = e^(-2t) mu(0) \
         exactly (any widths); in the scalar case w_j^2 = e^(-2t) w_j(0)^2 + c(t). (b) W' = -grad 1/2|mu|^2 keeps the \
         product; for N = 2 (scalar or SVD-aligned) mu(t) = sgn(mu0) a / sinh(asinh(a/|mu0|) + 4at), a = 2|x|.",
    );
    let t1 = if ctx.quick { 3.0 } else { 6.0 };
    let h = 0.01;
    let mut fig_mu =
        Figure::new("balancing_mu", "Moment map along the balancing flows", "time t", "max |μ(t)|").log_y();
    // (a) on a square and a rectangular fibre.
    for (label, widths, seed) in [("3-3-3-3", vec![3usize, 3, 3, 3], 61u64), ("2-4-3-2", vec![2, 4, 3, 2], 62)] {
        let arch = Arch::deep_linear(&widths)?;
        let w0 = init::gaussian(&arch, 0.8, &mut data::rng(seed));
        let x = arch.product(&w0);
        let model = fibre_model(&widths, &x)?;
        let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0)).track(Product, Law::Conserved);
        let traj = integrate(&mut RegularizerFlow::new(&w0)?, &model, &w0, h, t1, 150, &mut mon)?;
        let (mu_law, prod) = (&traj.laws[0], &traj.laws[1]);
        s.check(Check::at_most(
            format!("flow-a-mu-exp-decay-{label}"),
            "flow (a): max |mu(t) - e^(-2t) mu(0)| / max |mu(0)| over the run; RK4 with h = 0.01 has global error \
             O(h^4) = 1e-8 times the field's derivatives (of order 10 here), so 1e-6 bounds it",
            mu_law.worst_rel,
            1e-6,
        ));
        s.check(Check::at_most(
            format!("flow-a-product-fixed-{label}"),
            "flow (a) keeps the product (relative drift; RK4 truncation, same bound 1e-6)",
            prod.worst_rel,
            1e-6,
        ));
        let mu0 = max_abs(&moment_map(&w0));
        fig_mu = fig_mu
            .with(Series::line(
                format!("flow (a), {label}"),
                traj.times.iter().zip(&traj.states).map(|(t, p)| (*t, max_abs(&moment_map(p)))).collect(),
            ))
            .with(
                Series::line(
                    format!("e^(−2t) max|μ(0)|, {label}"),
                    traj.times.iter().map(|t| (*t, mu0 * (-2.0 * t).exp())).collect(),
                )
                .styled(Style::Dashed),
            );
        if seed == 61 {
            let mut mon = Monitor::new().track(Product, Law::Conserved);
            let tb = integrate(&mut MomentMapFlow, &model, &w0, 0.002, t1, 150, &mut mon)?;
            let norms: Vec<f64> =
                tb.states.iter().map(|p| moment_map(p).iter().map(|m| m.norm_sq()).sum::<f64>()).collect();
            let increase = norms.windows(2).map(|w| w[1] - w[0]).fold(f64::NEG_INFINITY, f64::max);
            s.check(Check::at_most(
                "flow-b-product-fixed",
                "flow (b) on 3-3-3-3 keeps the product (relative drift; RK4 with h = 0.002 on a field whose initial rates \
                 are about 20 (|mu(0)| ~ 3): (20 h)^4 = 2.6e-6 per unit time at the start, decaying as mu does; 1e-6)",
                tb.laws[0].worst_rel,
                1e-6,
            ));
            s.check(Check::at_most(
                "flow-b-mu-decreasing",
                "flow (b) is the gradient flow of 1/2 |mu|^2, so |mu|^2 never increases between saves (largest increase; \
                 1e-12 allows rounding of O(1) sums)",
                increase,
                1e-12,
            ));
            fig_mu = fig_mu.with(Series::line(
                "flow (b), 3-3-3-3",
                tb.times.iter().zip(&tb.states).map(|(t, p)| (*t, max_abs(&moment_map(p)))).collect(),
            ));
        }
    }
    // (a) scalar, N = 3, against the root-finding closed form.
    let w0s = [1.5, -0.4, 0.9];
    let widths = [1usize, 1, 1, 1];
    let p0 = Params::new(w0s.iter().map(|w| Mat::from_vec(1, 1, vec![*w])).collect());
    let x = fibre_model(&widths, &Mat::from_vec(1, 1, vec![w0s.iter().product()]))?;
    let traj = integrate(&mut RegularizerFlow::new(&p0)?, &x, &p0, h, t1, 60, &mut Monitor::new())?;
    let mut err_a = 0.0f64;
    let mut pts_num = Vec::new();
    let mut pts_cf = Vec::new();
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let cf = regularizer_flow_scalar(&w0s, t)?;
        for (b, c) in p.blocks.iter().zip(&cf) {
            err_a = err_a.max((b.get(0, 0) - c).abs());
        }
        pts_num.push((*t, *p.blocks[0].get(0, 0)));
        pts_cf.push((*t, cf[0]));
    }
    s.check(Check::at_most(
        "flow-a-scalar-closed-form",
        "flow (a), scalar N = 3, w(0) = (1.5, -0.4, 0.9): RK4 (h = 0.01) vs w_j^2 = e^(-2t) w_j(0)^2 + c(t); global error \
         O(h^4) = 1e-8 with O(1) constants (the field's rates are about 2): 1e-8",
        err_a,
        1e-8,
    ));
    // (b) scalar N = 2 against the sinh law.
    let (w1, w2) = (2.0, 0.3);
    let p0 = Params::new(vec![Mat::from_vec(1, 1, vec![w1]), Mat::from_vec(1, 1, vec![w2])]);
    let model = fibre_model(&[1, 1, 1], &Mat::from_vec(1, 1, vec![w1 * w2]))?;
    let hb = 0.002;
    let traj = integrate(&mut MomentMapFlow, &model, &p0, hb, t1.min(2.0), 100, &mut Monitor::new())?;
    let mut err_b = 0.0f64;
    let mut pts_b = Vec::new();
    let mut pts_bcf = Vec::new();
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let (mu, c1, c2) = moment_flow_n2(&w1, &w2, t)?;
        let mu_num = p.blocks[0].get(0, 0).powi(2) - p.blocks[1].get(0, 0).powi(2);
        err_b = err_b
            .max((mu_num - mu).abs())
            .max((p.blocks[0].get(0, 0) - c1).abs())
            .max((p.blocks[1].get(0, 0) - c2).abs());
        pts_b.push((*t, mu_num));
        pts_bcf.push((*t, mu));
    }
    s.check(Check::at_most(
        "flow-b-n2-sinh-law",
        "flow (b), N = 2, w(0) = (2, 0.3): RK4 (h = 0.002) vs mu(t) = a / sinh(asinh(a/mu0) + 4at) and the weights from it; \
         the field's initial rate is 4 sqrt(mu^2 + a^2) = 16, so (16h)^4 = 1e-6 per unit time bounds the RK4 error: 1e-6",
        err_b,
        1e-6,
    ));
    // (b) SVD-aligned 3x3, N = 2, mode by mode.
    let err_aligned = aligned_moment_flow(t1.min(2.0), hb)?;
    s.check(Check::at_most(
        "flow-b-n2-aligned-modes",
        "flow (b) on W_1 = Q D_1 V^T, W_2 = U D_2 Q^T (orthogonal U, Q, V): W(t) = the mode-wise sinh law, and stays \
         aligned (largest entry error; RK4, h = 0.002, rates up to 4 sqrt(mu^2 + a^2) ~ 20: 1e-6)",
        err_aligned,
        1e-6,
    ));
    let fig_n2 =
        Figure::new("balancing_scalar", "Scalar balancing flows against their closed forms", "time t", "value")
            .with(Series::points("flow (b), N = 2: μ(t), RK4", pts_b))
            .with(Series::line("μ(t) = a / sinh(asinh(a/μ0) + 4at)", pts_bcf).styled(Style::Dashed))
            .with(Series::points("flow (a), N = 3: w_1(t), RK4", pts_num))
            .with(Series::line("w_1(t)² = e^(−2t) w_1(0)² + c(t)", pts_cf).styled(Style::Dashed));
    s.notes.push(format!("scalar errors: flow (a) {err_a:e}, flow (b) {err_b:e}, aligned (b) {err_aligned:e}"));
    ctx.save_figure(&fig_mu, &mut s)?;
    ctx.save_figure(&fig_n2, &mut s)?;
    Ok(s)
}

/// Flow (b) on SVD-aligned 3×3 factors (N = 2): the largest entry error of `W(t)` against
/// `W_1 = Q D_1(t) Vᵀ`, `W_2 = U D_2(t) Qᵀ` with each mode from [`moment_flow_n2`].
fn aligned_moment_flow(t1: f64, h: f64) -> Result<f64> {
    let arch = Arch::deep_linear(&[3, 3, 3, 3])?;
    let o = init::orthogonal(&arch, 1.0, &mut data::rng(63));
    let (v, q, u) = (&o.blocks[0], &o.blocks[1], &o.blocks[2]);
    let d1 = [1.6, 0.5, 1.1];
    let d2 = [0.4, 0.9, -1.2];
    let diag = |d: &[f64]| Mat::from_fn(3, 3, |i, j| if i == j { d[i] } else { 0.0 });
    let w1 = q.matmul(&diag(&d1)).prod(false, v, true);
    let w2 = u.matmul(&diag(&d2)).prod(false, q, true);
    let p0 = Params::new(vec![w1, w2]);
    let model = fibre_model(&[3, 3, 3], &p0.blocks[1].matmul(&p0.blocks[0]))?;
    let traj = integrate(&mut MomentMapFlow, &model, &p0, h, t1, 20, &mut Monitor::new())?;
    let mut err = 0.0f64;
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let mut a = [0.0; 3];
        let mut b = [0.0; 3];
        for i in 0..3 {
            let (_, x1, x2) = moment_flow_n2(&d1[i], &d2[i], t)?;
            a[i] = x1;
            b[i] = x2;
        }
        let e1 = q.matmul(&diag(&a)).prod(false, v, true);
        let e2 = u.matmul(&diag(&b)).prod(false, q, true);
        err = err
            .max(p.blocks[0].sub(&e1).max_abs().unwrap_or(f64::NAN))
            .max(p.blocks[1].sub(&e2).max_abs().unwrap_or(f64::NAN));
    }
    Ok(err)
}

// ---------------------------------------------------------------------------------------------

fn run_fast_slow(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "fast-slow",
        "Fast-slow system W' = -grad(E o phi) - (1/eps) P_V W on a 2-2-2-2 network fitting a target: the moment map obeys \
         mu(t) = e^(-2t/eps) mu(0) exactly, and the product follows the learning flow on the balanced manifold (the \
         gradient flow from the balanced point of the initial fibre) with sup-norm error O(eps).",
    );
    let widths = [2usize, 2, 2, 2];
    let arch = Arch::deep_linear(&widths)?;
    let target = data::gaussian(2, 2, 1.0, &mut data::rng(71));
    let model = Model::new(arch.clone(), Loss::target(target))?;
    let w0 = init::gaussian(&arch, 0.9, &mut data::rng(72));
    let t1 = 2.0;
    let saves = 80;
    // The learning flow on the balanced manifold: the end-to-end flow from X(0).
    let (mut e2e, e2e_model) = EndToEndFlow::new(&model)?;
    let x0 = Params::new(vec![arch.product(&w0)]);
    let reference = integrate(&mut e2e, &e2e_model, &x0, 0.00125, t1, saves, &mut Monitor::new())?;
    let epss: Vec<f64> = if ctx.quick { vec![0.1, 0.05, 0.025] } else { vec![0.1, 0.05, 0.025, 0.0125, 0.00625] };
    let mut fig = Figure::new(
        "fast_slow",
        "Fast–slow system: distance to the balanced learning flow",
        "time t",
        "|X_ε(t) − X_bal(t)|",
    )
    .log_y();
    let mut fig_mu = Figure::new("fast_slow_mu", "Fast–slow system: the moment map", "time t", "max |μ(t)|").log_y();
    let mu0 = max_abs(&moment_map(&w0));
    let mut errs = Vec::new();
    let mut worst_mu = 0.0f64;
    for &eps in &epss {
        let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0 / eps));
        let h = eps / 20.0;
        let traj = integrate(&mut FastSlow::new(&model, &w0, eps)?, &model, &w0, h, t1, saves, &mut mon)?;
        worst_mu = worst_mu.max(traj.laws[0].worst_rel);
        let early: Vec<(usize, &f64)> = traj.times.iter().enumerate().filter(|(_, t)| **t <= 12.0 * eps).collect();
        fig_mu = fig_mu
            .with(Series::points(
                format!("RK4, ε = {eps}"),
                early.iter().map(|(k, t)| (**t, max_abs(&moment_map(&traj.states[*k])))).collect(),
            ))
            .with(
                Series::line(
                    format!("e^(−2t/ε) max|μ(0)|, ε = {eps}"),
                    early.iter().map(|(_, t)| (**t, mu0 * (-2.0 * **t / eps).exp())).collect(),
                )
                .styled(Style::Dashed),
            );
        let pts: Vec<(f64, f64)> = traj
            .times
            .iter()
            .zip(&traj.states)
            .zip(&reference.states)
            .map(|((t, p), r)| (*t, arch.product(p).sub(&r.blocks[0]).max_abs().unwrap_or(f64::NAN)))
            .collect();
        let sup = pts.iter().map(|p| p.1).fold(0.0, f64::max);
        errs.push(sup);
        fig = fig.with(Series::line(format!("ε = {eps}"), pts));
    }
    s.check(Check::at_most(
        "fast-mu-law",
        "mu(t) = e^(-2t/eps) mu(0) exactly for every eps (gradient part conserves mu, fast part contracts it); RK4 with \
         h = eps/20 on the linear fast decay (z = 2h/eps = 0.1) errs by z^5/120 = 8e-8 per step relative, accumulated \
         over a few decay times: 1e-6",
        worst_mu,
        1e-6,
    ));
    let (lx, ly): (Vec<f64>, Vec<f64>) = epss.iter().zip(&errs).map(|(e, r)| (e.ln(), r.ln())).unzip();
    let slope = fit_slope(&lx, &ly);
    s.check(Check::near(
        "slow-error-order",
        "least-squares slope of log sup_t |X_eps - X_bal| against log eps: first order (tolerance 0.2 for the \
         O(eps^2) terms at eps up to 0.1)",
        slope,
        1.0,
        0.2,
    ));
    s.notes.push(format!(
        "sup-norm errors: {}; fitted order {slope:.3}",
        epss.iter().zip(&errs).map(|(e, r)| format!("eps {e}: {r:e}")).collect::<Vec<_>>().join(", ")
    ));
    ctx.save_figure(&fig, &mut s)?;
    ctx.save_figure(&fig_mu, &mut s)?;
    Ok(s)
}

fn fit_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

// ---------------------------------------------------------------------------------------------

fn balanced_gauged(widths: &[usize], a: &Mat<f64>, seed: u64) -> Result<Params<f64>> {
    // The balanced SVD factorization, moved by random orthogonal matrices on the hidden layers
    // (orthogonal g keeps W_{j+1}^T W_{j+1} = W_j W_j^T).
    let wb = balanced_point(a, widths)?;
    let mut rng = data::rng(seed);
    let g: Vec<Mat<f64>> = widths[1..widths.len() - 1]
        .iter()
        .map(|&d| Mat::from_na(&data::gaussian(d, d, 1.0, &mut rng).to_na().qr().q()))
        .collect();
    act(&wb, &g)
}

fn run_end_to_end(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "end-to-end",
        "From a balanced initialization the product of the parameter gradient flow solves the end-to-end flow \
         X' = -lambda N X - sum_j (X X^T)^((j-1)/N) grad l(X) (X^T X)^((N-j)/N) (Arora-Cohen-Hazan Thm 1): non-whitened \
         regression, weight decay, rectangular widths. The preconditioner's spectrum and the singular value rates \
         are checked against the parameter side.",
    );
    let t1 = if ctx.quick { 1.5 } else { 3.0 };
    let h = 0.005;
    let mut fig_err =
        Figure::new("end_to_end_gap", "Parameter flow vs end-to-end flow", "time t", "max |∏W_j(t) − X(t)|").log_y();
    let mut fig_sv = Figure::new(
        "end_to_end_singular_values",
        "Singular values: parameter flow (lines), end-to-end flow (markers)",
        "time t",
        "σ_r(t)",
    );
    let cases: Vec<(&str, Vec<usize>, f64, u64)> = vec![
        ("4-5-5-3 regression", vec![4, 5, 5, 3], 0.0, 81),
        ("4-5-5-3 regression, decay 0.1", vec![4, 5, 5, 3], 0.1, 81),
        ("3-6-4-5 regression", vec![3, 6, 4, 5], 0.0, 82),
        ("4-4-4-4 regression", vec![4, 4, 4, 4], 0.0, 83),
    ];
    for (label, widths, lambda, seed) in cases {
        let n = widths.len() - 1;
        let (d0, dn) = (widths[0], widths[n]);
        let mut rng = data::rng(seed);
        let w_star = data::gaussian(dn, d0, 1.0, &mut rng);
        // Non-whitened inputs: columns scaled by (1, 0.5, 2, ...).
        let (x_in, y_out) = data::regression(&w_star, 20, 0.1, &mut rng);
        let x_in = Mat::from_fn(x_in.rows(), x_in.cols(), |i, j| x_in.get(i, j) * [1.0, 0.5, 2.0, 0.8][i % 4]);
        let mut model = Model::new(Arch::deep_linear(&widths)?, Loss::regression(x_in, y_out)?)?;
        if lambda > 0.0 {
            model = model.with_weight_decay(lambda)?;
        }
        let a0 = data::gaussian(dn, d0, 0.3, &mut rng);
        let w0 = balanced_gauged(&widths, &a0, seed + 1)?;
        let param = integrate(&mut GradientFlow::new(&model), &model, &w0, h, t1, 60, &mut Monitor::new())?;
        let (mut e2e, e2e_model) = EndToEndFlow::new(&model)?;
        let x0 = Params::new(vec![model.end_to_end(&w0)]);
        let traj = integrate(&mut e2e, &e2e_model, &x0, h, t1, 60, &mut Monitor::new())?;
        let gap: Vec<(f64, f64)> = param
            .times
            .iter()
            .zip(&param.states)
            .zip(&traj.states)
            .map(|((t, p), x)| (*t, model.end_to_end(p).sub(&x.blocks[0]).max_abs().unwrap_or(f64::NAN)))
            .collect();
        let worst = gap.iter().map(|p| p.1).fold(0.0, f64::max);
        s.check(Check::at_most(
            format!("product-follows-end-to-end-{label}"),
            "max |prod W_j(t) - X(t)| over the run: both RK4 with h = 0.005, global error O(h^4) = 6e-10 times the \
             field's derivatives (inputs scaled up to 2 make Sigma_xx's top eigenvalue ~8, constants up to ~100); 1e-7",
            worst,
            1e-7,
        ));
        fig_err = fig_err.with(Series::line(label, gap));
        if seed == 81 && lambda == 0.0 {
            for r in 0..dn.min(d0) {
                fig_sv = fig_sv
                    .with(Series::line(
                        format!("σ_{}", r + 1),
                        param
                            .times
                            .iter()
                            .zip(&param.states)
                            .map(|(t, p)| (*t, singular_values(&model.end_to_end(p)).map(|v| v[r]).unwrap_or(f64::NAN)))
                            .collect(),
                    ))
                    .with(Series::points(
                        format!("σ_{} (end-to-end)", r + 1),
                        traj.times
                            .iter()
                            .zip(&traj.states)
                            .map(|(t, x)| (*t, singular_values(&x.blocks[0]).map(|v| v[r]).unwrap_or(f64::NAN)))
                            .collect(),
                    ));
            }
            // Pointwise identities at a balanced point along the run.
            let wm = &param.states[param.states.len() / 2];
            let xm = model.end_to_end(wm);
            let (_, xdot) = product_velocity(&model, wm)?;
            let mut g = xm.zeros_like();
            model.loss.value_grad(&xm, None, &mut g);
            let rates = singular_value_rates(&xm, &g, n, None)?;
            let (u, _, v) = thin_svd(&xm)?;
            let uxv = u.prod(true, &xdot, false).matmul(&v);
            let sv_err = rates.iter().enumerate().map(|(r, rate)| (rate - uxv.get(r, r)).abs()).fold(0.0, f64::max);
            s.check(Check::at_most(
                "singular-value-rates",
                "sigma_r' = -N (sigma_r^2)^(1-1/N) <grad l, u_r v_r^T> equals u_r^T X' v_r with X' = dphi(-grad L) from the \
                 parameters at a point of the balanced run (balancedness kept to RK4 error 1e-9; 1e-7)",
                sv_err,
                1e-7,
            ));
            let m = metric_operator(wm)?.to_na().symmetric_eigen();
            let mut eigs: Vec<f64> = m.eigenvalues.iter().copied().collect();
            eigs.sort_by(|a, b| b.total_cmp(a));
            let spec = preconditioner_spectrum(&xm, n)?;
            let spec_err = eigs.iter().zip(&spec).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / spec[0];
            s.check(Check::at_most(
                "preconditioner-spectrum",
                "eigenvalues of M_W = dphi dphi^T built from the balanced layers equal sum_j sigma_r^(2(N-j)/N) \
                 sigma_r'^(2(j-1)/N) (padded, 0^0 = 1), relative to the largest; balancedness holds to the RK4 error \
                 1e-9, so 1e-7",
                spec_err,
                1e-7,
            ));
        }
    }
    ctx.save_figure(&fig_err, &mut s)?;
    ctx.save_figure(&fig_sv, &mut s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------

fn run_riccati(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "riccati",
        "Two-layer flow on 1/2 |Y - U V^T|^2 from U0^T U0 - V0^T V0 = lambda I: U V^T(t) is the top-right block of \
         P(t) = e^(S t) Q0 [I + Q0^T K(t) Q0]^-1 Q0^T e^(S t), evaluated in MPFR (128 bits) and compared with RK4 \
         in f64.",
    );
    let t1 = if ctx.quick { 4.0 } else { 8.0 };
    let h = 0.005;
    let proto = Mp::new(128);
    let mut fig = Figure::new(
        "riccati_error",
        "Riccati closed form vs the gradient flow",
        "time t",
        "max |UVᵀ(t) − closed form|",
    )
    .log_y();
    let mut fig_sv = Figure::new(
        "riccati_singular_values",
        "Singular values of UVᵀ: flow (lines), closed form (markers)",
        "time t",
        "σ_r(t)",
    );
    for (m, n, k, lambda, scale, seed) in
        [(4usize, 6usize, 3usize, 0.7, 0.1, 91u64), (3, 5, 2, 0.0, 0.05, 92), (6, 4, 2, 0.3, 0.01, 93)]
    {
        let label = format!("m={m}, n={n}, k={k}, λ={lambda}, scale {scale}");
        let mut rng = data::rng(seed);
        let y = data::gaussian(m, n, 1.0, &mut rng);
        let v0 = data::gaussian(n, k, scale, &mut rng);
        let raw = data::gaussian(m, k, 1.0, &mut rng);
        let u0 = lambda_balanced_init(&v0.cast(&proto), &raw.cast(&proto), &proto.from_f64_like(lambda))?;
        let cf = Riccati::new(&y.cast(&proto), &u0, &v0.cast(&proto))?;
        let arch = Arch::Factor { d1: m, d2: n, r: k };
        let model = Model::new(arch.clone(), Loss::target(y.clone()))?;
        let p0 = Params::new(vec![u0.to_f64(), v0.clone()]);
        let traj = integrate(&mut GradientFlow::new(&model), &model, &p0, h, t1, 80, &mut Monitor::new())?;
        let mut pts = Vec::new();
        let mut worst = 0.0f64;
        let mut worst_f64_cf = 0.0f64;
        let cf64 = Riccati::new(&y, &u0.to_f64(), &v0).ok();
        let mut sv_flow = Vec::new();
        let mut sv_cf = Vec::new();
        for (t, p) in traj.times.iter().zip(&traj.states) {
            let w = model.end_to_end(p);
            let c = cf.product(&proto.from_f64_like(*t))?.to_f64();
            let e = w.sub(&c).max_abs().unwrap_or(f64::NAN);
            worst = worst.max(e);
            pts.push((*t, e));
            if let Some(c64) = &cf64 {
                if let Ok(x) = c64.product(t) {
                    worst_f64_cf = worst_f64_cf.max(x.sub(&c).max_abs().unwrap_or(f64::INFINITY));
                }
            }
            sv_flow.push((*t, singular_values(&w)?[0]));
            sv_cf.push((*t, singular_values(&c)?[0]));
        }
        s.check(Check::at_most(
            format!("closed-form-vs-flow-{m}x{n}-k{k}-lambda{lambda}"),
            "max |U V^T(t) - closed form(t)| over the run; RK4 with h = 0.005 (global O(h^4) = 6e-10 times O(10) \
             derivatives), the closed form at 128 bits rounded to f64; 1e-7",
            worst,
            1e-7,
        ));
        s.notes.push(format!(
            "{label}: flow vs 128-bit closed form {worst:e}; the same formula evaluated in f64 differs from the 128-bit \
             value by up to {worst_f64_cf:e} (cancellation once e^(2 mu t) is large)"
        ));
        fig = fig.with(Series::line(label.clone(), pts));
        fig_sv = fig_sv
            .with(Series::line(format!("σ_1 flow, {label}"), sv_flow))
            .with(Series::points(format!("σ_1 closed form, {label}"), sv_cf));
    }
    ctx.save_figure(&fig, &mut s)?;
    ctx.save_figure(&fig_sv, &mut s)?;
    Ok(s)
}
