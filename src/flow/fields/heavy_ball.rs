//! Heavy-ball momentum as a first-order system on phase space $(w, \dot w)$.

use crate::error::{Error, Result};
use crate::flow::VectorField;
use crate::mat::Mat;
use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::Scalar;
use std::borrow::Cow;

/// Heavy-ball momentum as a first-order system: the state is $(w, \dot w)$, the model's blocks
/// followed by as many velocity blocks, and
/// $$\dot w = v,\qquad \dot v = -\bigl(v + \nabla L(w)\bigr)/\lambda,$$
/// i.e. $\lambda\ddot w + \dot w + \nabla L(w) = 0$ (Papazov–Pesme–Flammarion). Discrete heavy
/// ball with step γ and momentum β (and $w_{-1} = w_0$) follows it with $\lambda = \gamma/(1-\beta)^2$,
/// one step covering $\Delta t = \gamma/(1-\beta)$, from $\dot w(0) = 0$ ([`HeavyBallFlow::initial`]).
/// The field owns this layout: its [`VectorField::position`] is the first half of the blocks, so
/// [`crate::flow::solve`] checks and evaluates the loss on the position; a
/// [`crate::invariants::Monitor`] passed to it sees the whole phase state (quantities that read
/// the first blocks only, such as `DiagonalBalance` or `FactorBalance`, read the position).
pub struct HeavyBallFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    inv_lambda: S,
    lambda: S,
    ws: Option<Workspace<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> HeavyBallFlow<'a, S> {
    /// The momentum flow with $\lambda > 0$.
    pub fn new(model: &'a Model<S>, lambda: S) -> Result<Self> {
        if !lambda.is_finite() || lambda <= lambda.zero_like() {
            return Err(Error::invalid("lambda", format!("must be finite and > 0, got {lambda}")));
        }
        Ok(HeavyBallFlow { model, inv_lambda: lambda.one_like() / lambda.clone(), lambda, ws: None, g: None })
    }

    /// $\lambda = \gamma/(1-\beta)^2$ of heavy ball with step `eta` = γ > 0 and momentum `beta` ∈ [0, 1).
    pub fn lambda_of(eta: f64, beta: f64) -> Result<f64> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {eta}")));
        }
        if !(0.0..1.0).contains(&beta) {
            return Err(Error::invalid("beta", format!("momentum must be in [0, 1), got {beta}")));
        }
        Ok(eta / ((1.0 - beta) * (1.0 - beta)))
    }

    /// λ.
    pub fn lambda(&self) -> &S {
        &self.lambda
    }

    /// The phase-space state $(w_0, 0)$.
    pub fn initial(w0: &Params<S>) -> Params<S> {
        let mut blocks = w0.blocks.clone();
        blocks.extend(w0.blocks.iter().map(Mat::zeros_like));
        Params::new(blocks)
    }

    /// The position part $w$ of a phase-space state (the first half of its blocks; the same as
    /// the field's [`VectorField::position`]).
    pub fn position(y: &Params<S>) -> Params<S> {
        Params::new(y.blocks[..y.blocks.len() / 2].to_vec())
    }

    /// The velocity part $\dot w$ of a phase-space state.
    pub fn velocity(y: &Params<S>) -> Params<S> {
        Params::new(y.blocks[y.blocks.len() / 2..].to_vec())
    }
}

impl<S: Scalar> VectorField<S> for HeavyBallFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let n = y.blocks.len() / 2;
        let w = Params::new(y.blocks[..n].to_vec());
        let g = self.g.get_or_insert_with(|| w.zeros_like());
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&w.proto()));
        self.model.grad_into(ws, &w, None, g);
        let m = -self.inv_lambda.clone();
        for j in 0..n {
            dy.blocks[j].clone_from(&y.blocks[n + j]);
            let mut a = y.blocks[n + j].clone();
            a.axpy(&a.proto().one_like(), &g.blocks[j]);
            a.scale_mut(&m);
            dy.blocks[n + j] = a;
        }
    }
    fn position<'y>(&self, y: &'y Params<S>) -> Cow<'y, Params<S>> {
        Cow::Owned(Self::position(y))
    }
    fn name(&self) -> String {
        format!("heavy-ball flow (lambda = {})", self.lambda.to_f64())
    }
}
