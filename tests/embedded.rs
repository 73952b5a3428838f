//! The allocation-free embedded Runge–Kutta driver (Dormand–Prince 5(4), Tsitouras 5(4),
//! Prince–Dormand 8(7), Dormand–Prince 8(5,3) with Hairer's estimate): order conditions of its tableaux, order of accuracy against closed forms, evaluation counts, blow-up handling, and zero allocations per step.

use linflow::compare::linear_slope;
use linflow::flow::embedded::{Control, Embedded, EmbeddedPair, Stop};
use linflow::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts allocations of this test binary (to show that steps allocate nothing).
struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

fn q_abs_to_f64(x: &Q) -> f64 {
    x.to_f64().abs()
}

#[test]
fn dopri5_order_conditions_exact_in_rationals() {
    // Exact rationals: every tree condition through order 5 (resp. 4 for b̂) is exactly zero, and
    // some order-6 (resp. 5) condition fails, so the orders are exactly 5 and 4.
    let pair = EmbeddedPair::dopri5(&Q::new());
    assert!(pair.method.row_sum_residual().is_zero());
    let r = pair.method.order_residuals(6);
    assert!(r[..5].iter().all(Scalar::is_zero), "{r:?}");
    assert!(!r[5].is_zero());
    let re = pair.embedded_tableau().order_residuals(5);
    assert!(re[..4].iter().all(Scalar::is_zero), "{re:?}");
    assert!(!re[4].is_zero());
    // FSAL: the last row of A is b, and c_7 = 1.
    assert_eq!(pair.method.a[6][..6], pair.method.b[..6]);
}

#[test]
fn dopri8_order_conditions_hold_to_the_published_digits() {
    // The published RK8(7)13M coefficients are rationals approximating the true ones to about
    // 18 significant digits, so in exact arithmetic the conditions hold to that level and not
    // exactly. Measured: see the printed residuals; the bound 1e-16 leaves a factor > 10 over the
    // worst measured one while an error in any typed digit above the 16th shows up above it.
    let pair = EmbeddedPair::dopri8(&Q::new());
    let rows = q_abs_to_f64(&pair.method.row_sum_residual());
    let r: Vec<f64> = pair.method.order_residuals(9).iter().map(q_abs_to_f64).collect();
    let re: Vec<f64> = pair.embedded_tableau().order_residuals(8).iter().map(q_abs_to_f64).collect();
    println!("row sums {rows:e}\nb: {r:?}\nb̂: {re:?}");
    assert!(rows <= 1e-16, "{rows:e}");
    assert!(r[..8].iter().all(|x| *x <= 1e-16), "{r:?}");
    assert!(re[..7].iter().all(|x| *x <= 1e-16), "{re:?}");
    // Order exactly 8 (resp. 7): some order-9 (resp. 8) condition fails by far more than the
    // approximation level.
    assert!(r[8] > 1e-8, "{r:?}");
    assert!(re[7] > 1e-8, "{re:?}");
}

#[test]
fn tsit5_order_conditions_hold_to_the_typed_digits() {
    // Tsitouras' coefficients are algebraic (c_5 is a root of the order conditions), typed with 85
    // significant digits and read exactly into rationals: the conditions through order 5 (4 for
    // b̂) then hold to about 1e-84 times the size of the coefficients (up to 13), so below 1e-80,
    // and a mistyped digit anywhere in the first 80 shows up above that. Order exactly 5 (resp.
    // 4): some order-6 (resp. 5) condition fails by far more.
    let pair = EmbeddedPair::tsit5(&Q::new());
    let rows = q_abs_to_f64(&pair.method.row_sum_residual());
    let r: Vec<f64> = pair.method.order_residuals(6).iter().map(q_abs_to_f64).collect();
    let re: Vec<f64> = pair.embedded_tableau().order_residuals(5).iter().map(q_abs_to_f64).collect();
    println!("row sums {rows:e}\nb: {r:?}\nb̂: {re:?}");
    assert!(rows <= 1e-80, "{rows:e}");
    assert!(r[..5].iter().all(|x| *x <= 1e-80), "{r:?}");
    assert!(re[..4].iter().all(|x| *x <= 1e-80), "{re:?}");
    assert!(r[5] > 1e-6, "{r:?}");
    assert!(re[4] > 1e-6, "{re:?}");
    // FSAL: the last row of A is b, c_7 = 1, b_7 = 0.
    assert_eq!(pair.method.a[6][..6], pair.method.b[..6]);
    assert!(pair.method.b[6].is_zero() && pair.method.c[6] == 1);
    // Negative control: the same check rejects Dormand–Prince's b̂ grafted onto Tsitouras' A
    // (order conditions of a pair belong to its own tableau).
    let mut wrong = pair.embedded_tableau();
    wrong.b = EmbeddedPair::dopri5(&Q::new()).embedded;
    assert!(wrong.order_residuals(4).iter().any(|x| q_abs_to_f64(x) > 1e-6));
}

