//! Taylor's method for polynomial gradient flows, at any precision.
//!
//! Every gradient flow linflow has, $\dot y = -\nabla L(y)$, is polynomial in the parameters. Its
//! solution's Taylor coefficients at $t$ follow from $y_{k+1} = -(\nabla L)_k/(k+1)$, where
//! $(\nabla L)_k$, the order-$k$ coefficient of the gradient along the series $\sum_j y_j s^j$, is
//! computed by running [`crate::model::Model::grad_into`]'s own operations on series
//! ([`crate::flow::tape`]).
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
//! One "evaluation" reported in `rhs_evals` is one order of the gradient's expansion (a sweep of
//! the tape), so a step of order $p$ counts $p$.

use super::Integrate;
use crate::error::{Error, Result};
use crate::flow::fixed_series::FixedSeries;
use crate::flow::record::Recorder;
use crate::flow::tape::record_gradient;
use crate::flow::tolerance::Tolerance;
use crate::flow::VectorField;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::{Mp, Scalar};
use std::any::Any;

/// Steps after which a run ends with [`crate::trajectory::Outcome::StepLimit`].
const MAX_STEPS: usize = 1_000_000;

/// Up to this precision `Mp` runs compute their coefficients in fixed point
/// ([`crate::flow::fixed_series`]): on W2 (`linflow bench --w2-bits`) it takes 0.6× the CPU time of
/// the MPFR sweep at 256 bits and about 0.8× at 512, but 1.25× at 1024 bits, where the limb
/// products dominate and MPFR's tapered precisions multiply fewer limbs than full integer products.
const FIXED_POINT_MAX_BITS: u32 = 768;

/// log₂ of the fixed-point step scale σ above the last step (the next step may be a little longer;
/// a step never exceeds σ, and each order's scaled coefficient carries about `k · SIGMA_MARGIN`
/// bits more than the term of the step needs).
const SIGMA_MARGIN: f64 = 0.2;

/// The order Jorba–Zou choose for a tolerance $2^{\ell}$: $\lceil -\tfrac12 \ell\ln 2 + 1\rceil$.
pub fn order_for(log2_tol: f64) -> usize {
    ((-0.5 * log2_tol * std::f64::consts::LN_2 + 1.0).ceil() as usize).max(2)
}

/// Taylor's method with tolerance `tol` (order and step from it), or a fixed `order`, steps at
/// most `max_step`; lands exactly on every save time. Integrates only gradient flows of a model
/// ([`VectorField::gradient_flow_of`]), in `f64` or `Mp`.
pub struct TaylorSeries {
    /// Tolerance (exact; `Auto` is a few ulps of the working precision).
    pub tol: Tolerance,
    /// Fixed order instead of the tolerance's.
    pub order: Option<usize>,
    /// Upper bound on the step.
    pub max_step: Option<f64>,
}

impl TaylorSeries {
    /// Checks a fixed order and a step bound.
    pub fn validate(order: Option<usize>, max_step: Option<f64>) -> Result<()> {
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
}

impl<S: Scalar> Integrate<S> for TaylorSeries {
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()> {
        let model: &Model<S> = field.gradient_flow_of().ok_or_else(|| {
            Error::Unsupported(format!(
                "taylor integrates the gradient flow of a model (a polynomial vector field); {} is not one: \
                 use gbs",
                field.name()
            ))
        })?;
        let scale = field.time_scale();
        integrate(self, &*field, model, scale.as_ref(), y0, rec)
    }
}

/// Precision tapering: the order-$k$ term $y_k h^k$ of a step is about $2^{r_k}\max(1,\|y\|)$
/// with $r_k \approx -2k\log_2 e$ (Jorba–Zou's step makes the last terms about the tolerance), so
/// rounding its coefficients to $b + r_k + g$ bits ($b$ the working precision, $g$ guard bits)
/// errs by $2^{-b-g}\max(1,\|y\|)$ in the sum, the same as full precision; errors of order $j$
/// reach order $k > j$ through products with terms of order $k-j$, which scale them by $2^{r_{k-j}}$,
/// so they stay at that size too. Products of high orders then cost a fraction of full-precision
/// ones (MPFR's cost grows with the operands' limbs). The bits come from the previous step's
/// terms (the first step assumes Jorba–Zou's $r_k = k\log_2\varepsilon/p$); a step whose terms
/// turn out to need more than its orders had, less a margin, is recomputed with enough.
struct Taper {
    /// Working precision.
    full: u32,
    /// Bits of each order, `0..=p`.
    bits: Vec<u32>,
    /// Bits the coefficient arrays currently have (to skip unchanged orders).
    applied: Vec<u32>,
}

impl Taper {
    /// Guard bits above the need (cancellation in the series' sums and products).
    const GUARD: f64 = 32.0;
    /// A step is recomputed when an order had fewer than need + `MARGIN` bits.
    const MARGIN: f64 = 8.0;
    /// Fewest bits of any order.
    const MIN_BITS: u32 = 64;

