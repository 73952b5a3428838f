//! End-to-end dynamics of a deep linear network from a balanced initialization
//! (Arora–Cohen–Hazan 2018, Thm 1; derivation: `proofs/end_to_end.md`).
//!
//! If $W_{j+1}^\top W_{j+1} = W_jW_j^\top$ at $t = 0$, the product $X = W_N\cdots W_1$ of the
//! gradient flow of $\ell(W_N\cdots W_1) + \frac\lambda2\sum_j\|W_j\|^2$ obeys
//! $$\dot X = -\lambda N X - \sum_{j=1}^N (XX^\top)^{\frac{j-1}N}\,\nabla\ell(X)\,(X^\top X)^{\frac{N-j}N}.$$
//! The linear map $P_X$ with $\operatorname{vec}\dot X = -P_X\operatorname{vec}\nabla\ell$ (at
//! $\lambda = 0$) has eigenvectors $u_rv_{r'}^\top$ and eigenvalues
//! $\sum_{j=1}^N\sigma_r^{2(N-j)/N}\sigma_{r'}^{2(j-1)/N}$ (singular values padded with zeros,
//! $0^0 = 1$), and a simple non-zero singular value moves as
//! $\dot\sigma_r = -N(\sigma_r^2)^{1-1/N}\langle\nabla\ell, u_rv_r^\top\rangle - \lambda N\sigma_r$.
//!
//! Fractional powers of the rectangular Gram matrices treat eigenvalues below $\epsilon^{3/4}$ of
//! the largest as exact zeros and use $M^0 = I$; otherwise the round-off in the exact zero
//! eigenvalues of $X^\top X$ turns into large errors under a power $< 1$. The vector field for the
//! integrators is [`crate::flow::fields::EndToEndFlow`].

use crate::error::{Error, Result};
use crate::linalg::{psd_pow, singular_values, thin_svd};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::{Real, Scalar};

const REF: &str = "end-to-end flow";

fn pre(message: impl Into<String>) -> Error {
    Error::Precondition { reference: REF.into(), message: message.into() }
}

/// The end-to-end field at any precision (Jacobi eigen-decompositions at the precision of `x`):
/// $-\lambda NX - \sum_j (XX^\top)^{(j-1)/N}\nabla\ell(X)(X^\top X)^{(N-j)/N}$.
/// Preconditions: `depth >= 1`; `x` has the loss's shape and finite entries.
pub fn end_to_end_field<S: Real>(loss: &Loss<S>, x: &Mat<S>, depth: usize, lambda: Option<&S>) -> Result<Mat<S>> {
    if depth == 0 {
        return Err(pre("depth N must be at least 1"));
    }
    if x.shape() != loss.shape() {
        return Err(Error::dim("end-to-end matrix", format!("{:?}", loss.shape()), format!("{:?}", x.shape())));
    }
    if !x.is_finite() {
        return Err(Error::invalid("x", "end-to-end matrix must have finite entries"));
    }
    let proto = x.proto();
    let cut = proto.epsilon_like().powf(&proto.ratio_like(3, 4));
    let mut g = x.zeros_like();
    loss.value_grad(x, None, &mut g);
    let (left, right) = (x.gram(), x.gram_t());
    let n = depth as i64;
    let mut out = match lambda {
        Some(l) => x.scaled(&-(l.clone() * proto.from_i64_like(n))),
        None => x.zeros_like(),
    };
    for j in 1..=n {
        let a = psd_pow(&left, &proto.ratio_like(j - 1, n), &cut)?;
        let b = psd_pow(&right, &proto.ratio_like(n - j, n), &cut)?;
        out = out.sub(&a.matmul(&g).matmul(&b));
    }
    Ok(out)
}

