//! Closed-form references against numerical flows and exact identities: Saxe modes, diagonal
//! networks' implicit bias, the basic inequality of GD and the Razin–Cohen instance.

use linflow::closed_form::{basic_inequality as bi, diagonal as dg, razin_cohen as rc, saxe};
use linflow::error::Error;
use linflow::experiments;
use linflow::prelude::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-closed-forms-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_quick(name: &str) {
    let dir = tmp(name);
    let t0 = std::time::Instant::now();
    let s = experiments::reproduce(name, &dir, true).unwrap();
    eprintln!("{name}: {:.2} s", t0.elapsed().as_secs_f64());
    for c in &s.checks {
        eprintln!("  [{}] {} observed {:e} tol {:e}", if c.pass { "ok" } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    for n in &s.notes {
        eprintln!("  note: {n}");
    }
    assert!(!s.figures.is_empty(), "{name} drew no figure");
    for f in &s.figures {
        assert!(dir.join(name).join(f).exists(), "{f} missing");
    }
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.pass).map(|c| c.name.clone()).collect();
    assert!(failed.is_empty(), "{name}: failed checks {failed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn experiment_diagonal_implicit_bias_quick() {
    run_quick("diagonal-implicit-bias");
}

#[test]
fn experiment_saxe_quick() {
    run_quick("saxe");
}

#[test]
fn experiment_basic_inequality_quick() {
    run_quick("basic-inequality");
}

#[test]
fn experiment_razin_cohen_quick() {
    run_quick("razin-cohen");
}

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
fn flow_errors(model: &Model<f64>, p0: &Params<f64>, h: f64, t1: f64, reference: &dyn Fn(f64) -> Mat<f64>) -> (f64, f64) {
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
