//! `saxe`: the Saxe–McClelland–Ganguli decoupled modes (balanced, unbalanced, deep) against
//! gradient flow of a 3×3 network, and against the model's gradient field at 256 bits.

use super::common::{diag, flow, flow_residual, orthogonal};
use crate::closed_form::saxe;
use crate::compare::{max_abs_diff_mats, nan_max};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};

/// Saxe setup: three modes `s`, orthogonal `U`, `V` and hidden gauges, `Loss::target(U diag(s) Vᵀ)`.
struct SaxeSetup {
    s: Vec<f64>,
    u: Mat<f64>,
    v: Mat<f64>,
    r: Vec<Mat<f64>>,
}

impl SaxeSetup {
    fn new() -> Self {
        SaxeSetup {
            s: vec![3.0, 2.0, 0.7],
            u: orthogonal(3, 31),
            v: orthogonal(3, 32),
            r: (0..3).map(|k| orthogonal(3, 33 + k)).collect(),
        }
    }
    fn model(&self, depth: usize) -> Result<Model<f64>> {
        let phi = self.u.matmul(&diag(&self.s)).prod(false, &self.v, true);
        Model::new(Arch::deep_linear(&vec![3; depth + 1])?, Loss::target(phi))
    }
    /// Aligned layers: `W_1 = R_1 diag(c_1) Vᵀ`, `W_j = R_j diag(c_j) R_{j−1}ᵀ`, `W_N = U diag(c_N) R_{N−1}ᵀ`.
    fn layers(&self, coef: &[Vec<f64>]) -> Params<f64> {
        let n = coef.len();
        let blocks = (0..n)
            .map(|j| {
                let left = if j + 1 == n { &self.u } else { &self.r[j] };
                let m = left.matmul(&diag(&coef[j]));
                if j == 0 {
                    m.prod(false, &self.v, true)
                } else {
                    m.prod(false, &self.r[j - 1], true)
                }
            })
            .collect();
        Params::new(blocks)
    }
    fn end_to_end(&self, u: &[f64]) -> Mat<f64> {
        self.u.matmul(&diag(u)).prod(false, &self.v, true)
    }
    /// Mode strengths `diag(Uᵀ W V)`.
    fn modes(&self, w: &Mat<f64>) -> Vec<f64> {
        let m = self.u.prod(true, w, false).matmul(&self.v);
        (0..3).map(|i| *m.get(i, i)).collect()
    }
}

/// One Saxe case: the flow's end-to-end error against the closed form at `h` and `h/2`, and the
/// mode curves for the figure.
#[derive(Clone, Debug)]
pub struct SaxeCase {
    /// Which mode family and depth.
    pub label: String,
    /// $\max_t \|W_{flow}(t) - U\,\mathrm{diag}(u(t))\,V^\top\|_{\max}$ with RK4 at step `h`.
    pub err_h: f64,
    /// The same at `h/2`.
    pub err_h2: f64,
    /// Per mode, $(t, u_i(t))$ read off the flow at step `h` as $\mathrm{diag}(U^\top W V)$.
    pub flow_modes: Vec<Vec<(f64, f64)>>,
    /// Per mode, $(t, u_i(t))$ of the closed form.
    pub closed_modes: Vec<Vec<(f64, f64)>>,
    /// $(t, \text{error})$ at step `h` (floored at $10^{-17}$ for the log axis).
    pub err_curve: Vec<(f64, f64)>,
}

