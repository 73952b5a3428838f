//! The deep matrix factorization problem of Arora, Cohen, Hu and Luo (2019): a square low-rank
//! ground truth, exactly `k` observed entries, the mean squared error over the observations, and
//! depth-`N` factorizations $W = W_N\cdots W_1$ with square layers.

use super::spectral::singular_values;
use crate::data;
use crate::error::{Error, Result};
use crate::init;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model, Reduction};
use crate::params::Params;

/// One completion instance.
#[derive(Clone, Debug)]
pub struct CompletionProblem {
    /// The ground truth `M` (`n×n`).
    pub truth: Mat<f64>,
    /// The training loss: mean squared error over the observed entries ([`Reduction::Mean`]).
    pub loss: Loss<f64>,
    /// The observed entries `(i, j, M_ij)`.
    pub entries: Vec<(usize, usize, f64)>,
    /// The largest singular value of `M`.
    pub sigma_max: f64,
}

impl CompletionProblem {
    /// A rank-`rank` `n×n` truth of Frobenius norm `fro` drawn with seed `truth_seed`, observed on
    /// `k` entries drawn uniformly without replacement with seed `obs_seed`.
    pub fn new(n: usize, rank: usize, fro: f64, k: usize, truth_seed: u64, obs_seed: u64) -> Result<Self> {
        let truth = data::low_rank_with_norm(n, n, rank, fro, &mut data::rng(truth_seed))?;
        let loss = data::completion_exact(&truth, k, &mut data::rng(obs_seed))?;
        Self::from_parts(truth, loss)
    }

    /// The instance an experiment file with `[loss] seed = seed` generates (`truth = "low_rank"`,
    /// `rank`, `truth_norm = fro`, `observed = k`): the truth and then the observed entries drawn
    /// from the one random stream of `seed`.
    pub fn from_seed(n: usize, rank: usize, fro: f64, k: usize, seed: u64) -> Result<Self> {
        let mut rng = data::rng(seed);
        let truth = data::low_rank_with_norm(n, n, rank, fro, &mut rng)?;
        let loss = data::completion_exact(&truth, k, &mut rng)?;
        Self::from_parts(truth, loss)
    }

    fn from_parts(truth: Mat<f64>, loss: Loss<f64>) -> Result<Self> {
        let loss = loss.with_reduction(Reduction::Mean)?;
        let Loss::Completion { entries, .. } = &loss else {
            return Err(Error::Other("completion_exact builds a completion loss".into()));
        };
        let entries = entries.clone();
        let sigma_max = singular_values(&truth)?[0];
        Ok(CompletionProblem { truth, loss, entries, sigma_max })
    }

    /// Side `n` of the square matrices.
    pub fn n(&self) -> usize {
        self.truth.rows()
    }

    /// The depth-`depth` factorization with `n×n` layers and this loss.
    pub fn model(&self, depth: usize) -> Result<Model<f64>> {
        if depth == 0 {
            return Err(Error::invalid("depth", "must be at least 1"));
        }
        Model::new(Arch::deep_linear(&vec![self.n(); depth + 1])?, self.loss.clone())
    }

    /// Gaussian layers with per-layer standard deviation `scale^{1/N}/√n`, so that the product has
    /// Frobenius norm about `scale·√n` (the paper's initialization).
    pub fn init(&self, depth: usize, scale: f64, seed: u64) -> Result<Params<f64>> {
        let std = layer_std(scale, depth, self.n())?;
        Ok(init::gaussian(&Arch::deep_linear(&vec![self.n(); depth + 1])?, std, &mut data::rng(seed)))
    }

    /// The fixed step size $\eta = c\,m/(2N\sigma_1(M)^{2-2/N})$. At a balanced interpolating
    /// solution the Hessian of $L$ has largest eigenvalue at most
    /// $\frac2m\,N\sigma_1^{2-2/N}$ (the largest eigenvalue of the end-to-end preconditioner times
    /// that of $\frac2m P_\Omega$), so $c < 2$ keeps GD stable there; $c$ is the fraction of that
    /// bound used.
    pub fn step_size(&self, depth: usize, c: f64) -> f64 {
        stable_step_size(self.entries.len(), depth, self.sigma_max, c)
    }
}

/// The per-layer standard deviation $s^{1/N}/\sqrt d$ of Gaussian `d×d` layers whose depth-`N`
/// product has Frobenius norm about $s\sqrt d$ ([`CompletionProblem::init`]; `[init] per_layer =
/// "end_to_end"` of an experiment file). Errors unless `scale` is finite and > 0 and `depth`, `d`
/// are at least 1.
pub fn layer_std(scale: f64, depth: usize, d: usize) -> Result<f64> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::invalid("init scale", format!("must be finite and > 0, got {scale}")));
    }
    if depth == 0 || d == 0 {
        return Err(Error::invalid("depth", format!("depth and width must be at least 1, got {depth} and {d}")));
    }
    Ok(scale.powf(1.0 / depth as f64) / (d as f64).sqrt())
}

/// The step size $\eta = c\,m/(2N\sigma_1^{2-2/N})$ for `m` observations under the mean squared
/// error, depth `N` and truth's largest singular value $\sigma_1$ ([`CompletionProblem::step_size`];
/// `[method] eta = { stable_fraction = c }` of an experiment file).
pub fn stable_step_size(m: usize, depth: usize, sigma_max: f64, c: f64) -> f64 {
    let n = depth as f64;
    c * m as f64 / (2.0 * n * sigma_max.powf(2.0 - 2.0 / n))
}
