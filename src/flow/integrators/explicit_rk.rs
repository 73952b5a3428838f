//! One step of an explicit Runge–Kutta tableau (Euler, Heun, RK4, Cooper–Verner RK8):
//! $k_i = F(t + c_ih, y + h\sum_{j<i}a_{ij}k_j)$, $y \leftarrow y + h\sum_i b_ik_i$.

use super::tableau::Tableau;
use super::{StepFailure, Stepper};
use crate::error::{Error, Result};
use crate::flow::record::copy_into;
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;

/// An explicit tableau with its stage buffers; runs in every number type, exact rationals
/// included (then the step is exact).
pub struct ExplicitRk<S: Scalar> {
    tab: Tableau<S>,
    k: Vec<Params<S>>,
    yi: Params<S>,
}

impl<S: Scalar> ExplicitRk<S> {
    /// A stepper for `tab` and states shaped like `y0`; an error if `tab` is implicit.
    pub fn new(tab: Tableau<S>, y0: &Params<S>) -> Result<Self> {
        if !tab.is_explicit() {
            return Err(Error::invalid("tableau", "has a_ij != 0 for j >= i: use GaussLegendre for implicit tableaux"));
        }
        let s = tab.stages();
        Ok(ExplicitRk { tab, k: vec![y0.zeros_like(); s], yi: y0.zeros_like() })
    }
}

/// `yi ← y + h Σ_j a_ij k_j`.
pub(crate) fn stage_point<S: Scalar>(yi: &mut Params<S>, row: &[S], ks: &[Params<S>], y: &Params<S>, h: &S) {
    copy_into(yi, y);
    for (aij, kj) in row.iter().zip(ks) {
        if !aij.is_zero() {
            yi.axpy(&(aij.clone() * h.clone()), kj);
        }
    }
}

/// `y ← y + h Σ b_i k_i`, and `energy += h Σ b_i ‖k_i‖²` when given.
pub(crate) fn update<S: Scalar>(tab: &Tableau<S>, ks: &[Params<S>], h: &S, y: &mut Params<S>, energy: Option<&mut S>) {
    for (bi, ki) in tab.b.iter().zip(ks) {
        if !bi.is_zero() {
            y.axpy(&(bi.clone() * h.clone()), ki);
        }
    }
    if let Some(e) = energy {
        for (bi, ki) in tab.b.iter().zip(ks) {
            *e += &(bi.clone() * h.clone() * ki.norm_sq());
        }
    }
}

impl<S: Scalar> Stepper<S> for ExplicitRk<S> {
    fn step<F: VectorField<S>>(
        &mut self,
        field: &mut F,
        t: &S,
        h: &S,
        y: &mut Params<S>,
        energy: Option<&mut S>,
    ) -> std::result::Result<usize, StepFailure> {
        let s = self.tab.stages();
        for i in 0..s {
            stage_point(&mut self.yi, &self.tab.a[i][..i], &self.k, y, h);
            let ti = t.clone() + self.tab.c[i].clone() * h.clone();
            field.eval(&ti, &self.yi, &mut self.k[i]);
        }
        update(&self.tab, &self.k, h, y, energy);
        Ok(s)
    }
}