    fn new(full: u32, p: usize, l2tol: f64) -> Self {
        let mut t = Taper { full, bits: vec![full; p + 1], applied: vec![0; p + 1] };
        let rel: Vec<f64> = (0..=p).map(|k| k as f64 * l2tol.min(0.0) / p as f64).collect();
        t.update(&rel);
        t
    }

    /// Sets the precision of every coefficient of each order (coefficient `j` of slot `s` is at
    /// `s * stride + j`) and of the energy series.
    fn apply<S: Scalar>(&mut self, coef: &mut [S], e: &mut [S], stride: usize) {
        for (k, (done, &want)) in self.applied.iter_mut().zip(&self.bits).enumerate() {
            if *done != want {
                for c in coef.iter_mut().skip(k).step_by(stride) {
                    c.set_precision(want);
                }
                e[k].set_precision(want);
                *done = want;
            }
        }
    }

    /// From the terms $\log_2(|y_k|h^k/\max(1,\|y\|))$ of the step just computed: whether its
    /// orders had enough bits; sets the bits for the next step (or the redo) either way.
    fn update(&mut self, rel: &[f64]) -> bool {
        let full = f64::from(self.full);
        let mut enough = true;
        for (b, r) in self.bits.iter_mut().zip(rel) {
            let r = if r.is_nan() { 0.0 } else { r.min(0.0) };
            let need = full + r;
            if f64::from(*b) < (need + Self::MARGIN).min(full) {
                enough = false;
            }
            // Whole 64-bit limbs: MPFR's cost is per limb, and its fast paths want full limbs.
            let want = ((need + Self::GUARD).max(1.0) / 64.0).ceil() as u32 * 64;
            *b = want.min(self.full).max(Self::MIN_BITS.min(self.full));
        }
        enough
    }
}

/// The refusal of a tolerance below the working precision, if it is.
fn check_tolerance(tol: &Tolerance, kind: &str, bits: u32) -> Result<f64> {
    let l2tol = tol.log2(bits);
    let ulp = 1.0 - f64::from(bits);
    if l2tol < ulp {
        return Err(Error::invalid(
            "tol",
            format!(
                "tolerance {tol} (2^{l2tol:.1}) is below one unit in the last place of {kind} (2^{ulp}): at this \
                 precision the reachable tolerance is about 2^{} (tol = \"auto\"); for this tolerance run at \
                 {} bits or more",
                4 - bits as i64,
                (-l2tol).ceil() as u64 + 8
            ),
        ));
    }
    Ok(l2tol)
}

/// Integrates $\dot y = -c\,\nabla L(y)$ ($c$ = `scale`, 1 when `None`): the order-$(k+1)$
/// coefficients are $c/(k+1)$ times the tape's order-$k$ outputs, so each step's series is that
/// of the gradient flow at the rescaled time.
fn integrate<S: Scalar>(
    set: &TaylorSeries,
    field: &dyn VectorField<S>,
    model: &Model<S>,
    scale: Option<&S>,
    y0: &Params<S>,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let proto = y0.proto();
    let bits = proto.precision().ok_or_else(|| {
        Error::Unsupported(format!(
            "taylor chooses its step from a tolerance in a floating-point number type (f64 or Mp), not {}",
            proto.kind_name()
        ))
    })?;
    let l2tol = check_tolerance(&set.tol, &proto.kind_name(), bits)?;
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
    // Bits of each order's coefficients (all slots): the working precision at first, then what the
    // last step's coefficients needed (see `Taper`).
    let mut taper = Taper::new(bits, p, l2tol);
    // In `Mp` the coefficients are computed in fixed point (one rounding per Cauchy sum; see
    // `flow::fixed_series`) with a step scale σ = 2^l2sigma kept at least the step, up to
    // `FIXED_POINT_MAX_BITS`.
    let as_mp = (&tape as &dyn Any).downcast_ref::<crate::flow::tape::Tape<Mp>>();
    let mut fixed = as_mp.filter(|_| bits <= FIXED_POINT_MAX_BITS).map(|t| {
        let c = scale.and_then(|c| (c as &dyn Any).downcast_ref::<Mp>());
        FixedSeries::new(t, p, bits + Taper::GUARD as u32).with_time_scale(c)
    });
    let mut l2sigma = 0.0f64;
    let mut sigma_estimated = false;

    rec.adaptive()?;
    let mut y = y0.clone();
    let mut y_last = y0.clone();
    let mut e_total = proto.zero_like();
    let mut e_last = proto.zero_like();
    let mut t = proto.zero_like();
    let mut tf = 0.0f64;
    let mut steps = 0usize;
    while let Some(target) = rec.next_target(tf) {
        let target_s = proto.from_f64_like(target);
        while tf < target {
            if steps >= MAX_STEPS {
                rec.step_limit(field, &y, &e_total, steps, &t);
                return Ok(());
            }
            let l2h = loop {
                taper.apply(&mut coef, &mut e, stride);
                if let Some(fx) = fixed.as_mut() {
                    let tape_mp = (&tape as &dyn Any).downcast_ref::<crate::flow::tape::Tape<Mp>>();
                    let y_mp: Vec<&Mp> = y.iter().filter_map(|v| (v as &dyn Any).downcast_ref::<Mp>()).collect();
                    let coef_mp = (&mut coef as &mut dyn Any).downcast_mut::<Vec<Mp>>();
                    let e_mp = (&mut e as &mut dyn Any).downcast_mut::<Vec<Mp>>();
                    if let (Some(t), Some(c), Some(ev)) = (tape_mp, coef_mp, e_mp) {
                        if steps == 0 && !sigma_estimated && p >= 16 {
                            // A first σ from the step that a quarter of the orders suggest (at
                            // (1/4)² of a step's cost), so that the first step is not computed twice.
                            let m = p / 4;
                            let one = Mp::with_val(bits, 1);
                            fx.flow_coefficients(t, &y_mp, &one, c, None, m);
                            let l2c = |k: usize| {
                                (0..nv).map(|i| c[i * stride + k].log2_abs()).fold(f64::NEG_INFINITY, f64::max)
                            };
                            let l2y = l2c(0).max(0.0);
                            let est = ((l2y - l2c(m - 1)) / (m - 1) as f64).min((l2y - l2c(m)) / m as f64) + l2safety;
                            if est.is_finite() {
                                l2sigma = (est + SIGMA_MARGIN).clamp(-4096.0, 64.0);
                            }
                            sigma_estimated = true;
                        }
                        // 2^l2sigma in Mp: below 2^-1074 an f64 power would be zero.
                        let mut sigma = Mp::with_val(bits, l2sigma);
                        sigma.exp2_mut();
                        fx.flow_coefficients(t, &y_mp, &sigma, c, rec.energy.then_some(ev.as_mut_slice()), p);
                    }
                } else {
                    for (i, yi) in y.iter().enumerate() {
                        coef[i * stride].assign_round(yi);
                    }
                    for k in 0..p {
                        tmp.set_precision(taper.bits[k]);
                        acc.set_precision(taper.bits[k + 1]);
                        tape.sweep(k, stride, &mut coef, &mut tmp);
                        for i in 0..nv {
                            tape.output(i, k, stride, &coef, &mut acc);
                            acc /= &neg_k[k];
                            if let Some(c) = scale {
                                acc *= c;
                            }
                            std::mem::swap(&mut coef[i * stride + k + 1], &mut acc);
                        }
                        if rec.energy {
                            tape.output(nv, k, stride, &coef, &mut acc);
                            acc /= &pos_k[k];
                            if let Some(c) = scale {
                                acc *= c;
                            }
                            std::mem::swap(&mut e[k + 1], &mut acc);
                        }
                    }
                }
                rec.stats.rhs_evals += p;
                // Step from the last two coefficients, on a log2 scale.
                let l2c: Vec<f64> = (0..=p)
                    .map(|m| (0..nv).map(|i| coef[i * stride + m].log2_abs()).fold(f64::NEG_INFINITY, f64::max))
                    .collect();
                let l2y = l2c[0].max(0.0);
                let rho = |m: usize| (l2y - l2c[m]) / m as f64;
                let l2h = rho(p - 1).min(rho(p)) + l2safety;
                if fixed.is_some() && l2h.is_finite() && l2h < l2sigma - 0.5 {
                    // σ well above the step: the scaled terms decay slower than the step's and carry
                    // more limbs than they need; redo with σ at the step.
                    l2sigma = (l2h + SIGMA_MARGIN).max(-4096.0);
                    rec.stats.rejected += 1;
                    continue;
                }
                // The terms y_k h^k relative to max(1, |y|), with h at most the rest of the horizon
                // (and, in fixed point, at most σ).
                let mut l2h_used = l2h.min((rec.t1 - tf).max(f64::MIN_POSITIVE).log2());
                if fixed.is_some() && l2h.is_finite() {
                    l2h_used = l2h_used.min(l2sigma);
                }
                let rel: Vec<f64> = l2c.iter().enumerate().map(|(k, c)| c + k as f64 * l2h_used - l2y).collect();
                if taper.update(&rel) {
                    break l2h;
                }
                // Some order was carried in too few bits for this step: redo it with enough.
                rec.stats.rejected += 1;
            };
            let mut hf = if l2h.is_nan() { f64::INFINITY } else { l2h.exp2() };
            if let Some(ms) = set.max_step {
                hf = hf.min(ms);
            }
            if fixed.is_some() && l2h.is_finite() {
                // The fixed-point error bound needs h ≤ σ; the next step's σ follows this one's h.
                hf = hf.min(l2sigma.exp2());
                l2sigma = (l2h + SIGMA_MARGIN).clamp(-4096.0, 64.0);
            }
            if !coef[..nv * stride].iter().all(S::is_finite) {
                // A coefficient overflowed the number type: the state is finite, its series is not.
                rec.step_underflow(
                    field,
                    &y,
                    &e_total,
                    steps,
                    &t,
                    0.0,
                    format!("taylor: a Taylor coefficient of order <= {p} is not finite at t = {tf}"),
                );
                return Ok(());
            }
            if hf <= 16.0 * f64::EPSILON * tf.abs().max(1.0) {
                rec.step_underflow(
                    field,
                    &y,
                    &e_total,
                    steps,
                    &t,
                    hf,
                    format!(
                        "taylor: the Taylor series of the solution has radius of convergence about 2^{:.1} at \
                         t = {tf} (h = 2^{l2h:.1} at order {p}); the flow is blowing up near this time",
                        l2h - l2safety
                    ),
                );
                return Ok(());
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
            e_last.clone_from(&e_total);
            for (i, yi) in y.iter_mut().enumerate() {
                // Horner: y(t+h) = Σ_k y_k h^k.
                let c = &coef[i * stride..(i + 1) * stride];
                yi.assign_round(&c[p]);
                for ck in c[..p].iter().rev() {
                    *yi *= &hs;
                    *yi += ck;
                }
            }
            if rec.energy {
                acc.set_precision(bits);
                acc.assign_round(&e[p]);
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
            rec.stats.accepted += 1;
            if !y.is_finite() {
                rec.non_finite(field, &y_last, &e_last, steps - 1, &t_prev, tf);
                return Ok(());
            }
            rec.observe_step(steps, &t, &y, None);
        }
        rec.save(field, &y, &e_total, steps, &t);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taper_bits_follow_the_terms_and_a_short_order_forces_a_redo() {
        // 256 bits, order 4, tolerance 2^-252: the a-priori terms are 2^(-63k); order k needs
        // 256 - 63k bits, plus 32 guard bits, in whole limbs, at least one limb.
        let mut t = Taper::new(256, 4, -252.0);
        assert_eq!(t.bits, vec![256, 256, 192, 128, 64]);
        // Terms as assumed: the orders had enough.
        assert!(t.update(&[0.0, -63.0, -126.0, -189.0, -252.0]));
        assert_eq!(t.bits, vec![256, 256, 192, 128, 64]);
        // Negative control: terms that do not decay need every order at full precision.
        assert!(!t.update(&[0.0, 0.0, 0.0, -1.0, -2.0]));
        assert_eq!(t.bits, vec![256; 5]);
        // f64 keeps its 53 bits whatever the terms.
        let mut f = Taper::new(53, 3, -50.0);
        assert!(f.update(&[0.0, -40.0, -80.0, f64::NEG_INFINITY]));
        assert_eq!(f.bits, vec![53; 4]);
    }
}
