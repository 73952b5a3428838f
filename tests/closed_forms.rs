//! Closed-form references against numerical flows and exact identities: Saxe modes, diagonal
//! networks' implicit bias, the basic inequality of GD and the Razin–Cohen instance.

use linflow::closed_form::{basic_inequality as bi, diagonal as dg, razin_cohen as rc, saxe};
use linflow::compare::fit_order;
use linflow::error::Error;
use linflow::experiments::references::saxe_modes;
use linflow::prelude::*;

fn is_precondition<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Precondition { .. }))
}

#[test]
fn saxe_preconditions_rejected() {
    assert!(is_precondition(saxe::BalancedMode::new(-1.0, 0.1, 1.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, 0.0, 1.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, 0.1, 0.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, f64::NAN, 1.0)));
    let m = saxe::BalancedMode::new(2.0, 0.1, 1.0).unwrap();
    assert!(is_precondition(m.u(&-1.0)));
    assert!(is_precondition(m.time_to(&3.0)));
    assert!(is_precondition(saxe::UnbalancedMode::new(1.0, 0.3, -0.3, 1.0)));
    assert!(is_precondition(saxe::DeepBalancedMode::new(1, 1.0, 0.1, 1.0)));
    assert!(is_precondition(saxe::DeepBalancedMode::new(3, 1.0, 1.5, 1.0)));
    let d = saxe::DeepBalancedMode::new(3, 1.0, 0.1, 1.0).unwrap();
    assert!(is_precondition(d.time_of(&1.0)));
}

// ---------------------------------------------------------------------------------------------
// Saxe

fn orth(n: usize, seed: u64) -> Mat<f64> {
    Mat::from_na(&data::gaussian(n, n, 1.0, &mut data::rng(seed)).to_na().qr().q())
}

fn diag(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), v.len(), |i, j| if i == j { v[i] } else { 0.0 })
}

fn gf(model: &Model<f64>, p0: &Params<f64>, h: f64, t1: f64, n_save: usize) -> Trajectory<f64> {
    let save_times = (1..=n_save).map(|k| t1 * k as f64 / n_save as f64).collect();
    let traj = solve(
        &mut GradientFlow::new(model),
        model,
        p0,
        &Integrator::Rk4 { h },
        &SolveOptions { t1, save_times },
        &mut Monitor::new(),
    )
    .unwrap();
    assert!(traj.outcome.is_done());
    traj
}

/// Max over saved times of `|φ(θ_flow(t)) − reference(t)|` at step `h` and `h/2`.
fn flow_errors(
    model: &Model<f64>,
    p0: &Params<f64>,
    h: f64,
    t1: f64,
    reference: &dyn Fn(f64) -> Mat<f64>,
) -> (f64, f64) {
    let mut out = [0.0; 2];
    for (k, hk) in [h, h / 2.0].into_iter().enumerate() {
        let traj = gf(model, p0, hk, t1, 40);
        for (t, p) in traj.times.iter().zip(&traj.states) {
            let e = model.end_to_end(p).sub(&reference(*t)).max_abs().unwrap();
            out[k] = f64::max(out[k], e);
        }
    }
    (out[0], out[1])
}

/// RK4 converges to the reference at order 4: the error drops by 2^4 = 16 when h halves (10..22
/// allows the next-order term), and the finer error is below `tol`.
fn assert_rk4_limit((e1, e2): (f64, f64), tol: f64) {
    eprintln!("errors {e1:e} (h), {e2:e} (h/2), ratio {}", e1 / e2);
    assert!(e2 < tol, "error {e2:e} above {tol:e}");
    assert!((10.0..22.0).contains(&(e1 / e2)), "ratio {} is not RK4's 16", e1 / e2);
}

