//! The foundation's named experiments pass in quick mode and write their summaries and figures.

use rstest::rstest;

#[rstest]
#[case("gd-drift-exact")]
#[case("diagonal-drift-exact")]
#[case("sam-drift-exact")]
fn named_experiment_passes(#[case] name: &str) {
    let out = std::env::temp_dir().join(format!("linflow-foundation-{}-{name}", std::process::id()));
    let s = linflow::experiments::reproduce(name, &out, true).unwrap();
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.pass).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(s.checks.len() >= 4);
    assert!(out.join(name).join("summary.json").exists());
    assert!(s.figures.iter().any(|f| f.ends_with(".png")));
}
