//! One step of an implicit Gauss–Legendre tableau (orders 2, 4, 6), with the stage equations
//! solved by fixed-point iteration down to the working precision. The method conserves every
//! quadratic invariant of the vector field up to the accuracy of the stage equations.

use super::explicit_rk::{stage_point, update};
use super::tableau::Tableau;
use super::{StepFailure, Stepper};
use crate::error::{Error, Result};
use crate::flow::record::{copy_into, epsilon_of, max_abs};
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;

/// An implicit tableau with its stage buffers (`f64` or `Mp`: the iteration stops at the working
/// precision, which exact rationals do not have).
pub struct GaussLegendre<S: Scalar> {
    tab: Tableau<S>,
    k: Vec<Params<S>>,
    k_new: Vec<Params<S>>,
    yi: Params<S>,
    eps: S,
    max_iter: usize,
    /// Fixed-point iterations used by the last step.
    pub last_iterations: usize,
}

impl<S: Scalar> GaussLegendre<S> {
    /// A stepper for the (implicit) tableau `tab` and states shaped like `y0`.
    pub fn new(tab: Tableau<S>, y0: &Params<S>) -> Result<Self> {
        let proto = y0.proto();
        let eps = epsilon_of(&proto).ok_or_else(|| {
            Error::Unsupported(format!(
                "implicit Runge-Kutta methods iterate to the working precision, which {} does not have; use f64 or Mp",
                proto.kind_name()
            ))
        })?;
        let s = tab.stages();
        let bits = proto.precision().unwrap_or(53) as usize;
        Ok(GaussLegendre {
            tab,
            k: vec![y0.zeros_like(); s],
            k_new: vec![y0.zeros_like(); s],
            yi: y0.zeros_like(),
            eps,
            // A contraction by 1/2 per iteration needs `bits` iterations; steps with h·Lipschitz
            // well below the method's stability bound contract much faster.
            max_iter: 2 * bits + 50,
            last_iterations: 0,
        })
    }

    /// Fixed-point iteration $k_i \leftarrow F(t + c_ih, y + h\sum_j a_{ij}k_j)$ from $k_i = F(t, y)$,
    /// until the stage points move by at most ε·max(1, |y|∞) (or stop moving at the rounding level).
    fn solve_stages<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        h: &S,
        y: &Params<S>,
    ) -> std::result::Result<usize, StepFailure> {
        let s = self.tab.stages();
        let one = self.eps.one_like();
        let ymax = max_abs(y);
        let scale = if ymax > one { ymax } else { one.clone() };
        let tol = self.eps.clone() * scale.clone();
        // Rounding in the stage sums keeps the update at a few units in the last place; once it no
        // longer decreases below this level the iteration has converged as far as it can.
        let floor = self.eps.clone() * scale * one.from_i64_like(64);
        field.eval(t, y, &mut self.k[0]);
        let mut evals = 1;
        for i in 1..s {
            let (a, b) = self.k.split_at_mut(i);
            copy_into(&mut b[0], &a[0]);
        }
        let mut prev: Option<S> = None;
        for iter in 1..=self.max_iter {
            for i in 0..s {
                stage_point(&mut self.yi, &self.tab.a[i], &self.k, y, h);
                let ti = t.clone() + self.tab.c[i].clone() * h.clone();
                field.eval(&ti, &self.yi, &mut self.k_new[i]);
                evals += 1;
            }
            if !self.k_new.iter().all(Params::is_finite) {
                std::mem::swap(&mut self.k, &mut self.k_new);
                self.last_iterations = iter;
                return Ok(evals);
            }
            // Change of the stage points: h·max_i |Σ_j a_ij (k_new_j − k_j)|.
            let mut delta = one.zero_like();
            for blk in 0..self.k[0].blocks.len() {
                for idx in 0..self.k[0].blocks[blk].as_slice().len() {
                    for i in 0..s {
                        let mut d = one.zero_like();
                        for j in 0..s {
                            let dj = self.k_new[j].blocks[blk].as_slice()[idx].clone()
                                - self.k[j].blocks[blk].as_slice()[idx].clone();
                            d.mul_add_assign(&self.tab.a[i][j], &dj);
                        }
                        let d = (d * h.clone()).abs();
                        if d > delta {
                            delta = d;
                        }
                    }
                }
            }
            std::mem::swap(&mut self.k, &mut self.k_new);
            let stalled = prev.as_ref().is_some_and(|p| delta >= *p && delta <= floor);
            if delta <= tol || stalled {
                self.last_iterations = iter;
                return Ok(evals);
            }
            prev = Some(delta);
        }
        self.last_iterations = self.max_iter;
        Err(StepFailure {
            evals,
            reason: format!(
                "Gauss-Legendre stage equations did not converge in {} fixed-point iterations \
                 (stage change {:e} against tolerance {:e}): the step h = {} is too large for this vector field \
                 (reduce h)",
                self.max_iter,
                prev.map_or(f64::NAN, |p| p.to_f64()),
                tol.to_f64(),
                h.to_f64()
            ),
        })
    }
}

impl<S: Scalar> Stepper<S> for GaussLegendre<S> {
    fn step<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        h: &S,
        y: &mut Params<S>,
        energy: Option<&mut S>,
    ) -> std::result::Result<usize, StepFailure> {
        let evals = self.solve_stages(field, t, h, y)?;
        update(&self.tab, &self.k, h, y, energy);
        Ok(evals)
    }
}
