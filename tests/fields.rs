//! Vector fields of `flow::fields` against independent truths: exact polynomial differentiation
//! in rationals, high-precision finite differences of the penalized objectives, scalar closed
//! forms, discrete methods converging to their flows, and deep gradient flow for the end-to-end
//! flow.

use linflow::flow::fields::{EndToEndFlow, HeavyBallFlow, Hvp, ModifiedGdFlow, SamFlow, SamForm, UsamFlow};
use linflow::linalg::psd_power;
use linflow::prelude::*;
use linflow::scalar::Precision;

/// A 2-3-2 network on a regression loss with weight decay (all rational-exact after casting).
fn small_model() -> (Model<f64>, Params<f64>) {
    let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
    let w_star = data::gaussian(2, 2, 1.0, &mut data::rng(5));
    let (x, y) = data::regression(&w_star, 4, 0.2, &mut data::rng(6));
    let model = Model::new(arch.clone(), Loss::regression(x, y).unwrap()).unwrap().with_weight_decay(0.125).unwrap();
    let p = init::gaussian(&arch, 0.6, &mut data::rng(7));
    (model, p)
}

/// $p'(0)$ from the values at $ε = -3..3$: the derivative of the degree-6 interpolant, hence exact
/// for every polynomial of degree ≤ 6.
fn d0_seven_point<S: Scalar>(f: impl Fn(i64) -> S) -> S {
    let (f1, f2, f3) = (f(1) - f(-1), f(2) - f(-2), f(3) - f(-3));
    let proto = f1.clone();
    (f1 * proto.from_i64_like(45) - f2 * proto.from_i64_like(9) + f3) / proto.from_i64_like(60)
}

fn shifted<S: Scalar>(p: &Params<S>, v: &Params<S>, e: i64) -> Params<S> {
    let mut q = p.clone();
    q.axpy(&p.proto().from_i64_like(e), v);
    q
}

/// The dual-number Hessian-vector product equals, with zero error in rationals, the derivative
/// of ε ↦ ∇L(θ + εv), a polynomial of degree 3 (depth 2: the loss has degree 4) that the seven-point
/// formula differentiates exactly.
#[test]
fn hvp_is_exact_in_rationals() {
    let (model, p) = small_model();
    let q = Q::new();
    let (model, p) = (model.cast(&q), p.cast(&q));
    let v = init::gaussian(&model.arch, 1.0, &mut data::rng(8)).cast(&q);
    let mut hvp = Hvp::new(&model);
    let (mut g, mut hv) = (p.zeros_like(), p.zeros_like());
    let value = hvp.eval(&p, &v, &mut g, &mut hv);
    assert_eq!(value, model.loss(&p));
    assert_eq!(g, model.grad(&p).1);
    let grads: Vec<Params<Q>> = (-3..=3).map(|e| model.grad(&shifted(&p, &v, e)).1).collect();
    for (k, h) in hv.iter().enumerate() {
        let want = d0_seven_point(|e| grads[(e + 3) as usize].iter().nth(k).unwrap().clone());
        assert_eq!(*h, want, "entry {k}");
    }
    // Not trivially satisfied: Hv is not zero and differs from the gradient.
    assert!(hv.norm_sq() > Q::new());
}

/// `field(θ) = −∇φ(θ)` for the penalized objective `φ = L + (c/2)‖∇L‖²`, checked exactly in
/// rationals along each coordinate (φ has degree 6 along a line for depth 2, so the seven-point
/// formula is exact). `c = η/2` for GD's modified flow, `c = ρ` for USAM's.
fn check_penalty_field<F: VectorField<Q>>(model: &Model<Q>, p: &Params<Q>, c: Q, field: &mut F) {
    let phi = |x: &Params<Q>| {
        let (l, g) = model.grad(x);
        l + c.clone() * Q::from((1, 2)) * g.norm_sq()
    };
    let mut dy = p.zeros_like();
    field.eval(&Q::new(), p, &mut dy);
    let n = p.len();
    for k in 0..n {
        let mut e = p.zeros_like();
        *e.iter_mut().nth(k).unwrap() = Q::from(1);
        let want = -d0_seven_point(|s| phi(&shifted(p, &e, s)));
        assert_eq!(*dy.iter().nth(k).unwrap(), want, "coordinate {k} of {}", field.name());
    }
}

