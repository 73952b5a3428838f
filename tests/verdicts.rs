//! Verdicts that need evidence, hyperparameters held once in the run's number type, and the law
//! table in `invariants`.
//!
//! Truths used: exact rational arithmetic (times `k/7`), the same product computed directly in
//! MPFR (times at 256 bits), hand-placed NaNs (folds), and the applicability table of
//! `invariants::identities` checked against exact rational runs.

use linflow::experiments::{Check, Summary};
use linflow::invariants::{discrete_identities, worst_entry, Identities, LawReport, Tracked};
use linflow::prelude::*;
use linflow::trajectory::Outcome;
use linflow::verdict::{Status, Verdict};
use std::sync::Arc;

fn target_problem<S: Scalar>(widths: &[usize], proto: &S) -> (Model<S>, Params<S>) {
    let arch = Arch::deep_linear(widths).unwrap();
    let (d_out, d_in) = (widths[widths.len() - 1], widths[0]);
    let t = data::gaussian(d_out, d_in, 1.0, &mut data::rng(5));
    let model = Model::new(arch.clone(), Loss::target(t)).unwrap();
    let p0 = init::gaussian(&arch, 0.5, &mut data::rng(6));
    (model.cast(proto), p0.cast(proto))
}

#[test]
fn a_step_of_one_seventh_stamps_times_k_over_7_exactly() {
    let q = Q::new();
    let (model, p0) = target_problem(&[2, 3, 2], &q);
    let eta = Q::from((1, 7));
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
    let mut mon = discrete_identities(&opt.method, &model.arch, None).monitor();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(6), &mut mon).unwrap();
    assert_eq!(traj.times.len(), 7);
    for (k, t) in traj.times.iter().enumerate() {
        assert_eq!(*t, Q::from((k as i64, 7)), "time of step {k}");
    }
    // The law uses the same η: the identity holds exactly, with something checked.
    assert!(traj.laws[0].checks == 6 && traj.laws[0].exact_zero, "{:?}", traj.laws[0]);

    // Heavy ball: one step covers η/(1−β) = (1/7)/(1−1/2) = 2/7.
    let mut opt = Optimizer::exact(Method::HeavyBall { eta: eta.clone(), beta: Q::from((1, 2)) }).unwrap();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut Monitor::new()).unwrap();
    assert_eq!(traj.times, (0..=3).map(|k| Q::from((2 * k, 7))).collect::<Vec<_>>());
}

#[test]
fn times_at_256_bits_are_k_eta_at_256_bits() {
    let bits = 256;
    let proto = Mp::new(bits);
    let (model, p0) = target_problem(&[2, 3, 2], &proto);
    // η = 1/7 rounded once to 256 bits; t_k must be that η times k, rounded at 256 bits (not k·0.142857… in f64).
    let eta = Mp::with_val(bits, rug::Rational::from((1, 7)));
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(5), &mut Monitor::new()).unwrap();
    for (k, t) in traj.times.iter().enumerate() {
        assert_eq!(t.prec(), bits);
        assert_eq!(*t, Mp::with_val(bits, &eta * k as u32), "time of step {k}");
    }
    // Negative control: the f64 stamp of the old code differs from k·η at 256 bits.
    let f64_stamp = Mp::with_val(bits, 5.0 * (1.0f64 / 7.0));
    assert_ne!(traj.times[5], f64_stamp);
}

/// `[L, L]`: the loss twice, so a NaN can sit in the second entry of a deviation.
struct LossTwice;
impl Quantity<f64> for LossTwice {
    fn name(&self) -> String {
        "loss_twice".into()
    }
    fn eval(&self, model: &Model<f64>, p: &Params<f64>) -> Vec<Mat<f64>> {
        let l = model.loss(p);
        vec![Mat::from_vec(1, 2, vec![l, l])]
    }
}

