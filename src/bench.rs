//! `linflow bench`: the workloads of `bench/` (W1–W5) on exactly the inputs the peers used, with
//! the columns of `bench/PEERS.md`.
//!
//! Each workload is timed as one warm-up and then the median (and minimum) of `reps` repetitions
//! of the whole call, and checks its own answer (final loss against the peers, W2's state
//! against the 60-digit reference).

pub mod peers;
pub mod w2_precision;
pub mod w5;

use crate::error::{Error, Result};
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::invariants::{Balancedness, Monitor, Quantity};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::Mp;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// One line of the results table (the columns of `bench/PEERS.md`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `W1` … `W4`.
    pub workload: String,
    /// Size label, e.g. `w32`.
    pub size: String,
    /// Method.
    pub method: String,
    /// Median wall time of the whole call, seconds.
    pub wall_median_s: f64,
    /// Minimum wall time, seconds.
    pub wall_min_s: f64,
    /// Right-hand-side (gradient) evaluations.
    pub rhs_evals: usize,
    /// Microseconds per evaluation (median wall / evaluations).
    pub us_per_eval: f64,
    /// Loss at the end.
    pub final_loss: f64,
    /// Balancedness drift `max_j ‖C_j(t1) − C_j(0)‖_F / ‖C_j(0)‖_F`.
    pub bal_drift: f64,
    /// Anything else (steps per second, error against a reference, ...).
    pub extra: String,
}

/// A deep linear workload's inputs: widths, target Φ and initial weights `W_1..W_N`.
#[derive(Clone, Debug)]
pub struct DeepInputs {
    /// `d_0..d_N`.
    pub widths: Vec<usize>,
    /// Target.
    pub phi: Mat<f64>,
    /// Initial weights.
    pub ws: Vec<Mat<f64>>,
}

#[derive(Deserialize)]
struct DeepFile {
    widths: Vec<usize>,
    #[serde(rename = "Phi")]
    phi: Vec<Vec<f64>>,
    #[serde(rename = "Ws")]
    ws: Vec<Vec<Vec<f64>>>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })
}

fn mat(rows: Vec<Vec<f64>>, what: &str) -> Result<Mat<f64>> {
    Mat::try_from_rows(rows).map_err(|m| Error::invalid(what, m))
}

impl DeepInputs {
    /// Reads a W1/W2 input file (decimal values with 17 significant digits: exact `f64`).
    pub fn load(path: &Path) -> Result<Self> {
        let f: DeepFile = serde_json::from_str(&read(path)?)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
        let ws = f.ws.into_iter().map(|w| mat(w, "Ws")).collect::<Result<Vec<_>>>()?;
        let inputs = DeepInputs { phi: mat(f.phi, "Phi")?, ws, widths: f.widths };
        inputs.model()?;
        Ok(inputs)
    }

    /// The model `½‖W_N⋯W_1 − Φ‖²`.
    pub fn model(&self) -> Result<Model<f64>> {
        let m = Model::new(Arch::deep_linear(&self.widths)?, Loss::target(self.phi.clone()))?;
        m.check_params(&self.params())?;
        Ok(m)
    }

    /// The initial parameters.
    pub fn params(&self) -> Params<f64> {
        Params::new(self.ws.clone())
    }
}

/// `max_j ‖C_j(p) − C_j(p0)‖_F / ‖C_j(p0)‖_F`, the peers' balancedness drift.
/// The ratio is formed in the run's number type and rounded to `f64` once.
pub fn bal_drift<S: crate::scalar::Scalar>(model: &Model<S>, p0: &Params<S>, p: &Params<S>) -> f64 {
    let c0 = Balancedness.eval(model, p0);
    let c1 = Balancedness.eval(model, p);
    c0.iter().zip(&c1).map(|(a, b)| (b.sub(a).norm_sq() / a.norm_sq()).to_f64().sqrt()).fold(0.0, f64::max)
}

