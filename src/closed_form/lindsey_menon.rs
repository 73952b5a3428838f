//! Fibres of the product map and the Kempf–Ness minimum principle (Lindsey–Menon).
//!
//! For widths $d_0,\dots,d_N$ the product map $\phi(W) = W_N\cdots W_1$ is invariant under the group
//! $G = GL(d_1)\times\dots\times GL(d_{N-1})$ acting by
//! $$g\cdot W = (g_N W_N g_{N-1}^{-1},\ \dots,\ g_j W_j g_{j-1}^{-1},\ \dots,\ g_1 W_1 g_0^{-1}),\qquad g_0 = I,\ g_N = I,$$
//! so the fibre $F_X = \phi^{-1}(X)$ is a union of orbits. The moment map (the sign convention of
//! [`crate::invariants::MomentMap`]) is
//! $$\mu_k(W) = W_k W_k^\top - W_{k+1}^\top W_{k+1},\qquad k = 1,\dots,N-1,$$
//! characterized by $\frac{d}{ds}\big|_{s=0}\tfrac12\|e^{s\xi}\cdot W\|^2 = \langle\mu(W),\xi\rangle$.
//!
//! Kempf–Ness: on the fibre of $X$ the regularizer $R(W) = \tfrac12\sum_j\|W_j\|_F^2$ has infimum
//! $$\min_{F_X} R = \tfrac N2\sum_i \sigma_i(X)^{2/N} = \tfrac N2\operatorname{tr}\bigl((X^\top X)^{1/N}\bigr),$$
//! attained exactly at the balanced points ($\mu = 0$) of the fibre, e.g. the factorization of
//! [`balanced_point`] (derivation: `proofs/kempf_ness.md`).
//!
//! Everything here is generic: the group action, moment map and linear solves over any
//! [`Scalar`] (exact in rationals), the spectral functions over [`Real`] (`f64` and MPFR at any
//! precision), with a cyclic Jacobi eigensolver that runs at the precision of its input.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::{Real, Scalar};

const REF: &str = "Lindsey-Menon fibre";

fn pre(message: impl Into<String>) -> Error {
    Error::Precondition { reference: REF.into(), message: message.into() }
}

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

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations, at the precision of the
/// input: returns the eigenvalues in decreasing order and the orthogonal matrix whose columns are
/// the eigenvectors. Only the symmetric part of `a` is used.
pub fn sym_eigen<S: Real>(a: &Mat<S>) -> Result<(Vec<S>, Mat<S>)> {
    let n = a.rows();
    if a.cols() != n || n == 0 {
        return Err(Error::dim(
            "symmetric eigen-decomposition",
            "a non-empty square matrix",
            format!("{:?}", a.shape()),
        ));
    }
    if !a.is_finite() {
        return Err(Error::invalid("matrix", "symmetric eigen-decomposition needs finite entries"));
    }
    let proto = a.proto();
    let half = proto.ratio_like(1, 2);
    let mut m: Vec<S> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            (a.get(i, j).clone() + a.get(j, i).clone()) * half.clone()
        })
        .collect();
    let mut v = Mat::eye(n, n, &proto);
    let eps = proto.epsilon_like();
    let one = proto.one_like();
    for _sweep in 0..200 {
        let mut off = proto.zero_like();
        let mut total = proto.zero_like();
        for i in 0..n {
            for j in 0..n {
                let s = m[i * n + j].square();
                if i != j {
                    off += &s;
                }
                total += &s;
            }
        }
        if off.is_zero() || off <= eps.square() * eps.square() * total {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q].clone();
                if apq.is_zero() {
                    continue;
                }
                let theta = (m[q * n + q].clone() - m[p * n + p].clone()) / (apq * proto.from_i64_like(2));
                let r = (theta.square() + one.clone()).sqrt();
                let t = if theta >= proto.zero_like() {
                    one.clone() / (theta.clone() + r)
                } else {
                    -(one.clone() / (r - theta.clone()))
                };
                let c = one.clone() / (t.square() + one.clone()).sqrt();
                let s = t * c.clone();
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p].clone(), m[k * n + q].clone());
                    m[k * n + p] = c.clone() * akp.clone() - s.clone() * akq.clone();
                    m[k * n + q] = s.clone() * akp + c.clone() * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k].clone(), m[q * n + k].clone());
                    m[p * n + k] = c.clone() * apk.clone() - s.clone() * aqk.clone();
                    m[q * n + k] = s.clone() * apk + c.clone() * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v.get(k, p).clone(), v.get(k, q).clone());
                    *v.get_mut(k, p) = c.clone() * vkp.clone() - s.clone() * vkq.clone();
                    *v.get_mut(k, q) = s.clone() * vkp + c.clone() * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j * n + j].partial_cmp(&m[i * n + i]).unwrap_or(std::cmp::Ordering::Equal));
    let vals = order.iter().map(|&i| m[i * n + i].clone()).collect();
    let vecs = Mat::from_fn(n, n, |i, k| v.get(i, order[k]).clone());
    Ok((vals, vecs))
}

