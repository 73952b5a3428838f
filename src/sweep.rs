//! Parameter sweeps: an experiment file run over a grid of values, in parallel, optionally as one
//! shard of many (for a cluster's job array), with per-point results and a merged table.
//!
//! A grid is a list of axes `key=v1,v2,…` where `key` is a dotted path into the experiment file
//! (`method.eta`, `init.seed`, `model.widths`); values are TOML literals. Points are the
//! Cartesian product of the axes in a fixed order, numbered from 0, so that shard `i/n` (points
//! `k` with `k mod n = i`) is the same set on every machine.
//!
//! ```
//! use linflow::sweep::{Axis, Grid};
//! let grid = Grid::new(vec![Axis::parse("method.eta=0.1,0.05").unwrap(), Axis::parse("init.seed=1,2,3").unwrap()]);
//! assert_eq!(grid.len(), 6);
//! let doc: toml::Table = "[method]\neta = 1.0\n[init]\nseed = 0\n".parse().unwrap();
//! let p = grid.point(&doc, 5).unwrap();
//! assert_eq!(p["method"]["eta"].as_float(), Some(0.05));
//! assert_eq!(p["init"]["seed"].as_integer(), Some(3));
//! ```

use crate::config::{ExperimentSpec, RunReport};
use crate::error::{Error, Result};
use crate::report::write_atomic;
use crate::trajectory::Outcome;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One axis of a grid: a dotted key and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Dotted path into the experiment file.
    pub key: String,
    /// Values (TOML literals).
    pub values: Vec<toml::Value>,
}

impl Axis {
    /// Parses `key=v1,v2,...` (values are TOML literals; a list value is written `[1,2]`, and
    /// commas inside brackets do not split).
    pub fn parse(spec: &str) -> Result<Self> {
        let (key, vals) = spec
            .split_once('=')
            .ok_or_else(|| Error::invalid("grid", format!("expected key=v1,v2,... got `{spec}`")))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::invalid("grid", format!("empty key in `{spec}`")));
        }
        let mut values = Vec::new();
        let (mut depth, mut start) = (0i32, 0usize);
        let bytes = vals.as_bytes();
        for i in 0..=bytes.len() {
            let c = bytes.get(i).copied();
            match c {
                Some(b'[') => depth += 1,
                Some(b']') => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(Error::invalid(
                            "grid",
                            format!("`]` without a matching `[` in the values of `{key}` in `{spec}`"),
                        ));
                    }
                }
                Some(b',') | None if depth == 0 => {
                    let lit = vals[start..i].trim();
                    let v: toml::Table = format!("v = {lit}").parse().map_err(|e| {
                        Error::invalid("grid", format!("value `{lit}` of `{key}` is not a TOML literal: {e}"))
                    })?;
                    values.push(v["v"].clone());
                    start = i + 1;
                }
                _ => {}
            }
        }
        if depth != 0 {
            return Err(Error::invalid(
                "grid",
                format!("unclosed `[` in the values of `{key}` in `{spec}`: `{}`", vals[start..].trim()),
            ));
        }
        if values.is_empty() {
            return Err(Error::invalid("grid", format!("no values for `{key}` in `{spec}`")));
        }
        Ok(Axis { key: key.to_string(), values })
    }
}

/// The Cartesian product of axes.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    /// The axes, the last varying fastest.
    pub axes: Vec<Axis>,
}

impl Grid {
    /// A grid from axes.
    pub fn new(axes: Vec<Axis>) -> Self {
        Grid { axes }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Whether the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The axis values of point `k`.
    pub fn coords(&self, mut k: usize) -> Vec<(String, toml::Value)> {
        let mut out = vec![(String::new(), toml::Value::Boolean(false)); self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            let n = a.values.len();
            out[i] = (a.key.clone(), a.values[k % n].clone());
            k /= n;
        }
        out
    }

    /// The experiment document of point `k`: `base` with the point's values set.
    pub fn point(&self, base: &toml::Table, k: usize) -> Result<toml::Table> {
        let mut doc = base.clone();
        for (key, v) in self.coords(k) {
            set_dotted(&mut doc, &key, v)?;
        }
        Ok(doc)
    }
}

fn set_dotted(doc: &mut toml::Table, key: &str, v: toml::Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = doc;
    for p in &parts[..parts.len() - 1] {
        let entry = t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
        t = entry.as_table_mut().ok_or_else(|| Error::invalid("grid", format!("`{p}` in `{key}` is not a table")))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), v);
    Ok(())
}

