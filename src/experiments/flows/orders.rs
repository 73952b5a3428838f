//! `orders`: fitted convergence orders of RK4, RK8, GL2 and GL3 on deep-linear gradient flow
//! against a high-precision reference (log-log slopes of the error as $h$ shrinks), and of discrete
//! methods against their flows (`orders_discrete.rs`).

use super::common::{deep_problem, flow};
use super::orders_discrete::{
    compare_time, discrete_checks, discrete_figure, discrete_notes, measure_discrete, DiscreteOrder,
};
use crate::compare::{fit_order, max_abs_diff_params};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::Integrator;
use crate::invariants::{Balancedness, Law};
use crate::report::{Figure, Series};
use crate::scalar::Mp;

/// Fitted order of `integ(h)` on gradient flow of [`deep_problem`] over `[0, 1]` at 128 bits
/// against a reference by Taylor's method (tolerance 2^-120, a few units of 128 bits; GBS's
/// extrapolation table loses the last bits there): returns `(slope, [(h, error)])`.
pub fn fitted_order(make: fn(f64) -> Integrator, steps: &[usize]) -> Result<(f64, Vec<(f64, f64)>)> {
    let p = Mp::new(128);
    let (model, p0) = deep_problem()?;
    let (m, y0) = (model.cast(&p), p0.cast(&p));
    let t1 = 1.0;
    let tol = crate::flow::Tolerance::parse("2^-120", "tol")?;
    let taylor = Integrator::Taylor { tol, order: None, max_step: None };
    let reference = flow(&m, &y0, &taylor, t1, 1, Balancedness, Law::Conserved, false)?;
    let mut pts = Vec::new();
    for &n in steps {
        let h = t1 / n as f64;
        let tr = flow(&m, &y0, &make(h), t1, 1, Balancedness, Law::Conserved, false)?;
        let err = max_abs_diff_params(tr.last(), reference.last());
        pts.push((h, err));
    }
    Ok((fit_order(&pts), pts))
}

/// `(name, integrator for step h, order, numbers of steps over [0, 1])`.
type OrderCase = (&'static str, fn(f64) -> Integrator, usize, &'static [usize]);

/// One integrator's fitted order.
#[derive(Clone, Debug)]
pub struct FlowOrder {
    /// `rk4`, `gl2`, `gl3` or `rk8`.
    pub name: &'static str,
    /// Its classical order.
    pub order: usize,
    /// Numbers of steps over $[0, 1]$.
    pub steps: &'static [usize],
    /// $(h, \text{error at } t = 1)$.
    pub errors: Vec<(f64, f64)>,
    /// Least-squares log-log slope of `errors`.
    pub slope: f64,
}

/// What `orders` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The integrators on gradient flow.
    pub flow: Vec<FlowOrder>,
    /// The discrete methods against their flows.
    pub discrete: Vec<DiscreteOrder>,
    /// The time at which the discrete runs are compared.
    pub discrete_time: f64,
}

/// Errors of four integrators on gradient flow at 128 bits, and of four discrete methods against
/// their flows.
pub fn measure(quick: bool) -> Result<Measured> {
    let cases: [OrderCase; 4] = [
        ("rk4", |h| Integrator::Rk4 { h }, 4, &[8, 16, 32, 64]),
        ("gl2", |h| Integrator::GaussLegendre { stages: 2, h }, 4, &[8, 16, 32, 64]),
        ("gl3", |h| Integrator::GaussLegendre { stages: 3, h }, 6, &[4, 8, 16, 32]),
        ("rk8", |h| Integrator::Rk8 { h }, 8, &[4, 8, 16, 32]),
    ];
    let mut flow = Vec::new();
    for (name, make, order, steps) in cases {
        let (slope, errors) = fitted_order(make, steps)?;
        flow.push(FlowOrder { name, order, steps, errors, slope });
    }
    Ok(Measured { flow, discrete: measure_discrete(quick)?, discrete_time: compare_time(quick) })
}

/// Each fitted order is the method's order.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v: Vec<Check> = m
        .flow
        .iter()
        .map(|f| {
            let (name, order, steps) = (f.name, f.order, f.steps);
            Check::near(
                format!("order-{name}"),
                format!(
                    "{name} has order {order}: least-squares log-log slope of the error at t = 1 (128-bit arithmetic, \
                     reference by Taylor's method at tolerance 2^-120) over h = 1/{}..1/{}; the next term of the error expansion bends \
                     the slope by O(h), 0.3 allows it",
                    steps[0],
                    steps[steps.len() - 1]
                ),
                f.slope,
                order as f64,
                0.3,
            )
        })
        .collect();
    v.extend(discrete_checks(&m.discrete, m.discrete_time));
    v
}

/// The discrete methods' slopes and errors.
pub fn notes(m: &Measured) -> Vec<String> {
    discrete_notes(&m.discrete)
}

/// Error against step for the integrators, and for the discrete methods.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig =
        Figure::new("orders_flow", "Integrator error vs step (gradient flow, t = 1)", "step h", "max error at t = 1")
            .log_x()
            .log_y();
    for f in &m.flow {
        fig = fig.with(Series::points(format!("{} (slope {:.2})", f.name, f.slope), f.errors.clone()));
    }
    vec![fig, discrete_figure(&m.discrete)]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "orders",
    description:
        "Convergence orders on deep-linear gradient flow, against a 128-bit reference by Taylor's method, and of \
         discrete methods against their flows.",
    measure,
    checks,
    figures,
    notes,
};

/// The `orders` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "fitted convergence orders of RK4, RK8, GL2, GL3 on gradient flow; discrete methods vs flows",
        run: |ctx| RECIPE.run(ctx),
    }
}
