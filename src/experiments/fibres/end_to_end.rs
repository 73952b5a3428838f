//! `end-to-end`: from balanced initializations the product follows the end-to-end flow
//! $\dot X = -\sum_j (XX^\top)^{(N-j)/N}\nabla L\,(X^\top X)^{(j-1)/N}$; its preconditioner's spectrum and
//! the singular value rates.

use super::common::integrate;
use crate::closed_form::balancing::metric_operator;
use crate::closed_form::end_to_end::{preconditioner_spectrum, product_velocity, singular_value_rates};
use crate::closed_form::lindsey_menon::{act, balanced_point};
use crate::compare::{max_abs_diff, nan_max};
use crate::data;
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::flow::fields::EndToEndFlow;
use crate::flow::GradientFlow;
use crate::invariants::Monitor;
use crate::linalg::{singular_values, thin_svd};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::report::{Figure, Series};

fn balanced_gauged(widths: &[usize], a: &Mat<f64>, seed: u64) -> Result<Params<f64>> {
    // The balanced SVD factorization, moved by random orthogonal matrices on the hidden layers
    // (orthogonal g keeps W_{j+1}^T W_{j+1} = W_j W_j^T).
    let wb = balanced_point(a, widths)?;
    let mut rng = data::rng(seed);
    let g: Vec<Mat<f64>> = widths[1..widths.len() - 1]
        .iter()
        .map(|&d| Mat::from_na(&data::gaussian(d, d, 1.0, &mut rng).to_na().qr().q()))
        .collect();
    act(&wb, &g)
}

/// One network: the product of the parameter flow against the end-to-end flow.
#[derive(Clone, Debug)]
pub struct E2eCase {
    /// Widths, loss and weight decay.
    pub label: &'static str,
    /// $(t, \max|\prod_j W_j(t) - X(t)|)$.
    pub gap: Vec<(f64, f64)>,
    /// The largest of `gap`.
    pub worst: f64,
}

/// What `end-to-end` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Four networks (the first two differ by weight decay).
    pub cases: Vec<E2eCase>,
    /// Per singular value of the first network, $(t, \sigma_r)$ of the parameter flow's product.
    pub sv_param: Vec<Vec<(f64, f64)>>,
    /// The same from the end-to-end flow.
    pub sv_e2e: Vec<Vec<(f64, f64)>>,
    /// At the middle of the first run: $\max_r |\dot\sigma_r - u_r^\top \dot X v_r|$, the predicted rates
    /// against the parameter side.
    pub sv_rate_error: f64,
    /// At the same point: the largest gap between the eigenvalues of $M_W = D\phi\,D\phi^\top$ and the
    /// predicted preconditioner spectrum, relative to the largest eigenvalue.
    pub spectrum_error: f64,
}

/// Parameter flow and end-to-end flow (RK4, $h = 0.005$) from balanced, gauged initializations.
pub fn measure(quick: bool) -> Result<Measured> {
    let t1 = if quick { 1.5 } else { 3.0 };
    let h = 0.005;
    let specs: Vec<(&'static str, Vec<usize>, f64, u64)> = vec![
        ("4-5-5-3 regression", vec![4, 5, 5, 3], 0.0, 81),
        ("4-5-5-3 regression, decay 0.1", vec![4, 5, 5, 3], 0.1, 81),
        ("3-6-4-5 regression", vec![3, 6, 4, 5], 0.0, 82),
        ("4-4-4-4 regression", vec![4, 4, 4, 4], 0.0, 83),
    ];
    let mut cases = Vec::new();
    let (mut sv_param, mut sv_e2e) = (Vec::new(), Vec::new());
    let (mut sv_rate_error, mut spectrum_error) = (f64::NAN, f64::NAN);
    for (label, widths, lambda, seed) in specs {
        let n = widths.len() - 1;
        let (d0, dn) = (widths[0], widths[n]);
        let mut rng = data::rng(seed);
        let w_star = data::gaussian(dn, d0, 1.0, &mut rng);
        // Non-whitened inputs: columns scaled by (1, 0.5, 2, ...).
        let (x_in, y_out) = data::regression(&w_star, 20, 0.1, &mut rng);
        let x_in = Mat::from_fn(x_in.rows(), x_in.cols(), |i, j| x_in.get(i, j) * [1.0, 0.5, 2.0, 0.8][i % 4]);
        let mut model = Model::new(Arch::deep_linear(&widths)?, Loss::regression(x_in, y_out)?)?;
        if lambda > 0.0 {
            model = model.with_weight_decay(lambda)?;
        }
        let a0 = data::gaussian(dn, d0, 0.3, &mut rng);
        let w0 = balanced_gauged(&widths, &a0, seed + 1)?;
        let param = integrate(&mut GradientFlow::new(&model), &model, &w0, h, t1, 60, &mut Monitor::new())?;
        let (mut e2e, e2e_model) = EndToEndFlow::new(&model)?;
        let x0 = Params::new(vec![model.end_to_end(&w0)]);
        let traj = integrate(&mut e2e, &e2e_model, &x0, h, t1, 60, &mut Monitor::new())?;
        let gap: Vec<(f64, f64)> = param
            .times
            .iter()
            .zip(&param.states)
            .zip(&traj.states)
            .map(|((t, p), x)| (*t, max_abs_diff(model.end_to_end(p).as_slice(), x.blocks[0].as_slice())))
            .collect();
        cases.push(E2eCase { label, worst: nan_max(gap.iter().map(|p| p.1)), gap });
        if seed == 81 && lambda == 0.0 {
            for r in 0..dn.min(d0) {
                sv_param.push(
                    param
                        .times
                        .iter()
                        .zip(&param.states)
                        .map(|(t, p)| (*t, singular_values(&model.end_to_end(p)).map(|v| v[r]).unwrap_or(f64::NAN)))
                        .collect(),
                );
                sv_e2e.push(
                    traj.times
                        .iter()
                        .zip(&traj.states)
                        .map(|(t, x)| (*t, singular_values(&x.blocks[0]).map(|v| v[r]).unwrap_or(f64::NAN)))
                        .collect(),
                );
            }
            // Pointwise identities at a balanced point along the run.
            let wm = &param.states[param.states.len() / 2];
            let xm = model.end_to_end(wm);
            let (_, xdot) = product_velocity(&model, wm)?;
            let mut g = xm.zeros_like();
            model.loss.value_grad(&xm, None, &mut g);
            let rates = singular_value_rates(&xm, &g, n, None)?;
            let (u, _, v) = thin_svd(&xm)?;
            let uxv = u.prod(true, &xdot, false).matmul(&v);
            sv_rate_error = nan_max(rates.iter().enumerate().map(|(r, rate)| (rate - uxv.get(r, r)).abs()));
            let m = metric_operator(wm)?.to_na().symmetric_eigen();
            let mut eigs: Vec<f64> = m.eigenvalues.iter().copied().collect();
            eigs.sort_by(|a, b| b.total_cmp(a));
            let spec = preconditioner_spectrum(&xm, n)?;
            spectrum_error = nan_max(eigs.iter().zip(&spec).map(|(a, b)| (a - b).abs())) / spec[0];
        }
    }
    Ok(Measured { cases, sv_param, sv_e2e, sv_rate_error, spectrum_error })
}

