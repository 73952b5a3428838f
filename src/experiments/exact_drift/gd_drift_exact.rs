//! `gd-drift-exact`: GD and SGD with weight decay move the balancedness matrices by exactly
//! $C_j \mapsto (1-\eta\lambda)^2 C_j + \eta^2(G_{j+1}^\top G_{j+1} - G_jG_j^\top)$: zero error in exact rationals,
//! rounding error in MPFR and `f64`.

use super::common::{exact_family, family_checks, family_figure, family_notes, n_cases, Case, Family};
use crate::error::Result;
use crate::experiments::Check;
use crate::experiments::{Experiment, Recipe};
use crate::invariants::{Balancedness, Law};
use crate::optim::Method;
use crate::report::Figure;
use crate::scalar::Q;
use crate::testing::strategies::{self as st, LossKind};
use crate::testing::{draw, Problem};

fn deep_cases(n: usize) -> Vec<Case> {
    let cases = (
        st::with_weight_decay(st::problem(st::deep_linear(2..=4, 1..=3), Some(LossKind::Regression))),
        st::rational(1..=1, 5..=20),
    );
    (0..n as u64)
        .map(|seed| {
            let (Problem { model, p0 }, eta) = draw(&cases, 1000 + seed);
            // Every other case is SGD with mini-batches of one sample fewer than the data.
            let samples = model.n_samples().expect("regression has samples");
            let batch = (seed % 2 == 1).then(|| ((samples - 1).max(1), seed));
            Case { model, p0, method: Method::Gd { eta: 0.1 }, eta, aux: Q::new(), batch }
        })
        .collect()
}

/// What `gd-drift-exact` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The identity in rationals, its negative control, and the rounding floors.
    pub family: Family,
}

/// Random deep linear networks (depth 2–4, widths 1–3, weight decay), half of them SGD.
pub fn measure(quick: bool) -> Result<Measured> {
    let cases = deep_cases(n_cases(quick));
    let family = exact_family(
        quick,
        "gd",
        &cases,
        || Balancedness,
        |e, _| Law::gd_balancedness(e.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, _| Law::gd_balancedness(e.clone() * Q::from((11, 10))),
        |e, _| Law::gd_balancedness(e.clone()),
        |e, _| Law::gd_balancedness(*e),
    )?;
    Ok(Measured { family })
}

/// Zero error in rationals, the negative control, rounding floors.
pub fn checks(m: &Measured) -> Vec<Check> {
    family_checks(&m.family)
}

/// The long runs' step.
pub fn notes(m: &Measured) -> Vec<String> {
    family_notes(&m.family)
}

/// The per-step deviation in `f64` and MPFR.
pub fn figures(m: &Measured) -> Vec<Figure> {
    vec![family_figure(&m.family)]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "gd-drift-exact",
    description:
        "Gradient descent and SGD with weight decay on deep linear networks of random depth (2-4) and widths (1-3): \
         C_j(k+1) = (1 - eta*lambda)^2 C_j(k) + eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T), A_j = dE/dW_j.",
    measure,
    checks,
    figures,
    notes,
};

/// The `gd-drift-exact` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "GD/SGD with weight decay move balancedness by exactly (1-eta*lambda)^2 C + eta^2(...), zero error in Q",
        run: |ctx| RECIPE.run(ctx),
    }
}