#[test]
fn modified_gd_and_usam_fields_are_gradients_of_their_objectives_exactly() {
    let (model, p) = small_model();
    let q = Q::new();
    let (model, p) = (model.cast(&q), p.cast(&q));
    let eta = Q::from((1, 10));
    let mut f = ModifiedGdFlow::new(&model, eta.clone()).unwrap();
    check_penalty_field(&model, &p, eta / Q::from(2), &mut f);
    let rho = Q::from((3, 20));
    let mut f = UsamFlow::new(&model, rho.clone(), SamForm::Modified).unwrap();
    check_penalty_field(&model, &p, rho, &mut f);
}

/// SAM's modified field against the gradient of `L + ρ‖∇L‖` by the five-point central difference
/// in 256-bit MPFR with h = 1e-15: truncation O(h⁴) ≈ 1e-60 times fifth derivatives of size O(10),
/// round-off ≈ 2⁻²⁵⁶·|φ|/h ≈ 1e-62; 1e-45 leaves a wide margin and is 30 orders below the
/// field's entries.
#[test]
fn sam_modified_field_is_gradient_of_l_plus_rho_norm() {
    let (model, p) = small_model();
    let mp = Precision::mp(256);
    let (model, p) = (model.cast(&mp), p.cast(&mp));
    let rho = mp.ratio_like(1, 5);
    let phi = |x: &Params<Mp>| {
        let (l, g) = model.grad(x);
        l + rho.clone() * g.norm_sq().sqrt()
    };
    let mut f = SamFlow::new(&model, rho.clone(), SamForm::Modified).unwrap();
    let mut dy = p.zeros_like();
    f.eval(&mp, &p, &mut dy);
    let h = mp.from_f64_like(1e-15);
    let mut worst: f64 = 0.0;
    for k in 0..p.len() {
        let mut e = p.zeros_like();
        *e.iter_mut().nth(k).unwrap() = h.clone();
        let at = |s: i64| shifted(&p, &e, s);
        let d = (mp.from_i64_like(8) * (phi(&at(1)) - phi(&at(-1))) - (phi(&at(2)) - phi(&at(-2))))
            / (mp.from_i64_like(12) * h.clone());
        let err = (dy.iter().nth(k).unwrap().clone() + d).to_f64().abs();
        worst = worst.max(err);
    }
    assert!(worst < 1e-45, "worst deviation {worst:e}");
    assert!(dy.norm_sq().to_f64() > 1e-6);
}

/// The scalar problem `L(w) = ½w²` (a 1-1 network with target 0).
fn scalar_model() -> Model<f64> {
    Model::new(Arch::deep_linear(&[1, 1]).unwrap(), Loss::target(Mat::zeros(1, 1, &0.0))).unwrap()
}

fn scalar(w: f64) -> Params<f64> {
    Params::new(vec![Mat::from_vec(1, 1, vec![w])])
}

fn final_scalar<F: VectorField<f64>>(field: &mut F, model: &Model<f64>, y0: &Params<f64>, t1: f64, h: f64) -> Vec<f64> {
    let traj =
        solve(field, model, y0, &Integrator::Rk4 { h }, &SolveOptions { t1, save_times: vec![] }, &mut Monitor::new())
            .unwrap();
    traj.states.last().unwrap().flatten()
}

