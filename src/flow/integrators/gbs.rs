//! Gragg–Bulirsch–Stoer extrapolation with step-size and order control, generic over the number
//! type (for `f64` and `Mp`).
//!
//! One step of size $H$ runs Gragg's modified midpoint rule with $n_j = 2(j+1)$ substeps of size
//! $h_j = H/n_j$,
//! $$z_0 = y,\quad z_1 = z_0 + h_jF(z_0),\quad z_{m+1} = z_{m-1} + 2h_jF(z_m),$$
//! whose end value $T_{j,0} = z_{n_j}$ has an error expansion in even powers of $h_j$ (Gragg), and
//! extrapolates to $h \to 0$ with the Aitken–Neville scheme
//! $$T_{j,k} = T_{j,k-1} + \frac{T_{j,k-1} - T_{j-1,k-1}}{(n_j/n_{j-k})^2 - 1},$$
//! so that $T_{j,j}$ has order $2j+2$. The difference $T_{j,j} - T_{j,j-1}$ estimates the local
//! error ($O(H^{2j+1})$), which sets the next step ($H\cdot 0.94\,(0.65/\mathrm{err})^{1/(2j+1)}$)
//! and, through the work per unit step $A_j/H_j$ ($A_j$ field evaluations for row $j$), the next
//! row at which to stop (Hairer–Nørsett–Wanner, *Solving ODEs I*, §II.9). The deepest row grows with
//! the number of digits of the working precision, so at 256 bits steps of order 40 and more are
//! taken and tolerances of $10^{-66}$ cost a few thousand evaluations on small problems.
//!
//! All arithmetic on states and error norms is in the working precision; the step-size heuristics
//! work on $\log_2$ of the error norm, which cannot overflow. Tolerances within the last 8% of the
//! working precision's digits are refused with the reason, naming the Taylor integrator
//! ([`log2_min_tolerance`]); a run that cannot reach its tolerance ends with
//! [`crate::trajectory::Outcome::StepUnderflow`] saying which tolerance it could reach.
//! The energy integral, when tracked, is extrapolated with the state as one more component.

use super::Integrate;
use crate::error::{Error, Result};
use crate::flow::record::{copy_into, epsilon_of, max_abs, Recorder};
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;

/// One row of the extrapolation table: states and energy increments.
struct Row<S: Scalar> {
    y: Vec<Params<S>>,
    e: Vec<S>,
}

struct Gbs<S: Scalar> {
    rtol: S,
    atol: S,
    energy: bool,
    n: Vec<usize>,
    work: Vec<f64>,
    prev: Row<S>,
    row: Row<S>,
    zp: Params<S>,
    z: Params<S>,
    fz: Params<S>,
    evals: usize,
}

