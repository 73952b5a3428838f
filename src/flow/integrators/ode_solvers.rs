//! Dormand–Prince 5(4) and 8(5,3) through the `ode_solvers` crate (`f64` only).
//!
//! The parameters are flattened into `ode_solvers`' state vector ([`Params::flatten`] layout) and
//! copied back into reused [`Params`] buffers at each evaluation, so the vector field itself runs
//! allocation-free. The interval is integrated save time by save time, so the solution lands
//! exactly on each; each segment starts from the largest step of the previous one. The energy
//! integral, when tracked, is one more state component with derivative $\|F\|^2$, under the same
//! error control.

use super::Integrate;
use crate::error::{Error, Result};
use crate::flow::record::Recorder;
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;
#[cfg(feature = "ode-solvers")]
use ode_solvers::{DVector, Dop853, Dopri5, OutputType, System};
#[cfg(feature = "ode-solvers")]
use std::cell::{Cell, RefCell};

#[cfg(feature = "ode-solvers")]
struct Sys<'a, S: Scalar, F> {
    field: RefCell<&'a mut F>,
    y: RefCell<Params<S>>,
    dy: RefCell<Params<S>>,
    proto: S,
    n: usize,
    energy: bool,
    evals: Cell<usize>,
    bad: Cell<bool>,
}

#[cfg(feature = "ode-solvers")]
impl<S: Scalar, F: VectorField<S>> System<f64, DVector<f64>> for &Sys<'_, S, F> {
    fn system(&self, x: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        let mut yp = self.y.borrow_mut();
        let mut dp = self.dy.borrow_mut();
        for (d, s) in yp.iter_mut().zip(y.iter()) {
            *d = self.proto.from_f64_like(*s);
        }
        let t = self.proto.from_f64_like(x);
        self.field.borrow_mut().eval(&t, &yp, &mut dp);
        let mut e = 0.0;
        for (d, s) in dy.iter_mut().zip(dp.iter()) {
            let v = s.to_f64();
            *d = v;
            e += v * v;
        }
        if self.energy {
            dy[self.n] = e;
        }
        if !e.is_finite() {
            self.bad.set(true);
        }
        self.evals.set(self.evals.get() + 1);
    }

    fn solout(&mut self, _x: f64, y: &DVector<f64>, _dy: &DVector<f64>) -> bool {
        let finite = y.iter().all(|v| v.is_finite());
        if !finite {
            self.bad.set(true);
        }
        !finite
    }
}

