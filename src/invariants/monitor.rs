//! The monitor: tracked quantities checked against their laws along a run, with NaN-aware worst-case
//! folds and reports that say how many items and steps were checked.

use super::laws::Law;
use super::quantities::{LossValue, Quantity};
use crate::decimal;
use crate::mat::Mat;
use crate::model::Model;
use crate::optim::StepRecord;
use crate::params::Params;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// One quantity and its law, with the worst deviation seen so far.
pub struct Tracked<S: Scalar> {
    /// The quantity.
    pub quantity: Box<dyn Quantity<S>>,
    /// Its law.
    pub law: Law<S>,
    initial: Vec<Mat<S>>,
    previous: Vec<Mat<S>>,
    worst: Option<S>,
    report: LawReport,
}

/// The outcome of checking one law along a run.
///
/// A law with `checks == 0` examined nothing (a depth-1 network has no balancedness matrix, a run
/// of zero steps has no step): it neither holds nor fails, and `exact_zero` is false.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LawReport {
    /// Quantity name.
    pub quantity: String,
    /// Law name.
    pub law: String,
    /// Largest absolute entry of (observed − predicted) over all checks (NaN or ±inf when a
    /// deviation was not finite: see `non_finite`).
    #[serde(with = "crate::decimal::f64_serde")]
    pub worst_abs: f64,
    /// The same at the run's precision (exact `p/q` in rationals); empty when nothing was checked.
    pub worst_abs_text: String,
    /// `worst_abs / scale`, computed at the run's precision.
    #[serde(with = "crate::decimal::f64_serde")]
    pub worst_rel: f64,
    /// The scale: largest absolute entry of the quantity (initial value for time laws, the
    /// observed value for drift laws) at the worst check; 1 where that is zero.
    #[serde(with = "crate::decimal::f64_serde")]
    pub scale: f64,
    /// Step of the worst check.
    pub at_step: usize,
    /// Time of the worst check.
    #[serde(with = "crate::decimal::f64_serde")]
    pub at_time: f64,
    /// True when at least one check was made and every deviation was exactly zero (meaningful
    /// in rational arithmetic).
    pub exact_zero: bool,
    /// Number of checks (steps for drift laws, saved times for time laws) that compared something.
    pub checks: usize,
    /// Number of scalar entries compared, over all checks.
    pub items: usize,
    /// Where a NaN or infinity first appeared in a deviation, a scale or a measured value; such a
    /// law fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_finite: Option<String>,
    /// `(time, deviation)` at every check, in `f64`, for plots (not written to files: see
    /// `series_text`).
    #[serde(skip)]
    pub series: Vec<(f64, f64)>,
    /// `(time, deviation)` at every check at the run's precision.
    pub series_text: Vec<(String, String)>,
}

impl LawReport {
    /// The report of a law on `quantity` before any check: nothing compared yet.
    pub fn unchecked(quantity: impl Into<String>, law: impl Into<String>) -> Self {
        LawReport {
            quantity: quantity.into(),
            law: law.into(),
            worst_abs: 0.0,
            worst_abs_text: String::new(),
            worst_rel: 0.0,
            scale: 1.0,
            at_step: 0,
            at_time: 0.0,
            exact_zero: false,
            checks: 0,
            items: 0,
            non_finite: None,
            series: Vec::new(),
            series_text: Vec::new(),
        }
    }

    /// Whether anything was compared.
    pub fn checked(&self) -> bool {
        self.checks > 0
    }
}

impl<S: Scalar> Tracked<S> {
    /// Tracks `quantity` under `law`.
    pub fn new(quantity: impl Quantity<S> + 'static, law: Law<S>) -> Self {
        let name = quantity.name();
        Tracked {
            law: law.clone(),
            quantity: Box::new(quantity),
            initial: Vec::new(),
            previous: Vec::new(),
            worst: None,
            report: LawReport::unchecked(name, law.name()),
        }
    }

