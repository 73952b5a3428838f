//! Closed-form references against numerical flows and exact identities: Saxe modes, diagonal
//! networks' implicit bias, the basic inequality of GD and the Razin–Cohen instance.

use linflow::closed_form::{basic_inequality as bi, diagonal as dg, razin_cohen as rc, saxe};
use linflow::error::Error;
use linflow::experiments;
use linflow::prelude::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-closed-forms-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_quick(name: &str) {
    let dir = tmp(name);
    let t0 = std::time::Instant::now();
    let s = experiments::reproduce(name, &dir, true).unwrap();
    eprintln!("{name}: {:.2} s", t0.elapsed().as_secs_f64());
    for c in &s.checks {
        eprintln!("  [{}] {} observed {:e} tol {:e}", if c.pass { "ok" } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    for n in &s.notes {
        eprintln!("  note: {n}");
    }
    assert!(!s.figures.is_empty(), "{name} drew no figure");
    for f in &s.figures {
        assert!(dir.join(name).join(f).exists(), "{f} missing");
    }
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.pass).map(|c| c.name.clone()).collect();
    assert!(failed.is_empty(), "{name}: failed checks {failed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn experiment_diagonal_implicit_bias_quick() {
    run_quick("diagonal-implicit-bias");
}

#[test]
fn experiment_saxe_quick() {
    run_quick("saxe");
}

#[test]
fn experiment_basic_inequality_quick() {
    run_quick("basic-inequality");
}

#[test]
fn experiment_razin_cohen_quick() {
    run_quick("razin-cohen");
}

fn is_precondition<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Precondition { .. }))
}

#[test]
fn saxe_preconditions_rejected() {
    assert!(is_precondition(saxe::BalancedMode::new(-1.0, 0.1, 1.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, 0.0, 1.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, 0.1, 0.0)));
    assert!(is_precondition(saxe::BalancedMode::new(1.0, f64::NAN, 1.0)));
    let m = saxe::BalancedMode::new(2.0, 0.1, 1.0).unwrap();
    assert!(is_precondition(m.u(&-1.0)));
    assert!(is_precondition(m.time_to(&3.0)));
    assert!(is_precondition(saxe::UnbalancedMode::new(1.0, 0.3, -0.3, 1.0)));
    assert!(is_precondition(saxe::DeepBalancedMode::new(1, 1.0, 0.1, 1.0)));
    assert!(is_precondition(saxe::DeepBalancedMode::new(3, 1.0, 1.5, 1.0)));
    let d = saxe::DeepBalancedMode::new(3, 1.0, 0.1, 1.0).unwrap();
    assert!(is_precondition(d.time_of(&1.0)));
}

#[test]
#[ignore]
fn scan_l1_seeds() {
    for (n, d, k) in [(10usize, 20usize, 2usize), (20, 40, 3), (12, 24, 2)] {
        for seed in 0..12u64 {
            let mut rng = data::rng(seed);
            let x = data::gaussian(d, n, 1.0, &mut rng);
            let mut beta = data::sparse_row(d, k, &mut rng);
            for b in beta.as_mut_slice() {
                if *b != 0.0 {
                    *b = b.signum() * (0.5 + b.abs());
                }
            }
            let c = dg::l1_certificate(&x, beta.as_slice(), 1e-12).unwrap();
            eprintln!("{n} {d} {k} seed {seed}: {c}");
        }
    }
}
