//! Named experiments: each regenerates one claim's evidence (checks and figures).
//!
//! `linflow reproduce NAME --out DIR` runs one and writes `DIR/NAME/summary.json`; notebooks
//! and tests call the same functions.

mod closed_forms;
mod continuous;
mod foundation;
mod sam_momentum;

use crate::error::{Error, Result};
use crate::report::{write_json, Figure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One checked claim.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    /// Short name.
    pub name: String,
    /// The claim, in words (with the reason for the tolerance).
    pub claim: String,
    /// What was measured.
    pub observed: f64,
    /// The bound it is compared with.
    pub tolerance: f64,
    /// Whether the claim held.
    pub pass: bool,
}

impl Check {
    /// Passes when `observed <= tolerance` (and `observed` is not NaN).
    pub fn at_most(name: impl Into<String>, claim: impl Into<String>, observed: f64, tolerance: f64) -> Self {
        Check { name: name.into(), claim: claim.into(), observed, tolerance, pass: observed <= tolerance }
    }
    /// Passes when `observed >= tolerance` (a lower bound, e.g. a ratio that must be large).
    pub fn at_least(name: impl Into<String>, claim: impl Into<String>, observed: f64, tolerance: f64) -> Self {
        Check { name: name.into(), claim: claim.into(), observed, tolerance, pass: observed >= tolerance }
    }
    /// Passes when `|observed − expected| <= tol` (records `observed`; `tolerance` holds `tol`).
    pub fn near(name: impl Into<String>, claim: impl Into<String>, observed: f64, expected: f64, tol: f64) -> Self {
        let pass = (observed - expected).abs() <= tol;
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
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }
    /// Adds a check.
    pub fn check(&mut self, c: Check) {
        self.checks.push(c);
    }
}

/// Where an experiment writes, and how large it runs.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// `DIR/NAME`.
    pub dir: PathBuf,
    /// Reduced sizes (for tests and quick looks); the checks keep their meaning.
    pub quick: bool,
}

impl Ctx {
    /// Saves a figure into the experiment's directory and records its files in `summary`.
    pub fn save_figure(&self, fig: &Figure, summary: &mut Summary) -> Result<()> {
        for p in fig.save(&self.dir)? {
            summary.figures.push(p.strip_prefix(&self.dir).unwrap_or(&p).display().to_string());
        }
        Ok(())
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
    v.extend(foundation::experiments());
    v.extend(continuous::experiments());
    v.extend(closed_forms::experiments());
    v.extend(sam_momentum::experiments());
    v
}

/// Looks an experiment up by name.
pub fn find(name: &str) -> Result<Experiment> {
    all().into_iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<_> = all().iter().map(|e| e.name).collect();
        Error::invalid("experiment", format!("unknown experiment `{name}`; known: {}", names.join(", ")))
    })
}

/// Runs `name` into `out/name/` and writes `summary.json` there (atomically).
pub fn reproduce(name: &str, out: &Path, quick: bool) -> Result<Summary> {
    let e = find(name)?;
    let ctx = Ctx { dir: out.join(e.name), quick };
    std::fs::create_dir_all(&ctx.dir).map_err(|source| Error::Io { path: ctx.dir.display().to_string(), source })?;
    let summary = (e.run)(&ctx)?;
    write_json(&ctx.dir.join("summary.json"), &summary)?;
    Ok(summary)
}
