//! A function of the state saved at the saved points (diffrax's `SaveAt(fn=…)`): the recorded
//! values against the function recomputed here from the saved states, for a discrete run and for
//! fixed-step, flat-driver, extrapolation and Taylor integrators; and the same values when the
//! states are not kept.

use linflow::flow::Tolerance;
use linflow::prelude::*;

fn deep_problem<S: Scalar>(proto: &S) -> (Model<S>, Params<S>) {
    let arch = Arch::deep_linear(&[3, 4, 2]).unwrap();
    let x = Mat::from_fn(3, 5, |i, j| ((i * 5 + j) as f64 * 0.37).sin());
    let y = Mat::from_fn(2, 5, |i, j| ((i * 5 + j) as f64 * 0.23).cos());
    let model = Model::new(arch.clone(), Loss::regression(x, y).unwrap()).unwrap();
    let p0 = init::gaussian(&arch, 0.5, &mut data::rng(7));
    (model.cast(proto), p0.cast(proto))
}

/// The function recorded: the time, the end-to-end matrix's squared Frobenius norm and its (0, 0)
/// entry, computed from the blocks by explicit index loops (not through the library's matrix
/// product).
fn observable<S: Scalar>(t: &S, p: &Params<S>) -> Vec<S> {
    let (w1, w2) = (&p.blocks[0], &p.blocks[1]);
    let mut frob = t.zero_like();
    let mut e00 = t.zero_like();
    for i in 0..w2.rows() {
        for j in 0..w1.cols() {
            let mut s = t.zero_like();
            for k in 0..w1.rows() {
                s += &(w2.get(i, k).clone() * w1.get(k, j).clone());
            }
            if i == 0 && j == 0 {
                e00 = s.clone();
            }
            frob += &(s.clone() * s);
        }
    }
    vec![t.clone(), frob, e00]
}

/// Recorded values equal the function applied to the saved states, entry by entry and exactly
/// (the same arithmetic on the same state); and the values change along the run, so the
/// comparison examined something.
fn assert_recorded_matches<S: Scalar>(traj: &Trajectory<S>, what: &str) {
    assert!(traj.outcome.is_done(), "{what}: {:?}", traj.outcome);
    assert_eq!(traj.recorded.len(), traj.states.len(), "{what}");
    assert_eq!(traj.recorded.len(), traj.times.len(), "{what}");
    assert!(traj.times.len() >= 3, "{what}: too few saved points to compare");
    for (k, (r, p)) in traj.recorded.iter().zip(&traj.states).enumerate() {
        let again = observable(&traj.times[k], p);
        assert_eq!(r, &again, "{what}: saved point {k}");
    }
    let first = traj.recorded[0][1].to_f64();
    let last = traj.recorded.last().unwrap()[1].to_f64();
    assert!((first - last).abs() > 1e-3 * first.abs(), "{what}: the recorded norm did not move ({first} -> {last})");
}

#[test]
fn discrete_run_records_the_function_at_its_saved_steps() {
    let (model, p0) = deep_problem(&0.0);
    let mut opt = Optimizer::new(Method::Gd { eta: 0.05 }, &0.0).unwrap();
    let opts = RunOptions::steps(200).save(Save::Every { n: 20 });
    let traj = Run::new(&model, &mut opt, &p0, opts.clone()).record(observable).run().unwrap();
    assert_eq!(traj.steps, (0..=200).step_by(20).collect::<Vec<_>>());
    assert_recorded_matches(&traj, "gd");
    // The time column of the function is t_k = k·η, recomputed from the step index.
    for (r, k) in traj.recorded.iter().zip(&traj.steps) {
        assert!((r[0] - 0.05 * *k as f64).abs() <= 1e-12, "step {k}: t = {}", r[0]);
    }

    // Without the states: the same recorded values and losses, and no states.
    let mut opt = Optimizer::new(Method::Gd { eta: 0.05 }, &0.0).unwrap();
    let lean = Run::new(&model, &mut opt, &p0, opts).record(observable).keep_states(false).run().unwrap();
    assert!(lean.states.is_empty());
    assert_eq!(lean.recorded, traj.recorded);
    assert_eq!(lean.loss, traj.loss);
    assert_eq!(lean.steps, traj.steps);
}

