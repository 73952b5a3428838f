//! Verdicts that need evidence: what a run of an experiment file checked, at what precision, and
//! whether it held.
//!
//! * A law that compared nothing ([`LawReport::checks`] `= 0`) is **nothing checked**, never
//!   "holds".
//! * A NaN or infinity in a deviation, a scale or a measured value **fails**, naming where.
//! * A run that stopped before its horizon (diverged, non-finite, step limit) **fails** every law
//!   it checked: the laws then cover only a prefix.
//! * A report passes only when at least one law was checked and every checked law held.

use crate::decimal;
use crate::invariants::LawReport;
use crate::model::Model;
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Trajectory};
use serde::{Deserialize, Serialize};

/// What a verdict says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked at least once and within tolerance.
    Holds,
    /// Outside tolerance, non-finite, or on a run that did not finish.
    Fails,
    /// Nothing was compared.
    NothingChecked,
}

impl Status {
    /// The word printed in tables.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "FAILS",
            Status::NothingChecked => "nothing checked",
        }
    }
}

/// Which law a quantity is checked against, and its verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    /// The law's report along the run (worst deviation, where, scale, how many checks and items;
    /// the per-check series is left to `trajectory.json`).
    #[serde(flatten)]
    pub report: LawReport,
    /// Relative tolerance.
    #[serde(with = "crate::decimal::f64_serde")]
    pub tolerance: f64,
    /// The verdict.
    pub status: Status,
    /// Whether the law held (`status == Holds`).
    pub pass: bool,
    /// Why it failed or checked nothing, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Verdict {
    /// The verdict on `report` at relative tolerance `tol` (0: only exact zeros pass) for a run that
    /// ended with `outcome`.
    pub fn judge(report: &LawReport, tol: f64, outcome: &Outcome) -> Self {
        let report = LawReport { series: Vec::new(), series_text: Vec::new(), ..report.clone() };
        let (status, reason) = if !report.checked() {
            (Status::NothingChecked, Some(format!("{}: 0 items compared", report.quantity)))
        } else if let Some(w) = &report.non_finite {
            (Status::Fails, Some(format!("not finite: {w}")))
        } else if !outcome.is_done() {
            (
                Status::Fails,
                Some(format!("the run did not reach its horizon ({}): checked only a prefix", outcome_words(outcome))),
            )
        } else {
            // With a zero tolerance only exact zeros pass (a non-increasing law: no increase at all).
            let ok = if tol == 0.0 { report.exact_zero || report.worst_abs == 0.0 } else { report.worst_rel <= tol };
            if ok {
                (Status::Holds, None)
            } else {
                (Status::Fails, Some(format!("worst relative deviation {:e} > tolerance {tol:e}", report.worst_rel)))
            }
        };
        Verdict { report, tolerance: tol, pass: status == Status::Holds, status, reason }
    }
}

fn outcome_words(o: &Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_string))
        .unwrap_or_else(|| format!("{o:?}"))
}

/// A trajectory written at the run's precision: times, losses, states and every law's deviation
/// series as decimal text (exact `p/q` in rationals, see [`crate::decimal`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrajectoryText {
    /// Method or integrator name.
    pub method: String,
    /// Number type.
    pub precision: String,
    /// Saved times.
    pub times: Vec<String>,
    /// Step index of each saved state.
    pub steps: Vec<usize>,
    /// Loss at each saved state, at the run's precision.
    pub loss: Vec<String>,
    /// Saved states: blocks, rows, entries.
    pub states: Vec<Vec<Vec<Vec<String>>>>,
    /// One report per tracked law, with `series_text`.
    pub laws: Vec<LawReport>,
    /// Gradient (right-hand-side) evaluations.
    pub grad_calls: usize,
    /// How the run ended.
    pub outcome: Outcome,
}

impl TrajectoryText {
    /// `traj` as text; the loss of each saved state is recomputed from `model` at the run's precision.
    pub fn new<S: Scalar>(traj: &Trajectory<S>, model: &Model<S>) -> Self {
        TrajectoryText {
            method: traj.method.clone(),
            precision: traj.precision.clone(),
            times: traj.times.iter().map(decimal::text).collect(),
            steps: traj.steps.clone(),
            loss: traj.states.iter().map(|p| decimal::text(&model.loss(p))).collect(),
            states: traj
                .states
                .iter()
                .map(|p| {
                    p.blocks
                        .iter()
                        .map(|m| m.to_rows().iter().map(|r| r.iter().map(decimal::text).collect()).collect())
                        .collect()
                })
                .collect(),
            laws: traj.laws.clone(),
            grad_calls: traj.grad_calls,
            outcome: traj.outcome.clone(),
        }
    }
}

