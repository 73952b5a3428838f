//! Quantities: functions of the parameters tracked along runs (balancedness, moment map, diagonal
//! and two-factor balances, the loss).

use crate::mat::Mat;
use crate::model::{Arch, Model};
use crate::params::Params;
use crate::scalar::Scalar;

/// A function of the parameters, valued in a list of matrices.
pub trait Quantity<S: Scalar>: Send + Sync {
    /// Name used in reports.
    fn name(&self) -> String;
    /// The value at `p`.
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>>;
}

/// `C_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ` for consecutive blocks (deep linear networks).
pub struct Balancedness;
/// The moment map `μ_j = W_jW_jᵀ − W_{j+1}ᵀW_{j+1} = −C_j`.
pub struct MomentMap;
/// Diagonal networks: `u⊙u − v⊙v` for `β = u⊙v`, `u⊙v` for `β = u⊙u − v⊙v` (each conserved by
/// gradient flow).
pub struct DiagonalBalance;
/// Two-factor problems: `B = ½(‖X‖² − ‖Y‖²)` (Li–Zhang–He's balancedness).
pub struct FactorBalance;
/// Two-factor problems: the matrix `D = XᵀX − YᵀY` (`B = ½ tr D`).
pub struct FactorGram;
/// The loss `L(θ)` as a `1×1` matrix.
pub struct LossValue;

fn one<S: Scalar>(x: S) -> Vec<Mat<S>> {
    vec![Mat::from_vec(1, 1, vec![x])]
}

impl<S: Scalar> Quantity<S> for Balancedness {
    fn name(&self) -> String {
        "balancedness".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        p.blocks.windows(2).map(|w| w[1].gram_t().sub(&w[0].gram())).collect()
    }
}

impl<S: Scalar> Quantity<S> for MomentMap {
    fn name(&self) -> String {
        "moment_map".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        p.blocks.windows(2).map(|w| w[0].gram().sub(&w[1].gram_t())).collect()
    }
}

impl<S: Scalar> Quantity<S> for DiagonalBalance {
    fn name(&self) -> String {
        "diagonal_balance".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        let (u, v) = (&p.blocks[0], &p.blocks[1]);
        let m = match model.arch {
            Arch::DiagonalSq { .. } => Mat::from_fn(1, u.cols(), |_, i| u.get(0, i).clone() * v.get(0, i).clone()),
            _ => Mat::from_fn(1, u.cols(), |_, i| u.get(0, i).square() - v.get(0, i).square()),
        };
        vec![m]
    }
}

impl<S: Scalar> Quantity<S> for FactorBalance {
    fn name(&self) -> String {
        "factor_balance".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        let b = p.blocks[0].norm_sq() - p.blocks[1].norm_sq();
        let half = b.ratio_like(1, 2);
        one(b * half)
    }
}

impl<S: Scalar> Quantity<S> for FactorGram {
    fn name(&self) -> String {
        "factor_gram".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![p.blocks[0].gram_t().sub(&p.blocks[1].gram_t())]
    }
}

impl<S: Scalar> Quantity<S> for LossValue {
    fn name(&self) -> String {
        "loss".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        one(model.loss(p))
    }
}
