//! `gd-drift-exact`: GD and SGD with weight decay move the balancedness matrices by exactly
//! $C_j \mapsto (1-\eta\lambda)^2 C_j + \eta^2(G_{j+1}^\top G_{j+1} - G_jG_j^\top)$: zero error in exact rationals,
//! rounding error in MPFR and `f64`.

use super::common::{exact_family, n_cases, Case};
use crate::error::Result;
use crate::experiments::{Ctx, Experiment, Summary};
use crate::invariants::{Balancedness, Law};
use crate::optim::Method;
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

fn gd_drift_exact(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "gd-drift-exact",
        "Gradient descent and SGD with weight decay on deep linear networks of random depth (2-4) and widths (1-3): \
         C_j(k+1) = (1 - eta*lambda)^2 C_j(k) + eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T), A_j = dE/dW_j.",
    );
    let cases = deep_cases(n_cases(ctx));
    let fig = exact_family(
        ctx,
        &mut s,
        "gd",
        &cases,
        || Balancedness,
        |e, _| Law::gd_balancedness(e.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, _| Law::gd_balancedness(e.clone() * Q::from((11, 10))),
        |e, _| Law::gd_balancedness(e.clone()),
        |e, _| Law::gd_balancedness(*e),
    )?;
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

/// The `gd-drift-exact` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: "gd-drift-exact",
        about: "GD/SGD with weight decay move balancedness by exactly (1-eta*lambda)^2 C + eta^2(...), zero error in Q",
        run: gd_drift_exact,
    }
}
