//! Integrators against independent truths: Butcher's order conditions, a nonlinear ODE with a closed
//! form (fitted log-log slopes), exact rational Runge–Kutta polynomials, a 512-bit run, and the
//! 60-digit mpmath reference of bench/W2.

use linflow::bench::DeepInputs;
use linflow::compare::{fit_order, max_abs_diff_params};
use linflow::flow::tableau::rooted_trees;
use linflow::flow::Tableau;
use linflow::prelude::*;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// A nonlinear test problem with a closed form.
//
// z' = M z with M = [[-1, 1], [0, -2]] has z2(t) = e^{-2t} z2(0),
// z1(t) = e^{-t}(z1(0) + z2(0)) − e^{-2t} z2(0). The polynomial change of variables
// y1 = z1 + z2², y2 = z2 + y1² (inverse: z2 = y2 − y1², z1 = y1 − z2²) turns it into the coupled
// nonlinear system y1' = z1' + 2 z2 z2', y2' = z2' + 2 y1 y1', whose solution is known exactly.

struct Conjugated;

fn z_of<S: Scalar>(y: &Params<S>) -> (S, S) {
    let (y1, y2) = (y.blocks[0].get(0, 0).clone(), y.blocks[0].get(0, 1).clone());
    let z2 = y2 - y1.square();
    let z1 = y1 - z2.square();
    (z1, z2)
}

fn y_of<S: Scalar>(z1: S, z2: S) -> Params<S> {
    let y1 = z1 + z2.square();
    let y2 = z2 + y1.square();
    Params::new(vec![Mat::from_vec(1, 2, vec![y1, y2])])
}

impl<S: Scalar> VectorField<S> for Conjugated {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let (z1, z2) = z_of(y);
        let y1 = y.blocks[0].get(0, 0).clone();
        let two = z1.from_i64_like(2);
        let dz1 = z2.clone() - z1;
        let dz2 = -(two.clone() * z2.clone());
        let dy1 = dz1 + two.clone() * z2 * dz2.clone();
        let dy2 = dz2 + two * y1 * dy1.clone();
        *dy.blocks[0].get_mut(0, 0) = dy1;
        *dy.blocks[0].get_mut(0, 1) = dy2;
    }
    fn name(&self) -> String {
        "conjugated linear system".into()
    }
}

fn conj_y0<S: Scalar>(proto: &S) -> Params<S> {
    y_of(proto.ratio_like(1, 2), proto.ratio_like(-3, 4))
}

fn conj_exact<S: Real>(proto: &S, t: &S) -> Params<S> {
    let (z1, z2) = z_of(&conj_y0(proto));
    let e1 = (-t.clone()).exp();
    let e2 = e1.square();
    let z2t = e2.clone() * z2.clone();
    let z1t = e1 * (z1 + z2.clone()) - e2 * z2;
    y_of(z1t, z2t)
}

/// A model whose only role is to give `solve` parameter shapes (one 1×2 block) and a loss value.
fn shape_model<S: Scalar>(proto: &S) -> Model<S> {
    Model::new(Arch::deep_linear(&[2, 1]).unwrap(), Loss::target(Mat::zeros(1, 2, proto))).unwrap()
}

fn solve_conj<S: Real>(proto: &S, integ: &Integrator, t1: f64) -> (f64, usize) {
    let model = shape_model(proto);
    let y0 = conj_y0(proto);
    let opts = SolveOptions { t1, save_times: vec![] };
    let traj = solve(&mut Conjugated, &model, &y0, integ, &opts, &mut Monitor::new()).unwrap();
    assert!(traj.outcome.is_done());
    let exact = conj_exact(proto, &proto.from_f64_like(t1));
    (max_abs_diff_params(traj.last(), &exact), traj.grad_calls)
}

#[test]
fn tree_enumeration_is_complete() {
    // The number of rooted trees with n vertices is OEIS A000081: 1, 1, 2, 4, 9, 20, 48, 115, 286;
    // the conditions through order 8 are 200 in all.
    let t = rooted_trees(9);
    let counts: Vec<usize> = (1..=9).map(|n| t.iter().filter(|x| x.order == n).count()).collect();
    assert_eq!(counts, vec![1, 1, 2, 4, 9, 20, 48, 115, 286]);
    assert!(t.iter().enumerate().all(|(i, x)| x.children.iter().all(|&c| c < i)));
}

