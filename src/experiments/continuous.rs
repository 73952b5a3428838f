//! Continuous time: conservation laws of gradient flow shown to hold far beyond `f64` (to $10^{-60}$
//! at 256 bits), structure-preserving integration (Gauss–Legendre) against explicit Runge–Kutta,
//! the conservation error against the working precision, and fitted convergence orders.
//!
//! * `gf-conservation`: balancedness $C_j = W_{j+1}^\top W_{j+1} - W_jW_j^\top$ of a deep net with
//!   unequal widths, $u\odot u - v\odot v$ of a diagonal net $\beta = u\odot v$, and
//!   $B = \tfrac12(\|X\|^2 - \|Y\|^2)$ of a two-factor problem are constant along gradient flow;
//!   with weight decay $\lambda$ the moment map decays as $e^{-2\lambda t}\mu(0)$; the energy
//!   identity $L(t) + \int_0^t\|\nabla L\|^2 = L(0)$ holds.
//! * `precision-ladder`: Gauss–Legendre keeps quadratic invariants up to rounding only, so its
//!   conservation error scales as $2^{-\text{bits}}$.
//! * `orders`: error against a high-precision reference as $h$ shrinks, log-log slopes.

use super::{Check, Ctx, Experiment, Summary};
use crate::data;
use crate::error::Result;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::init;
use crate::invariants::{Balancedness, DiagonalBalance, FactorBalance, Law, MomentMap, Monitor, Quantity};
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};
use crate::trajectory::Trajectory;

pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        Experiment {
            name: "gf-conservation",
            about:
                "gradient flow conserves balancedness, u^2-v^2 and B to 1e-60 at 256 bits; Gauss-Legendre vs RK4 in f64",
            run: run_conservation,
        },
        Experiment {
            name: "precision-ladder",
            about: "Gauss-Legendre's conservation error falls as 2^-bits from 53 to 512 bits",
            run: run_ladder,
        },
        Experiment {
            name: "orders",
            about: "fitted convergence orders of RK4, RK8, GL2, GL3 on gradient flow; discrete methods vs flows",
            run: run_orders,
        },
    ]
}

/// The deep problem: widths 3-5-4-6-2 (three hidden layers of unequal widths), regression loss on
/// 20 Gaussian samples, Gaussian initialization of scale 0.3 (larger scales make the flow stiff: the Hessian grows like the product of the other layers' norms squared).
pub fn deep_problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::deep_linear(&[3, 5, 4, 6, 2])?;
    let x = data::gaussian(3, 20, 1.0, &mut data::rng(101));
    let y = data::gaussian(2, 20, 1.0, &mut data::rng(102));
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    Ok((model, init::gaussian(&arch, 0.3, &mut data::rng(103))))
}

/// The diagonal problem $\beta = u\odot v$ in dimension 6, regression on 10 samples of a sparse
/// target.
pub fn diagonal_problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::DiagonalUV { d: 6 };
    let beta = data::sparse_row(6, 2, &mut data::rng(111));
    let x = data::gaussian(6, 10, 1.0, &mut data::rng(112));
    let y = beta.matmul(&x);
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    Ok((model, init::gaussian(&arch, 0.5, &mut data::rng(113))))
}

/// The two-factor problem $\tfrac12\|XY^\top - \Phi\|^2$ with $X$ 4×2, $Y$ 3×2.
pub fn factor_problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::Factor { d1: 4, d2: 3, r: 2 };
    let phi = data::gaussian(4, 3, 1.0, &mut data::rng(121));
    let model = Model::new(arch.clone(), Loss::target(phi))?;
    Ok((model, init::gaussian(&arch, 0.5, &mut data::rng(122))))
}

/// Gradient flow of `model` (converted to the number type of `proto`) from `p0` over `[0, t1]`,
/// saving `saves` equally spaced times, tracking `q` under `law` and, with `energy`, the energy
/// identity.
#[allow(clippy::too_many_arguments)]
pub fn flow<S: Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    integ: &Integrator,
    t1: f64,
    saves: usize,
    q: impl Quantity<S> + 'static,
    law: Law<S>,
    energy: bool,
) -> Result<Trajectory<S>> {
    let mut mon = Monitor::new().track(q, law);
    if energy {
        mon = mon.track_energy();
    }
    let opts = SolveOptions { t1, save_times: (1..=saves).map(|k| t1 * k as f64 / saves as f64).collect() };
    solve(&mut GradientFlow::new(model), model, p0, integ, &opts, &mut mon)
}

