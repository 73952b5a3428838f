//! `balancing-flows`: flows along a fibre that balance the layers: $\mu(t) = e^{-2t}\mu(0)$ for the
//! moment-map flow, the sinh law for the regularizer flow at $N = 2$.

use super::common::integrate;
use crate::closed_form::balancing::{moment_flow_n2, regularizer_flow_scalar};
use crate::closed_form::lindsey_menon::moment_map;
use crate::compare::{max_abs_diff, max_abs_diff_mats, max_abs_mats, nan_max};
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::fields::{MomentMapFlow, RegularizerFlow};
use crate::invariants::{Law, MomentMap, Monitor, Quantity};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::Scalar;
use crate::{data, init};

/// The end-to-end matrix, as a quantity that the balancing flows conserve.
struct Product;

impl<S: Scalar> Quantity<S> for Product {
    fn name(&self) -> String {
        "end_to_end".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![model.end_to_end(p)]
    }
}

/// A model whose loss only labels saved states (the balancing flows do not use it).
fn fibre_model(widths: &[usize], x: &Mat<f64>) -> Result<Model<f64>> {
    Model::new(Arch::deep_linear(widths)?, Loss::target(x.clone()))
}

/// $(t, \text{value})$ points.
pub type Curve = Vec<(f64, f64)>;

/// Flow (a) on one fibre, and flow (b) on the square one.
#[derive(Clone, Debug)]
pub struct FibreRun {
    /// Widths.
    pub label: &'static str,
    /// Worst relative deviation of $\mu(t)$ from $e^{-2t}\mu(0)$ along flow (a).
    pub mu_law_worst_rel: f64,
    /// Worst relative drift of the product along flow (a).
    pub product_drift: f64,
    /// $\max|\mu(0)|$.
    pub mu0: f64,
    /// $(t, \max|\mu(t)|)$ along flow (a).
    pub mu_curve: Vec<(f64, f64)>,
    /// Flow (b) from the same start (square fibre only): worst relative product drift, largest
    /// increase of $|\mu|^2$ between saves, and $(t, \max|\mu(t)|)$.
    pub flow_b: Option<(f64, f64, Curve)>,
}

/// A scalar flow against its closed form.
#[derive(Clone, Debug, Default)]
pub struct ScalarRun {
    /// Largest entry error over the run.
    pub error: f64,
    /// $(t, \text{value})$ from RK4.
    pub numeric: Vec<(f64, f64)>,
    /// $(t, \text{value})$ of the closed form.
    pub closed: Vec<(f64, f64)>,
}

/// What `balancing-flows` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Flow (a) on 3-3-3-3 and 2-4-3-2 (and flow (b) on 3-3-3-3).
    pub fibres: Vec<FibreRun>,
    /// Flow (a), scalar $N = 3$: $w_1(t)$.
    pub scalar_a: ScalarRun,
    /// Flow (b), scalar $N = 2$: $\mu(t)$ (the error also covers both weights).
    pub scalar_b: ScalarRun,
    /// Flow (b) on SVD-aligned 3×3 factors: the largest entry error against the mode-wise law.
    pub aligned_error: f64,
}

