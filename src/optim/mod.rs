//! Discrete optimizers, all built on [`Model::grad_into`].
//!
//! | method | update | gradient calls per step | time map |
//! |---|---|---|---|
//! | GD / SGD | `θ ← θ − η∇L_B(θ)` | 1 | `t_k = kη` |
//! | SAM | `θ ← θ − η∇L_B(θ + ρ g/‖g‖)`, `g = ∇L_B(θ)`, norm over all blocks jointly | 2 | `t_k = kη` |
//! | USAM | `θ ← θ − η∇L_B(θ + ρ g)` | 2 | `t_k = kη` |
//! | heavy ball | `θ_{k+1} = θ_k − η∇L(θ_k) + β(θ_k − θ_{k−1})`, `θ_{−1} = θ_0` | 1 | `t_k = kη/(1−β)` |
//! | Nesterov | `y = θ_k + β(θ_k − θ_{k−1})`, `θ_{k+1} = y − η∇L(y)` | 1 | `t_k = kη/(1−β)` |
//! | nBAR / oBAR | rescale `(x, y) ← ((1±a)x, (1∓a)y)`, `a = αη`, then a GD step with the gradient at the pre-rescale point | 1 | `t_k = kη` |
//!
//! The heavy-ball time map is that of the momentum flow `λθ̈ + θ̇ + ∇L = 0` with
//! `λ = η/(1−β)²` (Papazov–Pesme–Flammarion): one step covers `Δt = η/(1−β)`.
//! `L_B` is the loss on a mini-batch `B` when a batch size is set (the same batch for both of
//! SAM's gradients), otherwise on all data.

use crate::error::{Error, Result};
use crate::model::{Arch, Model, Workspace};
use crate::params::Params;
use crate::scalar::Scalar;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which balancedness-aware rescaling BAR applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarKind {
    /// nBAR: grow the factor with the larger gradient, shrink the other.
    N,
    /// oBAR: shrink the larger factor, grow the other.
    O,
}

/// An optimizer and its hyperparameters, held once in the run's number type `S` (`f64` by default,
/// so `Method::Gd { eta: 0.1 }` is an `f64` method; `Method::Gd { eta: Q::from((1, 7)) }` an exact
/// one, see [`Method::cast`] to move between number types).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method<S = f64> {
    /// Gradient descent (SGD when `batch` is set).
    Gd {
        /// Step size η > 0.
        eta: S,
    },
    /// Sharpness-aware minimization with normalized ascent.
    Sam {
        /// Step size.
        eta: S,
        /// Ascent radius ρ ≥ 0.
        rho: S,
    },
    /// Unnormalized SAM.
    Usam {
        /// Step size.
        eta: S,
        /// Ascent factor ρ ≥ 0.
        rho: S,
    },
    /// Heavy-ball momentum.
    HeavyBall {
        /// Step size γ.
        eta: S,
        /// Momentum β ∈ [0, 1).
        beta: S,
    },
    /// Nesterov momentum.
    Nesterov {
        /// Step size.
        eta: S,
        /// Momentum β ∈ [0, 1).
        beta: S,
    },
    /// Balancedness-aware regularization on a two-factor problem.
    Bar {
        /// Step size.
        eta: S,
        /// Rescaling strength α ≥ 0 (the rescale factor is `a = αη`, needs `a < 1`).
        alpha: S,
        /// nBAR or oBAR.
        kind: BarKind,
    },
}

impl<S: Scalar> Method<S> {
    /// The step size.
    pub fn eta(&self) -> &S {
        match self {
            Method::Gd { eta }
            | Method::Sam { eta, .. }
            | Method::Usam { eta, .. }
            | Method::HeavyBall { eta, .. }
            | Method::Nesterov { eta, .. }
            | Method::Bar { eta, .. } => eta,
        }
    }