/// The spectrum of the preconditioner $P_X$: for every pair $(r, r')$, $r < d_N$, $r' < d_0$,
/// $\sum_{j=1}^N\sigma_r^{2(N-j)/N}\sigma_{r'}^{2(j-1)/N}$ with $\sigma$ padded with zeros and
/// $0^0 = 1$; returned in decreasing order ($d_Nd_0$ values). Preconditions: `depth >= 1`, `x`
/// non-empty and finite.
pub fn preconditioner_spectrum<S: Real>(x: &Mat<S>, depth: usize) -> Result<Vec<S>> {
    if depth == 0 {
        return Err(pre("depth N must be at least 1"));
    }
    let sig = singular_values(x)?;
    let proto = x.proto();
    let (dn, d0) = x.shape();
    let pad = |k: usize| if k < sig.len() { sig[k].clone() } else { proto.zero_like() };
    let n = depth as i64;
    let pw = |s: &S, num: i64| -> S {
        if num == 0 {
            proto.one_like()
        } else if s.is_zero() {
            proto.zero_like()
        } else {
            s.powf(&proto.ratio_like(2 * num, n))
        }
    };
    let mut out = Vec::with_capacity(dn * d0);
    for r in 0..dn {
        for rp in 0..d0 {
            let (a, b) = (pad(r), pad(rp));
            let mut s = proto.zero_like();
            for j in 1..=n {
                s += &(pw(&a, n - j) * pw(&b, j - 1));
            }
            out.push(s);
        }
    }
    out.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
    Ok(out)
}

/// Singular value dynamics: $\dot\sigma_r = -N(\sigma_r^2)^{1-1/N}\langle\nabla\ell(X), u_rv_r^\top\rangle
/// - \lambda N\sigma_r$ for each of the $\min(d_0,d_N)$ singular values of `x`.
///   Preconditions: `x` full rank with simple singular values (gaps above $\sqrt\epsilon\,\sigma_1$), so
///   that $u_r, v_r$ are defined; `grad` of the shape of `x`.
pub fn singular_value_rates<S: Real>(x: &Mat<S>, grad: &Mat<S>, depth: usize, lambda: Option<&S>) -> Result<Vec<S>> {
    if depth == 0 {
        return Err(pre("depth N must be at least 1"));
    }
    if grad.shape() != x.shape() {
        return Err(Error::dim("loss gradient", format!("{:?}", x.shape()), format!("{:?}", grad.shape())));
    }
    let (u, sig, v) = thin_svd(x)?;
    let proto = x.proto();
    let gap = proto.epsilon_like().sqrt() * sig[0].clone();
    if sig.windows(2).any(|w| w[0].clone() - w[1].clone() <= gap) {
        return Err(pre("singular values must be simple (distinct) for u_r, v_r to be defined"));
    }
    let n = depth as i64;
    let nn = proto.from_i64_like(n);
    let gv = grad.matmul(&v);
    Ok(sig
        .iter()
        .enumerate()
        .map(|(r, s)| {
            let mut proj = proto.zero_like();
            for i in 0..u.rows() {
                proj.mul_add_assign(u.get(i, r), gv.get(i, r));
            }
            let mut rate = -(nn.clone() * s.square().powf(&proto.ratio_like(n - 1, n)) * proj);
            if let Some(l) = lambda {
                rate -= &(l.clone() * nn.clone() * s.clone());
            }
            rate
        })
        .collect())
}

/// A deep linear model's product `X` and its time derivative $d\phi_W(-\nabla L(W))$ under the
/// parameter gradient flow (the quantity the end-to-end field predicts at balanced `W`).
pub fn product_velocity<S: Scalar>(model: &Model<S>, w: &Params<S>) -> Result<(Mat<S>, Mat<S>)> {
    model.check_params(w)?;
    if !matches!(model.arch, Arch::DeepLinear { .. }) {
        return Err(pre("the model must be a deep linear network"));
    }
    let (_, mut g) = model.grad(w);
    g.scale_mut(&w.proto().from_i64_like(-1));
    Ok((model.end_to_end(w), super::balancing::push_forward(w, &g)?))
}
