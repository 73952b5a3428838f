//! `fast-slow`: gradient flow plus $1/\varepsilon$ times a balancing flow: $\mu$ decays like
//! $e^{-2t/\varepsilon}$ and the product follows the balanced learning flow to $O(\varepsilon)$.

use super::common::integrate;
use crate::closed_form::lindsey_menon::moment_map;
use crate::compare::{fit_order, max_abs_diff_mats, max_abs_mats, nan_max};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::fields::{EndToEndFlow, FastSlow};
use crate::invariants::{Law, MomentMap, Monitor};
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::{data, init};

/// One $\varepsilon$: the fast–slow run against the balanced learning flow.
#[derive(Clone, Debug)]
pub struct EpsRun {
    /// The time-scale separation $\varepsilon$.
    pub eps: f64,
    /// Worst relative deviation of $\mu(t)$ from $e^{-2t/\varepsilon}\mu(0)$ along the run.
    pub mu_law_worst_rel: f64,
    /// $(t, \max|\mu(t)|)$ over the first twelve decay times $t \le 12\varepsilon$.
    pub mu_early: Vec<(f64, f64)>,
    /// $(t, \max|X_\varepsilon(t) - X_{bal}(t)|)$ on the save grid.
    pub gap: Vec<(f64, f64)>,
    /// The largest of `gap`.
    pub sup_gap: f64,
}

/// What `fast-slow` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// $\max|\mu(0)|$.
    pub mu0: f64,
    /// One run per $\varepsilon$, largest first.
    pub runs: Vec<EpsRun>,
    /// Least-squares slope of $\log \sup_t|X_\varepsilon - X_{bal}|$ against $\log\varepsilon$.
    pub order: f64,
}

/// The fast–slow system on a 2-2-2-2 network for several $\varepsilon$ (RK4 with $h = \varepsilon/20$),
/// against the end-to-end flow from the balanced point of the initial fibre (RK4, $h = 0.00125$).
pub fn measure(quick: bool) -> Result<Measured> {
    let widths = [2usize, 2, 2, 2];
    let arch = Arch::deep_linear(&widths)?;
    let target = data::gaussian(2, 2, 1.0, &mut data::rng(71));
    let model = Model::new(arch.clone(), Loss::target(target))?;
    let w0 = init::gaussian(&arch, 0.9, &mut data::rng(72));
    let t1 = 2.0;
    let saves = 80;
    // The learning flow on the balanced manifold: the end-to-end flow from X(0).
    let (mut e2e, e2e_model) = EndToEndFlow::new(&model)?;
    let x0 = Params::new(vec![arch.product(&w0)]);
    let reference = integrate(&mut e2e, &e2e_model, &x0, 0.00125, t1, saves, &mut Monitor::new())?;
    let epss: Vec<f64> = if quick { vec![0.1, 0.05, 0.025] } else { vec![0.1, 0.05, 0.025, 0.0125, 0.00625] };
    let mu0 = max_abs_mats(&moment_map(&w0));
    let mut runs = Vec::new();
    for &eps in &epss {
        let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0 / eps));
        let h = eps / 20.0;
        let traj = integrate(&mut FastSlow::new(&model, &w0, eps)?, &model, &w0, h, t1, saves, &mut mon)?;
        let mu_early = traj
            .times
            .iter()
            .zip(&traj.states)
            .filter(|(t, _)| **t <= 12.0 * eps)
            .map(|(t, p)| (*t, max_abs_mats(&moment_map(p))))
            .collect();
        let gap: Vec<(f64, f64)> = traj
            .times
            .iter()
            .zip(&traj.states)
            .zip(&reference.states)
            .map(|((t, p), r)| (*t, max_abs_diff_mats(&[arch.product(p)], &r.blocks)))
            .collect();
        runs.push(EpsRun {
            eps,
            mu_law_worst_rel: traj.laws[0].worst_rel,
            mu_early,
            sup_gap: nan_max(gap.iter().map(|p| p.1)),
            gap,
        });
    }
    let order = fit_order(&runs.iter().map(|r| (r.eps, r.sup_gap)).collect::<Vec<_>>());
    Ok(Measured { mu0, runs, order })
}

/// The exact decay of $\mu$ (to RK4's error) and the first-order approach to the balanced flow.
pub fn checks(m: &Measured) -> Vec<Check> {
    vec![
        Check::at_most(
            "fast-mu-law",
            "mu(t) = e^(-2t/eps) mu(0) exactly for every eps (gradient part conserves mu, fast part contracts it); RK4 with \
             h = eps/20 on the linear fast decay (z = 2h/eps = 0.1) errs by z^5/120 = 8e-8 per step relative, accumulated \
             over a few decay times: 1e-6",
            nan_max(m.runs.iter().map(|r| r.mu_law_worst_rel)),
            1e-6,
        ),
        Check::near(
            "slow-error-order",
            "least-squares slope of log sup_t |X_eps - X_bal| against log eps: first order (tolerance 0.2 for the \
             O(eps^2) terms at eps up to 0.1)",
            m.order,
            1.0,
            0.2,
        ),
    ]
}

/// The sup-norm gaps and the fitted order.
pub fn notes(m: &Measured) -> Vec<String> {
    vec![format!(
        "sup-norm errors: {}; fitted order {:.3}",
        m.runs.iter().map(|r| format!("eps {}: {:e}", r.eps, r.sup_gap)).collect::<Vec<_>>().join(", "),
        m.order
    )]
}

/// The gap to the balanced flow per $\varepsilon$, and the early decay of $\mu$ against $e^{-2t/\varepsilon}$.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig = Figure::new(
        "fast_slow",
        "Fast–slow system: distance to the balanced learning flow",
        "time t",
        "|X_ε(t) − X_bal(t)|",
    )
    .log_y();
    let mut fig_mu = Figure::new("fast_slow_mu", "Fast–slow system: the moment map", "time t", "max |μ(t)|").log_y();
    for r in &m.runs {
        let eps = r.eps;
        fig_mu = fig_mu.with(Series::points(format!("RK4, ε = {eps}"), r.mu_early.clone())).with(
            Series::line(
                format!("e^(−2t/ε) max|μ(0)|, ε = {eps}"),
                r.mu_early.iter().map(|(t, _)| (*t, m.mu0 * (-2.0 * t / eps).exp())).collect(),
            )
            .styled(Style::Dashed),
        );
        fig = fig.with(Series::line(format!("ε = {eps}"), r.gap.clone()));
    }
    vec![fig, fig_mu]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "fast-slow",
    description: "Fast-slow system W' = -grad(E o phi) - (1/eps) P_V W on a 2-2-2-2 network fitting a target: the moment map obeys \
         mu(t) = e^(-2t/eps) mu(0) exactly, and the product follows the learning flow on the balanced manifold (the \
         gradient flow from the balanced point of the initial fibre) with sup-norm error O(eps).",
    measure,
    checks,
    figures,
    notes,
};

/// The `fast-slow` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "gradient flow + (1/eps) balancing: mu decays like e^(-2t/eps), the product follows the learning flow to O(eps)",
        run: |ctx| RECIPE.run(ctx),
    }
}