/// `ode_solvers`' Dop853 (`eighth`) or Dopri5 with tolerances `rtol`, `atol` (`f64` only).
pub struct DormandPrince {
    /// Dop853 when true, Dopri5 otherwise.
    pub eighth: bool,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl<S: Scalar> Integrate<S> for DormandPrince {
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()> {
        #[cfg(feature = "ode-solvers")]
        return integrate(field, y0, self.eighth, self.rtol, self.atol, rec);
        #[cfg(not(feature = "ode-solvers"))]
        {
            let _ = (field, y0, rec);
            Err(Error::Unsupported(
                "dopri5 and dop853 run through the `ode_solvers` crate, which needs linflow's `ode-solvers` feature; dp5 and dp8 are the built-in equivalents".into(),
            ))
        }
    }
}

/// Integrates with Dop853 (`eighth`) or Dopri5 over `[0, rec.t1]`, saving at each save time.
#[cfg(feature = "ode-solvers")]
fn integrate<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    y0: &Params<S>,
    eighth: bool,
    rtol: f64,
    atol: f64,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let proto = y0.proto();
    if std::any::TypeId::of::<S>() != std::any::TypeId::of::<f64>() {
        return Err(Error::Unsupported(format!(
            "{} runs in f64 only (ode_solvers); for {} use gbs, rk8 or gauss_legendre",
            if eighth { "dop853" } else { "dopri5" },
            proto.kind_name()
        )));
    }
    let n = y0.len();
    let energy = rec.energy;
    let sys = Sys {
        field: RefCell::new(field),
        y: RefCell::new(y0.clone()),
        dy: RefCell::new(y0.zeros_like()),
        proto: proto.clone(),
        n,
        energy,
        evals: Cell::new(0),
        bad: Cell::new(false),
    };
    let mut state =
        DVector::from_iterator(n + usize::from(energy), y0.iter().map(Scalar::to_f64).chain(energy.then_some(0.0)));
    rec.adaptive()?;
    let name = if eighth { "dop853" } else { "dopri5" };
    let mut t = 0.0;
    let mut h0: f64 = 0.0;
    let mut p = y0.clone();
    let mut step = 0;
    let mut seen = y0.clone();
    // Every accepted state of a segment is kept only for the observers.
    let observing = rec.observing();
    let outputs =
        |ys: &Vec<DVector<f64>>, all: bool| if all { ys.clone() } else { ys.last().cloned().into_iter().collect() };
    while let Some(target) = rec.next_target(t) {
        let span = target - t;
        let h_init = if h0 > 0.0 { h0.min(span) } else { 0.0 };
        sys.bad.set(false);
        let (res, xs, ys) = if eighth {
            let mut s = Dop853::from_param(
                &sys,
                t,
                target,
                span,
                state.clone(),
                rtol,
                atol,
                0.9,
                0.0,
                0.333,
                6.0,
                span,
                h_init,
                100_000,
                // Stiffness detection aborts the run; gradient flows near a minimum can look stiff
                // without being a problem for an error-controlled explicit method, so it is off.
                u32::MAX,
                OutputType::Sparse,
            );
            let r = s.integrate();
            (r, s.x_out().clone(), outputs(s.y_out(), observing))
        } else {
            let mut s = Dopri5::from_param(
                &sys,
                t,
                target,
                span,
                state.clone(),
                rtol,
                atol,
                0.9,
                0.04,
                0.2,
                10.0,
                span,
                h_init,
                100_000,
                u32::MAX,
                OutputType::Sparse,
            );
            let r = s.integrate();
            (r, s.x_out().clone(), outputs(s.y_out(), observing))
        };
        rec.stats.rhs_evals = sys.evals.get();
        let accepted = xs.len().saturating_sub(1);
        // The accepted steps of the segment, in order (the first point is where it started).
        for (i, (x, y)) in xs.iter().zip(&ys).enumerate().skip(1).filter(|_| observing) {
            if y.iter().all(|v| v.is_finite()) && rec.wants_step(step + i) {
                for (d, s) in seen.iter_mut().zip(y.iter()) {
                    *d = proto.from_f64_like(*s);
                }
                rec.observe_step(step + i, &proto.from_f64_like(*x), &seen, None);
            }
        }
        let last_state = ys.last().cloned().filter(|y| y.iter().all(|v| v.is_finite()));
        match (res, last_state) {
            (Ok(_), Some(y)) => {
                step += accepted;
                rec.stats.accepted = step;
                h0 = xs.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
                state = y;
                t = target;
                for (d, s) in p.iter_mut().zip(state.iter()) {
                    *d = proto.from_f64_like(*s);
                }
                let e = proto.from_f64_like(if energy { state[n] } else { 0.0 });
                let f = sys.field.borrow();
                rec.save(&**f, &p, &e, step, &proto.from_f64_like(t));
            }
            (Err(ode_solvers::dop_shared::IntegrationError::MaxNumStepReached { n_step, .. }), _) => {
                // ode_solvers keeps no state of the interrupted segment: the trajectory ends at the
                // last save time reached.
                rec.stats.accepted = step + n_step as usize;
                rec.outcome = crate::trajectory::Outcome::StepLimit { steps: step + n_step as usize };
                return Ok(());
            }
            (r, _) if sys.bad.get() => {
                let at = match &r {
                    Err(ode_solvers::dop_shared::IntegrationError::StepSizeUnderflow { x }) => *x,
                    _ => t,
                };
                let last = rec.last_saved().map_or_else(|| y0.clone(), |s| s.y.clone());
                let e = rec.last_saved().map_or_else(|| proto.zero_like(), |s| s.energy.clone());
                let f = sys.field.borrow();
                rec.non_finite(&**f, &last, &e, step, &proto.from_f64_like(t), at);
                return Ok(());
            }
            (Err(ode_solvers::dop_shared::IntegrationError::StepSizeUnderflow { x }), _) => {
                // The last accepted state of the segment is not returned: the trajectory ends at the
                // last save time reached, `x` is where the step size underflowed.
                rec.stats.accepted = step + accepted;
                rec.outcome = crate::trajectory::Outcome::StepUnderflow {
                    t,
                    h: 0.0,
                    reason: format!("{name}: step size underflow at t = {x} (finite-time blow-up?)"),
                };
                return Ok(());
            }
            (Err(e), _) => return Err(Error::Other(format!("{name}: {e}"))),
            (Ok(_), _) => return Err(Error::Other(format!("{name}: no state returned at t = {target}"))),
        }
    }
    Ok(())
}
