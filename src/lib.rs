//! # linflow
//!
//! Verify the training dynamics of linear networks: deep linear networks
//! $W = W_N \cdots W_1$, diagonal networks $\beta = u \odot v$ and $\beta = u\odot u - v \odot v$,
//! and two-factor problems $f(XY^\top)$, $f(x^\top y)$, under gradient flow and its relatives
//! (SAM, momentum, balancing flows) and under discrete optimizers (GD, SGD, SAM, USAM, heavy ball,
//! Nesterov, BAR), with the invariants each is claimed to obey tracked along every run.
//!
//! The same code runs in `f64`, in MPFR at any precision ([`scalar::Mp`]) and in exact rationals
//! ([`scalar::Q`]), so a conservation law can be shown to hold to $10^{-67}$ at 256 bits and a per-step
//! identity with zero tolerance. For example, gradient descent changes the balancedness matrices
//! $C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top$ by exactly
//! $$C_j(k+1) = (1-\eta\lambda)^2 C_j(k) + \eta^2\bigl(G_{j+1}^\top G_{j+1} - G_j G_j^\top\bigr).$$
//!
//! ```
//! use linflow::prelude::*;
//! use linflow::scalar::Q;
//! // A 2-3-2 network fitting a target, in exact rational arithmetic.
//! let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
//! let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
//! let q = Q::new();
//! let (model, p0) = (model.cast(&q), init::gaussian(&arch, 0.5, &mut data::rng(3)).cast(&q));
//! let eta = Q::from((1, 10));
//! let mut opt = Optimizer::exact(Method::Gd { eta: eta.clone() }).unwrap();
//! let mut mon = Monitor::new().track(Balancedness, Law::gd_balancedness(eta));
//! let traj = run(&model, &mut opt, &p0, &RunOptions::steps(3), &mut mon).unwrap();
//! assert!(traj.laws[0].exact_zero); // the identity holds with zero error
//! ```
#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod bench;
pub mod closed_form;
pub mod compare;
pub mod completion;
#[cfg(feature = "cli")]
pub mod config;
pub mod conservation;
pub mod data;
pub mod decimal;
pub mod error;
#[cfg(feature = "cli")]
pub mod experiments;
pub mod flow;
pub mod init;
pub mod invariants;
pub mod linalg;
pub mod mat;
pub mod model;
pub mod observe;
pub mod optim;
pub mod params;
pub mod report;
pub mod run;
pub mod scalar;
pub mod stability;
#[cfg(feature = "cli")]
pub mod sweep;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trajectory;
pub mod verdict;

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The names most programs need.
pub mod prelude {
    pub use crate::data;
    pub use crate::error::{Error, Result};
    pub use crate::flow::{solve, FlowProblem, GradientFlow, Integrator, SolveOptions, VectorField};
    pub use crate::init;
    pub use crate::invariants::{
        Balancedness, DiagonalBalance, FactorBalance, FactorGram, Law, LawReport, LossValue, MomentMap, Monitor,
        Quantity,
    };
    pub use crate::mat::Mat;
    pub use crate::model::{Arch, Loss, Model};
    pub use crate::observe::{Observation, Observer, ObserverMode};
    pub use crate::optim::{BarKind, Method, Optimizer};
    pub use crate::params::Params;
    pub use crate::report::{Figure, Series, Style};
    pub use crate::run::{run, Run, RunOptions};
    pub use crate::scalar::{Mp, Real, Scalar, Q};
    pub use crate::trajectory::{Outcome, Save, Stats, Trajectory};
}
