//! Which exact law applies to which method × architecture: the one table of applicability.
//!
//! A method with no known exact law still runs; its [`Identities`] then say in words what is not
//! checked and why, and a report built from them states "nothing checked" instead of a verdict.
//!
//! | method | architecture | quantity | law |
//! |---|---|---|---|
//! | GD / SGD | deep linear (weight decay allowed) | [`Balancedness`] | [`Law::gd_balancedness`] |
//! | GD / SGD | diagonal `u⊙v`, `u²−v²` (weight decay allowed) | [`DiagonalBalance`] | [`Law::gd_diagonal`] |
//! | GD / SGD | two-factor, no weight decay | [`FactorBalance`] | [`Law::sam_factor`] with ρ = 0 |
//! | SAM / USAM | two-factor, no weight decay | [`FactorBalance`] | [`Law::sam_factor`] |
//! | SAM / USAM | diagonal `u⊙v`, no weight decay | [`DiagonalBalance`] | [`Law::sam_diagonal`] |
//! | heavy ball | diagonal `u⊙v`, no weight decay | [`DiagonalBalance`] | [`Law::heavy_ball_diagonal`] |
//! | nBAR / oBAR | two-factor, no weight decay | [`FactorBalance`] | [`Law::bar`] |
//! | gradient flow | deep linear | [`Balancedness`] conserved, or [`MomentMap`] `e^{−2λt}μ(0)` with decay λ | |
//! | gradient flow | diagonal, two-factor, no weight decay | [`DiagonalBalance`], [`FactorBalance`] conserved | |
//! | gradient flow | any | [`LossValue`] non-increasing | |
//!
//! Every other pair (Nesterov anywhere; heavy ball, SAM and BAR off their rows; any method
//! with weight decay where the row says none) has no exact per-step law in this table.

use super::laws::Law;
use super::monitor::{Monitor, Tracked};
use super::quantities::{Balancedness, DiagonalBalance, FactorBalance, LossValue, MomentMap};
use crate::model::Arch;
use crate::optim::Method;
use crate::scalar::Scalar;

/// The laws that apply to a run, and what is not checked (with the reason).
pub struct Identities<S: Scalar> {
    /// The quantities to track, each with its law.
    pub tracked: Vec<Tracked<S>>,
    /// Statements of what this run cannot check, e.g. "no exact per-step law is known for
    /// nesterov on deep linear [2, 3, 2]: nothing checked".
    pub unchecked: Vec<String>,
}

impl<S: Scalar> Identities<S> {
    /// A monitor tracking these laws.
    pub fn monitor(self) -> Monitor<S> {
        let mut m = Monitor::new();
        m.tracked = self.tracked;
        m
    }
}

fn one<S: Scalar>(t: Tracked<S>) -> Identities<S> {
    Identities { tracked: vec![t], unchecked: Vec::new() }
}

/// The exact per-step laws of `method` on `arch` with optional weight decay λ, each predicting a
/// quantity after one step from what the step computed (hyperparameters taken from `method`, in
/// the run's number type).
pub fn discrete_identities<S: Scalar>(method: &Method<S>, arch: &Arch, weight_decay: Option<&S>) -> Identities<S> {
    use Arch::{DeepLinear, DiagonalSq, DiagonalUV, Factor, FactorOp};
    let plain = weight_decay.is_none();
    let eta = method.eta().clone();
    match (method, arch) {
        (Method::Gd { .. }, DeepLinear { .. }) => one(Tracked::new(Balancedness, Law::gd_balancedness(eta))),
        (Method::Gd { .. }, DiagonalUV { .. } | DiagonalSq { .. }) => {
            one(Tracked::new(DiagonalBalance, Law::gd_diagonal(eta)))
        }
        (Method::Gd { .. }, Factor { .. } | FactorOp { .. }) if plain => {
            let zero = eta.zero_like();
            one(Tracked::new(FactorBalance, Law::sam_factor(eta, zero)))
        }
        (Method::Sam { rho, .. } | Method::Usam { rho, .. }, Factor { .. } | FactorOp { .. }) if plain => {
            one(Tracked::new(FactorBalance, Law::sam_factor(eta, rho.clone())))
        }
        (Method::Sam { rho, .. } | Method::Usam { rho, .. }, DiagonalUV { .. }) if plain => {
            one(Tracked::new(DiagonalBalance, Law::sam_diagonal(eta, rho.clone())))
        }
        (Method::HeavyBall { beta, .. }, DiagonalUV { .. }) if plain => {
            one(Tracked::new(DiagonalBalance, Law::heavy_ball_diagonal(eta, beta.clone())))
        }
        (Method::Bar { alpha, kind, .. }, Factor { .. } | FactorOp { .. }) if plain => {
            one(Tracked::new(FactorBalance, Law::bar(eta, alpha.clone(), *kind)))
        }
        _ => Identities {
            tracked: Vec::new(),
            unchecked: vec![format!(
                "no exact per-step law is known for {} on {}{}: nothing checked",
                method.name(),
                arch.name(),
                if plain { "" } else { " with weight decay" }
            )],
        },
    }
}

/// The laws of gradient flow on `arch` with optional weight decay λ: the balance quantity
/// conserved (deep linear with decay: the moment map decays as `e^{−2λt}`, built by `exp_decay`
/// from the rate `2λ`, `None` where the number type has no exponential) and the loss
/// non-increasing.
pub fn flow_identities<S: Scalar>(
    arch: &Arch,
    weight_decay: Option<&S>,
    exp_decay: impl Fn(S) -> Option<Law<S>>,
) -> Identities<S> {
    use Arch::{DeepLinear, DiagonalSq, DiagonalUV, Factor, FactorOp};
    let mut ids = Identities { tracked: Vec::new(), unchecked: Vec::new() };
    match (arch, weight_decay) {
        (DeepLinear { .. }, Some(l)) => match exp_decay(l.clone() * l.from_i64_like(2)) {
            Some(law) => ids.tracked.push(Tracked::new(MomentMap, law)),
            None => ids.unchecked.push(
                "the moment map's decay law e^{-2 lambda t} needs exp, which exact rationals lack: not checked".into(),
            ),
        },
        (DeepLinear { .. }, None) => ids.tracked.push(Tracked::new(Balancedness, Law::Conserved)),
        (DiagonalUV { .. } | DiagonalSq { .. }, None) => {
            ids.tracked.push(Tracked::new(DiagonalBalance, Law::Conserved))
        }
        (Factor { .. } | FactorOp { .. }, None) => ids.tracked.push(Tracked::new(FactorBalance, Law::Conserved)),
        (_, Some(_)) => ids
            .unchecked
            .push(format!("no conserved balance is known for gradient flow on {} with weight decay", arch.name())),
    }
    ids.tracked.push(Tracked::new(LossValue, Law::NonIncreasing));
    ids
}
