//! The gradient of a deep linear network under a matrix-completion loss, using the sparsity of
//! the residual.
//!
//! With $W = W_N P_{N-1}$, $P_{N-1} = W_{N-1}\cdots W_1$ and the residual $R$ supported on the
//! $m$ observed entries $\Omega$, the three products that involve the last layer need only
//! $\Omega$: the observed entries $W_{ij} = (W_N)_{i,:}\,(P_{N-1})_{:,j}$, the last gradient
//! $G_N = R\,P_{N-1}^\top$ (row $i$ gathers the rows $j$ of $P_{N-1}^\top$) and the back-propagated
//! $A_{N-1} = W_N^\top R$ (row $j$ of $A_{N-1}^\top$ gathers the rows $i$ of $W_N$). Each costs
//! $m\,d_{N-1}$ multiply–adds instead of $d_N d_{N-1} d_0$; the other layers are dense as before.
//! At $m = 0.2\,d_N d_0$ (the deep matrix factorization benchmark W5, depth 3) this is 60% of
//! the dense work.

use super::Workspace;
use crate::mat::Mat;
use crate::model::Reduction;
use crate::params::Params;
use crate::scalar::Scalar;

/// Whether the sparse path pays: at most a quarter of the `rows×cols` entries observed (the
/// entry-wise products run below the speed of a blocked matrix product).
pub(super) fn worth_it(entries: usize, rows: usize, cols: usize) -> bool {
    4 * entries <= rows * cols
}

/// `out = src^T`.
fn transpose_into<S: Scalar>(src: &Mat<S>, out: &mut Mat<S>) {
    let (r, c) = src.shape();
    let s = src.as_slice();
    let o = out.as_mut_slice();
    for i in 0..r {
        for j in 0..c {
            o[j * r + i].clone_from(&s[i * c + j]);
        }
    }
}

/// The loss value and gradient of $c\sum_{k}\bigl((W_N\cdots W_1)_{i_kj_k} - M_k\bigr)^2$ over
/// the observed entries (or the mini-batch `batch` of them) for a network of depth `N >= 2`,
/// written into `out`. Same value and gradient as the dense path up to rounding.
pub(super) fn grad_completion<S: Scalar>(
    ws: &mut Workspace<S>,
    w: &[Mat<S>],
    entries: &[(usize, usize, S)],
    reduction: Reduction,
    batch: Option<&[usize]>,
    out: &mut Params<S>,
) -> S {
    let n = w.len();
    debug_assert!(n >= 2);
    // Prefix products P_1 = W_1, P_j = W_j P_{j-1}, up to P_{N-1}.
    ws.prefix[0].clone_from(&w[0]);
    for j in 1..n - 1 {
        let (done, rest) = ws.prefix.split_at_mut(j);
        Mat::gemm_into(&w[j], false, &done[j - 1], false, false, &mut rest[0]);
    }
    let (pt, at) = ws.sparse.as_mut().expect("workspace built for the sparse completion path");
    transpose_into(&ws.prefix[n - 2], pt);
    let wn = &w[n - 1];
    let k = wn.cols();
    let proto = wn.proto();
    let m = batch.map_or(entries.len(), <[usize]>::len);
    let c = reduction.factor(m, &proto);
    let two_c = c.clone() + c.clone();
    let gn = &mut out.blocks[n - 1];
    for x in gn.as_mut_slice().iter_mut().chain(at.as_mut_slice()) {
        *x = proto.clone();
    }
    let (wn_s, pt_s) = (wn.as_slice(), pt.as_slice());
    let mut value = proto.clone();
    let mut rij = [proto.clone()];
    let mut one = |idx: usize| {
        let (i, j, mij) = &entries[idx];
        let (wrow, prow) = (&wn_s[i * k..(i + 1) * k], &pt_s[j * k..(j + 1) * k]);
        // r = W_N[i,:]·P^T[j,:] − M_ij.
        S::gemm(1, k, 1, wrow, (k, 1), prow, (1, 1), false, &mut rij);
        let r = rij[0].clone() - mij.clone();
        value.mul_add_assign(&r, &r);
        let s = [r * two_c.clone()];
        // G_N[i,:] += s·P^T[j,:];  A_{N-1}^T[j,:] += s·W_N[i,:].
        S::gemm(1, 1, k, &s, (1, 1), prow, (k, 1), true, &mut gn.as_mut_slice()[i * k..(i + 1) * k]);
        S::gemm(1, 1, k, &s, (1, 1), wrow, (k, 1), true, &mut at.as_mut_slice()[j * k..(j + 1) * k]);
    };
    match batch {
        Some(idx) => idx.iter().for_each(|&t| one(t)),
        None => (0..entries.len()).for_each(&mut one),
    }
    // A_{N-1} = (A_{N-1}^T)^T, then the dense backward pass from layer N − 1.
    transpose_into(at, &mut ws.back[n - 1]);
    for j in (1..n).rev() {
        if j > 1 {
            Mat::gemm_into(&ws.back[j], false, &ws.prefix[j - 2], true, false, &mut out.blocks[j - 1]);
            let (lo, hi) = ws.back.split_at_mut(j);
            Mat::gemm_into(&w[j - 1], true, &hi[0], false, false, &mut lo[j - 1]);
        } else {
            out.blocks[0].clone_from(&ws.back[1]);
        }
    }
    value * c
}