#[test]
fn dop853_order_conditions_hold_to_the_typed_digits() {
    // Hairer's DOP853 coefficients are decimals with 28-30 significant digits read exactly into
    // rationals: the conditions through order 8 (5 for b̂, 3 for the third-order weights) hold to
    // about 1e-28 times the coefficients (up to 44), so below 1e-25; a mistyped digit among the
    // first 24 of any coefficient shows up above that. Orders exactly 8, 5 and 3: some condition
    // of the next order fails by far more.
    let pair = EmbeddedPair::dop853(&Q::new());
    let rows = q_abs_to_f64(&pair.method.row_sum_residual());
    let r: Vec<f64> = pair.method.order_residuals(9).iter().map(q_abs_to_f64).collect();
    let r5: Vec<f64> = pair.embedded_tableau().order_residuals(6).iter().map(q_abs_to_f64).collect();
    let t3 = pair.embedded3_tableau().expect("dop853 has third-order weights");
    let r3: Vec<f64> = t3.order_residuals(4).iter().map(q_abs_to_f64).collect();
    println!("row sums {rows:e}\nb: {r:?}\nb̂: {r5:?}\nb3: {r3:?}");
    assert!(rows <= 1e-25, "{rows:e}");
    assert!(r[..8].iter().all(|x| *x <= 1e-25), "{r:?}");
    assert!(r5[..5].iter().all(|x| *x <= 1e-25), "{r5:?}");
    assert!(r3[..3].iter().all(|x| *x <= 1e-25), "{r3:?}");
    assert!(r[8] > 1e-8 && r5[5] > 1e-8 && r3[3] > 1e-8, "{r:?} {r5:?} {r3:?}");
    // The other pairs have no third-order weights.
    assert!(EmbeddedPair::dopri8(&0.0).embedded3_tableau().is_none());
}

/// Runs `pair` on [`test_rhs`] to `t1` with tolerance `tol`; returns the accepted and rejected
/// steps.
fn steps_of(pair: &EmbeddedPair<f64>, tol: f64, t1: f64) -> (usize, usize) {
    let (_, s) = run(pair, tol, t1);
    (s.stats.accepted, s.stats.rejected)
}

#[test]
fn dop853_estimate_is_hairers_not_a_single_difference() {
    // Negative control for the combined estimate: the same tableau with the fifth-order
    // difference alone (embedded3 removed, so the driver uses |h Σ(b−b̂)k| and exponent 1/6)
    // over-estimates the error of an eighth-order step and takes more steps at every tolerance
    // (Prince–Dormand 8(7)'s counts are printed for comparison); Hairer's estimate must still
    // keep the global error within 100·tol.
    let hairer = EmbeddedPair::dop853(&0.0);
    let mut single = hairer.clone();
    single.embedded3 = None;
    for tol in [1e-6, 1e-9, 1e-12] {
        let (a, _) = steps_of(&hairer, tol, 10.0);
        let (b, _) = steps_of(&single, tol, 10.0);
        let (c, _) = steps_of(&EmbeddedPair::dopri8(&0.0), tol, 10.0);
        println!("tol {tol:e}: dp853 {a}, dp853 with err5 alone {b}, dp8 {c}");
        assert!(a < b, "tol {tol}: combined {a} steps, single {b}");
        let (err, _) = run(&hairer, tol, 10.0);
        assert!(err <= 100.0 * tol, "tol {tol}: error {err}");
    }
}

/// $y_1' = -y_2$, $y_2' = y_1$ (rotation) and $y_3' = y_3(1 - y_3)$ (logistic): closed form
/// $(\cos t, \sin t, 1/(1 + 3e^{-t}))$ from $(1, 0, 1/4)$.
fn test_rhs(_t: f64, y: &[f64], dy: &mut [f64]) {
    dy[0] = -y[1];
    dy[1] = y[0];
    dy[2] = y[2] * (1.0 - y[2]);
}

fn exact(t: f64) -> [f64; 3] {
    [t.cos(), t.sin(), 1.0 / (1.0 + 3.0 * (-t).exp())]
}

