//! `linflow bench`: the workloads of `bench/` (W1–W4) on exactly the inputs the peers used, with
//! the columns of `bench/PEERS.md`.
//!
//! Each workload is timed as one warm-up and then the median (and minimum) of `reps` repetitions
//! of the whole call, and checks its own answer (final loss against the peers, W2's state
//! against the 60-digit reference).

use crate::error::{Error, Result};
use crate::invariants::{Balancedness, Quantity};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
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
pub fn bal_drift(model: &Model<f64>, p0: &Params<f64>, p: &Params<f64>) -> f64 {
    let c0 = Balancedness.eval(model, p0);
    let c1 = Balancedness.eval(model, p);
    c0.iter().zip(&c1).map(|(a, b)| (b.sub(a).norm_sq() / a.norm_sq()).sqrt()).fold(0.0, f64::max)
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
    let (med, min, (p, evals)) = time_it(reps, || gd_loop(&model, &p0, eta, steps));
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
        extra: format!("{:.0} steps/s", steps as f64 / med),
    })
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

/// Runs every workload found in `dir`.
pub fn run_all(dir: &Path, reps: usize) -> Result<Report> {
    let mut report = Report::default();
    let w32 = DeepInputs::load(&dir.join("inputs/W1_w32.json"))?;
    let row = w4(&w32, "w32", 0.05, 100_000, reps)?;
    report.rows.push(row);
    let w8 = DeepInputs::load(&dir.join("inputs/W1_w8.json"))?;
    report.rows.push(w4(&w8, "w8", 0.05, 100_000, reps)?);
    for n in [8, 32, 128] {
        report.gemm.push((n, gemm_flops(n, reps)));
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