/// `i/n`: this process runs points `k` with `k mod n = i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Index, `0 <= i < n`.
    pub i: usize,
    /// Number of shards.
    pub n: usize,
}

impl Shard {
    /// Parses `i/n`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::invalid("shard", format!("expected i/n with 0 <= i < n, got `{s}`"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if n == 0 || i >= n {
            return Err(bad());
        }
        Ok(Shard { i, n })
    }
}

/// The result of one point: its index, coordinates and whatever the runner returned.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PointResult {
    /// Point index in the grid.
    pub index: usize,
    /// `key → value` of the point (TOML literals as strings).
    pub coords: BTreeMap<String, String>,
    /// Scalar results (`final_loss`, worst deviations, ...), or the error.
    pub result: std::result::Result<BTreeMap<String, f64>, String>,
}

/// What a sweep directory was written for: the base experiment and the grid. Stored as
/// `out/grid.json`, so a rerun with another grid or file into the same directory is refused
/// instead of reusing stale points, and a merge knows how many points make the set complete.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridRecord {
    /// The base experiment document (TOML text).
    pub base: String,
    /// The axes: key and values (TOML literals).
    pub axes: Vec<(String, Vec<String>)>,
    /// Number of points of the grid.
    pub points: usize,
}

impl GridRecord {
    /// The record of `grid` over `base`.
    pub fn new(base: &toml::Table, grid: &Grid) -> Self {
        GridRecord {
            base: base.to_string(),
            axes: grid.axes.iter().map(|a| (a.key.clone(), a.values.iter().map(|v| v.to_string()).collect())).collect(),
            points: grid.len(),
        }
    }

    /// Reads `dir/grid.json` (`None` when absent).
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join("grid.json");
        match std::fs::read_to_string(&path) {
            Ok(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path: path.display().to_string(), source }),
        }
    }

    /// Records this grid in `out`, or checks that `out` was written for the same one.
    pub fn claim(&self, out: &Path) -> Result<()> {
        match Self::read(out)? {
            Some(old) if old == *self => Ok(()),
            Some(old) => Err(Error::invalid(
                "grid",
                format!(
                    "{} holds points of a different sweep (axes {:?}, {} points; this one: axes {:?}, {} points{}): \
                     use another --out or remove it",
                    out.display(),
                    old.axes,
                    old.points,
                    self.axes,
                    self.points,
                    if old.base != self.base { ", and a different experiment file" } else { "" }
                ),
            )),
            None => {
                let pd = out.join("points");
                if std::fs::read_dir(&pd).map(|mut d| d.next().is_some()).unwrap_or(false) {
                    return Err(Error::invalid(
                        "grid",
                        format!(
                            "{} holds points without a grid.json: cannot tell which sweep wrote them",
                            pd.display()
                        ),
                    ));
                }
                crate::report::write_json(&out.join("grid.json"), self)
            }
        }
    }
}

/// Runs the points of `shard` (all points when `None`) in parallel with `runner`, writing
/// `out/points/point-K.json` for each and returning the results sorted by index. Points whose
/// file already exists are read back instead of rerun, so an interrupted sweep resumes; `out`
/// records the grid (`grid.json`) and a rerun with a different grid or base file is refused.
pub fn run<F>(base: &toml::Table, grid: &Grid, shard: Option<Shard>, out: &Path, runner: F) -> Result<Vec<PointResult>>
where
    F: Fn(&toml::Table) -> Result<BTreeMap<String, f64>> + Sync,
{
    if grid.is_empty() {
        return Err(Error::invalid("grid", "the grid has no points"));
    }
    GridRecord::new(base, grid).claim(out)?;
    let Shard { i, n } = shard.unwrap_or(Shard { i: 0, n: 1 });
    let points: Vec<usize> = (0..grid.len()).filter(|k| k % n == i).collect();
    let dir = out.join("points");
    let mut results: Vec<PointResult> = points
        .par_iter()
        .map(|&k| -> Result<PointResult> {
            let path = dir.join(format!("point-{k}.json"));
            if let Ok(s) = std::fs::read_to_string(&path) {
                if let Ok(r) = serde_json::from_str::<PointResult>(&s) {
                    return Ok(r);
                }
            }
            let r = run_one(base, grid, k, &runner);
            crate::report::write_json(&path, &r)?;
            Ok(r)
        })
        .collect::<Result<_>>()?;
    results.sort_by_key(|r| r.index);
    Ok(results)
}

