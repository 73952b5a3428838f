//! `sam-diagonal`: SAM and USAM on diagonal networks: the exact per-step balance identity and
//! Andriushchenko–Flammarion's balancing exponent $-2\rho\int g^2$.

use super::common::diagonal_problem;
use crate::compare::nan_max;
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::DiagonalBalance;
use crate::invariants::{Law, Monitor};
use crate::optim::{Method, Optimizer};
use crate::report::{Figure, Series, Style};
use crate::run::{run, RunOptions};
use crate::scalar::Q;

/// One method's run: the balance identity along it and the balancing exponent per coordinate.
#[derive(Clone, Debug)]
pub struct ExponentRun {
    /// `usam` or `sam`.
    pub label: String,
    /// Worst relative deviation of the per-step balance identity along the `f64` run.
    pub identity_worst_rel: f64,
    /// Per coordinate, (predicted $-2\rho\int g_i^2\,dt$ (over $\|\nabla_{(u,v)}L\|$ for SAM), measured
    /// $\ln(\Delta_T/\Delta_0)$).
    pub exponents: Vec<(f64, f64)>,
    /// Worst relative deviation of the measured exponent from the prediction, over coordinates whose
    /// predicted exponent exceeds 0.01.
    pub worst: f64,
    /// The same with GD's own factor $1 - \eta^2g^2$ added to the prediction (USAM; equal to `worst` for SAM).
    pub worst_refined: f64,
}

/// What `sam-diagonal` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Whether three USAM steps in exact rationals obeyed the identity with zero error.
    pub exact_zero_rationals: bool,
    /// USAM then SAM.
    pub runs: Vec<ExponentRun>,
}

/// Runs USAM and SAM ($\eta = 2\cdot10^{-3}$, $\rho = 0.05$) on sparse regression with a diagonal net
/// $\beta = u\odot v$, integrating $g_i^2$ along the steps; and three USAM steps in exact rationals.
pub fn measure(quick: bool) -> Result<Measured> {
    let (n, d) = if quick { (10, 15) } else { (20, 30) };
    let (model, p0, _) = diagonal_problem(n, d, 3, 0.1, 81)?;
    let (eta, rho): (f64, f64) = (2e-3, 0.05);
    let t1: f64 = if quick { 20.0 } else { 40.0 };
    let steps = (t1 / eta).round() as usize;

    // Exact in rationals: a few USAM steps with eta = 1/500, rho = 1/20.
    let exact_zero_rationals = {
        let q = Q::new();
        let (mq, pq) = (model.cast(&q), p0.cast(&q));
        let (eq, rq) = (Q::from((1, 500)), Q::from((1, 20)));
        let mut opt = Optimizer::exact(Method::Usam { eta: eq.clone(), rho: rq.clone() })?;
        let mut mon = Monitor::new().track(DiagonalBalance, Law::sam_diagonal(eq, rq));
        let tr = run(&mq, &mut opt, &pq, &RunOptions::steps(3), &mut mon)?;
        tr.laws[0].exact_zero
    };

    let mut runs = Vec::new();
    for (label, method) in [("usam", Method::Usam { eta, rho }), ("sam", Method::Sam { eta, rho })] {
        let normalized = label == "sam";
        let mut opt = Optimizer::new(method.clone(), &0.0)?;
        let mut mon = Monitor::new().track(DiagonalBalance, Law::sam_diagonal(eta, rho));
        mon.start(&model, &p0);
        let mut p = p0.clone();
        let mut integral = vec![0.0; d];
        let mut ws = model.workspace(&0.0);
        let mut full = p.zeros_like();
        for k in 1..=steps {
            // ∫ g_i² dt (USAM) or ∫ g_i²/‖∇_{(u,v)}L‖ dt (SAM) by the left rectangle rule on the steps.
            let beta = model.end_to_end(&p);
            let mut g = beta.zeros_like();
            model.loss.value_grad(&beta, None, &mut g);
            let scale = if normalized {
                model.grad_into(&mut ws, &p, None, &mut full);
                1.0 / full.norm_sq().sqrt()
            } else {
                1.0
            };
            for (i, acc) in integral.iter_mut().enumerate() {
                *acc += eta * g.get(0, i).powi(2) * scale;
            }
            let rec = opt.step(&model, &mut p)?;
            mon.after_step(&model, &rec, &p, k, &(k as f64 * eta));
        }
        let identity_worst_rel = mon.reports()[0].worst_rel;
        let delta0 = p0.blocks[0].get(0, 0).powi(2);
        let (mut devs, mut devs_refined, mut exponents) = (Vec::new(), Vec::new(), Vec::new());
        for (i, int_i) in integral.iter().enumerate() {
            let delta = p.blocks[0].get(0, i).powi(2) - p.blocks[1].get(0, i).powi(2);
            let measured = (delta / delta0).ln();
            let pred = -2.0 * rho * int_i;
            // GD's own step adds -eta int g^2 (its per-step factor 1 - eta^2 g^2), USAM only.
            let refined = if normalized { pred } else { pred - eta * int_i };
            exponents.push((pred, measured));
            if pred.abs() > 1e-2 {
                devs.push(((measured - pred) / pred).abs());
                devs_refined.push(((measured - refined) / refined).abs());
            }
        }
        runs.push(ExponentRun {
            label: label.into(),
            identity_worst_rel,
            exponents,
            worst: nan_max(devs),
            worst_refined: nan_max(devs_refined),
        });
    }
    Ok(Measured { exact_zero_rationals, runs })
}