    /// The second hyperparameter: ρ (SAM, USAM), β (momentum) or α (BAR); `None` for GD.
    pub fn aux(&self) -> Option<&S> {
        match self {
            Method::Gd { .. } => None,
            Method::Sam { rho: a, .. }
            | Method::Usam { rho: a, .. }
            | Method::HeavyBall { beta: a, .. }
            | Method::Nesterov { beta: a, .. }
            | Method::Bar { alpha: a, .. } => Some(a),
        }
    }

    /// Time covered by one step, in `S`: `η`, or `η/(1−β)` for momentum methods.
    pub fn dt(&self) -> S {
        match self {
            Method::HeavyBall { eta, beta } | Method::Nesterov { eta, beta } => {
                eta.clone() / (eta.one_like() - beta.clone())
            }
            m => m.eta().clone(),
        }
    }

    /// The same method with every hyperparameter mapped by `f` (e.g. into another number type).
    pub fn map<T>(&self, f: impl Fn(&S) -> T) -> Method<T> {
        match self {
            Method::Gd { eta } => Method::Gd { eta: f(eta) },
            Method::Sam { eta, rho } => Method::Sam { eta: f(eta), rho: f(rho) },
            Method::Usam { eta, rho } => Method::Usam { eta: f(eta), rho: f(rho) },
            Method::HeavyBall { eta, beta } => Method::HeavyBall { eta: f(eta), beta: f(beta) },
            Method::Nesterov { eta, beta } => Method::Nesterov { eta: f(eta), beta: f(beta) },
            Method::Bar { eta, alpha, kind } => Method::Bar { eta: f(eta), alpha: f(alpha), kind: *kind },
        }
    }

    /// The same method with hyperparameters converted to the number type of `proto` (through
    /// [`Scalar::to_f64`] and [`Scalar::from_f64_like`]: exact from `f64`, rounded from wider types;
    /// build the method directly in `T` for exact values such as η = 1/7).
    pub fn cast<T: Scalar>(&self, proto: &T) -> Method<T> {
        self.map(|x| proto.from_f64_like(x.to_f64()))
    }

    /// The same kind of method with step size `eta` and second hyperparameter `aux` (ρ, β or α;
    /// ignored by GD), e.g. exact values for a method whose kind was chosen elsewhere.
    pub fn with_values<T>(&self, eta: T, aux: T) -> Method<T> {
        match self {
            Method::Gd { .. } => Method::Gd { eta },
            Method::Sam { .. } => Method::Sam { eta, rho: aux },
            Method::Usam { .. } => Method::Usam { eta, rho: aux },
            Method::HeavyBall { .. } => Method::HeavyBall { eta, beta: aux },
            Method::Nesterov { .. } => Method::Nesterov { eta, beta: aux },
            Method::Bar { kind, .. } => Method::Bar { eta, alpha: aux, kind: *kind },
        }
    }

    /// Whether a step depends on the previous iterate as well (heavy ball, Nesterov): the state
    /// of the step map is then the pair $(\theta_k, \theta_{k-1})$.
    pub fn has_memory(&self) -> bool {
        matches!(self, Method::HeavyBall { .. } | Method::Nesterov { .. })
    }

    /// Gradient calls per step.
    pub fn grad_calls_per_step(&self) -> usize {
        match self {
            Method::Sam { .. } | Method::Usam { .. } => 2,
            _ => 1,
        }
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Gd { .. } => "gd",
            Method::Sam { .. } => "sam",
            Method::Usam { .. } => "usam",
            Method::HeavyBall { .. } => "heavy_ball",
            Method::Nesterov { .. } => "nesterov",
            Method::Bar { kind: BarKind::N, .. } => "nbar",
            Method::Bar { kind: BarKind::O, .. } => "obar",
        }
    }

    /// Checks hyperparameter domains (in `S`, so an exact η is checked exactly).
    pub fn validate(&self) -> Result<()> {
        let eta = self.eta();
        let (zero, one) = (eta.zero_like(), eta.one_like());
        if !(eta.is_finite() && *eta > zero) {
            return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {eta}")));
        }
        match self {
            Method::Sam { rho, .. } | Method::Usam { rho, .. } if !(rho.is_finite() && *rho >= zero) => {
                Err(Error::invalid("rho", format!("must be finite and >= 0, got {rho}")))
            }
            Method::HeavyBall { beta, .. } | Method::Nesterov { beta, .. }
                if !(beta.is_finite() && *beta >= zero && *beta < one) =>
            {
                Err(Error::invalid("beta", format!("momentum must be in [0, 1), got {beta}")))
            }
            Method::Bar { alpha, eta, .. }
                if !(alpha.is_finite() && *alpha >= zero && alpha.clone() * eta.clone() < one) =>
            {
                Err(Error::invalid("alpha", format!("must be >= 0 with alpha*eta < 1, got alpha = {alpha}")))
            }
            _ => Ok(()),
        }
    }
}