/// The product follows the end-to-end flow; the rates and the spectrum match at a balanced point.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = Vec::new();
    for (k, c) in m.cases.iter().enumerate() {
        v.push(Check::at_most(
            format!("product-follows-end-to-end-{}", c.label),
            "max |prod W_j(t) - X(t)| over the run: both RK4 with h = 0.005, global error O(h^4) = 6e-10 times the \
             field's derivatives (inputs scaled up to 2 make Sigma_xx's top eigenvalue ~8, constants up to ~100); 1e-7",
            c.worst,
            1e-7,
        ));
        if k == 0 {
            v.push(Check::at_most(
                "singular-value-rates",
                "sigma_r' = -N (sigma_r^2)^(1-1/N) <grad l, u_r v_r^T> equals u_r^T X' v_r with X' = dphi(-grad L) from the \
                 parameters at a point of the balanced run (balancedness kept to RK4 error 1e-9; 1e-7)",
                m.sv_rate_error,
                1e-7,
            ));
            v.push(Check::at_most(
                "preconditioner-spectrum",
                "eigenvalues of M_W = dphi dphi^T built from the balanced layers equal sum_j sigma_r^(2(N-j)/N) \
                 sigma_r'^(2(j-1)/N) (padded, 0^0 = 1), relative to the largest; balancedness holds to the RK4 error \
                 1e-9, so 1e-7",
                m.spectrum_error,
                1e-7,
            ));
        }
    }
    v
}

/// The gap per network, and the singular values of the first.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut fig_err =
        Figure::new("end_to_end_gap", "Parameter flow vs end-to-end flow", "time t", "max |∏W_j(t) − X(t)|").log_y();
    for c in &m.cases {
        fig_err = fig_err.with(Series::line(c.label, c.gap.clone()));
    }
    let mut fig_sv = Figure::new(
        "end_to_end_singular_values",
        "Singular values: parameter flow (lines), end-to-end flow (markers)",
        "time t",
        "σ_r(t)",
    );
    for (r, (p, e)) in m.sv_param.iter().zip(&m.sv_e2e).enumerate() {
        fig_sv = fig_sv
            .with(Series::line(format!("σ_{}", r + 1), p.clone()))
            .with(Series::points(format!("σ_{} (end-to-end)", r + 1), e.clone()));
    }
    vec![fig_err, fig_sv]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "end-to-end",
    description: "From a balanced initialization the product of the parameter gradient flow solves the end-to-end flow \
         X' = -lambda N X - sum_j (X X^T)^((j-1)/N) grad l(X) (X^T X)^((N-j)/N) (Arora-Cohen-Hazan Thm 1): non-whitened \
         regression, weight decay, rectangular widths. The preconditioner's spectrum and the singular value rates \
         are checked against the parameter side.",
    measure,
    checks,
    figures,
    notes: crate::experiments::no_notes,
};

/// The `end-to-end` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about:
            "end-to-end flow from balanced inits vs the parameter flow; preconditioner spectrum; singular value rates",
        run: |ctx| RECIPE.run(ctx),
    }
}