#[test]
fn tableaux_satisfy_their_order_conditions_and_no_more() {
    // At 256 bits every condition through the design order holds to rounding (|residual| of a sum of
    // at most 11^8 products of O(1) coefficients, each rounded at 2^-256 ≈ 1e-77: 1e-70 is ample), and
    // some condition of the next order fails by far more than rounding (above 1e-6; RK8's worst order-9
    // residual is 4.6e-5), so the check can fail.
    let p = Mp::new(256);
    let cases: Vec<(&str, Tableau<Mp>)> = vec![
        ("euler", Tableau::euler(&p)),
        ("heun", Tableau::heun(&p)),
        ("rk4", Tableau::rk4(&p)),
        ("rk8", Tableau::cooper_verner8(&p).unwrap()),
        ("gl1", Tableau::gauss_legendre(1, &p).unwrap()),
        ("gl2", Tableau::gauss_legendre(2, &p).unwrap()),
        ("gl3", Tableau::gauss_legendre(3, &p).unwrap()),
    ];
    for (name, tab) in cases {
        let q = tab.order;
        let r = tab.order_residuals(q + 1);
        assert!(tab.row_sum_residual().to_f64() <= 1e-70, "{name}: c_i != sum_j a_ij");
        for (k, res) in r[..q].iter().enumerate() {
            assert!(res.to_f64() <= 1e-70, "{name}: order-{} residual {}", k + 1, res.to_f64());
        }
        assert!(r[q].to_f64() >= 1e-6, "{name}: satisfies order {} too ({})", q + 1, r[q].to_f64());
    }
}

#[test]
fn a_mistyped_coefficient_is_caught() {
    // Negative control for the order-condition check: perturb one RK8 weight by 1e-30.
    let p = Mp::new(256);
    let mut tab = Tableau::cooper_verner8(&p).unwrap();
    tab.a[9][8] += &Mp::with_val(256, 1e-30);
    let r = tab.order_residuals(8);
    assert!(r.iter().any(|x| x.to_f64() > 1e-32), "{:?}", r.iter().map(|x| x.to_f64()).collect::<Vec<_>>());
}

#[test]
fn fitted_orders_match_design() {
    // 128-bit arithmetic keeps rounding (1e-38) far below the smallest error measured, so the
    // slope is the truncation order. Step ranges sit in the asymptotic regime of each method; the
    // next term of the error expansion changes the local slope by O(h) relative, and over these
    // ranges the fitted slope stays within ±0.3 of the order (a wrong order is off by >= 1).
    let p = Mp::new(128);
    let t1 = 1.0;
    let cases: Vec<(Integrator, Vec<usize>, f64)> = vec![
        (Integrator::Euler { h: 0.0 }, vec![64, 128, 256, 512], 1.0),
        (Integrator::Heun { h: 0.0 }, vec![32, 64, 128, 256], 2.0),
        (Integrator::Rk4 { h: 0.0 }, vec![8, 16, 32, 64], 4.0),
        (Integrator::Rk8 { h: 0.0 }, vec![8, 16, 32, 64], 8.0),
        (Integrator::GaussLegendre { stages: 1, h: 0.0 }, vec![32, 64, 128, 256], 2.0),
        (Integrator::GaussLegendre { stages: 2, h: 0.0 }, vec![8, 16, 32, 64], 4.0),
        (Integrator::GaussLegendre { stages: 3, h: 0.0 }, vec![4, 8, 16, 32], 6.0),
    ];
    for (template, ns, order) in cases {
        let pts: Vec<(f64, f64)> = ns
            .iter()
            .map(|&n| {
                let h = t1 / n as f64;
                let integ = match template {
                    Integrator::Euler { .. } => Integrator::Euler { h },
                    Integrator::Heun { .. } => Integrator::Heun { h },
                    Integrator::Rk4 { .. } => Integrator::Rk4 { h },
                    Integrator::Rk8 { .. } => Integrator::Rk8 { h },
                    Integrator::GaussLegendre { stages, .. } => Integrator::GaussLegendre { stages, h },
                    _ => unreachable!(),
                };
                (h, solve_conj(&p, &integ, t1).0)
            })
            .collect();
        let s = fit_order(&pts);
        assert!((s - order).abs() <= 0.3, "{}: slope {s} (order {order}), errors {pts:?}", template.name());
    }
}

