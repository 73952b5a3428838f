//! The balancing flows of Lindsey–Menon on a fibre of the product map, as vector fields
//! (their geometry and exact solutions are in [`crate::closed_form::balancing`]; derivations:
//! `proofs/balancing_flows.md`).
//!
//! * (a) [`RegularizerFlow`]: $\dot W = -P_V W$, the gradient of $\frac12\|W\|^2$ on the fibre;
//! * (b) [`MomentMapFlow`]: $\dot W_j = -2(\mu_jW_j - W_j\mu_{j-1})$, the gradient of $\frac12\|\mu\|^2$;
//! * [`FastSlow`]: the gradient flow of a loss plus flow (a) at speed $1/\varepsilon$.
//!
//! (a) and (b) need no model: they act on the blocks of any chain of matrices. Solve them with a
//! [`crate::flow::FlowProblem`] without a model (or give one to track quantities that need it).

use super::gradient::GradientFlow;
use crate::closed_form::balancing::{check_chain, metric_operator, pre, vertical_descent, REF_A};
use crate::closed_form::lindsey_menon::moment_map;
use crate::error::{Error, Result};
use crate::flow::VectorField;
use crate::model::{Arch, Model};
use crate::params::Params;
use crate::scalar::Scalar;

/// Balancing flow (a): $\dot W = -c\,P_V W = -c\bigl(W - N\,d\phi_W^\top(M_W^{-1}(\phi(W)))\bigr)$
/// with speed $c$ (default 1). Generic over [`Scalar`]: one linear solve of size
/// $d_Nd_0$ per evaluation, exact in rationals.
///
/// If $M_W$ becomes singular during a run (it cannot while $\phi(W)$ keeps full rank), the field
/// writes NaN (float types; the integrator then stops with a non-finite outcome) or zeros
/// (rationals), and [`RegularizerFlow::failure`] says why.
#[derive(Clone, Debug)]
pub struct RegularizerFlow<S> {
    speed: S,
    failure: Option<String>,
}

impl<S: Scalar> RegularizerFlow<S> {
    /// Flow (a) at unit speed for the fibre through `w0`. Preconditions: a deep linear network
    /// (at least one block, consecutive shapes compatible) whose $M_{W_0}$ is invertible, i.e.
    /// $d\phi_{W_0}$ is onto (true when $\phi(W_0)$ has full rank), judged in `f64`: smallest
    /// eigenvalue of $M_{W_0}$ above $10^{-12}$ times the largest.
    pub fn new(w0: &Params<S>) -> Result<Self> {
        check_chain(w0, REF_A)?;
        let m = metric_operator(w0)?.to_f64().to_na().symmetric_eigen();
        let top = m.eigenvalues.iter().fold(0.0f64, |a, l| a.max(l.abs()));
        let low = m.eigenvalues.iter().fold(f64::INFINITY, |a, l| a.min(*l));
        if !(top > 0.0 && low > 1e-12 * top) {
            return Err(pre(
                REF_A,
                format!(
                    "M_W = dphi dphi^T must be invertible at W(0) (dphi onto, e.g. a full-rank product): eigenvalues \
                     range over [{low:e}, {top:e}] (need min > 1e-12 max, judged in f64)"
                ),
            ));
        }
        Ok(RegularizerFlow { speed: w0.proto().one_like(), failure: None })
    }

    /// The same flow at speed `c > 0` (the moment map then decays like $e^{-2ct}$).
    pub fn with_speed(mut self, c: S) -> Result<Self> {
        if !(c.is_finite() && c > c.zero_like()) {
            return Err(Error::invalid("speed", format!("must be finite and > 0, got {c}")));
        }
        self.speed = c;
        Ok(self)
    }

    /// Why the last evaluation failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// $-P_VW$ at `w` (unit speed), or the reason it is undefined
    /// ([`crate::closed_form::balancing::vertical_descent`]).
    pub fn vertical_descent(w: &Params<S>) -> Result<Params<S>> {
        vertical_descent(w)
    }
}

impl<S: Scalar> VectorField<S> for RegularizerFlow<S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        match Self::vertical_descent(y) {
            Ok(mut v) => {
                v.scale_mut(&self.speed);
                *dy = v;
            }
            Err(e) => {
                self.failure = Some(e.to_string());
                let bad = y.proto().from_f64_like(f64::NAN);
                for x in dy.iter_mut() {
                    *x = bad.clone();
                }
            }
        }
    }
    /// A linear solve, no gradient.
    fn gradient_calls(&self) -> usize {
        0
    }
    fn name(&self) -> String {
        "balancing flow (a): -P_V W".into()
    }
}

/// Balancing flow (b): $\dot W_j = -2(\mu_jW_j - W_j\mu_{j-1})$, $\mu_0 = \mu_N = 0$, the
/// Euclidean gradient flow of $\frac12\|\mu\|^2$ (tangent to the orbit). Generic over [`Scalar`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MomentMapFlow;

impl<S: Scalar> VectorField<S> for MomentMapFlow {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let mu = moment_map(y);
        let n = y.blocks.len();
        let m2 = y.proto().from_i64_like(-2);
        for j in 0..n {
            let mut b = y.blocks[j].zeros_like();
            if j + 1 < n {
                b = b.add(&mu[j].matmul(&y.blocks[j]));
            }
            if j > 0 {
                b = b.sub(&y.blocks[j].matmul(&mu[j - 1]));
            }
            b.scale_mut(&m2);
            dy.blocks[j] = b;
        }
    }
    /// Products of the blocks, no gradient.
    fn gradient_calls(&self) -> usize {
        0
    }
    fn name(&self) -> String {
        "balancing flow (b): -grad 1/2 |mu|^2".into()
    }
}

/// The fast–slow system $\dot W = -\nabla(E\circ\phi)(W) - \varepsilon^{-1}P_V W$: the gradient flow
/// of `model` plus balancing flow (a) at speed $1/\varepsilon$.
pub struct FastSlow<'a, S: Scalar> {
    grad: GradientFlow<'a, S>,
    reg: RegularizerFlow<S>,
    tmp: Option<Params<S>>,
}

impl<'a, S: Scalar> FastSlow<'a, S> {
    /// Preconditions: `model` is a deep linear network without weight decay, `eps > 0`, and
    /// $M_{W_0}$ is invertible at `w0` (full-rank product).
    pub fn new(model: &'a Model<S>, w0: &Params<S>, eps: S) -> Result<Self> {
        if !matches!(model.arch, Arch::DeepLinear { .. }) {
            return Err(pre("fast-slow system", "the model must be a deep linear network"));
        }
        if model.weight_decay.is_some() {
            return Err(pre(
                "fast-slow system",
                "the model must have no weight decay (the fast part is the regularizer)",
            ));
        }
        model.check_params(w0)?;
        if !(eps.is_finite() && eps > eps.zero_like()) {
            return Err(Error::invalid("eps", format!("must be finite and > 0, got {eps}")));
        }
        let inv = eps.one_like() / eps;
        let reg = RegularizerFlow::new(w0)?.with_speed(inv)?;
        Ok(FastSlow { grad: GradientFlow::new(model), reg, tmp: None })
    }
}

impl<S: Scalar> VectorField<S> for FastSlow<'_, S> {
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>) {
        self.grad.eval(t, y, dy);
        let tmp = self.tmp.get_or_insert_with(|| y.zeros_like());
        self.reg.eval(t, y, tmp);
        dy.axpy(&y.proto().one_like(), tmp);
    }
    fn name(&self) -> String {
        "fast-slow: gradient flow + (1/eps) balancing flow (a)".into()
    }
}
