//! A small dense row-major matrix over any [`Scalar`].
//!
//! `rug::Float` cannot be a nalgebra scalar without a global precision, so linflow carries its own
//! minimal matrix type. For `f64`, products go through a blocked SIMD kernel
//! ([`Scalar::gemm`]); conversions to and from `nalgebra::DMatrix<f64>` give access to SVD and
//! eigendecompositions.

use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// `rows × cols`, panicking with the shape on overflow instead of wrapping around (a wrapped
/// count would allocate a small buffer and fail later on an index). Sizes from user input are
/// checked, with an error naming the key, before any matrix of that size is built.
fn entries(rows: usize, cols: usize) -> usize {
    match rows.checked_mul(cols) {
        Some(n) => n,
        None => panic!("a {rows}x{cols} matrix has more entries than the address space holds"),
    }
}

/// Dense `rows × cols` matrix, row-major.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Mat<S> {
    rows: usize,
    cols: usize,
    data: Vec<S>,
}

impl<S: Clone> Clone for Mat<S> {
    fn clone(&self) -> Self {
        Mat { rows: self.rows, cols: self.cols, data: self.data.clone() }
    }

    /// Reuses the buffer of `self` (the gradient's workspaces copy into matrices of the same
    /// shape at every evaluation; the derived `clone_from` would allocate a new buffer each time).
    fn clone_from(&mut self, source: &Self) {
        self.rows = source.rows;
        self.cols = source.cols;
        self.data.clone_from(&source.data);
    }
}

impl<S: Scalar> Mat<S> {
    /// Builds from row-major data. Panics if `data.len() != rows*cols` (an internal invariant;
    /// user input is checked by [`Mat::try_from_rows`]).
    pub fn from_vec(rows: usize, cols: usize, data: Vec<S>) -> Self {
        let n = entries(rows, cols);
        assert_eq!(data.len(), n, "Mat::from_vec: {rows}x{cols} needs {n} entries");
        Mat { rows, cols, data }
    }

    /// Builds from rows, checking that all rows have the same length.
    pub fn try_from_rows(rows: Vec<Vec<S>>) -> Result<Self, String> {
        let r = rows.len();
        let c = rows.first().map_or(0, Vec::len);
        if let Some((i, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != c) {
            return Err(format!("row {i} has {} entries, row 0 has {c}", row.len()));
        }
        Ok(Mat { rows: r, cols: c, data: rows.into_iter().flatten().collect() })
    }

    /// The zero matrix, with entries like `proto`.
    pub fn zeros(rows: usize, cols: usize, proto: &S) -> Self {
        Mat { rows, cols, data: vec![proto.zero_like(); entries(rows, cols)] }
    }

    /// The identity (or a rectangular identity), with entries like `proto`.
    pub fn eye(rows: usize, cols: usize, proto: &S) -> Self {
        let mut m = Self::zeros(rows, cols, proto);
        for i in 0..rows.min(cols) {
            m.data[i * cols + i] = proto.one_like();
        }
        m
    }

    /// Builds entry by entry.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> S) -> Self {
        let mut data = Vec::with_capacity(entries(rows, cols));
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Mat { rows, cols, data }
    }

    /// Zero matrix of the same shape and precision.
    pub fn zeros_like(&self) -> Self {
        let proto = self.proto();
        Self::zeros(self.rows, self.cols, &proto)
    }