fn run(pair: &EmbeddedPair<f64>, tol: f64, t1: f64) -> (f64, Embedded) {
    let mut s = Embedded::new(pair, 3);
    let mut y = [1.0, 0.0, 0.25];
    let mut last_t = 0.0;
    s.integrate(&mut test_rhs, 0.0, t1, &mut y, &Control::new(tol, tol).unwrap(), |t, _| last_t = t).unwrap();
    // Lands exactly on t1.
    assert_eq!(last_t, t1);
    let e = exact(t1);
    (y.iter().zip(&e).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max), s)
}

#[test]
fn global_error_follows_tolerance_and_order() {
    // Against the closed form at t = 10: (1) the error stays within 100·tol (a few steps times
    // the local tolerance, with the controller's safety factor); (2) across tolerances, error
    // versus number of steps falls like N^{-p}: the fitted slope lies in [−(p + 2), −(p − 1)]
    // (measured −5.2 for p = 5 and −9.7 for p = 8: with 10–50 steps the 8(7) pair is still
    // pre-asymptotic, which steepens the slope; an order ≤ 3 or ≤ 6 method would be outside).
    for (pair, tols, p) in [
        (EmbeddedPair::dopri5(&0.0), [1e-5, 1e-7, 1e-9, 1e-11], 5.0),
        (EmbeddedPair::tsit5(&0.0), [1e-5, 1e-7, 1e-9, 1e-11], 5.0),
        (EmbeddedPair::dopri8(&0.0), [1e-6, 1e-8, 1e-10, 1e-12], 8.0),
        (EmbeddedPair::dop853(&0.0), [1e-6, 1e-8, 1e-10, 1e-12], 8.0),
    ] {
        let mut pts = Vec::new();
        for tol in tols {
            let (err, s) = run(&pair, tol, 10.0);
            println!("{} tol {tol:e}: err {err:e}, {:?}", pair.name, s.stats);
            assert!(err <= 100.0 * tol, "{} tol {tol}: error {err}", pair.name);
            pts.push(((s.stats.accepted as f64).ln(), err.ln()));
        }
        let slope = linear_slope(&pts);
        println!("{}: slope {slope}", pair.name);
        assert!(slope <= -(p - 1.0) && slope >= -(p + 2.0), "{}: slope {slope}, order {p}", pair.name);
    }
}

#[test]
fn evaluation_counts_match_the_stage_structure() {
    // Counted by the right-hand side itself: 1 evaluation at the start, 1 for the initial-step
    // heuristic, then per attempted step s − 1 stages (k_1 is reused), plus, for the non-FSAL
    // 8(7) and 8(5,3) pairs, one evaluation of F(t_{n+1}, y_{n+1}) after each accepted step.
    for (pair, per_attempt, per_accept) in [
        (EmbeddedPair::dopri5(&0.0), 6, 0),
        (EmbeddedPair::tsit5(&0.0), 6, 0),
        (EmbeddedPair::dopri8(&0.0), 12, 1),
        (EmbeddedPair::dop853(&0.0), 11, 1),
    ] {
        let mut count = 0usize;
        let mut f = |t: f64, y: &[f64], dy: &mut [f64]| {
            count += 1;
            test_rhs(t, y, dy)
        };
        let mut s = Embedded::new(&pair, 3);
        let mut y = [1.0, 0.0, 0.25];
        let ctl = Control::new(1e-9, 1e-9).unwrap();
        s.integrate(&mut f, 0.0, 3.0, &mut y, &ctl, |_, _| {}).unwrap();
        // A second call continues without restarting (no new initial evaluations).
        s.integrate(&mut f, 3.0, 7.0, &mut y, &ctl, |_, _| {}).unwrap();
        let st = s.stats;
        assert_eq!(st.rhs_evals, count);
        assert_eq!(count, 2 + per_attempt * (st.accepted + st.rejected) + per_accept * st.accepted, "{st:?}");
        let e = exact(7.0);
        assert!(y.iter().zip(&e).all(|(a, b)| (a - b).abs() < 1e-7), "{y:?}");
    }
}

