//! Matrix completion and matrix factorization: spectral measures of a matrix (singular values,
//! effective rank, Schatten quasi-norms), the minimum nuclear norm completion, plain gradient
//! descent run until the training loss falls below a threshold, the structure of an observation
//! mask, and exact completions.
//!
//! These are the pieces needed to reproduce Arora, Cohen, Hu and Luo (NeurIPS 2019), "Implicit
//! Regularization in Deep Matrix Factorization": a rank-`r` ground truth of given Frobenius norm
//! ([`crate::data::low_rank_with_norm`]), exactly `k` observed entries
//! ([`crate::data::completion_exact`]), the mean squared error over the observations
//! ([`crate::model::Reduction::Mean`]), deep factorizations trained by GD ([`descent`]), and the
//! nuclear-norm baseline ([`min_nuclear_norm_completion`]); and Bai, Zhao, Zhang (NeurIPS 2024):
//!
//! * [`connectivity`]: the observed entries as a bipartite graph between rows and columns, its
//!   connected components, and whether the mask is connected (connectivity decides whether
//!   small-initialization training finds the minimum-rank or the minimum-nuclear-norm completion).
//! * [`exact`]: determinants by fraction-free elimination in any number type, and the value of a
//!   single unknown entry that lowers the rank (exact in rationals).

pub mod barrier;
pub mod connectivity;
pub mod deep;
pub mod descent;
pub mod exact;
pub mod nuclear;
mod polish;
pub mod spectral;

pub use deep::{layer_std, stable_step_size, CompletionProblem};
pub use descent::{descend, Descent, DescentOptions, Stop};
pub use nuclear::{min_nuclear_norm_completion, NuclearCompletion, NuclearOptions};
pub use spectral::{effective_rank, schatten, singular_values, test_mse};