    /// A value carrying this matrix's precision (zero of it).
    pub fn proto(&self) -> S {
        match self.data.first() {
            Some(x) => x.zero_like(),
            None => panic!("Mat::proto on an empty matrix"),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// Row-major entries.
    pub fn as_slice(&self) -> &[S] {
        &self.data
    }
    /// Mutable row-major entries.
    pub fn as_mut_slice(&mut self) -> &mut [S] {
        &mut self.data
    }
    /// Consumes into row-major entries.
    pub fn into_vec(self) -> Vec<S> {
        self.data
    }
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> &S {
        &self.data[i * self.cols + j]
    }
    /// Mutable entry `(i, j)`.
    pub fn get_mut(&mut self, i: usize, j: usize) -> &mut S {
        &mut self.data[i * self.cols + j]
    }
    /// Rows as vectors.
    pub fn to_rows(&self) -> Vec<Vec<S>> {
        self.data.chunks(self.cols.max(1)).map(<[S]>::to_vec).collect()
    }

    /// Converts every entry.
    pub fn map<T>(&self, f: impl FnMut(&S) -> T) -> Mat<T> {
        Mat { rows: self.rows, cols: self.cols, data: self.data.iter().map(f).collect() }
    }

    /// Entries as `f64`.
    pub fn to_f64(&self) -> Mat<f64> {
        self.map(S::to_f64)
    }

    /// Transpose.
    pub fn t(&self) -> Self {
        Mat::from_fn(self.cols, self.rows, |i, j| self.get(j, i).clone())
    }

    /// `out = op(a)·op(b)`; `ta`/`tb` select transposes. `out` must have the right shape.
    pub fn gemm_into(a: &Self, ta: bool, b: &Self, tb: bool, accumulate: bool, out: &mut Self) {
        let (m, k) = if ta { (a.cols, a.rows) } else { (a.rows, a.cols) };
        let (k2, n) = if tb { (b.cols, b.rows) } else { (b.rows, b.cols) };
        assert_eq!(k, k2, "matrix product: inner dimensions {k} and {k2} differ");
        assert_eq!((out.rows, out.cols), (m, n), "matrix product: output shape");
        let sa = if ta { (1, a.cols) } else { (a.cols, 1) };
        let sb = if tb { (1, b.cols) } else { (b.cols, 1) };
        S::gemm(m, k, n, &a.data, sa, &b.data, sb, accumulate, &mut out.data);
    }

    /// `op(self)·op(b)` as a new matrix.
    pub fn prod(&self, ta: bool, b: &Self, tb: bool) -> Self {
        let m = if ta { self.cols } else { self.rows };
        let n = if tb { b.rows } else { b.cols };
        let proto = self.data.first().or(b.data.first()).map(S::zero_like);
        let mut out = match proto {
            Some(p) => Mat::zeros(m, n, &p),
            None => return Mat { rows: m, cols: n, data: Vec::new() },
        };
        Self::gemm_into(self, ta, b, tb, false, &mut out);
        out
    }

    /// `self·b`.
    pub fn matmul(&self, b: &Self) -> Self {
        self.prod(false, b, false)
    }

    /// `self += alpha·x`.
    pub fn axpy(&mut self, alpha: &S, x: &Self) {
        assert_eq!(self.shape(), x.shape(), "axpy: shapes differ");
        for (a, b) in self.data.iter_mut().zip(&x.data) {
            a.mul_add_assign(alpha, b);
        }
    }

    /// `self *= alpha`.
    pub fn scale_mut(&mut self, alpha: &S) {
        for a in &mut self.data {
            *a *= alpha;
        }
    }

    /// `alpha·self`.
    pub fn scaled(&self, alpha: &S) -> Self {
        let mut m = self.clone();
        m.scale_mut(alpha);
        m
    }

    /// `self + b`.
    pub fn add(&self, b: &Self) -> Self {
        assert_eq!(self.shape(), b.shape(), "add: shapes differ");
        let mut m = self.clone();
        for (a, b) in m.data.iter_mut().zip(&b.data) {
            *a += b;
        }
        m
    }

    /// `self - b`.
    pub fn sub(&self, b: &Self) -> Self {
        assert_eq!(self.shape(), b.shape(), "sub: shapes differ");
        let mut m = self.clone();
        for (a, b) in m.data.iter_mut().zip(&b.data) {
            *a -= b;
        }
        m
    }

    /// Frobenius inner product `tr(selfᵀ b)`.
    pub fn dot(&self, b: &Self) -> S {
        assert_eq!(self.shape(), b.shape(), "dot: shapes differ");
        let mut s = self.proto();
        for (a, b) in self.data.iter().zip(&b.data) {
            s.mul_add_assign(a, b);
        }
        s
    }

    /// Squared Frobenius norm.
    pub fn norm_sq(&self) -> S {
        self.dot(self)
    }

    /// Largest absolute entry (zero for an empty matrix is not defined: returns `None`).
    pub fn max_abs(&self) -> Option<S> {
        let mut it = self.data.iter();
        let mut m = it.next()?.abs();
        for x in it {
            if !m.is_finite() {
                break;
            }
            let a = x.abs();
            // NaN-propagating: a non-finite entry becomes the maximum (a plain `>` skips NaN).
            if a > m || !a.is_finite() {
                m = a;
            }
        }
        Some(m)
    }

    /// Trace of a square matrix.
    pub fn trace(&self) -> S {
        let mut s = self.proto();
        for i in 0..self.rows.min(self.cols) {
            s += self.get(i, i);
        }
        s
    }

    /// Whether every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(S::is_finite)
    }

    /// `selfᵀ·self`.
    pub fn gram_t(&self) -> Self {
        self.prod(true, self, false)
    }

    /// `self·selfᵀ`.
    pub fn gram(&self) -> Self {
        self.prod(false, self, true)
    }
}

impl Mat<f64> {
    /// Converts to nalgebra.
    pub fn to_na(&self) -> nalgebra::DMatrix<f64> {
        nalgebra::DMatrix::from_row_slice(self.rows, self.cols, &self.data)
    }
    /// Converts from nalgebra.
    pub fn from_na(m: &nalgebra::DMatrix<f64>) -> Self {
        Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
    }
    /// Converts every entry to a scalar like `proto` (exact for rationals and for MPFR of at
    /// least 53 bits).
    pub fn cast<S: Scalar>(&self, proto: &S) -> Mat<S> {
        self.map(|&x| proto.from_f64_like(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Q;

    #[test]
    fn transposed_products_agree_between_f64_and_rationals() {
        let a = Mat::from_fn(3, 4, |i, j| (i as f64 + 1.0) * 0.5 - j as f64);
        let b = Mat::from_fn(3, 2, |i, j| (i * j) as f64 - 1.5);
        let q = Q::new();
        let (aq, bq) = (a.cast(&q), b.cast(&q));
        // Small integers and halves: f64 products are exact, so equality is exact.
        let f = a.prod(true, &b, false);
        let e = aq.prod(true, &bq, false);
        assert_eq!(f, e.to_f64());
        assert_eq!(aq.t().matmul(&bq), e);
        assert_eq!(b.prod(true, &a, false), f.t());
    }

    #[test]
    fn tiny_products_in_every_shape_and_transpose_agree_with_rationals() {
        // Every shape with sides 1..=5 (sides up to 4 take the padded tiny path, 5 the general
        // loops) and every transpose pattern: entries are multiples of 1/8 below 4 in size, so
        // each f64 product and partial sum is exact and the results must equal the rational ones
        // exactly; `clone_from` into a buffer of another shape takes the source's shape.
        let q = Q::new();
        for (m, k, n) in (1..=5).flat_map(|m| (1..=5).flat_map(move |k| (1..=5).map(move |n| (m, k, n)))) {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (ar, ac) = if ta { (k, m) } else { (m, k) };
                let (br, bc) = if tb { (n, k) } else { (k, n) };
                let a = Mat::from_fn(ar, ac, |i, j| ((i * 5 + j * 3) % 7) as f64 / 8.0 - 0.375);
                let b = Mat::from_fn(br, bc, |i, j| ((i * 2 + j * 7) % 9) as f64 / 8.0 - 0.5);
                let f = a.prod(ta, &b, tb);
                let e = a.cast(&q).prod(ta, &b.cast(&q), tb);
                assert_eq!(f, e.to_f64(), "{m}x{k}x{n}, transposes {ta} {tb}");
                let mut c = Mat::zeros(1, 1, &0.0);
                c.clone_from(&f);
                assert_eq!(c, f);
            }
        }
    }
}
