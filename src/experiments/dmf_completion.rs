//! `dmf-completion`: Arora, Cohen, Hu and Luo (NeurIPS 2019), "Implicit Regularization in Deep
//! Matrix Factorization", their matrix-completion setting. A 100×100 rank-5 ground truth of
//! Frobenius norm 100, `k` entries observed uniformly without replacement, depth-`N`
//! factorizations (all layers 100×100, Gaussian init with per-layer standard deviation
//! `init^{1/N}/10`) trained by plain GD on the mean squared error over the observations until it
//! is at most 1e-6, against the minimum nuclear norm completion ("depth 1").
//!
//! Step-size rule: a fixed η per problem and depth, `η = c·m/(2Nσ₁(M)^{2−2/N})` with `c = 1.5`
//! ([`CompletionProblem::step_size`]): a fixed fraction of the stability limit at the solution, so
//! GD follows the gradient flow whose implicit bias the paper studies, and no adaptive rule
//! changes the path. (The authors' code scales one global step adaptively; their GD figure uses a
//! fixed step.)
//!
//! The GD runs go through the sweep machinery: [`base_doc`] is the experiment file of one point
//! (at the full sizes it is `examples/dmf_grid.toml`), and [`measure`] runs its grids over depth
//! (`model.widths`), `loss.observed`, `loss.seed` and `init.scale` with [`sweep::run_in_memory`]
//! and [`sweep::run_point`], the runner of `linflow sweep`, reading test error, effective rank
//! and steps back from each point. Seed `s` draws the truth and then the observed entries from
//! one stream ([`CompletionProblem::from_seed`]); the init seed is [`Setting::init_seed`] for
//! every point.

use super::harness::DataFiles;
use super::{Check, Experiment, Recipe};
use crate::completion::{
    effective_rank, min_nuclear_norm_completion, singular_values, test_mse, CompletionProblem, NuclearOptions, Stop,
};
use crate::error::{Error, Result};
use crate::report::{Figure, Series};
use crate::sweep::{self, Axis, Grid, PointResult};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Sizes of one run of the experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setting {
    /// Side of the square matrices.
    pub n: usize,
    /// Rank of the truth.
    pub rank: usize,
    /// Frobenius norm of the truth.
    pub fro: f64,
    /// Numbers of observations for the error-against-k figure (at init `inits[0]`).
    pub ks: Vec<usize>,
    /// Seeds (truth and observations) averaged over.
    pub seeds: Vec<u64>,
    /// GD depths (depth 1 is the nuclear-norm minimizer, always included).
    pub depths: Vec<usize>,
    /// Init scales for the init sweep at `k_main`, first seed.
    pub inits: Vec<f64>,
    /// The paper's headline number of observations.
    pub k_main: usize,
    /// GD stops at training MSE ≤ this.
    pub train_tol: f64,
    /// GD step cap.
    pub max_steps: usize,
    /// Fraction `c` of the stability limit used as the step size.
    pub step_fraction: f64,
    /// Seed of every initialization.
    pub init_seed: u64,
}

impl Setting {
    /// The paper's sizes (`quick = false`) or a reduced grid on the same problem.
    pub fn new(quick: bool) -> Self {
        if quick {
            Setting {
                n: 100,
                rank: 5,
                fro: 100.0,
                ks: vec![2000, 5000],
                seeds: vec![0],
                depths: vec![2, 3, 4],
                inits: vec![1e-3],
                k_main: 2000,
                train_tol: 1e-6,
                max_steps: 20_000,
                step_fraction: 1.5,
                init_seed: 0,
            }
        } else {
            Setting {
                n: 100,
                rank: 5,
                fro: 100.0,
                ks: vec![500, 1000, 1500, 2000, 3000, 4000, 5000],
                seeds: vec![0, 1, 2],
                depths: vec![2, 3, 4],
                inits: vec![1e-3, 1e-4, 1e-5, 1e-6],
                k_main: 2000,
                train_tol: 1e-6,
                max_steps: 200_000,
                step_fraction: 1.5,
                init_seed: 0,
            }
        }
    }
}