/// Times `f`: one warm-up, then `reps` runs; returns (median, min, last result).
pub fn time_it<R>(reps: usize, mut f: impl FnMut() -> R) -> (f64, f64, R) {
    let mut last = f();
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let s = Instant::now();
        last = f();
        t.push(s.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0], last)
}

/// CPU seconds used so far by this process, all threads (Linux: the scheduler's nanosecond
/// counters in `/proc/self/task/*/schedstat`); `None` where unavailable. On a loaded machine the
/// CPU time of a run is a steadier measure than its wall time.
pub fn process_cpu_seconds() -> Option<f64> {
    let mut total = 0u64;
    for e in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total as f64 * 1e-9)
}

/// [`time_it`] that also returns the smallest CPU time of a repetition (all threads; NaN where
/// [`process_cpu_seconds`] is unavailable): (median wall, min wall, min CPU, last result).
pub fn time_it_cpu<R>(reps: usize, mut f: impl FnMut() -> R) -> (f64, f64, f64, R) {
    let mut cpu = f64::INFINITY;
    let (med, min, last) = time_it(reps, || {
        let c0 = process_cpu_seconds();
        let r = f();
        if let (Some(a), Some(b)) = (c0, process_cpu_seconds()) {
            cpu = cpu.min(b - a);
        }
        r
    });
    (med, min, if cpu.is_finite() { cpu } else { f64::NAN }, last)
}

/// W4: `steps` simultaneous gradient-descent steps `W_j ← W_j − η G_j` from the inputs.
/// Returns the final parameters and the number of gradient evaluations.
pub fn gd_loop(model: &Model<f64>, p0: &Params<f64>, eta: f64, steps: usize) -> (Params<f64>, usize) {
    let mut ws = model.workspace(&0.0);
    let mut p = p0.clone();
    let mut g = p.zeros_like();
    for _ in 0..steps {
        model.grad_into(&mut ws, &p, None, &mut g);
        p.axpy(&-eta, &g);
    }
    (p, steps)
}

/// Floating-point throughput (flop/s) of the `f64` matrix kernel on its own: `n×n` times `n×n`.
pub fn gemm_flops(n: usize, reps: usize) -> f64 {
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1);
    let b = a.t();
    let mut c = Mat::zeros(n, n, &0.0);
    let iters = (20_000_000 / (n * n * n)).max(1);
    let (med, _, _) = time_it(reps, || {
        for _ in 0..iters {
            Mat::gemm_into(&a, false, &b, false, false, &mut c);
        }
    });
    2.0 * (n * n * n) as f64 * iters as f64 / med
}

/// W4 on the given inputs: returns its row.
pub fn w4(inputs: &DeepInputs, size: &str, eta: f64, steps: usize, reps: usize) -> Result<Row> {
    let model = inputs.model()?;
    let p0 = inputs.params();
    let (med, min, cpu, (p, evals)) = time_it_cpu(reps, || gd_loop(&model, &p0, eta, steps));
    Ok(Row {
        workload: "W4".into(),
        size: size.into(),
        method: "gd".into(),
        wall_median_s: med,
        wall_min_s: min,
        rhs_evals: evals,
        us_per_eval: med / evals as f64 * 1e6,
        final_loss: model.loss(&p),
        bal_drift: bal_drift(&model, &p0, &p),
        extra: format!("{:.0} steps/s; cpu min {cpu:.4} s", steps as f64 / med),
    })
}

/// Times the gradient flow of `model` from `p0` to `t1` (one warm-up, median and minimum of `reps`).
fn timed_flow<S: crate::scalar::Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    integrator: &Integrator,
    t1: f64,
    reps: usize,
) -> Result<(f64, f64, crate::trajectory::Trajectory<S>)> {
    let opts = SolveOptions { t1, save_times: vec![] };
    let (med, min, traj) = time_it(reps, || {
        let mut field = GradientFlow::new(model);
        solve(&mut field, model, p0, integrator, &opts, &mut Monitor::new())
    });
    Ok((med, min, traj?))
}

