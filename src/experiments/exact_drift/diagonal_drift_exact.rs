//! `diagonal-drift-exact`: GD on diagonal nets multiplies $u^2 - v^2$ by $1 - \eta^2g^2$ ($u\odot v$ by
//! $1 - 4\eta^2g^2$ for $\beta = u^2 - v^2$): zero error in exact rationals.

use super::common::{
    exact_family, family_checks, family_figure, family_notes, n_cases, representative, run_case, tame, Case, Family,
};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::{DiagonalBalance, Law};
use crate::optim::Method;
use crate::report::Figure;
use crate::scalar::Q;
use crate::testing::strategies::{self as st, LossKind};
use crate::testing::{draw, Problem};
use proptest::prelude::*;

fn diagonal_cases(n: usize) -> Vec<Case> {
    let archs = prop_oneof![st::diagonal_uv(1..=5), st::diagonal_sq(1..=5)].boxed();
    let cases = (st::problem(archs, Some(LossKind::Regression)), st::rational(1..=1, 4..=16));
    (0..n as u64)
        .map(|seed| {
            let (Problem { model, p0 }, eta) = draw(&cases, 2000 + seed);
            let samples = model.n_samples().expect("regression has samples");
            let batch = (seed % 3 == 2).then(|| ((samples - 1).max(1), seed));
            Case { model, p0, method: Method::Gd { eta: 0.1 }, eta, aux: Q::new(), batch }
        })
        .collect()
}

/// What `diagonal-drift-exact` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The identity in rationals, its negative control, and the rounding floors.
    pub family: Family,
    /// The flow's law (conservation) along 40 GD steps in `f64`: worst relative change.
    pub conservation_broken_by: f64,
}

/// Random diagonal networks ($\beta = u\odot v$ and $u\odot u - v\odot v$, $d \le 5$), a third of them SGD.
pub fn measure(quick: bool) -> Result<Measured> {
    let cases = diagonal_cases(n_cases(quick));
    let family = exact_family(
        quick,
        "diagonal",
        &cases,
        || DiagonalBalance,
        |e, _| Law::gd_diagonal(e.clone()),
        |e, _| Law::gd_diagonal(e.clone() * Q::from((11, 10))),
        |e, _| Law::gd_diagonal(e.clone()),
        |e, _| Law::gd_diagonal(*e),
    )?;
    // Conservation would be the flow's law: GD breaks it by a visible amount.
    let probe = tame(representative(&cases, &DiagonalBalance), 40)?;
    let (r, _) = run_case(&probe, &0.0f64, 40, DiagonalBalance, |_, _| Law::Conserved)?;
    Ok(Measured { family, conservation_broken_by: r.worst_rel })
}

/// Zero error in rationals, the negative control, rounding floors; GD breaks the flow's law.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = family_checks(&m.family);
    v.push(Check::at_least(
        "diagonal-gd-breaks-conservation",
        "GD does not conserve the flow's invariant: over 40 steps the relative change of u^2-v^2 is far above \
         rounding (required >= 1e-8)",
        m.conservation_broken_by,
        1e-8,
    ));
    v
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
    name: "diagonal-drift-exact",
    description:
        "Gradient descent (and SGD) on diagonal networks: u_i^2 - v_i^2 is multiplied by exactly 1 - eta^2 g_i^2 \
         for beta = u*v, and u_i v_i by 1 - 4 eta^2 g_i^2 for beta = u^2 - v^2, g = dE/dbeta.",
    measure,
    checks,
    figures,
    notes,
};

/// The `diagonal-drift-exact` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "GD on diagonal nets multiplies u^2-v^2 by 1-eta^2 g^2 (u*v by 1-4eta^2 g^2), zero error in Q",
        run: |ctx| RECIPE.run(ctx),
    }
}