/// The balancing flows (RK4) on two fibres and their scalar and aligned closed forms.
pub fn measure(quick: bool) -> Result<Measured> {
    let t1 = if quick { 3.0 } else { 6.0 };
    let h = 0.01;
    let mut fibres = Vec::new();
    // (a) on a square and a rectangular fibre.
    for (label, widths, seed) in [("3-3-3-3", vec![3usize, 3, 3, 3], 61u64), ("2-4-3-2", vec![2, 4, 3, 2], 62)] {
        let arch = Arch::deep_linear(&widths)?;
        let w0 = init::gaussian(&arch, 0.8, &mut data::rng(seed));
        let x = arch.product(&w0);
        let model = fibre_model(&widths, &x)?;
        let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0)).track(Product, Law::Conserved);
        let traj = integrate(&mut RegularizerFlow::new(&w0)?, &model, &w0, h, t1, 150, &mut mon)?;
        let mu_curve = traj.times.iter().zip(&traj.states).map(|(t, p)| (*t, max_abs_mats(&moment_map(p)))).collect();
        let flow_b = if seed == 61 {
            let mut mon = Monitor::new().track(Product, Law::Conserved);
            let tb = integrate(&mut MomentMapFlow, &model, &w0, 0.002, t1, 150, &mut mon)?;
            let norms: Vec<f64> =
                tb.states.iter().map(|p| moment_map(p).iter().map(|m| m.norm_sq()).sum::<f64>()).collect();
            let increase = nan_max(norms.windows(2).map(|w| w[1] - w[0]));
            let curve = tb.times.iter().zip(&tb.states).map(|(t, p)| (*t, max_abs_mats(&moment_map(p)))).collect();
            Some((tb.laws[0].worst_rel, increase, curve))
        } else {
            None
        };
        fibres.push(FibreRun {
            label,
            mu_law_worst_rel: traj.laws[0].worst_rel,
            product_drift: traj.laws[1].worst_rel,
            mu0: max_abs_mats(&moment_map(&w0)),
            mu_curve,
            flow_b,
        });
    }
    // (a) scalar, N = 3, against the root-finding closed form.
    let w0s = [1.5, -0.4, 0.9];
    let widths = [1usize, 1, 1, 1];
    let p0 = Params::new(w0s.iter().map(|w| Mat::from_vec(1, 1, vec![*w])).collect());
    let x = fibre_model(&widths, &Mat::from_vec(1, 1, vec![w0s.iter().product()]))?;
    let traj = integrate(&mut RegularizerFlow::new(&p0)?, &x, &p0, h, t1, 60, &mut Monitor::new())?;
    let mut a = ScalarRun::default();
    let mut errs = Vec::new();
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let cf = regularizer_flow_scalar(&w0s, t)?;
        errs.push(max_abs_diff(&p.flatten(), &cf));
        a.numeric.push((*t, *p.blocks[0].get(0, 0)));
        a.closed.push((*t, cf[0]));
    }
    a.error = nan_max(errs);
    // (b) scalar N = 2 against the sinh law.
    let (w1, w2) = (2.0, 0.3);
    let p0 = Params::new(vec![Mat::from_vec(1, 1, vec![w1]), Mat::from_vec(1, 1, vec![w2])]);
    let model = fibre_model(&[1, 1, 1], &Mat::from_vec(1, 1, vec![w1 * w2]))?;
    let hb = 0.002;
    let traj = integrate(&mut MomentMapFlow, &model, &p0, hb, t1.min(2.0), 100, &mut Monitor::new())?;
    let mut b = ScalarRun::default();
    let mut errs = Vec::new();
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let (mu, c1, c2) = moment_flow_n2(&w1, &w2, t)?;
        let mu_num = p.blocks[0].get(0, 0).powi(2) - p.blocks[1].get(0, 0).powi(2);
        errs.push(max_abs_diff(&[mu_num, *p.blocks[0].get(0, 0), *p.blocks[1].get(0, 0)], &[mu, c1, c2]));
        b.numeric.push((*t, mu_num));
        b.closed.push((*t, mu));
    }
    b.error = nan_max(errs);
    // (b) SVD-aligned 3x3, N = 2, mode by mode.
    let aligned_error = aligned_moment_flow(t1.min(2.0), hb)?;
    Ok(Measured { fibres, scalar_a: a, scalar_b: b, aligned_error })
}

/// Flow (a)'s exponential law and fixed product, flow (b)'s fixed product and descent, and the
/// scalar and aligned closed forms.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = Vec::new();
    for f in &m.fibres {
        let label = f.label;
        v.push(Check::at_most(
            format!("flow-a-mu-exp-decay-{label}"),
            "flow (a): max |mu(t) - e^(-2t) mu(0)| / max |mu(0)| over the run; RK4 with h = 0.01 has global error \
             O(h^4) = 1e-8 times the field's derivatives (of order 10 here), so 1e-6 bounds it",
            f.mu_law_worst_rel,
            1e-6,
        ));
        v.push(Check::at_most(
            format!("flow-a-product-fixed-{label}"),
            "flow (a) keeps the product (relative drift; RK4 truncation, same bound 1e-6)",
            f.product_drift,
            1e-6,
        ));
        if let Some((drift, increase, _)) = &f.flow_b {
            v.push(Check::at_most(
                "flow-b-product-fixed",
                "flow (b) on 3-3-3-3 keeps the product (relative drift; RK4 with h = 0.002 on a field whose initial rates \
                 are about 20 (|mu(0)| ~ 3): (20 h)^4 = 2.6e-6 per unit time at the start, decaying as mu does; 1e-6)",
                *drift,
                1e-6,
            ));
            v.push(Check::at_most(
                "flow-b-mu-decreasing",
                "flow (b) is the gradient flow of 1/2 |mu|^2, so |mu|^2 never increases between saves (largest increase; \
                 1e-12 allows rounding of O(1) sums)",
                *increase,
                1e-12,
            ));
        }
    }
    v.push(Check::at_most(
        "flow-a-scalar-closed-form",
        "flow (a), scalar N = 3, w(0) = (1.5, -0.4, 0.9): RK4 (h = 0.01) vs w_j^2 = e^(-2t) w_j(0)^2 + c(t); global error \
         O(h^4) = 1e-8 with O(1) constants (the field's rates are about 2): 1e-8",
        m.scalar_a.error,
        1e-8,
    ));
    v.push(Check::at_most(
        "flow-b-n2-sinh-law",
        "flow (b), N = 2, w(0) = (2, 0.3): RK4 (h = 0.002) vs mu(t) = a / sinh(asinh(a/mu0) + 4at) and the weights from it; \
         the field's initial rate is 4 sqrt(mu^2 + a^2) = 16, so (16h)^4 = 1e-6 per unit time bounds the RK4 error: 1e-6",
        m.scalar_b.error,
        1e-6,
    ));
    v.push(Check::at_most(
        "flow-b-n2-aligned-modes",
        "flow (b) on W_1 = Q D_1 V^T, W_2 = U D_2 Q^T (orthogonal U, Q, V): W(t) = the mode-wise sinh law, and stays \
         aligned (largest entry error; RK4, h = 0.002, rates up to 4 sqrt(mu^2 + a^2) ~ 20: 1e-6)",
        m.aligned_error,
        1e-6,
    ));
    v
}