#[test]
fn saxe_two_layer_modes_match_flow_with_wide_hidden_layer() {
    // 2 → 3 → 2: hidden width above the rank, R = first two columns of an orthogonal 3×3.
    let (u, v) = (orth(2, 1), orth(2, 2));
    let r3 = orth(3, 3);
    let r = Mat::from_fn(3, 2, |i, j| *r3.get(i, j));
    let s = [2.5, 0.8];
    let phi = u.matmul(&diag(&s)).prod(false, &v, true);
    let model = Model::new(Arch::deep_linear(&[2, 3, 2]).unwrap(), Loss::target(phi)).unwrap();
    let layers = |a: &[f64], b: &[f64]| {
        Params::new(vec![r.matmul(&diag(a)).prod(false, &v, true), u.matmul(&diag(b)).prod(false, &r, true)])
    };
    let mode_matrix = |m: &[f64]| u.matmul(&diag(m)).prod(false, &v, true);
    // Balanced.
    let u0 = [2e-3, 0.03];
    let modes: Vec<_> = (0..2).map(|i| saxe::BalancedMode::new(s[i], u0[i], 1.0).unwrap()).collect();
    let a0: Vec<f64> = u0.iter().map(|&x| f64::sqrt(x)).collect();
    let reference = |t: f64| mode_matrix(&modes.iter().map(|m| m.u(&t).unwrap()).collect::<Vec<_>>());
    assert_rk4_limit(flow_errors(&model, &layers(&a0, &a0), 0.02, 8.0, &reference), 1e-7);
    // Unbalanced, one mode with |b| > |a| (c < 0) and a sign change of b.
    let (a0, b0) = ([0.4, 0.05], [-0.1, 0.3]);
    let modes: Vec<_> = (0..2).map(|i| saxe::UnbalancedMode::new(s[i], a0[i], b0[i], 1.0).unwrap()).collect();
    let reference = |t: f64| mode_matrix(&modes.iter().map(|m| m.u(&t).unwrap()).collect::<Vec<_>>());
    assert_rk4_limit(flow_errors(&model, &layers(&a0, &b0), 0.02, 8.0, &reference), 1e-7);
    // The layer coefficients themselves, at the end of a fine run (RK4 error at h = 0.005 ~ 1e-9).
    let traj = gf(&model, &layers(&a0, &b0), 0.005, 8.0, 4);
    let (t, p) = (traj.times.last().unwrap(), traj.last());
    for (i, m) in modes.iter().enumerate() {
        let (a, b) = m.layers(t).unwrap();
        let a_flow = r.prod(true, &p.blocks[0], false).matmul(&v);
        let b_flow = u.prod(true, &p.blocks[1], false).matmul(&r);
        assert!((a_flow.get(i, i) - a).abs() < 1e-8, "a_{i}: {} vs {a}", a_flow.get(i, i));
        assert!((b_flow.get(i, i) - b).abs() < 1e-8, "b_{i}: {} vs {b}", b_flow.get(i, i));
    }
}

#[test]
fn saxe_deep_modes_match_flow() {
    let (u, v) = (orth(2, 4), orth(2, 5));
    let s = [1.5, 0.6];
    let phi = u.matmul(&diag(&s)).prod(false, &v, true);
    for n in [3usize, 5] {
        let model = Model::new(Arch::deep_linear(&vec![2; n + 1]).unwrap(), Loss::target(phi.clone())).unwrap();
        let u0 = [0.02, 0.1];
        let a: Vec<f64> = u0.iter().map(|&x| f64::powf(x, 1.0 / n as f64)).collect();
        let gauges: Vec<Mat<f64>> = (0..n - 1).map(|j| orth(2, 10 + j as u64)).collect();
        let blocks = (0..n)
            .map(|j| {
                let left = if j + 1 == n { &u } else { &gauges[j] };
                let right = if j == 0 { &v } else { &gauges[j - 1] };
                left.matmul(&diag(&a)).prod(false, right, true)
            })
            .collect();
        let modes: Vec<_> = (0..2).map(|i| saxe::DeepBalancedMode::new(n, s[i], u0[i], 1.0).unwrap()).collect();
        let reference =
            |t: f64| u.matmul(&diag(&modes.iter().map(|m| m.u(&t).unwrap()).collect::<Vec<_>>())).prod(false, &v, true);
        assert_rk4_limit(flow_errors(&model, &Params::new(blocks), 0.02, 15.0, &reference), 1e-6);
    }
}