/// `V f(Λ) Vᵀ` for a symmetric matrix `A = VΛVᵀ`: a spectral function evaluated at the precision
/// of `a`.
pub fn sym_apply<S: Real>(a: &Mat<S>, f: impl Fn(&S) -> S) -> Result<Mat<S>> {
    let (vals, v) = sym_eigen(a)?;
    Ok(spectral(&vals, &v, f))
}

/// `V f(Λ) Vᵀ` from an eigen-decomposition.
pub fn spectral<S: Scalar>(vals: &[S], v: &Mat<S>, f: impl Fn(&S) -> S) -> Mat<S> {
    let n = vals.len();
    let fv: Vec<S> = vals.iter().map(f).collect();
    let vd = Mat::from_fn(n, n, |i, k| v.get(i, k).clone() * fv[k].clone());
    vd.prod(false, v, true)
}

/// The power $A^p$ of a positive semidefinite symmetric matrix, with eigenvalues at most
/// `cut·λ_max` treated as exact zeros and $0^0 = 1$ (so that $A^0 = I$ and the power is smooth on
/// rank-deficient Gram matrices such as $W^\top W$ of a rectangular $W$).
pub fn psd_pow<S: Real>(a: &Mat<S>, p: &S, cut: &S) -> Result<Mat<S>> {
    if p.is_zero() && a.rows() == a.cols() && a.rows() > 0 {
        return Ok(Mat::eye(a.rows(), a.rows(), &p.zero_like()));
    }
    let (vals, v) = sym_eigen(a)?;
    let zero = p.zero_like();
    let top = vals.first().map(|x| x.abs()).unwrap_or_else(|| zero.clone());
    let thr = cut.clone() * top;
    Ok(spectral(&vals, &v, |l| if *l <= thr || *l <= zero { zero.clone() } else { l.powf(p) }))
}

/// The regularizer $R(W) = \tfrac12\sum_j \|W_j\|_F^2$.
pub fn regularizer<S: Scalar>(w: &Params<S>) -> S {
    w.norm_sq() * w.proto().ratio_like(1, 2)
}

/// The moment map $\mu_k = W_kW_k^\top - W_{k+1}^\top W_{k+1}$, $k = 1,\dots,N-1$ (blocks in
/// parameter order, `w.blocks[j] = W_{j+1}`).
pub fn moment_map<S: Scalar>(w: &Params<S>) -> Vec<Mat<S>> {
    w.blocks.windows(2).map(|p| p[0].gram().sub(&p[1].gram_t())).collect()
}

fn check_hidden<S: Scalar>(w: &Params<S>, g: &[Mat<S>], what: &str) -> Result<()> {
    let n = w.blocks.len();
    if n == 0 {
        return Err(Error::invalid("parameters", "need at least one block W_1"));
    }
    if g.len() + 1 != n {
        return Err(Error::dim(what, format!("{} hidden-layer matrices (N - 1)", n - 1), g.len().to_string()));
    }
    for (k, gk) in g.iter().enumerate() {
        let d = w.blocks[k].rows();
        if gk.shape() != (d, d) || w.blocks[k + 1].cols() != d {
            return Err(Error::dim(
                format!("{what} on hidden layer {}", k + 1),
                format!("{d}x{d}"),
                format!("{:?}", gk.shape()),
            ));
        }
    }
    Ok(())
}

