//! W5: deep matrix factorization (Arora, Cohen, Hu and Luo 2019) as in the peers'
//! `run_w5.py`: a depth-3 factorization of a `100×100` rank-5 truth observed on 2000 entries,
//! 2000 gradient-descent steps with $\eta = 3$ on the mean squared error over the observations,
//! from the peers' exact initial weights. The model's gradient uses the sparsity of the residual
//! (`model/sparse.rs`): three dense products per step instead of six.

use super::{read, time_it_cpu, BenchCheck, Row};
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model, Reduction};
use crate::params::Params;
use serde::Deserialize;
use std::path::Path;
use std::time::Instant;

/// The peers' final training loss: NumPy's (`bench/peers/run_w5.py`, one thread or many: the
/// same double); jax's differs from it by 1.8e-14 relative.
pub const PEER_TRAIN_LOSS: f64 = 5.899836309629966e-7;
/// The peers' test error $\frac1{n^2}\|W - M\|_F^2$ (NumPy, from the same run).
pub const PEER_TEST_ERROR: f64 = 1.4879275401182032e-5;

/// Relative agreement required of linflow's loss and test error with the peers'. The peers agree
/// with each other to 2e-14; linflow sums in another order (the sparse residual path), a
/// difference of a few units of rounding per step that GD, contracting near the solution, does
/// not amplify beyond this bound, while an error in the gradient (a wrong factor, a missed
/// entry) moves the loss by orders of magnitude.
pub const AGREEMENT: f64 = 1e-8;

/// W5's inputs.
#[derive(Clone, Debug)]
pub struct W5Inputs {
    /// The ground truth `M`.
    pub truth: Mat<f64>,
    /// Observed flat indices `i·n + j`, sorted.
    pub omega: Vec<usize>,
    /// Initial weights `W_1, W_2, W_3`.
    pub ws: Vec<Mat<f64>>,
    /// Step size.
    pub eta: f64,
    /// Number of steps.
    pub steps: usize,
}

#[derive(Deserialize)]
struct Spec {
    eta: f64,
    steps: usize,
}

#[derive(Deserialize)]
struct File {
    spec: Spec,
    #[serde(rename = "M")]
    m: Vec<Vec<f64>>,
    omega: Vec<usize>,
    #[serde(rename = "Ws")]
    ws: Vec<Vec<Vec<f64>>>,
}

impl W5Inputs {
    /// Reads `inputs/W5.json` (values with 17 significant digits: exact `f64`).
    pub fn load(path: &Path) -> Result<Self> {
        let f: File = serde_json::from_str(&read(path)?)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
        let truth = Mat::try_from_rows(f.m).map_err(|e| Error::invalid("M", e))?;
        let ws =
            f.ws.into_iter()
                .map(|w| Mat::try_from_rows(w).map_err(|e| Error::invalid("Ws", e)))
                .collect::<Result<Vec<_>>>()?;
        let inputs = W5Inputs { truth, omega: f.omega, ws, eta: f.spec.eta, steps: f.spec.steps };
        inputs.model()?.check_params(&inputs.params())?;
        Ok(inputs)
    }

    /// The depth-`N` model `(1/m)Σ_Ω ((W_N⋯W_1)_ij − M_ij)²`.
    pub fn model(&self) -> Result<Model<f64>> {
        let (r, c) = self.truth.shape();
        if r != c {
            return Err(Error::dim("M", "a square matrix", format!("{r}x{c}")));
        }
        if let Some(&bad) = self.omega.iter().find(|&&f| f >= r * c) {
            return Err(Error::invalid("omega", format!("flat index {bad} outside the {r}x{c} matrix")));
        }
        let entries = self.omega.iter().map(|&f| (f / c, f % c, *self.truth.get(f / c, f % c))).collect();
        let loss = Loss::completion((r, c), entries)?.with_reduction(Reduction::Mean)?;
        Model::new(Arch::deep_linear(&vec![r; self.ws.len() + 1])?, loss)
    }

    /// The initial parameters.
    pub fn params(&self) -> Params<f64> {
        Params::new(self.ws.clone())
    }

