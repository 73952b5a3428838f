//! Runners that check a claim along a run, and the [`Verdict`] they return.
//!
//! A claim is either a [`Quantity`] with a [`Law`] (checked by the library's [`Monitor`], as
//! `linflow check` does) or a closure: residuals per step ([`check_steps`]) or per saved state
//! ([`check_states`]). Every runner takes a prototype of the number type: `&Q::new()` for exact
//! rationals with zero tolerance, `&Mp::new(bits)` for MPFR at `bits` bits.
//!
//! A claim that was checked on nothing (a balancedness law on a depth-1 network, a drift law
//! along a flow, a closure that returned no residual) **fails**: a verdict with zero checks is
//! never a pass.

use super::problem::{Dynamics, Problem};
use crate::flow::{solve, GradientFlow, SolveOptions};
use crate::invariants::{Law, LawReport, Monitor, Quantity};
use crate::mat::Mat;
use crate::model::Model;
use crate::optim::StepRecord;
use crate::params::Params;
use crate::run::{run, RunOptions};
use crate::scalar::Scalar;
use crate::trajectory::{Outcome, Trajectory};
use proptest::test_runner::TestCaseError;
use std::fmt;
use std::marker::PhantomData;

/// The result of checking one claim along one run of one problem.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The claim (quantity and law, or the closure's name).
    pub claim: String,
    /// The architecture.
    pub arch: String,
    /// The dynamics.
    pub dynamics: String,
    /// The number type (`rational`, `mpfr256`, …).
    pub precision: String,
    /// Steps (or save times of a flow) requested.
    pub steps: usize,
    /// Number of values checked (0 means the claim examined nothing, which fails).
    pub checks: usize,
    /// Largest absolute deviation.
    pub worst_abs: f64,
    /// Largest deviation relative to the claim's scale (equal to `worst_abs` for closures).
    pub worst_rel: f64,
    /// Step (or save index) of the worst deviation.
    pub at_step: usize,
    /// Whether every deviation was exactly zero.
    pub exact_zero: bool,
    /// The tolerance on `worst_rel` (0: every deviation must be exactly zero).
    pub tolerance: f64,
    /// How the run ended (a run stopped early fails the claim).
    pub outcome: Outcome,
    /// An error that prevented the run (it fails the claim).
    pub error: Option<String>,
    /// The problem, printed with exact fractions: the counter-example when the claim fails.
    pub problem: String,
}

impl Verdict {
    fn new(claim: String, problem: &Problem, dynamics: &Dynamics, precision: String, steps: usize, tol: f64) -> Self {
        Verdict {
            claim,
            arch: problem.model.arch.name(),
            dynamics: dynamics.name(),
            precision,
            steps,
            checks: 0,
            worst_abs: 0.0,
            worst_rel: 0.0,
            at_step: 0,
            exact_zero: true,
            tolerance: tol,
            outcome: Outcome::Done,
            error: None,
            problem: format!("{problem:?}"),
        }
    }

    fn with_report(mut self, r: &LawReport, outcome: &Outcome) -> Self {
        self.checks = r.checks;
        self.worst_abs = r.worst_abs;
        self.worst_rel = r.worst_rel;
        self.at_step = r.at_step;
        self.exact_zero = r.exact_zero;
        self.outcome = outcome.clone();
        self
    }

    fn failed_to_run(mut self, e: impl fmt::Display) -> Self {
        self.error = Some(e.to_string());
        self
    }

