//! What the exact-drift experiments share: random rational cases, runs of one case in a number
//! type, and one family of checks (zero error in `Q`, a negative control, rounding in MPFR and `f64`).

use crate::error::Result;
use crate::experiments::Check;
use crate::invariants::{Law, Monitor, Quantity};
use crate::mat::Mat;
use crate::model::Model;
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::run::{run, RunOptions};
use crate::scalar::{Mp, Scalar, Q};

/// One random case of a family: model, initial point and rational hyperparameters.
pub(super) struct Case {
    pub(super) model: Model<Q>,
    pub(super) p0: Params<Q>,
    pub(super) method: Method,
    pub(super) eta: Q,
    pub(super) aux: Q,
    pub(super) batch: Option<(usize, u64)>,
}

pub(super) fn cast_params<S: Scalar>(p: &Params<Q>, proto: &S) -> Params<S> {
    Params::new(p.blocks.iter().map(|m| m.map(|x| proto.from_q_like(x))).collect())
}

/// The law of a family, built in the run's number type from rational hyperparameters.
pub(super) type LawFor<S> = fn(&S, &S) -> Law<S>;

/// Runs `case` for `steps` steps in the number type of `proto`, tracking `quantity` against
/// `law(η, aux)`; returns the law's report (worst deviation, exact-zero flag, series).
pub(super) fn run_case<S: Scalar, Qt: Quantity<S> + 'static>(
    case: &Case,
    proto: &S,
    steps: usize,
    quantity: Qt,
    law: LawFor<S>,
) -> Result<(crate::invariants::LawReport, bool)> {
    let model = case.model.map(|x| proto.from_q_like(x));
    let p0 = cast_params(&case.p0, proto);
    let (eta, aux) = (proto.from_q_like(&case.eta), proto.from_q_like(&case.aux));
    let mut opt = Optimizer::exact(case.method.with_values(eta.clone(), aux.clone()))?;
    if let Some((size, seed)) = case.batch {
        opt = opt.with_batches(size, seed);
    }
    let mut mon = Monitor::new().track(quantity, law(&eta, &aux));
    // The rational runs are never stopped for size: the identities are algebraic and hold however
    // large the iterates grow. Floating-point runs stop when they diverge.
    let divergence = if proto.precision().is_none() { f64::INFINITY } else { 1e30 };
    let traj = run(&model, &mut opt, &p0, &RunOptions { divergence, ..RunOptions::steps(steps) }, &mut mon)?;
    Ok((traj.laws[0].clone(), traj.outcome.is_done()))
}

/// `case` with its step size halved until a run of `steps` steps in `f64` finishes without
/// diverging (random cases can have a large gradient Lipschitz constant).
pub(super) fn tame(case: &Case, steps: usize) -> Result<Case> {
    let mut c = clone_case(case);
    for _ in 0..20 {
        let (_, done) = run_case(&c, &0.0f64, steps, LossValueProbe, |_, _| Law::NonIncreasing)?;
        if done {
            return Ok(c);
        }
        c.eta /= 2;
    }
    Err(crate::error::Error::Other("no stable step size found for the long run".into()))
}

/// The loss as a quantity, used only to probe whether a run finishes.
pub(super) struct LossValueProbe;

impl<S: Scalar> Quantity<S> for LossValueProbe {
    fn name(&self) -> String {
        "loss".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![Mat::from_vec(1, 1, vec![model.loss(p)])]
    }
}

/// $(t, \text{value})$ points.
pub type Curve = Vec<(f64, f64)>;

/// What one family's runs measured: the rational cases, the negative control, and the same law in
/// MPFR and `f64` along a longer run of one case.
#[derive(Clone, Debug)]
pub struct Family {
    /// Check-name prefix (`gd`, `diagonal`, `usam`).
    pub tag: &'static str,
    /// Random rational cases run.
    pub cases: usize,
    /// Steps of each rational run.
    pub steps: usize,
    /// Cases whose deviation was not exactly zero (or whose run stopped early).
    pub nonzero: usize,
    /// Cases in which the deliberately wrong law was rejected.
    pub detected: usize,
    /// Steps of the `f64`/MPFR runs.
    pub long: usize,
    /// Their step size, as an exact rational in text.
    pub eta: String,
    /// Worst relative deviation in `f64`, and its series.
    pub f64_run: (f64, Vec<(f64, f64)>),
    /// Per precision (128 and 256 bits): worst relative deviation and series.
    pub mpfr: Vec<(u32, f64, Curve)>,
}

