//! `kempf-ness`: on a fibre $\{W : W_N\cdots W_1 = X\}$ the regularizer $R = \tfrac12\sum_j\|W_j\|^2$ has
//! minimum $\tfrac N2\sum_i\sigma_i^{2/N}$, attained at balanced points (Kempf–Ness), checked against
//! the SVD construction, random points of the fibre and a descent along the group orbit.

use crate::closed_form::lindsey_menon::{
    act, balanced_point, kempf_ness_minimum, moment_map, orbit_descent, regularizer,
};
use crate::compare::{max_abs_diff, max_abs_mats, nan_max, nan_min};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::mat::Mat;
use crate::model::Arch;
use crate::report::{Figure, Series, Style};
use crate::{data, init};

/// A group element near the identity, `I + scale·G` for each hidden layer.
fn random_group(widths: &[usize], scale: f64, seed: u64) -> Vec<Mat<f64>> {
    let mut rng = data::rng(seed);
    widths[1..widths.len() - 1]
        .iter()
        .map(|&d| Mat::eye(d, d, &0.0).add(&data::gaussian(d, d, scale, &mut rng)))
        .collect()
}

/// One fibre with a closed orbit (square widths): constructions, random points and the descent.
#[derive(Clone, Debug)]
pub struct FibreCase {
    /// Widths, for legends and check names.
    pub label: &'static str,
    /// The Kempf–Ness minimum $\tfrac N2\sum_i\sigma_i^{2/N}$.
    pub rmin: f64,
    /// The balanced SVD factorization: the largest of its product error, $\max|\mu|$ (both relative
    /// to $\max(1, \max|X|)$) and its relative gap to `rmin`.
    pub construction: f64,
    /// The same for `init::balanced`.
    pub init_balanced: f64,
    /// The lowest $R - R^*$ over 50 random points of the fibre.
    pub lowest_random: f64,
    /// $R$ along the orbit descent.
    pub history: Vec<f64>,
    /// The final relative gap $(R_{end} - R^*)/R^*$.
    pub gap_end: f64,
    /// The larger of the largest increase of $R$ along the descent and the largest undershoot of $R^*$.
    pub not_monotone_or_below: f64,
    /// The larger of $10^{-6}\max|\mu_{end}|$ and the product's drift, both relative to the scale.
    pub end_defect: f64,
}

/// What `kempf-ness` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Orbit-descent steps.
    pub iters: usize,
    /// Orbit-descent step size.
    pub eta: f64,
    /// The square 3-3-3-3 and the depth-4 2-2-2-2-2 fibres.
    pub cases: Vec<FibreCase>,
    /// Rectangular 2-4-3-2: $R$ along the descent.
    pub rect_history: Vec<f64>,
    /// Its infimum $\tfrac N2\sum\sigma_i^{2/N}$ of the start's product.
    pub rect_rmin: f64,
    /// The largest undershoot of the infimum along the descent.
    pub rect_below: f64,
    /// The minimum for an unrelated $X$ of the same shape (for the note).
    pub rect_unrelated_rmin: f64,
}