/// What one step computed, for laws that predict the next state exactly.
#[derive(Clone, Debug)]
pub struct StepRecord<S> {
    /// Parameters before the step.
    pub before: Params<S>,
    /// Gradients evaluated in the step, in order (SAM: `g` at θ, then `h` at the perturbed point).
    pub grads: Vec<Params<S>>,
    /// SAM's ascent factor `u` (ε = ρ·u·g): `1/‖g‖` for SAM, `1` for USAM.
    pub ascent: Option<S>,
    /// The (mini-batch) loss at θ before the step.
    pub loss: S,
    /// The mini-batch used (`None`: all data).
    pub batch: Option<Vec<usize>>,
    /// Momentum methods: `θ_k − θ_{k−1}` before the step.
    pub momentum: Option<Params<S>>,
}

/// Optimizer state: the method with its hyperparameters in the run's number type, momentum memory,
/// batch sampler.
pub struct Optimizer<S> {
    /// The method and its hyperparameters (the only copy).
    pub method: Method<S>,
    batch: Option<(usize, ChaCha8Rng)>,
    prev: Option<Params<S>>,
    ws: Option<Workspace<S>>,
    /// Gradient evaluations so far.
    pub grad_calls: usize,
}

impl<S: Scalar> Optimizer<S> {
    /// An optimizer whose `f64` hyperparameters take the number type of `proto` (exactly: a
    /// rational run with `eta = 0.1` uses the binary value of 0.1; use [`Optimizer::exact`] with a
    /// method built in `S` for decimal rationals such as 1/10).
    pub fn new(method: Method, proto: &S) -> Result<Self> {
        Self::exact(method.cast(proto))
    }

    /// An optimizer for a method whose hyperparameters are already in the run's number type,
    /// e.g. `Method::Gd { eta: Q::from((1, 7)) }`.
    pub fn exact(method: Method<S>) -> Result<Self> {
        method.validate()?;
        Ok(Optimizer { method, batch: None, prev: None, ws: None, grad_calls: 0 })
    }

    /// Mini-batches of `size` samples drawn without replacement at every step from `seed`.
    pub fn with_batches(mut self, size: usize, seed: u64) -> Self {
        self.batch = Some((size, crate::data::rng(seed)));
        self
    }

    /// η in the run's number type.
    pub fn eta(&self) -> &S {
        self.method.eta()
    }

    /// Starts a momentum method from $\theta_{k-1}$ = `prev` instead of at rest
    /// ($\theta_{-1} = \theta_0$); other methods ignore it. With this, one [`Optimizer::step`] is
    /// the step map $(\theta_k, \theta_{k-1}) \mapsto \theta_{k+1}$ itself.
    pub fn with_previous(mut self, prev: Params<S>) -> Self {
        self.prev = Some(prev);
        self
    }

    fn draw_batch(&mut self, model: &Model<S>) -> Result<Option<Vec<usize>>> {
        let Some((size, rng)) = &mut self.batch else { return Ok(None) };
        let n = model
            .n_samples()
            .ok_or_else(|| Error::invalid("batch", "this loss has no samples to draw mini-batches from"))?;
        if *size == 0 || *size > n {
            return Err(Error::invalid("batch", format!("batch size must be in 1..={n}, got {size}")));
        }
        let mut idx = sample(rng, n, *size).into_vec();
        idx.sort_unstable();
        Ok(Some(idx))
    }