/// Closed forms on `L = ½w²`, integrated by RK4 with h = 1e-3 to t = 1. The error of RK4 is
/// about h⁴·|w⁽⁵⁾|·t ≈ 1e-12 for these exponentials; 1e-10 bounds it.
///
/// * SAM (exact and modified coincide in one dimension): `ẇ = −(w + ρ sgn w)`, so
///   `w(t) = (w₀+ρ)e^{−t} − ρ` while `w > 0`;
/// * USAM exact: `ẇ = −(1+ρ)w`; USAM modified: `ẇ = −(1+ρ)w` as well (`H = 1`);
/// * GD's modified flow: `ẇ = −(1 + η/2)w`.
#[test]
fn scalar_closed_forms() {
    let model = scalar_model();
    let (w0, rho, eta, t1, h) = (1.0, 0.1, 0.2, 1.0, 1e-3);
    let y0 = scalar(w0);
    let sam = (w0 + rho) * (-t1).exp() - rho;
    for form in [SamForm::Exact, SamForm::Modified] {
        let w = final_scalar(&mut SamFlow::new(&model, rho, form).unwrap(), &model, &y0, t1, h)[0];
        assert!((w - sam).abs() < 1e-10, "SAM {form:?}: {w} vs {sam}");
        let w = final_scalar(&mut UsamFlow::new(&model, rho, form).unwrap(), &model, &y0, t1, h)[0];
        let usam = w0 * (-(1.0 + rho) * t1).exp();
        assert!((w - usam).abs() < 1e-10, "USAM {form:?}: {w} vs {usam}");
    }
    let w = final_scalar(&mut ModifiedGdFlow::new(&model, eta).unwrap(), &model, &y0, t1, h)[0];
    let want = w0 * (-(1.0 + eta / 2.0) * t1).exp();
    assert!((w - want).abs() < 1e-10, "modified GD: {w} vs {want}");
}

/// `λẅ + ẇ + w = 0`, `w(0) = 1`, `ẇ(0) = 0`: overdamped for λ = 0.1 (real roots of λr² + r + 1),
/// underdamped for λ = 1 (`w = e^{−t/2}(cos ωt + sin(ωt)/(2ω))`, ω = √3/2). RK4 with h = 1e-3 on
/// [0, 2]: the stiffer case has |r| ≤ 8.9, so h·|r| < 0.01 and the error is ≈ (h|r|)⁴·t ≈ 1e-11;
/// 1e-9 bounds position and velocity.
#[test]
fn heavy_ball_flow_closed_forms() {
    let model = scalar_model();
    let (t1, h) = (2.0, 1e-3);
    let y0 = HeavyBallFlow::initial(&scalar(1.0));
    // Overdamped.
    let lam: f64 = 0.1;
    let disc = (1.0 - 4.0 * lam).sqrt();
    let (r1, r2) = ((-1.0 + disc) / (2.0 * lam), (-1.0 - disc) / (2.0 * lam));
    let (a, b) = (r2 / (r2 - r1), -r1 / (r2 - r1));
    let got = final_scalar(&mut HeavyBallFlow::new(&model, lam).unwrap(), &model, &y0, t1, h);
    let w = a * (r1 * t1).exp() + b * (r2 * t1).exp();
    let v = a * r1 * (r1 * t1).exp() + b * r2 * (r2 * t1).exp();
    assert!((got[0] - w).abs() < 1e-9 && (got[1] - v).abs() < 1e-9, "{got:?} vs ({w}, {v})");
    // Underdamped.
    let om = 3f64.sqrt() / 2.0;
    let got = final_scalar(&mut HeavyBallFlow::new(&model, 1.0).unwrap(), &model, &y0, t1, h);
    let e = (-t1 / 2.0).exp();
    let w = e * ((om * t1).cos() + (om * t1).sin() / (2.0 * om));
    // ẇ = −e^{−t/2} sin(ωt) (1/(4ω) + ω) from differentiating the above.
    let v = -e * (om * t1).sin() * (1.0 / (4.0 * om) + om);
    assert!((got[0] - w).abs() < 1e-9 && (got[1] - v).abs() < 1e-9, "{got:?} vs ({w}, {v})");
}

/// A vector two-factor problem `½‖xyᵀ − A‖²` (3×3, r = 1), a non-trivial start.
fn factor_problem() -> (Model<f64>, Params<f64>) {
    let arch = Arch::Factor { d1: 3, d2: 3, r: 1 };
    let a = Mat::from_fn(3, 3, |i, j| if i == j { [1.0, 0.5, 0.25][i] } else { 0.1 * (i as f64 - j as f64) });
    let model = Model::new(arch.clone(), Loss::target(a)).unwrap();
    let p = init::gaussian(&arch, 0.7, &mut data::rng(21));
    (model, p)
}

