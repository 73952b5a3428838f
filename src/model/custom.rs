//! A user's own loss on the end-to-end matrix, without forking: [`LossFn`], held by
//! [`Loss::Custom`](super::Loss::Custom) (built by [`Loss::custom`](super::Loss::custom)). Every architecture's gradient then goes through the one
//! pullback of $\nabla E(W)$, as for the built-in losses.
//!
//! ```
//! use linflow::prelude::*;
//! use linflow::model::LossFn;
//!
//! /// The Huber loss $\sum_{ij} h_\delta(W_{ij} - \Phi_{ij})$, $h_\delta(r) = r^2/2$ for
//! /// $|r| \le \delta$ and $\delta(|r| - \delta/2)$ beyond.
//! struct Huber {
//!     phi: Mat<f64>,
//!     delta: f64,
//! }
//! impl LossFn<f64> for Huber {
//!     fn name(&self) -> String {
//!         format!("huber (delta = {})", self.delta)
//!     }
//!     fn shape(&self) -> (usize, usize) {
//!         self.phi.shape()
//!     }
//!     fn value(&self, w: &Mat<f64>) -> f64 {
//!         let d = self.delta;
//!         let h = |r: f64| if r.abs() <= d { 0.5 * r * r } else { d * (r.abs() - 0.5 * d) };
//!         w.as_slice().iter().zip(self.phi.as_slice()).map(|(a, b)| h(a - b)).sum()
//!     }
//!     fn grad(&self, w: &Mat<f64>, g: &mut Mat<f64>) {
//!         for ((gi, a), b) in g.as_mut_slice().iter_mut().zip(w.as_slice()).zip(self.phi.as_slice()) {
//!             *gi = (a - b).clamp(-self.delta, self.delta);
//!         }
//!     }
//! }
//!
//! let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
//! let huber = Huber { phi: Mat::eye(2, 2, &0.0), delta: 0.1 };
//! let model = Model::new(arch.clone(), Loss::custom(huber, &0.0)).unwrap();
//! let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
//! let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &0.0).unwrap();
//! // GD changes the balancedness by exactly η²(G_{j+1}ᵀG_{j+1} − G_jG_jᵀ), whatever the loss.
//! let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(0.1));
//! let traj = run(&model, &mut opt, &p0, &RunOptions::steps(100), &mut mon).unwrap();
//! assert!(traj.loss[100] < traj.loss[0]);
//! assert!(traj.laws[0].worst_rel < 1e-12);
//! ```

use crate::mat::Mat;
use crate::scalar::Scalar;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A loss $E(W)$ on the end-to-end matrix, with its gradient $\nabla E(W)$.
///
/// Code paths that need the loss's structure refuse a custom loss with an error naming it:
/// closed forms (they read a target or regression loss), Hessian-vector products on dual numbers
/// and Taylor's method (they re-run the loss's arithmetic in another number type, which a custom
/// loss does not expose), mini-batches (a custom loss has no samples: every step is full-batch).
pub trait LossFn<S>: Send + Sync {
    /// Name for reports and errors.
    fn name(&self) -> String;
    /// Shape of the end-to-end matrices the loss acts on.
    fn shape(&self) -> (usize, usize);
    /// $E(W)$.
    fn value(&self, w: &Mat<S>) -> S;
    /// Writes $\nabla E(W)$ into `g` (of the shape of `w`).
    fn grad(&self, w: &Mat<S>, g: &mut Mat<S>);
}

impl<S> fmt::Debug for dyn LossFn<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LossFn({})", self.name())
    }
}

/// A custom loss of number type `S` seen from number type `T` (`Loss::map`): the matrix is
/// rounded to `f64` and read in `S`, the loss is evaluated in `S`, and the results are read back
/// in `T` through `f64`. The loss keeps the precision of the type it was written in (at most
/// `f64`'s across the bridge); paths that need exact derivatives through the loss refuse it
/// (see [`LossFn`]).
pub(crate) struct Rounded<S, T> {
    pub(crate) inner: Arc<dyn LossFn<S>>,
    pub(crate) proto: S,
    pub(crate) _to: PhantomData<fn() -> T>,
}

impl<S: Scalar, T: Scalar> LossFn<T> for Rounded<S, T> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn shape(&self) -> (usize, usize) {
        self.inner.shape()
    }
    fn value(&self, w: &Mat<T>) -> T {
        let ws = w.map(|x| self.proto.from_f64_like(x.to_f64()));
        w.proto().from_f64_like(self.inner.value(&ws).to_f64())
    }
    fn grad(&self, w: &Mat<T>, g: &mut Mat<T>) {
        let ws = w.map(|x| self.proto.from_f64_like(x.to_f64()));
        let mut gs = ws.zeros_like();
        self.inner.grad(&ws, &mut gs);
        let proto = w.proto();
        for (d, s) in g.as_mut_slice().iter_mut().zip(gs.as_slice()) {
            *d = proto.from_f64_like(s.to_f64());
        }
    }
}