/// The constructions, random fibre points and orbit descents.
pub fn measure(quick: bool) -> Result<Measured> {
    let iters = if quick { 400 } else { 1500 };
    let eta = 0.05;
    let mut cases = Vec::new();
    for (label, widths, seed) in
        [("square 3-3-3-3", vec![3usize, 3, 3, 3], 51u64), ("depth 4, 2-2-2-2-2", vec![2, 2, 2, 2, 2], 52)]
    {
        let n = widths.len() - 1;
        let (d0, dn) = (widths[0], widths[n]);
        let x = data::gaussian(dn, d0, 1.0, &mut data::rng(seed));
        let rmin = kempf_ness_minimum(&x, n)?;
        let wb = balanced_point(&x, &widths)?;
        let w0 = act(&wb, &random_group(&widths, 0.4, seed + 100))?;
        let arch = Arch::deep_linear(&widths)?;
        let scale = x.max_abs().unwrap_or(1.0).max(1.0);
        let on_minimum = |w: &crate::params::Params<f64>| {
            nan_max([
                max_abs_diff(arch.product(w).as_slice(), x.as_slice()) / scale,
                max_abs_mats(&moment_map(w)) / scale,
                (regularizer(w) - rmin).abs() / rmin,
            ])
        };
        let construction = on_minimum(&wb);
        // The library's balanced initialization (f64 SVD) attains the same value.
        let init_balanced = on_minimum(&init::balanced(&arch, &x)?);
        // Random points of the fibre: none goes below the bound.
        let mut above = Vec::new();
        for k in 0..50 {
            let wk = act(&wb, &random_group(&widths, 0.6, 1000 + 7 * seed + k))?;
            above.push(regularizer(&wk) - rmin);
        }
        let (w_end, history) = orbit_descent(&w0, &eta, iters)?;
        let gap_end = (history[history.len() - 1] - rmin) / rmin;
        let increase = nan_max(history.windows(2).map(|w| w[1] - w[0]));
        let below = nan_max(history.iter().map(|r| rmin - r));
        let end_defect = nan_max([
            max_abs_mats(&moment_map(&w_end)) / scale * 1e-6,
            max_abs_diff(arch.product(&w_end).as_slice(), x.as_slice()) / scale,
        ]);
        cases.push(FibreCase {
            label,
            rmin,
            construction,
            init_balanced,
            lowest_random: nan_min(above),
            history,
            gap_end,
            not_monotone_or_below: nan_max([increase, below]),
            end_defect,
        });
    }
    // Rectangular widths: the generic orbit is not closed, the bound is an infimum.
    let widths = [2usize, 4, 3, 2];
    let x = data::gaussian(2, 2, 1.0, &mut data::rng(53));
    let rect_unrelated_rmin = kempf_ness_minimum(&x, 3)?;
    let w0 = init::gaussian(&Arch::deep_linear(&widths)?, 0.8, &mut data::rng(54));
    let x0 = Arch::deep_linear(&widths)?.product(&w0);
    let rect_rmin = kempf_ness_minimum(&x0, 3)?;
    let (_, rect_history) = orbit_descent(&w0, &eta, iters)?;
    let rect_below = nan_max(rect_history.iter().map(|r| rect_rmin - r));
    Ok(Measured { iters, eta, cases, rect_history, rect_rmin, rect_below, rect_unrelated_rmin })
}

/// The bound holds on the fibre and is attained at balanced points; the descent reaches it.
pub fn checks(m: &Measured) -> Vec<Check> {
    let (iters, eta) = (m.iters, m.eta);
    let mut v = Vec::new();
    for c in &m.cases {
        let label = c.label;
        v.push(Check::at_most(
            format!("balanced-construction-{label}"),
            "the SVD factorization W_1 = S V^T, W_j = S, W_N = U S (S = Sigma^(1/N)) has product X, mu = 0 and R = the \
             formula, to rounding: O(1) matrices from a few products and a Jacobi SVD, 1e-12 is ~5000 eps",
            c.construction,
            1e-12,
        ));
        v.push(Check::at_most(
            format!("init-balanced-attains-minimum-{label}"),
            "init::balanced (nalgebra SVD) gives a point of F_X with R = (N/2) sum sigma^(2/N) and mu = 0 (relative, \
             rounding of O(1) products: 1e-12)",
            c.init_balanced,
            1e-12,
        ));
        v.push(Check::at_least(
            format!("lower-bound-random-fibre-points-{label}"),
            "50 random group translates g.W_bal of the balanced point (g = I + 0.6 G) all have R >= the minimum; \
             -1e-12 allows rounding of O(1) sums",
            c.lowest_random,
            -1e-12,
        ));
        v.push(Check::at_most(
            format!("orbit-descent-reaches-minimum-{label}"),
            format!(
                "after {iters} steps of W <- exp(-{eta} mu).W (linear convergence on a closed orbit) R is within 1e-9 \
                 (relative) of (N/2) sum sigma^(2/N); the step size is below 2/(largest orbit Hessian eigenvalue)"
            ),
            c.gap_end,
            1e-9,
        ));
        v.push(Check::at_most(
            format!("orbit-descent-monotone-and-above-bound-{label}"),
            "R never increases along the descent and never goes below the bound (largest increase or undershoot; \
             1e-12 allows rounding)",
            c.not_monotone_or_below,
            1e-12,
        ));
        v.push(Check::at_most(
            format!("orbit-descent-balanced-and-on-fibre-{label}"),
            "the limit is balanced (max |mu| -> 0 like the square root of the gap: 1e-4 bounds sqrt(1e-9) times the scale) \
             and the product is unchanged by the group steps (relative 1e-10: iterated exact inverses in f64)",
            c.end_defect,
            1e-10,
        ));
    }
    v.push(Check::at_most(
        "rectangular-infimum-not-undershot",
        "widths 2-4-3-2 (generic orbit not closed): R stays above the infimum (N/2) sum sigma^(2/N) along the whole descent \
         (undershoot at most 1e-12, rounding)",
        m.rect_below,
        1e-12,
    ));
    v
}