    /// Records one check: `dev` the worst deviation over `items` compared entries (`None` when
    /// nothing was compared), `scale` the quantity's size.
    fn record(&mut self, dev: Option<S>, scale: Option<S>, items: usize, step: usize, time: &S) {
        let Some(dev) = dev else { return };
        let r = &mut self.report;
        let first = r.checks == 0;
        r.checks += 1;
        r.items += items;
        r.exact_zero = (first || r.exact_zero) && dev.is_zero();
        let tf = time.to_f64();
        r.series.push((tf, dev.to_f64()));
        r.series_text.push((decimal::text(time), decimal::text(&dev)));
        let bad = |what: &str, x: &S| format!("{what} {x} at step {step} (t = {})", decimal::text(time));
        if r.non_finite.is_none() {
            if !dev.is_finite() {
                r.non_finite = Some(bad("deviation", &dev));
            } else if let Some(s) = scale.as_ref().filter(|s| !s.is_finite()) {
                r.non_finite = Some(bad("measured value of size", s));
            }
        }
        let scale = scale.filter(|s| s.is_finite() && !s.is_zero()).unwrap_or_else(|| dev.one_like());
        // NaN-propagating: a non-finite deviation always becomes the worst and stays so.
        let worse = match &self.worst {
            None => true,
            Some(w) if !w.is_finite() => false,
            Some(w) => !dev.is_finite() || dev > *w,
        };
        if worse {
            r.worst_abs = dev.to_f64();
            r.worst_abs_text = decimal::text(&dev);
            r.worst_rel = (dev.clone() / scale.clone()).to_f64();
            r.scale = scale.to_f64();
            r.at_step = step;
            r.at_time = tf;
            self.worst = Some(dev);
        }
    }

    /// The report so far.
    pub fn report(&self) -> &LawReport {
        &self.report
    }
}

/// The largest absolute entry over all matrices and the number of entries, NaN-propagating: the
/// first non-finite entry is returned as is (`f64::max` and a plain `>` fold would skip a NaN).
/// `None` when there are no entries.
pub fn worst_entry<S: Scalar>(ms: &[Mat<S>]) -> (Option<S>, usize) {
    let mut best: Option<S> = None;
    let mut n = 0;
    for x in ms.iter().flat_map(|m| m.as_slice()) {
        n += 1;
        let a = x.abs();
        if !a.is_finite() {
            return (Some(a), n);
        }
        if best.as_ref().is_none_or(|b| a > *b) {
            best = Some(a);
        }
    }
    (best, n)
}

fn max_abs_all<S: Scalar>(ms: &[Mat<S>]) -> Option<S> {
    worst_entry(ms).0
}

/// Worst entry of `a − b` and the number of entries compared; a shape mismatch (a law predicting
/// a different number of blocks) compares nothing and is reported as NaN.
fn max_abs_diff<S: Scalar>(a: &[Mat<S>], b: &[Mat<S>]) -> (Option<S>, usize) {
    if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.shape() != y.shape()) {
        let nan = a.iter().chain(b).flat_map(|m| m.as_slice()).next().map(|x| x.from_f64_like(f64::NAN));
        return (nan, 0);
    }
    let d: Vec<Mat<S>> = a.iter().zip(b).map(|(x, y)| x.sub(y)).collect();
    worst_entry(&d)
}

/// A set of tracked quantities, fed by runs and solvers.
pub struct Monitor<S: Scalar> {
    /// The tracked quantities.
    pub tracked: Vec<Tracked<S>>,
    /// The energy identity of gradient flow, when tracked ([`Monitor::track_energy`]).
    energy: Option<Tracked<S>>,
    /// Discrete runs check the laws after every this-many steps ([`Monitor::check_every`]).
    every: usize,
}

impl<S: Scalar> Default for Monitor<S> {
    fn default() -> Self {
        Monitor { tracked: Vec::new(), energy: None, every: 1 }
    }
}

impl<S: Scalar> Monitor<S> {
    /// An empty monitor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the laws after steps `n, 2n, 3n, …` of a discrete run only (`n ≥ 1`; 1, the
    /// default, is every step). Drift laws compare a step's result with the prediction from the
    /// state before that step, so any subset of steps is a valid check; a law that holds at
    /// every step holds at the checked ones, and the reports count only those.
    pub fn check_every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// Adds a quantity with its law.
    pub fn track(mut self, quantity: impl Quantity<S> + 'static, law: Law<S>) -> Self {
        self.tracked.push(Tracked::new(quantity, law));
        self
    }

