//! `linflow::compare` against exact answers: power laws with known exponents, Richardson
//! extrapolation on expansions with known coefficients, NaN inputs that must not be skipped, and
//! the gap of gradient descent against its closed form.

use linflow::compare::{
    fit_order, gap, linear_slope, log_log_slope, max_abs_diff, max_abs_diff_mats, max_gap, nan_max, richardson,
};
use linflow::prelude::*;

#[test]
fn log_log_slope_recovers_exact_power_laws() {
    // y = c·x^p exactly (up to rounding of powf/ln, a few ulps): the fit returns p to 1e-12.
    for (c, p) in [(1.0, 1.0), (3.0, 2.0), (0.5, 4.0), (7.0, -1.5), (2.0, 8.0)] {
        let pts: Vec<(f64, f64)> = [0.2, 0.1, 0.05, 0.025, 0.0125].iter().map(|&x: &f64| (x, c * x.powf(p))).collect();
        assert!((log_log_slope(&pts) - p).abs() < 1e-12, "p = {p}: {}", log_log_slope(&pts));
        assert_eq!(fit_order(&pts), log_log_slope(&pts));
    }
    // A power law plus a higher-order term bends the fitted slope: e = h² + h³ over h = 0.1..0.0125
    // fits between 2 and 3, above 2 (a fit that ignored the data would not).
    let pts: Vec<(f64, f64)> = [0.1, 0.05, 0.025, 0.0125].iter().map(|&h: &f64| (h, h * h + h * h * h)).collect();
    let s = fit_order(&pts);
    assert!(s > 2.0 && s < 2.1, "{s}");
}

#[test]
fn linear_slope_of_a_line() {
    let pts: Vec<(f64, f64)> = (0..6).map(|i| (i as f64, 2.5 - 0.75 * i as f64)).collect();
    assert!((linear_slope(&pts) + 0.75).abs() < 1e-14);
    // One point, or every x equal, has no slope.
    assert!(linear_slope(&pts[..1]).is_nan());
    assert!(linear_slope(&[(1.0, 2.0), (1.0, 3.0)]).is_nan());
}

#[test]
fn fits_refuse_what_they_cannot_measure() {
    let good = [(0.1, 0.01), (0.05, 0.0025), (0.025, 0.000625)];
    for bad in [f64::NAN, 0.0, -1e-3, f64::INFINITY] {
        let mut pts = good.to_vec();
        pts[1].1 = bad;
        assert!(log_log_slope(&pts).is_nan(), "error {bad} must make the order NaN");
        pts[1] = (bad, 0.0025);
        assert!(log_log_slope(&pts).is_nan(), "step {bad} must make the order NaN");
    }
    assert!(linear_slope(&[(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)]).is_nan());
}