/// What a run of an experiment file produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Experiment name.
    pub name: String,
    /// Number type used.
    pub precision: String,
    /// Steps requested (discrete runs; 0 for flows).
    pub horizon_steps: usize,
    /// Per-law verdicts.
    pub verdicts: Vec<Verdict>,
    /// What the run could not check, and why (e.g. no exact law known for the method).
    pub unchecked: Vec<String>,
    /// The trajectory with states rounded to `f64` (for the CSV and plots).
    pub trajectory: Trajectory<f64>,
    /// The trajectory at the run's precision (written as `trajectory.json`).
    pub text: TrajectoryText,
    /// For a completion loss generated from a truth: the final end-to-end matrix against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<CompletionMeasures>,
}

/// The final end-to-end matrix $W$ of a completion run against the ground truth $M$ its
/// observations were drawn from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompletionMeasures {
    /// Test error: the mean squared error over all entries, $\|W - M\|_F^2/(d_N d_0)$.
    pub test_mse: f64,
    /// Effective rank of $W$ (Roy and Vetterli: $\exp$ of the entropy of the normalized
    /// singular values).
    pub effective_rank: f64,
    /// The largest singular values of $W$ (at most ten), decreasing.
    pub singular_values: Vec<f64>,
}

impl RunReport {
    /// Number of laws that compared something.
    pub fn laws_checked(&self) -> usize {
        self.verdicts.iter().filter(|v| v.status != Status::NothingChecked).count()
    }

    /// Whether the run finished, at least one law was checked and every checked law held.
    pub fn passed(&self) -> bool {
        self.trajectory.outcome.is_done()
            && self.laws_checked() > 0
            && self.verdicts.iter().all(|v| v.status != Status::Fails)
    }

    /// Whether the run finished and no checked law failed (what `run` requires: a method with no
    /// known law still runs successfully, while `check` also needs at least one law checked).
    pub fn finished_without_failure(&self) -> bool {
        self.trajectory.outcome.is_done() && self.verdicts.iter().all(|v| v.status != Status::Fails)
    }

    /// One sentence on what was checked: laws, checks and items.
    pub fn evidence(&self) -> String {
        let checks: usize = self.verdicts.iter().map(|v| v.report.checks).sum();
        let items: usize = self.verdicts.iter().map(|v| v.report.items).sum();
        let steps = self.trajectory.steps.last().copied().unwrap_or(0);
        let mut s = format!(
            "checked {} of {} laws: {checks} checks, {items} items, over {steps} steps",
            self.laws_checked(),
            self.verdicts.len()
        );
        if self.laws_checked() == 0 {
            s.push_str(" -- nothing checked, no verdict");
        }
        s
    }

    /// A short summary (without the states), for `summary.json`; numbers at the run's precision.
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name,
            "precision": self.precision,
            "method": self.trajectory.method,
            "outcome": self.trajectory.outcome,
            "horizon_steps": self.horizon_steps,
            "grad_calls": self.trajectory.grad_calls,
            "initial_loss": self.text.loss.first(),
            "final_loss": self.text.loss.last(),
            "final_time": self.text.times.last(),
            "verdicts": self.verdicts,
            "unchecked": self.unchecked,
            "laws_checked": self.laws_checked(),
            "evidence": self.evidence(),
            "passed": self.passed(),
            "final_state": self.text.states.last(),
            "steps": self.trajectory.steps.last(),
        });
        if let (Some(c), Some(map)) = (&self.completion, v.as_object_mut()) {
            map.insert("test_mse".into(), c.test_mse.into());
            map.insert("effective_rank".into(), c.effective_rank.into());
            map.insert("singular_values".into(), c.singular_values.clone().into());
        }
        v
    }

    /// The verdict table printed by `linflow check`.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{} ({}, {}): {:?}, {} gradient calls\n",
            self.name, self.precision, self.trajectory.method, self.trajectory.outcome, self.trajectory.grad_calls
        );
        s.push_str(&format!(
            "{:<18} {:<44} {:>11} {:>11} {:>9} {:>7} {:>7}  {}\n",
            "quantity", "law", "worst abs", "worst rel", "tolerance", "checks", "items", "verdict"
        ));
        for v in &self.verdicts {
            let law: String = v.report.law.chars().take(44).collect();
            let r = &v.report;
            let worst = |x: f64| match v.status {
                Status::NothingChecked => "-".to_string(),
                _ if r.exact_zero => "0 (exact)".to_string(),
                _ => format!("{x:.3e}"),
            };
            s.push_str(&format!(
                "{:<18} {:<44} {:>11} {:>11} {:>9.1e} {:>7} {:>7}  {}\n",
                r.quantity,
                law,
                worst(r.worst_abs),
                worst(r.worst_rel),
                v.tolerance,
                r.checks,
                r.items,
                v.status.word()
            ));
            if let Some(why) = &v.reason {
                s.push_str(&format!("    {}: {why}\n", v.status.word()));
            }
        }
        for u in &self.unchecked {
            s.push_str(&format!("not checked: {u}\n"));
        }
        s.push_str(&self.evidence());
        s.push('\n');
        s
    }
}
