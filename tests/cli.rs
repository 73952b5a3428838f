//! The `linflow` command line: exit codes, error messages on bad input, outputs of `run`, `check`
//! and `sweep`.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::Output;

mod common;
use common::{linflow, text, tmp, GD_FILE as BASE};

/// Writes `BASE` with `from` replaced by `to` and runs `check` on it.
fn check_variant(dir: &Path, name: &str, from: &str, to: &str, extra: &[&str]) -> Output {
    assert!(BASE.contains(from), "{from} not in the base file");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, BASE.replacen(from, to, 1)).unwrap();
    let mut args = vec!["check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    linflow(&args)
}

#[test]
fn check_exact_reports_zero_deviation_on_the_shipped_gd_example() {
    let o = linflow(&["check", "examples/gd_drift.toml", "--exact"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("0 (exact)") && t.contains("holds"), "{t}");
}

#[test]
fn shipped_examples_hold_their_laws() {
    for f in ["diagonal_drift", "usam_factor", "heavy_ball_diagonal", "gradient_flow"] {
        let o = linflow(&["check", &format!("examples/{f}.toml")]);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", text(&o));
    }
    // SAM needs a square root: at 256 bits its identity holds to rounding.
    let o = linflow(&["check", "examples/sam_factor.toml", "--bits", "256"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_failing_law_exits_with_1() {
    // A zero tolerance in f64 cannot be met by rounded arithmetic: the verdict must be "FAILS".
    let dir = tmp("fail");
    let o = check_variant(&dir, "strict", "steps = 5", "steps = 5\n[check]\ntolerance = 0", &["--f64"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILS"));
}

#[test]
fn bad_input_names_the_field_and_exits_with_2() {
    let dir = tmp("bad");
    let cases: &[(&str, &str, &str, &str)] = &[
        ("unknown-key", "widths = [2, 3, 2]", "widths = [2, 3, 2]\nwidht = 3", "model.widht"),
        ("zero-width", "widths = [2, 3, 2]", "widths = [2, 0, 2]", "widths"),
        ("one-width", "widths = [2, 3, 2]", "widths = [2]", "widths"),
        ("eta-zero", "eta = \"1/10\"", "eta = 0", "method.eta"),
        ("eta-negative", "eta = \"1/10\"", "eta = -0.1", "method.eta"),
        ("eta-nan", "eta = \"1/10\"", "eta = nan", "method.eta"),
        ("eta-text", "eta = \"1/10\"", "eta = \"fast\"", "method.eta"),
        ("rho-negative", "kind = \"gd\"\neta = \"1/10\"", "kind = \"usam\"\neta = \"1/10\"\nrho = -1", "method.rho"),
        ("missing-steps", "steps = 5", "", "run.steps"),
        ("missing-section", "[init]", "[initialization]", "init"),
        ("target-shape", "target = [[1, 0], [0, 1]]", "target = [[1, 0, 0], [0, 1, 0]]", "dimension mismatch"),
        ("ragged", "target = [[1, 0], [0, 1]]", "target = [[1, 0], [0]]", "loss.target"),
        ("not-toml", "[run]", "[run", "not valid TOML"),
        ("unknown-method", "kind = \"gd\"", "kind = \"adam\"", "method.kind"),
        ("bad-precision", "[model]", "precision = \"quad\"\n[model]", "precision"),
    ];
    for (name, from, to, needle) in cases {
        let o = check_variant(&dir, name, from, to, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        assert!(t.contains(needle), "{name}: message should name `{needle}`: {t}");
        assert!(!t.contains("panicked"), "{name}: {t}");
    }
    let o = check_variant(&dir, "bits", "steps = 5", "steps = 5", &["--bits", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bits"));
    let o = linflow(&["check", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no/such/file.toml"));
}

#[test]
fn exact_mode_rejects_what_needs_a_square_root() {
    let o = linflow(&["check", "examples/sam_factor.toml", "--exact"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).to_lowercase().contains("square root"), "{}", text(&o));
}

#[test]
fn a_diverging_run_stops_and_keeps_the_last_finite_state() {
    let dir = tmp("diverge");
    let out = dir.join("out");
    let o = linflow(&["run", "examples/diverging.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Diverged"), "{}", text(&o));
    let traj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trajectory.json")).unwrap()).unwrap();
    let step = traj["outcome"]["Diverged"]["step"].as_u64().or_else(|| traj["outcome"]["step"].as_u64());
    let step = step.unwrap_or_else(|| panic!("outcome names the step: {}", traj["outcome"]));
    assert!(step > 0 && step < 1000);
    // The last saved state is the one before the diverging step, and it is finite.
    let last = traj["states"].as_array().unwrap().last().unwrap().to_string();
    assert!(!last.contains("null") && !last.contains("NaN") && !last.contains("inf"), "{last}");
    assert_eq!(traj["steps"].as_array().unwrap().last().unwrap().as_u64(), Some(step - 1));
}

#[test]
fn an_error_leaves_earlier_outputs_whole() {
    let dir = tmp("atomic");
    let out = dir.join("out");
    let o = linflow(&["run", "examples/gd_drift.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let before = std::fs::read(out.join("trajectory.json")).unwrap();
    serde_json::from_slice::<serde_json::Value>(&before).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, BASE.replace("eta = \"1/10\"", "eta = -1")).unwrap();
    let o = linflow(&["run", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(out.join("trajectory.json")).unwrap(), before);
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")));
}

#[test]
fn sharded_sweep_merges_to_the_full_table() {
    let dir = tmp("sweep");
    let grid = ["--grid", "method.eta=0.05,0.1,0.2", "--grid", "init.seed=1,2"];
    let full = dir.join("full");
    let mut args = vec!["sweep", "examples/gd_drift.toml", "--out", full.to_str().unwrap()];
    args.extend_from_slice(&grid);
    let o = linflow(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut shards = Vec::new();
    for i in 0..2 {
        let d = dir.join(format!("shard{i}"));
        let shard = format!("{i}/2");
        let mut args = vec!["sweep", "examples/gd_drift.toml", "--out", d.to_str().unwrap(), "--shard", &shard];
        args.extend_from_slice(&grid);
        let o = linflow(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        // Disjoint halves: 3 of the 6 points each.
        assert_eq!(std::fs::read_dir(d.join("points")).unwrap().count(), 3);
        shards.push(d);
    }
    let merged = dir.join("merged");
    let o = linflow(&[
        "sweep",
        "--merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = std::fs::read_to_string(full.join("sweep.csv")).unwrap();
    let b = std::fs::read_to_string(merged.join("sweep.csv")).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 7, "{a}");
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Significant digits of a decimal string such as `-1.2345e-7` or `0.000123`.
fn significant_digits(s: &str) -> usize {
    let mant = s.split(['e', 'E']).next().unwrap();
    mant.chars().filter(|c| c.is_ascii_digit()).collect::<String>().trim_start_matches('0').len()
}

#[test]
fn a_depth_one_check_says_nothing_checked_and_exits_1() {
    // widths = [2, 2]: one block, so no balancedness matrix exists to check.
    let dir = tmp("depth1");
    let o = check_variant(&dir, "depth1", "widths = [2, 3, 2]", "widths = [2, 2]", &["--exact"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("nothing checked") && !t.contains("holds"), "{t}");
    assert!(t.contains("checked 0 of 1 laws"), "{t}");
    // Control: depth 2 is checked and holds, and the report counts what it compared.
    let o = check_variant(&dir, "depth2", "steps = 5", "steps = 5", &["--exact"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("holds") && t.contains("checked 1 of 1 laws: 5 checks, 45 items, over 5 steps"), "{t}");
}

#[test]
fn a_non_finite_deviation_fails_and_names_where() {
    // A 1-1-1 network with target 1e200 in f64: the state after one step is finite (1e199), but
    // the law's prediction squares the gradient and overflows. (With 2x2 blocks the loss after
    // one step is already NaN, and the run stops as diverged before the law sees the step.)
    let dir = tmp("nan");
    let o = check_variant(
        &dir,
        "huge",
        "widths = [2, 3, 2]\n\n[loss]\nkind = \"target\"\ntarget = [[1, 0], [0, 1]]",
        "widths = [1, 1, 1]\n\n[loss]\nkind = \"target\"\ntarget = [[1e200]]",
        &["--f64"],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("FAILS") && t.contains("not finite") && t.contains("at step"), "{t}");
}

#[test]
fn a_diverged_run_fails_its_laws_instead_of_holding_them() {
    let o = linflow(&["check", "examples/diverging.toml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("did not reach its horizon") && !t.contains("holds"), "{t}");
}

#[test]
fn the_nesterov_file_runs_and_states_what_it_checks() {
    let dir = tmp("nesterov");
    let out = dir.join("out");
    let o = linflow(&["run", "examples/nesterov.toml", "--out", out.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("no exact per-step law is known for nesterov on deep linear [2, 3, 2]: nothing checked"), "{t}");
    let traj = json(&out.join("trajectory.json"));
    assert_eq!(traj["steps"].as_array().unwrap().last().unwrap().as_u64(), Some(200));
    assert_eq!(traj["outcome"]["status"], "done");
    // `check` gives no verdict without evidence.
    let o = linflow(&["check", "examples/nesterov.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn outputs_are_written_at_the_run_precision() {
    let dir = tmp("digits");
    // 256 bits: the losses carry about 79 significant digits, never rounded to f64.
    let out = dir.join("mp");
    let o = linflow(&["run", "examples/gd_drift.toml", "--bits", "256", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = json(&out.join("summary.json"));
    let fl = s["final_loss"].as_str().unwrap_or_else(|| panic!("final_loss as text: {}", s["final_loss"]));
    assert!(significant_digits(fl) >= 70, "{fl}");
    let traj = std::fs::read_to_string(out.join("trajectory.json")).unwrap();
    assert!(!traj.contains("null"), "no value may be written as null");
    // Exact: times are k/10 and states exact fractions.
    let out = dir.join("q");
    let o = linflow(&["run", "examples/gd_drift.toml", "--exact", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let traj = json(&out.join("trajectory.json"));
    let times: Vec<&str> = traj["times"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(times, ["0", "1/10", "1/5", "3/10"]);
    let last = traj["states"].as_array().unwrap().last().unwrap().to_string();
    assert!(last.contains('/'), "{last}");
    let dev = &traj["laws"][0]["series_text"];
    assert_eq!(dev.as_array().unwrap().len(), 3, "{dev}");
    assert!(dev.as_array().unwrap().iter().all(|p| p[1] == "0"), "{dev}");
}

#[test]
fn a_value_beyond_f64_range_is_written_exactly() {
    // Target 1e200 at 256 bits: the loss is about 1e400, beyond f64 but not beyond MPFR.
    let dir = tmp("huge");
    let path = dir.join("huge.toml");
    let toml = BASE
        .replacen("target = [[1, 0], [0, 1]]", "target = [[\"1e200\", 0], [0, \"1e200\"]]", 1)
        .replacen("eta = \"1/10\"", "eta = \"1e-500\"", 1)
        .replacen("steps = 5", "steps = 1", 1);
    std::fs::write(&path, toml).unwrap();
    let out = dir.join("out");
    let o = linflow(&["run", path.to_str().unwrap(), "--bits", "256", "--out", out.to_str().unwrap()]);
    assert!(o.status.code().is_some_and(|c| c < 2), "{}", text(&o));
    let s = json(&out.join("summary.json"));
    let l0 = s["initial_loss"].as_str().unwrap_or_else(|| panic!("{}", s["initial_loss"]));
    // ½‖W − T‖² ≈ ½·2·10⁴⁰⁰ = 10⁴⁰⁰ (W is O(1)).
    assert!(l0.ends_with("e399") || l0.ends_with("e400"), "{l0}");
    assert!(significant_digits(l0) >= 70, "{l0}");
}

#[test]
fn a_run_replaces_its_directory_whole_and_cleans_temporaries() {
    let dir = tmp("whole");
    let out = dir.join("out");
    let o = linflow(&["run", "examples/gd_drift.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Leftovers of an interrupted run: a temporary file inside, a temporary directory beside.
    std::fs::write(out.join(".summary.json.tmp4242"), "partial").unwrap();
    std::fs::create_dir_all(dir.join(".out.tmp-4242")).unwrap();
    std::fs::write(dir.join(".out.tmp-4242/trajectory.json"), "partial").unwrap();
    let o = linflow(&["run", "examples/gradient_flow.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    assert!(!dir.join(".out.tmp-4242").exists());
    // All three files belong to the second run.
    let s = json(&out.join("summary.json"));
    let t = json(&out.join("trajectory.json"));
    assert_eq!(s["method"], t["method"]);
    assert_ne!(s["method"], "gd");
    // A directory holding files `run` did not write is not replaced.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = linflow(&["run", "examples/gd_drift.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("notes.txt"));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn partial_or_empty_merges_are_refused() {
    let dir = tmp("partial");
    let d = dir.join("shard0");
    let o = linflow(&[
        "sweep",
        "examples/gd_drift.toml",
        "--grid",
        "method.eta=0.05,0.1",
        "--shard",
        "0/2",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let merged = dir.join("merged");
    let o = linflow(&["sweep", "--merge", d.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("partial") && t.contains("1 of 2") && t.contains("missing 1"), "{t}");
    assert!(!merged.join("sweep.csv").exists());
    let o = linflow(&["sweep", "--merge", d.to_str().unwrap(), "--allow-partial", "--out", merged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(merged.join("sweep.csv")).unwrap().lines().count(), 2);
    // An empty set.
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("points")).unwrap();
    let o =
        linflow(&["sweep", "--merge", empty.to_str().unwrap(), "--allow-partial", "--out", merged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nothing to merge"), "{}", text(&o));
}

#[test]
fn a_different_grid_into_the_same_out_is_refused() {
    let dir = tmp("stale");
    let out = dir.join("out");
    let run =
        |grid: &str| linflow(&["sweep", "examples/gd_drift.toml", "--grid", grid, "--out", out.to_str().unwrap()]);
    let o = run("method.eta=0.05,0.1");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Same grid again: resumes (control).
    assert_eq!(run("method.eta=0.05,0.1").status.code(), Some(0));
    // Another grid: point-0.json would be stale (eta = 0.05 for a grid whose point 0 is 0.2).
    let o = run("method.eta=0.2,0.1");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("different sweep"), "{t}");
}

#[test]
fn malformed_grids_are_errors_naming_the_grid() {
    for g in ["method.eta=[1,2", "method.eta=0.1,["] {
        let o = linflow(&["sweep", "examples/gd_drift.toml", "--grid", g, "--out", tmp("badgrid").to_str().unwrap()]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{g}: {t}");
        assert!(t.contains("grid") && t.contains("unclosed"), "{g}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
}