#[test]
fn rational_rk4_step_is_the_degree_four_taylor_polynomial() {
    // For y' = λy one RK4 step multiplies y by 1 + z + z²/2 + z³/6 + z⁴/24 (z = hλ) exactly; in
    // rationals the check is an equality. Likewise Heun (degree 2) and Euler (degree 1).
    struct Linear;
    impl VectorField<Q> for Linear {
        fn eval(&mut self, _t: &Q, y: &Params<Q>, dy: &mut Params<Q>) {
            for (d, x) in dy.iter_mut().zip(y.iter()) {
                *d = Q::from(x * Q::from((-3, 2)));
            }
        }
        fn name(&self) -> String {
            "y' = -3/2 y".into()
        }
    }
    let q = Q::new();
    let model = shape_model(&q);
    let y0 = y_of(Q::from((1, 3)), Q::from((2, 7)));
    let h = Q::from((1, 4));
    let z = Q::from(&h * Q::from((-3, 2)));
    let poly = |deg: usize| {
        let mut s = Q::from(1);
        let mut term = Q::from(1);
        for k in 1..=deg {
            term = Q::from(&term * &z) / Q::from(k as i64);
            s += &term;
        }
        s
    };
    for (integ, deg, stages) in [
        (Integrator::Euler { h: 0.25 }, 1, 1),
        (Integrator::Heun { h: 0.25 }, 2, 2),
        (Integrator::Rk4 { h: 0.25 }, 4, 4),
    ] {
        let opts = SolveOptions { t1: 0.5, save_times: vec![] };
        let traj = solve(&mut Linear, &model, &y0, &integ, &opts, &mut Monitor::new()).unwrap();
        let f = Q::from(poly(deg).square_ref());
        for (got, start) in traj.last().iter().zip(y0.iter()) {
            assert_eq!(*got, Q::from(start * &f), "{}", integ.name());
        }
        // Two steps of `stages` evaluations each.
        assert_eq!(traj.grad_calls, 2 * stages);
    }
}

fn deep_problem() -> (Model<f64>, Params<f64>) {
    let arch = Arch::deep_linear(&[3, 5, 4, 2]).unwrap();
    let x = linflow::data::gaussian(3, 12, 1.0, &mut linflow::data::rng(41));
    let y = linflow::data::gaussian(2, 12, 1.0, &mut linflow::data::rng(42));
    let model = Model::new(arch.clone(), Loss::regression(x, y).unwrap()).unwrap();
    let p0 = init::gaussian(&arch, 0.4, &mut linflow::data::rng(43));
    (model, p0)
}

#[test]
fn gauss_legendre_keeps_balancedness_rk4_drifts() {
    // Balancedness is a quadratic invariant of gradient flow; Gauss–Legendre conserves quadratic
    // invariants exactly up to the stage solve (iterated to f64 epsilon): 200 steps leave rounding
    // of a few hundred ulps (1e-13 relative). RK4 at the same step only conserves it to O(h^4).
    let (model, p0) = deep_problem();
    let opts = SolveOptions { t1: 5.0, save_times: (1..=10).map(|k| k as f64 * 0.5).collect() };
    let drift = |integ: Integrator| {
        let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
        let tr = solve(&mut GradientFlow::new(&model), &model, &p0, &integ, &opts, &mut mon).unwrap();
        tr.laws[0].worst_rel
    };
    let gl1 = drift(Integrator::GaussLegendre { stages: 1, h: 0.1 });
    let gl2 = drift(Integrator::GaussLegendre { stages: 2, h: 0.1 });
    let gl3 = drift(Integrator::GaussLegendre { stages: 3, h: 0.1 });
    let rk4 = drift(Integrator::Rk4 { h: 0.1 });
    assert!(gl1 <= 1e-13 && gl2 <= 1e-13 && gl3 <= 1e-13, "gl drifts {gl1:e} {gl2:e} {gl3:e}");
    assert!(rk4 >= 1e3 * gl2.max(1e-16), "rk4 drift {rk4:e} vs gl2 {gl2:e}");
}

