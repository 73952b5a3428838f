//! `gf-conservation`: balancedness $C_j = W_{j+1}^\top W_{j+1} - W_jW_j^\top$ of a deep net with unequal
//! widths, $u\odot u - v\odot v$ of a diagonal net $\beta = u\odot v$, and $B = \tfrac12(\|X\|^2 - \|Y\|^2)$ of a
//! two-factor problem are constant along gradient flow (to $10^{-60}$ at 256 bits); with weight decay
//! $\lambda$ the moment map decays as $e^{-2\lambda t}\mu(0)$; the energy identity
//! $L(t) + \int_0^t\|\nabla L\|^2 = L(0)$ holds; Gauss–Legendre against RK4 in `f64`.

use super::common::{deep_problem, flow};
use crate::compare::{max_abs_diff_mats, nan_max};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::Integrator;
use crate::invariants::{Balancedness, DiagonalBalance, FactorBalance, Law, MomentMap, Quantity};
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};
use crate::trajectory::Trajectory;
use crate::{data, init};

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

/// For each matrix of `q`: $\max_t \max|Q_j(t) - Q_j(0)| / \max|Q_j(0)|$ over the saved states,
/// computed in the trajectory's number type.
pub fn per_block_drift<S: Scalar>(model: &Model<S>, q: &dyn Quantity<S>, traj: &Trajectory<S>) -> Vec<f64> {
    let q0 = q.eval(model, &traj.states[0]);
    let mut worst = vec![0.0f64; q0.len()];
    for p in &traj.states[1..] {
        for (j, (a, b)) in q.eval(model, p).iter().zip(&q0).enumerate() {
            let d = max_abs_diff_mats(std::slice::from_ref(a), std::slice::from_ref(b));
            let s = b.max_abs().map_or(1.0, |x| x.to_f64()).max(f64::MIN_POSITIVE);
            worst[j] = nan_max([worst[j], d / s]);
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

/// One problem's conservation runs: 256-bit GBS, and Gauss–Legendre, RK4 and Dopri5 in `f64`.
#[derive(Clone, Debug)]
pub struct ConservationCase {
    /// `deep`, `diagonal` or `factor`.
    pub label: &'static str,
    /// The conserved quantity's name.
    pub quantity: String,
    /// Per block of the quantity, the worst relative drift at 256 bits.
    pub drift_256: Vec<f64>,
    /// The worst relative defect of the energy identity at 256 bits.
    pub energy_256: f64,
    /// Field evaluations of the 256-bit run.
    pub calls_256: usize,
    /// $(t, \text{relative drift})$ at 256 bits.
    pub series_256: Vec<(f64, f64)>,
    /// Step of the fixed-step `f64` runs.
    pub h: f64,
    /// Steps of the fixed-step runs over $[0, t_1]$.
    pub steps: f64,
    /// Worst relative drift in `f64`: Gauss–Legendre 2, RK4, Dopri5.
    pub drift_f64: [f64; 3],
    /// Field evaluations of the Dopri5 run.
    pub calls_dopri5: usize,
    /// $(t, \text{relative drift})$ of the three `f64` runs.
    pub series_f64: [Vec<(f64, f64)>; 3],
}

fn conservation_case<Qn>(case: &Case, quantity: fn() -> Qn, t1: f64, saves: usize) -> Result<ConservationCase>
where
    Qn: Quantity<Mp> + Quantity<f64> + 'static,
{
    let name = Quantity::<f64>::name(&quantity());
    // 256 bits, GBS.
    let p = bits256();
    let (m, y0) = (case.model.cast(&p), case.p0.cast(&p));
    let gbs = Integrator::Gbs { rtol: TOL256, atol: TOL256 };
    let tr = flow(&m, &y0, &gbs, t1, saves, quantity(), Law::Conserved, true)?;
    let drift_256 = per_block_drift(&m, &quantity(), &tr);
    // f64: Gauss–Legendre (structure preserving) vs RK4 at the same step, and Dopri5.
    let h = 0.1;
    let f64_run =
        |integrator: Integrator| flow(&case.model, &case.p0, &integrator, t1, saves, quantity(), Law::Conserved, false);
    let gl = f64_run(Integrator::GaussLegendre { stages: 2, h })?;
    let rk = f64_run(Integrator::Rk4 { h })?;
    let dp = f64_run(Integrator::Dopri5 { rtol: 1e-10, atol: 1e-12 })?;
    Ok(ConservationCase {
        label: case.label,
        quantity: name,
        drift_256,
        energy_256: tr.laws[1].worst_rel,
        calls_256: tr.grad_calls,
        series_256: rel_series(&tr.laws[0]),
        h,
        steps: (t1 / h).ceil(),
        drift_f64: [gl.laws[0].worst_rel, rk.laws[0].worst_rel, dp.laws[0].worst_rel],
        calls_dopri5: dp.grad_calls,
        series_f64: [rel_series(&gl.laws[0]), rel_series(&rk.laws[0]), rel_series(&dp.laws[0])],
    })
}

fn case_checks(c: &ConservationCase) -> Vec<Check> {
    let (name, label, h) = (&c.quantity, c.label, c.h);
    let mut v = Vec::new();
    for (j, d) in c.drift_256.iter().enumerate() {
        v.push(Check::at_most(
            format!("{label}-{name}-{}-256bit", j + 1),
            format!(
                "{name} block {} is conserved by gradient flow: GBS at 256 bits with tolerance 1e-66 keeps the \
                 relative drift below 1e-60",
                j + 1
            ),
            *d,
            1e-60,
        ));
    }
    v.push(Check::at_most(
        format!("{label}-energy-256bit"),
        "energy identity L(t) + int_0^t |grad L|^2 ds = L(0), integral extrapolated with the state: relative \
         defect below 1e-60 at 256 bits",
        c.energy_256,
        1e-60,
    ));
    let [g, r, d] = c.drift_f64;
    v.push(Check::at_most(
        format!("{label}-gl2-f64"),
        format!(
            "Gauss-Legendre (2 stages, h = {h}) conserves the quadratic invariant {name} up to rounding: \
             relative drift below 1e-13 (a few hundred f64 roundings over {} steps)",
            c.steps
        ),
        g,
        1e-13,
    ));
    v.push(Check::at_least(
        format!("{label}-rk4-vs-gl2"),
        format!(
            "RK4 at the same step h = {h} drifts by its O(h^4) truncation error, at least 100 times Gauss-Legendre's \
             drift (floored at 1e-16)"
        ),
        r / g.max(1e-16),
        100.0,
    ));
    v.push(Check::at_most(
        format!("{label}-dopri5-f64"),
        "Dopri5 (rtol 1e-10, atol 1e-12) drifts by its error tolerance, not by rounding: below 1e-7 relative \
         (global error a few hundred tolerances at most over [0, t1])",
        d,
        1e-7,
    ));
    v
}

fn case_notes(c: &ConservationCase) -> Vec<String> {
    let (name, label, h) = (&c.quantity, c.label, c.h);
    let [g, r, d] = c.drift_f64;
    vec![
        format!(
            "{label}: 256-bit GBS, {} field evaluations, worst {name} drift {:e}, energy defect {:e}",
            c.calls_256,
            nan_max(c.drift_256.iter().copied()),
            c.energy_256
        ),
        format!(
            "{label}: f64 relative drift of {name}: GL2 {g:e}, RK4 {r:e} (h = {h}), Dopri5 rtol 1e-10 {d:e} ({} evaluations)",
            c.calls_dopri5
        ),
    ]
}

fn case_figure(c: &ConservationCase) -> Figure {
    let h = c.h;
    let [gl, rk, dp] = &c.series_f64;
    Figure::new(
        format!("drift_{}", c.label),
        format!("{} along gradient flow ({})", c.quantity, c.label),
        "time t",
        "relative drift max|Q(t) - Q(0)| / max|Q(0)|",
    )
    .log_y()
    .with(Series::line("GBS, 256 bits", c.series_256.clone()))
    .with(Series::line(format!("Gauss-Legendre 2, h = {h}, f64"), gl.clone()).styled(Style::Dashed))
    .with(Series::line(format!("RK4, h = {h}, f64"), rk.clone()).styled(Style::LinePoints))
    .with(Series::line("Dopri5 rtol 1e-10, f64", dp.clone()).styled(Style::Points))
}

/// What `gf-conservation` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The deep, diagonal and two-factor problems.
    pub cases: Vec<ConservationCase>,
    /// Deep network with weight decay $1/10$ at 256 bits: worst relative deviation of $\mu(t)$ from
    /// $e^{-2\lambda t}\mu(0)$.
    pub decay_worst_rel: f64,
    /// Its $(t, \text{relative deviation})$.
    pub decay_series: Vec<(f64, f64)>,
}

/// The three problems' conservation runs, and the deep network with weight decay.
pub fn measure(quick: bool) -> Result<Measured> {
    let (t1, saves) = if quick { (2.0, 8) } else { (5.0, 50) };
    let (model, p0) = deep_problem()?;
    let deep = Case { label: "deep", model, p0 };
    let mut cases = vec![conservation_case(&deep, || Balancedness, t1, saves)?];
    // Weight decay: the moment map decays as exp(-2 lambda t) mu(0).
    let p = bits256();
    let lambda = p.ratio_like(1, 10);
    let m = deep.model.cast(&p).with_weight_decay(lambda.clone())?;
    let y0 = deep.p0.cast(&p);
    let gbs = Integrator::Gbs { rtol: TOL256, atol: TOL256 };
    let rate = lambda * p.from_i64_like(2);
    let tr = flow(&m, &y0, &gbs, t1, saves, MomentMap, Law::exp_decay(rate), false)?;
    let (model, p0) = diagonal_problem()?;
    cases.push(conservation_case(&Case { label: "diagonal", model, p0 }, || DiagonalBalance, t1, saves)?);
    let (model, p0) = factor_problem()?;
    cases.push(conservation_case(&Case { label: "factor", model, p0 }, || FactorBalance, t1, saves)?);
    Ok(Measured { cases, decay_worst_rel: tr.laws[0].worst_rel, decay_series: rel_series(&tr.laws[0]) })
}

/// Conservation at 256 bits and in `f64` for each problem; the weight-decay law after the deep case.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = Vec::new();
    for (k, c) in m.cases.iter().enumerate() {
        v.extend(case_checks(c));
        if k == 0 {
            v.push(Check::at_most(
                "deep-weight-decay-moment-map-256bit",
                "with weight decay lambda = 1/10 the moment map follows exp(-2 lambda t) mu(0): relative deviation below \
                 1e-60 at 256 bits (GBS, tolerance 1e-66)",
                m.decay_worst_rel,
                1e-60,
            ));
        }
    }
    v
}

/// Evaluations and drifts per problem and integrator.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v = Vec::new();
    for (k, c) in m.cases.iter().enumerate() {
        v.extend(case_notes(c));
        if k == 0 {
            v.push(format!("deep with weight decay 1/10: moment map deviation {:e}", m.decay_worst_rel));
        }
    }
    v
}

/// The relative drift along each problem's runs (the deep one with the weight-decay law).
pub fn figures(m: &Measured) -> Vec<Figure> {
    m.cases
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let fig = case_figure(c);
            if k == 0 {
                fig.with(Series::line("weight decay 0.1: mu(t) vs exp(-0.2 t) mu(0), 256 bits", m.decay_series.clone()))
            } else {
                fig
            }
        })
        .collect()
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "gf-conservation",
    description:
        "Conservation laws of gradient flow at 256 bits (to 1e-60) and in f64: Gauss-Legendre keeps quadratic \
         invariants to rounding while RK4 at the same step drifts by its truncation error.",
    measure,
    checks,
    figures,
    notes,
};

/// The `gf-conservation` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "gradient flow conserves balancedness, u^2-v^2 and B to 1e-60 at 256 bits; Gauss-Legendre vs RK4 in f64",
        run: |ctx| RECIPE.run(ctx),
    }
}
