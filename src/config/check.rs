//! `[check]`: the relative tolerance of the law checks and, for discrete methods, how often
//! they run.

use super::numbers::short;
use super::read::f64_in;
use super::section::{bad, Section};
use crate::error::{Error, Result};

/// Reads `[check]`: `tolerance` (relative, ≥ 0; `None` when absent) and `every` (≥ 1, default
/// 1; refused for flows, which check at their saved times).
pub(super) fn read(c: &Section, flow: bool) -> Result<(Option<f64>, usize)> {
    let mut every = 1;
    if let Some(n) = c.usize_opt("every")? {
        if n == 0 {
            return Err(bad("check.every", "must be at least 1"));
        }
        if flow {
            return Err(bad("check.every", "applies to discrete methods (flows check their laws at the saved times)"));
        }
        every = n;
    }
    let tolerance = match c.num_opt("tolerance")? {
        Some(q) if q.cmp0() == std::cmp::Ordering::Less => {
            return Err(bad("check.tolerance", format!("must be >= 0, got {}", short(&q))))
        }
        Some(q) if q.is_zero() => Some(0.0),
        Some(q) => Some(f64_in("check.tolerance", &q).map_err(|e| match e {
            Error::Invalid { field, message } => {
                bad(&field, format!("{message}; relative tolerances are compared in f64"))
            }
            e => e,
        })?),
        None => None,
    };
    c.finish()?;
    Ok((tolerance, every))
}
