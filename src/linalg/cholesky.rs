//! The Cholesky factorization of a symmetric positive definite matrix.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Real;

use super::pre;

/// Cholesky factor $L$ (lower triangular, $C = LL^\top$) of a symmetric positive definite matrix;
/// [`Error::Precondition`] when a pivot is not positive.
pub fn cholesky<S: Real>(c: &Mat<S>) -> Result<Mat<S>> {
    let n = c.rows();
    if c.cols() != n || n == 0 {
        return Err(Error::dim("Cholesky", "a non-empty square matrix", format!("{:?}", c.shape())));
    }
    let proto = c.proto();
    let mut l = Mat::zeros(n, n, &proto);
    for j in 0..n {
        let mut d = c.get(j, j).clone();
        for k in 0..j {
            d -= &l.get(j, k).square();
        }
        if d <= proto.zero_like() || !d.is_finite() {
            return Err(pre(format!("matrix is not positive definite (pivot {j} is {:e})", d.to_f64())));
        }
        let djj = d.sqrt();
        for i in j + 1..n {
            let mut s = c.get(i, j).clone();
            for k in 0..j {
                s -= &(l.get(i, k).clone() * l.get(j, k).clone());
            }
            *l.get_mut(i, j) = s / djj.clone();
        }
        *l.get_mut(j, j) = djj;
    }
    Ok(l)
}
