//! Taylor's method for polynomial gradient flows, at any precision.
//!
//! Every gradient flow linflow has, $\dot y = -\nabla L(y)$, is polynomial in the parameters. Its
//! solution's Taylor coefficients at $t$ follow from $y_{k+1} = -(\nabla L)_k/(k+1)$, where
//! $(\nabla L)_k$, the order-$k$ coefficient of the gradient along the series $\sum_j y_j s^j$, is
//! computed by running [`Model::grad_into`]'s own operations on series ([`tape`](super::tape)).
//!
//! Order and step follow Jorba & Zou (*A software package for the numerical integration of ODEs
//! by means of high-order Taylor methods*, Experimental Mathematics 14, 2005), as heyoka does: for a
//! tolerance $\varepsilon$ the order is $p = \lceil -\tfrac12\ln\varepsilon + 1\rceil$ and the step
//! $$h = e^{-2}\,e^{-0.7/(p-1)}\min_{m\in\{p-1,p\}}\Bigl(\frac{\max(1,\|y_0\|_\infty)}{\|y_m\|_\infty}\Bigr)^{1/m},$$
//! so that the last terms $\|y_m\|h^m$ are about $e^{-2m}\max(1,\|y_0\|) \approx \varepsilon\max(1,\|y_0\|)$.
//! The step-size rule works on $\log_2$ of the coefficients' magnitudes
//! ([`Scalar::log2_abs`]), so it cannot overflow or underflow at any precision; the state, the
//! series and their sum by Horner's rule are in the working precision. The step lands exactly on
//! every save time (the series is evaluated at the shorter step).
//!
//! One "evaluation" reported in `grad_calls` is one order of the gradient's expansion (a sweep of
//! the tape), so a step of order $p$ counts $p$.

use super::rk::{Recorder, SolveOptions};
use super::tape::record_gradient;
use super::tolerance::Tolerance;
use super::VectorField;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::Outcome;

/// Steps after which a run ends with [`Outcome::StepLimit`].
const MAX_STEPS: usize = 1_000_000;

/// The order Jorba–Zou choose for a tolerance $2^{\ell}$: $\lceil -\tfrac12 \ell\ln 2 + 1\rceil$.
pub fn order_for(log2_tol: f64) -> usize {
    ((-0.5 * log2_tol * std::f64::consts::LN_2 + 1.0).ceil() as usize).max(2)
}

/// Settings of one Taylor run.
pub(crate) struct TaylorSettings<'a> {
    pub tol: &'a Tolerance,
    pub order: Option<usize>,
    pub max_step: Option<f64>,
}

/// Checks a fixed order and a step bound.
pub(crate) fn validate(order: Option<usize>, max_step: Option<f64>) -> Result<()> {
    if let Some(p) = order {
        if !(1..=100_000).contains(&p) {
            return Err(Error::invalid("order", format!("must be between 1 and 100000, got {p}")));
        }
    }
    if let Some(h) = max_step {
        if !(h.is_finite() && h > 0.0) {
            return Err(Error::invalid("max_step", format!("must be finite and > 0, got {h}")));
        }
    }
    Ok(())
}

