//! Nesterov's accelerated gradient flow (Su–Boyd–Candès, JMLR 2016, eq. (3)):
//! $$\ddot w + \frac{r}{t}\dot w + \nabla L(w) = 0,\qquad w(0) = w_0,\ \dot w(0) = 0,$$
//! with the time-dependent damping $r/t$ ($r = 3$ is the limit of Nesterov's method with
//! momentum $\frac{k-1}{k+2}$ and step $\eta$, at time $t \approx k\sqrt\eta$).
//!
//! As a first-order system on $(w, v)$ — the model's blocks followed by as many velocity blocks,
//! the layout of [`HeavyBallFlow`](super::HeavyBallFlow) — it reads $\dot w = v$,
//! $\dot v = -\tfrac{r}{t}v - \nabla L(w)$. At $t = 0$ the damping term is $0/0$; along the
//! solution $v(t) = -t\,\nabla L(w_0)/(1+r) + O(t^2)$, so the field uses its limit
//! $\dot v(0) = -\nabla L(w_0)/(1+r)$ there. Its [`VectorField::position`] is the first half of
//! the blocks, so the solver checks and evaluates the loss on $w$.

use crate::error::{Error, Result};
use crate::flow::VectorField;
use crate::mat::Mat;
use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::Scalar;
use std::borrow::Cow;

/// The accelerated flow $\ddot w + (r/t)\dot w + \nabla L(w) = 0$ on the phase state $(w, \dot w)$.
pub struct NesterovFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    r: S,
    ws: Option<Workspace<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> NesterovFlow<'a, S> {
    /// The flow with damping coefficient `r` > 0 (3 for Nesterov's method).
    pub fn new(model: &'a Model<S>, r: S) -> Result<Self> {
        if !r.is_finite() || r <= r.zero_like() {
            return Err(Error::invalid("damping", format!("must be finite and > 0, got {r}")));
        }
        Ok(NesterovFlow { model, r, ws: None, g: None })
    }

    /// The phase-space state $(w_0, 0)$.
    pub fn initial(w0: &Params<S>) -> Params<S> {
        let mut blocks = w0.blocks.clone();
        blocks.extend(w0.blocks.iter().map(Mat::zeros_like));
        Params::new(blocks)
    }
}

impl<S: Scalar> VectorField<S> for NesterovFlow<'_, S> {
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let n = y.blocks.len() / 2;
        let w = Params::new(y.blocks[..n].to_vec());
        let g = self.g.get_or_insert_with(|| w.zeros_like());
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&w.proto()));
        self.model.grad_into(ws, &w, None, g);
        let one = t.one_like();
        // v̇ = −(r/t) v − g, and its limit −g/(1 + r) at t = 0.
        let (damp, gscale) = if t.is_zero() {
            (t.zero_like(), -(one.clone() / (one + self.r.clone())))
        } else {
            (-(self.r.clone() / t.clone()), -one)
        };
        for j in 0..n {
            dy.blocks[j].clone_from(&y.blocks[n + j]);
            let mut a = y.blocks[n + j].scaled(&damp);
            a.axpy(&gscale, &g.blocks[j]);
            dy.blocks[n + j] = a;
        }
    }
    fn position<'y>(&self, y: &'y Params<S>) -> Cow<'y, Params<S>> {
        Cow::Owned(Params::new(y.blocks[..y.blocks.len() / 2].to_vec()))
    }
    fn name(&self) -> String {
        format!("Nesterov flow w'' + ({}/t) w' + grad L = 0", self.r.to_f64())
    }
}