#[test]
fn saxe_deep_time_of_flight_matches_quadrature() {
    // Independent truth: composite Simpson on t(u) = (τ/N)∫ dv/(v^α (s − v)), α = 2 − 2/N, on an
    // interval away from s (the integrand is smooth there; 20000 panels give ~1e-13 relative).
    for n in [2usize, 3, 4, 7] {
        let (s, u0, tau) = (1.3, 0.05, 0.7);
        let m = saxe::DeepBalancedMode::new(n, s, u0, tau).unwrap();
        let alpha = 2.0 - 2.0 / n as f64;
        let f = |v: f64| tau / n as f64 / (v.powf(alpha) * (s - v));
        for uf in [0.2, 0.6, 1.2] {
            let k = 20000;
            let hh = (uf - u0) / k as f64;
            let mut acc = f(u0) + f(uf);
            for i in 1..k {
                acc += f(u0 + i as f64 * hh) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            let quad = acc * hh / 3.0;
            let t = m.time_of(&uf).unwrap();
            assert!((t - quad).abs() < 1e-9 * quad.max(1.0), "N = {n}, u = {uf}: series {t} vs quadrature {quad}");
            // And u(t) inverts it.
            assert!((m.u(&t).unwrap() - uf).abs() < 1e-12, "N = {n}: u(t(u)) != u");
        }
    }
}

#[test]
fn saxe_deep_series_equals_sigmoid_at_256_bits() {
    // N = 2 makes the deep ODE the balanced two-layer one: the series/Newton path and the logistic
    // formula are independent computations of the same function (stopping rules at ~2^-256).
    let p = Mp::new(256);
    let (s, u0, tau) = (p.ratio_like(7, 3), p.ratio_like(1, 1000), p.ratio_like(3, 2));
    let deep = saxe::DeepBalancedMode::new(2, s.clone(), u0.clone(), tau.clone()).unwrap();
    let bal = saxe::BalancedMode::new(s, u0, tau).unwrap();
    for t in [p.ratio_like(1, 7), p.ratio_like(2, 1), p.ratio_like(9, 2), p.ratio_like(20, 1)] {
        let d = (deep.u(&t).unwrap() - bal.u(&t).unwrap()).to_f64().abs();
        assert!(d < 1e-65, "t = {t}: {d:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Diagonal networks

fn sparse_problem(n: usize, d: usize, k: usize, seed: u64) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mut rng = data::rng(seed);
    let x = data::gaussian(d, n, 1.0, &mut rng);
    let mut beta = data::sparse_row(d, k, &mut rng);
    for b in beta.as_mut_slice() {
        if *b != 0.0 {
            *b = b.signum() * (0.5 + b.abs());
        }
    }
    let y = beta.matmul(&x);
    (x, y, beta)
}

fn linf(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn diagonal_preconditions_rejected() {
    assert!(is_precondition(dg::CoordinateFlow::new(dg::Kind::Uv, 0.3, -0.3, 1.0)));
    assert!(is_precondition(dg::CoordinateFlow::new(dg::Kind::Sq, 0.3, 0.0, 1.0)));
    assert!(is_precondition(dg::CoordinateFlow::new(dg::Kind::Sq, 0.3, 0.1, f64::INFINITY)));
    // A non-orthogonal design.
    let (x, y, _) = sparse_problem(5, 8, 1, 1);
    let arch = Arch::DiagonalSq { d: 8 };
    let model = Model::new(arch.clone(), Loss::regression(x.clone(), y.clone()).unwrap()).unwrap();
    let p0 = init::diagonal_alpha(&arch, 0.1).unwrap();
    assert!(is_precondition(dg::DiagonalFlow::new(&model, &p0, 1e-12)));
    // Deep models have no diagonal potential.
    let deep = Arch::deep_linear(&[2, 2]).unwrap();
    assert!(is_precondition(dg::flow_potential(&deep, &init::identity(&deep, 1.0))));
    // Zero balance in a coordinate.
    let mut bad = init::diagonal_alpha(&Arch::DiagonalUV { d: 8 }, 0.1).unwrap();
    *bad.blocks[1].get_mut(0, 3) = *bad.blocks[0].get(0, 3);
    assert!(is_precondition(dg::flow_potential(&Arch::DiagonalUV { d: 8 }, &bad)));
    // The argmin: n > d, non-positive scale.
    let xt = x.t();
    assert!(is_precondition(dg::hyperbolic_entropy_argmin(&xt, &[0.0; 8], &[1.0; 5], None)));
    assert!(is_precondition(dg::hyperbolic_entropy_argmin(&x, y.as_slice(), &[0.0; 8], None)));
    assert!(matches!(dg::hyperbolic_entropy_argmin(&x, &[1.0; 3], &[1.0; 8], None), Err(Error::Dimension { .. })));
    // GD potential: |γ g| >= 1, non-standard init.
    let g = vec![Mat::from_fn(1, 8, |_, i| if i == 2 { 30.0 } else { 0.1 })];
    let uv = Arch::DiagonalUV { d: 8 };
    let p_uv = init::diagonal_alpha(&uv, 0.1).unwrap();
    assert!(is_precondition(dg::gd_potential(&uv, &p_uv, &0.1, &g)));
    assert!(is_precondition(dg::gd_potential(&uv, &bad, &0.1, &g[..0])));
    assert!(is_precondition(dg::min_l2_interpolator(&xt, &[0.0; 8])));
}

#[test]
fn diagonal_coordinate_flows_match_rk4_from_general_inits() {
    // Orthogonal design X = √d Q (XXᵀ/n = I), random (u0, v0) of both signs: targets of both signs,
    // coordinates whose β changes sign, c < 0 and c > 0.
    let d = 6;
    let x = orth(d, 21).scaled(&(d as f64).sqrt());
    let b = Mat::from_fn(1, d, |_, i| [1.2, -0.7, 0.0, 2.0, -1.5, 0.3][i]);
    let y = b.matmul(&x);
    let mut rng = data::rng(22);
    for arch in [Arch::DiagonalUV { d }, Arch::DiagonalSq { d }] {
        let model = Model::new(arch.clone(), Loss::regression(x.clone(), y.clone()).unwrap()).unwrap();
        let p0 = init::gaussian(&arch, 0.4, &mut rng);
        let cf = dg::DiagonalFlow::new(&model, &p0, 1e-12).unwrap();
        let reference = |t: f64| cf.beta(&t).unwrap();
        assert_rk4_limit(flow_errors(&model, &p0, 0.01, 4.0, &reference), 1e-8);
        // Parameters, not just β.
        let traj = gf(&model, &p0, 0.0025, 4.0, 2);
        let pc = cf.params(traj.times.last().unwrap()).unwrap();
        let dev = traj.last().flatten().iter().zip(pc.flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(dev < 1e-9, "{}: parameters off by {dev:e}", arch.name());
    }
}

#[test]
fn diagonal_flow_equals_potential_argmin_at_finite_time_from_general_inits() {
    // β(t) = argmin φ_a + ⟨δ, ·⟩ subject to βX = β(t)X, with (a, δ) from the initialization only.
    let (x, y, _) = sparse_problem(5, 10, 2, 23);
    let mut rng = data::rng(24);
    for arch in [Arch::DiagonalUV { d: 10 }, Arch::DiagonalSq { d: 10 }] {
        let model = Model::new(arch.clone(), Loss::regression(x.clone(), y.clone()).unwrap()).unwrap();
        let p0 = init::gaussian(&arch, 0.3, &mut rng);
        let (a, delta) = dg::flow_potential(&arch, &p0).unwrap();
        for (h, t1) in [(0.005, 3.0), (0.005, 10.0)] {
            let traj = gf(&model, &p0, h, t1, 1);
            let beta = model.end_to_end(traj.last());
            let yt = beta.matmul(&x);
            let sol = dg::hyperbolic_entropy_argmin(&x, yt.as_slice(), &a, Some(&delta)).unwrap();
            let gap = linf(&sol.beta, beta.as_slice());
            // RK4 at h = 0.005 on rates <= ~40: global error ~1e-9; the identity itself is exact.
            assert!(gap < 1e-7, "{} t = {t1}: {gap:e}", arch.name());
            // Negative control: the potential without the initialization's linear term misses.
            let wrong = dg::hyperbolic_entropy_argmin(&x, yt.as_slice(), &a, None).unwrap();
            assert!(linf(&wrong.beta, beta.as_slice()) > 1e-4);
        }
    }
}

#[test]
fn hyperbolic_entropy_argmin_matches_scalar_bisection() {
    // One constraint (n = 1): KKT gives β_i = a_i² sinh(2(x_i ν − δ_i)) with a scalar ν, found here
    // by bisection on the monotone Σ x_i β_i(ν) = y (independent of the Newton solver).
    let x = Mat::from_vec(5, 1, vec![0.7, -1.2, 0.3, 2.0, -0.4]);
    let a = [0.3, 1.0, 0.05, 0.5, 2.0];
    let delta = [0.1, -0.2, 0.0, 0.05, 0.3];
    let y = 1.7;
    let beta_of =
        |nu: f64| -> Vec<f64> { (0..5).map(|i| a[i] * a[i] * (2.0 * (x.get(i, 0) * nu - delta[i])).sinh()).collect() };
    let constraint = |nu: f64| beta_of(nu).iter().enumerate().map(|(i, b)| b * x.get(i, 0)).sum::<f64>() - y;
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if constraint(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let truth = beta_of(0.5 * (lo + hi));
    let sol = dg::hyperbolic_entropy_argmin(&x, &[y], &a, Some(&delta)).unwrap();
    // f64 bisection to the last bit of ν; β within a few ulps times the slope (a² · 2x cosh ≤ 30).
    assert!(linf(&sol.beta, &truth) < 1e-13, "{:?} vs {truth:?}", sol.beta);
    // At 256 bits, the same against the f64 truth is limited by the f64 truth; against the KKT form of
    // its own dual point it must satisfy the constraint to rounding.
    let p = Mp::new(256);
    let xm = x.cast(&p);
    let am: Vec<Mp> = a.iter().map(|v| p.from_f64_like(*v)).collect();
    let dm: Vec<Mp> = delta.iter().map(|v| p.from_f64_like(*v)).collect();
    let sm = dg::hyperbolic_entropy_argmin(&xm, &[p.from_f64_like(y)], &am, Some(&dm)).unwrap();
    assert!(sm.residual.to_f64() < 1e-70);
    let back: Vec<f64> = sm.beta.iter().map(|b| b.to_f64()).collect();
    assert!(linf(&back, &truth) < 1e-13);
}

#[test]
fn kernel_and_rich_limits() {
    let (x, y, _) = sparse_problem(3, 7, 1, 25);
    // Kernel limit vs nalgebra's pseudo-inverse (an independent least-norm solve).
    let l2 = dg::min_l2_interpolator(&x, y.as_slice()).unwrap();
    let pinv = x.t().to_na().pseudo_inverse(1e-14).unwrap();
    let l2_na: Vec<f64> = (0..7).map(|i| (0..3).map(|j| pinv[(i, j)] * y.get(0, j)).sum()).collect();
    assert!(linf(&l2, &l2_na) < 1e-12);
    let big = dg::hyperbolic_entropy_argmin(&x, y.as_slice(), &[1e3; 7], None).unwrap();
    // φ_a = |β|²/(4a²) − O(β⁴/a⁶): gap O(|β|³/a⁴) ~ 1e-12 at a = 1000.
    assert!(linf(&big.beta, &l2) < 1e-10, "{}", linf(&big.beta, &l2));
    // Rich limit vs the least-ℓ1 interpolator found by enumerating all bases (3 of 7 columns): a
    // vertex of {βX = y} minimizes ‖β‖₁, so the best feasible basic solution is the LP optimum.
    let mut best: Option<(f64, Vec<f64>)> = None;
    for i in 0..7 {
        for j in i + 1..7 {
            for k in j + 1..7 {
                let cols = [i, j, k];
                let m = Mat::from_fn(3, 3, |r, c| *x.get(cols[c], r));
                if let Some(sol) = dg::solve_linear(&m, y.as_slice()) {
                    let mut beta = vec![0.0; 7];
                    for (c, &col) in cols.iter().enumerate() {
                        beta[col] = sol[c];
                    }
                    let l1: f64 = beta.iter().map(|b| b.abs()).sum();
                    if best.as_ref().is_none_or(|(v, _)| l1 < *v) {
                        best = Some((l1, beta));
                    }
                }
            }
        }
    }
    let (_, l1) = best.unwrap();
    let mut prev = f64::INFINITY;
    for a in [1e-2, 1e-3, 1e-4, 1e-5] {
        let sol = dg::hyperbolic_entropy_argmin(&x, y.as_slice(), &[a; 7], None).unwrap();
        let gap = linf(&sol.beta, &l1);
        eprintln!("a = {a}: gap to least l1 {gap:e}");
        assert!(gap < prev, "the gap must shrink as a -> 0");
        prev = gap;
    }
    assert!(prev < 1e-3);
}

#[test]
fn gd_potential_reproduces_gd_iterates_sq_and_uv() {
    // The GD iterate after k steps is the argmin of the predicted potential on its own predictions,
    // for both parametrizations (the independent side is the library's GD run).
    let (x, y, _) = sparse_problem(4, 9, 2, 26);
    for arch in [Arch::DiagonalUV { d: 9 }, Arch::DiagonalSq { d: 9 }] {
        let model = Model::new(arch.clone(), Loss::regression(x.clone(), y.clone()).unwrap()).unwrap();
        let p0 = init::diagonal_alpha(&arch, 0.3).unwrap();
        let gamma = 0.05;
        let mut opt = Optimizer::new(Method::Gd { eta: gamma }, &0.0).unwrap();
        let mut p = p0.clone();
        let mut grads = Vec::new();
        for _ in 0..400 {
            let beta = model.end_to_end(&p);
            let mut g = beta.zeros_like();
            model.loss.value_grad(&beta, None, &mut g);
            grads.push(g);
            opt.step(&model, &mut p).unwrap();
        }
        let (a, delta) = dg::gd_potential(&arch, &p0, &gamma, &grads).unwrap();
        let beta = model.end_to_end(&p);
        let sol = dg::hyperbolic_entropy_argmin(&x, beta.matmul(&x).as_slice(), &a, Some(&delta)).unwrap();
        // Exact identity; f64 rounding over 400 steps of O(1) quantities: 1e-11.
        let gap = linf(&sol.beta, beta.as_slice());
        assert!(gap < 1e-11, "{}: {gap:e}", arch.name());
        // The gradient-flow potential (no step-size correction) does not reproduce GD.
        let (a_gf, d_gf) = dg::flow_potential(&arch, &p0).unwrap();
        let gf_sol = dg::hyperbolic_entropy_argmin(&x, beta.matmul(&x).as_slice(), &a_gf, Some(&d_gf)).unwrap();
        assert!(linf(&gf_sol.beta, beta.as_slice()) > 1e-5);
    }
}

// ---------------------------------------------------------------------------------------------
// Basic inequality

fn least_squares(n: usize, d: usize, seed: u64) -> Model<f64> {
    let mut rng = data::rng(seed);
    let w = data::gaussian(1, d, 1.0, &mut rng);
    let (x, y) = data::regression(&w, n, 0.5, &mut rng);
    Model::new(Arch::deep_linear(&[d, 1]).unwrap(), Loss::regression(x, y).unwrap()).unwrap()
}

#[test]
fn basic_inequality_preconditions_rejected() {
    assert!(is_precondition(bi::check_steps(&[0.1, 0.6], 2.0)));
    assert!(is_precondition(bi::check_steps(&[0.1, 0.0], 2.0)));
    assert!(bi::check_steps(&[0.1, 0.5], 2.0).is_ok());
    let p = Params::new(vec![Mat::zeros(1, 3, &0.0)]);
    assert!(is_precondition(bi::bound(&p, &p, &p, &0.0)));
    let deep = Model::new(Arch::deep_linear(&[2, 2, 2]).unwrap(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
    assert!(is_precondition(bi::smoothness(&deep)));
    let decayed = least_squares(5, 3, 1).with_weight_decay(0.1).unwrap();
    assert!(is_precondition(bi::check_quadratic(&decayed)));
}

#[test]
fn basic_inequality_step_identity_is_exact_in_rationals() {
    // Exact rational data: the per-step slack identity holds with zero error, for a step inside
    // (1/8 < 1/L) and outside (eta = 2 > 1/L) the theorem's range: it is an identity, not a bound.
    let x = Mat::from_vec(3, 4, vec![1.0, 0.5, -1.0, 2.0, 0.0, 1.0, 1.5, -0.5, 0.25, -1.0, 0.0, 1.0]);
    let y = Mat::from_vec(1, 4, vec![1.0, -2.0, 0.5, 3.0]);
    let model = Model::new(Arch::deep_linear(&[3, 1]).unwrap(), Loss::regression(x, y).unwrap()).unwrap();
    let q = Q::new();
    let mq = model.cast(&q);
    let mut theta = Params::new(vec![Mat::from_vec(1, 3, vec![Q::from((1, 2)), Q::from(-1), Q::from((3, 4))])]);
    let z = Params::new(vec![Mat::from_vec(1, 3, vec![Q::from(2), Q::from((1, 3)), Q::from(-1)])]);
    for eta in [Q::from((1, 8)), Q::from(2)] {
        for _ in 0..3 {
            let slack = bi::step_slack(&mq, &theta, &z, &eta).unwrap();
            let (_, g) = mq.grad(&theta);
            let mut next = theta.clone();
            next.axpy(&-eta.clone(), &g);
            let dist = |a: &Params<Q>| {
                let mut d = a.clone();
                d.axpy(&Q::from(-1), &z);
                d.norm_sq()
            };
            let lhs = (dist(&theta) - dist(&next)) / (Q::from(2) * eta.clone()) - (mq.loss(&next) - mq.loss(&z));
            assert_eq!(lhs, slack);
            theta = next;
        }
    }
}

#[test]
fn basic_inequality_holds_along_gradient_flow() {
    // Continuous analogue: f(θ(t)) − f(z) <= (|z−θ0|² − |z−θ(t)|²)/(2t), checked on an RK4 run
    // (h = 0.01, error ~1e-9, far below the slack measured here).
    let model = least_squares(15, 5, 2);
    let mut rng = data::rng(3);
    let p0 = Params::new(vec![data::gaussian(1, 5, 1.0, &mut rng)]);
    let zs: Vec<Params<f64>> = (0..10).map(|_| Params::new(vec![data::gaussian(1, 5, 1.0, &mut rng)])).collect();
    let traj = gf(&model, &p0, 0.01, 20.0, 50);
    let mut worst = f64::INFINITY;
    for (t, p) in traj.times.iter().zip(&traj.states).skip(1) {
        for z in &zs {
            let slack = bi::bound(z, &p0, p, t).unwrap() - (model.loss(p) - model.loss(z));
            worst = worst.min(slack);
        }
    }
    assert!(worst > 1e-6, "min slack {worst:e}");
}

// ---------------------------------------------------------------------------------------------
// Razin–Cohen

#[test]
fn razin_cohen_bound_preconditions_and_value() {
    assert!(is_precondition(rc::w11_lower_bound(&0.5)));
    assert!(is_precondition(rc::w11_lower_bound(&0.0)));
    assert!(is_precondition(rc::w11_lower_bound(&f64::NAN)));
    // ℓ = 1/8: r = 1/2, bound (1/2)²/(1/2) = 1/2 (exactly, at 256 bits).
    let p = Mp::new(256);
    let b = rc::w11_lower_bound(&p.ratio_like(1, 8)).unwrap();
    assert_eq!(b, p.ratio_like(1, 2));
    let model = rc::model(2).unwrap();
    let rect = Model::new(Arch::deep_linear(&[2, 3, 2]).unwrap(), rc::instance()).unwrap();
    let p3 = init::gaussian(&rect.arch, 0.5, &mut data::rng(1));
    assert!(is_precondition(rc::log_det_rate(&rect, &p3)));
    let singular = Params::new(vec![Mat::zeros(2, 2, &0.0), Mat::eye(2, 2, &0.0)]);
    assert!(is_precondition(rc::log_det_rate(&model, &singular)));
}

#[test]
fn razin_cohen_bound_holds_on_random_matrices() {
    // Property: every 2×2 matrix with det > 0 and loss < 1/2 has |W11| above the bound, and the
    // bound is nearly attained (W12 = W21 = 1 − r/√2·…): sample around the interpolants.
    let mut rng = data::rng(7);
    let loss = rc::instance();
    let mut tightest = f64::INFINITY;
    for _ in 0..20000 {
        let w = data::gaussian(2, 2, 1.0, &mut rng);
        let w = Mat::from_fn(2, 2, |i, j| match (i, j) {
            (0, 0) => 30.0 * w.get(0, 0),
            (0, 1) | (1, 0) => 1.0 + 0.3 * w.get(i, j),
            _ => 0.3 * w.get(1, 1),
        });
        let l = loss.value(&w, None);
        if rc::det2(&w) > 0.0 && l > 0.0 && l < 0.5 {
            let b = rc::w11_lower_bound(&l).unwrap();
            assert!(w.get(0, 0).abs() > b, "W = {w:?}, loss {l}, bound {b}");
            tightest = tightest.min(w.get(0, 0).abs() / b);
        }
    }
    assert!(tightest < 3.0, "no sample came near the bound ({tightest})");
}

#[test]
fn razin_cohen_balanced_init_has_positive_det_and_balance() {
    for depth in [2usize, 3, 4] {
        let p = rc::balanced_init(depth, 0.3, 11).unwrap();
        let model = rc::model(depth).unwrap();
        assert!(rc::det2(&model.end_to_end(&p)) > 0.0);
        for w in p.blocks.windows(2) {
            let c = w[1].gram_t().sub(&w[0].gram());
            assert!(c.max_abs().unwrap() < 1e-14);
        }
        // Balanced: every term of Jacobi's sum is equal, so both rates agree (f64 rounding).
        let a = rc::log_det_rate(&model, &p).unwrap();
        let g = rc::log_det_rate_general(&model, &p).unwrap();
        assert!((a - g).abs() < 1e-10 * a.abs().max(1.0), "{a} vs {g}");
    }
}

#[test]
fn razin_cohen_log_det_rate_matches_flow() {
    // d/dt ln det W along an RK4 run (h = 1e-3, error ~1e-12) by a central difference of saved
    // states, against the balanced formula −N tr(W_1⁻¹G_1) at the middle state. The difference is
    // O(Δt²): shrinking the save spacing 5x must shrink the mismatch ~25x (15..35 allowed).
    let model = rc::model(3).unwrap();
    let p0 = rc::balanced_init(3, 0.5, 13).unwrap();
    let mismatch = |n_save: usize| {
        let traj = gf(&model, &p0, 1e-3, 4.0, n_save);
        let ln_det: Vec<f64> = traj.states.iter().map(|p| rc::det2(&model.end_to_end(p)).ln()).collect();
        let mut worst: f64 = 0.0;
        for t_mid in [0.5, 1.3, 2.2, 3.1] {
            let k = traj.times.iter().position(|t| *t >= t_mid).unwrap();
            let fd = (ln_det[k + 1] - ln_det[k - 1]) / (traj.times[k + 1] - traj.times[k - 1]);
            let rate = rc::log_det_rate(&model, &traj.states[k]).unwrap();
            worst = worst.max((fd - rate).abs() / rate.abs().max(1.0));
        }
        worst
    };
    let (coarse, fine) = (mismatch(400), mismatch(2000));
    eprintln!("mismatch {coarse:e} (dt 0.01), {fine:e} (dt 0.002)");
    assert!(fine < 2e-5, "{fine:e}");
    assert!((15.0..35.0).contains(&(coarse / fine)), "ratio {}", coarse / fine);
}

#[test]
fn razin_cohen_two_layer_factor_is_balanced_at_256_bits() {
    let p = Mp::new(256);
    let a = Mat::from_vec(2, 2, vec![p.ratio_like(3, 10), p.ratio_like(-1, 7), p.ratio_like(2, 9), p.ratio_like(1, 4)]);
    let f = rc::balanced_two_layer(&a).unwrap();
    let c = f.blocks[1].gram_t().sub(&f.blocks[0].gram());
    // A 2x2 square root by its closed form: a few roundings of 2^-256 ~ 1e-77.
    assert!(c.max_abs().unwrap().to_f64() < 1e-70);
    let model = rc::model(2).unwrap().cast(&p);
    assert!(rc::det2(&model.end_to_end(&f)) > 0);
    assert!(is_precondition(rc::balanced_two_layer(&Mat::zeros(2, 2, &0.0))));
}

#[test]
fn saxe_recipe_errors_fall_at_rk4_order_and_modes_reach_the_target() {
    let m = saxe_modes::measure(true).unwrap();
    let failed: Vec<_> = saxe_modes::checks(&m).into_iter().filter(|c| !c.pass).map(|c| c.name).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(m.cases.len(), 4);
    for c in &m.cases {
        // RK4 is fourth order: halving h divides the error by 2^4; the next term of the error
        // expansion moves the two-point order by O(h), 0.6 allows it.
        let p = fit_order(&[(m.h, c.err_h), (m.h / 2.0, c.err_h2)]);
        assert!((p - 4.0).abs() < 0.6, "{}: order {p}", c.label);
    }
    // Gradient flow on ½‖W − Φ‖² from these small aligned starts converges to Φ: at t = 8 (t = 12 for
    // the deep cases) every mode strength read off the flow, diag(Uᵀ W V), is s_i up to the
    // remaining exponential tail (slowest: s = 0.7 from 0.05, e^{-2st} ~ 1e-5).
    for c in &m.cases {
        for (i, curve) in c.flow_modes.iter().enumerate() {
            let last = curve.last().unwrap().1;
            assert!((last - m.s[i]).abs() < 1e-3 * m.s[i], "{} mode {i}: {last} vs {}", c.label, m.s[i]);
        }
    }
}
