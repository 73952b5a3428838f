//! Exact per-step identities of discrete optimizers (`gd-drift-exact`, `diagonal-drift-exact`,
//! `sam-drift-exact`): checked with zero tolerance in rational arithmetic over random cases, then
//! in MPFR and `f64`, where the deviation is the rounding error of the precision.

use super::{Check, Ctx, Experiment, Summary};
use crate::error::Result;
use crate::invariants::{Balancedness, DiagonalBalance, FactorBalance, Law, Monitor, Quantity};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series};
use crate::run::{run, RunOptions};
use crate::scalar::{Mp, Scalar, Q};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "gd-drift-exact",
            about:
                "GD/SGD with weight decay move balancedness by exactly (1-eta*lambda)^2 C + eta^2(...), zero error in Q",
            run: gd_drift_exact,
        },
        Experiment {
            name: "diagonal-drift-exact",
            about: "GD on diagonal nets multiplies u^2-v^2 by 1-eta^2 g^2 (u*v by 1-4eta^2 g^2), zero error in Q",
            run: diagonal_drift_exact,
        },
        Experiment {
            name: "sam-drift-exact",
            about: "SAM/USAM change B = (|X|^2-|Y|^2)/2 by the exact two-term formula; OP under GD: B(1-eta^2 r^2)",
            run: sam_drift_exact,
        },
    ]
}

fn small_q(rng: &mut ChaCha8Rng) -> Q {
    Q::from((rng.random_range(-4i64..=4), rng.random_range(2i64..=5)))
}

fn qmat(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Mat<Q> {
    Mat::from_fn(rows, cols, |_, _| small_q(rng))
}

/// One random case of a family: model, initial point and rational hyperparameters.
struct Case {
    model: Model<Q>,
    p0: Params<Q>,
    method: Method,
    eta: Q,
    aux: Q,
    batch: Option<(usize, u64)>,
}

fn cast_params<S: Scalar>(p: &Params<Q>, proto: &S) -> Params<S> {
    Params::new(p.blocks.iter().map(|m| m.map(|x| proto.from_q_like(x))).collect())
}

/// The law of a family, built in the run's number type from rational hyperparameters.
type LawFor<S> = fn(&S, &S) -> Law<S>;

/// Runs `case` for `steps` steps in the number type of `proto`, tracking `quantity` against
/// `law(η, aux)`; returns the law's report (worst deviation, exact-zero flag, series).
fn run_case<S: Scalar, Qt: Quantity<S> + 'static>(
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
fn tame(case: &Case, steps: usize) -> Result<Case> {
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
struct LossValueProbe;

impl<S: Scalar> Quantity<S> for LossValueProbe {
    fn name(&self) -> String {
        "loss".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![Mat::from_vec(1, 1, vec![model.loss(p)])]
    }
}

/// Zero-tolerance checks over `cases` in rationals, the negative control, and the same law in
/// MPFR and f64 (first case, `long` steps), with a figure of the per-step deviation.
#[allow(clippy::too_many_arguments)]
fn exact_family<Qt>(
    ctx: &Ctx,
    s: &mut Summary,
    tag: &str,
    cases: &[Case],
    quantity: fn() -> Qt,
    law_q: LawFor<Q>,
    wrong_q: LawFor<Q>,
    law_mp: LawFor<Mp>,
    law_f: LawFor<f64>,
) -> Result<Figure>
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
    s.check(Check::at_most(
        format!("{tag}-exact-in-rationals"),
        format!(
            "the identity holds with zero error in exact rational arithmetic in every one of {} random cases \
             ({steps} steps each, no run stopped early); observed = number of cases with a nonzero deviation",
            cases.len()
        ),
        nonzero as f64,
        0.0,
    ));
    s.check(Check::at_least(
        format!("{tag}-negative-control"),
        "a deliberately wrong variant of the formula is rejected (nonzero deviation) in at least 90% of the cases; \
         observed = fraction rejected (a case can pass by accident only when the wrong term vanishes there)",
        detected as f64 / cases.len() as f64,
        0.9,
    ));
    let long = if ctx.quick { 40 } else { 200 };
    let mut fig = Figure::new(
        format!("{tag}_deviation"),
        "Deviation from the exact per-step law",
        "time t = kη",
        "|observed − predicted| / scale",
    )
    .log_y();
    let case = tame(representative(cases, &quantity()), long)?;
    s.notes.push(format!("{tag}: the f64/MPFR runs take {long} steps of eta = {}", case.eta));
    let (f, _) = run_case(&case, &0.0f64, long, quantity(), law_f)?;
    s.check(Check::at_most(
        format!("{tag}-f64-rounding"),
        "in f64 the deviation is rounding error: a few hundred operations of relative error 1.1e-16 on O(1) \
         values, so 1e-12 leaves a wide margin",
        f.worst_rel,
        1e-12,
    ));
    fig = fig.with(Series::points("f64", f.series.clone()));
    for bits in [128u32, 256] {
        let (r, _) = run_case(&case, &Mp::new(bits), long, quantity(), law_mp)?;
        let tol = 2f64.powi(20 - bits as i32);
        s.check(Check::at_most(
            format!("{tag}-mpfr{bits}-rounding"),
            format!("at {bits} bits the deviation is rounding error, below 2^(20-{bits}) (2^20 margin for the operations per step)"),
            r.worst_rel,
            tol,
        ));
        fig = fig.with(Series::points(format!("MPFR {bits} bits"), r.series.clone()));
    }
    s.notes.push(format!(
        "{tag}: rational arithmetic gives exactly zero deviation (not drawn on the log axis); f64 and MPFR show \
         their rounding floors"
    ));
    Ok(fig)
}

fn n_cases(ctx: &Ctx) -> usize {
    if ctx.quick {
        12
    } else {
        60
    }
}

fn deep_cases(n: usize) -> Vec<Case> {
    (0..n as u64)
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
            let depth = rng.random_range(2..=4);
            let widths: Vec<usize> = (0..=depth).map(|_| rng.random_range(1..=3)).collect();
            let samples = rng.random_range(2..=4);
            let x = qmat(widths[0], samples, &mut rng);
            let y = qmat(widths[depth], samples, &mut rng);
            let lam = Q::from((rng.random_range(0..=2), rng.random_range(4..=10)));
            let model =
                Model::new(Arch::DeepLinear { widths: widths.clone() }, Loss::regression(x, y).expect("shapes"))
                    .and_then(|m| m.with_weight_decay(lam))
                    .expect("valid model");
            let p0 = Params::new(widths.windows(2).map(|w| qmat(w[1], w[0], &mut rng)).collect());
            let eta = Q::from((1, rng.random_range(5..=20)));
            // Every other case is SGD with mini-batches of one sample fewer than the data.
            let batch = (seed % 2 == 1).then(|| (samples - 1, seed));
            Case { model, p0, method: Method::Gd { eta: 0.1 }, eta, aux: Q::new(), batch }
        })
        .collect()
}

