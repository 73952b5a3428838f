//! What the closed-form experiments share: the flow integrator, diagonal and orthogonal
//! matrices, and the eighth-order difference that checks a closed-form path against the gradient field.

use crate::compare::{max_abs_mats, nan_max};
use crate::data;
use crate::error::{Error, Result};
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::invariants::Monitor;
use crate::mat::Mat;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::{Mp, Scalar};
use crate::trajectory::Trajectory;

/// The integrator of every flow here (one place to switch to a higher-order method).
pub(super) fn integrator(h: f64) -> Integrator {
    Integrator::Rk4 { h }
}

pub(super) fn flow<S: Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    h: f64,
    t1: f64,
    n_save: usize,
) -> Result<Trajectory<S>> {
    let save_times = (1..=n_save).map(|k| t1 * k as f64 / n_save as f64).collect();
    let traj = solve(
        &mut GradientFlow::new(model),
        model,
        p0,
        &integrator(h),
        &SolveOptions { t1, save_times },
        &mut Monitor::new(),
    )?;
    if !traj.outcome.is_done() {
        return Err(Error::Other(format!("flow stopped early: {:?}", traj.outcome)));
    }
    Ok(traj)
}

pub(super) fn diag<S: Scalar>(v: &[S]) -> Mat<S> {
    let z = v[0].zero_like();
    Mat::from_fn(v.len(), v.len(), |i, j| if i == j { v[i].clone() } else { z.clone() })
}

pub(super) fn orthogonal(n: usize, seed: u64) -> Mat<f64> {
    let q = data::gaussian(n, n, 1.0, &mut data::rng(seed)).to_na().qr().q();
    Mat::from_na(&q)
}

/// Eighth-order central difference of `f` at `t` with step `h` (error $O(h^8)$).
pub(super) fn fd8<F: Fn(&Mp) -> Result<Params<Mp>>>(f: &F, t: &Mp, h: &Mp) -> Result<Params<Mp>> {
    let coef = [(1, 4, 5), (2, -1, 5), (3, 4, 105), (4, -1, 280)];
    let mut acc: Option<Params<Mp>> = None;
    for (k, num, den) in coef {
        let kh = h.clone() * t.from_i64_like(k);
        let fp = f(&(t.clone() + kh.clone()))?;
        let fm = f(&(t.clone() - kh))?;
        let c = t.ratio_like(num, den);
        let a = acc.get_or_insert_with(|| fp.zeros_like());
        a.axpy(&c, &fp);
        a.axpy(&-c, &fm);
    }
    let mut a = acc.expect("four terms");
    a.scale_mut(&(t.one_like() / h.clone()));
    Ok(a)
}

/// $\max_t \|\dot\theta(t) + \nabla L(\theta(t))\|_{\max}$ with $\dot\theta$ by [`fd8`] (step $10^{-8}$):
/// how far a closed-form parameter path is from solving the model's gradient flow.
pub(super) fn flow_residual<F: Fn(&Mp) -> Result<Params<Mp>>>(model: &Model<Mp>, f: &F, times: &[Mp]) -> Result<f64> {
    let h = times[0].ratio_like(1, 100_000_000);
    let mut worst = Vec::with_capacity(times.len());
    for t in times {
        let mut d = fd8(f, t, &h)?;
        let (_, g) = model.grad(&f(t)?);
        d.axpy(&t.one_like(), &g);
        worst.push(max_abs_mats(&d.blocks));
    }
    Ok(nan_max(worst))
}
