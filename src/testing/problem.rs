//! A rational test problem (model and starting point) and the dynamics a claim is checked along.

use crate::error::{Error, Result};
use crate::flow::Integrator;
use crate::mat::Mat;
use crate::model::{Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::scalar::{Scalar, Q};
use std::fmt;

/// A model with rational data and a rational starting point: one case of a property test. Its
/// `Debug` form prints every number as an exact fraction, so a shrunk counter-example can be
/// pasted back into a test.
#[derive(Clone)]
pub struct Problem {
    /// The model (architecture, loss, weight decay).
    pub model: Model<Q>,
    /// The starting point.
    pub p0: Params<Q>,
}

impl Problem {
    /// Wraps a model and a starting point (shapes are checked when a run starts).
    pub fn new(model: Model<Q>, p0: Params<Q>) -> Self {
        Problem { model, p0 }
    }

    /// The problem in the number type of `proto` (exact for [`Q`], rounded once for MPFR and `f64`).
    pub fn cast<S: Scalar>(&self, proto: &S) -> (Model<S>, Params<S>) {
        let model = self.model.map(|x| proto.from_q_like(x));
        let p0 = Params::new(self.p0.blocks.iter().map(|m| m.map(|x| proto.from_q_like(x))).collect());
        (model, p0)
    }

    /// The same problem starting from `p0`.
    pub fn with_start(mut self, p0: Params<Q>) -> Self {
        self.p0 = p0;
        self
    }
}

fn mat(m: &Mat<Q>) -> String {
    let rows: Vec<String> = m
        .to_rows()
        .iter()
        .map(|r| format!("[{}]", r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")))
        .collect();
    format!("[{}]", rows.join(", "))
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; loss ", self.model.arch.name())?;
        match &self.model.loss {
            Loss::Target { phi } => write!(f, "target Φ = {}", mat(phi))?,
            Loss::Regression { x, y, .. } => write!(f, "regression X = {}, Y = {}", mat(x), mat(y))?,
            Loss::Sensing { a, y, .. } => write!(
                f,
                "sensing A = [{}], y = [{}]",
                a.iter().map(mat).collect::<Vec<_>>().join(", "),
                y.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            )?,
            Loss::Completion { shape, entries, .. } => write!(
                f,
                "completion {}x{} on [{}]",
                shape.0,
                shape.1,
                entries.iter().map(|(i, j, m)| format!("({i},{j})={m}")).collect::<Vec<_>>().join(", ")
            )?,
            Loss::Custom { f: loss, .. } => write!(f, "custom {}", loss.name())?,
        }
        if let Some(l) = &self.model.weight_decay {
            write!(f, "; weight decay {l}")?;
        }
        write!(f, "; θ0 = [{}]", self.p0.blocks.iter().map(mat).collect::<Vec<_>>().join(", "))
    }
}

/// The dynamics a claim is checked along, with exact rational hyperparameters (converted to the
/// run's number type once).
#[derive(Clone, Debug, PartialEq)]
pub enum Dynamics {
    /// Gradient descent `θ ← θ − η∇L(θ)`.
    Gd {
        /// η.
        eta: Q,
    },
    /// SGD: GD on mini-batches of `batch` samples drawn from `seed`.
    Sgd {
        /// η.
        eta: Q,
        /// Batch size.
        batch: usize,
        /// Sampler seed.
        seed: u64,
    },
    /// SAM with normalized ascent (needs a square root: not in rationals).
    Sam {
        /// η.
        eta: Q,
        /// ρ.
        rho: Q,
    },
    /// Unnormalized SAM `θ ← θ − η∇L(θ + ρ∇L(θ))`.
    Usam {
        /// η.
        eta: Q,
        /// ρ.
        rho: Q,
    },
    /// Heavy ball `θ_{k+1} = θ_k − η∇L(θ_k) + β(θ_k − θ_{k−1})`.
    HeavyBall {
        /// Step γ.
        eta: Q,
        /// Momentum β.
        beta: Q,
    },
    /// Nesterov momentum.
    Nesterov {
        /// η.
        eta: Q,
        /// β.
        beta: Q,
    },
    /// Gradient flow up to time `t1`, integrated by `integrator`; claims are checked at the
    /// `steps` equally spaced times `t1·k/steps`.
    GradientFlow {
        /// Final time.
        t1: f64,
        /// The integrator.
        integrator: Integrator,
    },
}

impl Dynamics {
    /// Gradient descent with step `eta`.
    pub fn gd(eta: Q) -> Self {
        Dynamics::Gd { eta }
    }

    /// Short name with the hyperparameters as fractions.
    pub fn name(&self) -> String {
        match self {
            Dynamics::Gd { eta } => format!("GD (eta = {eta})"),
            Dynamics::Sgd { eta, batch, seed } => format!("SGD (eta = {eta}, batch {batch}, seed {seed})"),
            Dynamics::Sam { eta, rho } => format!("SAM (eta = {eta}, rho = {rho})"),
            Dynamics::Usam { eta, rho } => format!("USAM (eta = {eta}, rho = {rho})"),
            Dynamics::HeavyBall { eta, beta } => format!("heavy ball (gamma = {eta}, beta = {beta})"),
            Dynamics::Nesterov { eta, beta } => format!("Nesterov (eta = {eta}, beta = {beta})"),
            Dynamics::GradientFlow { t1, integrator } => format!("gradient flow to t = {t1} ({integrator:?})"),
        }
    }

    /// The optimizer of a discrete method in the number type of `proto` (`None` for a flow).
    pub fn optimizer<S: Scalar>(&self, proto: &S) -> Result<Option<Optimizer<S>>> {
        let f = |q: &Q| proto.from_q_like(q);
        let (method, batch) = match self {
            Dynamics::Gd { eta } => (Method::Gd { eta: f(eta) }, None),
            Dynamics::Sgd { eta, batch, seed } => (Method::Gd { eta: f(eta) }, Some((*batch, *seed))),
            Dynamics::Sam { eta, rho } => (Method::Sam { eta: f(eta), rho: f(rho) }, None),
            Dynamics::Usam { eta, rho } => (Method::Usam { eta: f(eta), rho: f(rho) }, None),
            Dynamics::HeavyBall { eta, beta } => (Method::HeavyBall { eta: f(eta), beta: f(beta) }, None),
            Dynamics::Nesterov { eta, beta } => (Method::Nesterov { eta: f(eta), beta: f(beta) }, None),
            Dynamics::GradientFlow { .. } => return Ok(None),
        };
        if matches!(self, Dynamics::Sam { .. }) && proto.precision().is_none() {
            return Err(Error::Unsupported(
                "SAM's normalization needs a square root: check SAM in MPFR (USAM runs in rationals)".into(),
            ));
        }
        let mut opt = Optimizer::exact(method)?;
        if let Some((size, seed)) = batch {
            opt = opt.with_batches(size, seed);
        }
        Ok(Some(opt))
    }
}