/// The group action $g\cdot W = (g_jW_jg_{j-1}^{-1})_j$ with `g[k]` $= g_{k+1}$ on the hidden layer
/// $k+1$ ($g_0 = g_N = I$); inverses by exact elimination. It leaves $\phi(W)$ unchanged.
pub fn act<S: Scalar>(w: &Params<S>, g: &[Mat<S>]) -> Result<Params<S>> {
    check_hidden(w, g, "group element")?;
    let inv = g.iter().map(inverse).collect::<Result<Vec<_>>>()?;
    act_with_inverses(w, g, &inv)
}

/// The group action with the inverses supplied (`g_inv[k]` $= g_{k+1}^{-1}$; shapes are checked,
/// the inverse relation is not).
pub fn act_with_inverses<S: Scalar>(w: &Params<S>, g: &[Mat<S>], g_inv: &[Mat<S>]) -> Result<Params<S>> {
    check_hidden(w, g, "group element")?;
    check_hidden(w, g_inv, "inverse group element")?;
    let n = w.blocks.len();
    let blocks = (0..n)
        .map(|j| {
            let mut b = w.blocks[j].clone();
            if j + 1 < n {
                b = g[j].matmul(&b);
            }
            if j > 0 {
                b = b.matmul(&g_inv[j - 1]);
            }
            b
        })
        .collect();
    Ok(Params::new(blocks))
}

/// The infinitesimal action $(\xi\cdot W)_j = \xi_jW_j - W_j\xi_{j-1}$ ($\xi_0 = \xi_N = 0$): the
/// tangent of the orbit, in the kernel of $d\phi_W$.
pub fn lie_action<S: Scalar>(w: &Params<S>, xi: &[Mat<S>]) -> Result<Params<S>> {
    check_hidden(w, xi, "Lie algebra element")?;
    let n = w.blocks.len();
    let blocks = (0..n)
        .map(|j| {
            let mut b = w.blocks[j].zeros_like();
            if j + 1 < n {
                b = b.add(&xi[j].matmul(&w.blocks[j]));
            }
            if j > 0 {
                b = b.sub(&w.blocks[j].matmul(&xi[j - 1]));
            }
            b
        })
        .collect();
    Ok(Params::new(blocks))
}

/// Eigenvalues of the smaller Gram matrix of `x` (the squared singular values, decreasing, the
/// `min(rows, cols)` largest), clipped at zero, with the eigenvectors.
fn gram_eigen<S: Real>(x: &Mat<S>) -> Result<(Vec<S>, Mat<S>, bool)> {
    let wide = x.rows() < x.cols();
    let g = if wide { x.gram() } else { x.gram_t() };
    let (mut vals, v) = sym_eigen(&g)?;
    for l in &mut vals {
        if *l < l.zero_like() {
            *l = l.zero_like();
        }
    }
    Ok((vals, v, wide))
}

fn check_x<S: Scalar>(x: &Mat<S>) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(Error::invalid("x", "end-to-end matrix must be non-empty"));
    }
    if !x.is_finite() {
        return Err(Error::invalid("x", "end-to-end matrix must have finite entries"));
    }
    Ok(())
}

/// Singular values of `x` (the `min(rows, cols)` of them, decreasing), at the precision of `x`,
/// from the eigenvalues of the smaller Gram matrix.
pub fn singular_values<S: Real>(x: &Mat<S>) -> Result<Vec<S>> {
    check_x(x)?;
    Ok(gram_eigen(x)?.0.iter().map(Real::sqrt).collect())
}