fn saxe_case(
    setup: &SaxeSetup,
    label: &str,
    depth: usize,
    init: &[Vec<f64>],
    closed: &dyn Fn(f64) -> Result<Vec<f64>>,
    h: f64,
    t1: f64,
) -> Result<SaxeCase> {
    let model = setup.model(depth)?;
    let p0 = setup.layers(init);
    let mut errs = Vec::new();
    let mut flow_modes = vec![Vec::new(); 3];
    let mut closed_modes = vec![Vec::new(); 3];
    let mut err_curve = Vec::new();
    for (k, hk) in [h, h / 2.0].into_iter().enumerate() {
        let traj = flow(&model, &p0, hk, t1, 80)?;
        let mut gaps = Vec::new();
        for (t, p) in traj.times.iter().zip(&traj.states) {
            let u = closed(*t)?;
            let w = model.end_to_end(p);
            let e = max_abs_diff_mats(std::slice::from_ref(&w), &[setup.end_to_end(&u)]);
            gaps.push(e);
            if k == 0 {
                let m = setup.modes(&w);
                for i in 0..3 {
                    flow_modes[i].push((*t, m[i]));
                    closed_modes[i].push((*t, u[i]));
                }
                if *t > 0.0 {
                    err_curve.push((*t, e.max(1e-17)));
                }
            }
        }
        errs.push(nan_max(gaps));
    }
    Ok(SaxeCase { label: label.into(), err_h: errs[0], err_h2: errs[1], flow_modes, closed_modes, err_curve })
}

/// 256-bit check of the three Saxe references: a 2×2 network with `Φ = U diag(2, 1/2)`, `U` the
/// exact rotation (3/5, 4/5), and the closed-form parameter paths differentiated by an eighth-order
/// central difference.
/// Returns `(balanced, unbalanced, deep N = 3, |deep(N=2) − sigmoid|)` residuals.
pub fn saxe_residuals_256() -> Result<[f64; 4]> {
    let p = Mp::new(256);
    let q = |a: i64, b: i64| p.ratio_like(a, b);
    let rot = Mat::from_vec(2, 2, vec![q(3, 5), q(-4, 5), q(4, 5), q(3, 5)]);
    let s = [q(2, 1), q(1, 2)];
    let phi = rot.matmul(&diag(&s));
    let model = |n: usize| Model::new(Arch::deep_linear(&vec![2; n + 1]).expect("widths"), Loss::target(phi.clone()));
    let times = [q(1, 2), q(3, 2), q(3, 1)];
    let tau = q(1, 1);
    // Balanced two-layer modes.
    let bal: Vec<_> = [q(1, 100), q(1, 50)]
        .iter()
        .zip(&s)
        .map(|(u0, si)| saxe::BalancedMode::new(si.clone(), u0.clone(), tau.clone()))
        .collect::<Result<_>>()?;
    let m2 = model(2)?;
    let path = |t: &Mp| -> Result<Params<Mp>> {
        let a: Vec<Mp> = bal.iter().map(|m| m.layer(t)).collect::<Result<_>>()?;
        Ok(Params::new(vec![diag(&a), rot.matmul(&diag(&a))]))
    };
    let r_bal = flow_residual(&m2, &path, &times)?;
    // Unbalanced two-layer modes.
    let unb: Vec<_> = [(q(3, 10), q(1, 20)), (q(1, 10), q(-1, 5))]
        .iter()
        .zip(&s)
        .map(|((a0, b0), si)| saxe::UnbalancedMode::new(si.clone(), a0.clone(), b0.clone(), tau.clone()))
        .collect::<Result<_>>()?;
    let path = |t: &Mp| -> Result<Params<Mp>> {
        let ab: Vec<(Mp, Mp)> = unb.iter().map(|m| m.layers(t)).collect::<Result<_>>()?;
        let a: Vec<Mp> = ab.iter().map(|x| x.0.clone()).collect();
        let b: Vec<Mp> = ab.iter().map(|x| x.1.clone()).collect();
        Ok(Params::new(vec![diag(&a), rot.matmul(&diag(&b))]))
    };
    let r_unb = flow_residual(&m2, &path, &times)?;
    // Deep balanced modes, N = 3.
    let deep: Vec<_> = [q(1, 20), q(1, 10)]
        .iter()
        .zip(&s)
        .map(|(u0, si)| saxe::DeepBalancedMode::new(3, si.clone(), u0.clone(), tau.clone()))
        .collect::<Result<_>>()?;
    let m3 = model(3)?;
    let path = |t: &Mp| -> Result<Params<Mp>> {
        let a: Vec<Mp> = deep.iter().map(|m| m.layer(t)).collect::<Result<_>>()?;
        Ok(Params::new(vec![diag(&a), diag(&a), rot.matmul(&diag(&a))]))
    };
    let r_deep = flow_residual(&m3, &path, &times)?;
    // The series/root-finder at N = 2 against the logistic closed form (two independent formulas).
    let d2 = saxe::DeepBalancedMode::new(2, q(2, 1), q(1, 100), tau.clone())?;
    let b2 = saxe::BalancedMode::new(q(2, 1), q(1, 100), tau)?;
    let mut gaps = Vec::new();
    for t in [q(1, 10), q(1, 1), q(5, 2), q(6, 1)] {
        gaps.push((d2.u(&t)? - b2.u(&t)?).to_f64().abs());
    }
    let r_n2 = nan_max(gaps);
    Ok([r_bal, r_unb, r_deep, r_n2])
}

