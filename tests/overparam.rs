//! The symmetric factor architecture and the `overparam-slowdown` experiment.
//!
//! Truths used: the hand pullback $(G + G^\top)X$ of $\langle G, XX^\top\rangle$ against a directional
//! finite difference in rationals (exact for a quadratic), and the closed-form tail
//! $L \to (k-r)/(32t^2)$ of the symmetric population loss.

use linflow::experiments::overparam_slowdown;
use linflow::prelude::*;

#[test]
fn sym_factor_shapes_and_errors() {
    let a = Arch::SymFactor { d: 3, k: 2 };
    assert_eq!(a.output_shape(), (3, 3));
    assert_eq!(a.param_shapes(), vec![(3, 2)]);
    let e = Arch::SymFactor { d: 3, k: 0 }.validate().unwrap_err().to_string();
    assert!(e.contains("d, k"), "{e}");
}

#[test]
fn sym_factor_gradient_is_exact_in_rationals() {
    // E(W) = ½‖W − Φ‖² with W = XXᵀ is a quartic in X; along a direction V,
    // L(X + hV) = L(X) + h⟨∇L, V⟩ + O(h²), and the central difference
    // (L(X+hV) − L(X−hV))/(2h) = ⟨∇L, V⟩ + h²·(cubic coefficient): with h = 1/10^6 in rationals the
    // difference from ⟨∇L, V⟩ is at most h²·C with C bounded by the entries (< 1e3 here).
    let arch = Arch::SymFactor { d: 3, k: 2 };
    let phi = Mat::from_fn(3, 3, |i, j| Q::from(((i * 3 + j) as i64 % 5) - 2));
    let model = Model::new(arch, Loss::target(phi)).unwrap();
    let x = Params::new(vec![Mat::from_fn(3, 2, |i, j| Q::from(((i + 2 * j) as i64, 3)) - Q::from(1))]);
    let v = Params::new(vec![Mat::from_fn(3, 2, |i, j| Q::from((1 + (i as i64) - (j as i64), 2)))]);
    let (_, g) = model.grad(&x);
    let h = Q::from((1, 1_000_000));
    let shifted = |s: &Q| {
        let mut p = x.clone();
        p.axpy(s, &v);
        model.loss(&p)
    };
    let fd = (shifted(&h) - shifted(&(-h.clone()))) / (Q::from(2) * h.clone());
    let exact = g.dot(&v);
    let err = (fd - exact.clone()).abs();
    assert!(err < Q::from((1, 1_000_000_000)), "err {}", err.to_f64());
    // Negative control: the one-sided pullback G X (missing Gᵀ X) is not the gradient.
    let w = model.end_to_end(&x);
    let gm = w.sub(&Mat::from_fn(3, 3, |i, j| Q::from(((i * 3 + j) as i64 % 5) - 2)));
    let half = gm.matmul(&x.blocks[0]).dot(&v.blocks[0]);
    assert_ne!(half, exact);
}

#[test]
fn overparam_experiment_quick() {
    let m = overparam_slowdown::measure(true).unwrap();
    let checks = overparam_slowdown::checks(&m);
    for c in &checks {
        println!("{} {}: {} (tol {})", if c.pass { "ok  " } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    assert!(checks.iter().all(|c| c.pass));
    // Independent closed form: at the end of the population run L·t² ≈ (k − r)/32 = 1/16, up to the
    // offset factor (t/(t+t0))² with t0 = O(1) at t = 3000: 2%.
    let &(t, l) = m.sym_population.points.last().unwrap();
    let c = l * t * t;
    assert!((c - 1.0 / 16.0).abs() < 0.02 / 16.0, "L t^2 = {c}");
    assert_eq!(overparam_slowdown::figures(&m).len(), 2);
}