fn flow_at<F: VectorField<f64>>(field: &mut F, model: &Model<f64>, y0: &Params<f64>, t1: f64) -> Params<f64> {
    solve(field, model, y0, &Integrator::Rk4 { h: 1e-3 }, &SolveOptions { t1, save_times: vec![] }, &mut Monitor::new())
        .unwrap()
        .states
        .pop()
        .unwrap()
}

fn discrete_at(model: &Model<f64>, method: Method, p0: &Params<f64>, steps: usize) -> Params<f64> {
    let mut opt = Optimizer::new(method, &0.0).unwrap();
    run(model, &mut opt, p0, &RunOptions::steps(steps), &mut Monitor::new()).unwrap().states.pop().unwrap()
}

fn dist(a: &Params<f64>, b: &Params<f64>) -> f64 {
    let mut d = a.clone();
    d.axpy(&-1.0, b);
    d.norm_sq().sqrt()
}

/// Discrete SAM and USAM with step η converge to their exact flows at first order, GD to its
/// modified flow at second order, heavy ball (λ fixed) to the momentum flow at first order in
/// Δt: halving the step divides the error at t = 1 by 2 (resp. 4), up to the next term of
/// relative size O(η) (η ≤ 0.04 here), so the ratios must lie within ±20% of 2 (resp. 4).
/// The flows use RK4 with h = 1e-3, whose error (≈1e-12) is far below the smallest discrete error.
#[test]
fn discrete_methods_converge_to_their_flows() {
    let (model, p0) = factor_problem();
    let t1 = 1.0;
    let rho = 0.1;
    let ratio = |errs: &[f64]| errs[0] / errs[1];
    // SAM.
    let sam_flow = flow_at(&mut SamFlow::new(&model, rho, SamForm::Exact).unwrap(), &model, &p0, t1);
    let errs: Vec<f64> = [0.02, 0.01]
        .iter()
        .map(|&eta| dist(&discrete_at(&model, Method::Sam { eta, rho }, &p0, (t1 / eta).round() as usize), &sam_flow))
        .collect();
    assert!((ratio(&errs) - 2.0).abs() < 0.4, "SAM errors {errs:?}");
    // USAM.
    let usam_flow = flow_at(&mut UsamFlow::new(&model, rho, SamForm::Exact).unwrap(), &model, &p0, t1);
    let errs: Vec<f64> = [0.02, 0.01]
        .iter()
        .map(|&eta| dist(&discrete_at(&model, Method::Usam { eta, rho }, &p0, (t1 / eta).round() as usize), &usam_flow))
        .collect();
    assert!((ratio(&errs) - 2.0).abs() < 0.4, "USAM errors {errs:?}");
    // GD against its modified flow (which depends on η: one flow per step size).
    let errs: Vec<f64> = [0.04, 0.02]
        .iter()
        .map(|&eta| {
            let m = flow_at(&mut ModifiedGdFlow::new(&model, eta).unwrap(), &model, &p0, t1);
            dist(&discrete_at(&model, Method::Gd { eta }, &p0, (t1 / eta).round() as usize), &m)
        })
        .collect();
    assert!((ratio(&errs) - 4.0).abs() < 0.8, "GD vs modified flow errors {errs:?}");
    // Heavy ball at λ = 0.1 with Δt = λ(1−β) = 0.02, 0.01 (β = 0.8, 0.9; γ = λ(1−β)²).
    let lam = 0.1;
    let hb_flow = flow_at(&mut HeavyBallFlow::new(&model, lam).unwrap(), &model, &HeavyBallFlow::initial(&p0), t1);
    let hb_pos = HeavyBallFlow::position(&hb_flow);
    let errs: Vec<f64> = [0.8, 0.9]
        .iter()
        .map(|&beta: &f64| {
            let eta = lam * (1.0 - beta) * (1.0 - beta);
            assert!((HeavyBallFlow::<f64>::lambda_of(eta, beta).unwrap() - lam).abs() < 1e-15);
            let dt = eta / (1.0 - beta);
            dist(&discrete_at(&model, Method::HeavyBall { eta, beta }, &p0, (t1 / dt).round() as usize), &hb_pos)
        })
        .collect();
    assert!((ratio(&errs) - 2.0).abs() < 0.4, "heavy ball errors {errs:?}");
}