#[test]
fn dopri_meets_its_tolerance() {
    // Global error of an error-per-step controller is a modest multiple of the tolerance on this
    // contracting problem (the solution decays): 100·rtol bounds it, and the closed form is exact.
    for (integ, rtol) in [
        (Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 }, 1e-10),
        (Integrator::Dopri5 { rtol: 1e-8, atol: 1e-10 }, 1e-8),
        (Integrator::Dop853 { rtol: 1e-13, atol: 1e-15 }, 1e-13),
    ] {
        let (err, calls) = solve_conj(&0.0f64, &integ, 3.0);
        assert!(err <= 100.0 * rtol, "{}: error {err:e}", integ.name());
        assert!(calls > 0);
    }
}

#[test]
fn dopri_lands_on_save_times_and_counts_calls() {
    let (model, p0) = deep_problem();
    let opts = SolveOptions { t1: 2.0, save_times: vec![0.25, 0.7, 1.3] };
    let integ = Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 };
    let tr = solve(&mut GradientFlow::new(&model), &model, &p0, &integ, &opts, &mut Monitor::new()).unwrap();
    assert_eq!(tr.times, vec![0.0, 0.25, 0.7, 1.3, 2.0]);
    // Dop853 spends 12 evaluations per step.
    assert!(tr.grad_calls >= 12 * 4);
}

#[test]
fn gbs_256_bits_against_closed_form() {
    // GBS with tolerance 1e-66 at 256 bits (eps 1.7e-77): the global error over [0, 5] is a small
    // multiple of the tolerance; 1e-60 is the claim.
    let p = Mp::new(256);
    let (err, calls) = solve_conj(&p, &Integrator::Gbs { rtol: 1e-66, atol: 1e-66 }, 5.0);
    assert!(err <= 1e-60, "error {err:e} after {calls} calls");
}

fn w2() -> (Model<f64>, Params<f64>) {
    let inputs = DeepInputs::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/inputs/W2.json")).unwrap();
    (inputs.model().unwrap(), inputs.params())
}

