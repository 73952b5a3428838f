//! Exact Hessian-vector products by the model's own gradient run on dual numbers.
//!
//! $\nabla\tfrac12\|\nabla L\|^2 = Hg$ and $\nabla\|\nabla L\| = Hg/\|g\|$. [`Hvp`] computes $Hv$
//! exactly by forward-mode differentiation: the model's gradient runs on [`Dual`] numbers
//! $a + b\varepsilon$, $\varepsilon^2 = 0$, from the point $w + \varepsilon v$, and the
//! $\varepsilon$ part of the result is $\frac{d}{d\varepsilon}\nabla L(w + \varepsilon v)\big|_0 = Hv$.
//! Unlike a central difference it needs no step, has no truncation error, and stays exact in
//! rationals, at the price of one gradient pass on dual numbers (about three gradient evaluations).

use crate::mat::Mat;
use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::{Dual, Scalar};

/// Exact Hessian-vector products $\nabla^2 L(w)\,v$ of a model's loss (with its weight decay),
/// by the model's own gradient run on [`Dual`] numbers.
pub struct Hvp<S: Scalar> {
    model: Model<Dual<S>>,
    ws: Option<Workspace<Dual<S>>>,
    point: Option<Params<Dual<S>>>,
    out: Option<Params<Dual<S>>>,
}

impl<S: Scalar> Hvp<S> {
    /// Hessian-vector products of `model`. A custom loss ([`crate::model::LossFn`]) does not
    /// expose its arithmetic to dual numbers: the fields that use this refuse it (see
    /// [`crate::model::Loss::refuse_custom`]).
    pub fn new(model: &Model<S>) -> Self {
        Hvp { model: model.map(|x| Dual::constant(x.clone())), ws: None, point: None, out: None }
    }

    /// Writes $\nabla L(w)$ into `grad` and $\nabla^2 L(w)\,v$ into `hv`; returns $L(w)$.
    pub fn eval(&mut self, w: &Params<S>, v: &Params<S>, grad: &mut Params<S>, hv: &mut Params<S>) -> S {
        let proto = Dual::constant(w.proto());
        let point = self.point.get_or_insert_with(|| Params::new(w.blocks.iter().map(|b| dual_block(b)).collect()));
        for ((p, a), b) in point.iter_mut().zip(w.iter()).zip(v.iter()) {
            p.re.clone_from(a);
            p.eps.clone_from(b);
        }
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&proto));
        let out = self.out.get_or_insert_with(|| point.zeros_like());
        let value = self.model.grad_into(ws, point, None, out);
        for ((o, g), h) in out.iter().zip(grad.iter_mut()).zip(hv.iter_mut()) {
            g.clone_from(&o.re);
            h.clone_from(&o.eps);
        }
        value.re
    }
}

fn dual_block<S: Scalar>(b: &Mat<S>) -> Mat<Dual<S>> {
    b.map(|x| Dual::constant(x.clone()))
}
