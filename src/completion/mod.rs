//! Matrix completion helpers: the structure of an observation mask and exact completions.
//!
//! * [`connectivity`]: the observed entries as a bipartite graph between rows and columns, its
//!   connected components, and whether the mask is connected (Bai, Zhao, Zhang, NeurIPS 2024:
//!   connectivity decides whether small-initialization training finds the minimum-rank or the
//!   minimum-nuclear-norm completion).
//! * [`exact`]: determinants by fraction-free elimination in any number type, and the value of a
//!   single unknown entry that lowers the rank (exact in rationals).

pub mod connectivity;
pub mod exact;
