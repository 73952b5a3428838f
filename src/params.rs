//! Parameters as one vector space: a list of matrix blocks.

use crate::mat::Mat;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// The parameter blocks of a model (`W_1..W_N`, or `u, v`, or `x, y`), treated as one vector.
///
/// Block order is the model's: for a deep linear network `blocks[j]` is `W_{j+1}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params<S> {
    /// The blocks.
    pub blocks: Vec<Mat<S>>,
}

impl<S: Scalar> Params<S> {
    /// Wraps blocks.
    pub fn new(blocks: Vec<Mat<S>>) -> Self {
        Params { blocks }
    }
    /// Zero parameters of the same shapes.
    pub fn zeros_like(&self) -> Self {
        Params { blocks: self.blocks.iter().map(Mat::zeros_like).collect() }
    }
    /// A value carrying the precision of the parameters.
    pub fn proto(&self) -> S {
        self.blocks[0].proto()
    }
    /// Number of scalar entries.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(|b| b.rows() * b.cols()).sum()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Shapes of the blocks.
    pub fn shapes(&self) -> Vec<(usize, usize)> {
        self.blocks.iter().map(Mat::shape).collect()
    }
    /// `self += alpha·x`.
    pub fn axpy(&mut self, alpha: &S, x: &Self) {
        for (a, b) in self.blocks.iter_mut().zip(&x.blocks) {
            a.axpy(alpha, b);
        }
    }
    /// `self *= alpha`.
    pub fn scale_mut(&mut self, alpha: &S) {
        for a in &mut self.blocks {
            a.scale_mut(alpha);
        }
    }
    /// Inner product summed over blocks.
    pub fn dot(&self, x: &Self) -> S {
        let mut s = self.proto();
        for (a, b) in self.blocks.iter().zip(&x.blocks) {
            s += &a.dot(b);
        }
        s
    }
    /// Squared norm over all blocks.
    pub fn norm_sq(&self) -> S {
        self.dot(self)
    }
    /// Whether every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.blocks.iter().all(Mat::is_finite)
    }
    /// Entries as `f64`.
    pub fn to_f64(&self) -> Params<f64> {
        Params { blocks: self.blocks.iter().map(Mat::to_f64).collect() }
    }
    /// All entries, block after block, each block row-major.
    pub fn flatten(&self) -> Vec<S> {
        self.blocks.iter().flat_map(|b| b.as_slice().iter().cloned()).collect()
    }
    /// Writes entries from a flat slice (the layout of [`Params::flatten`]).
    pub fn set_from_slice(&mut self, x: &[S]) {
        let mut off = 0;
        for b in &mut self.blocks {
            let n = b.as_slice().len();
            b.as_mut_slice().clone_from_slice(&x[off..off + n]);
            off += n;
        }
    }
    /// Iterates over all entries.
    pub fn iter(&self) -> impl Iterator<Item = &S> {
        self.blocks.iter().flat_map(|b| b.as_slice().iter())
    }
    /// Iterates mutably over all entries.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut S> {
        self.blocks.iter_mut().flat_map(|b| b.as_mut_slice().iter_mut())
    }
}

impl Params<f64> {
    /// Converts to another number type (exact for rationals and MPFR of at least 53 bits).
    pub fn cast<S: Scalar>(&self, proto: &S) -> Params<S> {
        Params { blocks: self.blocks.iter().map(|b| b.cast(proto)).collect() }
    }
}
