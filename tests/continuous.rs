//! The continuous-time experiments in quick mode: each runs into a fresh directory, passes every
//! check and writes at least one figure.

use linflow::experiments::reproduce;
use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-continuous-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check(name: &str) {
    let dir = out_dir(name);
    let t = std::time::Instant::now();
    let s = reproduce(name, &dir, true).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let failed: Vec<String> = s
        .checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| format!("{}: observed {:e}, bound {:e}", c.name, c.observed, c.tolerance))
        .collect();
    assert!(failed.is_empty(), "{name}: failed checks {failed:#?}\nnotes {:#?}", s.notes);
    assert!(!s.checks.is_empty());
    assert!(s.figures.iter().any(|f| f.ends_with(".png")), "{name}: no figure");
    for f in &s.figures {
        assert!(dir.join(name).join(f).exists(), "{f} missing");
    }
    assert!(dir.join(name).join("summary.json").exists());
    eprintln!("{name}: {} checks in {secs:.2} s", s.checks.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gf_conservation_quick() {
    check("gf-conservation");
}

#[test]
fn precision_ladder_quick() {
    check("precision-ladder");
}

#[test]
fn orders_quick() {
    check("orders");
}