    /// Whether the claim held: the run finished, at least one value was checked, and every
    /// deviation was exactly zero (tolerance 0) or the worst relative one is within the tolerance.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.outcome.is_done()
            && self.checks > 0
            && if self.tolerance == 0.0 { self.exact_zero } else { self.worst_rel <= self.tolerance }
    }

    /// Why the claim failed (`None` if it held).
    pub fn failure(&self) -> Option<String> {
        (!self.passed()).then(|| self.to_string())
    }

    /// Panics with the full report unless the claim held.
    #[track_caller]
    pub fn assert_holds(&self) {
        if let Some(msg) = self.failure() {
            panic!("{msg}");
        }
    }

    /// Panics unless the claim failed on a run that finished and checked something: the
    /// assertion of a negative control (a wrong claim must be rejected, not skipped).
    #[track_caller]
    pub fn assert_rejected(&self) {
        if !self.rejected() {
            panic!("expected the claim to be rejected, but: {self}");
        }
    }

    /// Whether the claim was rejected by a nonzero deviation on a run that finished with at least
    /// one check (as opposed to failing for lack of checks or an error).
    pub fn rejected(&self) -> bool {
        self.error.is_none() && self.outcome.is_done() && self.checks > 0 && !self.passed()
    }

    /// The claim as a proptest assertion: `verdict.prop()?` inside `proptest!` fails the case
    /// with the full report, and proptest shrinks the input.
    pub fn prop(&self) -> Result<(), TestCaseError> {
        match self.failure() {
            Some(msg) => Err(TestCaseError::fail(msg)),
            None => Ok(()),
        }
    }

    /// A negative control as a proptest assertion (see [`Verdict::assert_rejected`]).
    pub fn prop_rejected(&self) -> Result<(), TestCaseError> {
        if self.rejected() {
            Ok(())
        } else {
            Err(TestCaseError::fail(format!("expected the claim to be rejected, but: {self}")))
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.passed() { "holds" } else { "FAILS" };
        write!(f, "claim `{}` {status} on {} under {} in {}", self.claim, self.arch, self.dynamics, self.precision)?;
        if let Some(e) = &self.error {
            write!(f, ": the run failed: {e}")?;
        } else if self.checks == 0 {
            write!(f, ": it was checked on zero values (nothing to check is not a pass)")?;
        } else {
            let worst = if self.exact_zero { "0 (exact)".to_string() } else { format!("{:.6e}", self.worst_abs) };
            write!(
                f,
                ": worst deviation {worst} (relative {:.3e}, tolerance {:e}) at step {} of {}; {} checks",
                self.worst_rel, self.tolerance, self.at_step, self.steps, self.checks
            )?;
            if !self.outcome.is_done() {
                write!(f, "; the run stopped early: {:?}", self.outcome)?;
            }
        }
        write!(f, "\n  case: {}", self.problem)
    }
}

/// A [`Quantity`] from a closure, for claims about quantities linflow does not ship.
pub struct FnQuantity<S, F> {
    name: String,
    f: F,
    _s: PhantomData<fn() -> S>,
}

/// Wraps `f(model, θ)` as a named [`Quantity`].
pub fn quantity<S: Scalar, F>(name: impl Into<String>, f: F) -> FnQuantity<S, F>
where
    F: Fn(&Model<S>, &Params<S>) -> Vec<Mat<S>> + Send + Sync,
{
    FnQuantity { name: name.into(), f, _s: PhantomData }
}

impl<S: Scalar, F> Quantity<S> for FnQuantity<S, F>
where
    F: Fn(&Model<S>, &Params<S>) -> Vec<Mat<S>> + Send + Sync,
{
    fn name(&self) -> String {
        self.name.clone()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        (self.f)(model, p)
    }
}

/// Runs `dynamics` for `steps` steps (for a flow: to `t1`, saving at `steps` equal times) in the
/// number type of `proto`, observed by `monitor`. Exact runs are never stopped for size (the
/// identities are algebraic); floating-point runs stop when the loss exceeds 1e30.
pub fn trajectory<S: Scalar>(
    problem: &Problem,
    proto: &S,
    dynamics: &Dynamics,
    steps: usize,
    monitor: &mut Monitor<S>,
) -> crate::error::Result<Trajectory<S>> {
    let (model, p0) = problem.cast(proto);
    let divergence = if proto.precision().is_none() { f64::INFINITY } else { 1e30 };
    match dynamics.optimizer(proto)? {
        Some(mut opt) => run(&model, &mut opt, &p0, &RunOptions { divergence, ..RunOptions::steps(steps) }, monitor),
        None => {
            let Dynamics::GradientFlow { t1, integrator } = dynamics else {
                unreachable!("only flows have no optimizer")
            };
            let n = steps.max(1);
            let opts = SolveOptions { t1: *t1, save_times: (1..=n).map(|k| t1 * k as f64 / n as f64).collect() };
            solve(&mut GradientFlow::new(&model), &model, &p0, integrator, &opts, monitor)
        }
    }
}

