//! `sam-drift-exact`: SAM and USAM change $B = \tfrac12(\|X\|^2 - \|Y\|^2)$ by the exact two-term formula;
//! on OP problems GD multiplies $B$ by $1 - \eta^2r^2$: zero error in exact rationals.

use super::common::{cast_params, clone_case, exact_family, n_cases, representative, run_case, tame, Case};
use crate::error::Result;
use crate::experiments::{Check, Ctx, Experiment, Summary};
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

fn sam_drift_exact(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "sam-drift-exact",
        "Two-factor problems f(XY^T) and f(x^T y): one SAM-type step with ascent factor u changes B = (|X|^2 - |Y|^2)/2 \
         by exactly eta*rho*u*(<g_X,h_X> - <g_Y,h_Y>) + eta^2/2 (|h_X|^2 - |h_Y|^2); exact in Q for USAM (u = 1) and GD, \
         to rounding in MPFR for SAM (u = 1/|g| needs a square root).",
    );
    let cases = factor_cases(n_cases(ctx));
    let fig = exact_family(
        ctx,
        &mut s,
        "usam",
        &cases,
        || FactorBalance,
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, r| Law::sam_factor(e.clone() * Q::from((11, 10)), r.clone()),
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        |e, r| Law::sam_factor(*e, *r),
    )?;
    ctx.save_figure(&fig, &mut s)?;

    // SAM with the normalized ascent: the identity at 256 bits, and |B| over time against SGD.
    let case = &tame(representative(&cases, &FactorBalance), 100)?;
    let sam = Case { method: Method::Sam { eta: 0.1, rho: 0.1 }, ..clone_case(case) };
    let (r, _) = run_case(&sam, &Mp::new(256), 100, FactorBalance, |e, r| Law::sam_factor(e.clone(), r.clone()))?;
    s.check(Check::at_most(
        "sam-mpfr256-rounding",
        "SAM (u = 1/|g|) obeys the identity to rounding at 256 bits: below 2^(20-256)",
        r.worst_rel,
        2f64.powi(-236),
    ));
    let mut fig =
        Figure::new("sam_vs_gd_balance", "Balance B = (|X|² − |Y|²)/2 under SAM, USAM and GD", "step k", "|B_k|")
            .log_y();
    for (label, method) in [
        ("GD", Method::Gd { eta: 0.05 }),
        ("SAM, ρ = 0.1", Method::Sam { eta: 0.05, rho: 0.1 }),
        ("USAM, ρ = 0.1", Method::Usam { eta: 0.05, rho: 0.1 }),
    ] {
        let model = case.model.map(|x| x.to_f64());
        let p0 = cast_params(&case.p0, &0.0f64);
        let mut opt = Optimizer::new(method, &0.0)?;
        let mut mon = Monitor::new().track(FactorBalance, Law::Conserved);
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(if ctx.quick { 200 } else { 2000 }), &mut mon)?;
        let b: Vec<(f64, f64)> = traj
            .states
            .iter()
            .zip(&traj.steps)
            .map(|(p, &k)| (k as f64, FactorBalance.eval(&model, p)[0].get(0, 0).abs()))
            .collect();
        fig = fig.with(Series::line(label, b));
    }
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

/// The `sam-drift-exact` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: "sam-drift-exact",
        about: "SAM/USAM change B = (|X|^2-|Y|^2)/2 by the exact two-term formula; OP under GD: B(1-eta^2 r^2)",
        run: sam_drift_exact,
    }
}
