//! `precision-ladder`: Gauss–Legendre keeps quadratic invariants up to rounding only, so its
//! conservation error scales as $2^{-\text{bits}}$ from 53 to 512 bits.

use super::common::{deep_problem, flow};
use crate::compare::linear_slope;
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::Integrator;
use crate::invariants::{Balancedness, Law};
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};

/// Worst relative balancedness drift of Gauss–Legendre (2 stages, step `h`) on [`deep_problem`]
/// over `[0, t1]` in the number type of `proto`.
pub fn gl_drift<S: Scalar>(proto: &S, h: f64, t1: f64) -> Result<f64> {
    let (model, p0) = deep_problem()?;
    let (m, y0) = (model.cast(proto), p0.cast(proto));
    let tr = flow(&m, &y0, &Integrator::GaussLegendre { stages: 2, h }, t1, 4, Balancedness, Law::Conserved, false)?;
    Ok(tr.laws[0].worst_rel)
}

/// What `precision-ladder` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// (bits, worst relative balancedness drift) at 53 (`f64`), 64, 128, 256 and 512 bits.
    pub drift: Vec<(f64, f64)>,
    /// Least-squares slope of $\log_2(\text{drift})$ against bits over the MPFR precisions.
    pub slope: f64,
}

/// Gauss–Legendre (2 stages) on the deep problem at each precision.
pub fn measure(quick: bool) -> Result<Measured> {
    let (h, t1) = if quick { (0.125, 1.0) } else { (0.1, 5.0) };
    let mut drift = vec![(53.0, gl_drift(&0.0f64, h, t1)?)];
    for bits in [64u32, 128, 256, 512] {
        drift.push((bits as f64, gl_drift(&Mp::new(bits), h, t1)?));
    }
    let logs: Vec<(f64, f64)> = drift[1..].iter().map(|&(b, e)| (b, e.log2())).collect();
    Ok(Measured { slope: linear_slope(&logs), drift })
}

/// The drift falls with every added bit, as $2^{-\text{bits}}$.
pub fn checks(m: &Measured) -> Vec<Check> {
    let monotone = m.drift.windows(2).all(|w| w[1].1 < w[0].1);
    vec![
        Check::at_least(
            "monotone",
            "the worst conservation error decreases strictly from 53 (f64) to 64, 128, 256 and 512 bits (1 = yes)",
            f64::from(u8::from(monotone)),
            1.0,
        ),
        Check::near(
            "scaling",
            "log2(error) falls by one per bit (error proportional to 2^-bits): the fitted slope over 64..512 bits \
             is -1; the constant in front (number of roundings, their random signs) varies by a few bits between \
             precisions, which over a 448-bit span moves the slope by < 0.05, so 0.15 is allowed",
            m.slope,
            -1.0,
            0.15,
        ),
    ]
}

/// The drift at each precision.
pub fn notes(m: &Measured) -> Vec<String> {
    m.drift
        .iter()
        .map(|&(b, e)| format!("{b} bits: worst relative balancedness drift {e:e} (2^-bits = {:e})", (-b).exp2()))
        .collect()
}

/// The drift against precision, with $2^{-\text{bits}}$.
pub fn figures(m: &Measured) -> Vec<Figure> {
    vec![Figure::new(
        "precision_ladder_gl",
        "Conservation error vs precision (Gauss-Legendre 2)",
        "bits",
        "relative drift",
    )
    .log_y()
    .with(Series::points("GL2 worst relative drift", m.drift.clone()))
    .with(Series::line("2^-bits", m.drift.iter().map(|&(b, _)| (b, (-b).exp2())).collect()).styled(Style::Dashed))]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "precision-ladder",
    description:
        "Gauss-Legendre conserves balancedness exactly up to the stage solve and rounding, both at the working \
         precision: the conservation error falls as 2^-bits.",
    measure,
    checks,
    figures,
    notes,
};

/// The `precision-ladder` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "Gauss-Legendre's conservation error falls as 2^-bits from 53 to 512 bits",
        run: |ctx| RECIPE.run(ctx),
    }
}