    fn gradient(&mut self, model: &Model<S>, p: &Params<S>, batch: Option<&[usize]>) -> (S, Params<S>) {
        let ws = self.ws.get_or_insert_with(|| model.workspace(&p.proto()));
        let mut g = p.zeros_like();
        let v = model.grad_into(ws, p, batch, &mut g);
        self.grad_calls += 1;
        (v, g)
    }

    /// One step, in place. Returns what it computed.
    pub fn step(&mut self, model: &Model<S>, p: &mut Params<S>) -> Result<StepRecord<S>> {
        let batch = self.draw_batch(model)?;
        let b = batch.as_deref();
        let before = p.clone();
        let neg_eta = -self.method.eta().clone();
        let aux = self.method.aux().cloned().unwrap_or_else(|| neg_eta.zero_like());
        let mut momentum = None;
        let (loss, grads, ascent) = match self.method.clone() {
            Method::Gd { .. } => {
                let (v, g) = self.gradient(model, p, b);
                p.axpy(&neg_eta, &g);
                (v, vec![g], None)
            }
            Method::Sam { .. } | Method::Usam { .. } => {
                let (v, g) = self.gradient(model, p, b);
                let u = if matches!(self.method, Method::Sam { .. }) {
                    let norm = g.norm_sq().try_sqrt().ok_or_else(|| {
                        Error::Unsupported(
                            "SAM's normalization needs a square root: run it in f64 or MPFR (USAM runs in rationals)"
                                .into(),
                        )
                    })?;
                    if norm.is_zero() {
                        norm.zero_like()
                    } else {
                        norm.one_like() / norm
                    }
                } else {
                    v.one_like()
                };
                let mut pert = p.clone();
                pert.axpy(&(aux.clone() * u.clone()), &g);
                let (_, h) = self.gradient(model, &pert, b);
                p.axpy(&neg_eta, &h);
                (v, vec![g, h], Some(u))
            }
            Method::HeavyBall { .. } => {
                let (v, g) = self.gradient(model, p, b);
                let prev = self.prev.replace(before.clone()).unwrap_or_else(|| before.clone());
                let mut mom = before.clone();
                mom.axpy(&-mom.proto().one_like(), &prev);
                p.axpy(&neg_eta, &g);
                p.axpy(&aux, &mom);
                momentum = Some(mom);
                (v, vec![g], None)
            }
            Method::Nesterov { .. } => {
                let prev = self.prev.replace(before.clone()).unwrap_or_else(|| before.clone());
                let mut y = before.clone();
                let mut mom = before.clone();
                mom.axpy(&-mom.proto().one_like(), &prev);
                y.axpy(&aux, &mom);
                let (v, g) = self.gradient(model, &y, b);
                y.axpy(&neg_eta, &g);
                *p = y;
                momentum = Some(mom);
                (v, vec![g], None)
            }
            Method::Bar { kind, .. } => {
                if !matches!(model.arch, Arch::Factor { .. } | Arch::FactorOp { .. }) {
                    return Err(Error::invalid(
                        "method",
                        "BAR rescales the two factors of a two-factor (factor / factor_op) model",
                    ));
                }
                let (v, g) = self.gradient(model, p, b);
                let a = aux.clone() * self.method.eta().clone();
                let one = a.one_like();
                let grow_x = match kind {
                    BarKind::N => g.blocks[0].norm_sq() >= g.blocks[1].norm_sq(),
                    BarKind::O => p.blocks[0].norm_sq() < p.blocks[1].norm_sq(),
                };
                let (fx, fy) =
                    if grow_x { (one.clone() + a.clone(), one - a) } else { (one.clone() - a.clone(), one + a) };
                p.blocks[0].scale_mut(&fx);
                p.blocks[1].scale_mut(&fy);
                p.axpy(&neg_eta, &g);
                (v, vec![g], None)
            }
        };
        Ok(StepRecord { before, grads, ascent, loss, batch, momentum })
    }
}