/// The scalar and aligned errors.
pub fn notes(m: &Measured) -> Vec<String> {
    vec![format!(
        "scalar errors: flow (a) {:e}, flow (b) {:e}, aligned (b) {:e}",
        m.scalar_a.error, m.scalar_b.error, m.aligned_error
    )]
}

/// The moment map along the flows, and the scalar flows against their closed forms.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig_mu =
        Figure::new("balancing_mu", "Moment map along the balancing flows", "time t", "max |μ(t)|").log_y();
    for f in &m.fibres {
        fig_mu = fig_mu.with(Series::line(format!("flow (a), {}", f.label), f.mu_curve.clone())).with(
            Series::line(
                format!("e^(−2t) max|μ(0)|, {}", f.label),
                f.mu_curve.iter().map(|(t, _)| (*t, f.mu0 * (-2.0 * t).exp())).collect(),
            )
            .styled(Style::Dashed),
        );
        if let Some((_, _, curve)) = &f.flow_b {
            fig_mu = fig_mu.with(Series::line(format!("flow (b), {}", f.label), curve.clone()));
        }
    }
    let fig_n2 =
        Figure::new("balancing_scalar", "Scalar balancing flows against their closed forms", "time t", "value")
            .with(Series::points("flow (b), N = 2: μ(t), RK4", m.scalar_b.numeric.clone()))
            .with(Series::line("μ(t) = a / sinh(asinh(a/μ0) + 4at)", m.scalar_b.closed.clone()).styled(Style::Dashed))
            .with(Series::points("flow (a), N = 3: w_1(t), RK4", m.scalar_a.numeric.clone()))
            .with(Series::line("w_1(t)² = e^(−2t) w_1(0)² + c(t)", m.scalar_a.closed.clone()).styled(Style::Dashed));
    vec![fig_mu, fig_n2]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "balancing-flows",
    description: "Balancing flows on a fibre: (a) W' = -W + N dphi^T(M_W^-1 X) keeps the product and gives mu(t) = e^(-2t) mu(0) \
         exactly (any widths); in the scalar case w_j^2 = e^(-2t) w_j(0)^2 + c(t). (b) W' = -grad 1/2|mu|^2 keeps the \
         product; for N = 2 (scalar or SVD-aligned) mu(t) = sgn(mu0) a / sinh(asinh(a/|mu0|) + 4at), a = 2|x|.",
    measure,
    checks,
    figures,
    notes,
};

/// Flow (b) on SVD-aligned 3×3 factors (N = 2): the largest entry error of `W(t)` against
/// `W_1 = Q D_1(t) Vᵀ`, `W_2 = U D_2(t) Qᵀ` with each mode from [`moment_flow_n2`].
fn aligned_moment_flow(t1: f64, h: f64) -> Result<f64> {
    let arch = Arch::deep_linear(&[3, 3, 3, 3])?;
    let o = init::orthogonal(&arch, 1.0, &mut data::rng(63));
    let (v, q, u) = (&o.blocks[0], &o.blocks[1], &o.blocks[2]);
    let d1 = [1.6, 0.5, 1.1];
    let d2 = [0.4, 0.9, -1.2];
    let diag = |d: &[f64]| Mat::from_fn(3, 3, |i, j| if i == j { d[i] } else { 0.0 });
    let w1 = q.matmul(&diag(&d1)).prod(false, v, true);
    let w2 = u.matmul(&diag(&d2)).prod(false, q, true);
    let p0 = Params::new(vec![w1, w2]);
    let model = fibre_model(&[3, 3, 3], &p0.blocks[1].matmul(&p0.blocks[0]))?;
    let traj = integrate(&mut MomentMapFlow, &model, &p0, h, t1, 20, &mut Monitor::new())?;
    let mut errs = Vec::new();
    for (t, p) in traj.times.iter().zip(&traj.states) {
        let mut a = [0.0; 3];
        let mut b = [0.0; 3];
        for i in 0..3 {
            let (_, x1, x2) = moment_flow_n2(&d1[i], &d2[i], t)?;
            a[i] = x1;
            b[i] = x2;
        }
        let e1 = q.matmul(&diag(&a)).prod(false, v, true);
        let e2 = u.matmul(&diag(&b)).prod(false, q, true);
        errs.push(max_abs_diff_mats(&p.blocks, &[e1, e2]));
    }
    Ok(nan_max(errs))
}

/// The `balancing-flows` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "balancing flows on a fibre: mu(t) = e^(-2t) mu(0) for (a), the sinh law for (b) at N = 2",
        run: |ctx| RECIPE.run(ctx),
    }
}
