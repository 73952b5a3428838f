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
//! precision), on the linear algebra of [`crate::linalg`].

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::{Real, Scalar};

use crate::linalg::{inverse, spectral, squared_singular_values, sym_eigen};
/// The singular values and thin SVD the fibres are built from, also at this path (their home is
/// [`crate::linalg`]).
pub use crate::linalg::{singular_values, thin_svd};

const REF: &str = "Lindsey-Menon fibre";

fn pre(message: impl Into<String>) -> Error {
    Error::Precondition { reference: REF.into(), message: message.into() }
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

fn check_x<S: Scalar>(x: &Mat<S>) -> Result<()> {
    if x.rows() == 0 || x.cols() == 0 {
        return Err(Error::invalid("x", "end-to-end matrix must be non-empty"));
    }
    if !x.is_finite() {
        return Err(Error::invalid("x", "end-to-end matrix must have finite entries"));
    }
    Ok(())
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
    let vals = squared_singular_values(x)?;
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