impl<S: Scalar> Gbs<S> {
    /// Gragg's modified midpoint rule over `[t, t+H]` with `nsub` substeps, from `y` with
    /// `f0 = F(t, y)` and `g0 = ‖f0‖²`; writes the end state into `row.y[0]` and the energy
    /// increment into `row.e[0]`.
    #[allow(clippy::too_many_arguments)]
    fn midpoint<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        y: &Params<S>,
        f0: &Params<S>,
        g0: &S,
        big_h: &S,
        nsub: usize,
    ) {
        let proto = t.zero_like();
        let h = big_h.clone() / proto.from_i64_like(nsub as i64);
        let h2 = h.clone() * proto.from_i64_like(2);
        copy_into(&mut self.zp, y);
        copy_into(&mut self.z, y);
        self.z.axpy(&h, f0);
        let mut ep = proto.clone();
        let mut e = h.clone() * g0.clone();
        for m in 1..nsub {
            let tm = t.clone() + h.clone() * proto.from_i64_like(m as i64);
            field.eval(&tm, &self.z, &mut self.fz);
            self.evals += 1;
            // z_{m+1} = z_{m-1} + 2h F(z_m), written over z_{m-1}, then the roles swap.
            self.zp.axpy(&h2, &self.fz);
            std::mem::swap(&mut self.zp, &mut self.z);
            if self.energy {
                ep += &(h2.clone() * self.fz.norm_sq());
                std::mem::swap(&mut ep, &mut e);
            }
        }
        copy_into(&mut self.row.y[0], &self.z);
        self.row.e[0] = e;
    }

    /// Aitken–Neville: fills `row[1..=j]` from `row[0]` and the previous row.
    fn extrapolate(&mut self, j: usize) {
        let proto = self.rtol.zero_like();
        for k in 1..=j {
            let (a, b) = (self.n[j - k] as i64, self.n[j] as i64);
            let coef = proto.ratio_like(a * a, b * b - a * a);
            let (lo, hi) = self.row.y.split_at_mut(k);
            copy_into(&mut hi[0], &lo[k - 1]);
            hi[0].axpy(&coef, &lo[k - 1]);
            hi[0].axpy(&-coef.clone(), &self.prev.y[k - 1]);
            if self.energy {
                let d = self.row.e[k - 1].clone() - self.prev.e[k - 1].clone();
                self.row.e[k] = self.row.e[k - 1].clone() + d * coef;
            }
        }
    }

    /// $\log_2$ of the scaled RMS norm of `T_{j,j} − T_{j,j−1}`, with scale
    /// `atol + rtol·max(|y|, |T_{j,j}|)`. The sum is accumulated in the working precision and only
    /// its logarithm leaves it, so that no norm overflows or underflows (`+inf` when an entry with
    /// zero scale changed, `NaN` for a non-finite state).
    fn log2_error(&self, j: usize, y: &Params<S>, e0: &S) -> f64 {
        let proto = self.rtol.zero_like();
        let mut sum = proto.clone();
        let mut count = 0usize;
        let mut infinite = false;
        let (new, old) = (&self.row.y[j], &self.row.y[j - 1]);
        let mut term = |a: &S, b: &S, y0: &S| {
            let (ya, yb) = (a.abs(), y0.abs());
            let m = if ya > yb { ya } else { yb };
            let sc = self.atol.clone() + self.rtol.clone() * m;
            let d = a.clone() - b.clone();
            count += 1;
            if sc.is_zero() {
                // atol = 0 on a zero entry: any change there is an infinite relative error.
                infinite |= !d.is_zero();
                return;
            }
            sum += &(d / sc).square();
        };
        for ((a, b), y0) in new.iter().zip(old.iter()).zip(y.iter()) {
            term(a, b, y0);
        }
        if self.energy {
            let a = e0.clone() + self.row.e[j].clone();
            let b = e0.clone() + self.row.e[j - 1].clone();
            term(&a, &b, e0);
        }
        if !sum.is_finite() {
            return f64::NAN;
        }
        if infinite {
            return f64::INFINITY;
        }
        0.5 * (sum.log2_abs() - (count.max(1) as f64).log2())
    }
}

/// $\log_2$ of the smallest tolerance GBS accepts at `bits` bits: rounding in the Aitken–Neville
/// table (its coefficients grow with the row) keeps the error estimate of the deepest rows at
/// several hundred units in the last place, so tolerances within the last 8% of the digits
/// (measured: 1e-66 converges at 256 bits and 1e-72 does not; 1e-140 at 512 bits and 1e-150 not)
/// are refused and the Taylor integrator named.
pub fn log2_min_tolerance(bits: u32) -> f64 {
    -0.92 * f64::from(bits)
}