/// Runs the family: the law in rationals over `cases` (3 steps each) and a wrong law as the
/// negative control, then the law in MPFR and `f64` on the representative case.
#[allow(clippy::too_many_arguments)]
pub(super) fn exact_family<Qt>(
    quick: bool,
    tag: &'static str,
    cases: &[Case],
    quantity: fn() -> Qt,
    law_q: LawFor<Q>,
    wrong_q: LawFor<Q>,
    law_mp: LawFor<Mp>,
    law_f: LawFor<f64>,
) -> Result<Family>
where
    Qt: Quantity<Q> + Quantity<Mp> + Quantity<f64> + 'static,
{
    let steps = 3;
    let mut nonzero = 0usize;
    let mut detected = 0usize;
    for c in cases {
        let (r, _) = run_case(c, &Q::new(), steps, quantity(), law_q)?;
        if !r.exact_zero || r.checks != steps {
            nonzero += 1;
        }
        if !run_case(c, &Q::new(), steps, quantity(), wrong_q)?.0.exact_zero {
            detected += 1;
        }
    }
    let long = if quick { 40 } else { 200 };
    let case = tame(representative(cases, &quantity()), long)?;
    let (f, _) = run_case(&case, &0.0f64, long, quantity(), law_f)?;
    let mut mpfr = Vec::new();
    for bits in [128u32, 256] {
        let (r, _) = run_case(&case, &Mp::new(bits), long, quantity(), law_mp)?;
        mpfr.push((bits, r.worst_rel, r.series.clone()));
    }
    Ok(Family {
        tag,
        cases: cases.len(),
        steps,
        nonzero,
        detected,
        long,
        eta: case.eta.to_string(),
        f64_run: (f.worst_rel, f.series.clone()),
        mpfr,
    })
}

/// Zero error in every rational case, the negative control, and the rounding floors.
pub(super) fn family_checks(m: &Family) -> Vec<Check> {
    let (tag, steps) = (m.tag, m.steps);
    let mut v = vec![
        Check::at_most(
            format!("{tag}-exact-in-rationals"),
            format!(
                "the identity holds with zero error in exact rational arithmetic in every one of {} random cases \
                 ({steps} steps each, no run stopped early); observed = number of cases with a nonzero deviation",
                m.cases
            ),
            m.nonzero as f64,
            0.0,
        ),
        Check::at_least(
            format!("{tag}-negative-control"),
            "a deliberately wrong variant of the formula is rejected (nonzero deviation) in at least 90% of the cases; \
             observed = fraction rejected (a case can pass by accident only when the wrong term vanishes there)",
            m.detected as f64 / m.cases as f64,
            0.9,
        ),
        Check::at_most(
            format!("{tag}-f64-rounding"),
            "in f64 the deviation is rounding error: a few hundred operations of relative error 1.1e-16 on O(1) \
             values, so 1e-12 leaves a wide margin",
            m.f64_run.0,
            1e-12,
        ),
    ];
    for (bits, worst, _) in &m.mpfr {
        v.push(Check::at_most(
            format!("{tag}-mpfr{bits}-rounding"),
            format!("at {bits} bits the deviation is rounding error, below 2^(20-{bits}) (2^20 margin for the operations per step)"),
            *worst,
            2f64.powi(20 - *bits as i32),
        ));
    }
    v
}

/// The long runs' step, and what the figure shows.
pub(super) fn family_notes(m: &Family) -> Vec<String> {
    let tag = m.tag;
    vec![
        format!("{tag}: the f64/MPFR runs take {} steps of eta = {}", m.long, m.eta),
        format!(
            "{tag}: rational arithmetic gives exactly zero deviation (not drawn on the log axis); f64 and MPFR show \
             their rounding floors"
        ),
    ]
}

/// The per-step deviation in `f64` and MPFR.
pub(super) fn family_figure(m: &Family) -> Figure {
    let mut fig = Figure::new(
        format!("{}_deviation", m.tag),
        "Deviation from the exact per-step law",
        "time t = kη",
        "|observed − predicted| / scale",
    )
    .log_y()
    .with(Series::points("f64", m.f64_run.1.clone()));
    for (bits, _, series) in &m.mpfr {
        fig = fig.with(Series::points(format!("MPFR {bits} bits"), series.clone()));
    }
    fig
}

/// Random cases per family: 12 in quick mode, 60 otherwise.
pub(super) fn n_cases(quick: bool) -> usize {
    if quick {
        12
    } else {
        60
    }
}

/// The case whose tracked quantity is largest at the start (a balanced start would make the
/// long-run checks trivial).
pub(super) fn representative<'a>(cases: &'a [Case], quantity: &impl Quantity<Q>) -> &'a Case {
    let size = |c: &Case| {
        quantity.eval(&c.model, &c.p0).iter().filter_map(|m| m.max_abs()).map(|x| x.to_f64()).fold(0.0, f64::max)
    };
    cases.iter().max_by(|a, b| size(a).total_cmp(&size(b))).expect("at least one case")
}

pub(super) fn clone_case(c: &Case) -> Case {
    Case {
        model: c.model.clone(),
        p0: c.p0.clone(),
        method: c.method.clone(),
        eta: c.eta.clone(),
        aux: c.aux.clone(),
        batch: c.batch,
    }
}
