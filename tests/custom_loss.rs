//! A user's own loss through `Loss::custom`: its gradient through a depth-3 network against a
//! central finite difference of its value at 256 bits; GD with it keeps the exact η² balancedness
//! identity in rationals (the identity does not depend on the loss), with a wrong step size as a
//! negative control; the paths that need the loss's structure refuse it by name.

use linflow::flow::fields::{SamFlow, SamForm};
use linflow::flow::Tolerance;
use linflow::model::LossFn;
use linflow::prelude::*;

/// $E(W) = \tfrac12\sum_{ij} a_{ij}(W_{ij} - \Phi_{ij})^2 + \tfrac14\sum_{ij} (W_{ij} - \Phi_{ij})^4$:
/// weighted, with a quartic term so that its Hessian is not constant.
struct WeightedQuartic<S> {
    phi: Mat<S>,
    a: Mat<S>,
}

impl<S: Scalar> LossFn<S> for WeightedQuartic<S> {
    fn name(&self) -> String {
        "weighted quartic".into()
    }
    fn shape(&self) -> (usize, usize) {
        self.phi.shape()
    }
    fn value(&self, w: &Mat<S>) -> S {
        let half = w.proto().ratio_like(1, 2);
        let quarter = w.proto().ratio_like(1, 4);
        let mut v = w.proto().zero_like();
        for ((x, p), a) in w.as_slice().iter().zip(self.phi.as_slice()).zip(self.a.as_slice()) {
            let r = x.clone() - p.clone();
            let r2 = r.clone() * r;
            v += &(half.clone() * a.clone() * r2.clone() + quarter.clone() * r2.clone() * r2);
        }
        v
    }
    fn grad(&self, w: &Mat<S>, g: &mut Mat<S>) {
        for (((gi, x), p), a) in
            g.as_mut_slice().iter_mut().zip(w.as_slice()).zip(self.phi.as_slice()).zip(self.a.as_slice())
        {
            let r = x.clone() - p.clone();
            *gi = a.clone() * r.clone() + r.clone() * r.clone() * r;
        }
    }
}

/// A depth-3 network 2-3-3-2 with the loss above, in the number type of `proto` (data given as
/// small rationals, so that it is exact in every type).
fn problem<S: Scalar>(proto: &S) -> (Model<S>, Params<S>) {
    let arch = Arch::deep_linear(&[2, 3, 3, 2]).unwrap();
    let q = |n: i64, d: i64| proto.ratio_like(n, d);
    let phi = Mat::from_vec(2, 2, vec![q(1, 1), q(-1, 2), q(1, 4), q(3, 2)]);
    let a = Mat::from_vec(2, 2, vec![q(2, 1), q(1, 3), q(1, 1), q(5, 4)]);
    let model = Model::new(arch.clone(), Loss::custom(WeightedQuartic { phi, a }, proto)).unwrap();
    // An initialization rounded to multiples of 1/64, exact in every type.
    let mut p0 = init::gaussian(&arch, 0.5, &mut data::rng(11));
    for x in p0.iter_mut() {
        *x = (*x * 64.0).round() / 64.0;
    }
    (model, p0.cast(proto))
}

#[test]
fn gradient_through_the_network_matches_a_finite_difference_at_256_bits() {
    let p = Mp::new(256);
    let (model, w) = problem(&p);
    let (_, g) = model.grad(&w);
    // Central difference with h = 2^-100: truncation h²·|f'''| ≈ 2^-200 and rounding
    // 2^-256·|f|/h ≈ 2^-156; the gradient entries are O(1), so 2^-150 relative bounds both.
    let h = p.ratio_like(1, 1 << 50) * p.ratio_like(1, 1 << 50);
    let two_h = h.clone() * p.from_i64_like(2);
    let mut worst = 0.0f64;
    let mut seen = 0;
    for b in 0..w.blocks.len() {
        for i in 0..w.blocks[b].rows() {
            for j in 0..w.blocks[b].cols() {
                let mut plus = w.clone();
                *plus.blocks[b].get_mut(i, j) += &h;
                let mut minus = w.clone();
                *minus.blocks[b].get_mut(i, j) -= &h;
                let fd = (model.loss(&plus) - model.loss(&minus)) / two_h.clone();
                let d = (fd - g.blocks[b].get(i, j).clone()).abs().to_f64();
                worst = worst.max(d);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 6 + 9 + 6);
    assert!(worst < 2f64.powi(-150), "worst |fd - grad| = {worst:e}");
    // Negative control: a gradient of the wrong loss (the quartic term dropped) is far off.
    let wrong = Model::new(
        model.arch.clone(),
        Loss::custom(WeightedQuartic { phi: Mat::zeros(2, 2, &p), a: Mat::from_vec(2, 2, vec![p.one_like(); 4]) }, &p),
    )
    .unwrap();
    let (_, gw) = wrong.grad(&w);
    let off = gw.iter().zip(g.iter()).map(|(a, b)| (a.clone() - b.clone()).abs().to_f64()).fold(0.0, f64::max);
    assert!(off > 1e-3, "{off}");
}

#[test]
fn gd_with_a_custom_loss_keeps_the_exact_balancedness_identity_in_rationals() {
    let q = Q::new();
    let (model, p0) = problem(&q);
    let eta = Q::from((1, 20));
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
    let mut right = Monitor::new().track(Balancedness, Law::gd_balancedness(eta.clone()));
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut right).unwrap();
    assert!(traj.outcome.is_done());
    let r = &traj.laws[0];
    assert_eq!(r.checks, 3);
    assert!(r.exact_zero, "{r:?}");
    assert!(traj.loss[3] < traj.loss[0], "GD on the custom loss decreased nothing");
    // Negative control: the law with 2η is not exact.
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
    let mut wrong = Monitor::new().track(Balancedness, Law::gd_balancedness(eta * Q::from((2, 1))));
    let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut wrong).unwrap();
    assert!(!traj.laws[0].exact_zero && traj.laws[0].worst_abs > 0.0, "{:?}", traj.laws[0]);
}

#[test]
fn paths_that_need_the_losss_structure_refuse_it_by_name() {
    let (model, p0) = problem(&0.0);
    // Taylor's method records the loss's arithmetic on a tape.
    let taylor = Integrator::Taylor { tol: Tolerance::parse("1e-12", "tol").unwrap(), order: None, max_step: None };
    let e = FlowProblem::new(GradientFlow::new(&model), &p0, 1.0).model(&model).solve(&taylor).expect_err("refused");
    assert!(e.to_string().contains("weighted quartic"), "{e}");
    // The modified SAM flow needs Hessian-vector products on dual numbers.
    let e = SamFlow::new(&model, 0.1, SamForm::Modified).err().expect("refused");
    assert!(e.to_string().contains("weighted quartic"), "{e}");
    // What needs only the gradient runs: the exact SAM flow and gradient flow with an explicit
    // integrator.
    let sam = SamFlow::new(&model, 0.1, SamForm::Exact).unwrap();
    let traj = FlowProblem::new(sam, &p0, 0.5).model(&model).solve(&Integrator::Rk4 { h: 0.01 }).unwrap();
    assert!(traj.outcome.is_done());
    let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 0.5)
        .model(&model)
        .solve(&Integrator::Dp5 { rtol: 1e-10, atol: 1e-12 })
        .unwrap();
    assert!(traj.loss[1] < traj.loss[0]);
}