#[test]
fn blow_up_is_an_error_with_the_last_finite_state() {
    // y' = y², y(0) = 1 has y = 1/(1 − t): the run to t = 2 must stop at the pole t = 1 (to within the
    // error of the run, 1e-8 for tolerance 1e-10) with an error,
    // keeping a finite state that matches the closed form at the reported time.
    for pair in [EmbeddedPair::dopri5(&0.0), EmbeddedPair::dopri8(&0.0), EmbeddedPair::dop853(&0.0)] {
        let mut s = Embedded::new(&pair, 1);
        let mut y = [1.0];
        let r = s.integrate(
            &mut |_t, y: &[f64], dy: &mut [f64]| dy[0] = y[0] * y[0],
            0.0,
            2.0,
            &mut y,
            &Control::new(1e-10, 1e-10).unwrap(),
            |_, _| {},
        );
        let Err(Stop::StepUnderflow { t, .. }) = r else { panic!("{}: expected underflow, got {r:?}", pair.name) };
        assert!((t - 1.0).abs() < 1e-8, "{}: stopped at {t}", pair.name);
        assert!(y[0].is_finite() && y[0] > 1e3, "{}: {}", pair.name, y[0]);
        // 1/y = T − t: the pole time implied by the last state is 1 to within the accumulated
        // error of the run (~tolerance; 1e-8 leaves a factor 100).
        let pole = t + 1.0 / y[0];
        assert!((pole - 1.0).abs() < 1e-8, "{}: y = {}, t = {t}, implied pole {pole}", pair.name, y[0]);
    }
}

#[test]
fn steps_allocate_nothing() {
    // After the first call has set everything up, further steps do not touch the allocator
    // (counted by this binary's global allocator; other tests may run in parallel threads, so
    // the check is repeated and must hold in at least one clean window).
    let pair = EmbeddedPair::dopri8(&0.0);
    let mut s = Embedded::new(&pair, 3);
    let mut y = [1.0, 0.0, 0.25];
    let ctl = Control::new(1e-12, 1e-12).unwrap();
    s.integrate(&mut test_rhs, 0.0, 0.1, &mut y, &ctl, |_, _| {}).unwrap();
    let mut clean = false;
    let mut t = 0.1;
    for _ in 0..20 {
        let before = ALLOCS.load(Ordering::SeqCst);
        let acc = s.stats.accepted;
        s.integrate(&mut test_rhs, t, t + 0.5, &mut y, &ctl, |_, _| {}).unwrap();
        t += 0.5;
        assert!(s.stats.accepted > acc);
        if ALLOCS.load(Ordering::SeqCst) == before {
            clean = true;
            break;
        }
    }
    assert!(clean, "every window saw allocations");
}

#[test]
fn dp8_and_dp853_gradient_flows_agree_with_dop853_and_count_evaluations() {
    // Deep linear gradient flow through `solve`: Dp8 and ode_solvers' Dop853 at rtol 1e-12 agree
    // to 1e-9 (both errors are ~1e-11 at this tolerance), and `grad_calls` is the driver's count.
    let arch = Arch::deep_linear(&[3, 4, 4, 2]).unwrap();
    let mut rng = data::rng(3);
    let target = Mat::from_fn(2, 3, |i, j| (i as f64 + 1.0) * 0.3 - j as f64 * 0.2);
    let model = Model::new(arch.clone(), Loss::target(target)).unwrap();
    let p0 = init::gaussian(&arch, 0.5, &mut rng);
    let opts = SolveOptions { t1: 2.0, save_times: vec![0.5, 1.0] };
    let a = solve(
        &mut GradientFlow::new(&model),
        &model,
        &p0,
        &Integrator::Dp8 { rtol: 1e-12, atol: 1e-14 },
        &opts,
        &mut Monitor::new(),
    )
    .unwrap();
    let b = solve(
        &mut GradientFlow::new(&model),
        &model,
        &p0,
        &Integrator::Dop853 { rtol: 1e-12, atol: 1e-14 },
        &opts,
        &mut Monitor::new(),
    )
    .unwrap();
    assert_eq!(a.times, vec![0.0, 0.5, 1.0, 2.0]);
    let d = a.last().iter().zip(b.last().iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(d < 1e-9, "{d:e}");
    // Hairer's estimate on the built-in driver (`dp853`) agrees with both to the same level.
    let c = solve(
        &mut GradientFlow::new(&model),
        &model,
        &p0,
        &Integrator::Dp853 { rtol: 1e-12, atol: 1e-14 },
        &opts,
        &mut Monitor::new(),
    )
    .unwrap();
    assert_eq!(c.times, a.times);
    let d = a.last().iter().zip(c.last().iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(d < 1e-9, "{d:e}");
    assert!(a.grad_calls > 13, "{}", a.grad_calls);
    // Not for rationals.
    let mq = model.cast(&Q::new());
    let e = solve(
        &mut GradientFlow::new(&mq),
        &mq,
        &p0.cast(&Q::new()),
        &Integrator::Dp8 { rtol: 1e-8, atol: 1e-8 },
        &opts,
        &mut Monitor::new(),
    );
    assert!(e.is_err());
}