/// What `saxe` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The three mode strengths $s_i$ of the target $\Phi = U\,\mathrm{diag}(s)\,V^\top$.
    pub s: Vec<f64>,
    /// RK4 step of the coarser run (the finer one is `h/2`).
    pub h: f64,
    /// Balanced 2 layers, unbalanced 2 layers, balanced 3 and 4 layers, in that order.
    pub cases: Vec<SaxeCase>,
    /// 256-bit residuals of the closed-form paths in the gradient field: balanced, unbalanced,
    /// deep $N = 3$; and $|u_{deep, N=2} - u_{sigmoid}|$.
    pub residuals_256: [f64; 4],
}

/// Runs the four mode families against gradient flow (RK4 at `h` and `h/2`) and the 256-bit
/// residuals. The sizes are the same in quick mode (the whole measurement takes a few seconds).
pub fn measure(_quick: bool) -> Result<Measured> {
    let setup = SaxeSetup::new();
    let h = 0.01;
    let tau = 1.0;
    let t1 = 8.0;
    let mut cases = Vec::new();
    // Balanced two-layer.
    let u0 = [1e-3, 4e-3, 0.05];
    let modes: Vec<_> = (0..3).map(|i| saxe::BalancedMode::new(setup.s[i], u0[i], tau)).collect::<Result<_>>()?;
    let a0: Vec<f64> = u0.iter().map(|&x| x.sqrt()).collect();
    let closed = |t: f64| modes.iter().map(|m| m.u(&t)).collect::<Result<Vec<_>>>();
    cases.push(saxe_case(&setup, "balanced, 2 layers", 2, &[a0.clone(), a0], &closed, h, t1)?);
    // Unbalanced two-layer.
    let (a0, b0) = (vec![0.3, 0.05, 0.4], vec![0.01, 0.2, -0.1]);
    let modes: Vec<_> =
        (0..3).map(|i| saxe::UnbalancedMode::new(setup.s[i], a0[i], b0[i], tau)).collect::<Result<_>>()?;
    let closed = |t: f64| modes.iter().map(|m| m.u(&t)).collect::<Result<Vec<_>>>();
    cases.push(saxe_case(&setup, "unbalanced, 2 layers", 2, &[a0, b0], &closed, h, t1)?);
    // Deep balanced.
    for n in [3usize, 4] {
        let u0 = [0.01, 0.05, 0.2];
        let modes: Vec<_> =
            (0..3).map(|i| saxe::DeepBalancedMode::new(n, setup.s[i], u0[i], tau)).collect::<Result<_>>()?;
        let a: Vec<f64> = u0.iter().map(|&x| x.powf(1.0 / n as f64)).collect();
        let closed = |t: f64| modes.iter().map(|m| m.u(&t)).collect::<Result<Vec<_>>>();
        cases.push(saxe_case(&setup, &format!("balanced, {n} layers"), n, &vec![a; n], &closed, h, 12.0)?);
    }
    Ok(Measured { s: setup.s.clone(), h, cases, residuals_256: saxe_residuals_256()? })
}

