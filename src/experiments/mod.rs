//! Named experiments: each regenerates one claim's evidence (checks and figures).
//!
//! `linflow reproduce NAME --out DIR` runs one and writes `DIR/NAME/summary.json`; notebooks
//! and tests call the same functions.

pub mod balancedness_drift;
pub mod connectivity;
pub mod conservation_laws;
pub mod dmf_completion;
pub mod dmf_dynamics;
#[cfg(feature = "testing")]
pub mod exact_drift;
pub mod fibres;
pub mod flows;
mod gd_trace;
pub mod harness;
pub mod overparam_slowdown;
pub mod references;
pub mod sam;
pub mod stability;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub use harness::{no_notes, reproduce, reproduce_all, Ctx, Index, IndexEntry, Recipe};

/// One checked claim.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    /// Short name.
    pub name: String,
    /// The claim, in words (with the reason for the tolerance).
    pub claim: String,
    /// What was measured (NaN fails every check).
    #[serde(with = "crate::decimal::f64_serde")]
    pub observed: f64,
    /// The bound it is compared with.
    #[serde(with = "crate::decimal::f64_serde")]
    pub tolerance: f64,
    /// Whether the claim held.
    pub pass: bool,
}

impl Check {
    /// Passes when `observed <= tolerance`; fails when either is NaN.
    pub fn at_most(name: impl Into<String>, claim: impl Into<String>, observed: f64, tolerance: f64) -> Self {
        let pass = !observed.is_nan() && !tolerance.is_nan() && observed <= tolerance;
        Check { name: name.into(), claim: claim.into(), observed, tolerance, pass }
    }
    /// Passes when `observed >= tolerance` (a lower bound, e.g. a ratio that must be large);
    /// fails when either is NaN.
    pub fn at_least(name: impl Into<String>, claim: impl Into<String>, observed: f64, tolerance: f64) -> Self {
        let pass = !observed.is_nan() && !tolerance.is_nan() && observed >= tolerance;
        Check { name: name.into(), claim: claim.into(), observed, tolerance, pass }
    }
    /// Passes when `|observed − expected| <= tol` (records `observed`; `tolerance` holds `tol`);
    /// fails when any of them is NaN or `observed` is infinite.
    pub fn near(name: impl Into<String>, claim: impl Into<String>, observed: f64, expected: f64, tol: f64) -> Self {
        let pass = observed.is_finite() && (observed - expected).abs() <= tol;
        Check {
            name: name.into(),
            claim: format!("{} (expected {expected})", claim.into()),
            observed,
            tolerance: tol,
            pass,
        }
    }
}

/// The result of a named experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Experiment name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The checks.
    pub checks: Vec<Check>,
    /// Figure files written (relative to the experiment's directory).
    pub figures: Vec<String>,
    /// Remarks: conditions under which a claim does not apply, measured values worth reading.
    pub notes: Vec<String>,
}

impl Summary {
    /// An empty summary.
    pub fn new(name: &str, description: &str) -> Self {
        Summary { name: name.into(), description: description.into(), checks: vec![], figures: vec![], notes: vec![] }
    }
    /// Whether at least one check was made and every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.pass)
    }
    /// Adds a check.
    pub fn check(&mut self, c: Check) {
        self.checks.push(c);
    }
}

/// A named experiment.
#[derive(Clone, Copy)]
pub struct Experiment {
    /// Name used by `linflow reproduce`.
    pub name: &'static str,
    /// One line on what it shows.
    pub about: &'static str,
    /// Runs it.
    pub run: fn(&Ctx) -> Result<Summary>,
}

/// Every named experiment.
pub fn all() -> Vec<Experiment> {
    let mut v = Vec::new();
    #[cfg(feature = "testing")]
    v.extend(exact_drift::experiments());
    v.extend(flows::experiments());
    v.extend(fibres::experiments());
    v.extend(references::experiments());
    v.extend(sam::experiments());
    v.extend(balancedness_drift::experiments());
    v.extend(dmf_completion::experiments());
    v.extend(dmf_dynamics::experiments());
    v.extend(conservation_laws::experiments());
    v.extend(stability::experiments());
    v.extend(connectivity::experiments());
    v.extend(overparam_slowdown::experiments());
    v
}

/// Looks an experiment up by name.
pub fn find(name: &str) -> Result<Experiment> {
    all().into_iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<_> = all().iter().map(|e| e.name).collect();
        Error::invalid("experiment", format!("unknown experiment `{name}`; known: {}", names.join(", ")))
    })
}
