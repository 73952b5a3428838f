//! `riccati`: the two-layer flow with imbalance $\lambda I$ against its Riccati closed form,
//! evaluated in MPFR.

use super::common::integrate;
use crate::closed_form::riccati::{lambda_balanced_init, Riccati};
use crate::compare::{max_abs_diff, nan_max};
use crate::data;
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::GradientFlow;
use crate::invariants::Monitor;
use crate::linalg::singular_values;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::scalar::{Mp, Scalar};

/// One problem: the flow against the closed form along the run.
#[derive(Clone, Debug)]
pub struct RiccatiCase {
    /// Sizes, imbalance and initial scale, for legends.
    pub label: String,
    /// `(m, n, k, λ)`.
    pub shape: (usize, usize, usize, f64),
    /// $(t, \max|UV^\top(t) - \text{closed form}(t)|)$, the closed form at 128 bits rounded to `f64`.
    pub error: Vec<(f64, f64)>,
    /// The largest of `error`.
    pub worst: f64,
    /// How far the same formula evaluated in `f64` is from its 128-bit value (NaN if the `f64`
    /// evaluation failed).
    pub worst_f64_formula: f64,
    /// $(t, \sigma_1)$ of the flow's product.
    pub sv_flow: Vec<(f64, f64)>,
    /// $(t, \sigma_1)$ of the closed form.
    pub sv_closed: Vec<(f64, f64)>,
}

/// What `riccati` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Three problems with imbalance $\lambda \in \{0.7, 0, 0.3\}$.
    pub cases: Vec<RiccatiCase>,
}

/// RK4 ($h = 0.005$) in `f64` against the closed form in MPFR (128 bits) on three problems.
pub fn measure(quick: bool) -> Result<Measured> {
    let t1 = if quick { 4.0 } else { 8.0 };
    let h = 0.005;
    let proto = Mp::new(128);
    let mut cases = Vec::new();
    for (m, n, k, lambda, scale, seed) in
        [(4usize, 6usize, 3usize, 0.7, 0.1, 91u64), (3, 5, 2, 0.0, 0.05, 92), (6, 4, 2, 0.3, 0.01, 93)]
    {
        let label = format!("m={m}, n={n}, k={k}, λ={lambda}, scale {scale}");
        let mut rng = data::rng(seed);
        let y = data::gaussian(m, n, 1.0, &mut rng);
        let v0 = data::gaussian(n, k, scale, &mut rng);
        let raw = data::gaussian(m, k, 1.0, &mut rng);
        let u0 = lambda_balanced_init(&v0.cast(&proto), &raw.cast(&proto), &proto.from_f64_like(lambda))?;
        let cf = Riccati::new(&y.cast(&proto), &u0, &v0.cast(&proto))?;
        let arch = Arch::Factor { d1: m, d2: n, r: k };
        let model = Model::new(arch.clone(), Loss::target(y.clone()))?;
        let p0 = Params::new(vec![u0.to_f64(), v0.clone()]);
        let traj = integrate(&mut GradientFlow::new(&model), &model, &p0, h, t1, 80, &mut Monitor::new())?;
        let cf64 = Riccati::new(&y, &u0.to_f64(), &v0).ok();
        let (mut error, mut f64_gaps, mut sv_flow, mut sv_closed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (t, p) in traj.times.iter().zip(&traj.states) {
            let w = model.end_to_end(p);
            let c = cf.product(&proto.from_f64_like(*t))?.to_f64();
            error.push((*t, max_abs_diff(w.as_slice(), c.as_slice())));
            f64_gaps.push(match cf64.as_ref().map(|c64| c64.product(t)) {
                Some(Ok(x)) => max_abs_diff(x.as_slice(), c.as_slice()),
                _ => f64::NAN,
            });
            sv_flow.push((*t, singular_values(&w)?[0]));
            sv_closed.push((*t, singular_values(&c)?[0]));
        }
        cases.push(RiccatiCase {
            label,
            shape: (m, n, k, lambda),
            worst: nan_max(error.iter().map(|p| p.1)),
            worst_f64_formula: nan_max(f64_gaps),
            error,
            sv_flow,
            sv_closed,
        });
    }
    Ok(Measured { cases })
}

/// The flow meets the closed form to RK4's truncation error.
pub fn checks(m: &Measured) -> Vec<Check> {
    m.cases
        .iter()
        .map(|c| {
            let (m, n, k, lambda) = c.shape;
            Check::at_most(
                format!("closed-form-vs-flow-{m}x{n}-k{k}-lambda{lambda}"),
                "max |U V^T(t) - closed form(t)| over the run; RK4 with h = 0.005 (global O(h^4) = 6e-10 times O(10) \
                 derivatives), the closed form at 128 bits rounded to f64; 1e-7",
                c.worst,
                1e-7,
            )
        })
        .collect()
}

/// The gaps, and how much the formula loses when evaluated in `f64`.
pub fn notes(m: &Measured) -> Vec<String> {
    m.cases
        .iter()
        .map(|c| {
            format!(
                "{}: flow vs 128-bit closed form {:e}; the same formula evaluated in f64 differs from the 128-bit \
                 value by up to {:e} (cancellation once e^(2 mu t) is large)",
                c.label, c.worst, c.worst_f64_formula
            )
        })
        .collect()
}

/// The error along each run, and $\sigma_1$ of the flow and of the closed form.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig = Figure::new(
        "riccati_error",
        "Riccati closed form vs the gradient flow",
        "time t",
        "max |UVᵀ(t) − closed form|",
    )
    .log_y();
    let mut fig_sv = Figure::new(
        "riccati_singular_values",
        "Singular values of UVᵀ: flow (lines), closed form (markers)",
        "time t",
        "σ_r(t)",
    );
    for c in &m.cases {
        fig = fig.with(Series::line(c.label.clone(), c.error.clone()));
        fig_sv = fig_sv
            .with(Series::line(format!("σ_1 flow, {}", c.label), c.sv_flow.clone()))
            .with(Series::points(format!("σ_1 closed form, {}", c.label), c.sv_closed.clone()));
    }
    vec![fig, fig_sv]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "riccati",
    description:
        "Two-layer flow on 1/2 |Y - U V^T|^2 from U0^T U0 - V0^T V0 = lambda I: U V^T(t) is the top-right block of \
         P(t) = e^(S t) Q0 [I + Q0^T K(t) Q0]^-1 Q0^T e^(S t), evaluated in MPFR (128 bits) and compared with RK4 \
         in f64.",
    measure,
    checks,
    figures,
    notes,
};

/// The `riccati` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "two-layer flow with imbalance lambda I against its Riccati closed form evaluated in MPFR",
        run: |ctx| RECIPE.run(ctx),
    }
}
