//! The deep-matrix-factorization setting as experiment files: `observed`, `truth_norm`,
//! `reduction`, `per_layer`, `stop_loss` and `eta = { stable_fraction }`, each refused with an
//! error naming it when bad and checked against an independent truth; and `linflow sweep` over a
//! small grid against the library's own loop (CompletionProblem + descend).

use linflow::completion::{descend, effective_rank, singular_values, test_mse, CompletionProblem, DescentOptions};
use linflow::config::{ExperimentSpec, PrecisionChoice};
use linflow::model::{Loss, Reduction};
use linflow::prelude::*;
use linflow::sweep::PointResult;
use linflow::trajectory::Outcome;
use std::collections::HashSet;

mod common;
use common::{linflow, text, tmp, GD_FILE};

/// A small completion file that the tests vary one line at a time.
const DMF: &str = r#"
[model]
arch = "deep_linear"
widths = [4, 4, 4]

[loss]
kind = "completion"
truth = "low_rank"
rank = 2
truth_norm = 4
observed = 6
reduction = "mean"
seed = 1

[init]
kind = "gaussian"
per_layer = "end_to_end"
scale = 1e-2
seed = 2

[method]
kind = "gd"
eta = { stable_fraction = 1.5 }

[run]
steps = 50
stop_loss = 1e-6
save = "final"
"#;

fn variant(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "{from} not in the base file");
    base.replacen(from, to, 1)
}