/// Gragg–Bulirsch–Stoer extrapolation with tolerances `rtol`, `atol` (see the module
/// documentation); lands exactly on every save time.
pub struct Extrapolation {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl<S: Scalar> Integrate<S> for Extrapolation {
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()> {
        integrate(field, y0, self.rtol, self.atol, rec)
    }
}

/// Integrates over `[0, rec.t1]`, landing exactly on every save time.
fn integrate<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    y0: &Params<S>,
    rtol: f64,
    atol: f64,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let proto = y0.proto();
    let eps = epsilon_of(&proto).ok_or_else(|| {
        Error::Unsupported(format!("gbs needs a floating-point number type (f64 or Mp), not {}", proto.kind_name()))
    })?;
    let bits = proto.precision().unwrap_or(53);
    let l2eps = eps.log2_abs();
    let l2min = log2_min_tolerance(bits).max(l2eps + 4.0);
    let l2tol = rtol.max(atol).log2();
    if l2tol < l2min {
        return Err(Error::invalid(
            "rtol",
            format!(
                "tolerances rtol {rtol:e}, atol {atol:e} are beyond what extrapolation reaches in {} \
                 (about 2^{l2min:.0}: rounding in the extrapolation table); use integrator \
                 {{ kind = \"taylor\", tol = \"{rtol:e}\" }} (it reaches a few units of the working \
                 precision, 2^{}), or raise the precision",
                proto.kind_name(),
                4 - bits as i64
            ),
        ));
    }
    let digits = -l2eps * std::f64::consts::LOG10_2;
    // Deepest row: order 2(kmax)+... grows with the digits asked for; 9 rows for f64 as in ODEX.
    let kmax = ((digits / 3.0).ceil() as usize + 4).clamp(8, 48);
    let n: Vec<usize> = (0..=kmax).map(|j| 2 * (j + 1)).collect();
    // A_j: evaluations for rows 0..=j, sharing F(t, y).
    let work: Vec<f64> = (0..=kmax).map(|j| 1.0 + n[..=j].iter().map(|&x| (x - 1) as f64).sum::<f64>()).collect();
    let energy = rec.energy;
    let mk_row = || Row { y: vec![y0.zeros_like(); kmax + 1], e: vec![proto.zero_like(); kmax + 1] };
    let mut g = Gbs {
        rtol: proto.from_f64_like(rtol),
        atol: proto.from_f64_like(atol),
        energy,
        n,
        work,
        prev: mk_row(),
        row: mk_row(),
        zp: y0.clone(),
        z: y0.clone(),
        fz: y0.zeros_like(),
        evals: 0,
    };
    // Initial row target from the tolerance (ODEX: k = 0.6·digits + 1.5 columns).
    let tol_digits = -rtol.max(f64::MIN_POSITIVE).log10();
    let mut kc = ((0.6 * tol_digits + 0.5) as usize).clamp(2, kmax - 1);

    rec.adaptive()?;