/// The minima and the final gaps.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v: Vec<String> = m
        .cases
        .iter()
        .map(|c| {
            format!(
                "{}: R* = {:.15}, R(W_0) = {:.6}, final relative gap {:e}",
                c.label, c.rmin, c.history[0], c.gap_end
            )
        })
        .collect();
    v.push(format!(
        "rectangular 2-4-3-2: relative gap after {} steps {:e} (approached, not attained: the minimum lies in the orbit closure); \
         unrelated X of the same shape has R* = {:.6}",
        m.iters,
        (m.rect_history[m.rect_history.len() - 1] - m.rect_rmin) / m.rect_rmin,
        m.rect_unrelated_rmin
    ));
    v
}

/// $R$ along the descents with the minimum, and the gap to it.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut values =
        Figure::new("kempf_ness_values", "Orbit descent reaches the Kempf–Ness minimum", "step k", "R(W_k)");
    let mut gaps =
        Figure::new("kempf_ness_gap", "Gap to the Kempf–Ness minimum", "step k", "R(W_k) − (N/2) Σ σ_i^(2/N)").log_y();
    let steps = |h: &[f64], r0: f64| h.iter().enumerate().map(|(k, r)| (k as f64, r - r0)).collect::<Vec<_>>();
    for c in &m.cases {
        values = values.with(Series::line(format!("R(W_k), {}", c.label), steps(&c.history, 0.0))).with(
            Series::line(format!("(N/2) Σ σ^(2/N), {}", c.label), vec![(0.0, c.rmin), (m.iters as f64, c.rmin)])
                .styled(Style::Dashed),
        );
        gaps = gaps.with(Series::line(c.label, steps(&c.history, c.rmin)));
    }
    gaps = gaps.with(Series::line("rectangular 2-4-3-2 (infimum)", steps(&m.rect_history, m.rect_rmin)));
    vec![values, gaps]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "kempf-ness",
    description: "Kempf-Ness on the fibre F_X of the product map: R(W) = 1/2 sum ||W_j||^2 is at least (N/2) sum sigma_i(X)^(2/N) \
         everywhere on F_X, with equality exactly at balanced points (mu = 0). Gradient descent on the group \
         W <- exp(-eta mu) . W reaches the bound from an unbalanced point; the balanced SVD factorization attains it.",
    measure,
    checks,
    figures,
    notes,
};

/// The `kempf-ness` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "the regularizer's minimum on a fibre is (N/2) sum sigma_i^(2/N), attained at balanced points",
        run: |ctx| RECIPE.run(ctx),
    }
}