/// `linflow check` on `body` must exit 2 with `field` in its message.
fn refused(body: &str, field: &str) {
    let dir = tmp("refused");
    let path = dir.join("f.toml");
    std::fs::write(&path, body).unwrap();
    let o = linflow(&["check", path.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{field}: {t}");
    assert!(!t.contains("panicked"), "{t}");
    assert!(t.contains(field), "`{field}` not in: {t}");
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let flow = "[method]\nkind = \"gradient_flow\"\nintegrator = { kind = \"rk4\", h = \"1/10\" }\n\n[run]\nt1 = 1\n";
    let dmf_flow = DMF.split("[method]").next().unwrap().to_string() + flow + "stop_loss = 1e-3\n";
    let cases: Vec<(String, &str)> = vec![
        (variant(DMF, "observed = 6", "observed = 0"), "loss.observed"),
        (variant(DMF, "observed = 6", "observed = 17"), "loss.observed"),
        (variant(DMF, "observed = 6", "observed = -3"), "loss.observed"),
        (variant(DMF, "observed = 6", "observed = 6\nfraction = 0.5"), "loss.observed"),
        (variant(DMF, "observed = 6", "observed = 6\nentries = [[0, 0, 1]]"), "loss.observed"),
        (variant(DMF, "truth_norm = 4", "truth_norm = -1"), "loss.truth_norm"),
        (variant(DMF, "truth_norm = 4", "truth_norm = \"x\""), "loss.truth_norm"),
        (variant(DMF, "truth = \"low_rank\"", "truth = \"gaussian\""), "loss.truth_norm"),
        (variant(DMF, "rank = 2", "rank = 5"), "loss.truth"),
        (variant(DMF, "reduction = \"mean\"", "reduction = \"median\""), "loss.reduction"),
        (variant(GD_FILE, "kind = \"target\"", "kind = \"target\"\nreduction = \"mean\""), "loss.reduction"),
        (variant(DMF, "per_layer = \"end_to_end\"", "per_layer = \"fan_in\""), "init.per_layer"),
        (variant(DMF, "widths = [4, 4, 4]", "widths = [4, 3, 4]"), "init.per_layer"),
        (variant(DMF, "kind = \"gaussian\"", "kind = \"orthogonal\""), "init.per_layer"),
        (variant(DMF, "scale = 1e-2", "scale = 0"), "init.scale"),
        (variant(DMF, "stop_loss = 1e-6", "stop_loss = -1"), "run.stop_loss"),
        (variant(DMF, "stop_loss = 1e-6", "stop_loss = \"1/0\""), "run.stop_loss"),
        (dmf_flow, "run.stop_loss"),
        (variant(DMF, "stable_fraction = 1.5", "stable_fraction = 0"), "method.eta.stable_fraction"),
        (variant(DMF, "{ stable_fraction = 1.5 }", "{ fraction = 1.5 }"), "method.eta.stable_fraction"),
        (variant(DMF, "reduction = \"mean\"", "reduction = \"half_sum\""), "method.eta"),
        (variant(DMF, "kind = \"gd\"", "kind = \"sam\"\nrho = 0.1"), "method.eta"),
        (format!("{DMF}\n[check]\nevery = 0\n"), "check.every"),
        (format!("{DMF}\n[check]\nevery = -2\n"), "check.every"),
        (DMF.split("[method]").next().unwrap().to_string() + flow + "\n[check]\nevery = 2\n", "check.every"),
    ];
    for (body, field) in &cases {
        refused(body, field);
    }
}

fn spec(body: &str) -> ExperimentSpec {
    ExperimentSpec::parse(body, "t").unwrap()
}

#[test]
fn observed_draws_exactly_k_distinct_entries_of_a_truth_with_the_given_norm_and_rank() {
    for k in [37usize, 100] {
        let body = variant(
            &variant(
                &variant(DMF, "widths = [4, 4, 4]", "widths = [10, 10, 10]"),
                "observed = 6",
                &format!("observed = {k}"),
            ),
            "rank = 2\ntruth_norm = 4",
            "rank = 3\ntruth_norm = 7",
        );
        let s = spec(&body);
        let truth = s.truth().unwrap().clone();
        let (model, _) = s.problem(&0.0f64).unwrap();
        let Loss::Completion { entries, reduction, .. } = &model.loss else { panic!("not a completion loss") };
        assert_eq!(*reduction, Reduction::Mean);
        assert_eq!(entries.len(), k);
        let distinct: HashSet<(usize, usize)> = entries.iter().map(|(i, j, _)| (*i, *j)).collect();
        assert_eq!(distinct.len(), k, "repeated positions");
        for (i, j, v) in entries {
            assert!(*i < 10 && *j < 10);
            assert_eq!(v.to_bits(), truth.get(*i, *j).to_bits(), "observed value is not the truth's");
        }
        // Frobenius norm 7: the rescaling rounds each entry once (1.1e-16 relative) and the sum
        // of 100 squares adds at most 100 roundings: 1e-13 relative is a wide margin.
        let fro = truth.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((fro - 7.0).abs() < 1e-13 * 7.0, "{fro}");
        // Rank 3: U V^T has three singular values of order the norm and seven at rounding level
        // (eps * sqrt(10 * 3) of sigma_1 from the products, 1e-13 with margin).
        let sv = singular_values(&truth).unwrap();
        assert!(sv[2] > 1e-3 * sv[0], "{sv:?}");
        assert!(sv[3] < 1e-13 * sv[0], "{sv:?}");
    }
}

#[test]
fn reductions_give_the_hand_computed_loss_exactly() {
    // W = [[1, 2], [3, 4]] against observed (0,0) = 1, (1,1) = 1/2, (0,1) = -2: residuals 0, 7/2, 4,
    // squares summing to 49/4 + 16 = 113/4 over m = 3 entries.
    let base = r#"
[model]
arch = "deep_linear"
widths = [2, 2]

[loss]
kind = "completion"
entries = [[0, 0, 1], [1, 1, "1/2"], [0, 1, -2]]
reduction = "mean"

[init]
kind = "explicit"
blocks = [[[1, 2], [3, 4]]]

[method]
kind = "gd"
eta = "1/10"

[run]
steps = 0
"#;
    for (r, want) in [("mean", "113/12"), ("half_sum", "113/8"), ("half_mean", "113/24")] {
        let body = variant(base, "reduction = \"mean\"", &format!("reduction = \"{r}\""));
        let report = spec(&body).run(Some(PrecisionChoice::Exact)).unwrap();
        assert_eq!(report.text.loss[0], want, "{r}");
    }
}

#[test]
fn per_layer_end_to_end_draws_scale_to_the_one_over_depth_over_root_width() {
    let body =
        variant(&variant(DMF, "widths = [4, 4, 4]", "widths = [10, 10, 10, 10]"), "observed = 6", "observed = 30");
    let body = variant(&body, "scale = 1e-2\nseed = 2", "scale = 1e-3\nseed = 5");
    let (_, p0) = spec(&body).problem(&0.0f64).unwrap();
    let arch = Arch::deep_linear(&[10, 10, 10, 10]).unwrap();
    let unit = linflow::init::gaussian(&arch, 1.0, &mut linflow::data::rng(5));
    let std = 1e-3f64.powf(1.0 / 3.0) / 10f64.sqrt();
    let (mut sq, mut n) = (0.0, 0.0);
    for (b, u) in p0.blocks.iter().zip(&unit.blocks) {
        for (x, z) in b.as_slice().iter().zip(u.as_slice()) {
            assert_eq!(x.to_bits(), (z * std).to_bits());
            sq += x * x;
            n += 1.0;
        }
    }
    // The sample standard deviation of 300 draws is within 20% of std (its relative standard
    // error is 1/sqrt(600) = 4%: 20% is five of them).
    assert!(((sq / n).sqrt() / std - 1.0).abs() < 0.2);
}

#[test]
fn stable_fraction_is_the_completion_rule() {
    let s = spec(DMF);
    let sigma = singular_values(s.truth().unwrap()).unwrap()[0];
    let (m, depth) = (6.0, 2.0);
    let want = 1.5 * m / (2.0 * depth * sigma.powf(2.0 - 2.0 / depth));
    assert_eq!(s.discrete().unwrap().0.eta().to_f64(), want);
}

#[test]
fn check_every_checks_the_drift_law_at_the_multiples_only() {
    // 50 GD steps (no stop): every = 7 checks steps 7, 14, ..., 49, i.e. 7 of them; the exact
    // eta^2 balancedness law holds at each (the same law checked at every step passes too).
    let body = variant(DMF, "stop_loss = 1e-6\n", "");
    let all = spec(&body).run(None).unwrap();
    let some = spec(&format!("{body}\n[check]\nevery = 7\n")).run(None).unwrap();
    let (a, b) = (&all.trajectory.laws[0], &some.trajectory.laws[0]);
    assert_eq!((a.checks, b.checks), (50, 50 / 7), "{} / {}", a.checks, b.checks);
    // Same trajectory: the monitor only observes.
    assert_eq!(all.trajectory.states.last(), some.trajectory.states.last());
    // The checked steps are a subset, so the worst deviation can only be smaller or equal.
    assert!(b.worst_rel <= a.worst_rel && all.passed() && some.passed(), "{}", some.table());
}

#[test]
fn stop_loss_stops_at_the_first_step_at_or_below_it() {
    let body = variant(DMF, "eta = { stable_fraction = 1.5 }", "eta = 0.05");
    let body = variant(&body, "scale = 1e-2", "scale = 1");
    let s = spec(&body);
    let (model, mut p) = s.problem(&0.0f64).unwrap();
    // The loss after 20 plain GD steps, then the threshold halfway to the loss after 21.
    let mut losses = vec![model.loss(&p)];
    let mut states = vec![p.clone()];
    for _ in 0..40 {
        let (_, g) = model.grad(&p);
        p.axpy(&-0.05, &g);
        losses.push(model.loss(&p));
        states.push(p.clone());
    }
    assert!(losses[21] < losses[20], "{losses:?}");
    let tol = 0.5 * (losses[20] + losses[21]);
    let first = losses.iter().position(|&l| l <= tol).unwrap();
    let with_tol = |steps: usize, tol: f64| {
        let b = variant(
            &variant(&body, "stop_loss = 1e-6", &format!("stop_loss = {tol:e}")),
            "steps = 50",
            &format!("steps = {steps}"),
        );
        spec(&b).run(None).unwrap()
    };
    let r = with_tol(40, tol);
    assert_eq!(r.trajectory.outcome, Outcome::Converged { step: first, loss: losses[first] });
    assert_eq!(r.trajectory.steps.last(), Some(&first));
    let last = r.trajectory.states.last().unwrap();
    for (a, b) in last.blocks.iter().zip(&states[first].blocks) {
        assert_eq!(a, b);
    }
    assert!(r.passed(), "{}", r.table());
    // One step short of it: the cap, said so, and the run fails.
    let r = with_tol(first - 1, tol);
    assert_eq!(
        r.trajectory.outcome,
        Outcome::NotConverged { steps: first - 1, loss: losses[first - 1], stop_loss: tol }
    );
    assert!(!r.passed() && !r.trajectory.outcome.is_done());
    // Already below at the start: step 0.
    let r = with_tol(40, 2.0 * losses[0]);
    assert_eq!(r.trajectory.outcome, Outcome::Converged { step: 0, loss: losses[0] });
}

#[test]
fn run_summary_has_the_test_error_and_effective_rank() {
    let dir = tmp("summary");
    let path = dir.join("dmf.toml");
    // Six entries of a 4x4 matrix are fitted in about 30 steps; 10 do not reach 1e-6.
    let body = variant(DMF, "steps = 50", "steps = 10");
    std::fs::write(&path, &body).unwrap();
    let out = dir.join("out");
    let o = linflow(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // The run says it stopped at the cap and exits 1.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(summary["outcome"]["status"], "not_converged");
    assert_eq!(summary["steps"], 10);
    // Independent: the final state's product against the truth, recomputed here.
    let s = spec(&body);
    let rows: Vec<Vec<Vec<String>>> = serde_json::from_value(summary["final_state"].clone()).unwrap();
    let blocks: Vec<Mat<f64>> = rows
        .iter()
        .map(|b| {
            Mat::try_from_rows(b.iter().map(|r| r.iter().map(|x| x.parse::<f64>().unwrap()).collect()).collect())
                .unwrap()
        })
        .collect();
    let w = blocks[1].matmul(&blocks[0]);
    let truth = s.truth().unwrap();
    let mse = (0..4)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .map(|(i, j)| (w.get(i, j) - truth.get(i, j)).powi(2))
        .sum::<f64>()
        / 16.0;
    // The states are written shortest-round-trip, so w is the run's own product.
    assert_eq!(summary["test_mse"].as_f64().unwrap(), mse);
    let er = summary["effective_rank"].as_f64().unwrap();
    assert_eq!(er, effective_rank(&singular_values(&w).unwrap()).unwrap());
    assert!((1.0..=4.0).contains(&er));
}

#[test]
fn cli_sweep_gives_the_library_loops_test_errors_to_the_bit() {
    let body = r#"
[model]
arch = "deep_linear"
widths = [20, 20, 20]

[loss]
kind = "completion"
truth = "low_rank"
rank = 2
truth_norm = 20
observed = 120
reduction = "mean"
seed = 3

[init]
kind = "gaussian"
per_layer = "end_to_end"
scale = 1e-3
seed = 4

[method]
kind = "gd"
eta = { stable_fraction = 1.5 }

[run]
steps = 400
stop_loss = 1e-6
save = "final"
"#;
    let dir = tmp("sweep");
    let path = dir.join("grid.toml");
    std::fs::write(&path, body).unwrap();
    let out = dir.join("out");
    let o = linflow(&[
        "sweep",
        path.to_str().unwrap(),
        "--grid",
        "model.widths=[20,20,20],[20,20,20,20]",
        "--grid",
        "loss.observed=120,200",
        "--out",
        out.to_str().unwrap(),
    ]);
    let points: Vec<PointResult> =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap_or_else(|_| text(&o))).unwrap();
    assert_eq!(points.len(), 4);
    let mut tests = Vec::new();
    for p in &points {
        let (depth, k) = ([2usize, 3][p.index / 2], [120usize, 200][p.index % 2]);
        let m = p.result.as_ref().unwrap();
        // The library's loop: the same instance, init, step rule and threshold.
        let prob = CompletionProblem::from_seed(20, 2, 20.0, k, 3).unwrap();
        let model = prob.model(depth).unwrap();
        let p0 = prob.init(depth, 1e-3, 4).unwrap();
        let eta = prob.step_size(depth, 1.5);
        let opts = DescentOptions { eta, tol: 1e-6, max_steps: 400, observe_every: usize::MAX };
        let d = descend(&model, &p0, &opts, |_, _, _| {}).unwrap();
        let w = model.end_to_end(&d.params);
        let want = test_mse(&w, &prob.truth).unwrap();
        // Same iterates (θ ← θ − η∇L with the one gradient), so the same bits; the JSON numbers
        // round-trip exactly (serde_json float_roundtrip).
        assert_eq!(m["eta"], eta, "point {}", p.index);
        assert_eq!(m["steps"], d.steps as f64, "point {}", p.index);
        assert_eq!(m["test_mse"].to_bits(), want.to_bits(), "point {}: {} vs {want}", p.index, m["test_mse"]);
        assert_eq!(m["effective_rank"], effective_rank(&singular_values(&w).unwrap()).unwrap());
        // The run's loss is recomputed from the dense product, descend's comes with the sparse
        // gradient: the same value rounded along two paths (a few ulps of a sum of <= 200 terms).
        assert!((m["final_loss"] - d.loss).abs() <= 1e-12 * d.loss, "{} vs {}", m["final_loss"], d.loss);
        tests.push(want);
    }
    // Four different instances or depths: four different errors (the comparison is not vacuous).
    let distinct: HashSet<u64> = tests.iter().map(|x| x.to_bits()).collect();
    assert_eq!(distinct.len(), 4, "{tests:?}");
}