/// [`timed_flow`] with the smallest CPU time of a repetition.
fn timed_flow_cpu(
    model: &Model<f64>,
    p0: &Params<f64>,
    integrator: &Integrator,
    t1: f64,
    reps: usize,
) -> Result<(f64, f64, f64, crate::trajectory::Trajectory<f64>)> {
    let opts = SolveOptions { t1, save_times: vec![] };
    let (med, min, cpu, traj) = time_it_cpu(reps, || {
        let mut field = GradientFlow::new(model);
        solve(&mut field, model, p0, integrator, &opts, &mut Monitor::new())
    });
    Ok((med, min, cpu, traj?))
}

/// W1: gradient flow of `½‖W_N⋯W_1 − Φ‖²` to `t1` in `f64` with `integrator` (an 8th-order adaptive method at the
/// peers' tolerances). Returns its row.
pub fn w1(inputs: &DeepInputs, size: &str, integrator: &Integrator, t1: f64, reps: usize) -> Result<Row> {
    let model = inputs.model()?;
    let p0 = inputs.params();
    let (med, min, cpu, traj) = timed_flow_cpu(&model, &p0, integrator, t1, reps)?;
    let p = traj.last();
    Ok(Row {
        workload: "W1".into(),
        size: size.into(),
        method: integrator.name(),
        wall_median_s: med,
        wall_min_s: min,
        rhs_evals: traj.grad_calls,
        us_per_eval: med / traj.grad_calls.max(1) as f64 * 1e6,
        final_loss: model.loss(p),
        bal_drift: bal_drift(&model, &p0, p),
        extra: format!("cpu min {cpu:.4} s"),
    })
}