#[test]
fn a_nan_in_a_second_entry_fails_and_is_located() {
    let (model, p0) = target_problem(&[2, 3, 2], &0.0);
    // The "prediction" is the initial value (a finite deviation, tolerated below) except that
    // from t > 0.25 its second entry is NaN. A fold with `f64::max` or `>` would skip it.
    let law = Law::Predicted {
        name: "observed, NaN after 0.25".into(),
        f: Arc::new(|t: &f64, q0: &[Mat<f64>]| {
            let mut m = q0[0].clone();
            if *t > 0.25 {
                *m.get_mut(0, 1) = f64::NAN;
            }
            vec![m]
        }),
    };
    let mut mon = Monitor::new().track(LossTwice, law);
    let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &0.0).unwrap();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(5), &mut mon).unwrap();
    let r = &traj.laws[0];
    assert!(r.worst_abs.is_nan(), "{r:?}");
    let where_ = r.non_finite.as_deref().unwrap_or("");
    assert!(where_.contains("NaN") && where_.contains("step 3"), "{where_}");
    let v = Verdict::judge(r, 1e300, &traj.outcome);
    assert_eq!(v.status, Status::Fails, "{v:?}");
    assert!(v.reason.unwrap().contains("not finite"));
}

#[test]
fn folds_propagate_nan_wherever_it_sits() {
    let m = Mat::from_vec(1, 3, vec![1.0, f64::NAN, 3.0]);
    assert!(m.max_abs().unwrap().is_nan());
    assert!(Mat::from_vec(1, 2, vec![f64::NAN, 2.0]).max_abs().unwrap().is_nan());
    let (w, n) = worst_entry(&[Mat::from_vec(1, 1, vec![-2.0]), m]);
    assert!(w.unwrap().is_nan() && n >= 2);
    // Control: without NaN the fold is the largest absolute entry over all matrices.
    let (w, n) = worst_entry(&[Mat::from_vec(1, 2, vec![-2.0, 1.0]), Mat::from_vec(1, 1, vec![0.5])]);
    assert_eq!((w, n), (Some(2.0), 3));
    assert_eq!(worst_entry::<f64>(&[]), (None, 0));
}

#[test]
fn a_law_that_compared_nothing_is_not_a_verdict() {
    // Depth 1: GD's balancedness law applies but there is no balancedness matrix.
    let q = Q::new();
    let (model, p0) = target_problem(&[2, 2], &q);
    let mut opt = Optimizer::exact(Method::Gd { eta: Q::from((1, 10)) }).unwrap();
    let mut mon = discrete_identities(&opt.method, &model.arch, None).monitor();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut mon).unwrap();
    let r = &traj.laws[0];
    assert_eq!((r.checks, r.items), (0, 0));
    assert!(!r.exact_zero, "exact_zero must be false when nothing was checked");
    let v = Verdict::judge(r, 0.0, &Outcome::Done);
    assert_eq!(v.status, Status::NothingChecked);
    assert!(!v.pass);
    // Control: depth 2 compares 3 steps of one 3x3 matrix, exactly zero.
    let (model, p0) = target_problem(&[2, 3, 2], &q);
    let mut opt = Optimizer::exact(Method::Gd { eta: Q::from((1, 10)) }).unwrap();
    let mut mon = discrete_identities(&opt.method, &model.arch, None).monitor();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut mon).unwrap();
    assert_eq!((traj.laws[0].checks, traj.laws[0].items), (3, 27));
    assert_eq!(Verdict::judge(&traj.laws[0], 0.0, &Outcome::Done).status, Status::Holds);
}

#[test]
fn a_run_that_stopped_early_cannot_hold_a_law() {
    let r = LawReport {
        checks: 4,
        items: 4,
        exact_zero: true,
        ..Tracked::<f64>::new(LossValue, Law::Conserved).report().clone()
    };
    assert_eq!(Verdict::judge(&r, 0.0, &Outcome::Done).status, Status::Holds);
    let stopped = Outcome::Diverged { step: 4, time: 0.4, loss: 1e31 };
    let v = Verdict::judge(&r, 0.0, &stopped);
    assert_eq!(v.status, Status::Fails);
    assert!(v.reason.unwrap().contains("horizon"));
}

