//! A closed form attached to a flow problem (`FlowProblem::reference`, SciML's `analytic`): the
//! Saxe modes at 256 bits against Taylor's method and GBS, with a wrong time constant as a
//! negative control; a user's own reference; NaN propagation of the reported gap.

use linflow::closed_form::reference::{Reference, SaxeModes};
use linflow::flow::Tolerance;
use linflow::prelude::*;

/// Φ = diag(3, 1) and a balanced start W_j = diag(0.3, 0.2) (aligned with Φ's SVD) on a network of
/// `depth` layers of width 2, at the precision of `proto`.
fn aligned<S: Scalar>(depth: usize, proto: &S) -> (Arch, Mat<S>, Model<S>, Params<S>) {
    let arch = Arch::deep_linear(&vec![2; depth + 1]).unwrap();
    let phi = Mat::from_vec(2, 2, vec![3.0, 0.0, 0.0, 1.0]).map(|x| proto.from_f64_like(*x));
    let model = Model::new(arch.clone(), Loss::target(phi.clone())).unwrap();
    let w = Mat::from_vec(
        2,
        2,
        vec![proto.ratio_like(3, 10), proto.zero_like(), proto.zero_like(), proto.ratio_like(1, 5)],
    );
    (arch, phi, model, Params::new(vec![w; depth]))
}

fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

#[test]
fn saxe_modes_at_256_bits_within_the_integrators_tolerance() {
    let p = Mp::new(256);
    let saves = Save::Times { times: vec![0.25, 0.5, 1.0, 1.5, 2.0] };
    for depth in [2, 3] {
        let (arch, phi, model, p0) = aligned(depth, &p);
        for (integ, bound, why) in [
            (
                Integrator::Taylor { tol: Tolerance::parse("2^-200", "tol").unwrap(), order: None, max_step: None },
                pow2(-190),
                // Local error 2^-200 per step, relative, over at most a few hundred steps: 2^-190.
                "taylor 2^-200",
            ),
            (
                Integrator::Gbs { rtol: 1e-50, atol: 1e-50 },
                1e-48,
                // Local error 1e-50 per step over at most ~100 accepted steps: 1e-48.
                "gbs 1e-50",
            ),
        ] {
            let saxe = SaxeModes::new(&arch, &phi, &p0, p.one_like()).unwrap();
            let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 3.0)
                .model(&model)
                .save(saves.clone())
                .reference(saxe)
                .solve(&integ)
                .unwrap();
            assert!(traj.outcome.is_done(), "{why}: {:?}", traj.outcome);
            let gap = traj.reference.as_ref().expect("a reference was attached");
            assert_eq!(gap.checks, 7, "{why}"); // t = 0, the five saves, t1
            assert!(gap.non_finite.is_none(), "{why}: {gap:?}");
            assert!(gap.worst_rel < bound, "depth {depth}, {why}: gap {:e}", gap.worst_rel);
            println!("depth {depth}, {why}: worst relative gap {:e} at t = {}", gap.worst_rel, gap.at_time);

            // Negative control: the same modes with a time constant 1% off are far from the run.
            let wrong = SaxeModes::new(&arch, &phi, &p0, p.ratio_like(101, 100)).unwrap();
            let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 3.0)
                .model(&model)
                .save(saves.clone())
                .reference(wrong)
                .solve(&integ)
                .unwrap();
            let gap = traj.reference.unwrap();
            assert!(
                gap.worst_rel > 1e-4,
                "depth {depth}, {why}: the wrong time constant was not flagged: {:e}",
                gap.worst_rel
            );
        }
    }
}