#[test]
fn discrete_run_in_rationals_records_exact_values() {
    // In rationals the recorded function is exact: compared with the function of the saved states
    // with zero tolerance.
    let (model, p0) = deep_problem(&Q::new());
    let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &Q::new()).unwrap();
    let traj = Run::new(&model, &mut opt, &p0, RunOptions::steps(4)).record(observable).run().unwrap();
    assert_eq!(traj.recorded.len(), 5);
    assert_recorded_matches(&traj, "gd in rationals");
}

#[test]
fn flows_record_the_function_for_every_integrator_kind() {
    let (model, p0) = deep_problem(&0.0);
    let saves = Save::Times { times: vec![0.25, 0.5, 1.0, 1.5] };
    for integ in [
        Integrator::Rk4 { h: 0.01 },
        Integrator::GaussLegendre { stages: 2, h: 0.05 },
        Integrator::Dp5 { rtol: 1e-10, atol: 1e-12 },
        Integrator::Tsit5 { rtol: 1e-10, atol: 1e-12 },
        Integrator::Dopri5 { rtol: 1e-10, atol: 1e-12 },
        Integrator::Gbs { rtol: 1e-12, atol: 1e-14 },
        Integrator::Taylor { tol: Tolerance::parse("1e-14", "tol").unwrap(), order: None, max_step: None },
    ] {
        let problem = || FlowProblem::new(GradientFlow::new(&model), &p0, 2.0).model(&model).save(saves.clone());
        let traj = problem().record(observable).solve(&integ).unwrap();
        assert_eq!(traj.times.len(), 6, "{}", integ.name());
        assert_recorded_matches(&traj, &integ.name());
        let lean = problem().record(observable).keep_states(false).solve(&integ).unwrap();
        assert!(lean.states.is_empty(), "{}", integ.name());
        assert_eq!(lean.recorded, traj.recorded, "{}", integ.name());
        assert_eq!(lean.loss, traj.loss, "{}", integ.name());
    }
}

#[test]
fn flows_record_in_mpfr() {
    let p = Mp::new(256);
    let (model, p0) = deep_problem(&p);
    let saves = Save::Times { times: vec![0.5, 1.0] };
    for integ in [
        Integrator::Rk8 { h: 0.05 },
        Integrator::Gbs { rtol: 1e-60, atol: 1e-60 },
        Integrator::Taylor { tol: Tolerance::parse("2^-240", "tol").unwrap(), order: None, max_step: None },
    ] {
        let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 1.5)
            .model(&model)
            .save(saves.clone())
            .record(observable)
            .solve(&integ)
            .unwrap();
        assert_eq!(traj.times.len(), 4, "{}", integ.name());
        assert_recorded_matches(&traj, &integ.name());
    }
}

#[test]
fn a_failed_flow_records_up_to_where_it_stopped() {
    // ẏ = y² from 1 blows up at t = 1: dp5 stops with a step-size underflow and the recorded
    // function covers every saved point, the last one included.
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
    let y0 = Params::new(vec![Mat::from_vec(1, 1, vec![1.0])]);
    let traj = FlowProblem::new(Square, &y0, 2.0)
        .save(Save::Times { times: vec![0.5, 0.9] })
        .record(|t: &f64, y: &Params<f64>| vec![*t, y.blocks[0].get(0, 0) * (1.0 - t)])
        .solve(&Integrator::Dp5 { rtol: 1e-10, atol: 1e-12 })
        .unwrap();
    assert!(matches!(traj.outcome, Outcome::StepUnderflow { .. }), "{:?}", traj.outcome);
    assert_eq!(traj.recorded.len(), traj.times.len());
    assert!(traj.times.len() >= 4, "{:?}", traj.times);
    // y(t)(1 − t) = 1 on the exact solution: the recorded product at the saved times before the
    // blow-up (the tolerance: rtol 1e-10 accumulated over a solution growing to 10).
    for r in &traj.recorded[..3] {
        assert!((r[1] - 1.0).abs() < 1e-8, "t = {}: y(1 - t) = {}", r[0], r[1]);
    }
}
