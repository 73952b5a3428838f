//! `sam-drift-exact`: SAM and USAM change $B = \tfrac12(\|X\|^2 - \|Y\|^2)$ by the exact two-term formula;
//! on OP problems GD multiplies $B$ by $1 - \eta^2r^2$: zero error in exact rationals.

use super::common::{
    cast_params, clone_case, exact_family, family_checks, family_figure, family_notes, n_cases, representative,
    run_case, tame, Case, Family,
};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::{FactorBalance, Law, Monitor, Quantity};
use crate::optim::{Method, Optimizer};
use crate::report::{Figure, Series};
use crate::run::{run, RunOptions};
use crate::scalar::{Mp, Scalar, Q};
use crate::testing::strategies::{self as st, LossKind};
use crate::testing::{draw, Problem};
use proptest::prelude::*;

fn factor_cases(n: usize) -> Vec<Case> {
    let archs = prop_oneof![2 => st::factor(1..=3, 1..=2), 1 => st::factor_op(1..=4)].boxed();
    let cases = (st::problem(archs, Some(LossKind::Target)), st::rational(1..=1, 10..=30), st::rational(1..=1, 5..=20));
    (0..n as u64)
        .map(|seed| {
            let (Problem { model, p0 }, eta, rho) = draw(&cases, 3000 + seed);
            // USAM is a polynomial map: exact in rationals. GD is the case rho = 0.
            let method = if seed % 4 == 3 { Method::Gd { eta: 0.1 } } else { Method::Usam { eta: 0.1, rho: 0.1 } };
            let aux = if matches!(method, Method::Gd { .. }) { Q::new() } else { rho };
            Case { model, p0, method, eta, aux, batch: None }
        })
        .collect()
}

/// What `sam-drift-exact` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// USAM and GD: the identity in rationals, its negative control, and the rounding floors.
    pub family: Family,
    /// SAM ($u = 1/\|g\|$) at 256 bits over 100 steps: worst relative deviation.
    pub sam_mpfr256: f64,
    /// $(k, |B_k|)$ under GD, SAM and USAM in `f64`.
    pub balance: Vec<(&'static str, Vec<(f64, f64)>)>,
}

/// Random two-factor problems (USAM, a quarter GD), then SAM at 256 bits and the three methods in `f64`.
pub fn measure(quick: bool) -> Result<Measured> {
    let cases = factor_cases(n_cases(quick));
    let family = exact_family(
        quick,
        "usam",
        &cases,
        || FactorBalance,
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, r| Law::sam_factor(e.clone() * Q::from((11, 10)), r.clone()),
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        |e, r| Law::sam_factor(*e, *r),
    )?;
    // SAM with the normalized ascent: the identity at 256 bits, and |B| over time against SGD.
    let case = &tame(representative(&cases, &FactorBalance), 100)?;
    let sam = Case { method: Method::Sam { eta: 0.1, rho: 0.1 }, ..clone_case(case) };
    let (r, _) = run_case(&sam, &Mp::new(256), 100, FactorBalance, |e, r| Law::sam_factor(e.clone(), r.clone()))?;
    let mut balance = Vec::new();
    for (label, method) in [
        ("GD", Method::Gd { eta: 0.05 }),
        ("SAM, ρ = 0.1", Method::Sam { eta: 0.05, rho: 0.1 }),
        ("USAM, ρ = 0.1", Method::Usam { eta: 0.05, rho: 0.1 }),
    ] {
        let model = case.model.map(|x| x.to_f64());
        let p0 = cast_params(&case.p0, &0.0f64);
        let mut opt = Optimizer::new(method, &0.0)?;
        let mut mon = Monitor::new().track(FactorBalance, Law::Conserved);
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(if quick { 200 } else { 2000 }), &mut mon)?;
        let b: Vec<(f64, f64)> = traj
            .states
            .iter()
            .zip(&traj.steps)
            .map(|(p, &k)| (k as f64, FactorBalance.eval(&model, p)[0].get(0, 0).abs()))
            .collect();
        balance.push((label, b));
    }
    Ok(Measured { family, sam_mpfr256: r.worst_rel, balance })
}

/// Zero error in rationals, the negative control, rounding floors, and SAM at 256 bits.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = family_checks(&m.family);
    v.push(Check::at_most(
        "sam-mpfr256-rounding",
        "SAM (u = 1/|g|) obeys the identity to rounding at 256 bits: below 2^(20-256)",
        m.sam_mpfr256,
        2f64.powi(-236),
    ));
    v
}

/// The long runs' step.
pub fn notes(m: &Measured) -> Vec<String> {
    family_notes(&m.family)
}

/// The per-step deviation, and $|B_k|$ under the three methods.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig =
        Figure::new("sam_vs_gd_balance", "Balance B = (|X|² − |Y|²)/2 under SAM, USAM and GD", "step k", "|B_k|")
            .log_y();
    for (label, b) in &m.balance {
        fig = fig.with(Series::line(*label, b.clone()));
    }
    vec![family_figure(&m.family), fig]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "sam-drift-exact",
    description: "Two-factor problems f(XY^T) and f(x^T y): one SAM-type step with ascent factor u changes B = (|X|^2 - |Y|^2)/2 \
         by exactly eta*rho*u*(<g_X,h_X> - <g_Y,h_Y>) + eta^2/2 (|h_X|^2 - |h_Y|^2); exact in Q for USAM (u = 1) and GD, \
         to rounding in MPFR for SAM (u = 1/|g| needs a square root).",
    measure,
    checks,
    figures,
    notes,
};

/// The `sam-drift-exact` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "SAM/USAM change B = (|X|^2-|Y|^2)/2 by the exact two-term formula; OP under GD: B(1-eta^2 r^2)",
        run: |ctx| RECIPE.run(ctx),
    }
}
