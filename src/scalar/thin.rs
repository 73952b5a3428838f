//! `f64` kernels for thin and small products (a matrix–vector product, a dot product, an outer
//! product, products of matrices of side at most [`SMALL`]), where a blocked GEMM would spend
//! its time packing panels and padding its register tiles: a `1×k` times `k×n` product through a
//! kernel with 8-row tiles computes 8 rows to keep one, and an `8×8` product costs less than
//! packing its operands. Used by the `f64` [`Scalar::gemm`](super::Scalar::gemm).

/// Largest side for which every product takes the direct loops.
pub(super) const SMALL: usize = 12;

/// $\sum_l a_{l\,s_a} b_{l\,s_b}$ over `k` terms; with unit strides in eight independent partial
/// sums (so the loop vectorizes).
#[inline(always)]
fn dot(k: usize, a: &[f64], sa: usize, b: &[f64], sb: usize) -> f64 {
    if sa == 1 && sb == 1 {
        let (a, b) = (&a[..k], &b[..k]);
        let mut s = [0.0f64; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for q in 0..8 {
                s[q] += x[q] * y[q];
            }
        }
        let mut t = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
        for (x, y) in ra.iter().zip(rb) {
            t += x * y;
        }
        t
    } else {
        (0..k).map(|l| a[l * sa] * b[l * sb]).sum()
    }
}

/// $C \mathrel{(+)}= AB$ for `m×k` times `k×n` by direct loops (strides as in
/// [`Scalar::gemm`](super::Scalar::gemm); `c` is row-major `m×n`). The caller has checked the
/// index bounds.
///
/// Compiled twice: for the baseline instruction set and, chosen at run time where the processor
/// has them, with AVX2 and FMA enabled (four lanes instead of two; no fused operations are
/// introduced, so both give the same doubles).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    sa: (usize, usize),
    b: &[f64],
    sb: (usize, usize),
    accumulate: bool,
    c: &mut [f64],
) {
    if !accumulate && m.max(n).max(k) <= TINY {
        tiny(m, k, n, a, sa, b, sb, c);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor supports the features the function is compiled for.
        unsafe { gemm_avx2(m, k, n, a, sa, b, sb, accumulate, c) };
        return;
    }
    gemm_body(m, k, n, a, sa, b, sb, accumulate, c);
}

/// Largest side for which a product takes [`tiny`].
const TINY: usize = 4;

/// $C = AB$ for sides at most [`TINY`]: the operands are copied into zero-padded `4×4` arrays
/// (rows of $A$, columns of $B$) and each entry is the sum of its four products in the order
/// $l = 0, 1, 2, 3$ starting from zero, which gives the same doubles as the other paths without
/// accumulation (the padded terms add $+0$; only the sign of a zero entry can differ). The
/// general loops' set-up costs more than the 64 multiply–adds of a `4×4` product (callgrind on
/// W2's 3-4-4-2 network: about 700 instructions per product through them).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tiny(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    (rsb, csb): (usize, usize),
    c: &mut [f64],
) {
    let mut at = [[0.0f64; TINY]; TINY];
    let mut bt = [[0.0f64; TINY]; TINY];
    for (i, row) in at.iter_mut().enumerate().take(m) {
        for (l, x) in row.iter_mut().enumerate().take(k) {
            *x = a[i * rsa + l * csa];
        }
    }
    for (j, col) in bt.iter_mut().enumerate().take(n) {
        for (l, x) in col.iter_mut().enumerate().take(k) {
            *x = b[l * rsb + j * csb];
        }
    }
    for (i, x) in at.iter().enumerate().take(m) {
        for (j, y) in bt.iter().enumerate().take(n) {
            let mut t = 0.0;
            t += x[0] * y[0];
            t += x[1] * y[1];
            t += x[2] * y[2];
            t += x[3] * y[3];
            c[i * n + j] = t;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    sa: (usize, usize),
    b: &[f64],
    sb: (usize, usize),
    accumulate: bool,
    c: &mut [f64],
) {
    gemm_body(m, k, n, a, sa, b, sb, accumulate, c);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gemm_body(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    (rsa, csa): (usize, usize),
    b: &[f64],
    (rsb, csb): (usize, usize),
    accumulate: bool,
    c: &mut [f64],
) {
    if !accumulate {
        c[..m * n].fill(0.0);
    }
    if n == 1 {
        // Matrix times vector: one dot product per row.
        for (i, ci) in c[..m].iter_mut().enumerate() {
            *ci += dot(k, &a[i * rsa..], csa, b, rsb);
        }
    } else if csb == 1 {
        // Rows of B contiguous: row i of C accumulates a_il times row l of B, four rows of B per
        // pass over the row of C (the same additions in the same order, a quarter of the loads
        // and stores of C).
        for i in 0..m {
            let row = &mut c[i * n..(i + 1) * n];
            let x = |l: usize| a[i * rsa + l * csa];
            let brow = |l: usize| &b[l * rsb..l * rsb + n];
            let mut l = 0;
            while l + 4 <= k {
                let (x0, x1, x2, x3) = (x(l), x(l + 1), x(l + 2), x(l + 3));
                let (b0, b1, b2, b3) = (brow(l), brow(l + 1), brow(l + 2), brow(l + 3));
                for ((((cj, v0), v1), v2), v3) in row.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3) {
                    let mut t = *cj;
                    t += x0 * v0;
                    t += x1 * v1;
                    t += x2 * v2;
                    t += x3 * v3;
                    *cj = t;
                }
                l += 4;
            }
            for l in l..k {
                let xl = x(l);
                for (cj, bj) in row.iter_mut().zip(brow(l)) {
                    *cj += xl * bj;
                }
            }
        }
    } else {
        // Columns of B contiguous (B transposed): one dot product per entry.
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] += dot(k, &a[i * rsa..], csa, &b[j * csb..], rsb);
            }
        }
    }
}