/// The claims: each flow meets its closed form to RK4's truncation error, which shrinks by ~16 when
/// the step halves; at 256 bits the closed forms solve the gradient field.
pub fn checks(m: &Measured) -> Vec<Check> {
    let h = m.h;
    let mut v = Vec::new();
    for c in &m.cases {
        v.push(Check::at_most(
            format!("flow-vs-closed-form ({})", c.label),
            format!(
                "max |W_flow(t) - U diag(u(t)) V^T| over the run with RK4 at h/2 = {}: RK4's global error is \
                 C h^4 with C of order rate^4 * t1 (rates 2s <= 6 here), below 1e-6 at these steps",
                h / 2.0
            ),
            c.err_h2,
            1e-6,
        ));
        v.push(Check::at_least(
            format!("error-is-rk4-truncation ({})", c.label),
            "halving h divides the discrepancy by ~16 (>= 10 required): it is RK4's O(h^4) truncation error, so the \
             closed form is the h -> 0 limit of the flow",
            c.err_h / c.err_h2,
            10.0,
        ));
    }
    let [r_bal, r_unb, r_deep, r_n2] = m.residuals_256;
    for (name, r) in [("balanced", r_bal), ("unbalanced", r_unb), ("deep-3", r_deep)] {
        v.push(Check::at_most(
            format!("mpfr256-residual ({name})"),
            "at 256 bits the closed-form layers satisfy d theta/dt = -grad L(theta) of the model: 8th-order central \
             difference with step 1e-8 has truncation ~1e-64 x (9th derivative, rates <= 4) and rounding \
             2^-256/1e-8 ~ 1e-69; 1e-50 bounds both",
            r,
            1e-50,
        ));
    }
    v.push(Check::at_most(
        "mpfr256-deep-n2-equals-sigmoid",
        "the deep mode's series and Newton inversion at N = 2 reproduce the logistic closed form at 256 bits \
         (stopping rules at ~1e-75 relative; 1e-60 bound)",
        r_n2,
        1e-60,
    ));
    v
}

/// The errors at both steps and the 256-bit residuals.
pub fn notes(m: &Measured) -> Vec<String> {
    let h = m.h;
    let mut v: Vec<String> = m
        .cases
        .iter()
        .map(|c| format!("{}: max error {:.3e} (h = {h}), {:.3e} (h = {})", c.label, c.err_h, c.err_h2, h / 2.0))
        .collect();
    let [r_bal, r_unb, r_deep, r_n2] = m.residuals_256;
    v.push(format!(
        "256-bit residuals: balanced {r_bal:.2e}, unbalanced {r_unb:.2e}, deep N=3 {r_deep:.2e}; deep N=2 vs sigmoid {r_n2:.2e}"
    ));
    v
}

/// Mode curves of the 2- and 3-layer balanced cases (one figure each, so that each legend stays
/// short), and the error curves of every case.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut figs = Vec::new();
    for (tag, c) in [("2", &m.cases[0]), ("3", &m.cases[2])] {
        let mut fig = Figure::new(
            format!("saxe_modes_{tag}layers"),
            format!("Saxe modes ({})", c.label),
            "time t",
            "mode strength u_i(t)",
        );
        for i in 0..3 {
            fig = fig.with(Series::line(format!("flow, s = {}", m.s[i]), c.flow_modes[i].clone()));
            fig = fig.with(
                Series::line(format!("closed form, s = {}", m.s[i]), c.closed_modes[i].clone()).styled(Style::Dashed),
            );
        }
        figs.push(fig);
    }
    let mut fig =
        Figure::new("saxe_error", format!("|flow - closed form| (RK4, h = {})", m.h), "time t", "max entry error")
            .log_y();
    for c in &m.cases {
        fig = fig.with(Series::line(c.label.clone(), c.err_curve.clone()));
    }
    figs.push(fig);
    figs
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "saxe",
    description: "Saxe-McClelland-Ganguli decoupled modes of whitened deep linear regression: the balanced two-layer \
         sigmoid, the unbalanced two-layer mode (a^2 - b^2 = c != 0) and the deep balanced mode (2F1 time of \
         flight inverted by Newton), each against gradient flow of a 3x3 network with random orthogonal U, V and \
         hidden gauges (RK4), and against the model's gradient field at 256 bits.",
    measure,
    checks,
    figures,
    notes,
};

/// The `saxe` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "Saxe-McClelland-Ganguli modes (balanced, unbalanced, deep) against gradient flow",
        run: |ctx| RECIPE.run(ctx),
    }
}