#[test]
fn saxe_modes_refuse_a_start_they_do_not_describe() {
    let (arch, phi, _, p0) = aligned(2, &0.0);
    // Unbalanced: W2 = 2 W1.
    let mut unbalanced = p0.clone();
    unbalanced.blocks[1] = unbalanced.blocks[1].map(|x| 2.0 * x);
    let e = SaxeModes::new(&arch, &phi, &unbalanced, 1.0).err().expect("refused").to_string();
    assert!(e.contains("not balanced"), "{e}");
    // Not aligned: an off-diagonal entry in both layers.
    let mut rotated = p0.clone();
    for b in &mut rotated.blocks {
        *b.get_mut(0, 1) = 0.1;
    }
    let e = SaxeModes::new(&arch, &phi, &rotated, 1.0).err().expect("refused").to_string();
    assert!(e.contains("aligned") || e.contains("balanced"), "{e}");
}

/// The exact solution of ẏ = −y from y(0): y0·e^{−t}; with `poison` it returns NaN after t = 1.
struct Decay {
    y0: f64,
    poison: bool,
}

impl Reference<f64> for Decay {
    fn name(&self) -> String {
        "y0 exp(-t)".into()
    }
    fn at(&self, t: &f64) -> linflow::error::Result<Vec<Mat<f64>>> {
        let v = if self.poison && *t > 1.0 { f64::NAN } else { self.y0 * (-t).exp() };
        Ok(vec![Mat::from_vec(1, 1, vec![v])])
    }
}

struct Minus;
impl VectorField<f64> for Minus {
    fn eval(&mut self, _t: &f64, y: &Params<f64>, dy: &mut Params<f64>) {
        for (d, x) in dy.iter_mut().zip(y.iter()) {
            *d = -x;
        }
    }
    fn name(&self) -> String {
        "y' = -y".into()
    }
}

#[test]
fn a_users_reference_and_nan_propagation() {
    let y0 = Params::new(vec![Mat::from_vec(1, 1, vec![2.0])]);
    let saves = Save::Times { times: vec![0.5, 1.0, 1.5] };
    let solve = |r: Decay| {
        FlowProblem::new(Minus, &y0, 2.0).save(saves.clone()).reference(r).solve(&Integrator::Rk4 { h: 0.01 }).unwrap()
    };
    let good = solve(Decay { y0: 2.0, poison: false }).reference.unwrap();
    // RK4's global error with h = 0.01 on y' = -y over [0, 2]: about t·h^4/120·|y| ≈ 1e-10.
    assert!(good.worst_rel < 1e-9, "{good:?}");
    assert_eq!(good.checks, 5);
    assert!(good.worst_rel > 0.0, "RK4 is not exact: a zero gap compared nothing");
    // A NaN from the closed form at t = 1.5 is the worst and is named.
    let bad = solve(Decay { y0: 2.0, poison: true }).reference.unwrap();
    assert!(bad.worst_rel.is_nan(), "{bad:?}");
    assert_eq!(bad.at_time, 1.5);
    assert!(bad.non_finite.is_some());
}

#[test]
fn a_reference_that_cannot_be_evaluated_is_a_nan_gap() {
    // Saxe modes past the horizon are fine; a reference that errors is reported, not a panic.
    struct Broken;
    impl Reference<f64> for Broken {
        fn name(&self) -> String {
            "broken".into()
        }
        fn at(&self, t: &f64) -> linflow::error::Result<Vec<Mat<f64>>> {
            if *t > 0.5 {
                Err(Error::invalid("t", "past the closed form's range"))
            } else {
                Ok(vec![Mat::from_vec(1, 1, vec![2.0 * (-t).exp()])])
            }
        }
    }
    let y0 = Params::new(vec![Mat::from_vec(1, 1, vec![2.0])]);
    let traj = FlowProblem::new(Minus, &y0, 1.0)
        .save(Save::Times { times: vec![0.5] })
        .reference(Broken)
        .solve(&Integrator::Rk4 { h: 0.01 })
        .unwrap();
    let gap = traj.reference.unwrap();
    assert!(gap.worst_rel.is_nan());
    assert!(gap.non_finite.as_deref().is_some_and(|m| m.contains("past the closed form's range")), "{gap:?}");
}