/// From a balanced start the product of a deep network under gradient flow follows the end-to-end
/// flow (Arora–Cohen–Hazan): both integrated by RK4 with h = 1e-3 to t = 1, the products agree to
/// the integrators' error (≈1e-12) plus the eigendecomposition's round-off; 1e-9 bounds it. Cases:
/// a full-rank 3-3-3-3 network and a 3-2-3 network whose product has rank 2 (zero eigenvalues).
#[test]
fn end_to_end_flow_matches_deep_gradient_flow_from_balanced_start() {
    for widths in [vec![3, 3, 3, 3], vec![3, 2, 3]] {
        let arch = Arch::deep_linear(&widths).unwrap();
        let target = data::gaussian(3, 3, 1.0, &mut data::rng(31));
        let model = Model::new(arch.clone(), Loss::target(target.clone())).unwrap();
        let w0 = data::low_rank(3, 3, if widths.len() == 3 { 2 } else { 3 }, &mut data::rng(32)).scaled(&0.5);
        let p0 = init::balanced(&arch, &w0).unwrap();
        assert!(model.end_to_end(&p0).sub(&w0).max_abs().unwrap() < 1e-12);
        let deep = flow_at(&mut GradientFlow::new(&model), &model, &p0, 1.0);
        let e2e_model = Model::new(Arch::deep_linear(&[3, 3]).unwrap(), Loss::target(target)).unwrap();
        let n = widths.len() - 1;
        let (mut f, _) = EndToEndFlow::new(&model).unwrap();
        assert_eq!(f.name(), format!("end-to-end flow (N = {n})"));
        let w1 = flow_at(&mut f, &e2e_model, &Params::new(vec![w0.clone()]), 1.0);
        let err = model.end_to_end(&deep).sub(&w1.blocks[0]).max_abs().unwrap();
        assert!(err < 1e-9, "{widths:?}: {err:e}");
        // The flows moved: the check is not comparing two copies of the start.
        assert!(w1.blocks[0].sub(&w0).max_abs().unwrap() > 0.1);
    }
}

#[test]
fn psd_power_matches_a_diagonal_case() {
    let m = nalgebra::DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![4.0, 9.0, 0.0]));
    let r = psd_power(&m, 0.5);
    assert!((r[(0, 0)] - 2.0).abs() < 1e-14 && (r[(1, 1)] - 3.0).abs() < 1e-14 && r[(2, 2)].abs() < 1e-14);
}

#[test]
fn bad_inputs_are_errors() {
    let model = scalar_model();
    assert!(SamFlow::new(&model, -0.1, SamForm::Exact).is_err());
    assert!(UsamFlow::new(&model, f64::NAN, SamForm::Modified).is_err());
    assert!(ModifiedGdFlow::new(&model, 0.0).is_err());
    assert!(HeavyBallFlow::new(&model, 0.0).is_err());
    assert!(HeavyBallFlow::<f64>::lambda_of(0.1, 1.0).is_err());
    let deep = Model::new(Arch::deep_linear(&[1, 1, 1]).unwrap(), Loss::target(Mat::zeros(1, 1, &0.0))).unwrap();
    assert!(EndToEndFlow::of_loss(deep.loss.clone(), 0, 0.0).is_err());
    assert!(EndToEndFlow::of_loss(deep.loss.clone(), 2, -1.0).is_err());
    let diag = Model::new(Arch::DiagonalUV { d: 2 }, Loss::target(Mat::zeros(1, 2, &0.0))).unwrap();
    assert!(EndToEndFlow::new(&diag).is_err());
    // A phase state whose position blocks do not fit the model is rejected by solve.
    let bad = HeavyBallFlow::initial(&Params::new(vec![Mat::zeros(2, 1, &0.0)]));
    let r = solve(
        &mut HeavyBallFlow::new(&model, 0.1).unwrap(),
        &model,
        &bad,
        &Integrator::Rk4 { h: 0.1 },
        &SolveOptions { t1: 1.0, save_times: vec![] },
        &mut Monitor::new(),
    );
    assert!(r.is_err());
}