/// Checks `quantity` against `law` along `dynamics` from `problem`, in the number type of
/// `proto`, with relative tolerance `tol` (0: every deviation must be exactly zero, the setting
/// for rationals).
pub fn check<S: Scalar>(
    problem: &Problem,
    proto: &S,
    dynamics: &Dynamics,
    steps: usize,
    tol: f64,
    quantity: impl Quantity<S> + 'static,
    law: Law<S>,
) -> Verdict {
    let claim = format!("{}: {}", quantity.name(), law.name());
    let v = Verdict::new(claim, problem, dynamics, proto.kind_name(), steps, tol);
    let mut mon = Monitor::new().track(quantity, law);
    match trajectory(problem, proto, dynamics, steps, &mut mon) {
        Ok(t) => v.with_report(&t.laws[0], &t.outcome),
        Err(e) => v.failed_to_run(e),
    }
}

/// Checks a per-step claim given as a closure `claim(model, record, θ_{k+1})` returning residuals
/// (zero when the claim holds), along a discrete method. The claim holds when every residual is
/// exactly zero (`tol = 0`) or at most `tol` in absolute value.
pub fn check_steps<S: Scalar>(
    problem: &Problem,
    proto: &S,
    dynamics: &Dynamics,
    steps: usize,
    tol: f64,
    name: &str,
    claim: impl Fn(&Model<S>, &StepRecord<S>, &Params<S>) -> Vec<S>,
) -> Verdict {
    let mut v = Verdict::new(name.into(), problem, dynamics, proto.kind_name(), steps, tol);
    let (model, mut p) = problem.cast(proto);
    let mut opt = match dynamics.optimizer(proto) {
        Ok(Some(o)) => o,
        Ok(None) => return v.failed_to_run("a per-step claim needs a discrete method; use check_states for flows"),
        Err(e) => return v.failed_to_run(e),
    };
    if let Err(e) = model.check_params(&p) {
        return v.failed_to_run(e);
    }
    for k in 1..=steps {
        let rec = match opt.step(&model, &mut p) {
            Ok(r) => r,
            Err(e) => return v.failed_to_run(e),
        };
        if !p.is_finite() {
            v.outcome = Outcome::NonFinite { step: k, time: k as f64 };
            break;
        }
        residuals(&mut v, claim(&model, &rec, &p), k);
    }
    v
}

/// Checks a claim about each saved state, `claim(model, t, θ(t))` returning residuals, along any
/// dynamics (discrete steps or a flow's save times; the initial state included).
pub fn check_states<S: Scalar>(
    problem: &Problem,
    proto: &S,
    dynamics: &Dynamics,
    steps: usize,
    tol: f64,
    name: &str,
    claim: impl Fn(&Model<S>, f64, &Params<S>) -> Vec<S>,
) -> Verdict {
    let mut v = Verdict::new(name.into(), problem, dynamics, proto.kind_name(), steps, tol);
    let (model, _) = problem.cast(proto);
    match trajectory(problem, proto, dynamics, steps, &mut Monitor::new()) {
        Ok(t) => {
            v.outcome = t.outcome.clone();
            for (k, (time, p)) in t.times.iter().zip(&t.states).enumerate() {
                residuals(&mut v, claim(&model, time.to_f64(), p), k);
            }
            v
        }
        Err(e) => v.failed_to_run(e),
    }
}

fn residuals<S: Scalar>(v: &mut Verdict, res: Vec<S>, k: usize) {
    for r in res {
        let a = r.abs().to_f64();
        v.checks += 1;
        v.exact_zero &= r.is_zero();
        // NaN is worse than any number, and a NaN once seen stays.
        if v.checks == 1 || (!v.worst_abs.is_nan() && (a.is_nan() || a > v.worst_abs)) {
            v.worst_abs = a;
            v.worst_rel = a;
            v.at_step = k;
        }
    }
}
