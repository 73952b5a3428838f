//! Exact per-step identities of discrete optimizers, checked in rational arithmetic with zero
//! tolerance over random architectures, data, step sizes and weight decays.
//!
//! Each identity is checked twice: by the library's law observer along an [`Optimizer`] run, and
//! by a formula written out here from the update rule (independent of the optimizer code). Each
//! also has a negative control: a slightly wrong formula must *not* hold exactly, so that a test
//! that always passed would be noticed.

use linflow::prelude::*;
use linflow::scalar::Q;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A small random rational `n/d`, `n ∈ [−6, 6]`, `d ∈ [1, 4]`.
fn small_q(rng: &mut ChaCha8Rng) -> Q {
    Q::from((rng.random_range(-6i64..=6), rng.random_range(1i64..=4)))
}

fn qmat(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Mat<Q> {
    Mat::from_fn(rows, cols, |_, _| small_q(rng))
}

fn q(n: i64, d: i64) -> Q {
    Q::from((n, d))
}

/// A deep linear net with a regression loss on `n` samples, all entries small rationals.
fn deep_case(widths: &[usize], n: usize, seed: u64) -> (Model<Q>, Params<Q>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let arch = Arch::deep_linear(widths).unwrap();
    let (d0, dn) = (widths[0], *widths.last().unwrap());
    let x = qmat(d0, n, &mut rng);
    let y = qmat(dn, n, &mut rng);
    let model = Model::new(arch, Loss::regression(x, y).unwrap()).unwrap();
    let p = Params::new(widths.windows(2).map(|w| qmat(w[1], w[0], &mut rng)).collect());
    (model, p)
}

/// `k` steps with every state saved and no divergence stop: the identities are algebraic and hold
/// however large the iterates grow.
fn steps(k: usize) -> RunOptions {
    RunOptions { divergence: f64::INFINITY, ..RunOptions::steps(k) }
}

fn widths_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 2..=5)
}

fn all_zero(ms: &[Mat<Q>]) -> bool {
    ms.iter().all(|m| m.as_slice().iter().all(|x| x.is_zero()))
}

