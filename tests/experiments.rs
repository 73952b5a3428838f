//! Every named experiment, in quick mode, through the same harness as `linflow reproduce`: each
//! must make at least one check, pass every check, and write every figure it lists (non-empty).
//! The claims themselves compare measurements with closed forms, exact identities and
//! higher-precision runs; the tests named by concept (tests/closed_forms.rs, tests/fibres.rs, …)
//! compare the measurements with independent truths directly.
//!
//! No experiment is left out: `linflow reproduce all --quick` takes 62 s of CPU (debug binary,
//! 78 s wall on 2 shared cores), and this test about 170 s wall when other builds share the cores.

use linflow::experiments::{self, Check, Summary};
use std::fmt::Write as _;

#[test]
fn every_experiment_passes_in_quick_mode() {
    let dir = std::env::temp_dir().join(format!("linflow-experiments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let all = experiments::all();
    assert!(all.len() >= 20, "the registry lists {} experiments", all.len());
    let t0 = std::time::Instant::now();
    let index = experiments::reproduce_all(&dir, true, false).unwrap();
    eprintln!("{} experiments in {:.1} s", index.experiments.len(), t0.elapsed().as_secs_f64());
    let names: Vec<&str> = index.experiments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, all.iter().map(|e| e.name).collect::<Vec<_>>(), "the index follows the registry");
    let listed: experiments::Index =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(listed.experiments.len(), index.experiments.len());
    let md = std::fs::read_to_string(dir.join("index.md")).unwrap();

    let mut failures = Vec::new();
    let mut listing = String::new();
    for e in &index.experiments {
        if e.status != "pass" {
            failures.push(format!("{}: {} (failed {:?}, error {:?})", e.name, e.status, e.failed, e.error));
        }
        if !md.contains(&format!("[{}]", e.name)) {
            failures.push(format!("{}: missing from index.md", e.name));
        }
        let summary = dir.join(&e.name).join("summary.json");
        let s: Summary = match std::fs::read_to_string(&summary).map(|t| serde_json::from_str(&t)) {
            Ok(Ok(s)) => s,
            _ => {
                failures.push(format!("{}: summary.json missing or unreadable", e.name));
                continue;
            }
        };
        if s.name != e.name {
            failures.push(format!("{}: summary is named `{}`", e.name, s.name));
        }
        if s.checks.is_empty() || s.checks.len() != e.checks_total {
            failures.push(format!(
                "{}: {} checks in summary.json, {} in the index",
                e.name,
                s.checks.len(),
                e.checks_total
            ));
        }
        for c in s.checks.iter().filter(|c| !c.pass) {
            failures.push(format!(
                "{}: check `{}` failed: observed {:e}, tolerance {:e}",
                e.name, c.name, c.observed, c.tolerance
            ));
        }
        if e.figures.is_empty() {
            failures.push(format!("{}: drew no figure", e.name));
        }
        for f in &e.figures {
            match std::fs::metadata(dir.join(f)) {
                Ok(m) if m.len() > 0 => {}
                Ok(_) => failures.push(format!("{f}: empty")),
                Err(_) => failures.push(format!("{f}: missing")),
            }
            // Every figure comes as PNG (800×560), SVG and CSV.
            if let Some(stem) = f.strip_suffix(".png") {
                for ext in ["svg", "csv"] {
                    if !e.figures.contains(&format!("{stem}.{ext}")) {
                        failures.push(format!("{stem}.{ext}: not written beside the PNG"));
                    }
                }
                match image::open(dir.join(f)) {
                    Ok(img) if (img.width(), img.height()) == (800, 560) => {}
                    Ok(img) => failures.push(format!("{f}: {}x{} pixels", img.width(), img.height())),
                    Err(err) => failures.push(format!("{f}: not a PNG: {err}")),
                }
            }
        }
        for c in &s.checks {
            let _ = writeln!(listing, "check\t{}\t{}", e.name, c.name);
        }
        for f in &e.figures {
            let _ = writeln!(listing, "figure\t{f}");
        }
    }
    // The names of every check and figure, for comparing two versions of the registry.
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("experiments-quick-names.txt"), listing)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_summary_without_checks_or_with_a_failed_check_does_not_pass() {
    // The negative control of the table test's criterion.
    let mut s = Summary::new("x", "y");
    assert!(!s.passed(), "nothing examined is not a pass");
    s.check(Check::at_most("ok", "1 <= 2", 1.0, 2.0));
    assert!(s.passed());
    s.check(Check::at_most("nan", "NaN is no measurement", f64::NAN, 2.0));
    assert!(!s.passed());
    let mut s = Summary::new("x", "y");
    s.check(Check::at_least("low", "1 >= 2 is false", 1.0, 2.0));
    assert!(!s.passed());
}

/// Every experiment at full size (slow in the test profile: `cargo test --release --test
/// experiments -- --ignored`). With `LINFLOW_EXPERIMENTS_OUT=DIR` set, the results stay in `DIR`.
#[test]
#[ignore]
fn every_experiment_passes_at_full_size() {
    let keep = std::env::var_os("LINFLOW_EXPERIMENTS_OUT").map(std::path::PathBuf::from);
    let dir = keep
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("linflow-experiments-full-{}", std::process::id())));
    let index = experiments::reproduce_all(&dir, false, false).unwrap();
    let bad: Vec<String> = index
        .experiments
        .iter()
        .filter(|e| e.status != "pass")
        .map(|e| format!("{}: {} {:?} {:?}", e.name, e.status, e.failed, e.error))
        .collect();
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
