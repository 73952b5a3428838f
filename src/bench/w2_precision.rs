//! W2 at several precisions (`linflow bench --w2-bits 256,512,1024,2048`): the 3-4-4-2 gradient
//! flow to `t = 1` with Taylor's method at the default tolerance (a few ulps, $2^{4-p}$), each row
//! with its error against a reference, its steps, order and series sweeps.
//!
//! The reference is `W2_reference_320.json` (320 digits, heyoka at 1200 bits cross-checked at 1100
//! bits to $5\cdot10^{-332}$) for precisions up to 1024 bits; above that, 320 digits are not enough
//! and the reference is linflow's own Taylor run at $\lceil 1.25p\rceil$ bits (2560 for 2048), which
//! the row states.

use super::{read, time_it, DeepInputs};
use crate::error::{Error, Result};
use crate::flow::integrators::taylor;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions, Tolerance};
use crate::invariants::Monitor;
use crate::params::Params;
use crate::scalar::{Mp, Scalar};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One W2 row at one precision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrecisionRow {
    /// Working precision, bits.
    pub bits: u32,
    /// Method and tolerance.
    pub method: String,
    /// Taylor order used.
    pub order: usize,
    /// Accepted steps.
    pub steps: usize,
    /// Series sweeps (one order of the gradient's expansion each).
    pub evals: usize,
    /// Median wall time, seconds.
    pub wall_median_s: f64,
    /// Minimum wall time, seconds.
    pub wall_min_s: f64,
    /// Largest absolute error of the state at `t = 1` against the reference.
    pub error_vs_reference: f64,
    /// $\log_2$ of that error (the number itself may be below `f64`'s range at high precision).
    pub log2_error: f64,
    /// The target $2^{12-p}$ (issue 16), as $\log_2$.
    pub log2_target: f64,
    /// Which reference.
    pub reference: String,
}

#[derive(Deserialize)]
struct Reference {
    state_t1_flat: Vec<String>,
}

fn w2_run(inputs: &DeepInputs, bits: u32) -> Result<(Params<Mp>, usize, usize)> {
    let proto = Mp::new(bits);
    let model = inputs.model()?.cast(&proto);
    // The inputs are exact binary f64 values, widened exactly.
    let p0 = inputs.params().cast(&proto);
    let integ = Integrator::Taylor { tol: Tolerance::Auto, order: None, max_step: None };
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    let tr = solve(&mut GradientFlow::new(&model), &model, &p0, &integ, &opts, &mut Monitor::new())?;
    if !tr.outcome.is_done() {
        return Err(Error::Other(format!("W2 at {bits} bits did not finish: {:?}", tr.outcome)));
    }
    let steps = *tr.steps.last().unwrap_or(&0);
    Ok((tr.last().clone(), steps, tr.grad_calls))
}

fn max_log2_diff(a: &[Mp], b: &[Mp]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| Mp::with_val(x.prec().max(y.prec()), x - y).log2_abs())
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Runs W2 at each of `bits` (`reps` timed repetitions after one warm-up); `dir` holds
/// `inputs/W2.json` and `W2_reference_320.json`.
pub fn run(dir: &Path, bits: &[u32], reps: usize) -> Result<Vec<PrecisionRow>> {
    let inputs = DeepInputs::load(&dir.join("inputs/W2.json"))?;
    let path = dir.join("W2_reference_320.json");
    let text = read(&path)?;
    let reference: Reference = serde_json::from_str(&text)
        .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
    let ref320: Vec<Mp> = reference
        .state_t1_flat
        .iter()
        .map(|s| Mp::parse(s).map(|v| Mp::with_val(1100, v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::invalid("state_t1_flat", e.to_string()))?;
    let mut rows = Vec::new();
    for &b in bits {
        if !(16..=1 << 20).contains(&b) {
            return Err(Error::invalid("w2-bits", format!("precisions must be between 16 and 2^20 bits, got {b}")));
        }
        let (med, min, out) = time_it(reps, || w2_run(&inputs, b));
        let (state, steps, evals) = out?;
        let flat = state.flatten();
        if flat.len() != ref320.len() {
            return Err(Error::dim("W2 reference state", format!("{} entries", flat.len()), ref320.len().to_string()));
        }
        // 320 digits resolve errors down to about 2^-1060: enough for 1024 bits (target 2^-1012).
        let (l2err, reference) = if b <= 1024 {
            (max_log2_diff(&flat, &ref320), "W2_reference_320.json (320 digits)".to_string())
        } else {
            let hb = b + b.div_ceil(4);
            let (hi, _, _) = w2_run(&inputs, hb)?;
            (max_log2_diff(&flat, &hi.flatten()), format!("linflow taylor at {hb} bits"))
        };
        let tol_l2 = Tolerance::Auto.log2(b);
        rows.push(PrecisionRow {
            bits: b,
            method: format!("taylor tol 2^{tol_l2:.0}"),
            order: taylor::order_for(tol_l2),
            steps,
            evals,
            wall_median_s: med,
            wall_min_s: min,
            error_vs_reference: l2err.exp2(),
            log2_error: l2err,
            log2_target: 12.0 - f64::from(b),
            reference,
        });
    }
    Ok(rows)
}

/// $2^{x}$ in decimal, `m.me±e`, for any finite `x` (an `f64` value underflows below $2^{-1074}$).
fn pow2_decimal(x: f64) -> String {
    if !x.is_finite() {
        return format!("2^{x}");
    }
    let l10 = x * std::f64::consts::LOG10_2;
    let mut e = l10.floor();
    let mut m = 10f64.powf(l10 - e);
    if (m * 10.0).round() >= 100.0 {
        m /= 10.0;
        e += 1.0;
    }
    format!("{m:.1}e{e}")
}

/// The rows as a Markdown table.
pub fn table(rows: &[PrecisionRow]) -> String {
    let mut s = String::from(
        "| bits | method | order | steps | sweeps | wall median s | wall min s | error vs reference | target | reference |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.4} | {:.4} | 2^{:.1} ({}) | 2^{:.0} | {} |\n",
            r.bits,
            r.method,
            r.order,
            r.steps,
            r.evals,
            r.wall_median_s,
            r.wall_min_s,
            r.log2_error,
            pow2_decimal(r.log2_error),
            r.log2_target,
            r.reference
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::pow2_decimal;

    /// Against `f64`'s own formatting where it can represent the number, and 2^-2048.9 (which it
    /// cannot) against 10^(-2048.9·log10 2) = 10^-616.77 = 1.7e-617.
    #[test]
    fn powers_of_two_in_decimal() {
        for x in [-256.2f64, -512.8, -3.3, 0.0, 10.5] {
            assert_eq!(pow2_decimal(x), format!("{:.1e}", x.exp2()));
        }
        assert_eq!(pow2_decimal(-2048.9), "1.7e-617");
    }
}