/// One trained (or solved) completion.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    /// Depth (1: minimum nuclear norm).
    pub depth: usize,
    /// Observed entries.
    pub k: usize,
    /// Seed of truth and observations.
    pub seed: u64,
    /// Init scale (0 for the nuclear-norm solver).
    pub init: f64,
    /// Step size (0 for the nuclear-norm solver).
    pub eta: f64,
    /// Test error: mean squared error over all entries.
    pub test_mse: f64,
    /// Training MSE at the end (0 for the solver: its observed entries are exact).
    pub train_mse: f64,
    /// GD steps, or solver iterations.
    pub steps: usize,
    /// Whether GD reached the training threshold (solver: the duality gap ≤ 1e-9).
    pub converged: bool,
    /// Why GD stopped (`None` for the solver).
    pub stop: Option<Stop>,
    /// Effective rank of the end-to-end matrix.
    pub effective_rank: f64,
    /// The ten largest singular values of the end-to-end matrix.
    pub top_singular_values: Vec<f64>,
    /// Solver only: certified relative duality gap.
    pub gap: Option<f64>,
    /// Solver only: the method whose point was certified (`douglas-rachford`, `barrier`,
    /// `polish`).
    #[serde(default)]
    pub solver: Option<String>,
    /// Solver only: the certified lower and upper bounds of the returned point.
    #[serde(default)]
    pub bounds: Option<(f64, f64)>,
    /// Solver only: the bracket Douglas–Rachford's own iterates certified.
    #[serde(default)]
    pub douglas_rachford_bounds: Option<(f64, f64)>,
}

/// What [`measure`] found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// The sizes used.
    pub setting: Setting,
    /// Effective rank of each seed's truth.
    pub truth_effective_rank: Vec<(u64, f64)>,
    /// All runs.
    pub runs: Vec<Run>,
}

/// The paper's reported test errors at k = 2000 (their Table/figure for matrix completion).
pub const PAPER_K2000: [(usize, f64); 3] = [(1, 1.06e-1), (2, 5.9e-2), (3, 2.6e-5)];

/// The instance at `k` observations and seed `seed`: the one an experiment file with
/// `[loss] seed = seed` and `observed = k` generates.
pub fn problem(s: &Setting, k: usize, seed: u64) -> Result<CompletionProblem> {
    CompletionProblem::from_seed(s.n, s.rank, s.fro, k, seed)
}

/// The experiment file of one GD point: depth `depth` (`depth + 1` widths of `n`), `k` observed
/// entries, seed `seed`, init scale `init`; GD with the step-size rule until the training MSE is
/// at most `train_tol` or `max_steps` steps. At the full sizes, depth 3, `k = 2000`, seed 0 and
/// init `1e-3` it is `examples/dmf_grid.toml`.
pub fn base_doc(s: &Setting, depth: usize, k: usize, seed: u64, init: f64) -> Result<toml::Table> {
    let widths = vec![s.n.to_string(); depth + 1].join(", ");
    let text = format!(
        r#"name = "dmf-grid"
precision = "f64"

[model]
arch = "deep_linear"
widths = [{widths}]

[loss]
kind = "completion"
truth = "low_rank"
rank = {rank}
truth_norm = {fro:?}
observed = {k}
reduction = "mean"
seed = {seed}

[init]
kind = "gaussian"
per_layer = "end_to_end"
scale = {init:?}
seed = {init_seed}

[method]
kind = "gd"
eta = {{ stable_fraction = {c:?} }}

[run]
steps = {steps}
stop_loss = {tol:?}
save = "final"

[check]
every = 100
"#,
        rank = s.rank,
        fro = s.fro,
        init_seed = s.init_seed,
        c = s.step_fraction,
        steps = s.max_steps,
        tol = s.train_tol,
    );
    text.parse().map_err(|e: toml::de::Error| Error::Other(format!("dmf-completion base file: {e}")))
}

fn widths_value(n: usize, depth: usize) -> toml::Value {
    toml::Value::Array(vec![toml::Value::Integer(n as i64); depth + 1])
}

fn int_axis(key: &str, v: impl Iterator<Item = u64>) -> Axis {
    Axis { key: key.into(), values: v.map(|x| toml::Value::Integer(x as i64)).collect() }
}

