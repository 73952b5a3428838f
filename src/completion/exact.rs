//! Determinants and the rank-lowering value of one unknown entry.
//!
//! For a square matrix $M(x)$ whose entry $(i, j)$ is the unknown $x$, cofactor expansion along
//! row $i$ gives
//! $$\det M(x) = \det M(0) + x\,C_{ij},\qquad C_{ij} = (-1)^{i+j}\det M_{\hat\imath\hat\jmath},$$
//! affine in $x$. When $C_{ij} \ne 0$ the unique value that makes $M(x)$ singular is
//! $x^\ast = -\det M(0)/C_{ij}$; for an $n\times n$ matrix whose other entries come from a rank
//! $n-1$ matrix, $x^\ast$ is its unique rank-$(n-1)$ completion. In rationals ([`crate::scalar::Q`])
//! both determinants, and so $x^\ast$, are exact.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Scalar;

/// Determinant of a square matrix by Gaussian elimination with the largest available pivot in
/// each column (exact for rationals; for floating point the usual backward-stable elimination).
pub fn determinant<S: Scalar>(a: &Mat<S>) -> Result<S> {
    let (n, c) = a.shape();
    if n != c || n == 0 {
        return Err(Error::dim("determinant", "a non-empty square matrix", format!("{n}x{c}")));
    }
    let mut m = a.to_rows();
    let mut det = a.proto().one_like();
    for k in 0..n {
        let p = (k..n).max_by(|&x, &y| m[x][k].abs().partial_cmp(&m[y][k].abs()).unwrap_or(std::cmp::Ordering::Equal));
        let p = p.expect("k < n");
        if m[p][k].is_zero() {
            return Ok(a.proto());
        }
        if p != k {
            m.swap(p, k);
            det = -det;
        }
        let pivot = m[k][k].clone();
        det *= &pivot;
        for r in k + 1..n {
            if m[r][k].is_zero() {
                continue;
            }
            let f = m[r][k].clone() / pivot.clone();
            let (upper, lower) = m.split_at_mut(r);
            for (x, y) in lower[0][k..n].iter_mut().zip(&upper[k][k..n]) {
                let v = f.clone() * y.clone();
                *x -= &v;
            }
        }
    }
    Ok(det)
}

/// The cofactor $C_{ij} = (-1)^{i+j}\det M_{\hat\imath\hat\jmath}$ (the determinant of `m` without
/// row `i` and column `j`, signed). A `1×1` matrix has cofactor 1.
pub fn cofactor<S: Scalar>(m: &Mat<S>, (i, j): (usize, usize)) -> Result<S> {
    let (n, c) = m.shape();
    if n != c || i >= n || j >= c {
        return Err(Error::dim("cofactor", format!("a square matrix with ({i}, {j}) inside"), format!("{n}x{c}")));
    }
    if n == 1 {
        return Ok(m.proto().one_like());
    }
    let minor = Mat::from_fn(n - 1, n - 1, |r, s| m.get(r + usize::from(r >= i), s + usize::from(s >= j)).clone());
    let d = determinant(&minor)?;
    Ok(if (i + j) % 2 == 0 { d } else { -d })
}

/// The value $x^\ast = -\det M(0)/C_{ij}$ of entry `(i, j)` that makes `m` singular (the entry's
/// current value is ignored). Fails when the cofactor vanishes (then no value, or every value,
/// makes `m` singular).
pub fn rank_lowering_entry<S: Scalar>(m: &Mat<S>, (i, j): (usize, usize)) -> Result<S> {
    let c = cofactor(m, (i, j))?;
    if c.is_zero() {
        return Err(Error::Precondition {
            reference: "single-entry rank-lowering completion".into(),
            message: format!("the cofactor of entry ({i}, {j}) is zero"),
        });
    }
    let mut m0 = m.clone();
    *m0.get_mut(i, j) = m.proto();
    Ok(-(determinant(&m0)? / c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Q;

    #[test]
    fn determinant_of_a_known_integer_matrix() {
        // det [[2,0,1],[1,3,2],[1,1,1]] = 2(3-2) - 0 + 1(1-3) = 0; and with a 4 in the corner: 2·1 -0 + ...
        let q = |v: i64| Q::from(v);
        let a = Mat::from_vec(3, 3, [2, 0, 1, 1, 3, 2, 1, 1, 1].iter().map(|&v| q(v)).collect());
        assert_eq!(determinant(&a).unwrap(), q(0));
        let b = Mat::from_vec(3, 3, [2, 0, 1, 1, 3, 2, 1, 1, 4].iter().map(|&v| q(v)).collect());
        // Expansion along row 0: 2(12-2) - 0 + 1(1-3) = 18.
        assert_eq!(determinant(&b).unwrap(), q(18));
    }
}
