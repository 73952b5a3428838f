//! The fixed-step controller: $\lceil t_1/h\rceil$ equal steps of any [`Stepper`].

use super::{Integrate, Stepper};
use crate::error::Result;
use crate::flow::record::{copy_into, Recorder};
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;

/// Equal steps of a one-step method: $n = \lceil t_1/h\rceil$ steps of exactly $t_1/n$, the time
/// of step $k$ computed as $k\,t_1/n$ (no rounding accumulates). Saves at the steps of the
/// recorder's schedule ([`crate::trajectory::Save::steps`] with the actual step $t_1/n$): for
/// `Save::Times`, the first step at or after each time.
pub struct FixedStep<St> {
    /// Requested step (the actual one is $t_1/\lceil t_1/h\rceil \le h$).
    pub h: f64,
    /// The method.
    pub stepper: St,
}

impl<St> FixedStep<St> {
    /// Steps of at most `h` with `stepper`.
    pub fn new(h: f64, stepper: St) -> Self {
        FixedStep { h, stepper }
    }
}

impl<S: Scalar, St: Stepper<S>> Integrate<S> for FixedStep<St> {
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()> {
        let proto = y0.proto();
        let n = (rec.t1 / self.h).ceil() as usize;
        let hs = proto.from_f64_like(rec.t1) / proto.from_i64_like(n.max(1) as i64);
        let hf = rec.t1 / n.max(1) as f64;
        rec.fixed_steps(n, hf);
        let mut y = y0.clone();
        let mut last = y0.clone();
        let mut e = proto.zero_like();
        let mut e_last = proto.zero_like();
        let mut t = proto.zero_like();
        for step in 1..=n {
            copy_into(&mut last, &y);
            e_last.clone_from(&e);
            let energy = if rec.energy { Some(&mut e) } else { None };
            let t_prev = t.clone();
            match self.stepper.step(field, &t, &hs, &mut y, energy) {
                Ok(evals) => rec.stats.rhs_evals += evals,
                Err(fail) => {
                    rec.stats.rhs_evals += fail.evals;
                    rec.stats.rejected += 1;
                    rec.convergence_failure(&*field, &last, &e_last, step - 1, &t_prev, hf, fail.reason);
                    return Ok(());
                }
            }
            // t_k = k·(t1/n) computed from k, so that no rounding accumulates in the time.
            t = hs.clone() * proto.from_i64_like(step as i64);
            if !y.is_finite() {
                rec.non_finite(&*field, &last, &e_last, step - 1, &t_prev, step as f64 * hf);
                return Ok(());
            }
            rec.stats.accepted += 1;
            rec.accepted(&*field, step, &t, &y, &e);
        }
        Ok(())
    }
}