fn balancedness(p: &Params<Q>) -> Vec<Mat<Q>> {
    p.blocks.windows(2).map(|w| w[1].prod(true, &w[1], false).sub(&w[0].prod(false, &w[0], true))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// GD with weight decay on a deep linear net, written out from the update
    /// `W_j⁺ = (1−ηλ)W_j − ηA_j` (A_j = ∂E/∂W_j):
    /// `C_j⁺ = (1−ηλ)²C_j + η²(A_{j+1}ᵀA_{j+1} − A_jA_jᵀ)`, exactly.
    #[test]
    fn gd_balancedness_drift_is_exact(widths in widths_strategy(), n in 1usize..=4, seed in any::<u64>(),
                                      eta in (1i64..=5, 2i64..=12), lam in (0i64..=3, 1i64..=8)) {
        let (model, p) = deep_case(&widths, n, seed);
        let (eta, lam) = (q(eta.0, eta.1), q(lam.0, lam.1));
        // A_j from the loss alone (no decay): the model's gradient of E.
        let (_, a) = model.grad(&p);
        let shrink = Q::from(1) - eta.clone() * lam.clone();
        let mut next = p.clone();
        for (w, aj) in next.blocks.iter_mut().zip(&a.blocks) {
            *w = w.scaled(&shrink).sub(&aj.scaled(&eta));
        }
        let (c0, c1) = (balancedness(&p), balancedness(&next));
        let s2 = shrink.clone() * shrink.clone();
        let e2 = eta.clone() * eta.clone();
        let predicted: Vec<Mat<Q>> = c0.iter().enumerate().map(|(j, c)| {
            let d = a.blocks[j + 1].prod(true, &a.blocks[j + 1], false).sub(&a.blocks[j].prod(false, &a.blocks[j], true));
            c.scaled(&s2).add(&d.scaled(&e2))
        }).collect();
        let dev: Vec<Mat<Q>> = c1.iter().zip(&predicted).map(|(x, y)| x.sub(y)).collect();
        prop_assert!(all_zero(&dev));

        // The same through the optimizer and the law observer, with weight decay in the model.
        let model = model.with_weight_decay(lam.clone()).unwrap();
        let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
        let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(eta.clone()));
        let traj = run(&model, &mut opt, &p, &steps(2), &mut mon).unwrap();
        if widths.len() >= 3 {
            // N − 1 balancedness matrices of d_j × d_j entries, at each of the 2 steps.
            let items: usize = widths[1..widths.len() - 1].iter().map(|d| d * d).sum::<usize>() * 2;
            prop_assert_eq!((traj.laws[0].checks, traj.laws[0].items), (2, items));
            prop_assert!(traj.laws[0].exact_zero, "worst deviation {}", traj.laws[0].worst_abs);
        } else {
            // Depth 1 has no balancedness matrix: the law must report that it examined nothing,
            // not that it held.
            prop_assert_eq!(traj.laws[0].checks, 0);
            prop_assert!(!traj.laws[0].exact_zero);
        }
        // The optimizer's first step is the hand-written one.
        prop_assert_eq!(&traj.states[1], &next);
    }

    /// SGD: the same identity holds step by step with the mini-batch gradient.
    #[test]
    fn sgd_balancedness_drift_is_exact(widths in widths_strategy(), seed in any::<u64>(), batch_seed in any::<u64>(),
                                       lam in (0i64..=2, 1i64..=8)) {
        let (model, p) = deep_case(&widths, 4, seed);
        let model = model.with_weight_decay(q(lam.0, lam.1)).unwrap();
        let eta = q(1, 7);
        let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap().with_batches(2, batch_seed);
        let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(eta));
        let traj = run(&model, &mut opt, &p, &steps(3), &mut mon).unwrap();
        if widths.len() > 2 {
            // Depth ≥ 2 has balancedness matrices: one check per step.
            prop_assert_eq!(traj.laws[0].checks, 3);
            prop_assert!(traj.laws[0].exact_zero);
        } else {
            // Depth 1: nothing to compare, so no claim of an exact zero.
            prop_assert_eq!(traj.laws[0].checks, 0);
            prop_assert!(!traj.laws[0].exact_zero);
        }
    }

    /// Diagonal net β = u⊙v under GD: `(u²−v²)⁺ = (u²−v²)(1 − η²g²)`, `g = ∂E/∂β`.
    #[test]
    fn diagonal_gd_drift_is_exact(d in 1usize..=5, n in 1usize..=4, seed in any::<u64>(), eta in (1i64..=4, 2i64..=9)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let arch = Arch::DiagonalUV { d };
        let x = qmat(d, n, &mut rng);
        let y = qmat(1, n, &mut rng);
        let model = Model::new(arch, Loss::regression(x.clone(), y.clone()).unwrap()).unwrap();
        let (u, v) = (qmat(1, d, &mut rng), qmat(1, d, &mut rng));
        let p = Params::new(vec![u.clone(), v.clone()]);
        let eta = q(eta.0, eta.1);
        // g = (1/n)(βX − y)Xᵀ, written out.
        let beta = Mat::from_fn(1, d, |_, i| u.get(0, i).clone() * v.get(0, i).clone());
        let r = beta.matmul(&x).sub(&y);
        let g = r.prod(false, &x, true).scaled(&q(1, n as i64));
        let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
        let mut mon = Monitor::new().track(DiagonalBalance, Law::gd_diagonal(eta.clone()));
        let traj = run(&model, &mut opt, &p, &steps(2), &mut mon).unwrap();
        prop_assert!(traj.laws[0].exact_zero);
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
    fn two_factor_sam_drift_is_exact(d1 in 1usize..=3, d2 in 1usize..=3, r in 1usize..=2, seed in any::<u64>(),
                                     eta in (1i64..=3, 2i64..=9), rho in (0i64..=3, 1i64..=5), u in (1i64..=5, 1i64..=3)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let arch = Arch::Factor { d1, d2, r };
        let model = Model::new(arch, Loss::target(qmat(d1, d2, &mut rng))).unwrap();
        let p = Params::new(vec![qmat(d1, r, &mut rng), qmat(d2, r, &mut rng)]);
        let (eta, rho, u) = (q(eta.0, eta.1), q(rho.0, rho.1), q(u.0, u.1));
        let bal = |p: &Params<Q>| (p.blocks[0].norm_sq() - p.blocks[1].norm_sq()) * q(1, 2);
        let (_, g) = model.grad(&p);
        let mut pert = p.clone();
        pert.axpy(&(rho.clone() * u.clone()), &g);
        let (_, h) = model.grad(&pert);
        let mut next = p.clone();
        next.axpy(&-eta.clone(), &h);
        let db = bal(&next) - bal(&p);
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
        let mut opt = Optimizer::exact(Method::Usam { eta: eta.clone(), rho: rho.clone() }).unwrap();
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta, rho));
        let traj = run(&model, &mut opt, &p, &steps(2), &mut mon).unwrap();
        prop_assert!(traj.laws[0].exact_zero);
    }

    /// OP problem f(xᵀy) with f(s) = ½(s − c)² under GD: `B⁺ = (1 − η²r²)B`, `r = f′(xᵀy)`.
    #[test]
    fn op_gd_balance_is_exact(d in 1usize..=4, seed in any::<u64>(), eta in (1i64..=3, 2i64..=9)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let c = qmat(1, 1, &mut rng);
        let model = Model::new(Arch::FactorOp { d }, Loss::target(c.clone())).unwrap();
        let (x, y) = (qmat(d, 1, &mut rng), qmat(d, 1, &mut rng));
        let p = Params::new(vec![x.clone(), y.clone()]);
        let eta = q(eta.0, eta.1);
        let r = x.dot(&y) - c.get(0, 0).clone();
        let b0 = (x.norm_sq() - y.norm_sq()) * q(1, 2);
        let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
        let mut mon = Monitor::new().track(FactorBalance, Law::sam_factor(eta.clone(), Q::new()));
        let traj = run(&model, &mut opt, &p, &steps(1), &mut mon).unwrap();
        let p1 = &traj.states[1];
        let b1 = (p1.blocks[0].norm_sq() - p1.blocks[1].norm_sq()) * q(1, 2);
        prop_assert_eq!(b1, b0 * (Q::from(1) - eta.square() * r.square()));
        prop_assert!(traj.laws[0].exact_zero);
    }

    /// Heavy ball on β = u⊙v (momentum δ = θ_k − θ_{k−1}):
    /// `Δ⁺ = Δ(1−γ²g²) + 2β(uδu − vδv) + β²(δu² − δv²) − 2γβg(δu·v − δv·u)`.
    #[test]
    fn heavy_ball_diagonal_identity_is_exact(d in 1usize..=4, n in 1usize..=3, seed in any::<u64>(),
                                             gamma in (1i64..=3, 2i64..=9), beta in (0i64..=3, 4i64..=5)) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = Model::new(Arch::DiagonalUV { d }, Loss::regression(qmat(d, n, &mut rng), qmat(1, n, &mut rng)).unwrap()).unwrap();
        let p = Params::new(vec![qmat(1, d, &mut rng), qmat(1, d, &mut rng)]);
        let (gamma, beta) = (q(gamma.0, gamma.1), q(beta.0, beta.1));
        let mut opt = Optimizer::exact(Method::HeavyBall { eta: gamma.clone(), beta: beta.clone() }).unwrap();
        let mut mon = Monitor::new().track(DiagonalBalance, Law::heavy_ball_diagonal(gamma.clone(), beta.clone()));
        let traj = run(&model, &mut opt, &p, &steps(3), &mut mon).unwrap();
        prop_assert!(traj.laws[0].exact_zero);
        // Written out for the third step from the saved states θ_1, θ_2 → θ_3.
        let (p1, p2, p3) = (&traj.states[1], &traj.states[2], &traj.states[3]);
        let delta = |p: &Params<Q>, i: usize| p.blocks[0].get(0, i).clone().square() - p.blocks[1].get(0, i).clone().square();
        let bvec = Mat::from_fn(1, d, |_, i| p2.blocks[0].get(0, i).clone() * p2.blocks[1].get(0, i).clone());
        let mut g = bvec.zeros_like();
        model.loss.value_grad(&bvec, None, &mut g);
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
    let (model, p) = deep_case(&[2, 3, 2], 3, 11);
    let lam = q(1, 4);
    let model = model.with_weight_decay(lam.clone()).unwrap();
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
    let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
    let mut mon = Monitor::new().track(Balancedness, wrong).track(Balancedness, Law::gd_balancedness(eta));
    let traj = run(&model, &mut opt, &p, &steps(2), &mut mon).unwrap();
    assert!(!traj.laws[0].exact_zero && traj.laws[0].worst_abs > 0.0);
    assert!(traj.laws[1].exact_zero);
}