/// W2 at `bits` bits: the flow of the 3-4-4-2 network to `t = 1` with GBS extrapolation at the
/// tolerance `tol`, and the largest deviation of the final state from the 60-digit reference.
pub fn w2(inputs: &DeepInputs, reference: &[String], bits: u32, tol: f64, reps: usize) -> Result<(Row, f64)> {
    let proto = Mp::new(bits);
    let model = inputs.model()?.cast(&proto);
    // The inputs are exact binary f64 values, widened exactly.
    let p0 = inputs.params().cast(&proto);
    let integrator = Integrator::Gbs { rtol: tol, atol: tol };
    let (med, min, traj) = timed_flow(&model, &p0, &integrator, 1.0, reps)?;
    let p = traj.last();
    let flat = p.flatten();
    if flat.len() != reference.len() {
        return Err(Error::dim(
            "W2 reference state",
            format!("{} entries", flat.len()),
            format!("{}", reference.len()),
        ));
    }
    let mut err = Mp::new(bits);
    for (x, r) in flat.iter().zip(reference) {
        let r = Mp::with_val(bits, Mp::parse(r).map_err(|e| Error::invalid("state_t1_flat", e.to_string()))?);
        let d = Mp::with_val(bits, x - &r).abs();
        if d > err {
            err = d;
        }
    }
    let pf = p.to_f64();
    let mf = inputs.model()?;
    let row = Row {
        workload: "W2".into(),
        size: format!("{}@{bits}bit", inputs.widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-")),
        method: format!("gbs tol {tol:.0e}"),
        wall_median_s: med,
        wall_min_s: min,
        rhs_evals: traj.grad_calls,
        us_per_eval: med / traj.grad_calls.max(1) as f64 * 1e6,
        final_loss: mf.loss(&pf),
        bal_drift: bal_drift(&model, &p0, p),
        extra: format!("err vs ref {:.1e}", err.to_f64()),
    };
    Ok((row, err.to_f64()))
}

/// W2 in `f64`: the flow to `t = 1` with Hairer's DOP853 estimate at rtol 1e-10, atol 1e-12 (the
/// peers' f64 tolerances), and the largest deviation of the final state from the reference
/// (decimal strings, each rounded once to `f64`).
pub fn w2_f64(inputs: &DeepInputs, reference: &[String], reps: usize) -> Result<(Row, f64)> {
    let mut row = w1(inputs, "3-4-4-2", &Integrator::Dp853 { rtol: 1e-10, atol: 1e-12 }, 1.0, reps)?;
    row.workload = "W2".into();
    let model = inputs.model()?;
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    let integrator = Integrator::Dp853 { rtol: 1e-10, atol: 1e-12 };
    let traj =
        solve(&mut GradientFlow::new(&model), &model, &inputs.params(), &integrator, &opts, &mut Monitor::new())?;
    let flat = traj.last().flatten();
    if flat.len() != reference.len() {
        return Err(Error::dim(
            "W2 reference state",
            format!("{} entries", flat.len()),
            format!("{}", reference.len()),
        ));
    }
    let mut err = 0.0f64;
    for (x, r) in flat.iter().zip(reference) {
        let r: f64 = r.trim().parse().map_err(|_| Error::invalid("state_t1_flat", format!("not a number: {r}")))?;
        err = err.max((x - r).abs());
    }
    row.extra = format!("{}; err vs ref {err:.1e}", row.extra);
    Ok((row, err))
}

/// W3's inputs: `X` (`n×d`), `y`, `α`, and the sparse ground truth.
#[derive(Clone, Debug, Deserialize)]
pub struct DiagonalInputs {
    /// Samples.
    pub n: usize,
    /// Dimension.
    pub d: usize,
    /// Initialization scale (`u = v = α·1`).
    pub alpha: f64,
    /// Design, `n×d`.
    #[serde(rename = "X")]
    pub x: Vec<Vec<f64>>,
    /// Responses.
    pub y: Vec<f64>,
    /// Ground truth.
    pub beta_star: Vec<f64>,
}

impl DiagonalInputs {
    /// Reads `inputs/W3.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let f: DiagonalInputs = serde_json::from_str(&read(path)?)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
        f.model()?;
        Ok(f)
    }

    /// `β = u⊙u − v⊙v` with `(1/2n)‖Xβ − y‖²` (samples as the columns of `Xᵀ`).
    pub fn model(&self) -> Result<Model<f64>> {
        let xt = mat(self.x.clone(), "X")?.t();
        let y = Mat::from_vec(1, self.y.len(), self.y.clone());
        Model::new(Arch::DiagonalSq { d: self.d }, Loss::regression(xt, y)?)
    }
}

/// W3: diagonal-network gradient flow from `u = v = α·1` to `t = 2000` in `f64`.
pub fn w3(inputs: &DiagonalInputs, integrator: &Integrator, t1: f64, reps: usize) -> Result<Row> {
    let model = inputs.model()?;
    let p0 = Params::new(vec![Mat::from_vec(1, inputs.d, vec![inputs.alpha; inputs.d]); 2]);
    let (med, min, cpu, traj) = timed_flow_cpu(&model, &p0, integrator, t1, reps)?;
    let p = traj.last();
    let a2 = inputs.alpha * inputs.alpha;
    let (u, v) = (&p.blocks[0], &p.blocks[1]);
    let drift = (0..inputs.d).map(|i| (u.get(0, i) * v.get(0, i) - a2).abs() / a2).fold(0.0, f64::max);
    let beta = model.end_to_end(p);
    let gap = (0..inputs.d).map(|i| (beta.get(0, i) - inputs.beta_star[i]).abs()).fold(0.0, f64::max);
    Ok(Row {
        workload: "W3".into(),
        size: format!("n{}_d{}", inputs.n, inputs.d),
        method: integrator.name(),
        wall_median_s: med,
        wall_min_s: min,
        rhs_evals: traj.grad_calls,
        us_per_eval: med / traj.grad_calls.max(1) as f64 * 1e6,
        final_loss: model.loss(p),
        bal_drift: drift,
        extra: format!("max|b-b*| {gap:.2}; cpu min {cpu:.4} s"),
    })
}