/// For each matrix of `q`: $\max_t \max|Q_j(t) - Q_j(0)| / \max|Q_j(0)|$ over the saved states,
/// computed in the trajectory's number type.
pub fn per_block_drift<S: Scalar>(model: &Model<S>, q: &dyn Quantity<S>, traj: &Trajectory<S>) -> Vec<f64> {
    let q0 = q.eval(model, &traj.states[0]);
    let mut worst = vec![0.0f64; q0.len()];
    for p in &traj.states[1..] {
        for (j, (a, b)) in q.eval(model, p).iter().zip(&q0).enumerate() {
            let d = a.sub(b).max_abs().map_or(0.0, |x| x.to_f64());
            let s = b.max_abs().map_or(1.0, |x| x.to_f64()).max(f64::MIN_POSITIVE);
            worst[j] = worst[j].max(d / s);
        }
    }
    worst
}

fn rel_series(r: &crate::invariants::LawReport) -> Vec<(f64, f64)> {
    r.series.iter().map(|&(t, d)| (t, d / r.scale)).collect()
}

/// Relative tolerance of the 256-bit runs: 1e-66, eleven digits above the 2^-255 ≈ 1.7e-77 unit
/// of the precision so rounding stays negligible, and six digits below the claimed 1e-60 so the
/// error accumulated over tens of steps stays under it.
const TOL256: f64 = 1e-66;

fn bits256() -> Mp {
    Mp::new(256)
}

struct Case {
    label: &'static str,
    model: Model<f64>,
    p0: Params<f64>,
}

fn conservation_case<Qn>(s: &mut Summary, case: &Case, quantity: fn() -> Qn, t1: f64, saves: usize) -> Result<Figure>
where
    Qn: Quantity<Mp> + Quantity<f64> + 'static,
{
    let name = Quantity::<f64>::name(&quantity());
    let mut fig = Figure::new(
        format!("drift_{}", case.label),
        format!("{name} along gradient flow ({})", case.label),
        "time t",
        "relative drift max|Q(t) - Q(0)| / max|Q(0)|",
    )
    .log_y();
    // 256 bits, GBS.
    let p = bits256();
    let (m, y0) = (case.model.cast(&p), case.p0.cast(&p));
    let gbs = Integrator::Gbs { rtol: TOL256, atol: TOL256 };
    let tr = flow(&m, &y0, &gbs, t1, saves, quantity(), Law::Conserved, true)?;
    let drift = per_block_drift(&m, &quantity(), &tr);
    for (j, d) in drift.iter().enumerate() {
        s.check(Check::at_most(
            format!("{}-{name}-{}-256bit", case.label, j + 1),
            format!(
                "{name} block {} is conserved by gradient flow: GBS at 256 bits with tolerance 1e-66 keeps the \
                 relative drift below 1e-60",
                j + 1
            ),
            *d,
            1e-60,
        ));
    }
    s.check(Check::at_most(
        format!("{}-energy-256bit", case.label),
        "energy identity L(t) + int_0^t |grad L|^2 ds = L(0), integral extrapolated with the state: relative \
         defect below 1e-60 at 256 bits",
        tr.laws[1].worst_rel,
        1e-60,
    ));
    s.notes.push(format!(
        "{}: 256-bit GBS, {} field evaluations, worst {name} drift {:e}, energy defect {:e}",
        case.label,
        tr.grad_calls,
        drift.iter().copied().fold(0.0, f64::max),
        tr.laws[1].worst_rel
    ));
    fig = fig.with(Series::line("GBS, 256 bits", rel_series(&tr.laws[0])));
    // f64: Gauss–Legendre (structure preserving) vs RK4 at the same step, and Dopri5.
    let h = 0.1;
    let f64_run =
        |integrator: Integrator| flow(&case.model, &case.p0, &integrator, t1, saves, quantity(), Law::Conserved, false);
    let gl = f64_run(Integrator::GaussLegendre { stages: 2, h })?;
    let rk = f64_run(Integrator::Rk4 { h })?;
    let dp = f64_run(Integrator::Dopri5 { rtol: 1e-10, atol: 1e-12 })?;
    let (g, r, d) = (gl.laws[0].worst_rel, rk.laws[0].worst_rel, dp.laws[0].worst_rel);
    s.check(Check::at_most(
        format!("{}-gl2-f64", case.label),
        format!(
            "Gauss-Legendre (2 stages, h = {h}) conserves the quadratic invariant {name} up to rounding: \
             relative drift below 1e-13 (a few hundred f64 roundings over {} steps)",
            (t1 / h).ceil()
        ),
        g,
        1e-13,
    ));
    s.check(Check::at_least(
        format!("{}-rk4-vs-gl2", case.label),
        format!(
            "RK4 at the same step h = {h} drifts by its O(h^4) truncation error, at least 100 times Gauss-Legendre's \
             drift (floored at 1e-16)"
        ),
        r / g.max(1e-16),
        100.0,
    ));
    s.check(Check::at_most(
        format!("{}-dopri5-f64", case.label),
        "Dopri5 (rtol 1e-10, atol 1e-12) drifts by its error tolerance, not by rounding: below 1e-7 relative \
         (global error a few hundred tolerances at most over [0, t1])",
        d,
        1e-7,
    ));
    s.notes.push(format!(
        "{}: f64 relative drift of {name}: GL2 {g:e}, RK4 {r:e} (h = {h}), Dopri5 rtol 1e-10 {d:e} ({} evaluations)",
        case.label, dp.grad_calls
    ));
    fig = fig
        .with(Series::line(format!("Gauss-Legendre 2, h = {h}, f64"), rel_series(&gl.laws[0])).styled(Style::Dashed))
        .with(Series::line(format!("RK4, h = {h}, f64"), rel_series(&rk.laws[0])).styled(Style::LinePoints))
        .with(Series::line("Dopri5 rtol 1e-10, f64", rel_series(&dp.laws[0])).styled(Style::Points));
    Ok(fig)
}