#[test]
fn gbs_w2_matches_the_60_digit_reference() {
    // bench/W2_reference.json: mpmath's Taylor integrator at 256 bits, cross-checked at 320 bits
    // (difference 2e-78), printed to 60 significant digits: entries below 1 are given to 1e-60.
    let (model, p0) = w2();
    let p = Mp::new(256);
    let (m, y0) = (model.cast(&p), p0.cast(&p));
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    let integ = Integrator::Gbs { rtol: 1e-66, atol: 1e-66 };
    let tr = solve(&mut GradientFlow::new(&m), &m, &y0, &integ, &opts, &mut Monitor::new()).unwrap();
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/W2_reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let refs: Vec<Mp> = v["state_t1_flat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Mp::with_val(256, Mp::parse(s.as_str().unwrap()).unwrap()))
        .collect();
    let got = tr.last().flatten();
    assert_eq!(got.len(), refs.len());
    let err = got.iter().zip(&refs).map(|(a, b)| Mp::with_val(256, a - b).abs().to_f64()).fold(0.0, f64::max);
    assert!(err <= 1e-59, "max error {err:e} against the reference");
}

#[test]
fn gbs_256_against_512_bits_with_energy() {
    // The same flow over [0, 2] at 512 bits (tolerance 1e-130) is a reference to ~1e-125; the 256-bit run
    // must agree to 1e-60 and its energy identity L(t) + ∫|∇L|² = L(0) must hold to 1e-60.
    let (model, p0) = deep_problem();
    let run = |bits: u32, tol: f64| {
        let p = Mp::new(bits);
        let (m, y0) = (model.cast(&p), p0.cast(&p));
        let opts = SolveOptions { t1: 2.0, save_times: vec![0.5, 1.25] };
        let mut mon = Monitor::new().track(Balancedness, Law::Conserved).track_energy();
        let integ = Integrator::Gbs { rtol: tol, atol: tol };
        solve(&mut GradientFlow::new(&m), &m, &y0, &integ, &opts, &mut mon).unwrap()
    };
    let lo = run(256, 1e-66);
    let hi = run(512, 1e-130);
    assert_eq!(lo.times, vec![0.0, 0.5, 1.25, 2.0]);
    let err = lo
        .last()
        .iter()
        .zip(hi.last().iter())
        .map(|(a, b)| (Mp::with_val(512, a) - b.clone()).abs().to_f64())
        .fold(0.0, f64::max);
    assert!(err <= 1e-60, "256 vs 512 bits: {err:e}");
    assert!(lo.laws[0].worst_rel <= 1e-60, "balancedness drift {:e}", lo.laws[0].worst_rel);
    assert_eq!(lo.laws[1].quantity, "energy");
    assert!(lo.laws[1].worst_rel <= 1e-60, "energy identity {:e}", lo.laws[1].worst_rel);
    assert!(hi.laws[1].worst_rel <= 1e-120, "energy identity at 512 bits {:e}", hi.laws[1].worst_rel);
}

#[test]
fn energy_identity_error_shrinks_with_the_step() {
    // With RK4 the accumulated quadrature h Σ b_i |k_i|² and the state are both fourth order, so the
    // energy identity's defect falls by ~2^4 = 16 when h halves (10 or more asserts the order).
    let (model, p0) = deep_problem();
    let defect = |h: f64| {
        let mut mon = Monitor::new().track_energy();
        let opts = SolveOptions { t1: 2.0, save_times: vec![] };
        let tr = solve(&mut GradientFlow::new(&model), &model, &p0, &Integrator::Rk4 { h }, &opts, &mut mon).unwrap();
        tr.laws[0].worst_abs
    };
    let (a, b) = (defect(0.1), defect(0.05));
    assert!(a / b >= 10.0, "defects {a:e} {b:e}");
    // Dop853 and Dopri5 carry the integral as one more state component under their error control
    // (rtol 1e-10, atol 1e-12): the defect relative to L(0) stays within 1e3 tolerances.
    for integ in [Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 }, Integrator::Dopri5 { rtol: 1e-10, atol: 1e-12 }] {
        let mut mon = Monitor::new().track_energy();
        let opts = SolveOptions { t1: 2.0, save_times: vec![0.5, 1.0] };
        let tr = solve(&mut GradientFlow::new(&model), &model, &p0, &integ, &opts, &mut mon).unwrap();
        assert_eq!(tr.laws[0].checks, 3);
        assert!(tr.laws[0].worst_rel <= 1e-7, "{}: energy defect {:e}", integ.name(), tr.laws[0].worst_rel);
    }
}

#[test]
fn unsupported_combinations_are_errors() {
    let q = Q::new();
    let model = shape_model(&q);
    let y0 = y_of(Q::from((1, 3)), Q::from((2, 7)));
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    for integ in [
        Integrator::Rk8 { h: 0.5 },
        Integrator::GaussLegendre { stages: 2, h: 0.5 },
        Integrator::GaussLegendre { stages: 1, h: 0.5 },
        Integrator::Gbs { rtol: 1e-10, atol: 1e-10 },
        Integrator::Dop853 { rtol: 1e-10, atol: 1e-10 },
    ] {
        assert!(solve(&mut Conjugated, &model, &y0, &integ, &opts, &mut Monitor::new()).is_err(), "{}", integ.name());
    }
    let p = Mp::new(128);
    let (m, y) = (shape_model(&p), conj_y0(&p));
    let e = solve(&mut Conjugated, &m, &y, &Integrator::Dopri5 { rtol: 1e-8, atol: 1e-8 }, &opts, &mut Monitor::new());
    assert!(e.unwrap_err().to_string().contains("f64"));
    let bad = [
        Integrator::GaussLegendre { stages: 4, h: 0.1 },
        Integrator::Rk4 { h: -1.0 },
        Integrator::Gbs { rtol: 1e-30, atol: 0.0 },
        Integrator::Dop853 { rtol: f64::NAN, atol: 1e-3 },
    ];
    let (m, y) = (shape_model(&0.0), conj_y0(&0.0));
    for integ in bad {
        assert!(solve(&mut Conjugated, &m, &y, &integ, &opts, &mut Monitor::new()).is_err(), "{integ:?}");
    }
}

