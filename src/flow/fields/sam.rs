//! SAM's and USAM's continuous limits and gradient descent's modified flow, with exact
//! Hessian-vector products ([`Hvp`]) where they need $\nabla^2 L\,\nabla L$.
//!
//! | field | equation |
//! |---|---|
//! | [`SamFlow`] exact | $\dot w = -\nabla L\bigl(w + \rho\,\nabla L(w)/\|\nabla L(w)\|\bigr)$ (SAM as $\eta\to 0$ at fixed $\rho$) |
//! | [`SamFlow`] modified | $\dot w = -\nabla\bigl(L + \rho\|\nabla L\|\bigr) = -(g + \rho Hg/\|g\|)$ |
//! | [`UsamFlow`] exact | $\dot w = -\nabla L\bigl(w + \rho\,\nabla L(w)\bigr)$ |
//! | [`UsamFlow`] modified | $\dot w = -\nabla\bigl(L + \tfrac{\rho}{2}\|\nabla L\|^2\bigr) = -(g + \rho Hg)$ |
//! | [`ModifiedGdFlow`] | $\dot w = -\nabla\bigl(L + \tfrac{\eta}{4}\|\nabla L\|^2\bigr) = -(g + \tfrac{\eta}{2} Hg)$ |
//!
//! Here $g = \nabla L(w)$ and $H = \nabla^2 L(w)$.

use super::hvp::Hvp;
use crate::error::{Error, Result};
use crate::flow::VectorField;
use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::{Real, Scalar};

/// Which continuous limit of a SAM-type method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamForm {
    /// The exact small-step limit at fixed ρ: the gradient at the ascent point.
    Exact,
    /// The first-order modified flow (gradient flow of the penalized loss).
    Modified,
}

/// SAM's continuous limits (joint normalization over all blocks), see the [module](self) table.
/// Where $\nabla L = 0$ the ascent direction is taken as zero, as in the discrete method.
pub struct SamFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    rho: S,
    form: SamForm,
    ws: Option<Workspace<S>>,
    hvp: Option<Hvp<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Real> SamFlow<'a, S> {
    /// SAM's flow with radius `rho` (≥ 0, finite) in the given form.
    pub fn new(model: &'a Model<S>, rho: S, form: SamForm) -> Result<Self> {
        check_nonneg("rho", &rho)?;
        if form == SamForm::Modified {
            model.loss.refuse_custom("the modified SAM flow (exact Hessian-vector products)")?;
        }
        Ok(SamFlow { model, rho, form, ws: None, hvp: None, g: None })
    }
}

impl<S: Real> VectorField<S> for SamFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        match self.form {
            SamForm::Exact => {
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let norm = g.norm_sq().sqrt();
                let mut pert = y.clone();
                if !norm.is_zero() {
                    pert.axpy(&(self.rho.clone() / norm), g);
                }
                self.model.grad_into(ws, &pert, None, dy);
            }
            SamForm::Modified => {
                let hvp = self.hvp.get_or_insert_with(|| Hvp::new(self.model));
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let gc = g.clone();
                hvp.eval(y, &gc, g, dy);
                let norm = g.norm_sq().sqrt();
                if norm.is_zero() {
                    dy.clone_from(g);
                } else {
                    dy.scale_mut(&(self.rho.clone() / norm));
                    dy.axpy(&self.rho.one_like(), g);
                }
            }
        }
        dy.scale_mut(&-self.rho.one_like());
    }
    /// The exact form takes the gradient at the point and at the ascent point; the modified form
    /// one gradient and one Hessian-vector product (a gradient pass on dual numbers).
    fn gradient_calls(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        match self.form {
            SamForm::Exact => format!("SAM flow (rho = {})", self.rho.to_f64()),
            SamForm::Modified => format!("SAM modified flow on L + rho |grad L| (rho = {})", self.rho.to_f64()),
        }
    }
}

fn check_nonneg<S: Scalar>(field: &str, x: &S) -> Result<()> {
    if !x.is_finite() || *x < x.zero_like() {
        return Err(Error::invalid(field, format!("must be finite and >= 0, got {x}")));
    }
    Ok(())
}