fn run_conservation(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "gf-conservation",
        "Conservation laws of gradient flow at 256 bits (to 1e-60) and in f64: Gauss-Legendre keeps quadratic \
         invariants to rounding while RK4 at the same step drifts by its truncation error.",
    );
    let (t1, saves) = if ctx.quick { (2.0, 8) } else { (5.0, 50) };
    let (model, p0) = deep_problem()?;
    let deep = Case { label: "deep", model, p0 };
    let mut fig = conservation_case(&mut s, &deep, || Balancedness, t1, saves)?;
    // Weight decay: the moment map decays as exp(-2 lambda t) mu(0).
    let p = bits256();
    let lambda = p.ratio_like(1, 10);
    let m = deep.model.cast(&p).with_weight_decay(lambda.clone())?;
    let y0 = deep.p0.cast(&p);
    let gbs = Integrator::Gbs { rtol: TOL256, atol: TOL256 };
    let rate = lambda * p.from_i64_like(2);
    let tr = flow(&m, &y0, &gbs, t1, saves, MomentMap, Law::exp_decay(rate), false)?;
    s.check(Check::at_most(
        "deep-weight-decay-moment-map-256bit",
        "with weight decay lambda = 1/10 the moment map follows exp(-2 lambda t) mu(0): relative deviation below \
         1e-60 at 256 bits (GBS, tolerance 1e-66)",
        tr.laws[0].worst_rel,
        1e-60,
    ));
    s.notes.push(format!("deep with weight decay 1/10: moment map deviation {:e}", tr.laws[0].worst_rel));
    fig = fig.with(Series::line("weight decay 0.1: mu(t) vs exp(-0.2 t) mu(0), 256 bits", rel_series(&tr.laws[0])));
    ctx.save_figure(&fig, &mut s)?;

    let (model, p0) = diagonal_problem()?;
    let fig = conservation_case(&mut s, &Case { label: "diagonal", model, p0 }, || DiagonalBalance, t1, saves)?;
    ctx.save_figure(&fig, &mut s)?;
    let (model, p0) = factor_problem()?;
    let fig = conservation_case(&mut s, &Case { label: "factor", model, p0 }, || FactorBalance, t1, saves)?;
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

/// Worst relative balancedness drift of Gauss–Legendre (2 stages, step `h`) on [`deep_problem`]
/// over `[0, t1]` in the number type of `proto`.
pub fn gl_drift<S: Scalar>(proto: &S, h: f64, t1: f64) -> Result<f64> {
    let (model, p0) = deep_problem()?;
    let (m, y0) = (model.cast(proto), p0.cast(proto));
    let tr = flow(&m, &y0, &Integrator::GaussLegendre { stages: 2, h }, t1, 4, Balancedness, Law::Conserved, false)?;
    Ok(tr.laws[0].worst_rel)
}