#[test]
fn gauss_legendre_with_a_huge_step_reports_non_convergence() {
    // h·Lipschitz ≫ 1: the fixed-point iteration cannot contract; an error, not a panic or NaN.
    let (m, y) = (shape_model(&0.0), conj_y0(&0.0));
    let opts = SolveOptions { t1: 50.0, save_times: vec![] };
    let r =
        solve(&mut Conjugated, &m, &y, &Integrator::GaussLegendre { stages: 2, h: 25.0 }, &opts, &mut Monitor::new());
    match r {
        Err(e) => assert!(e.to_string().contains("did not converge"), "{e}"),
        Ok(t) => assert!(!t.outcome.is_done(), "{:?}", t.outcome),
    }
}

#[test]
fn blow_up_stops_with_non_finite() {
    // y' = y² from y = 10 with Euler h = 1: y ↦ y + y² overflows after 9 steps.
    struct Square;
    impl VectorField<f64> for Square {
        fn eval(&mut self, _t: &f64, y: &Params<f64>, dy: &mut Params<f64>) {
            for (d, x) in dy.iter_mut().zip(y.iter()) {
                *d = x * x;
            }
        }
        fn name(&self) -> String {
            "y' = y^2".into()
        }
    }
    let m = shape_model(&0.0);
    let y0 = Params::new(vec![Mat::from_vec(1, 2, vec![10.0, 0.0])]);
    let opts = SolveOptions { t1: 20.0, save_times: vec![] };
    let tr = solve(&mut Square, &m, &y0, &Integrator::Euler { h: 1.0 }, &opts, &mut Monitor::new()).unwrap();
    assert!(matches!(tr.outcome, Outcome::NonFinite { .. }), "{:?}", tr.outcome);
    assert!(tr.last().is_finite());
    // y' = y² from y = 1 blows up at t = 1: adaptive methods shrink the step there and end with a
    // step-size underflow (tests/flow_problem.rs checks the partial trajectory they keep).
    let y1 = Params::new(vec![Mat::from_vec(1, 2, vec![1.0, 0.0])]);
    let opts = SolveOptions { t1: 2.0, save_times: vec![] };
    for integ in [Integrator::Gbs { rtol: 1e-10, atol: 0.0 }, Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 }] {
        let tr = solve(&mut Square, &m, &y1, &integ, &opts, &mut Monitor::new()).unwrap();
        let Outcome::StepUnderflow { t, reason, .. } = &tr.outcome else {
            panic!("{}: expected a step-size underflow, got {:?}", integ.name(), tr.outcome)
        };
        assert!(reason.contains("underflow"), "{reason}");
        assert!(*t <= 1.0 + 1e-7, "{}: underflow reported at t = {t} after the blow-up time 1", integ.name());
    }
}

#[test]
fn integrator_serde_round_trip() {
    let all = vec![
        Integrator::Rk8 { h: 0.1 },
        Integrator::GaussLegendre { stages: 3, h: 0.2 },
        Integrator::Dopri5 { rtol: 1e-6, atol: 1e-9 },
        Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 },
        Integrator::Gbs { rtol: 1e-60, atol: 1e-60 },
    ];
    for i in all {
        let s = serde_json::to_string(&i).unwrap();
        assert_eq!(serde_json::from_str::<Integrator>(&s).unwrap(), i);
    }
    let g: Integrator = serde_json::from_str(r#"{"kind":"gauss_legendre","stages":2,"h":0.1}"#).unwrap();
    assert_eq!(g, Integrator::GaussLegendre { stages: 2, h: 0.1 });
}