fn run_one<F>(base: &toml::Table, grid: &Grid, k: usize, runner: &F) -> PointResult
where
    F: Fn(&toml::Table) -> Result<BTreeMap<String, f64>> + Sync,
{
    let coords = grid.coords(k).into_iter().map(|(key, v)| (key, v.to_string())).collect();
    let result = grid.point(base, k).and_then(|doc| runner(&doc)).map_err(|e| e.to_string());
    PointResult { index: k, coords, result }
}

/// Runs every point of `grid` over `base` in parallel with `runner`, in memory (no files), and
/// returns the results sorted by index: the points [`run`] computes, for a program that sweeps
/// in-process.
pub fn run_in_memory<F>(base: &toml::Table, grid: &Grid, runner: F) -> Result<Vec<PointResult>>
where
    F: Fn(&toml::Table) -> Result<BTreeMap<String, f64>> + Sync,
{
    if grid.is_empty() {
        return Err(Error::invalid("grid", "the grid has no points"));
    }
    Ok((0..grid.len()).into_par_iter().map(|k| run_one(base, grid, k, &runner)).collect())
}

/// The runner of `linflow sweep`: the experiment document `doc` (named `name` unless it names
/// itself) parsed and run at its own precision, with [`scalars`] of its report and, for a
/// discrete method, its step size `eta`.
pub fn run_point(doc: &toml::Table, name: &str) -> Result<BTreeMap<String, f64>> {
    let spec = ExperimentSpec::from_table(doc, name)?;
    let report = spec.run(None)?;
    let mut m = scalars(&report);
    if let Some((method, _)) = spec.discrete() {
        m.insert("eta".into(), method.eta().to_f64());
    }
    Ok(m)
}

/// One row of a sweep's table from a run's report: `final_loss`, `grad_calls`, `steps` (the
/// last step), `done` and `passed` (1 or 0), `worst_rel_Q` per law; with a stop threshold
/// `converged` (1 when the loss reached it, else 0); for a completion generated from a truth
/// `test_mse`, `effective_rank` and the largest singular values `sigma_01`, `sigma_02`, ….
pub fn scalars(report: &RunReport) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let t = &report.trajectory;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    m.insert("final_loss".to_string(), t.loss.last().copied().unwrap_or(f64::NAN));
    m.insert("grad_calls".to_string(), t.grad_calls as f64);
    m.insert("steps".to_string(), t.steps.last().copied().unwrap_or(0) as f64);
    m.insert("done".to_string(), flag(t.outcome.is_done()));
    m.insert("passed".to_string(), flag(report.passed()));
    match t.outcome {
        Outcome::Converged { .. } => m.insert("converged".to_string(), 1.0),
        Outcome::NotConverged { .. } => m.insert("converged".to_string(), 0.0),
        _ => None,
    };
    for v in &report.verdicts {
        m.insert(format!("worst_rel_{}", v.report.quantity), v.report.worst_rel);
    }
    if let Some(c) = &report.completion {
        m.insert("test_mse".to_string(), c.test_mse);
        m.insert("effective_rank".to_string(), c.effective_rank);
        for (i, s) in c.singular_values.iter().enumerate() {
            m.insert(format!("sigma_{:02}", i + 1), *s);
        }
    }
    m
}

