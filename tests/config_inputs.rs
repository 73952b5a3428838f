//! Experiment files as users write them: every number reaches the run exactly, every flow is
//! reachable from a file, and no input — however large, small or malformed — panics, aborts or
//! hangs: it runs, or it is refused with an error naming the key.

use linflow::config::{ExperimentSpec, Limits, PrecisionChoice, RunReport};
use linflow::decimal;
use linflow::error::Error;
use linflow::scalar::{Mp, Q};
use proptest::prelude::*;
use std::path::Path;
use std::process::Output;

mod common;
use common::{linflow, text, tmp, GD_FILE as GD};

const FLOW: &str = r#"
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
kind = "gradient_flow"
integrator = { kind = "rk4", h = "1/100" }

[run]
t1 = 1
"#;

/// `base` with `from` replaced by `to`.
fn variant(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "{from} not in the base file");
    base.replacen(from, to, 1)
}

/// Runs `linflow check` on `body` with extra arguments.
fn check_file(dir: &Path, name: &str, body: &str, extra: &[&str]) -> Output {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, body).unwrap();
    let mut args = vec!["check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    linflow(&args)
}

/// Asserts exit code 2 (bad input) with a message containing every one of `needles`.
fn refused(o: &Output, needles: &[&str]) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    for n in needles {
        assert!(t.contains(n), "`{n}` not in: {t}");
    }
}

/// The error of parsing and planning `body` (a run is never started).
fn plan_error(body: &str) -> String {
    match ExperimentSpec::parse(body, "t").and_then(|s| s.plan(s.precision).map(|_| ())) {
        Ok(()) => panic!("accepted:\n{body}"),
        Err(e) => e.to_string(),
    }
}

/// The last saved state at the run's precision: blocks, rows, entries as text.
fn last_state(r: &RunReport) -> &Vec<Vec<Vec<String>>> {
    r.text.states.last().expect("a run saves its initial state")
}

// ---------------------------------------------------------------------------------------------
// Sizes: checked before anything is allocated.

#[test]
fn widths_whose_product_overflows_are_refused_naming_the_key() {
    let e = plan_error(&variant(GD, "widths = [2, 3, 2]", "widths = [4294967296, 4294967296]"));
    assert!(e.contains("model.widths"), "{e}");
}

#[test]
fn huge_widths_with_many_samples_are_refused_before_generating_data() {
    let body = variant(
        &variant(GD, "widths = [2, 3, 2]", "widths = [2147483648, 2]"),
        "kind = \"target\"\ntarget = [[1, 0], [0, 1]]",
        "kind = \"regression\"\nsamples = 1000000000",
    );
    let e = plan_error(&body);
    assert!(e.contains("model.widths") || e.contains("loss.samples"), "{e}");
    // Moderate widths, but samples that would need terabytes of generated data.
    let body = variant(
        &variant(GD, "widths = [2, 3, 2]", "widths = [1000, 2]"),
        "kind = \"target\"\ntarget = [[1, 0], [0, 1]]",
        "kind = \"regression\"\nsamples = 100000000000",
    );
    let e = plan_error(&body);
    assert!(e.contains("loss.samples") && e.contains("--max-memory"), "{e}");
}

#[test]
fn a_wide_hidden_layer_is_refused_by_the_memory_estimate_and_a_flag_raises_the_limit() {
    // widths [2, 100000, 2]: the balancedness matrix alone is 10^10 entries (80 GB in f64).
    let e = plan_error(&variant(GD, "widths = [2, 3, 2]", "widths = [2, 100000, 2]"));
    assert!(e.contains("balancedness") && e.contains("--max-memory"), "{e}");
    // 20000: 3.2 GB per matrix; refused at the default 4 GiB, planned under a 1 TiB limit.
    let body = variant(GD, "widths = [2, 3, 2]", "widths = [2, 20000, 2]");
    let spec = ExperimentSpec::parse(&body, "t").unwrap();
    assert!(spec.plan(PrecisionChoice::F64).is_err());
    let big = Limits { max_memory: 1024.0 * (1u64 << 30) as f64, ..Limits::default() };
    let spec = ExperimentSpec::parse_with(&body, "t", &big).unwrap();
    let (bytes, _) = spec.plan(PrecisionChoice::F64).unwrap();
    // Independent count: three 20000² f64 matrices for the law check dominate.
    assert!(bytes > 3.0 * 8.0 * 4e8 && bytes < 2.0 * 3.0 * 8.0 * 4e8, "{bytes}");
    let dir = tmp("wide");
    let o = check_file(&dir, "wide", &variant(GD, "widths = [2, 3, 2]", "widths = [2, 100000, 2]"), &[]);
    refused(&o, &["model.widths", "--max-memory"]);
}