fn gd_drift_exact(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "gd-drift-exact",
        "Gradient descent and SGD with weight decay on deep linear networks of random depth (1-4) and widths (1-3): \
         C_j(k+1) = (1 - eta*lambda)^2 C_j(k) + eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T), A_j = dE/dW_j.",
    );
    let cases = deep_cases(n_cases(ctx));
    let fig = exact_family(
        ctx,
        &mut s,
        "gd",
        &cases,
        || Balancedness,
        |e, _| Law::gd_balancedness(e.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, _| Law::gd_balancedness(e.clone() * Q::from((11, 10))),
        |e, _| Law::gd_balancedness(e.clone()),
        |e, _| Law::gd_balancedness(*e),
    )?;
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

fn diagonal_cases(n: usize) -> Vec<Case> {
    (0..n as u64)
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(2000 + seed);
            let d = rng.random_range(1..=5);
            let samples = rng.random_range(2..=4);
            let arch = if seed % 2 == 0 { Arch::DiagonalUV { d } } else { Arch::DiagonalSq { d } };
            let model = Model::new(
                arch,
                Loss::regression(qmat(d, samples, &mut rng), qmat(1, samples, &mut rng)).expect("shapes"),
            )
            .expect("valid model");
            let p0 = Params::new(vec![qmat(1, d, &mut rng), qmat(1, d, &mut rng)]);
            let eta = Q::from((1, rng.random_range(4..=16)));
            let batch = (seed % 3 == 2).then(|| (samples - 1, seed));
            Case { model, p0, method: Method::Gd { eta: 0.1 }, eta, aux: Q::new(), batch }
        })
        .collect()
}

fn diagonal_drift_exact(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "diagonal-drift-exact",
        "Gradient descent (and SGD) on diagonal networks: u_i^2 - v_i^2 is multiplied by exactly 1 - eta^2 g_i^2 \
         for beta = u*v, and u_i v_i by 1 - 4 eta^2 g_i^2 for beta = u^2 - v^2, g = dE/dbeta.",
    );
    let cases = diagonal_cases(n_cases(ctx));
    let fig = exact_family(
        ctx,
        &mut s,
        "diagonal",
        &cases,
        || DiagonalBalance,
        |e, _| Law::gd_diagonal(e.clone()),
        |e, _| Law::gd_diagonal(e.clone() * Q::from((11, 10))),
        |e, _| Law::gd_diagonal(e.clone()),
        |e, _| Law::gd_diagonal(*e),
    )?;
    ctx.save_figure(&fig, &mut s)?;
    // Conservation would be the flow's law: GD breaks it by a visible amount.
    let probe = tame(representative(&cases, &DiagonalBalance), 40)?;
    let (r, _) = run_case(&probe, &0.0f64, 40, DiagonalBalance, |_, _| Law::Conserved)?;
    s.check(Check::at_least(
        "diagonal-gd-breaks-conservation",
        "GD does not conserve the flow's invariant: over 40 steps the relative change of u^2-v^2 is far above \
         rounding (required >= 1e-8)",
        r.worst_rel,
        1e-8,
    ));
    Ok(s)
}

