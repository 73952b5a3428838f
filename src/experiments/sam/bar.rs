//! `bar`: nBAR and oBAR against SAM and SGD: balancedness, loss, and gradient calls per step.

use super::common::{fig1_run, noisy_run, Fig1Run, Toy};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::{FactorBalance, Law, Monitor};
use crate::mat::Mat;
use crate::optim::{BarKind, Method};
use crate::report::{Figure, Series};

/// One method's run on the NOP problem.
#[derive(Clone, Debug)]
pub struct MethodRun {
    /// Method name (`sgd`, `sam`, `nbar`, `obar`).
    pub name: String,
    /// For BAR, the worst relative deviation of $B$'s one-step change from the rescale + GD formula.
    pub bar_law_worst_rel: Option<f64>,
    /// $B$ at the end of the run.
    pub b_final: f64,
    /// The noiseless loss $\tfrac12\|xy^\top - A\|^2$ at the end.
    pub clean_loss: f64,
    /// Gradient passes per step, from the optimizer's counter.
    pub grad_calls_per_step: f64,
    /// $(t, B_t)$ along the run.
    pub b: Vec<(f64, f64)>,
}

/// The runs at one noise level.
#[derive(Clone, Debug)]
pub struct NoiseLevel {
    /// Noise amplitude $\alpha$.
    pub noise: f64,
    /// SGD, SAM, nBAR, oBAR, in that order.
    pub runs: Vec<MethodRun>,
}

impl NoiseLevel {
    fn run(&self, name: &str) -> &MethodRun {
        self.runs.iter().find(|r| r.name == name).expect("every method ran")
    }
}

/// What `bar` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// $B_0$ of the common start.
    pub b0: f64,
    /// Without noise and with noise $\alpha = 0.5$.
    pub levels: Vec<NoiseLevel>,
}

/// Runs SGD, SAM ($\rho = 0.1$), nBAR and oBAR ($\alpha_t = 0.05$) on the Fig. 1 NOP problem, without
/// and with noise. The sizes are the paper's in quick mode too.
pub fn measure(_quick: bool) -> Result<Measured> {
    let Fig1Run { eta, steps, every, p0, b0, .. } = fig1_run();
    let a_bar = 0.05;
    let methods = [
        Method::Gd { eta },
        Method::Sam { eta, rho: 0.1 },
        Method::Bar { eta, alpha: a_bar, kind: BarKind::N },
        Method::Bar { eta, alpha: a_bar, kind: BarKind::O },
    ];
    let target = Mat::from_fn(3, 3, |i, j| if i == 0 && j == 0 { 0.5 } else { 0.0 });
    let mut levels = Vec::new();
    for &noise in &[0.0, 0.5] {
        let mut runs = Vec::new();
        for m in &methods {
            let mut mon = match m {
                Method::Bar { alpha, kind, .. } => Monitor::new().track(FactorBalance, Law::bar(eta, *alpha, *kind)),
                _ => Monitor::new(),
            };
            let r = noisy_run(Toy::Nop, &p0, m.clone(), noise, steps, every, 71, &mut mon, |_, _| {})?;
            let (x, y) = (&r.last.blocks[0], &r.last.blocks[1]);
            runs.push(MethodRun {
                name: m.name().to_string(),
                bar_law_worst_rel: matches!(m, Method::Bar { .. }).then(|| r.laws[0].worst_rel),
                b_final: r.b.last().map(|x| x.1).unwrap_or(f64::NAN),
                clean_loss: 0.5 * x.prod(false, y, true).sub(&target).norm_sq(),
                grad_calls_per_step: r.grad_calls as f64 / steps as f64,
                b: r.b.clone(),
            });
        }
        levels.push(NoiseLevel { noise, runs });
    }
    Ok(Measured { b0, levels })
}

/// BAR's exact drift, its saving of gradient calls, oBAR's balancing and nBAR's agreement with SAM.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = Vec::new();
    for l in &m.levels {
        let noise = l.noise;
        for r in &l.runs {
            if let Some(w) = r.bar_law_worst_rel {
                v.push(Check::at_most(
                    format!("{}-exact-drift-noise-{noise}", r.name),
                    "BAR's one-step change of B equals the rescale + GD formula (rounding only: 1e-12 relative)",
                    w,
                    1e-12,
                ));
            }
        }
        for k in ["nbar", "obar"] {
            let saving = 1.0 - l.run(k).grad_calls_per_step / l.run("sam").grad_calls_per_step;
            v.push(Check::near(
                format!("{k}-saving-noise-{noise}"),
                "BAR reuses the step's gradient: from the counters, 1 gradient per step against SAM's 2, a saving of exactly 1/2",
                saving,
                0.5,
                0.0,
            ));
        }
        v.push(Check::at_most(
            format!("obar-balances-noise-{noise}"),
            "oBAR shrinks the larger factor at every step: |B_T| <= 0.1 |B_0| with or without noise",
            l.run("obar").b_final.abs() / m.b0.abs(),
            0.1,
        ));
        let (d_nbar, d_sam) = (l.run("nbar").b_final - m.b0, l.run("sam").b_final - m.b0);
        v.push(Check::at_least(
            format!("nbar-follows-sam-noise-{noise}"),
            "nBAR rescales along SAM's leading balancing term (sign of |g_x| - |g_y|), so B moves in the same direction \
             as under SAM (1 = same sign of B_T - B_0)",
            if d_nbar * d_sam > 0.0 { 1.0 } else { 0.0 },
            1.0,
        ));
    }
    v
}

/// Final balancedness, clean loss and gradient calls per step of every run.
pub fn notes(m: &Measured) -> Vec<String> {
    m.levels
        .iter()
        .flat_map(|l| {
            l.runs.iter().map(move |r| {
                format!(
                    "noise {}, {}: B_T = {:.4}, clean loss {:.3e}, gradient calls per step {:.2}",
                    l.noise, r.name, r.b_final, r.clean_loss, r.grad_calls_per_step
                )
            })
        })
        .collect()
}

/// $B_t$ of the four methods, one figure per noise level.
pub fn figures(m: &Measured) -> Vec<Figure> {
    m.levels
        .iter()
        .map(|l| {
            let mut fig = Figure::new(
                format!("bar_noise_{}", l.noise),
                format!("Balancedness under SGD, SAM, nBAR, oBAR (noise α = {})", l.noise),
                "time t (paper units, k·1e-4)",
                "B_t = ½(‖x‖² − ‖y‖²)",
            );
            for r in &l.runs {
                fig = fig.with(Series::line(r.name.clone(), r.b.clone()));
            }
            fig
        })
        .collect()
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "bar",
    description:
        "nBAR and oBAR (Li-Zhang-He Algs. 2-3, constant alpha_t = 0.05, rescale a = alpha eta per step) against SAM \
         (rho = 0.1) and SGD on the Fig. 1 NOP problem, without noise and with noise alpha = 0.5.",
    measure,
    checks,
    figures,
    notes,
};

/// The `bar` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "nBAR and oBAR against SAM and SGD: balancedness, loss, gradient calls per step",
        run: |ctx| RECIPE.run(ctx),
    }
}