/// The grids of GD points: every depth at every `k` and seed at init `inits[0]`; and every other
/// init at every depth at `k_main`, first seed.
pub fn grids(s: &Setting) -> Result<Vec<(toml::Table, Grid)>> {
    let depths = Axis { key: "model.widths".into(), values: s.depths.iter().map(|&d| widths_value(s.n, d)).collect() };
    let main = Grid::new(vec![
        depths.clone(),
        int_axis("loss.observed", s.ks.iter().map(|&k| k as u64)),
        int_axis("loss.seed", s.seeds.iter().copied()),
    ]);
    let mut out = vec![(base_doc(s, s.depths[0], s.k_main, s.seeds[0], s.inits[0])?, main)];
    if s.inits.len() > 1 {
        let inits =
            Axis { key: "init.scale".into(), values: s.inits[1..].iter().map(|&i| toml::Value::Float(i)).collect() };
        out.push((base_doc(s, s.depths[0], s.k_main, s.seeds[0], s.inits[0])?, Grid::new(vec![inits, depths])));
    }
    Ok(out)
}

/// The [`Run`] of one sweep point (its document `doc` and the runner's scalars).
fn gd_run(s: &Setting, doc: &toml::Table, p: &PointResult) -> Result<Run> {
    let m = p.result.as_ref().map_err(|e| Error::Other(format!("dmf-completion point {:?}: {e}", p.coords)))?;
    let get = |key: &str| {
        m.get(key).copied().ok_or_else(|| Error::Other(format!("dmf-completion point {:?}: no {key}", p.coords)))
    };
    let int = |sec: &str, key: &str| doc.get(sec).and_then(|t| t.get(key)).and_then(|v| v.as_integer());
    let depth = doc.get("model").and_then(|t| t.get("widths")).and_then(|v| v.as_array()).map_or(0, |a| a.len() - 1);
    let init = doc.get("init").and_then(|t| t.get("scale")).and_then(|v| v.as_float()).unwrap_or(f64::NAN);
    let steps = get("steps")? as usize;
    let converged = m.get("converged") == Some(&1.0);
    let stop = if converged {
        Stop::Converged
    } else if steps >= s.max_steps {
        Stop::StepCap
    } else {
        Stop::NonFinite
    };
    Ok(Run {
        depth,
        k: int("loss", "observed").unwrap_or(0) as usize,
        seed: int("loss", "seed").unwrap_or(0) as u64,
        init,
        eta: get("eta")?,
        test_mse: get("test_mse")?,
        train_mse: get("final_loss")?,
        steps,
        converged,
        stop: Some(stop),
        effective_rank: get("effective_rank")?,
        top_singular_values: (1..=10).map_while(|i| m.get(&format!("sigma_{i:02}")).copied()).collect(),
        gap: None,
        solver: None,
        bounds: None,
        douglas_rachford_bounds: None,
    })
}

/// Runs every grid of [`grids`] in memory with `linflow sweep`'s runner.
pub fn sweep_gd(s: &Setting) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for (base, grid) in grids(s)? {
        for p in sweep::run_in_memory(&base, &grid, |doc| sweep::run_point(doc, "dmf-grid"))? {
            runs.push(gd_run(s, &grid.point(&base, p.index)?, &p)?);
        }
    }
    Ok(runs)
}

fn spectrum_summary(w: &crate::mat::Mat<f64>) -> Result<(f64, Vec<f64>)> {
    let sv = singular_values(w)?;
    Ok((effective_rank(&sv)?, sv.into_iter().take(10).collect()))
}

/// The minimum nuclear norm completion of `prob`.
pub fn nuclear(prob: &CompletionProblem, seed: u64) -> Result<Run> {
    let sol = min_nuclear_norm_completion(prob.truth.shape(), &prob.entries, &NuclearOptions::default())?;
    let (er, top) = spectrum_summary(&sol.x)?;
    Ok(Run {
        depth: 1,
        k: prob.entries.len(),
        seed,
        init: 0.0,
        eta: 0.0,
        test_mse: test_mse(&sol.x, &prob.truth)?,
        train_mse: 0.0,
        steps: sol.iterations,
        converged: sol.converged,
        stop: None,
        effective_rank: er,
        top_singular_values: top,
        gap: Some(sol.rel_gap),
        solver: Some(sol.method.to_string()),
        bounds: Some((sol.lower_bound, sol.nuclear_norm)),
        douglas_rachford_bounds: Some(sol.douglas_rachford_bounds),
    })
}

