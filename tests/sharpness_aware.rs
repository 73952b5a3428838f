//! SAM-family recipes measured directly (`measure(true)`), against truths that do not come from the
//! run: gradient passes per step (SGD 1, SAM 2, BAR 1, counted by the optimizer), and USAM's
//! per-step identity on a diagonal network in exact rationals.

use linflow::experiments::sam::{bar, sam_diagonal};

#[test]
fn bar_gradient_counts_are_the_methods_definitions() {
    let m = bar::measure(true).unwrap();
    let failed: Vec<_> = bar::checks(&m).into_iter().filter(|c| !c.pass).map(|c| c.name).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(m.levels.len(), 2);
    for level in &m.levels {
        let calls: Vec<(&str, f64)> = level.runs.iter().map(|r| (r.name.as_str(), r.grad_calls_per_step)).collect();
        // SGD evaluates one gradient per step, SAM two (ascent point and update), BAR one (it reuses the
        // step's gradient for the rescaling): exact counts, no tolerance.
        assert_eq!(calls, vec![("gd", 1.0), ("sam", 2.0), ("nbar", 1.0), ("obar", 1.0)], "noise {}", level.noise);
        // Only the BAR runs track BAR's drift law.
        assert!(level.runs.iter().all(|r| r.bar_law_worst_rel.is_some() == r.name.ends_with("bar")));
    }
}

#[test]
fn sam_diagonal_identity_is_exact_in_rationals() {
    let m = sam_diagonal::measure(true).unwrap();
    // Zero tolerance: three USAM steps in exact rationals obey the per-step identity with no error.
    assert!(m.exact_zero_rationals);
    let labels: Vec<&str> = m.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["usam", "sam"]);
    // The predicted exponent −2ρ∫g² dt is a negative multiple of a sum of squares: never positive.
    assert!(m.runs.iter().all(|r| r.exponents.iter().all(|&(pred, _)| pred <= 0.0)));
}