/// Gradient flow of $L + \tfrac{c}{2}\|\nabla L\|^2$: writes $-(g + cHg)$ into `dy` (one plain
/// gradient for $g$, then one dual pass for $Hg$).
fn grad_norm_penalty<S: Scalar>(
    model: &Model<S>,
    ws: &mut Workspace<S>,
    hvp: &mut Hvp<S>,
    g: &mut Params<S>,
    c: &S,
    y: &Params<S>,
    dy: &mut Params<S>,
) {
    model.grad_into(ws, y, None, g);
    let gc = g.clone();
    hvp.eval(y, &gc, g, dy);
    dy.scale_mut(c);
    dy.axpy(&c.one_like(), g);
    dy.scale_mut(&-c.one_like());
}

/// USAM's continuous limits (no normalization), see the [module](self) table. Polynomial fields:
/// they run in every number type, exact rationals included.
pub struct UsamFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    rho: S,
    form: SamForm,
    ws: Option<Workspace<S>>,
    hvp: Option<Hvp<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> UsamFlow<'a, S> {
    /// USAM's flow with ascent factor `rho` (≥ 0, finite) in the given form.
    pub fn new(model: &'a Model<S>, rho: S, form: SamForm) -> Result<Self> {
        check_nonneg("rho", &rho)?;
        if form == SamForm::Modified {
            model.loss.refuse_custom("the modified USAM flow (exact Hessian-vector products)")?;
        }
        Ok(UsamFlow { model, rho, form, ws: None, hvp: None, g: None })
    }
}

impl<S: Scalar> VectorField<S> for UsamFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        match self.form {
            SamForm::Exact => {
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let mut pert = y.clone();
                pert.axpy(&self.rho, g);
                self.model.grad_into(ws, &pert, None, dy);
                dy.scale_mut(&-self.rho.one_like());
            }
            SamForm::Modified => {
                let hvp = self.hvp.get_or_insert_with(|| Hvp::new(self.model));
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                grad_norm_penalty(self.model, ws, hvp, g, &self.rho, y, dy);
            }
        }
    }
    /// The exact form takes the gradient at the point and at the ascent point; the modified form
    /// one gradient and one Hessian-vector product (a gradient pass on dual numbers).
    fn gradient_calls(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        match self.form {
            SamForm::Exact => format!("USAM flow (rho = {})", self.rho.to_f64()),
            SamForm::Modified => format!("USAM modified flow on L + rho/2 |grad L|^2 (rho = {})", self.rho.to_f64()),
        }
    }
}

/// Gradient descent's first-order modified flow (Barrett–Dherin): gradient flow on
/// $L + \tfrac{\eta}{4}\|\nabla L\|^2$, which GD with step η follows to $O(\eta^2)$ at fixed time.
pub struct ModifiedGdFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    half_eta: S,
    hvp: Hvp<S>,
    ws: Option<Workspace<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> ModifiedGdFlow<'a, S> {
    /// The modified flow of GD with step `eta` (> 0, finite).
    pub fn new(model: &'a Model<S>, eta: S) -> Result<Self> {
        if !eta.is_finite() || eta <= eta.zero_like() {
            return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {eta}")));
        }
        model.loss.refuse_custom("the modified flow of GD (exact Hessian-vector products)")?;
        let half_eta = eta.clone() * eta.ratio_like(1, 2);
        Ok(ModifiedGdFlow { model, half_eta, hvp: Hvp::new(model), ws: None, g: None })
    }
}

impl<S: Scalar> VectorField<S> for ModifiedGdFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
        grad_norm_penalty(self.model, ws, &mut self.hvp, g, &self.half_eta, y, dy);
    }
    /// One gradient and one Hessian-vector product (a gradient pass on dual numbers).
    fn gradient_calls(&self) -> usize {
        2
    }
    fn name(&self) -> String {
        format!("GD modified flow on L + eta/4 |grad L|^2 (eta = {})", 2.0 * self.half_eta.to_f64())
    }
}