#[test]
fn huge_step_counts_and_horizons_are_refused_before_building_save_lists() {
    let e = plan_error(&variant(GD, "steps = 5", "steps = 4611686018427387904\nsave = \"all\""));
    assert!(e.contains("run."), "{e}");
    // Saving only the end leaves the work: refused by the operation estimate.
    let e = plan_error(&variant(GD, "steps = 5", "steps = 4611686018427387904\nsave = \"final\""));
    assert!(e.contains("run.steps") && e.contains("--max-ops"), "{e}");
    let e = plan_error(&variant(FLOW, "t1 = 1", "t1 = 9223372036854775807"));
    assert!(e.contains("run.") || e.contains("method.integrator.h"), "{e}");
    // An adaptive integrator saves every requested point: 2^62 of them cannot be held.
    let adaptive = variant(FLOW, "{ kind = \"rk4\", h = \"1/100\" }", "{ kind = \"dp5\", rtol = 1e-9, atol = 1e-12 }");
    let e = plan_error(&variant(&adaptive, "t1 = 1", "t1 = 1\nsave = { log = 4611686018427387904 }"));
    assert!(e.contains("run.save"), "{e}");
}

#[test]
fn log_saves_beyond_the_step_count_are_clamped_in_a_discrete_run() {
    // At most one save per step: 2^62 requested log points on 5 steps save steps 0..=5.
    let body = variant(GD, "steps = 5", "steps = 5\nsave = { log = 4611686018427387904 }");
    let r = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap();
    assert_eq!(r.trajectory.steps, vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_zero_or_negative_step_is_refused_naming_h() {
    for h in ["0", "-1", "\"0/7\""] {
        let e = plan_error(&variant(FLOW, "h = \"1/100\"", &format!("h = {h}")));
        assert!(e.contains("method.integrator.h"), "{h}: {e}");
    }
}

#[test]
fn every_crashing_or_misleading_input_of_the_list_exits_2_from_the_cli_naming_its_key() {
    // Each a one-line change to a valid file; before these checks each one panicked, aborted,
    // hung or was silently misread. `check` must exit 2 with the key in the message.
    let regression = |w: &str, n: &str| {
        variant(
            &variant(GD, "widths = [2, 3, 2]", w),
            "kind = \"target\"\ntarget = [[1, 0], [0, 1]]",
            &format!("kind = \"regression\"\nsamples = {n}"),
        )
    };
    let dp5 = "{ kind = \"dp5\", rtol = 1e-9, atol = 1e-12 }";
    let rk4 = "{ kind = \"rk4\", h = \"1/100\" }";
    let cases: Vec<(String, &str, &[&str])> = vec![
        (variant(GD, "widths = [2, 3, 2]", "widths = [4294967296, 4294967296]"), "model.widths", &[]),
        (regression("widths = [2147483648, 2]", "1000000000"), "model.widths", &[]),
        (variant(GD, "steps = 5", "steps = 4611686018427387904\nsave = \"all\""), "run.", &[]),
        (variant(&variant(FLOW, rk4, dp5), "t1 = 1", "t1 = 1\nsave = { log = 4611686018427387904 }"), "run.save", &[]),
        (variant(FLOW, "t1 = 1", "t1 = 9223372036854775807"), "run.", &[]),
        (variant(FLOW, "h = \"1/100\"", "h = 0"), "method.integrator.h", &[]),
        (variant(GD, "widths = [2, 3, 2]", "widths = [2, 100000, 2]"), "model.widths", &[]),
        (variant(GD, "widths = [2, 3, 2]", "widths = [2, 20000, 2]"), "model.widths", &[]),
        (variant(GD, "eta = \"1/10\"", "eta = \"1e-2147483648\""), "method.eta", &[]),
        (variant(GD, "eta = \"1/10\"", "eta = \"1.5e-2147483648\""), "method.eta", &[]),
        (variant(FLOW, "h = \"1/100\"", "h = \"1/100\", foo = 1"), "method.integrator.foo", &[]),
        (variant(FLOW, "h = \"1/100\"", "h = \"1/100\", rtol = 1e-9"), "method.integrator.rtol", &[]),
        (variant(GD, "eta = \"1/10\"", "eta = \"1/2/3\""), "method.eta", &[]),
        (variant(GD, "steps = 5", "steps = 5\nsave = { every = 0 }"), "run.save.every", &[]),
        (format!("precision = 4294967349\n{GD}"), "precision", &[]),
        (
            variant(FLOW, rk4, "{ kind = \"dopri5\", rtol = 1e-9, atol = 1e-12 }"),
            "method.integrator.kind",
            &["--exact"],
        ),
        (variant(GD, "scale = 0.5", "scale = 1e308"), "init.scale", &[]),
    ];
    let dir = tmp("cli-list");
    for (k, (body, key, extra)) in cases.iter().enumerate() {
        let o = check_file(&dir, &format!("case{k}"), body, extra);
        refused(&o, &[key]);
    }
    // Negative control: the unchanged files are accepted.
    for (k, body) in [GD, FLOW].into_iter().enumerate() {
        let o = check_file(&dir, &format!("ok{k}"), body, &[]);
        assert_ne!(o.status.code(), Some(2), "{}", text(&o));
    }
    // Malformed sweep grids: a bad tail is an error naming the grid, never dropped or a panic.
    for g in ["method.eta=[1,2", "method.eta=0.1,[", "method.eta=[1,2]]", "method.eta=", "=1,2"] {
        let out = dir.join("sweep");
        let o = linflow(&["sweep", "examples/gd_drift.toml", "--grid", g, "--out", out.to_str().unwrap()]);
        refused(&o, &["grid"]);
        assert!(!out.join("sweep.csv").exists(), "{g}");
    }
}

#[test]
fn a_256_bit_flow_to_seven_tenths_ends_at_exactly_seven_tenths_from_the_cli() {
    let dir = tmp("seven-tenths");
    let body = scalar_flow("2", "1", "gradient_flow", "{ kind = \"rk4\", h = \"1/100\" }", "\"7/10\"", "");
    let file = dir.join("f.toml");
    std::fs::write(&file, body).unwrap();
    let out = dir.join("out");
    let o = linflow(&["run", file.to_str().unwrap(), "--bits", "256", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // 7/10 to 256 bits, computed here by MPFR from the exact rational; the nearest double differs.
    let exact = decimal::text(&Mp::with_val(256, Q::from((7, 10))));
    assert_eq!(s["final_time"].as_str(), Some(exact.as_str()));
    assert_ne!(decimal::text(&Mp::with_val(256, 0.7f64)), exact);
}

// ---------------------------------------------------------------------------------------------
// Numbers: bounded before they are built, malformed ones refused.

#[test]
fn astronomical_exponents_are_refused_at_once_and_never_wrap_to_infinity() {
    for eta in ["\"1e-2147483648\"", "\"1.5e-2147483648\"", "\"1e99999999999999999999\"", "\"2^-99999999\""] {
        let e = plan_error(&variant(GD, "eta = \"1/10\"", &format!("eta = {eta}")));
        assert!(e.contains("method.eta") && e.contains("bits"), "{eta}: {e}");
    }
    let dir = tmp("exp");
    let o = check_file(&dir, "exp", &variant(GD, "eta = \"1/10\"", "eta = \"1e-2147483648\""), &[]);
    refused(&o, &["method.eta"]);
}

#[test]
fn a_double_quotient_is_refused() {
    let e = plan_error(&variant(GD, "eta = \"1/10\"", "eta = \"1/2/3\""));
    assert!(e.contains("method.eta") && e.contains("more than one '/'"), "{e}");
}

#[test]
fn unknown_integrator_keys_are_refused() {
    let e = plan_error(&variant(FLOW, "h = \"1/100\"", "h = \"1/100\", foo = 1"));
    assert!(e.contains("method.integrator.foo"), "{e}");
    let e = plan_error(&variant(FLOW, "h = \"1/100\"", "h = \"1/100\", rtol = 1e-9"));
    assert!(e.contains("method.integrator.rtol"), "{e}");
}

#[test]
fn save_every_zero_is_refused() {
    let e = plan_error(&variant(GD, "steps = 5", "steps = 5\nsave = { every = 0 }"));
    assert!(e.contains("run.save.every"), "{e}");
    let e = plan_error(&variant(GD, "steps = 5", "steps = 5\nsave = { every = 2, log = 3 }"));
    assert!(e.contains("run.save"), "{e}");
}

#[test]
fn an_out_of_range_precision_is_reported_as_written() {
    let e = plan_error(&format!("precision = 4294967349\n{GD}"));
    assert!(e.contains("4294967349") && !e.contains("got 0"), "{e}");
}

#[test]
fn an_integrator_the_number_type_cannot_run_is_refused_with_advice_that_works() {
    let body = variant(
        FLOW,
        "integrator = { kind = \"rk4\", h = \"1/100\" }",
        "integrator = { kind = \"dopri5\", rtol = 1e-9, atol = 1e-12 }",
    );
    let dir = tmp("dopri");
    let o = check_file(&dir, "dopri", &body, &["--exact"]);
    refused(&o, &["method.integrator.kind", "euler, heun and rk4"]);
    let t = text(&o);
    assert!(!t.contains("gbs") && !t.contains("gauss_legendre") && !t.contains("rk8"), "{t}");
    let o = check_file(&dir, "dopri256", &body, &["--bits", "256"]);
    refused(&o, &["method.integrator.kind", "gbs"]);
}

#[test]
fn a_huge_init_scale_overflows_f64_with_a_clear_message_and_runs_at_256_bits() {
    let body = variant(&variant(GD, "scale = 0.5", "scale = 1e308"), "steps = 5", "steps = 0");
    let spec = ExperimentSpec::parse(&body, "t").unwrap();
    let e = spec.run(Some(PrecisionChoice::F64)).unwrap_err().to_string();
    assert!(e.contains("init.scale") && e.contains("overflows"), "{e}");
    // MPFR's exponent range holds 1e308 times a Gaussian sample: the run starts.
    let r = spec.run(Some(PrecisionChoice::Bits(64))).unwrap();
    let x: f64 = last_state(&r)[0][0][0].parse::<f64>().unwrap_or(f64::INFINITY);
    assert!(x.abs() > 1e300, "{x}");
}

#[test]
fn explicit_completion_data_take_the_documented_shape_key() {
    let body = r#"
[model]
arch = "deep_linear"
widths = [2, 2]
[loss]
kind = "completion"
entries = [[0, 0, 1], [1, 1, "1/2"]]
shape = [2, 2]
[init]
kind = "identity"
[method]
kind = "gd"
eta = "1/2"
[run]
steps = 1
"#;
    let r = ExperimentSpec::parse(body, "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap();
    // One GD step from I with η = 1/2 on ½Σ_Ω(W_ij − M_ij)²: W_00 = 1, W_11 = 1 − (1 − 1/2)/2 = 3/4.
    assert_eq!(last_state(&r)[0][1][1], "3/4");
    assert_eq!(last_state(&r)[0][0][0], "1");
    let e = plan_error(&body.replace("shape = [2, 2]", "shape = [3, 2]"));
    assert!(e.contains("loss.shape"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Exact inputs end to end.

/// A scalar gradient flow ẇ = −(w − y) from w(0) = w0 (deep_linear [1, 1], target loss).
fn scalar_flow(w0: &str, y: &str, kind: &str, integrator: &str, t1: &str, extra: &str) -> String {
    format!(
        r#"
[model]
arch = "deep_linear"
widths = [1, 1]
[loss]
kind = "target"
target = [[{y}]]
[init]
kind = "explicit"
blocks = [[[{w0}]]]
[method]
kind = "{kind}"
integrator = {integrator}
{extra}
[run]
t1 = {t1}
save = "final"
"#
    )
}

#[test]
fn a_256_bit_flow_to_seven_tenths_ends_exactly_at_seven_tenths() {
    let body = scalar_flow("2", "1", "gradient_flow", "{ kind = \"rk4\", h = \"1/100\" }", "\"7/10\"", "");
    let spec = ExperimentSpec::parse(&body, "t").unwrap();
    let r = spec.run(Some(PrecisionChoice::Bits(256))).unwrap();
    let exact = decimal::text(&Mp::with_val(256, Q::from((7, 10))));
    assert_eq!(r.text.times.last(), Some(&exact));
    // Negative control: the double nearest 0.7, carried to 256 bits, is a different number.
    assert_ne!(decimal::text(&Mp::with_val(256, 0.7f64)), exact);
    let r = spec.run(Some(PrecisionChoice::Exact)).unwrap();
    assert_eq!(r.text.times.last().map(String::as_str), Some("7/10"));
}

#[test]
fn a_rational_step_gives_the_exact_rk4_polynomial() {
    // RK4 on ẇ = −(w − y) multiplies w − y by R(h) = 1 − h + h²/2 − h³/6 + h⁴/24 per step:
    // with h = 1/10 and t1 = 3/10 (three steps), w(t1) = y + (w0 − y)·R(1/10)³ exactly.
    let body = scalar_flow("2", "1", "gradient_flow", "{ kind = \"rk4\", h = \"1/10\" }", "\"3/10\"", "");
    let r = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap();
    let h = Q::from((1, 10));
    let (h2, h3) = (Q::from(&h * &h), Q::from(&h * &h) * &h);
    let h4 = Q::from(&h2 * &h2);
    let r1: Q = Q::from(1) - h + h2 / 2 - h3 / 6 + h4 / 24;
    let expect = Q::from(1) + r1.clone() * r1.clone() * r1;
    assert_eq!(last_state(&r)[0][0][0], expect.to_string());
}

#[test]
fn a_speed_rescales_time() {
    // At speed 2 the flow to t1 = 1 is the unit-speed flow to t = 2: w = y + (w0 − y)e^{−2}.
    let body = scalar_flow("2", "1", "gradient_flow", "{ kind = \"rk4\", h = \"1/1000\" }", "1", "speed = 2");
    let r = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::F64)).unwrap();
    let w: f64 = last_state(&r)[0][0][0].parse().unwrap();
    // RK4 at an effective step 2e-3: global error ~ (2e-3)^4 = 1.6e-11, well below 1e-9.
    assert!((w - (1.0 + (-2.0f64).exp())).abs() < 1e-9, "{w}");
}

#[test]
fn tolerances_below_f64_and_powers_of_two_parse() {
    let body = variant(GD, "steps = 5", "steps = 5\n[check]\ntolerance = \"2^-1000\"");
    ExperimentSpec::parse(&body, "t").unwrap();
    let gbs = |rtol: &str| {
        scalar_flow("2", "1", "gradient_flow", &format!("{{ kind = \"gbs\", rtol = {rtol}, atol = 0 }}"), "1", "")
    };
    ExperimentSpec::parse(&gbs("\"1e-300\""), "t").unwrap();
    let e = plan_error(&gbs("\"1e-400\""));
    assert!(e.contains("method.integrator.rtol") && e.contains("f64"), "{e}");
    let e = plan_error(&variant(GD, "steps = 5", "steps = 5\n[check]\ntolerance = \"1e-400\""));
    assert!(e.contains("check.tolerance"), "{e}");
}

/// The initial state of a run at `precision` (zero steps), parsed at `bits`.
fn initial(body: &str, precision: PrecisionChoice, bits: u32) -> Vec<Vec<Vec<Mp>>> {
    let r = ExperimentSpec::parse(body, "t").unwrap().run(Some(precision)).unwrap();
    last_state(&r)
        .iter()
        .map(|b| b.iter().map(|row| row.iter().map(|x| Mp::with_val(bits, Mp::parse(x).unwrap())).collect()).collect())
        .collect()
}

fn gram_defect(b: &[Vec<Mp>]) -> f64 {
    // max |B Bᵀ − I| for a wide block, |BᵀB − I| for a tall one.
    let (r, c) = (b.len(), b[0].len());
    let mut worst = 0f64;
    let n = r.min(c);
    for i in 0..n {
        for j in 0..n {
            let mut s = Mp::with_val(256, 0);
            if r <= c {
                for (x, y) in b[i].iter().zip(&b[j]) {
                    s += Mp::with_val(256, x * y);
                }
            } else {
                for row in b {
                    s += Mp::with_val(256, &row[i] * &row[j]);
                }
            }
            if i == j {
                s -= 1;
            }
            worst = worst.max(s.to_f64().abs());
        }
    }
    worst
}

#[test]
fn orthogonal_and_balanced_inits_are_computed_at_the_working_precision() {
    let ortho =
        variant(&variant(GD, "kind = \"gaussian\"\nscale = 0.5", "kind = \"orthogonal\""), "steps = 5", "steps = 0");
    let p = initial(&ortho, PrecisionChoice::Bits(256), 256);
    for b in &p {
        // Gram–Schmidt twice at 256 bits: orthonormal to a few units of 2^-256 ≈ 1e-77.
        assert!(gram_defect(b) < 1e-70, "{}", gram_defect(b));
    }
    // An f64 QR carried to 256 bits would be orthonormal only to ~1e-16: the check can fail.
    let p64 = initial(&ortho, PrecisionChoice::F64, 256);
    assert!(p64.iter().any(|b| gram_defect(b) > 1e-20));

    let balanced = variant(
        &variant(
            GD,
            "kind = \"gaussian\"\nscale = 0.5\nseed = 1",
            "kind = \"balanced\"\nproduct = [[2, \"1/3\"], [0, 1]]",
        ),
        "steps = 5",
        "steps = 0",
    );
    let p = initial(&balanced, PrecisionChoice::Bits(256), 256);
    let (w1, w2) = (&p[0], &p[1]);
    // W2ᵀW2 = W1W1ᵀ (3×3) and W2W1 = X, both to the 256-bit rounding level.
    let mut worst = 0f64;
    for i in 0..3 {
        for j in 0..3 {
            let mut d = Mp::with_val(256, 0);
            for k in 0..2 {
                d += Mp::with_val(256, &w2[k][i] * &w2[k][j]);
                d -= Mp::with_val(256, &w1[i][k] * &w1[j][k]);
            }
            worst = worst.max(d.to_f64().abs());
        }
    }
    let x = [[Q::from(2), Q::from((1, 3))], [Q::from(0), Q::from(1)]];
    for i in 0..2 {
        for j in 0..2 {
            let mut s = Mp::with_val(256, 0);
            for k in 0..3 {
                s += Mp::with_val(256, &w2[i][k] * &w1[k][j]);
            }
            s -= Mp::with_val(256, &x[i][j]);
            worst = worst.max(s.to_f64().abs());
        }
    }
    assert!(worst < 1e-70, "{worst}");
}

#[test]
fn rationals_say_which_inits_are_exact() {
    let ortho =
        variant(&variant(GD, "kind = \"gaussian\"\nscale = 0.5", "kind = \"orthogonal\""), "steps = 5", "steps = 0");
    let e = ExperimentSpec::parse(&ortho, "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap_err().to_string();
    assert!(e.contains("init.kind") && e.contains("exact inits are"), "{e}");
    let diag = |arch: &str| {
        format!(
            "[model]\narch = \"{arch}\"\nd = 2\n[loss]\nkind = \"target\"\ntarget = [[1, 2]]\n[init]\nkind = \"alpha\"\nalpha = \"1/3\"\n[method]\nkind = \"gd\"\neta = \"1/10\"\n[run]\nsteps = 0\n"
        )
    };
    let e = ExperimentSpec::parse(&diag("diagonal_uv"), "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap_err();
    assert!(matches!(&e, Error::Invalid { field, .. } if field == "init.kind"), "{e}");
    let r = ExperimentSpec::parse(&diag("diagonal_sq"), "t").unwrap().run(Some(PrecisionChoice::Exact)).unwrap();
    assert_eq!(last_state(&r)[0][0], vec!["1/3".to_string(), "1/3".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// Every flow from a file.

/// J₁(t) by its power series (converges for every t; 40 terms reach 1e-30 at t = 5).
fn bessel_j1(t: f64) -> f64 {
    let mut term = t / 2.0;
    let mut sum = term;
    for k in 1..40 {
        term *= -(t * t / 4.0) / (k as f64 * (k + 1) as f64);
        sum += term;
    }
    sum
}

#[test]
fn the_nesterov_flow_follows_the_bessel_solution_on_a_quadratic() {
    // Su–Boyd–Candès: on f(x) = x²/2, x'' + (3/t)x' + x = 0 from x(0) = 1 solves to 2J₁(t)/t.
    let body = scalar_flow("1", "0", "nesterov_flow", "{ kind = \"rk4\", h = \"1/1000\" }", "5", "");
    let r = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::F64)).unwrap();
    let x: f64 = last_state(&r)[0][0][0].parse().unwrap();
    let truth = 2.0 * bessel_j1(5.0) / 5.0;
    // RK4 at h = 1e-3; the 3/t term is stiff only near t = 0 where v = O(t): observed error ~1e-10.
    assert!((x - truth).abs() < 1e-8, "{x} vs {truth}");
    // Negative control: the constant-damping heavy-ball flow (λ = 1) ends elsewhere.
    let hb = scalar_flow("1", "0", "heavy_ball_flow", "{ kind = \"rk4\", h = \"1/1000\" }", "5", "lambda = 1");
    let r = ExperimentSpec::parse(&hb, "t").unwrap().run(Some(PrecisionChoice::F64)).unwrap();
    let y: f64 = last_state(&r)[0][0][0].parse().unwrap();
    assert!((y - truth).abs() > 1e-3, "{y}");
}

#[test]
fn every_flow_kind_runs_from_a_file() {
    let base = r#"
[model]
arch = "deep_linear"
widths = [2, 2, 2]
[loss]
kind = "target"
target = [[2, "1/2"], [0, 1]]
[init]
kind = "identity"
[method]
kind = "KIND"
integrator = { kind = "rk4", h = "1/100" }
EXTRA
[run]
t1 = "1/2"
save = { times = ["1/4"] }
"#;
    for (kind, extra) in [
        ("gradient_flow", ""),
        ("sam_flow", "rho = \"1/20\""),
        ("sam_modified_flow", "rho = \"1/20\""),
        ("usam_flow", "rho = \"1/20\""),
        ("usam_modified_flow", "rho = \"1/20\""),
        ("gd_modified_flow", "eta = \"1/10\""),
        ("heavy_ball_flow", "eta = \"1/10\"\nbeta = \"1/2\""),
        ("nesterov_flow", ""),
        ("end_to_end_flow", ""),
        ("regularizer_flow", ""),
        ("moment_map_flow", ""),
        ("fast_slow_flow", "eps = \"1/10\""),
    ] {
        let body = base.replace("KIND", kind).replace("EXTRA", extra);
        let r = ExperimentSpec::parse(&body, kind).unwrap().run(Some(PrecisionChoice::F64));
        let r = r.unwrap_or_else(|e| panic!("{kind}: {e}"));
        // Steps of exactly (1/2)/50: the saves fall on t = 1/4 (step 25) and t1 = 1/2.
        let t = &r.trajectory.times;
        assert!(t.len() == 3 && t[0] == 0.0 && (t[1] - 0.25).abs() < 1e-15 && t[2] == 0.5, "{kind}: {t:?}");
        assert!(r.trajectory.outcome.is_done(), "{kind}");
    }
}

#[test]
fn balancing_flows_keep_the_product_and_the_loss() {
    // Flows (a) and (b) move inside the fibre: the loss (a function of the product) is conserved.
    let body = r#"
[model]
arch = "deep_linear"
widths = [2, 2, 2]
[loss]
kind = "target"
target = [[1, 0], [0, 1]]
[init]
kind = "explicit"
blocks = [ [[2, 0], [1, 1]], [[1, "1/2"], [0, 1]] ]
[method]
kind = "moment_map_flow"
integrator = { kind = "gauss_legendre", stages = 2, h = "1/100" }
[run]
t1 = "1/2"
save = "final"
[check]
tolerance = 1e-9
"#;
    let r = ExperimentSpec::parse(body, "t").unwrap().run(Some(PrecisionChoice::F64)).unwrap();
    assert!(r.passed(), "{}", r.table());
    assert!(r.verdicts.iter().any(|v| v.report.quantity.contains("loss")), "{}", r.table());
}

// ---------------------------------------------------------------------------------------------
// Generated files: the parser and the planner never panic, and every error names a key.

fn value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![Just(0i64), Just(1), Just(2), Just(-1), Just(1 << 40), Just(i64::MAX)]
            .prop_map(toml::Value::Integer),
        prop_oneof![Just(0.0f64), Just(1e308), Just(-1e-308), Just(5e-324), Just(0.1), Just(1.0)]
            .prop_map(toml::Value::Float),
        prop_oneof![
            Just("1/10"),
            Just("1/2/3"),
            Just("1e-2147483648"),
            Just("1.5e-2147483648"),
            Just("2^-1000"),
            Just("2^99999999"),
            Just("0/0"),
            Just("-0"),
            Just("all"),
            Just("final"),
            Just("exact"),
            Just("mp:256"),
            Just("rk4"),
            Just("gd"),
            Just("gradient_flow"),
            Just("nesterov_flow"),
            Just("deep_linear"),
            Just("gaussian"),
            Just("target"),
            Just(""),
            Just("x")
        ]
        .prop_map(|s| toml::Value::String(s.to_string())),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(key(), inner, 0..4).prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("kind"),
        Just("widths"),
        Just("d"),
        Just("eta"),
        Just("rho"),
        Just("beta"),
        Just("steps"),
        Just("t1"),
        Just("save"),
        Just("every"),
        Just("log"),
        Just("times"),
        Just("integrator"),
        Just("h"),
        Just("rtol"),
        Just("atol"),
        Just("scale"),
        Just("seed"),
        Just("samples"),
        Just("target"),
        Just("truth"),
        Just("blocks"),
        Just("alpha"),
        Just("speed"),
        Just("tolerance"),
        Just("tau"),
        Just("data"),
        Just("truth_scale"),
        Just("foo")
    ]
    .prop_map(String::from)
}

/// A document close to a valid file: every section present, with a few keys overwritten by
/// generated values (random types, huge and tiny numbers, nested tables).
fn document() -> impl Strategy<Value = toml::Table> {
    let sections = ["model", "loss", "init", "method", "run", "check", "reference"];
    (prop::collection::vec((0..sections.len(), key(), value()), 0..6), any::<bool>()).prop_map(move |(edits, flow)| {
        let mut doc: toml::Table = if flow { FLOW } else { GD }.parse().unwrap();
        for (s, k, v) in edits {
            let sec = doc.entry(sections[s]).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = sec {
                t.insert(k, v);
            }
        }
        doc
    })
}

fn names_a_key(e: &Error) -> bool {
    match e {
        Error::Invalid { field, .. } => !field.is_empty(),
        Error::Dimension { what, .. } => !what.is_empty(),
        Error::Precondition { .. } => true,
        _ => false,
    }
}

proptest! {
    // 200 small documents parse and plan in well under a second.
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn generated_documents_never_panic_and_errors_name_a_key(doc in document()) {
        let limits = Limits::default();
        // Trees TOML cannot write (or read back) are not experiment files: skip them.
        let Ok(text) = toml::to_string(&doc) else { return Ok(()) };
        if text.parse::<toml::Table>().is_err() {
            return Ok(());
        }
        let outcome = std::panic::catch_unwind(|| {
            ExperimentSpec::parse_with(&text, "gen", &limits).and_then(|s| {
                for p in [PrecisionChoice::F64, PrecisionChoice::Bits(256), PrecisionChoice::Exact] {
                    s.plan(p)?;
                }
                Ok(())
            })
        });
        let result = outcome.map_err(|_| TestCaseError::fail(format!("panicked on:\n{text}")))?;
        if let Err(e) = result {
            prop_assert!(names_a_key(&e), "error names no key: {e}\n{text}");
        }
    }
}

#[test]
fn the_dp853_kind_runs_the_scalar_flow_to_its_closed_form_and_is_f64_only() {
    // ẇ = −(w − y): w(1) = y + (w0 − y)e^{−1}. At rtol 1e-12 the global error of an 8th-order
    // pair on this one-mode flow stays within a few rtol; 1e-11 leaves a factor 10.
    let body = scalar_flow("2", "1", "gradient_flow", "{ kind = \"dp853\", rtol = 1e-12, atol = 1e-14 }", "1", "");
    let r = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::F64)).unwrap();
    let w: f64 = last_state(&r)[0][0][0].parse().unwrap();
    let exact = 1.0 + (-1.0f64).exp();
    assert!((w - exact).abs() < 1e-11, "{w} vs {exact}");
    // Like the other embedded pairs it runs in f64 only: 256 bits is refused naming the key.
    let e = ExperimentSpec::parse(&body, "t").unwrap().run(Some(PrecisionChoice::Bits(256))).unwrap_err();
    assert!(e.to_string().contains("method.integrator.kind"), "{e}");
}