    /// Also checks the energy identity of gradient flow,
    /// $L(\theta(t)) + \int_0^t \|\dot\theta\|^2\,ds = L(\theta(0))$, with the integral accumulated by
    /// the flow solver's own quadrature (flows only: discrete runs ignore it). Its report comes
    /// after those of the tracked quantities, scaled by $|L(\theta(0))|$.
    pub fn track_energy(mut self) -> Self {
        let mut t = Tracked::new(LossValue, Law::Conserved);
        t.report.quantity = "energy".into();
        t.report.law = "L(t) + int_0^t |dtheta/dt|^2 ds = L(0)".into();
        self.energy = Some(t);
        self
    }

    /// Whether the energy identity is tracked.
    pub fn tracks_energy(&self) -> bool {
        self.energy.is_some()
    }

    /// Checks the energy identity at time `t` given `integral` $= \int_0^t\|\dot\theta\|^2ds$.
    pub fn at_time_energy(&mut self, model: &Model<S>, p: &Params<S>, integral: &S, k: usize, t: &S) {
        if let Some(tr) = &mut self.energy {
            let l0 = tr.initial[0].get(0, 0).clone();
            let dev = (model.loss(p) + integral.clone() - l0.clone()).abs();
            tr.record(Some(dev), Some(l0.abs()), 1, k, t);
        }
    }

    /// Records initial values.
    pub fn start(&mut self, model: &Model<S>, p: &Params<S>) {
        for t in self.tracked.iter_mut().chain(self.energy.as_mut()) {
            t.initial = t.quantity.eval(model, p);
            t.previous = t.initial.clone();
        }
    }

    /// Checks every law after a discrete step (`k` steps done, time `t`).
    pub fn after_step(&mut self, model: &Model<S>, rec: &StepRecord<S>, p: &Params<S>, k: usize, t: &S) {
        if k % self.every != 0 {
            return;
        }
        for tr in &mut self.tracked {
            let now = tr.quantity.eval(model, p);
            match &tr.law {
                Law::ExactDrift { f, .. } => {
                    let pred = f(model, rec);
                    let (dev, items) = max_abs_diff(&now, &pred);
                    let scale = max_abs_all(&now);
                    tr.record(dev, scale, items, k, t);
                }
                _ => check_time_law(tr, &now, k, t),
            }
            tr.previous = now;
        }
    }

    /// Checks the laws that depend only on time (for flows, at saved times; drift laws are skipped).
    pub fn at_time(&mut self, model: &Model<S>, p: &Params<S>, k: usize, t: &S) {
        for tr in &mut self.tracked {
            if matches!(tr.law, Law::ExactDrift { .. }) {
                continue;
            }
            let now = tr.quantity.eval(model, p);
            check_time_law(tr, &now, k, t);
            tr.previous = now;
        }
    }

    /// Reports, one per tracked quantity.
    pub fn reports(&self) -> Vec<LawReport> {
        self.tracked.iter().chain(self.energy.as_ref()).map(|t| t.report.clone()).collect()
    }
}

fn check_time_law<S: Scalar>(tr: &mut Tracked<S>, now: &[Mat<S>], k: usize, t: &S) {
    let (dev, items, scale) = match &tr.law {
        Law::Conserved => {
            let (d, n) = max_abs_diff(now, &tr.initial);
            (d, n, max_abs_all(&tr.initial))
        }
        Law::NonIncreasing => {
            let (a, b) = (now[0].get(0, 0), tr.previous[0].get(0, 0));
            let inc = a.clone() - b.clone();
            // A NaN increase is neither > 0 nor <= 0: keep it so it fails.
            let dev = if inc.is_finite() && inc <= inc.zero_like() { inc.zero_like() } else { inc };
            (Some(dev), 1, max_abs_all(&tr.initial))
        }
        Law::Predicted { f, .. } => {
            let pred = f(t, &tr.initial);
            let (d, n) = max_abs_diff(now, &pred);
            (d, n, max_abs_all(&tr.initial))
        }
        Law::ExactDrift { .. } => return,
    };
    tr.record(dev, scale, items, k, t);
}