    /// The test error $\frac1{n^2}\|W_N\cdots W_1 - M\|_F^2$ over all entries.
    pub fn test_error(&self, model: &Model<f64>, p: &Params<f64>) -> f64 {
        let w = model.end_to_end(p);
        let d = w.sub(&self.truth);
        d.norm_sq() / (d.rows() * d.cols()) as f64
    }
}

/// The W5 row: `steps` GD steps timed (one warm-up, median and minimum of `reps`), with its
/// training loss and test error.
pub fn w5(inputs: &W5Inputs, reps: usize) -> Result<(Row, f64)> {
    let model = inputs.model()?;
    let p0 = inputs.params();
    let (med, min, cpu, (p, steps)) = time_it_cpu(reps, || super::gd_loop(&model, &p0, inputs.eta, inputs.steps));
    let test = inputs.test_error(&model, &p);
    let row = Row {
        workload: "W5".into(),
        size: format!("d{}_n{}_m{}", inputs.ws.len(), inputs.truth.rows(), inputs.omega.len()),
        method: "gd (sparse residual)".into(),
        wall_median_s: med,
        wall_min_s: min,
        rhs_evals: steps,
        us_per_eval: med / steps as f64 * 1e6,
        final_loss: model.loss(&p),
        bal_drift: f64::NAN,
        extra: format!("test error {test:.3e}; {:.0} steps/s; cpu min {cpu:.4} s", steps as f64 / min),
    };
    Ok((row, test))
}

/// Step sizes of the W5 sweep: 16 points $\eta = 1.5, 1.6, \dots, 3.0$.
pub fn sweep_etas() -> Vec<f64> {
    (0..16).map(|k| 1.5 + 0.1 * k as f64).collect()
}

/// Wall time of the 16-point W5 sweep ([`sweep_etas`]) on `threads` threads, and the final
/// training losses (in point order, identical for any number of threads).
pub fn w5_sweep(inputs: &W5Inputs, threads: usize) -> Result<(f64, Vec<f64>)> {
    use rayon::prelude::*;
    let model = inputs.model()?;
    let p0 = inputs.params();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Other(e.to_string()))?;
    let start = Instant::now();
    let losses: Vec<f64> = pool.install(|| {
        sweep_etas()
            .par_iter()
            .with_max_len(1)
            .map(|&eta| model.loss(&super::gd_loop(&model, &p0, eta, inputs.steps).0))
            .collect()
    });
    Ok((start.elapsed().as_secs_f64(), losses))
}

/// Runs W5 from `dir` (`inputs/W5.json`): its row, self-checks against the peers, and the sweep
/// on 1 and on all cores.
pub fn run(dir: &Path, reps: usize, rows: &mut Vec<Row>, checks: &mut Vec<BenchCheck>) -> Result<Vec<(usize, f64)>> {
    let inputs = W5Inputs::load(&dir.join("inputs/W5.json"))?;
    let (row, test) = w5(&inputs, reps)?;
    let rel_loss = (row.final_loss - PEER_TRAIN_LOSS).abs() / PEER_TRAIN_LOSS;
    let rel_test = (test - PEER_TEST_ERROR).abs() / PEER_TEST_ERROR;
    checks.push(BenchCheck {
        name: "W5 final training loss vs peers (relative)".into(),
        observed: rel_loss,
        tolerance: AGREEMENT,
        pass: rel_loss <= AGREEMENT,
    });
    checks.push(BenchCheck {
        name: "W5 test error vs peers (relative)".into(),
        observed: rel_test,
        tolerance: AGREEMENT,
        pass: rel_test <= AGREEMENT,
    });
    rows.push(row);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (one, l1) = w5_sweep(&inputs, 1)?;
    let mut sweep = vec![(1, one)];
    if cores > 1 {
        let (all, lall) = w5_sweep(&inputs, cores)?;
        // Each point runs on one thread in the same order of operations: identical results.
        checks.push(BenchCheck {
            name: "W5 sweep: same losses on 1 and on all threads".into(),
            observed: l1.iter().zip(&lall).filter(|(a, b)| a.to_bits() != b.to_bits()).count() as f64,
            tolerance: 0.0,
            pass: l1.iter().zip(&lall).all(|(a, b)| a.to_bits() == b.to_bits()),
        });
        sweep.push((cores, all));
    }
    Ok(sweep)
}
