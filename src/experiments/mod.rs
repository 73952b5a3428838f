//! Named experiments: each regenerates one claim's evidence (checks and figures).
//!
//! `linflow reproduce NAME --out DIR` runs one and writes `DIR/NAME/summary.json`; notebooks
//! and tests call the same functions.

pub mod balancedness_drift;
mod closed_forms;
pub mod connectivity;
pub mod conservation_laws;
mod continuous;
pub mod dmf_completion;
pub mod dmf_dynamics;
mod fibres;
#[cfg(feature = "testing")]
mod foundation;
mod gd_trace;
mod orders_discrete;
pub mod overparam_slowdown;
mod sam_momentum;
pub mod stability;

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

    /// Saves each of `figs` with [`Ctx::save_figure`], in order.
    pub fn save_figures(&self, figs: &[Figure], summary: &mut Summary) -> Result<()> {
        for f in figs {
            self.save_figure(f, summary)?;
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
    #[cfg(feature = "testing")]
    v.extend(foundation::experiments());
    v.extend(continuous::experiments());
    v.extend(fibres::experiments());
    v.extend(closed_forms::experiments());
    v.extend(sam_momentum::experiments());
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

/// Runs `name` into `out/name/` and writes `summary.json` there (atomically).
pub fn reproduce(name: &str, out: &Path, quick: bool) -> Result<Summary> {
    let e = find(name)?;
    let ctx = Ctx { dir: out.join(e.name), quick };
    std::fs::create_dir_all(&ctx.dir).map_err(|source| Error::Io { path: ctx.dir.display().to_string(), source })?;
    let summary = (e.run)(&ctx)?;
    write_json(&ctx.dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// One experiment's line in `DIR/index.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Experiment name (its files are in `DIR/NAME/`).
    pub name: String,
    /// What it shows.
    pub about: String,
    /// `pass` (every check held), `fail` (some check failed) or `error` (it could not run).
    pub status: String,
    /// Checks that held.
    pub checks_passed: usize,
    /// All checks.
    pub checks_total: usize,
    /// Names of the checks that failed.
    pub failed: Vec<String>,
    /// The error, when it could not run.
    pub error: Option<String>,
    /// Figure files, relative to `DIR`.
    pub figures: Vec<String>,
}

/// What `linflow reproduce all` wrote: one entry per experiment, in registry order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Index {
    /// Whether reduced sizes were used.
    pub quick: bool,
    /// The experiments.
    pub experiments: Vec<IndexEntry>,
}

impl Index {
    /// Whether every experiment ran and passed all its checks.
    pub fn passed(&self) -> bool {
        self.experiments.iter().all(|e| e.status == "pass")
    }

    /// The index as Markdown: a table of experiments with their status and figures (PNG links).
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("# linflow: reproduced experiments\n\n");
        s.push_str(if self.quick { "Reduced sizes (`--quick`).\n\n" } else { "Full sizes.\n\n" });
        s.push_str("| experiment | status | checks | figures | about |\n|---|---|---|---|---|\n");
        for e in &self.experiments {
            let figs: Vec<String> = e
                .figures
                .iter()
                .filter(|f| f.ends_with(".png"))
                .map(|f| {
                    format!("[{}]({f})", Path::new(f).file_stem().map(|x| x.to_string_lossy()).unwrap_or_default())
                })
                .collect();
            let status = match &e.error {
                Some(err) => format!("error: {}", err.replace('|', "/")),
                None if e.failed.is_empty() => e.status.clone(),
                None => format!("{} ({})", e.status, e.failed.join(", ")),
            };
            s.push_str(&format!(
                "| [{n}]({n}/summary.json) | {status} | {}/{} | {} | {} |\n",
                e.checks_passed,
                e.checks_total,
                figs.join(" "),
                e.about.replace('|', "/"),
                n = e.name
            ));
        }
        s
    }
}

/// Runs every named experiment, in registry order, into `out/NAME/` and writes `out/index.json`
/// and `out/index.md` (atomically). An experiment that fails to run is recorded as `error` and the
/// others still run. Every experiment draws its data from fixed seeds, so a rerun reproduces the
/// same summaries and figures. With `progress`, a progress bar on standard error shows which
/// experiment is running.
pub fn reproduce_all(out: &Path, quick: bool, progress: bool) -> Result<Index> {
    let list = all();
    let bar = Progress::new(progress, list.len());
    let mut index = Index { quick, experiments: Vec::with_capacity(list.len()) };
    for e in &list {
        bar.set_message(e.name);
        let entry = match reproduce(e.name, out, quick) {
            Ok(s) => {
                let failed: Vec<String> = s.checks.iter().filter(|c| !c.pass).map(|c| c.name.clone()).collect();
                IndexEntry {
                    name: e.name.into(),
                    about: e.about.into(),
                    status: if failed.is_empty() { "pass" } else { "fail" }.into(),
                    checks_passed: s.checks.len() - failed.len(),
                    checks_total: s.checks.len(),
                    failed,
                    error: None,
                    figures: s.figures.iter().map(|f| format!("{}/{f}", e.name)).collect(),
                }
            }
            Err(err) => IndexEntry {
                name: e.name.into(),
                about: e.about.into(),
                status: "error".into(),
                checks_passed: 0,
                checks_total: 0,
                failed: vec![],
                error: Some(err.to_string()),
                figures: vec![],
            },
        };
        if progress {
            bar.println(format!(
                "{:<5} {} ({}/{} checks)",
                entry.status, entry.name, entry.checks_passed, entry.checks_total
            ));
        }
        index.experiments.push(entry);
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_json(&out.join("index.json"), &index)?;
    crate::report::write_atomic(&out.join("index.md"), index.to_markdown().as_bytes())?;
    Ok(index)
}

/// The progress bar of `reproduce all` (indicatif, with the `cli` feature; nothing without it).
struct Progress {
    #[cfg(feature = "cli")]
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(show: bool, len: usize) -> Self {
        #[cfg(feature = "cli")]
        {
            let bar = if show {
                let b = indicatif::ProgressBar::new(len as u64);
                b.set_style(
                    indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.enable_steady_tick(std::time::Duration::from_millis(500));
                b
            } else {
                indicatif::ProgressBar::hidden()
            };
            Progress { bar }
        }
        #[cfg(not(feature = "cli"))]
        {
            let _ = (show, len);
            Progress {}
        }
    }
    fn set_message(&self, msg: &'static str) {
        #[cfg(feature = "cli")]
        self.bar.set_message(msg);
        #[cfg(not(feature = "cli"))]
        let _ = msg;
    }
    fn inc(&self, n: u64) {
        #[cfg(feature = "cli")]
        self.bar.inc(n);
        #[cfg(not(feature = "cli"))]
        let _ = n;
    }
    fn finish_and_clear(&self) {
        #[cfg(feature = "cli")]
        self.bar.finish_and_clear();
    }
    fn println(&self, line: impl AsRef<str>) {
        #[cfg(feature = "cli")]
        self.bar.println(line);
        #[cfg(not(feature = "cli"))]
        eprintln!("{}", line.as_ref());
    }
}
