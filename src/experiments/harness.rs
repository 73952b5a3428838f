//! Running recipes and writing their results: the only part of `experiments` that writes files.
//!
//! A recipe is a measurement (`measure`, numerics only), the claims checked on it (`checks`), its
//! figures and notes; [`Recipe::run`] assembles them into a [`Summary`] and saves the figures
//! through [`Ctx`]. [`reproduce`] runs one named experiment and writes its `summary.json`;
//! [`reproduce_all`] runs them all and writes the index.

use super::{all, find, Check, Summary};
use crate::error::{Error, Result};
use crate::report::{write_json, Figure};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// JSON files a recipe writes beside its summary: `(file name, value)`.
pub type DataFiles = Vec<(&'static str, serde_json::Value)>;

/// One experiment as a recipe: what [`Recipe::run`] calls, in order. `M` is the experiment's
/// measurement (its `Measured` struct), which notebooks and tests can also get from `measure` directly.
pub struct Recipe<M> {
    /// Experiment name (as registered).
    pub name: &'static str,
    /// What the summary says it shows.
    pub description: &'static str,
    /// The numerics, at reduced sizes when `quick`: no I/O.
    pub measure: fn(bool) -> Result<M>,
    /// The claims checked on a measurement, with their tolerances' reasons.
    pub checks: fn(&M) -> Vec<Check>,
    /// The figures drawn from a measurement.
    pub figures: fn(&M) -> Vec<Figure>,
    /// Remarks on a measurement (measured values worth reading, where a claim does not apply).
    pub notes: fn(&M) -> Vec<String>,
}

impl<M> Recipe<M> {
    /// Measures, checks, and saves the figures into `ctx.dir`.
    pub fn run(&self, ctx: &Ctx) -> Result<Summary> {
        let m = (self.measure)(ctx.quick)?;
        let mut s = Summary::new(self.name, self.description);
        s.checks = (self.checks)(&m);
        s.notes = (self.notes)(&m);
        ctx.save_figures(&(self.figures)(&m), &mut s)?;
        Ok(s)
    }

    /// [`Recipe::run`], and writes each `(file, value)` of `data(&measurement)` as JSON into
    /// `ctx.dir` (a measurement's raw records, for readers who want more than the figures).
    pub fn run_with_data(&self, ctx: &Ctx, data: fn(&M) -> Result<DataFiles>) -> Result<Summary> {
        let m = (self.measure)(ctx.quick)?;
        let mut s = Summary::new(self.name, self.description);
        s.checks = (self.checks)(&m);
        s.notes = (self.notes)(&m);
        ctx.save_figures(&(self.figures)(&m), &mut s)?;
        for (file, value) in data(&m)? {
            write_json(&ctx.dir.join(file), &value)?;
        }
        Ok(s)
    }
}

/// A recipe without notes.
pub fn no_notes<M>(_: &M) -> Vec<String> {
    Vec::new()
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