/// Integrates `field`, which must be the gradient flow of a model, from `y0` over `[0, opts.t1]`,
/// landing on every save time.
pub(crate) fn integrate<S: Scalar, F: VectorField<S>>(
    field: &F,
    y0: &Params<S>,
    set: &TaylorSettings<'_>,
    opts: &SolveOptions,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let model: &Model<S> = field.gradient_flow_of().ok_or_else(|| {
        Error::Unsupported(format!(
            "taylor integrates the gradient flow of a model (a polynomial vector field); {} is not one: use gbs",
            field.name()
        ))
    })?;
    let proto = y0.proto();
    let bits = proto.precision().ok_or_else(|| {
        Error::Unsupported(format!(
            "taylor chooses its step from a tolerance in a floating-point number type (f64 or Mp), not {}",
            proto.kind_name()
        ))
    })?;
    let l2tol = set.tol.log2(bits);
    let ulp = 1.0 - f64::from(bits);
    if l2tol < ulp {
        return Err(Error::invalid(
            "tol",
            format!(
                "tolerance {} (2^{l2tol:.1}) is below one unit in the last place of {} (2^{ulp}): at this \
                 precision the reachable tolerance is about 2^{} (tol = \"auto\"); for this tolerance run at \
                 {} bits or more",
                set.tol,
                proto.kind_name(),
                4 - bits as i64,
                (-l2tol).ceil() as u64 + 8
            ),
        ));
    }
    let p = set.order.unwrap_or_else(|| order_for(l2tol));
    let tape = record_gradient(model, y0, rec.energy)?;
    let nv = tape.nvars;
    let stride = p + 1;
    let mut coef = vec![proto.clone(); tape.slots() * stride];
    let mut e = vec![proto.clone(); stride];
    let neg_k: Vec<S> = (1..=p).map(|k| proto.from_i64_like(-(k as i64))).collect();
    let pos_k: Vec<S> = (1..=p).map(|k| proto.from_i64_like(k as i64)).collect();
    let (mut acc, mut tmp) = (proto.clone(), proto.clone());
    // Jorba–Zou's safety factor e^{-2} e^{-0.7/(p-1)}, in log2.
    let l2safety = (-2.0 - 0.7 / (p as f64 - 1.0).max(1.0)) / std::f64::consts::LN_2;

    let mut targets: Vec<f64> = opts.save_times.iter().copied().filter(|&t| t > 0.0 && t < opts.t1).collect();
    targets.push(opts.t1);
    targets.sort_by(f64::total_cmp);
    targets.dedup();

    let mut y = y0.clone();
    let mut y_last = y0.clone();
    let mut e_total = proto.zero_like();
    let mut t = proto.zero_like();
    let mut tf = 0.0f64;
    let mut steps = 0usize;
    let mut evals = 0usize;
    for &target in &targets {
        if target <= tf {
            continue;
        }
        let target_s = proto.from_f64_like(target);
        while tf < target {
            if steps >= MAX_STEPS {
                rec.traj.grad_calls = evals;
                rec.traj.outcome = Outcome::StepLimit { steps };
                return Ok(());
            }
            for (i, yi) in y.iter().enumerate() {
                coef[i * stride].clone_from(yi);
            }
            for k in 0..p {
                tape.sweep(k, stride, &mut coef, &mut tmp);
                for i in 0..nv {
                    tape.output(i, k, stride, &coef, &mut acc);
                    acc /= &neg_k[k];
                    std::mem::swap(&mut coef[i * stride + k + 1], &mut acc);
                }
                if rec.energy {
                    tape.output(nv, k, stride, &coef, &mut acc);
                    acc /= &pos_k[k];
                    std::mem::swap(&mut e[k + 1], &mut acc);
                }
            }
            evals += p;
            // Step from the last two coefficients, on a log2 scale.
            let norm = |m: usize| (0..nv).map(|i| coef[i * stride + m].log2_abs()).fold(f64::NEG_INFINITY, f64::max);
            let l2y = norm(0).max(0.0);
            let rho = |m: usize| (l2y - norm(m)) / m as f64;
            let l2h = rho(p - 1).min(rho(p)) + l2safety;
            let mut hf = if l2h.is_nan() { f64::INFINITY } else { l2h.exp2() };
            if let Some(ms) = set.max_step {
                hf = hf.min(ms);
            }
            if hf.is_nan() || hf <= 16.0 * f64::EPSILON * tf.abs().max(1.0) {
                rec.traj.grad_calls = evals;
                if !y.is_finite() || norm(p).is_nan() {
                    rec.non_finite(&y_last, steps + 1, &t, tf);
                    return Ok(());
                }
                return Err(Error::Other(format!(
                    "taylor: step size underflow at t = {tf}: the Taylor series of the solution has radius of \
                     convergence about 2^{:.1} there (h = 2^{l2h:.1} at order {p}); the flow is blowing up \
                     near this time",
                    l2h - l2safety
                )));
            }
            let remaining = target - tf;
            let last = hf >= remaining * (1.0 - 1e-12);
            let (hf, hs) = if last {
                (remaining, target_s.clone() - t.clone())
            } else if 2.0 * hf > remaining {
                (remaining / 2.0, proto.from_f64_like(remaining / 2.0))
            } else {
                (hf, proto.from_f64_like(hf))
            };
            std::mem::swap(&mut y_last, &mut y);
            for (i, yi) in y.iter_mut().enumerate() {
                // Horner: y(t+h) = Σ_k y_k h^k.
                let c = &coef[i * stride..(i + 1) * stride];
                yi.clone_from(&c[p]);
                for ck in c[..p].iter().rev() {
                    *yi *= &hs;
                    *yi += ck;
                }
            }
            if rec.energy {
                acc.clone_from(&e[p]);
                for ek in e[1..p].iter().rev() {
                    acc *= &hs;
                    acc += ek;
                }
                acc *= &hs;
                e_total += &acc;
            }
            let t_prev = t.clone();
            t = if last { target_s.clone() } else { t.clone() + hs };
            tf = if last { target } else { tf + hf };
            steps += 1;
            if !y.is_finite() {
                rec.traj.grad_calls = evals;
                rec.non_finite(&y_last, steps, &t_prev, tf);
                return Ok(());
            }
        }
        rec.traj.grad_calls = evals;
        rec.save(&y, &e_total, steps, &t);
    }
    rec.traj.grad_calls = evals;
    Ok(())
}
