//! Exact per-step identities of discrete optimizers, checked in rational arithmetic with zero
//! tolerance over random architectures, data, step sizes and weight decays drawn by
//! `linflow::testing::strategies`.
//!
//! Each identity is checked twice: by the library's law observer along an [`Optimizer`] run
//! (through `linflow::testing::check`), and by a formula written out here from the update rule
//! (independent of the optimizer code). Each also has a negative control: a slightly wrong formula
//! must *not* hold exactly, so that a test that always passed would be noticed.
#![cfg(feature = "testing")]

use linflow::prelude::*;
use linflow::scalar::Q;
use linflow::testing::strategies::{self as st, LossKind};
use linflow::testing::{self, Dynamics, Problem};
use proptest::prelude::*;

fn q(n: i64, d: i64) -> Q {
    Q::from((n, d))
}

/// Deep linear regression problems of depth 2–4 (depth ≥ 2: there is a balancedness matrix to
/// check; depth 1 would make the law vacuous, which the kit reports as a failure).
fn deep() -> BoxedStrategy<Problem> {
    st::problem(st::deep_linear(2..=4, 1..=3), Some(LossKind::Regression))
}

fn all_zero(ms: &[Mat<Q>]) -> bool {
    ms.iter().all(|m| m.as_slice().iter().all(|x| x.is_zero()))
}

fn balancedness(p: &Params<Q>) -> Vec<Mat<Q>> {
    p.blocks.windows(2).map(|w| w[1].prod(true, &w[1], false).sub(&w[0].prod(false, &w[0], true))).collect()
}