fn run_ladder(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "precision-ladder",
        "Gauss-Legendre conserves balancedness exactly up to the stage solve and rounding, both at the working \
         precision: the conservation error falls as 2^-bits.",
    );
    let (h, t1) = if ctx.quick { (0.125, 1.0) } else { (0.1, 5.0) };
    let mut pts = vec![(53.0, gl_drift(&0.0f64, h, t1)?)];
    for bits in [64u32, 128, 256, 512] {
        pts.push((bits as f64, gl_drift(&Mp::new(bits), h, t1)?));
    }
    let monotone = pts.windows(2).all(|w| w[1].1 < w[0].1);
    s.check(Check::at_least(
        "monotone",
        "the worst conservation error decreases strictly from 53 (f64) to 64, 128, 256 and 512 bits (1 = yes)",
        f64::from(u8::from(monotone)),
        1.0,
    ));
    let mp: Vec<(f64, f64)> = pts[1..].iter().map(|&(b, e)| (b, e.log2())).collect();
    let n = mp.len() as f64;
    let (mx, my) = (mp.iter().map(|p| p.0).sum::<f64>() / n, mp.iter().map(|p| p.1).sum::<f64>() / n);
    let slope =
        mp.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / mp.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    s.check(Check::near(
        "scaling",
        "log2(error) falls by one per bit (error proportional to 2^-bits): the fitted slope over 64..512 bits \
         is -1; the constant in front (number of roundings, their random signs) varies by a few bits between \
         precisions, which over a 448-bit span moves the slope by < 0.05, so 0.15 is allowed",
        slope,
        -1.0,
        0.15,
    ));
    for &(b, e) in &pts {
        s.notes.push(format!("{b} bits: worst relative balancedness drift {e:e} (2^-bits = {:e})", (-b).exp2()));
    }
    let fig = Figure::new(
        "precision_ladder_gl",
        "Conservation error vs precision (Gauss-Legendre 2)",
        "bits",
        "relative drift",
    )
    .log_y()
    .with(Series::points("GL2 worst relative drift", pts.clone()))
    .with(Series::line("2^-bits", pts.iter().map(|&(b, _)| (b, (-b).exp2())).collect()).styled(Style::Dashed));
    ctx.save_figure(&fig, &mut s)?;
    Ok(s)
}

/// Fitted order of `integ(h)` on gradient flow of [`deep_problem`] over `[0, 1]` at 128 bits
/// against a reference by Taylor's method (tolerance 2^-120, a few units of 128 bits; GBS's
/// extrapolation table loses the last bits there): returns `(slope, [(h, error)])`.
pub fn fitted_order(make: fn(f64) -> Integrator, steps: &[usize]) -> Result<(f64, Vec<(f64, f64)>)> {
    let p = Mp::new(128);
    let (model, p0) = deep_problem()?;
    let (m, y0) = (model.cast(&p), p0.cast(&p));
    let t1 = 1.0;
    let tol = crate::flow::Tolerance::parse("2^-120", "tol")?;
    let taylor = Integrator::Taylor { tol, order: None, max_step: None };
    let reference = flow(&m, &y0, &taylor, t1, 1, Balancedness, Law::Conserved, false)?;
    let mut pts = Vec::new();
    for &n in steps {
        let h = t1 / n as f64;
        let tr = flow(&m, &y0, &make(h), t1, 1, Balancedness, Law::Conserved, false)?;
        let err = tr
            .last()
            .iter()
            .zip(reference.last().iter())
            .map(|(a, b)| (a.clone() - b.clone()).abs().to_f64())
            .fold(0.0, f64::max);
        pts.push((h, err));
    }
    Ok((log_slope(&pts), pts))
}

fn log_slope(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = pts.iter().map(|&(h, e)| (h.ln(), e.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / lx.iter().map(|x| (x - mx).powi(2)).sum::<f64>()
}

/// `(name, integrator for step h, order, numbers of steps over [0, 1])`.
type OrderCase = (&'static str, fn(f64) -> Integrator, usize, &'static [usize]);

fn run_orders(ctx: &Ctx) -> Result<Summary> {
    let mut s = Summary::new(
        "orders",
        "Convergence orders on deep-linear gradient flow, against a 128-bit GBS reference, and of discrete methods \
         against their flows.",
    );
    let mut fig =
        Figure::new("orders_flow", "Integrator error vs step (gradient flow, t = 1)", "step h", "max error at t = 1")
            .log_x()
            .log_y();
    let cases: [OrderCase; 4] = [
        ("rk4", |h| Integrator::Rk4 { h }, 4, &[8, 16, 32, 64]),
        ("gl2", |h| Integrator::GaussLegendre { stages: 2, h }, 4, &[8, 16, 32, 64]),
        ("gl3", |h| Integrator::GaussLegendre { stages: 3, h }, 6, &[4, 8, 16, 32]),
        ("rk8", |h| Integrator::Rk8 { h }, 8, &[4, 8, 16, 32]),
    ];
    for (name, make, order, steps) in cases {
        let (slope, pts) = fitted_order(make, steps)?;
        s.check(Check::near(
            format!("order-{name}"),
            format!(
                "{name} has order {order}: least-squares log-log slope of the error at t = 1 (128-bit arithmetic, \
                 reference by Taylor's method at tolerance 2^-120) over h = 1/{}..1/{}; the next term of the error expansion bends \
                 the slope by O(h), 0.3 allows it",
                steps[0],
                steps[steps.len() - 1]
            ),
            slope,
            order as f64,
            0.3,
        ));
        fig = fig.with(Series::points(format!("{name} (slope {slope:.2})"), pts));
    }
    ctx.save_figure(&fig, &mut s)?;
    super::orders_discrete::discrete_checks(ctx, &mut s)?;
    Ok(s)
}
