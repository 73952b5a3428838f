//! `[reference]` sections: every kind has an example that holds, a wrong reference (perturbed
//! data or a wrong time constant) fails its verdict, and the loss's time constant `scale` means
//! $\tau\dot W = -\nabla\ell$, checked against the logistic mode written out here.

use linflow::config::{ExperimentSpec, PrecisionChoice, RunReport};
use linflow::verdict::Status;
use std::path::Path;

mod common;
use common::{linflow, text, tmp};

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(format!("{name}.toml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `base` with the first `from` replaced by `to`.
fn variant(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "`{from}` not in the base file");
    base.replacen(from, to, 1)
}

/// The reference's verdict: the last one, whose quantity the reference names.
fn reference_verdict(r: &RunReport) -> &linflow::config::Verdict {
    r.verdicts.last().expect("a reference adds a verdict")
}

fn run(body: &str) -> RunReport {
    ExperimentSpec::parse(body, "t").unwrap().run(None).unwrap()
}

/// The examples of every kind, the quantity their reference compares, and a wrong reference.
const KINDS: [(&str, &str, &str, &str); 7] = [
    (
        "reference_saxe",
        "Saxe modes",
        "kind = \"saxe_modes\"",
        "kind = \"saxe_modes\"\ndata = [[\"301/100\", 0], [0, 1]]",
    ),
    ("reference_riccati", "Riccati", "kind = \"riccati\"", "kind = \"riccati\"\ndata = [[2, 1], [0, \"1001/1000\"]]"),
    ("reference_diagonal", "diagonal", "kind = \"diagonal\"", "kind = \"diagonal\"\ndata = [[1, -2, \"501/1000\"]]"),
    (
        "reference_hyperbolic_entropy",
        "t -> infinity",
        "kind = \"hyperbolic_entropy\"",
        "kind = \"hyperbolic_entropy\"\ndata = [[\"1001/1000\"]]",
    ),
    (
        "reference_kempf_ness",
        "|W|^2/2",
        "kind = \"kempf_ness\"",
        "kind = \"kempf_ness\"\ndata = [[1, 0], [0, \"1001/1000\"]]",
    ),
    ("reference_balancing", "regularizer flow", "kind = \"balancing\"", "kind = \"balancing\"\ntau = \"101/100\""),
    ("reference_moment_map", "moment-map flow", "kind = \"balancing\"", "kind = \"balancing\"\ntau = \"1001/1000\""),
];

#[test]
fn every_reference_example_holds_and_a_wrong_reference_fails() {
    for (name, quantity, from, wrong) in KINDS {
        let body = example(name);
        let r = run(&body);
        let v = reference_verdict(&r);
        assert!(v.report.quantity.contains(quantity), "{name}: {}", r.table());
        assert_eq!(v.status, Status::Holds, "{name}: {}", r.table());
        assert!(v.report.checks >= 1 && v.report.items >= 1, "{name}: nothing compared");
        assert!(r.passed(), "{name}: {}", r.table());
        // Negative control: the same run against a closed form for other data or another time
        // constant. The perturbations are 1e-3 relative, far above every example's tolerance.
        let r = run(&variant(&body, from, wrong));
        let v = reference_verdict(&r);
        assert_eq!(v.status, Status::Fails, "{name} with a wrong reference: {}", r.table());
        assert!(v.report.worst_rel > 10.0 * v.tolerance, "{name}: {}", r.table());
        assert!(!r.passed());
    }
}

#[test]
fn check_prints_the_reference_verdict_beside_the_laws_and_exits_by_it() {
    let dir = tmp("cli");
    let ok = linflow(&["check", "examples/reference_saxe.toml"]);
    let t = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{t}");
    assert!(t.contains("balancedness") && t.contains("product (Saxe modes)"), "{t}");
    let line = t.lines().find(|l| l.contains("Saxe modes")).unwrap();
    assert!(line.ends_with("holds"), "{line}");
    // A wrong time constant (tau = 1 instead of the file's 2) fails the check.
    let wrong = dir.join("wrong.toml");
    let body = variant(&example("reference_saxe"), "kind = \"saxe_modes\"", "kind = \"saxe_modes\"\ntau = 1");
    std::fs::write(&wrong, body).unwrap();
    let bad = linflow(&["check", wrong.to_str().unwrap()]);
    let t = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{t}");
    let line = t.lines().find(|l| l.contains("Saxe modes")).unwrap();
    assert!(line.ends_with("FAILS"), "{line}");
}

#[test]
fn summary_json_carries_the_reference_verdict() {
    let dir = tmp("summary");
    let out = dir.join("run");
    let o = linflow(&["run", "examples/reference_riccati.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let verdicts = s["verdicts"].as_array().unwrap();
    let v = verdicts.iter().find(|v| v["quantity"].as_str().unwrap().contains("Riccati")).expect("reference verdict");
    assert_eq!(v["status"], "holds");
    assert!(v["checks"].as_u64().unwrap() >= 4);
}

/// Depth-2 Saxe flow on Φ = diag(3, 1) from W_1 = W_2 = I/2 with time constant `scale`.
fn saxe2(scale: &str, t1: &str) -> String {
    format!(
        r#"
precision = "mp:128"
[model]
arch = "deep_linear"
widths = [2, 2, 2]
[loss]
kind = "target"
target = [[3, 0], [0, 1]]
scale = {scale}
[init]
kind = "identity"
scale = "1/2"
[method]
kind = "gradient_flow"
integrator = {{ kind = "rk8", h = "1/100" }}
[run]
t1 = {t1}
save = "final"
[reference]
kind = "saxe_modes"
tolerance = 1e-12
"#
    )
}

#[test]
fn the_loss_scale_is_saxes_time_constant() {
    // τu̇ = 2u(s − u) from u0 = 1/4: u(t) = s/(1 + e^{−2st/τ}(s/u0 − 1)) for each mode, written
    // out here in f64 (independent of the closed-form module); the run is 128-bit RK8, whose
    // error at h = 1/100 is far below f64's rounding, so 1e-14 bounds the f64 evaluation.
    let logistic = |s: f64, t: f64, tau: f64| s / (1.0 + (-2.0 * s * t / tau).exp() * (s / 0.25 - 1.0));
    for (scale, tau) in [("2", 2.0), ("\"1/3\"", 1.0 / 3.0)] {
        let r = run(&saxe2(scale, "1"));
        assert_eq!(reference_verdict(&r).status, Status::Holds, "{}", r.table());
        let w = &r.trajectory.states.last().unwrap().blocks;
        let p = w[1].matmul(&w[0]);
        for (i, s) in [3.0, 1.0].into_iter().enumerate() {
            let want = logistic(s, 1.0, tau);
            assert!((p.get(i, i) - want).abs() < 1e-14, "tau {tau}, mode {s}: {} vs {want}", p.get(i, i));
        }
        assert!(p.get(0, 1).abs() < 1e-14 && p.get(1, 0).abs() < 1e-14);
        // Negative control: τ = 1 is a different flow.
        assert!((p.get(0, 0) - logistic(3.0, 1.0, 1.0)).abs() > 1e-3);
    }
}

#[test]
fn references_that_cannot_describe_the_run_are_refused_naming_the_key() {
    let saxe = example("reference_saxe");
    let cases: [(String, &str); 6] = [
        (variant(&saxe, "kind = \"saxe_modes\"", "kind = \"saxe\""), "reference.kind"),
        (variant(&saxe, "kind = \"saxe_modes\"", "kind = \"riccati\""), "reference.kind"),
        (variant(&saxe, "tolerance = 1e-8 ", "tolerance = -1 "), "reference.tolerance"),
        (variant(&saxe, "kind = \"saxe_modes\"", "kind = \"saxe_modes\"\nfoo = 1"), "reference.foo"),
        (variant(&saxe, "kind = \"saxe_modes\"", "kind = \"saxe_modes\"\ntau = 0"), "reference.tau"),
        (variant(&saxe, "scale = 2 ", "scale = 0 "), "loss.scale"),
    ];
    for (body, key) in cases {
        let e = ExperimentSpec::parse(&body, "t").err().unwrap_or_else(|| panic!("accepted: {key}")).to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
    // A heavy-ball flow has no time constant scale; a discrete method no closed form here.
    let hb = variant(&saxe, "kind = \"gradient_flow\"", "kind = \"heavy_ball_flow\"\nlambda = 1");
    assert!(ExperimentSpec::parse(&hb, "t").unwrap_err().to_string().contains("loss.scale"));
    let gd = variant(
        &variant(
            &saxe,
            "kind = \"gradient_flow\"\nintegrator = { kind = \"rk4\", h = \"1/100\" }",
            "kind = \"gd\"\neta = \"1/10\"",
        ),
        "t1 = 4\nsave = { times = [1, 2, 3] }",
        "steps = 10\nsave = \"all\"",
    );
    let gd = variant(&gd, "scale = 2 ", "scale = 1 ");
    let e = ExperimentSpec::parse(&gd, "t").unwrap_err().to_string();
    assert!(e.contains("reference.kind") && e.contains("discrete"), "{e}");
    // An unaligned start is refused, not compared.
    let unaligned =
        variant(&saxe, "kind = \"identity\"\nscale = \"1/2\"", "kind = \"gaussian\"\nscale = \"1/2\"\nseed = 3");
    let e = ExperimentSpec::parse(&unaligned, "t").unwrap().run(None).unwrap_err().to_string();
    assert!(e.contains("reference.kind") && e.contains("aligned"), "{e}");
    // Rationals lack the closed forms' functions: refused before the run, naming the key.
    let e = ExperimentSpec::parse(&saxe, "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap_err().to_string();
    assert!(e.contains("reference.kind"), "{e}");
}

/// Taylor's method and Tsit5 from experiment files. The file's horizon is exact (the solver runs
/// the field scaled by c = t1·speed, here c = 4·(1/2) = 2 with the time constant τ = 2): Taylor's
/// method scales its order-k coefficients by c^k. At 256 bits with tolerance 2^-250 (about 6e-76
/// per step, a few hundred steps) the Saxe modes agree to 1e-60, far below anything an unscaled
/// series could reach (the wrong time scale moves the modes by O(1), the negative control). Tsit5
/// at rtol = atol = 1e-12 in f64 agrees to 1e-9 (global error ~ steps × tolerance, conditioning
/// of the logistic modes O(10)).
#[test]
fn taylor_and_tsit5_from_files_meet_the_saxe_reference() {
    let base = example("reference_saxe");
    let rk4 = "integrator = { kind = \"rk4\", h = \"1/100\" }";
    let taylor = variant(
        &variant(
            &variant(&base, "precision = \"f64\"", "precision = \"mp:256\""),
            rk4,
            "integrator = { kind = \"taylor\", tol = \"2^-250\" }",
        ),
        "tolerance = 1e-8",
        "tolerance = 1e-60",
    );
    let r = run(&taylor);
    let v = reference_verdict(&r);
    assert_eq!(v.status, Status::Holds, "{}", r.table());
    assert!(r.passed(), "{}", r.table());
    // Negative control: the same run against the closed form with τ = 1 fails.
    let wrong = run(&variant(&taylor, "kind = \"saxe_modes\"", "kind = \"saxe_modes\"\ntau = 1"));
    assert_eq!(reference_verdict(&wrong).status, Status::Fails, "{}", wrong.table());

    let tsit5 = variant(
        &variant(&base, rk4, "integrator = { kind = \"tsit5\", rtol = 1e-12, atol = 1e-12 }"),
        "tolerance = 1e-8",
        "tolerance = 1e-9",
    );
    let r = run(&tsit5);
    assert_eq!(reference_verdict(&r).status, Status::Holds, "{}", r.table());
    // Exact rationals cannot run either: refused naming the integrator's kind.
    let exact = variant(&tsit5, "precision = \"f64\"", "precision = \"exact\"");
    let err = ExperimentSpec::parse(&exact, "t").and_then(|s| s.run(None)).unwrap_err().to_string();
    assert!(err.contains("integrator") || err.contains("reference"), "{err}");
}