fn factor_cases(n: usize) -> Vec<Case> {
    (0..n as u64)
        .map(|seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(3000 + seed);
            let (arch, target) = if seed % 3 == 2 {
                let d = rng.random_range(1..=4);
                (Arch::FactorOp { d }, qmat(1, 1, &mut rng))
            } else {
                let (d1, d2, r) = (rng.random_range(1..=3), rng.random_range(1..=3), rng.random_range(1..=2));
                (Arch::Factor { d1, d2, r }, qmat(d1, d2, &mut rng))
            };
            let shapes = arch.param_shapes();
            let model = Model::new(arch, Loss::target(target)).expect("valid model");
            let p0 = Params::new(shapes.iter().map(|&(r, c)| qmat(r, c, &mut rng)).collect());
            let eta = Q::from((1, rng.random_range(10..=30)));
            let rho = Q::from((1, rng.random_range(5..=20)));
            // USAM is a polynomial map: exact in rationals. GD is the case rho = 0.
            let method = if seed % 4 == 3 { Method::Gd { eta: 0.1 } } else { Method::Usam { eta: 0.1, rho: 0.1 } };
            let aux = if matches!(method, Method::Gd { .. }) { Q::new() } else { rho };
            Case { model, p0, method, eta, aux, batch: None }
        })
        .collect()
}

fn sam_drift_exact(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "sam-drift-exact",
        "Two-factor problems f(XY^T) and f(x^T y): one SAM-type step with ascent factor u changes B = (|X|^2 - |Y|^2)/2 \
         by exactly eta*rho*u*(<g_X,h_X> - <g_Y,h_Y>) + eta^2/2 (|h_X|^2 - |h_Y|^2); exact in Q for USAM (u = 1) and GD, \
         to rounding in MPFR for SAM (u = 1/|g| needs a square root).",
    );
    let cases = factor_cases(n_cases(ctx));
    let fig = exact_family(
        ctx,
        &mut s,
        "usam",
        &cases,
        || FactorBalance,
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        // Wrong: the step size 10% too large in the law.
        |e, r| Law::sam_factor(e.clone() * Q::from((11, 10)), r.clone()),
        |e, r| Law::sam_factor(e.clone(), r.clone()),
        |e, r| Law::sam_factor(*e, *r),
    )?;
    ctx.save_figure(&fig, &mut s)?;

    // SAM with the normalized ascent: the identity at 256 bits, and |B| over time against SGD.
    let case = &tame(representative(&cases, &FactorBalance), 100)?;
    let sam = Case { method: Method::Sam { eta: 0.1, rho: 0.1 }, ..clone_case(case) };
    let (r, _) = run_case(&sam, &Mp::new(256), 100, FactorBalance, |e, r| Law::sam_factor(e.clone(), r.clone()))?;
    s.check(Check::at_most(
        "sam-mpfr256-rounding",
        "SAM (u = 1/|g|) obeys the identity to rounding at 256 bits: below 2^(20-256)",
        r.worst_rel,
        2f64.powi(-236),
    ));
    let mut fig =
        Figure::new("sam_vs_gd_balance", "Balance B = (|X|² − |Y|²)/2 under SAM, USAM and GD", "step k", "|B_k|")
            .log_y();
    for (label, method) in [
        ("GD", Method::Gd { eta: 0.05 }),
        ("SAM, ρ = 0.1", Method::Sam { eta: 0.05, rho: 0.1 }),
        ("USAM, ρ = 0.1", Method::Usam { eta: 0.05, rho: 0.1 }),
    ] {
        let model = case.model.map(|x| x.to_f64());
        let p0 = cast_params(&case.p0, &0.0f64);
        let mut opt = Optimizer::new(method, &0.0)?;
        let mut mon = Monitor::new().track(FactorBalance, Law::Conserved);
        let traj = run(&model, &mut opt, &p0, &RunOptions::steps(if ctx.quick { 200 } else { 2000 }), &mut mon)?;
        let b: Vec<(f64, f64)> = traj
            .states
            .iter()
            .zip(&traj.steps)
            .map(|(p, &k)| (k as f64, FactorBalance.eval(&model, p)[0].get(0, 0).abs()))
            .collect();
        fig = fig.with(Series::line(label, b));
    }
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

/// The case whose tracked quantity is largest at the start (a balanced start would make the
/// long-run checks trivial).
fn representative<'a>(cases: &'a [Case], quantity: &impl Quantity<Q>) -> &'a Case {
    let size = |c: &Case| {
        quantity.eval(&c.model, &c.p0).iter().filter_map(|m| m.max_abs()).map(|x| x.to_f64()).fold(0.0, f64::max)
    };
    cases.iter().max_by(|a, b| size(a).total_cmp(&size(b))).expect("at least one case")
}

fn clone_case(c: &Case) -> Case {
    Case {
        model: c.model.clone(),
        p0: c.p0.clone(),
        method: c.method.clone(),
        eta: c.eta.clone(),
        aux: c.aux.clone(),
        batch: c.batch,
    }
}