/// Runs the grid: every depth (and the nuclear norm) at every `k` and seed at init `inits[0]`,
/// and every depth at every init at `k_main`, first seed. The GD points go through the sweep
/// ([`sweep_gd`]).
pub fn measure(quick: bool) -> Result<Measured> {
    let s = Setting::new(quick);
    let pairs: Vec<(usize, u64)> = s.ks.iter().flat_map(|&k| s.seeds.iter().map(move |&seed| (k, seed))).collect();
    let mut runs =
        pairs.par_iter().map(|&(k, seed)| nuclear(&problem(&s, k, seed)?, seed)).collect::<Result<Vec<_>>>()?;
    runs.extend(sweep_gd(&s)?);
    let truth_effective_rank = s
        .seeds
        .iter()
        .map(|&seed| Ok((seed, spectrum_summary(&problem(&s, s.k_main, seed)?.truth)?.0)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Measured { setting: s, truth_effective_rank, runs })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

impl Measured {
    /// Runs at depth `depth`, `k` observations and init `init` (any seed; init ignored at depth 1).
    pub fn select(&self, depth: usize, k: usize, init: f64) -> Vec<&Run> {
        self.runs.iter().filter(|r| r.depth == depth && r.k == k && (depth == 1 || r.init == init)).collect()
    }

    /// Mean test error over seeds at `(depth, k)` and the first init.
    pub fn mean_test(&self, depth: usize, k: usize) -> f64 {
        mean(&self.select(depth, k, self.setting.inits[0]).iter().map(|r| r.test_mse).collect::<Vec<_>>())
    }
}

/// The paper's claims against the measurement.
pub fn checks(m: &Measured) -> Vec<Check> {
    let s = &m.setting;
    let (k, init0) = (s.k_main, s.inits[0]);
    let mut c = Vec::new();
    let worst = |depth: usize| m.select(depth, k, init0).iter().map(|r| r.test_mse).fold(0.0, f64::max);
    let best = |depth: usize| m.select(depth, k, init0).iter().map(|r| r.test_mse).fold(f64::INFINITY, f64::min);
    for &depth in s.depths.iter().filter(|&&d| d >= 3) {
        c.push(Check::at_most(
            format!("depth-{depth}-recovers-at-k{k}"),
            format!(
                "paper: at k = {k} depth {depth} recovers the truth (their depth-3 test error 2.6e-5); ours, worst \
                 over seeds at init {init0:e}; recovery means test error <= 1e-3 (1e-3 of the mean squared entry 1)"
            ),
            worst(depth),
            1e-3,
        ));
    }
    for depth in [1usize, 2] {
        c.push(Check::at_least(
            format!("depth-{depth}-does-not-recover-at-k{k}"),
            format!(
                "paper: at k = {k} the {} does not recover (theirs: {:.2e}); ours, best over seeds, must stay above \
                 the recovery level 1e-3",
                if depth == 1 { "minimum nuclear norm completion" } else { "depth-2 factorization" },
                PAPER_K2000.iter().find(|p| p.0 == depth).map_or(f64::NAN, |p| p.1)
            ),
            best(depth),
            1e-3,
        ));
    }
    for (depth, paper) in PAPER_K2000 {
        let ours = m.mean_test(depth, k);
        c.push(Check::at_most(
            format!("depth-{depth}-order-of-magnitude"),
            format!(
                "paper's depth-{depth} test error at k = {k} is {paper:.2e}; ours (mean over seeds) must be within a \
                 factor 10 (|log10 ratio| <= 1): a different random instance moves the value, not its magnitude"
            ),
            (ours / paper).log10().abs(),
            1.0,
        ));
    }
    for &init in &s.inits {
        let d2 = m.select(2, k, init).first().map_or(f64::NAN, |r| r.test_mse);
        for &depth in s.depths.iter().filter(|&&d| d >= 3) {
            let dn = m.select(depth, k, init).first().map_or(f64::NAN, |r| r.test_mse);
            c.push(Check::at_most(
                format!("depth-{depth}-beats-depth-2-init-{init:e}"),
                format!(
                    "paper: depth >= 3 has lower test error than depth 2 for every init <= 1e-3; ratio of test errors \
                     depth {depth} / depth 2 at k = {k}, init {init:e}, first seed, must be below 1"
                ),
                dn / d2,
                1.0,
            ));
        }
    }
    let er_truth = m.truth_effective_rank.first().map_or(f64::NAN, |t| t.1);
    let er_of = |depth: usize| m.select(depth, k, init0).first().map_or(f64::NAN, |r| r.effective_rank);
    let er2 = er_of(2);
    for &depth in s.depths.iter().filter(|&&d| d >= 3) {
        let er = er_of(depth);
        c.push(Check::at_most(
            format!("depth-{depth}-effective-rank"),
            format!(
                "paper: the learned matrix has effective rank ~ 5 at depth >= 3, where depth 2's is higher. The \
                 truth's own effective rank is {er_truth:.3} (unequal singular values give less than 5), depth \
                 2's {er2:.3}; |erank(W) - erank(M)| at depth {depth} over the same distance at depth 2 (k = {k}, \
                 first seed) must be at most 0.1: depth {depth} closes at least 90% of depth 2's gap. (No absolute \
                 bound: the ~95 residual singular values of a test error <= 1e-3 sum to at most sqrt(95) times \
                 the Frobenius error 3.2, which bounds the entropy only loosely.)"
            ),
            (er - er_truth).abs() / (er2 - er_truth).abs(),
            0.1,
        ));
    }
    let worst_gap = m.runs.iter().filter_map(|r| r.gap).fold(0.0, f64::max);
    c.push(Check::at_most(
        "nuclear-solver-certified",
        "every minimum nuclear norm completion is certified by a relative duality gap <= 1e-9 (Douglas-Rachford; \
         where it stalls, the dual barrier path and a Newton polish; proofs/matrix_completion.md)",
        worst_gap,
        1e-9,
    ));
    // Two methods, one minimum: a point certified by the barrier or the polish must lie inside
    // the bracket Douglas-Rachford's iterates certified on their own (weak duality makes every
    // lower bound <= every upper bound; 1e-12 relative is the round-off of the SVD sums).
    let others: Vec<&Run> =
        m.runs.iter().filter(|r| r.solver.as_deref().is_some_and(|s| s != "douglas-rachford")).collect();
    let violation = others
        .iter()
        .filter_map(|r| {
            let ((lo, up), (dlo, dup)) = (r.bounds?, r.douglas_rachford_bounds?);
            Some(((dlo - up).max(lo - dup) / up).max(0.0))
        })
        .fold(0.0, f64::max);
    // Only where another method certified a point (none in `--quick`, where every k certifies by
    // Douglas-Rachford alone: the notes say which method certified each instance).
    if !others.is_empty() {
        c.push(Check::at_most(
            "nuclear-methods-agree",
            format!(
                "the {} completions certified by the barrier method or the polish lie inside Douglas-Rachford's own \
             certified bracket (relative violation; 1e-12 is round-off of the SVD sums)",
                others.len()
            ),
            violation,
            1e-12,
        ));
    }
    c
}

/// Test error against the number of observations (mean over seeds) and against the init scale.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let s = &m.setting;
    let label = |d: usize| if d == 1 { "nuclear norm (depth 1)".to_string() } else { format!("depth {d}") };
    let mut fig_k = Figure::new(
        "dmf_error_vs_k",
        format!("Matrix completion, {n}x{n} rank {r}: test error vs observations", n = s.n, r = s.rank),
        "observed entries k",
        format!("test MSE (mean over {} seeds, init {:e})", s.seeds.len(), s.inits[0]),
    )
    .log_y();
    for d in std::iter::once(1).chain(s.depths.iter().copied()) {
        let pts: Vec<(f64, f64)> = s.ks.iter().map(|&k| (k as f64, m.mean_test(d, k))).collect();
        fig_k = fig_k.with(Series::line(label(d), pts));
    }
    let mut fig_i = Figure::new(
        "dmf_error_vs_init",
        format!("Test error vs init scale at k = {}", s.k_main),
        "init scale",
        "test MSE",
    )
    .log_x()
    .log_y();
    for &d in &s.depths {
        let pts: Vec<(f64, f64)> =
            s.inits.iter().filter_map(|&i| m.select(d, s.k_main, i).first().map(|r| (i, r.test_mse))).collect();
        fig_i = fig_i.with(Series::line(label(d), pts));
    }
    vec![fig_k, fig_i]
}

fn notes(m: &Measured) -> Vec<String> {
    let mut n = Vec::new();
    let k = m.setting.k_main;
    for (depth, paper) in PAPER_K2000 {
        n.push(format!(
            "k = {k}, depth {depth}: ours {:.3e} (mean over seeds), paper {paper:.2e}",
            m.mean_test(depth, k)
        ));
    }
    if m.setting.depths.contains(&4) {
        n.push(format!("k = {k}, depth 4: ours {:.3e} (paper: recovers)", m.mean_test(4, k)));
    }
    for &kk in m.setting.ks.iter().filter(|&&kk| kk != k) {
        let row: Vec<String> = std::iter::once(1)
            .chain(m.setting.depths.iter().copied())
            .map(|d| format!("depth {d}: {:.3e}", m.mean_test(d, kk)))
            .collect();
        n.push(format!("k = {kk}: {}", row.join(", ")));
    }
    for r in m.runs.iter().filter(|r| r.solver.as_deref().is_some_and(|s| s != "douglas-rachford")) {
        n.push(format!(
            "nuclear norm at k {} seed {}: Douglas-Rachford stopped at its cap ({} iterations) with bracket \
             [{:.12}, {:.12}]; certified by the {} at [{:.12}, {:.12}] (gap {:.1e})",
            r.k,
            r.seed,
            r.steps,
            r.douglas_rachford_bounds.map_or(f64::NAN, |b| b.0),
            r.douglas_rachford_bounds.map_or(f64::NAN, |b| b.1),
            r.solver.as_deref().unwrap_or("?"),
            r.bounds.map_or(f64::NAN, |b| b.0),
            r.bounds.map_or(f64::NAN, |b| b.1),
            r.gap.unwrap_or(f64::NAN)
        ));
    }
    for r in m.runs.iter().filter(|r| !r.converged) {
        n.push(format!(
            "depth {} k {} seed {} init {:e}: stopped on the {} after {} steps at training MSE {:.2e} (test {:.2e})",
            r.depth,
            r.k,
            r.seed,
            r.init,
            if r.depth == 1 { "iteration cap" } else { "step cap" },
            r.steps,
            r.train_mse,
            r.test_mse
        ));
    }
    n
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "dmf-completion",
    description: "Arora-Cohen-Hu-Luo 2019 matrix completion: depth >= 3 recovers a 100x100 rank-5 matrix from 2000 \
                  entries where the nuclear norm and depth 2 do not",
    measure,
    checks,
    figures,
    notes,
};

/// Every training and nuclear-norm run, as `runs.json`.
fn data(m: &Measured) -> Result<DataFiles> {
    let runs = serde_json::to_value(&m.runs).map_err(|e| crate::error::Error::Other(e.to_string()))?;
    Ok(vec![("runs.json", runs)])
}

/// The experiment's registry entry.
pub fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: "dmf-completion",
        about: "deep matrix factorization (Arora et al. 2019): test error of depth 1 (nuclear norm), 2, 3, 4 vs k",
        run: |ctx| RECIPE.run_with_data(ctx, data),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_the_full_grids_point() {
        let file: toml::Table = include_str!("../../examples/dmf_grid.toml").parse().unwrap();
        assert_eq!(file, base_doc(&Setting::new(false), 3, 2000, 0, 1e-3).unwrap());
    }
}