/// The merged table as CSV: `index`, the axes, then every result key (empty where a point failed,
/// with its error in the `error` column).
pub fn table_csv(results: &[PointResult]) -> String {
    let mut axes: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for r in results {
        for k in r.coords.keys() {
            if !axes.contains(k) {
                axes.push(k.clone());
            }
        }
        if let Ok(m) = &r.result {
            for k in m.keys() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    let q = |s: &str| format!("\"{}\"", s.replace('"', "'"));
    let mut s = String::from("index");
    for a in axes.iter().chain(&keys) {
        s.push(',');
        s.push_str(&q(a));
    }
    s.push_str(",error\n");
    for r in results {
        s.push_str(&r.index.to_string());
        for a in &axes {
            s.push(',');
            s.push_str(&q(r.coords.get(a).map(String::as_str).unwrap_or("")));
        }
        for k in &keys {
            s.push(',');
            if let Ok(m) = &r.result {
                if let Some(v) = m.get(k) {
                    s.push_str(&format!("{v:e}"));
                }
            }
        }
        s.push(',');
        if let Err(e) = &r.result {
            s.push_str(&q(e));
        }
        s.push('\n');
    }
    s
}

/// Joins the per-point files under each of `dirs` (the `--out` directories of the shards) into
/// one list, sorted by index; duplicates (the same index in two shards) keep the first.
///
/// Every directory must record the same grid (`grid.json`). An empty set is an error; a set
/// missing points of the grid is an error naming them unless `allow_partial`.
pub fn merge(dirs: &[PathBuf], allow_partial: bool) -> Result<Vec<PointResult>> {
    let mut all: BTreeMap<usize, PointResult> = BTreeMap::new();
    let mut record: Option<GridRecord> = None;
    for d in dirs {
        match (GridRecord::read(d)?, &record) {
            (Some(r), Some(first)) if r != *first => {
                return Err(Error::invalid(
                    "merge",
                    format!("{} was written by a different grid than {}", d.display(), dirs[0].display()),
                ))
            }
            (Some(r), None) => record = Some(r),
            _ => {}
        }
        let pd = d.join("points");
        let entries = std::fs::read_dir(&pd).map_err(|source| Error::Io { path: pd.display().to_string(), source })?;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let s = std::fs::read_to_string(&path)
                .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            let r: PointResult = serde_json::from_str(&s)
                .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })?;
            all.entry(r.index).or_insert(r);
        }
    }
    if all.is_empty() {
        return Err(Error::invalid("merge", "no point files found: nothing to merge"));
    }
    let expected = record.as_ref().map(|r| r.points);
    let missing: Vec<usize> = match expected {
        Some(n) => (0..n).filter(|k| !all.contains_key(k)).collect(),
        None => Vec::new(),
    };
    if !allow_partial {
        match expected {
            None => {
                return Err(Error::invalid(
                    "merge",
                    "no grid.json in the shard directories: cannot tell whether the set is complete \
                     (--allow-partial merges what is there)",
                ))
            }
            Some(n) if !missing.is_empty() => {
                let shown: Vec<String> = missing.iter().take(10).map(|k| k.to_string()).collect();
                return Err(Error::invalid(
                    "merge",
                    format!(
                        "partial set: {} of {n} points present, missing {}{} (--allow-partial merges what is there)",
                        all.len(),
                        shown.join(", "),
                        if missing.len() > 10 { ", ..." } else { "" }
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(all.into_values().collect())
}

/// Writes `out/sweep.csv` and `out/sweep.json` for `results`.
pub fn write_table(out: &Path, results: &[PointResult]) -> Result<()> {
    write_atomic(&out.join("sweep.csv"), table_csv(results).as_bytes())?;
    crate::report::write_json(&out.join("sweep.json"), &results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        let g = Grid::new(vec![Axis::parse("a=1,2,3").unwrap(), Axis::parse("b.c=[1,2],[3]").unwrap()]);
        assert_eq!(g.len(), 6);
        let mut seen: Vec<usize> = (0..4).flat_map(|i| (0..g.len()).filter(move |k| k % 4 == i)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
        assert_eq!(g.coords(5)[1].1, toml::Value::Array(vec![toml::Value::Integer(3)]));
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(Axis::parse("novalue").is_err());
        assert!(Axis::parse("a=1,,2").is_err());
        // Unbalanced brackets name the grid instead of dropping values or dividing by zero.
        for bad in ["method.eta=[1,2", "method.eta=0.1,[", "a=1]", "a="] {
            let e = Axis::parse(bad).unwrap_err().to_string();
            assert!(e.contains("grid"), "{bad}: {e}");
        }
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("x/2").is_err());
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { i: 1, n: 4 });
    }
}