/// The Kempf–Ness minimum of the regularizer on the fibre of `x` for depth `depth`:
/// $\tfrac N2\sum_i\sigma_i(X)^{2/N}$. Preconditions: `depth >= 1`, `x` non-empty and finite.
/// (When a hidden width is smaller than the rank of `x` the fibre is empty; [`balanced_point`]
/// checks the widths.)
pub fn kempf_ness_minimum<S: Real>(x: &Mat<S>, depth: usize) -> Result<S> {
    if depth == 0 {
        return Err(pre("depth N must be at least 1"));
    }
    check_x(x)?;
    let (vals, _, _) = gram_eigen(x)?;
    let proto = x.proto();
    let p = proto.ratio_like(1, depth as i64);
    let mut s = proto.zero_like();
    for l in &vals {
        if !l.is_zero() {
            s += &l.powf(&p);
        }
    }
    Ok(s * proto.ratio_like(depth as i64, 2))
}

/// Thin SVD $X = U_r\Sigma V_r^\top$ of a full-rank `x` ($r = \min$ of its dimensions) at the
/// precision of `x`: the eigenvectors of the smaller Gram matrix give one side, $XV_r\Sigma^{-1}$
/// (or $X^\top U_r\Sigma^{-1}$) the other. Returns `(U_r, σ, V_r)`, σ decreasing.
///
/// Precondition: full rank, with the smallest singular value above $\sqrt{\epsilon}\,\sigma_1$ of
/// the precision (below that the Gram matrix does not resolve it).
pub fn thin_svd<S: Real>(x: &Mat<S>) -> Result<(Mat<S>, Vec<S>, Mat<S>)> {
    check_x(x)?;
    let (dn, d0) = x.shape();
    let r = dn.min(d0);
    let (vals, v, wide) = gram_eigen(x)?;
    let proto = x.proto();
    let sig: Vec<S> = vals.iter().take(r).map(Real::sqrt).collect();
    let smax = sig[0].clone();
    let floor = proto.epsilon_like().sqrt() * smax.clone();
    if smax.is_zero() || sig[r - 1] <= floor {
        return Err(pre(format!(
            "X must have full rank {r}: smallest singular value {:e} vs largest {:e}",
            sig[r - 1].to_f64(),
            smax.to_f64()
        )));
    }
    let (u, vr) = if wide {
        let u = Mat::from_fn(dn, r, |i, k| v.get(i, k).clone());
        let xtu = x.prod(true, &u, false);
        let vr = Mat::from_fn(d0, r, |i, k| xtu.get(i, k).clone() / sig[k].clone());
        (u, vr)
    } else {
        let vr = Mat::from_fn(d0, r, |i, k| v.get(i, k).clone());
        let xv = x.matmul(&vr);
        let u = Mat::from_fn(dn, r, |i, k| xv.get(i, k).clone() / sig[k].clone());
        (u, vr)
    };
    Ok((u, sig, vr))
}

