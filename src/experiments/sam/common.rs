//! What the SAM experiments share: Li–Zhang–He's noisy two-factor problems (Fig. 1) and the
//! diagonal sparse-regression problem.

use crate::data;
use crate::error::{Error, Result};
use crate::invariants::Monitor;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer, StepRecord};
use crate::params::Params;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Li–Zhang–He's Fig. 1 problems: `Nop` is `½‖xyᵀ − (A + αN)‖²` with `A = diag(0.5, 0, 0)` and
/// `N = diag(1, 0.8, 0.5)·U`, `U` i.i.d. N(0,1) drawn afresh at every step; `Op` is
/// `½(xᵀy − (0.5 + αn))²` with `n ~ N(0,1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Toy {
    Nop,
    Op,
}

/// The paper's start `x₀ = (0.2, −0.1, 0.3)`, `y₀ = −3x₀` (B₀ = −0.56), the same for both problems.
pub(super) fn toy_start() -> Params<f64> {
    let x = [0.2, -0.1, 0.3];
    let col = |s: f64| Mat::from_fn(3, 1, |i, _| s * x[i]);
    Params::new(vec![col(1.0), col(-3.0)])
}

/// The Fig. 1 run shared by `sam-balancedness` and `bar`.
pub(super) struct Fig1Run {
    /// Our step on the ½-loss (the paper's 1e-4 on the unhalved loss).
    pub(super) eta: f64,
    /// Paper time of the horizon.
    pub(super) t_paper: f64,
    /// Steps to reach it.
    pub(super) steps: usize,
    /// Save interval (200 points).
    pub(super) every: usize,
    /// The start, and its balance B₀ = ½(‖x₀‖² − ‖y₀‖²).
    pub(super) p0: Params<f64>,
    pub(super) b0: f64,
}

pub(super) fn fig1_run() -> Fig1Run {
    let (eta, t_paper): (f64, f64) = (2e-4, 10.0);
    let steps = (t_paper / (0.5 * eta)).round() as usize;
    let p0 = toy_start();
    let b0 = 0.5 * (p0.blocks[0].norm_sq() - p0.blocks[1].norm_sq());
    Fig1Run { eta, t_paper, steps, every: steps / 200, p0, b0 }
}

pub(super) fn toy_model(toy: Toy) -> Result<Model<f64>> {
    match toy {
        Toy::Nop => Model::new(Arch::Factor { d1: 3, d2: 3, r: 1 }, Loss::target(Mat::zeros(3, 3, &0.0))),
        Toy::Op => Model::new(Arch::FactorOp { d: 3 }, Loss::target(Mat::zeros(1, 1, &0.0))),
    }
}

/// Writes the target of step `k`: the clean target plus `alpha` times fresh noise.
pub(super) fn draw_target(toy: Toy, model: &mut Model<f64>, alpha: f64, rng: &mut ChaCha8Rng) {
    let Loss::Target { phi } = &mut model.loss else { return };
    match toy {
        Toy::Nop => {
            let scale = [1.0, 0.8, 0.5];
            for (i, si) in scale.iter().enumerate() {
                for j in 0..3 {
                    let a = if i == 0 && j == 0 { 0.5 } else { 0.0 };
                    let n: f64 = rng.sample(StandardNormal);
                    *phi.get_mut(i, j) = a + alpha * si * n;
                }
            }
        }
        Toy::Op => {
            let n: f64 = rng.sample(StandardNormal);
            *phi.get_mut(0, 0) = 0.5 + alpha * n;
        }
    }
}

/// What a noisy run recorded.
pub(super) struct NoisyRun {
    /// `(paper time, B)` every `every` steps.
    pub(super) b: Vec<(f64, f64)>,
    /// States at the recorded times.
    pub(super) states: Vec<Params<f64>>,
    /// Law reports (in the monitor's order).
    pub(super) laws: Vec<crate::invariants::LawReport>,
    /// Final state.
    pub(super) last: Params<f64>,
    /// Gradient calls.
    pub(super) grad_calls: usize,
}

/// Runs `method` on a noisy toy for `steps` steps (fresh noise each step from `seed`), calling
/// `each(model, record)` after every step, recording B every `every` steps.
#[allow(clippy::too_many_arguments)]
pub(super) fn noisy_run(
    toy: Toy,
    p0: &Params<f64>,
    method: Method,
    alpha: f64,
    steps: usize,
    every: usize,
    seed: u64,
    monitor: &mut Monitor<f64>,
    mut each: impl FnMut(&Model<f64>, &StepRecord<f64>),
) -> Result<NoisyRun> {
    let mut model = toy_model(toy)?;
    model.check_params(p0)?;
    let mut opt = Optimizer::new(method.clone(), &0.0)?;
    let mut rng = data::rng(seed);
    let mut p = p0.clone();
    let bal = |p: &Params<f64>| 0.5 * (p.blocks[0].norm_sq() - p.blocks[1].norm_sq());
    // Time in the paper's units: its step is half ours.
    let tp = 0.5 * method.eta();
    let mut out =
        NoisyRun { b: vec![(0.0, bal(&p))], states: vec![p.clone()], laws: vec![], last: p.clone(), grad_calls: 0 };
    monitor.start(&model, &p);
    for k in 1..=steps {
        draw_target(toy, &mut model, alpha, &mut rng);
        let rec = opt.step(&model, &mut p)?;
        if !p.is_finite() {
            return Err(Error::Other(format!("{} diverged at step {k} (alpha = {alpha})", method.name())));
        }
        monitor.after_step(&model, &rec, &p, k, &(k as f64 * method.eta()));
        each(&model, &rec);
        if k % every == 0 || k == steps {
            out.b.push((k as f64 * tp, bal(&p)));
            out.states.push(p.clone());
        }
    }
    out.laws = monitor.reports();
    out.last = p;
    out.grad_calls = opt.grad_calls;
    Ok(out)
}

/// Sparse regression on a diagonal net `β = u⊙v`: `X` (`d×n`, samples are columns) i.i.d.
/// N(0,1), `β*` `s`-sparse, `y = β*X`; start `u = √2·α`, `v = 0`.
pub(super) fn diagonal_problem(
    n: usize,
    d: usize,
    s: usize,
    alpha: f64,
    seed: u64,
) -> Result<(Model<f64>, Params<f64>, Mat<f64>)> {
    let mut rng = data::rng(seed);
    let beta_star = data::sparse_row(d, s, &mut rng);
    let x = data::gaussian(d, n, 1.0, &mut rng);
    let y = beta_star.matmul(&x);
    let arch = Arch::DiagonalUV { d };
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    let p0 = crate::init::diagonal_alpha(&arch, alpha)?;
    Ok((model, p0, beta_star))
}