/// The exact identity (rationals, and `f64` to rounding) and USAM's exponent; SAM's exponent is a note.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = vec![Check::at_most(
        "usam-identity-exact-rationals",
        "USAM's per-step balance identity holds with zero error in exact rationals (3 steps, eta = 1/500, rho = 1/20); \
         observed = 0 when every deviation is exactly zero",
        if m.exact_zero_rationals { 0.0 } else { 1.0 },
        0.0,
    )];
    for r in &m.runs {
        v.push(Check::at_most(
            format!("{}-identity-f64", r.label),
            "the per-step balance identity holds along the f64 run to rounding (1e-12 relative)",
            r.identity_worst_rel,
            1e-12,
        ));
        if r.label == "usam" {
            v.push(Check::at_most(
                "usam-exponent",
                "ln(Delta_T/Delta_0) per coordinate (coordinates with exponent > 0.01) matches -2 rho int g_i^2 dt \
                 within 10% relative: GD's own factor 1 - eta^2 g^2 adds eta/(2 rho) = 2%, and g' = g + O(rho) adds \
                 O(rho) relative terms",
                r.worst,
                0.1,
            ));
            v.push(Check::at_most(
                "usam-exponent-with-gd-term",
                "with GD's term, -(2 rho + eta) int g_i^2 dt matches within 3% relative (what is left is O(rho) from \
                 g' - g, measured at about 1%)",
                r.worst_refined,
                0.03,
            ));
        }
    }
    v
}

/// The measured deviations, and why SAM's exponent is not checked.
pub fn notes(m: &Measured) -> Vec<String> {
    m.runs
        .iter()
        .map(|r| {
            if r.label == "sam" {
                format!(
                    "sam (normalized): worst relative deviation of ln(Delta_T/Delta_0) from -2 rho int g_i^2/|grad_(u,v) L| dt \
                     is {:.3}; not checked: the ascent has fixed length rho while |grad L| falls with the loss, so \
                     g' = g + O(rho/|grad L|) and the first-order exponent degrades along the run (the exact per-step \
                     identity above still holds)",
                    r.worst
                )
            } else {
                format!(
                    "usam: worst relative deviation of the exponent {:.3} (with GD's eta term: {:.3})",
                    r.worst, r.worst_refined
                )
            }
        })
        .collect()
}

/// Measured against predicted exponents, per coordinate, with the diagonal.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig = Figure::new(
        "sam_diagonal_exponent",
        "Balancing exponent: measured ln(Δ_T/Δ_0) vs −2ρ∫g² dt",
        "predicted exponent",
        "measured ln(Δ_T/Δ_0)",
    );
    let mut diag_line: Vec<(f64, f64)> = Vec::new();
    for r in &m.runs {
        fig = fig.with(Series::points(r.label.clone(), r.exponents.clone()));
        diag_line.extend(r.exponents.iter().map(|&(p, _)| (p, p)));
    }
    diag_line.sort_by(|a, b| a.0.total_cmp(&b.0));
    vec![fig.with(Series::line("measured = predicted", diag_line).styled(Style::Dashed))]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "sam-diagonal",
    description:
        "SAM and USAM (Andriushchenko-Flammarion's n-SAM) on a diagonal net beta = u*v, sparse regression: the exact \
         per-step balance identity and the balancing exponent ln(Delta_T/Delta_0) = -2 rho int g_i^2 dt.",
    measure,
    checks,
    figures,
    notes,
};

/// The `sam-diagonal` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about:
            "SAM and USAM on diagonal nets: exact per-step balance identity and the balancing exponent -2 rho int g^2",
        run: |ctx| RECIPE.run(ctx),
    }
}