/// The balanced point of the fibre of a full-rank `x` for the given widths
/// ($d_0 = $ `x.cols()`, $d_N = $ `x.rows()`): with $X = U_r\Sigma V_r^\top$ (thin SVD,
/// $r = \min(d_0,d_N)$) and $S = \Sigma^{1/N}$, $W_1 = SV_r^\top$, $W_j = S$, $W_N = U_rS$, padded with
/// zeros. Then $\phi(W) = X$, $\mu(W) = 0$ and $R(W)$ equals [`kempf_ness_minimum`].
///
/// Preconditions: widths match `x`; `x` has full rank $r$ (smallest singular value above
/// $\sqrt{\epsilon}\,\sigma_1$ of its precision, so the thin SVD from the Gram matrix is accurate);
/// every hidden width is at least $r$.
pub fn balanced_point<S: Real>(x: &Mat<S>, widths: &[usize]) -> Result<Params<S>> {
    check_x(x)?;
    if widths.len() < 2 {
        return Err(Error::invalid("widths", format!("need d_0..d_N with N >= 1, got {widths:?}")));
    }
    let n = widths.len() - 1;
    let (dn, d0) = (widths[n], widths[0]);
    if x.shape() != (dn, d0) {
        return Err(Error::dim(
            "balanced point",
            format!("X of shape {dn}x{d0} (d_N x d_0)"),
            format!("{:?}", x.shape()),
        ));
    }
    let r = dn.min(d0);
    if let Some(j) = (1..n).find(|&j| widths[j] < r) {
        return Err(pre(format!("hidden width d_{j} = {} is smaller than rank r = {r} of X", widths[j])));
    }
    let (u, sig, vr) = thin_svd(x)?;
    let proto = x.proto();
    if n == 1 {
        return Ok(Params::new(vec![x.clone()]));
    }
    let p = proto.ratio_like(1, n as i64);
    let s: Vec<S> = sig.iter().map(|x| x.powf(&p)).collect();
    let zero = proto.zero_like();
    let mut blocks = Vec::with_capacity(n);
    for j in 1..=n {
        let (rows, cols) = (widths[j], widths[j - 1]);
        let m = if j == 1 {
            Mat::from_fn(rows, cols, |i, k| if i < r { s[i].clone() * vr.get(k, i).clone() } else { zero.clone() })
        } else if j == n {
            Mat::from_fn(rows, cols, |i, k| if k < r { u.get(i, k).clone() * s[k].clone() } else { zero.clone() })
        } else {
            Mat::from_fn(rows, cols, |i, k| if i == k && i < r { s[i].clone() } else { zero.clone() })
        };
        blocks.push(m);
    }
    Ok(Params::new(blocks))
}

/// Gradient descent on the group: `iters` steps $W \leftarrow e^{-\eta\mu(W)}\cdot W$ (each
/// $g_k = e^{-\eta\mu_k}$ and its inverse $e^{\eta\mu_k}$ from one eigen-decomposition), which stay
/// on the orbit of `w` and decrease $R$ since $\frac{d}{ds}R(e^{s\xi}\cdot W) = \langle\mu,\xi\rangle$.
/// Returns the last point and $R$ after every step (the first entry is $R$ at `w`).
pub fn orbit_descent<S: Real>(w: &Params<S>, eta: &S, iters: usize) -> Result<(Params<S>, Vec<S>)> {
    if !(eta.is_finite() && *eta > eta.zero_like()) {
        return Err(Error::invalid("eta", format!("step must be finite and > 0, got {eta}")));
    }
    if !w.is_finite() || w.blocks.is_empty() {
        return Err(Error::invalid("parameters", "need at least one block with finite entries"));
    }
    let mut w = w.clone();
    let mut hist = vec![regularizer(&w)];
    for _ in 0..iters {
        let mu = moment_map(&w);
        let mut g = Vec::with_capacity(mu.len());
        let mut gi = Vec::with_capacity(mu.len());
        for m in &mu {
            let (vals, v) = sym_eigen(m)?;
            g.push(spectral(&vals, &v, |l| (-(eta.clone() * l.clone())).exp()));
            gi.push(spectral(&vals, &v, |l| (eta.clone() * l.clone()).exp()));
        }
        w = act_with_inverses(&w, &g, &gi)?;
        hist.push(regularizer(&w));
    }
    Ok((w, hist))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Q;

    #[test]
    fn jacobi_reconstructs_a_symmetric_matrix() {
        let a = Mat::from_fn(4, 4, |i, j| 1.0 / (1.0 + i as f64 + j as f64));
        let (vals, v) = sym_eigen(&a).unwrap();
        let back = spectral(&vals, &v, |l| *l);
        // Hilbert 4x4, condition 1.6e4: rounding of a few sweeps, 1e-14 is ~50 eps.
        assert!(back.sub(&a).max_abs().unwrap() < 1e-14);
        assert!(vals.windows(2).all(|w| w[0] >= w[1]));
        // Known: the largest eigenvalue of the 4x4 Hilbert matrix is 1.500214280059243.
        assert!((vals[0] - 1.500_214_280_059_243).abs() < 1e-14);
    }

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