fn regression_data(model: &Model<Q>) -> (Mat<Q>, Mat<Q>) {
    match &model.loss {
        Loss::Regression { x, y, .. } => (x.clone(), y.clone()),
        _ => unreachable!("the strategy draws regression data"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// GD with weight decay on a deep linear net, written out from the update
    /// `W_j⁺ = (1−ηλ)W_j − ηA_j` (A_j = ∂E/∂W_j):
    /// `C_j⁺ = (1−ηλ)²C_j + η²(A_{j+1}ᵀA_{j+1} − A_jA_jᵀ)`, exactly.
    #[test]
    fn gd_balancedness_drift_is_exact(case in deep(), eta in st::step_size(), lam in st::rational(0..=3, 1..=8)) {
        let (model, p) = (&case.model, &case.p0);
        // A_j from the loss alone (no decay): the model's gradient of E.
        let (_, a) = model.grad(p);
        let shrink = Q::from(1) - eta.clone() * lam.clone();
        let mut next = p.clone();
        for (w, aj) in next.blocks.iter_mut().zip(&a.blocks) {
            *w = w.scaled(&shrink).sub(&aj.scaled(&eta));
        }
        let (c0, c1) = (balancedness(p), balancedness(&next));
        let s2 = shrink.clone() * shrink.clone();
        let e2 = eta.clone() * eta.clone();
        let predicted: Vec<Mat<Q>> = c0.iter().enumerate().map(|(j, c)| {
            let d = a.blocks[j + 1].prod(true, &a.blocks[j + 1], false).sub(&a.blocks[j].prod(false, &a.blocks[j], true));
            c.scaled(&s2).add(&d.scaled(&e2))
        }).collect();
        let dev: Vec<Mat<Q>> = c1.iter().zip(&predicted).map(|(x, y)| x.sub(y)).collect();
        prop_assert!(!c1.is_empty() && all_zero(&dev));

        // The same through the optimizer and the law observer, with weight decay in the model.
        let decayed = Problem::new(model.clone().with_weight_decay(lam.clone()).unwrap(), p.clone());
        let gd = Dynamics::gd(eta.clone());
        testing::check(&decayed, &Q::new(), &gd, 2, 0.0, Balancedness, Law::gd_balancedness(eta.clone())).prop()?;
        // The optimizer's first step is the hand-written one.
        let traj = testing::trajectory(&decayed, &Q::new(), &gd, 1, &mut Monitor::new()).unwrap();
        prop_assert_eq!(&traj.states[1], &next);
    }

    /// SGD: the same identity holds step by step with the mini-batch gradient (one check per step).
    #[test]
    fn sgd_balancedness_drift_is_exact(case in st::with_weight_decay(deep()), batch_seed in any::<u64>()) {
        let eta = q(1, 7);
        let batch = case.model.n_samples().unwrap().min(2);
        let sgd = Dynamics::Sgd { eta: eta.clone(), batch, seed: batch_seed };
        let v = testing::check(&case, &Q::new(), &sgd, 3, 0.0, Balancedness, Law::gd_balancedness(eta));
        v.prop()?;
        // Depth ≥ 2 has balancedness matrices: one check per step.
        prop_assert_eq!(v.checks, 3);
    }

    /// Diagonal net β = u⊙v under GD: `(u²−v²)⁺ = (u²−v²)(1 − η²g²)`, `g = ∂E/∂β`.
    #[test]
    fn diagonal_gd_drift_is_exact(case in st::problem(st::diagonal_uv(1..=5), Some(LossKind::Regression)),
                                  eta in st::rational(1..=4, 2..=9)) {
        let (x, y) = regression_data(&case.model);
        let (u, v) = (case.p0.blocks[0].clone(), case.p0.blocks[1].clone());
        let (d, n) = (u.cols(), x.cols());
        // g = (1/n)(βX − y)Xᵀ, written out.
        let beta = Mat::from_fn(1, d, |_, i| u.get(0, i).clone() * v.get(0, i).clone());
        let r = beta.matmul(&x).sub(&y);
        let g = r.prod(false, &x, true).scaled(&q(1, n as i64));
        let gd = Dynamics::gd(eta.clone());
        testing::check(&case, &Q::new(), &gd, 2, 0.0, DiagonalBalance, Law::gd_diagonal(eta.clone())).prop()?;
        let traj = testing::trajectory(&case, &Q::new(), &gd, 1, &mut Monitor::new()).unwrap();
        let (u1, v1) = (&traj.states[1].blocks[0], &traj.states[1].blocks[1]);
        for i in 0..d {
            let before = u.get(0, i).clone().square() - v.get(0, i).clone().square();
            let after = u1.get(0, i).clone().square() - v1.get(0, i).clone().square();
            let gi = g.get(0, i).clone();
            let factor = Q::from(1) - eta.clone().square() * gi.clone().square();
            prop_assert_eq!(after.clone(), before.clone() * factor);
            // Negative control: the first-order guess "conserved" fails whenever ηgΔ ≠ 0.
            if !gi.is_zero() && !before.is_zero() {
                prop_assert_ne!(after, before);
            }
        }
    }

    /// Two-factor problem f(XYᵀ) under SAM with an arbitrary rational ascent factor `u`
    /// (`u = 1` is USAM): `ΔB = ηρu(⟨g_X,h_X⟩ − ⟨g_Y,h_Y⟩) + (η²/2)(‖h_X‖² − ‖h_Y‖²)`.
    #[test]
    fn two_factor_sam_drift_is_exact(case in st::problem(st::factor(1..=3, 1..=2), Some(LossKind::Target)),
                                     eta in st::rational(1..=3, 2..=9), rho in st::rational(0..=3, 1..=5),
                                     u in st::rational(1..=5, 1..=3)) {
        let (model, p) = (&case.model, &case.p0);
        let bal = |p: &Params<Q>| (p.blocks[0].norm_sq() - p.blocks[1].norm_sq()) * q(1, 2);
        let (_, g) = model.grad(p);
        let mut pert = p.clone();
        pert.axpy(&(rho.clone() * u.clone()), &g);
        let (_, h) = model.grad(&pert);
        let mut next = p.clone();
        next.axpy(&-eta.clone(), &h);
        let db = bal(&next) - bal(p);
        let cross = g.blocks[0].dot(&h.blocks[0]) - g.blocks[1].dot(&h.blocks[1]);
        let quad = h.blocks[0].norm_sq() - h.blocks[1].norm_sq();
        let predicted = eta.clone() * rho.clone() * u.clone() * cross.clone() + eta.clone().square() * q(1, 2) * quad;
        prop_assert_eq!(db.clone(), predicted.clone());
        // Negative control: dropping the η² term is wrong whenever ‖h_X‖ ≠ ‖h_Y‖.
        let first_order = eta.clone() * rho.clone() * u.clone() * cross;
        if h.blocks[0].norm_sq() != h.blocks[1].norm_sq() {
            prop_assert_ne!(db, first_order);
        }
        // USAM (u = 1) through the optimizer and the law observer.
        let usam = Dynamics::Usam { eta: eta.clone(), rho: rho.clone() };
        testing::check(&case, &Q::new(), &usam, 2, 0.0, FactorBalance, Law::sam_factor(eta, rho)).prop()?;
    }

    /// OP problem f(xᵀy) with f(s) = ½(s − c)² under GD: `B⁺ = (1 − η²r²)B`, `r = f′(xᵀy)`.
    #[test]
    fn op_gd_balance_is_exact(case in st::problem(st::factor_op(1..=4), Some(LossKind::Target)),
                              eta in st::rational(1..=3, 2..=9)) {
        let Loss::Target { phi: c } = &case.model.loss else { unreachable!("target loss") };
        let (x, y) = (&case.p0.blocks[0], &case.p0.blocks[1]);
        let r = x.dot(y) - c.get(0, 0).clone();
        let b0 = (x.norm_sq() - y.norm_sq()) * q(1, 2);
        let gd = Dynamics::gd(eta.clone());
        testing::check(&case, &Q::new(), &gd, 1, 0.0, FactorBalance, Law::sam_factor(eta.clone(), Q::new())).prop()?;
        let traj = testing::trajectory(&case, &Q::new(), &gd, 1, &mut Monitor::new()).unwrap();
        let p1 = &traj.states[1];
        let b1 = (p1.blocks[0].norm_sq() - p1.blocks[1].norm_sq()) * q(1, 2);
        prop_assert_eq!(b1, b0 * (Q::from(1) - eta.square() * r.square()));
    }

    /// Heavy ball on β = u⊙v (momentum δ = θ_k − θ_{k−1}):
    /// `Δ⁺ = Δ(1−γ²g²) + 2β(uδu − vδv) + β²(δu² − δv²) − 2γβg(δu·v − δv·u)`.
    #[test]
    fn heavy_ball_diagonal_identity_is_exact(case in st::problem(st::diagonal_uv(1..=4), Some(LossKind::Regression)),
                                             gamma in st::rational(1..=3, 2..=9), beta in st::rational(0..=3, 4..=5)) {
        let hb = Dynamics::HeavyBall { eta: gamma.clone(), beta: beta.clone() };
        let law = Law::heavy_ball_diagonal(gamma.clone(), beta.clone());
        testing::check(&case, &Q::new(), &hb, 3, 0.0, DiagonalBalance, law).prop()?;
        // Written out for the third step from the saved states θ_1, θ_2 → θ_3.
        let traj = testing::trajectory(&case, &Q::new(), &hb, 3, &mut Monitor::new()).unwrap();
        let (p1, p2, p3) = (&traj.states[1], &traj.states[2], &traj.states[3]);
        let d = p1.blocks[0].cols();
        let delta = |p: &Params<Q>, i: usize| p.blocks[0].get(0, i).clone().square() - p.blocks[1].get(0, i).clone().square();
        let bvec = Mat::from_fn(1, d, |_, i| p2.blocks[0].get(0, i).clone() * p2.blocks[1].get(0, i).clone());
        let mut g = bvec.zeros_like();
        case.model.loss.value_grad(&bvec, None, &mut g);
        for i in 0..d {
            let (u, v) = (p2.blocks[0].get(0, i).clone(), p2.blocks[1].get(0, i).clone());
            let du = u.clone() - p1.blocks[0].get(0, i).clone();
            let dv = v.clone() - p1.blocks[1].get(0, i).clone();
            let gi = g.get(0, i).clone();
            let two = Q::from(2);
            let want = delta(p2, i) * (Q::from(1) - gamma.clone().square() * gi.clone().square())
                + two.clone() * beta.clone() * (u.clone() * du.clone() - v.clone() * dv.clone())
                + beta.clone().square() * (du.clone().square() - dv.clone().square())
                - two * gamma.clone() * beta.clone() * gi * (du * v - dv * u);
            prop_assert_eq!(delta(p3, i), want);
        }
    }
}

/// Negative control for the deep identity: with `(1−ηλ)` in place of `(1−ηλ)²` the observer
/// must report a nonzero deviation (the law check is able to fail).
#[test]
fn wrong_balancedness_law_is_detected() {
    use std::sync::Arc;
    let case = testing::draw(&deep(), 11);
    let lam = q(1, 4);
    let case = Problem::new(case.model.with_weight_decay(lam).unwrap(), case.p0);
    let eta = q(1, 5);
    let e2 = eta.clone();
    let wrong = Law::ExactDrift {
        name: "C+ = (1-eta*lambda) C + eta^2 (...)".into(),
        f: Arc::new(move |model: &Model<Q>, rec| {
            let mut a = rec.grads[0].clone();
            a.axpy(&-model.weight_decay.clone().unwrap(), &rec.before);
            let shrink = Q::from(1) - e2.clone() * model.weight_decay.clone().unwrap();
            balancedness(&rec.before)
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let d = a.blocks[j + 1].prod(true, &a.blocks[j + 1], false).sub(&a.blocks[j].prod(
                        false,
                        &a.blocks[j],
                        true,
                    ));
                    c.scaled(&shrink).add(&d.scaled(&e2.clone().square()))
                })
                .collect()
        }),
    };
    let gd = Dynamics::gd(eta.clone());
    let v = testing::check(&case, &Q::new(), &gd, 2, 0.0, Balancedness, wrong);
    v.assert_rejected();
    assert!(v.worst_abs > 0.0);
    testing::check(&case, &Q::new(), &gd, 2, 0.0, Balancedness, Law::gd_balancedness(eta)).assert_holds();
}
