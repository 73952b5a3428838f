//! The `linflow` command line: exit codes, error messages on bad input, outputs of `run`, `check`
//! and `sweep`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn linflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linflow")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const BASE: &str = r#"
[model]
arch = "deep_linear"
widths = [2, 3, 2]

[loss]
kind = "target"
target = [[1, 0], [0, 1]]

[init]
kind = "gaussian"
scale = 0.5
seed = 1

[method]
kind = "gd"
eta = "1/10"

[run]
steps = 5
"#;

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