/// The experiment file used to measure sweep scaling: GD on a 3-16-16-16-3 network, 20 000 steps.
const SWEEP_FILE: &str = r#"
[model]
arch = "deep_linear"
widths = [3, 16, 16, 16, 3]
[loss]
kind = "regression"
seed = 1
samples = 32
[init]
kind = "gaussian"
scale = 0.3
seed = 1
[method]
kind = "gd"
eta = 0.01
[run]
steps = 20000
save = "final"
[check]
tolerance = 1e-6
"#;

/// Wall time of a 16-point sweep (`init.seed = 1..16`) with `threads` worker threads.
pub fn sweep_wall(threads: usize) -> Result<f64> {
    use crate::config::ExperimentSpec;
    use crate::sweep::{Axis, Grid};
    let base: toml::Table = SWEEP_FILE.parse().map_err(|e: toml::de::Error| Error::Other(e.to_string()))?;
    let seeds: Vec<String> = (1..=16).map(|k| k.to_string()).collect();
    let grid = Grid::new(vec![Axis::parse(&format!("init.seed={}", seeds.join(",")))?]);
    let dir = std::env::temp_dir().join(format!("linflow-sweep-bench-{}-{threads}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Other(e.to_string()))?;
    let start = Instant::now();
    let results = pool.install(|| {
        crate::sweep::run(&base, &grid, None, &dir, |doc| {
            let r = ExperimentSpec::from_table(doc, "sweep-bench")?.run(None)?;
            Ok([("final_loss".to_string(), r.trajectory.loss.last().copied().unwrap_or(f64::NAN))].into())
        })
    });
    let wall = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let results = results?;
    if let Some(bad) = results.iter().find(|r| r.result.is_err()) {
        return Err(Error::Other(format!("sweep point {} failed: {:?}", bad.index, bad.result)));
    }
    Ok(wall)
}

/// A self-check of the benchmark's answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchCheck {
    /// What is checked.
    pub name: String,
    /// Measured value.
    pub observed: f64,
    /// Bound.
    pub tolerance: f64,
    /// Whether it holds.
    pub pass: bool,
}

/// All rows, the kernel throughput, and the self-checks.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    /// Results table.
    pub rows: Vec<Row>,
    /// `(n, flop/s)` of the bare matrix kernel.
    pub gemm: Vec<(usize, f64)>,
    /// `(threads, wall seconds)` of a 16-point sweep.
    pub sweep: Vec<(usize, f64)>,
    /// `(threads, wall seconds)` of the 16-point W5 sweep.
    #[serde(default)]
    pub sweep_w5: Vec<(usize, f64)>,
    /// Self-checks.
    pub checks: Vec<BenchCheck>,
}

impl Report {
    /// Whether every self-check passed.
    pub fn all_checks_pass(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }

    /// The table in Markdown, with the kernel throughput and the checks.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| workload | size | method | wall median s | wall min s | rhs evals | us/eval | final loss | bal drift | extra |\n|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {:.4} | {:.4} | {} | {:.3} | {:.9e} | {:.2e} | {} |\n",
                r.workload,
                r.size,
                r.method,
                r.wall_median_s,
                r.wall_min_s,
                r.rhs_evals,
                r.us_per_eval,
                r.final_loss,
                r.bal_drift,
                r.extra
            ));
        }
        for (n, f) in &self.gemm {
            s.push_str(&format!("\nmatrix kernel alone, {n}x{n}: {:.2} Gflop/s", f / 1e9));
        }
        if let (Some(one), Some(all)) = (self.sweep.first(), self.sweep.last()) {
            s.push_str(&format!(
                "\nsweep of 16 points: {:.2} s on 1 thread, {:.2} s on {} threads (speed-up {:.2})",
                one.1,
                all.1,
                all.0,
                one.1 / all.1
            ));
        }
        if let (Some(one), Some(all)) = (self.sweep_w5.first(), self.sweep_w5.last()) {
            s.push_str(&format!(
                "\nW5 sweep of 16 step sizes: {:.2} s on 1 thread, {:.2} s on {} threads (speed-up {:.2})",
                one.1,
                all.1,
                all.0,
                one.1 / all.1
            ));
        }
        s.push('\n');
        for c in &self.checks {
            s.push_str(&format!(
                "{} {}: observed {:e}, tolerance {:e}\n",
                if c.pass { "PASS" } else { "FAIL" },
                c.name,
                c.observed,
                c.tolerance
            ));
        }
        s
    }
}