#[test]
fn methods_without_a_known_law_run_and_say_so() {
    let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
    for m in [
        Method::Nesterov { eta: 0.05, beta: 0.9 },
        Method::HeavyBall { eta: 0.05, beta: 0.9 },
        Method::Sam { eta: 0.05, rho: 0.1 },
    ] {
        let ids: Identities<f64> = discrete_identities(&m, &arch, None);
        assert!(ids.tracked.is_empty());
        assert_eq!(ids.unchecked.len(), 1);
        let note = &ids.unchecked[0];
        assert!(note.contains(m.name()) && note.contains("deep linear") && note.contains("nothing checked"), "{note}");
        // It still runs.
        let (model, p0) = target_problem(&[2, 3, 2], &0.0);
        let mut opt = Optimizer::new(m, &0.0).unwrap();
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(20), &mut ids.monitor()).unwrap();
        assert!(traj.outcome.is_done() && traj.laws.is_empty());
    }
    // Weight decay removes the two-factor law for GD, and the note says why.
    let factor = Arch::Factor { d1: 2, d2: 2, r: 1 };
    let ids = discrete_identities(&Method::Gd { eta: 0.1 }, &factor, Some(&0.1));
    assert!(ids.tracked.is_empty() && ids.unchecked[0].contains("weight decay"));
}

/// Two-factor problem `½‖XYᵀ − T‖²` in rationals.
fn factor_problem() -> (Model<Q>, Params<Q>) {
    let arch = Arch::Factor { d1: 3, d2: 2, r: 2 };
    let t = data::gaussian(3, 2, 1.0, &mut data::rng(11));
    let model = Model::new(arch.clone(), Loss::target(t)).unwrap();
    let p0 = init::gaussian(&arch, 0.7, &mut data::rng(12));
    let q = Q::new();
    (model.cast(&q), p0.cast(&q))
}

#[test]
fn bar_law_from_the_table_is_exact_in_rationals() {
    let (model, p0) = factor_problem();
    for kind in [BarKind::N, BarKind::O] {
        let m = Method::Bar { eta: Q::from((1, 10)), alpha: Q::from((1, 2)), kind };
        let mut opt = Optimizer::exact(m.clone()).unwrap();
        let mut mon = discrete_identities(&m, &model.arch, None).monitor();
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(4), &mut mon).unwrap();
        let r = &traj.laws[0];
        assert!(r.checks == 4 && r.exact_zero, "{kind:?}: {r:?}");
        // Negative control: the law with the wrong strength is rejected.
        let mut opt = Optimizer::exact(m.clone()).unwrap();
        let mut mon = Monitor::new().track(FactorBalance, Law::bar(Q::from((1, 10)), Q::from((1, 3)), kind));
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(4), &mut mon).unwrap();
        assert!(!traj.laws[0].exact_zero && traj.laws[0].worst_abs > 0.0);
    }
}

#[test]
fn usam_diagonal_law_from_the_table_is_exact_in_rationals() {
    let arch = Arch::DiagonalUV { d: 3 };
    let t = data::gaussian(1, 3, 1.0, &mut data::rng(21));
    let q = Q::new();
    let model = Model::new(arch.clone(), Loss::target(t)).unwrap().cast(&q);
    let p0 = init::gaussian(&arch, 0.8, &mut data::rng(22)).cast(&q);
    let m = Method::Usam { eta: Q::from((1, 8)), rho: Q::from((1, 20)) };
    let mut opt = Optimizer::exact(m.clone()).unwrap();
    let mut mon = discrete_identities(&m, &arch, None).monitor();
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut mon).unwrap();
    assert!(traj.laws[0].checks == 3 && traj.laws[0].exact_zero, "{:?}", traj.laws[0]);
}

#[test]
fn checks_with_nan_or_nothing_fail() {
    assert!(!Check::at_most("a", "nan", f64::NAN, 1.0).pass);
    assert!(!Check::at_least("a", "nan", f64::NAN, 1.0).pass);
    assert!(!Check::near("a", "inf", f64::INFINITY, f64::INFINITY, 1.0).pass);
    assert!(!Check::at_most("a", "nan tolerance", 0.0, f64::NAN).pass);
    assert!(Check::at_most("a", "control", 0.5, 1.0).pass);
    let mut s = Summary::new("empty", "no checks");
    assert!(!s.passed(), "a summary that checked nothing has not passed");
    s.check(Check::at_most("a", "control", 0.5, 1.0));
    assert!(s.passed());
}