    let mut y = y0.clone();
    let mut y_last = y0.clone();
    let mut f0 = y0.zeros_like();
    let mut e_total = proto.zero_like();
    let mut t = proto.zero_like();
    let mut tf = 0.0f64;
    field.eval(&t, &y, &mut f0);
    g.evals += 1;
    let mut f0_valid = true;
    let ymax = max_abs(&y).to_f64();
    let fmax = max_abs(&f0).to_f64();
    let mut h_prop = if ymax > 0.0 && fmax > 0.0 { 0.1 * ymax / fmax } else { 0.01 };
    let mut steps = 0usize;
    const MAX_STEPS: usize = 1_000_000;
    let mut hopt = vec![0.0f64; kmax + 1];
    // Smallest scaled error (log2) among rejected steps, to say what tolerance was reachable.
    let mut l2best = f64::INFINITY;
    while let Some(target) = rec.next_target(tf) {
        let target_s = proto.from_f64_like(target);
        let mut rejects = 0usize;
        while tf < target {
            if steps >= MAX_STEPS {
                rec.stats.rhs_evals = g.evals;
                rec.step_limit(&*field, &y, &e_total, steps, &t);
                return Ok(());
            }
            let remaining = target - tf;
            let last = h_prop >= remaining * (1.0 - 1e-12);
            let (hf, hs) = if last {
                (remaining, target_s.clone() - t.clone())
            } else if 2.0 * h_prop > remaining {
                // Two equal steps to the target rather than a full one and a sliver.
                (remaining / 2.0, proto.from_f64_like(remaining / 2.0))
            } else {
                (h_prop, proto.from_f64_like(h_prop))
            };
            if !f0_valid {
                field.eval(&t, &y, &mut f0);
                g.evals += 1;
                f0_valid = true;
            }
            let g0 = if energy { f0.norm_sq() } else { proto.zero_like() };
            let top = (kc + 1).min(kmax);
            let mut accepted: Option<usize> = None;
            let mut last_row = 0;
            let mut nonfinite = false;
            #[allow(clippy::needless_range_loop)] // j also selects n_j and the table column
            for j in 0..=top {
                g.midpoint(field, &t, &y, &f0, &g0, &hs, g.n[j]);
                g.extrapolate(j);
                last_row = j;
                if j >= 1 {
                    let l2err = g.log2_error(j, &y, &e_total);
                    if l2err.is_nan() {
                        nonfinite = true;
                        break;
                    }
                    l2best = l2best.min(l2err);
                    let expo = 1.0 / (2 * j + 1) as f64;
                    // 0.94·(0.65/err)^(1/(2j+1)) on a log2 scale.
                    let fac = (0.94 * ((0.65f64.log2() - l2err) * expo).exp2()).clamp(0.02, 4.0);
                    hopt[j] = hf * fac;
                    if j + 1 >= kc && l2err <= 0.0 {
                        accepted = Some(j);
                        break;
                    }
                    // Convergence monitor: give up early when the error cannot reach the
                    // tolerance by row kc+1 (its expected decrease per row is (n_{j+1}/n_0)^2).
                    if j + 1 >= kc {
                        let l2reach: f64 =
                            ((j + 1)..=top).map(|i| 2.0 * (g.n[i] as f64 / g.n[0] as f64).log2()).sum::<f64>();
                        if l2err > l2reach {
                            break;
                        }
                    }
                }
                std::mem::swap(&mut g.prev, &mut g.row);
            }
            match accepted {
                Some(j) => {
                    copy_into(&mut y_last, &y);
                    copy_into(&mut y, &g.row.y[j]);
                    e_total += &g.row.e[j];
                    t = if last { target_s.clone() } else { t.clone() + hs.clone() };
                    tf = if last { target } else { tf + hf };
                    f0_valid = false;
                    steps += 1;
                    rejects = 0;
                    l2best = f64::INFINITY;
                    rec.stats.accepted += 1;
                    if !y.is_finite() {
                        rec.stats.rhs_evals = g.evals;
                        let e_last = e_total.clone() - g.row.e[j].clone();
                        rec.non_finite(&*field, &y_last, &e_last, steps - 1, &(t.clone() - hs.clone()), tf);
                        return Ok(());
                    }
                    rec.observe_step(steps, &t, &y, None);
                    // Next row and step: compare work per unit step of rows j−1 and j.
                    let w = |i: usize| g.work[i] / hopt[i].max(f64::MIN_POSITIVE);
                    let (knew, hnew) = if j >= 2 && w(j - 1) < 0.8 * w(j) {
                        (j - 1, hopt[j - 1])
                    } else if j + 1 < kmax && (j < 2 || w(j) < 0.9 * w(j - 1)) {
                        (j + 1, hopt[j] * g.work[j + 1] / g.work[j])
                    } else {
                        (j, hopt[j])
                    };
                    kc = knew.clamp(2, kmax - 1);
                    // A step cut short to land on a save time says little about the natural step.
                    h_prop = if last { hnew.max(h_prop) } else { hnew };
                }
                None => {
                    rejects += 1;
                    rec.stats.rejected += 1;
                    h_prop = if nonfinite || hopt[last_row.max(1)] <= 0.0 {
                        hf * 0.25
                    } else {
                        hopt[last_row.max(1)].min(0.9 * hf)
                    };
                    kc = kc.min(last_row.max(2)).clamp(2, kmax - 1);
                    if h_prop <= 16.0 * f64::EPSILON * tf.abs().max(1.0) || rejects > 100 {
                        rec.stats.rhs_evals = g.evals;
                        if nonfinite {
                            rec.non_finite(&*field, &y, &e_total, steps, &t, tf);
                            return Ok(());
                        }
                        let could = l2tol + l2best.max(0.0);
                        let reason = format!(
                            "gbs: step size underflow after {rejects} rejected steps: the best error estimate \
                             was 2^{l2best:.1} times the tolerance, so this run could reach a tolerance of about \
                             2^{could:.0} ({:.1e}) here (rounding in the extrapolation table, or a singularity of \
                             the flow near t = {tf}); loosen the tolerance or use integrator taylor",
                            could.exp2()
                        );
                        rec.step_underflow(&*field, &y, &e_total, steps, &t, h_prop, reason);
                        return Ok(());
                    }
                }
            }
            hopt.iter_mut().for_each(|x| *x = 0.0);
        }
        rec.stats.rhs_evals = g.evals;
        rec.save(&*field, &y, &e_total, steps, &t);
    }
    rec.stats.rhs_evals = g.evals;
    Ok(())
}