/// Peers' final losses (bench/PEERS.md), for the self-check `|ours − peers| ≤ 1e-9·|peers|`.
fn peer_loss(workload: &str, size: &str) -> Option<f64> {
    match (workload, size) {
        ("W1", "w8") => Some(0.3371884402),
        ("W1", "w32") => Some(0.736558375),
        ("W1", "w128") => Some(3.392191014),
        ("W2", _) => Some(0.5252933021),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Reference {
    state_t1_flat: Vec<String>,
}

/// Runs every workload found in `dir`.
pub fn run_all(dir: &Path, reps: usize) -> Result<Report> {
    run_selected(dir, reps, &[])
}

/// Runs the workloads named in `only` (`W1` … `W5`, `sweep`; all when empty) from `dir`.
pub fn run_selected(dir: &Path, reps: usize, only: &[String]) -> Result<Report> {
    let want = |w: &str| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(w));
    let mut report = Report::default();
    for size in ["w8", "w32", "w128"].into_iter().filter(|_| want("W1")) {
        let inputs = DeepInputs::load(&dir.join(format!("inputs/W1_{size}.json")))?;
        let reps = if size == "w128" { reps.min(3) } else { reps };
        // Hairer's DOP853 estimate: at rtol 1e-10 it takes 1099 / 1090 / 1007 evaluations at
        // w8 / w32 / w128 against Prince–Dormand 8(7)'s 1272 / 1388 / 1299, with final states
        // within 1e-12 to 5e-12 of a run at rtol 1e-14 (dp8: 1.0e-12 to 1.7e-12).
        report.rows.push(w1(&inputs, size, &Integrator::Dp853 { rtol: 1e-10, atol: 1e-12 }, 10.0, reps)?);
        if size == "w32" {
            // Rows of Prince–Dormand 8(7) and of ode_solvers' Dop853 for comparison.
            report.rows.push(w1(&inputs, size, &Integrator::Dp8 { rtol: 1e-10, atol: 1e-12 }, 10.0, reps)?);
            report.rows.push(w1(&inputs, size, &Integrator::Dop853 { rtol: 1e-10, atol: 1e-12 }, 10.0, reps)?);
        }
    }
    if want("W2") {
        w2_rows(dir, reps, &mut report)?;
    }
    if want("W3") {
        w3_rows(dir, reps, &mut report)?;
    }
    if want("W4") {
        let w32 = DeepInputs::load(&dir.join("inputs/W1_w32.json"))?;
        report.rows.push(w4(&w32, "w32", 0.05, 100_000, reps)?);
        let w8 = DeepInputs::load(&dir.join("inputs/W1_w8.json"))?;
        report.rows.push(w4(&w8, "w8", 0.05, 100_000, reps)?);
    }
    if want("W5") {
        report.sweep_w5 = w5::run(dir, reps, &mut report.rows, &mut report.checks)?;
    }
    finish(report, reps, want("sweep"))
}

/// W2 in `f64` and at 256 bits, with the check against the 60-digit reference.
fn w2_rows(dir: &Path, reps: usize, report: &mut Report) -> Result<()> {
    let w2_inputs = DeepInputs::load(&dir.join("inputs/W2.json"))?;
    let reference: Reference = serde_json::from_str(&read(&dir.join("W2_reference.json"))?)
        .map_err(|e| Error::Config { path: "W2_reference.json".into(), message: e.to_string() })?;
    // W2 in f64 at the peers' tolerances, with its state against the 60-digit reference.
    let (row, err) = w2_f64(&w2_inputs, &reference.state_t1_flat, reps)?;
    report.rows.push(row);
    report.checks.push(BenchCheck {
        name: "W2 f64 state vs 60-digit reference (rtol 1e-10 class; peers 3.5e-13 to 2.6e-12)".into(),
        observed: err,
        tolerance: 1e-10,
        pass: err <= 1e-10,
    });
    let (row, err) = w2(&w2_inputs, &reference.state_t1_flat, 256, 1e-66, reps)?;
    report.rows.push(row);
    report.checks.push(BenchCheck {
        name: "W2 256-bit state vs 60-digit reference".into(),
        observed: err,
        tolerance: 1e-60,
        pass: err <= 1e-60,
    });
    Ok(())
}

/// W3 with Prince–Dormand 8(7) and with Tsitouras 5(4) at the peers' tolerances, each checked
/// like the peers' answers.
fn w3_rows(dir: &Path, reps: usize, report: &mut Report) -> Result<()> {
    let w3_inputs = DiagonalInputs::load(&dir.join("inputs/W3.json"))?;
    for integrator in [Integrator::Dp8 { rtol: 1e-9, atol: 1e-12 }, Integrator::Tsit5 { rtol: 1e-9, atol: 1e-12 }] {
        let row = w3(&w3_inputs, &integrator, 2000.0, reps)?;
        report.checks.push(BenchCheck {
            name: format!("W3 {} final loss (peers: 1e-18 to 7e-17)", row.method),
            observed: row.final_loss,
            tolerance: 1e-15,
            pass: row.final_loss <= 1e-15,
        });
        report.checks.push(BenchCheck {
            name: format!("W3 {} u*v conservation (peers: 1e-9 to 4e-8)", row.method),
            observed: row.bal_drift,
            tolerance: 1e-6,
            pass: row.bal_drift <= 1e-6,
        });
        report.rows.push(row);
    }
    Ok(())
}

/// The kernel throughput, the sweep (when `sweep`), and the checks against the peers' losses.
fn finish(mut report: Report, reps: usize, sweep: bool) -> Result<Report> {
    for n in [8, 32, 128] {
        report.gemm.push((n, gemm_flops(n, reps)));
    }
    // Throughput of W1's right-hand side (3(N−1) = 9 products of n×n matrices per evaluation,
    // including the integrator's own vector work) against the bare kernel at the same size.
    for r in report.rows.iter_mut().filter(|r| r.workload == "W1") {
        let n: Option<usize> = r.size.strip_prefix('w').and_then(|n| n.parse().ok());
        if let Some((n, kernel)) = n.and_then(|n| report.gemm.iter().find(|g| g.0 == n).copied()) {
            let flops = 9.0 * 2.0 * (n * n * n) as f64 / (r.us_per_eval * 1e-6);
            r.extra =
                format!("{}; rhs {:.1} Gflop/s = {:.0}% of the kernel", r.extra, flops / 1e9, 100.0 * flops / kernel);
        }
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if sweep {
        report.sweep.push((1, sweep_wall(1)?));
        if cores > 1 {
            report.sweep.push((cores, sweep_wall(cores)?));
        }
    }
    for r in &report.rows {
        if let Some(peer) = peer_loss(&r.workload, &r.size) {
            // The peers print 10 significant digits: agreement is checked to that resolution.
            let rel = (r.final_loss - peer).abs() / peer;
            report.checks.push(BenchCheck {
                name: format!("{} {} final loss vs peers", r.workload, r.size),
                observed: rel,
                tolerance: 1e-9,
                pass: rel <= 1e-9,
            });
        }
    }
    Ok(report)
}
