//! `linflow bench --peers DIR`: the peers' JSON results (`bench/peers/results/*.json`, written by
//! the harness in the same sitting) beside linflow's rows, as a table of ratios of minima.

use super::{read, Row};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// One record of a peer's results file.
#[derive(Clone, Debug, Deserialize)]
pub struct PeerRecord {
    /// `W1` … `W5`.
    pub workload: String,
    /// Peer (`scipy`, `diffrax`, `heyoka`, `jax`, ...).
    pub peer: String,
    /// The peer's method.
    pub method: String,
    /// Size label (as in linflow's rows).
    pub size: String,
    /// Median wall time, seconds.
    pub wall_s_median: f64,
    /// Minimum wall time, seconds.
    pub wall_s_min: f64,
    /// Right-hand-side evaluations or steps, when counted.
    pub rhs_evals: Option<usize>,
    /// Final loss.
    pub final_loss: Option<f64>,
}

#[derive(Deserialize)]
struct PeerFile {
    records: Vec<PeerRecord>,
}

/// Every record of every `*.json` file in `dir` that has a `records` list (other JSON files,
/// such as the W2 references, are skipped).
pub fn load(dir: &Path) -> Result<Vec<PeerRecord>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = read(p)?;
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return Err(Error::Config { path: p.display().to_string(), message: "not valid JSON".into() });
        };
        if value.get("records").is_none() {
            continue;
        }
        let f: PeerFile = serde_json::from_value(value)
            .map_err(|e| Error::Config { path: p.display().to_string(), message: format!("records: {e}") })?;
        out.extend(f.records);
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "--peers",
            format!("no peer records (*.json with \"records\") in {}", dir.display()),
        ));
    }
    Ok(out)
}

/// The workload and size under which the peers file a linflow row (reports before the `W2` f64
/// row filed that run of W2's network with the W1 rows).
fn key(r: &Row) -> (String, String) {
    if r.workload == "W1" && r.size == "3-4-4-2" {
        ("W2".into(), r.size.clone())
    } else {
        (r.workload.clone(), r.size.clone())
    }
}

/// Markdown table: for each linflow row with peer records of the same workload and size, the
/// fastest peer by minimum wall time and the ratio `peer min / linflow min` (above 1: linflow is
/// faster).
pub fn ratio_table(rows: &[Row], peers: &[PeerRecord]) -> String {
    let mut s = String::from(
        "| workload | size | linflow | min s | evals | best peer | min s | evals | ratio | other peers (min s) |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (w, size) = key(r);
        let mut mine: Vec<&PeerRecord> = peers.iter().filter(|p| p.workload == w && p.size == size).collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by(|a, b| a.wall_s_min.total_cmp(&b.wall_s_min));
        let best = mine[0];
        let others: Vec<String> =
            mine[1..].iter().map(|p| format!("{} {} {:.4}", p.peer, p.method, p.wall_s_min)).collect();
        let evals = |e: Option<usize>| e.map_or_else(|| "-".into(), |e| e.to_string());
        s.push_str(&format!(
            "| {w} | {size} | {} | {:.4} | {} | {} {} | {:.4} | {} | {:.2}x | {} |\n",
            r.method,
            r.wall_min_s,
            r.rhs_evals,
            best.peer,
            best.method,
            best.wall_s_min,
            evals(best.rhs_evals),
            best.wall_s_min / r.wall_min_s,
            others.join("; ")
        ));
    }
    s
}
