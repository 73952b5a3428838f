//! Linear solves and inverses by Gaussian elimination with partial pivoting: exact in rationals.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Scalar;

use super::pre;

/// Solves `a·x = b` (`a` square, `b` with any number of columns) by Gaussian elimination with
/// partial pivoting. Exact in rationals. Returns [`Error::Precondition`] when `a` is singular.
pub fn solve<S: Scalar>(a: &Mat<S>, b: &Mat<S>) -> Result<Mat<S>> {
    let n = a.rows();
    if a.cols() != n || b.rows() != n {
        return Err(Error::dim("linear solve", format!("{n}x{n} matrix and {n} rows"), format!("{:?}", b.shape())));
    }
    let m = b.cols();
    let mut lhs: Vec<Vec<S>> = a.to_rows();
    let mut rhs: Vec<Vec<S>> = b.to_rows();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| lhs[i][col].abs().partial_cmp(&lhs[j][col].abs()).unwrap_or(std::cmp::Ordering::Equal))
            .unwrap_or(col);
        if lhs[piv][col].is_zero() || !lhs[piv][col].is_finite() {
            return Err(pre(format!("matrix is singular (no pivot in column {col})")));
        }
        lhs.swap(col, piv);
        rhs.swap(col, piv);
        let p = lhs[col][col].clone();
        for i in 0..n {
            if i == col || lhs[i][col].is_zero() {
                continue;
            }
            let f = lhs[i][col].clone() / p.clone();
            let (pivot_row, pivot_rhs) = (lhs[col].clone(), rhs[col].clone());
            for (x, y) in lhs[i].iter_mut().zip(&pivot_row).skip(col) {
                *x -= &(f.clone() * y.clone());
            }
            for (x, y) in rhs[i].iter_mut().zip(&pivot_rhs) {
                *x -= &(f.clone() * y.clone());
            }
        }
    }
    let x = Mat::from_fn(n, m, |i, k| rhs[i][k].clone() / lhs[i][i].clone());
    if !x.is_finite() {
        return Err(pre("linear solve produced non-finite values (matrix numerically singular)"));
    }
    Ok(x)
}

/// Inverse of a square matrix (Gauss–Jordan; exact in rationals).
pub fn inverse<S: Scalar>(a: &Mat<S>) -> Result<Mat<S>> {
    if a.rows() != a.cols() || a.rows() == 0 {
        return Err(Error::dim("inverse", "a non-empty square matrix", format!("{:?}", a.shape())));
    }
    let proto = a.proto();
    solve(a, &Mat::eye(a.rows(), a.rows(), &proto))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Q;

    #[test]
    fn rational_inverse_is_exact() {
        // The 3x3 Hilbert matrix (invertible, inverse with integer entries).
        let a = Mat::from_fn(3, 3, |i, j| Q::from((1, (i + j + 1) as i64)));
        let inv = inverse(&a).unwrap();
        assert_eq!(a.matmul(&inv), Mat::eye(3, 3, &Q::new()));
        assert_eq!(*inv.get(0, 0), Q::from(9));
        assert_eq!(*inv.get(1, 1), Q::from(192));
        let sing = Mat::from_fn(2, 2, |_, _| Q::from(1));
        assert!(matches!(inverse(&sing), Err(Error::Precondition { .. })));
    }
}
