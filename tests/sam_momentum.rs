//! Every SAM / BAR / momentum experiment runs in quick mode and all its checks hold.

use linflow::experiments::reproduce;

fn check(name: &str) {
    let dir = std::env::temp_dir().join(format!("linflow-sam-momentum-{}-{name}", std::process::id()));
    let s = reproduce(name, &dir, true).unwrap();
    for c in &s.checks {
        println!(
            "{name}: {} {} observed {:e} tolerance {:e}",
            if c.pass { "pass" } else { "FAIL" },
            c.name,
            c.observed,
            c.tolerance
        );
    }
    for n in &s.notes {
        println!("{name}: note: {n}");
    }
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.pass).collect();
    assert!(failed.is_empty(), "{name}: failed {failed:#?}\nnotes {:#?}", s.notes);
    assert!(!s.checks.is_empty(), "{name} has no checks");
    assert!(s.figures.iter().any(|f| f.ends_with(".png")), "{name} drew no figure");
    assert!(dir.join(name).join("summary.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sam_balancedness() {
    check("sam-balancedness");
}

#[test]
fn momentum_lambda() {
    check("momentum-lambda");
}

#[test]
fn bar() {
    check("bar");
}

#[test]
fn sam_diagonal() {
    check("sam-diagonal");
}

#[test]
fn sam_lora() {
    check("sam-lora");
}