/// On a diagonal net `β = u⊙v` the exact USAM flow moves `Δ = u⊙u − v⊙v` by
/// `Δ̇ = −2ρ g⊙g′⊙Δ` (`g = ∂L/∂β` at the point, `g′` at the ascent point), so
/// `ln(Δ_T/Δ_0) = −2ρ∫g⊙g′ dt` exactly; SAM's exact flow the same with `ρ/‖∇_{(u,v)}L‖`. RK4 with
/// h = 1e-3 to t = 2, the integral by Simpson's rule on the RK4 grid (error ~h⁴ ≈ 1e-12 relative
/// to exponents of order 0.1); 1e-8 absolute bounds both.
#[test]
fn sam_flows_balance_diagonal_nets_by_the_exact_exponent() {
    let d = 8;
    let mut rng = data::rng(71);
    let beta_star = data::sparse_row(d, 2, &mut rng);
    let x = data::gaussian(d, 5, 1.0, &mut rng);
    let y = beta_star.matmul(&x);
    let arch = Arch::DiagonalUV { d };
    let model = Model::new(arch.clone(), Loss::regression(x, y).unwrap()).unwrap();
    let p0 = init::diagonal_alpha(&arch, 0.3).unwrap();
    let (rho, h, t1) = (0.2, 1e-3, 2.0);
    let m = (t1 / h) as usize;
    let save_times: Vec<f64> = (1..=m).map(|k| k as f64 * h).collect();
    for normalized in [false, true] {
        let opts = SolveOptions { t1, save_times: save_times.clone() };
        let traj = if normalized {
            solve(
                &mut SamFlow::new(&model, rho, SamForm::Exact).unwrap(),
                &model,
                &p0,
                &Integrator::Rk4 { h },
                &opts,
                &mut Monitor::new(),
            )
        } else {
            solve(
                &mut UsamFlow::new(&model, rho, SamForm::Exact).unwrap(),
                &model,
                &p0,
                &Integrator::Rk4 { h },
                &opts,
                &mut Monitor::new(),
            )
        }
        .unwrap();
        assert_eq!(traj.states.len(), m + 1);
        let mut integral = vec![0.0; d];
        for (k, p) in traj.states.iter().enumerate() {
            let w = if k == 0 || k == m {
                h / 3.0
            } else if k % 2 == 1 {
                4.0 * h / 3.0
            } else {
                2.0 * h / 3.0
            };
            let (_, full) = model.grad(p);
            let s = if normalized { 1.0 / full.norm_sq().sqrt() } else { 1.0 };
            let mut pert = p.clone();
            pert.axpy(&(rho * s), &full);
            let grad_beta = |q: &Params<f64>| {
                let b = model.end_to_end(q);
                let mut g = b.zeros_like();
                model.loss.value_grad(&b, None, &mut g);
                g
            };
            let (g, g2) = (grad_beta(p), grad_beta(&pert));
            for (i, acc) in integral.iter_mut().enumerate() {
                *acc += w * s * g.get(0, i) * g2.get(0, i);
            }
        }
        let last = traj.states.last().unwrap();
        let delta0 = p0.blocks[0].get(0, 0).powi(2);
        let mut moved: f64 = 0.0;
        for (i, int_i) in integral.iter().enumerate() {
            let delta = last.blocks[0].get(0, i).powi(2) - last.blocks[1].get(0, i).powi(2);
            let measured = (delta / delta0).ln();
            assert!((measured + 2.0 * rho * int_i).abs() < 1e-8, "normalized {normalized}, coordinate {i}");
            moved = moved.max(measured.abs());
        }
        // The exponents are not negligible: the identity is tested on a real effect.
        assert!(moved > 1e-2, "largest exponent {moved}");
    }
}
