//! Dense linear algebra over any number type, one algorithm per file: what is exact in rationals
//! (elimination) is generic over [`Scalar`](crate::scalar::Scalar), what needs square roots over
//! [`Real`](crate::scalar::Real) at the precision of its input (`f64` or MPFR at any number of
//! bits).
//!
//! | file | algorithms |
//! |---|---|
//! | `solve` | [`solve`] (Gaussian elimination, partial pivoting), [`inverse`] |
//! | `cholesky` | [`cholesky`] |
//! | `eigen` | [`sym_eigen`] (cyclic Jacobi), [`symmetric_eigenvalues`], spectral functions [`sym_apply`], [`spectral`], [`psd_pow`], [`sym_exp`]; the `f64` fast path [`psd_power`] (nalgebra) |
//! | `svd` | [`singular_values`], [`squared_singular_values`], [`thin_svd`] (from the smaller Gram matrix) |

mod cholesky;
mod eigen;
mod solve;
mod svd;

pub use cholesky::cholesky;
pub use eigen::{
    psd_pow, psd_power, psd_power_eig, spectral, sym_apply, sym_eigen, sym_exp, symmetric_eigenvalues, F64_CUT,
};
pub use solve::{inverse, solve};
pub use svd::{singular_values, squared_singular_values, thin_svd};

use crate::error::Error;

/// A precondition of a linear-algebra routine failed (a singular matrix, a matrix that is not
/// positive definite or not of full rank).
fn pre(message: impl Into<String>) -> Error {
    Error::Precondition { reference: "linear algebra".into(), message: message.into() }
}