#[test]
fn maxima_propagate_nan_where_fold_max_skips_it() {
    // The pattern this replaces: `fold(0.0, f64::max)` returns 2 here, silently passing a NaN.
    let v = [1.0, f64::NAN, 2.0];
    assert_eq!(v.iter().copied().fold(0.0, f64::max), 2.0);
    assert!(nan_max(v).is_nan());
    assert!(nan_max(Vec::<f64>::new()).is_nan(), "nothing examined is not a maximum");
    assert_eq!(nan_max([-3.0, -1.0, -2.0]), -1.0);
    assert_eq!(nan_max([1.0, f64::INFINITY]), f64::INFINITY);

    assert_eq!(max_abs_diff(&[1.0, 2.0, 3.0], &[1.5, 2.0, 0.0]), 3.0);
    assert!(max_abs_diff(&[1.0, f64::NAN], &[1.0, 2.0]).is_nan());
    assert!(max_abs_diff(&[1.0, 2.0], &[1.0, f64::NAN]).is_nan());
    assert!(max_abs_diff(&[1.0, 2.0], &[1.0]).is_nan(), "lengths differ");
    assert!(max_abs_diff::<f64>(&[], &[]).is_nan());

    // Exact rationals: the difference is taken before rounding, 1/3 − 1/3 = 0 exactly.
    let q = |n: i64, d: i64| Q::from((n, d));
    assert_eq!(max_abs_diff(&[q(1, 3), q(2, 7)], &[q(1, 3), q(1, 7)]), 1.0 / 7.0);

    let a = Mat::from_vec(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
    let b = Mat::from_vec(2, 2, vec![1.0, 2.5, 3.0, 3.0]);
    let c = Mat::from_vec(1, 2, vec![0.0, -2.0]);
    assert_eq!(max_abs_diff_mats(&[a.clone(), c.clone()], &[b.clone(), c.clone()]), 1.0);
    assert!(max_abs_diff_mats(std::slice::from_ref(&a), std::slice::from_ref(&c)).is_nan(), "shapes differ");
    assert!(max_abs_diff_mats(&[a.clone(), c], std::slice::from_ref(&b)).is_nan(), "lists differ");
    let mut nan = b.clone();
    *nan.get_mut(1, 1) = f64::NAN;
    assert!(max_abs_diff_mats(&[a], &[nan]).is_nan());
}

#[test]
fn richardson_on_known_expansions() {
    // A(h) = 1 + h² + h³ at order 2: (4A(h/2) − A(h))/3 = 1 − h³/6 exactly.
    let a = |h: f64| 1.0 + h * h + h * h * h;
    for h in [0.5, 0.25, 0.125] {
        let r = richardson(a(h), a(h / 2.0), 2.0);
        // Rounding of a handful of operations on numbers near 1: 1e-15.
        assert!((r - (1.0 - h * h * h / 6.0)).abs() < 1e-15, "h = {h}: {r}");
    }
    // A(h) = (1 + h)^(1/h) = e(1 − h/2 + 11h²/24 − …): at order 1, 2A(h/2) − A(h) = e(1 − 11h²/48) + O(h³),
    // so the error divided by h² tends to −11e/48.
    let a = |h: f64| (1.0 + h).powf(1.0 / h);
    let e = std::f64::consts::E;
    let mut last = f64::INFINITY;
    for h in [0.04, 0.02, 0.01] {
        let plain = (a(h / 2.0) - e).abs();
        let r = richardson(a(h), a(h / 2.0), 1.0);
        assert!((r - e).abs() < plain / 10.0, "extrapolation gains an order at h = {h}");
        let c = (r - e) / (h * h);
        // The next term is O(h³)/h² = O(h): at h = 0.01 the coefficient is within 5 % of −11e/48.
        let gap = (c + 11.0 * e / 48.0).abs();
        assert!(gap < last, "the coefficient converges (h = {h}, gap {gap})");
        last = gap;
    }
    assert!(last < 0.05 * 11.0 * e / 48.0, "{last}");
    assert!(richardson(1.0, f64::NAN, 2.0).is_nan());
    assert!(richardson(1.0, 1.0, 0.0).is_nan());
}

#[test]
fn gap_of_gradient_descent_against_its_closed_form() {
    // One 1×1 layer on ½(w − φ)²: GD gives w_k = φ + (1 − η)^k (w_0 − φ) exactly, at t_k = kη.
    let (phi, w0, eta) = (2.0, 0.5, 0.125);
    let arch = Arch::deep_linear(&[1, 1]).unwrap();
    let model = Model::new(arch, Loss::target(Mat::from_vec(1, 1, vec![phi]))).unwrap();
    let p0 = Params::new(vec![Mat::from_vec(1, 1, vec![w0])]);
    let mut opt = Optimizer::new(Method::Gd { eta }, &0.0).unwrap();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(16), &mut Monitor::new()).unwrap();
    let exact = |rate: f64| {
        move |t: &f64| -> linflow::error::Result<Params<f64>> {
            let k = (t / eta).round() as i32;
            Ok(Params::new(vec![Mat::from_vec(1, 1, vec![phi + rate.powi(k) * (w0 - phi)])]))
        }
    };
    let g = gap(&traj, exact(1.0 - eta)).unwrap();
    assert_eq!(g.len(), traj.states.len());
    // f64 rounding over 16 steps of numbers of size 2: 1e-14.
    assert!(g.iter().all(|&(_, e)| e < 1e-14), "{g:?}");
    assert!((g[4].0 - 4.0 * eta).abs() < 1e-15);
    // Negative control: the flow's rate e^{−η} per step instead of 1 − η is visibly wrong.
    let wrong = max_gap(&traj, exact((-eta).exp())).unwrap();
    assert!(wrong > 1e-3, "{wrong}");
    // A reference of the wrong shape gives NaN, not zero.
    let bad = max_gap(&traj, |_| Ok(Params::new(vec![Mat::from_vec(1, 2, vec![0.0, 0.0])]))).unwrap();
    assert!(bad.is_nan());
}
