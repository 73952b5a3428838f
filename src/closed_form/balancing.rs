//! Balancing flows on a fibre of the product map: their geometry and exact solutions (the vector
//! fields themselves are in [`crate::flow::fields::balancing`]).
//!
//! Two flows move $W$ inside its fibre $F_X = \phi^{-1}(X)$ towards the balanced manifold
//! (derivations: `proofs/balancing_flows.md`):
//!
//! * (a) `RegularizerFlow`, the gradient of $R(W) = \frac12\|W\|^2$ for the metric the Frobenius
//!   metric induces on $F_X$:
//!   $$\dot W = -P_V W = -W + N\,d\phi_W^\top\bigl(M_W^{-1}(X)\bigr),\qquad
//!   M_W(Z) = \sum_j L_jL_j^\top\,Z\,R_j^\top R_j,$$
//!   with $L_j = W_N\cdots W_{j+1}$, $R_j = W_{j-1}\cdots W_1$. The product is fixed and the
//!   moment map decays uniformly: $\mu(t) = e^{-2t}\mu(0)$ ([`regularizer_flow_mu`]); in the scalar
//!   case $w_j(t)^2 = e^{-2t}w_j(0)^2 + c(t)$ ([`regularizer_flow_scalar`]).
//! * (b) `MomentMapFlow`, the gradient of $\frac12\|\mu\|^2$:
//!   $\dot W_j = -2(\mu_jW_j - W_j\mu_{j-1})$. The product is fixed; for $N = 2$ in the scalar (or
//!   SVD-aligned, mode by mode) case
//!   $\mu(t) = \operatorname{sgn}(\mu_0)\,a/\sinh(\operatorname{asinh}(a/|\mu_0|) + 4at)$ with
//!   $a = 2|x|$ ([`moment_flow_n2`]).
//!
//! `FastSlow` adds flow (a) at speed $1/\varepsilon$ to the gradient flow of a loss: the moment
//! map decays like $e^{-2t/\varepsilon}$ and the product follows the end-to-end learning flow up to
//! $O(\varepsilon)$.

use crate::error::{Error, Result};
use crate::linalg::{solve, thin_svd};
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::{Real, Scalar};

pub(crate) const REF_A: &str = "regularizer balancing flow (a)";
pub(crate) const REF_B: &str = "moment-map balancing flow (b)";

pub(crate) fn pre(reference: &str, message: impl Into<String>) -> Error {
    Error::Precondition { reference: reference.into(), message: message.into() }
}

/// `L_j L_jᵀ` (`d_N×d_N`) and `R_jᵀ R_j` (`d_0×d_0`) for every block, with `L_j`, `R_j`.
#[allow(clippy::type_complexity)]
fn left_right<S: Scalar>(w: &Params<S>) -> (Vec<Mat<S>>, Vec<Mat<S>>) {
    let n = w.blocks.len();
    let proto = w.proto();
    let d0 = w.blocks[0].cols();
    let dn = w.blocks[n - 1].rows();
    let mut right = Vec::with_capacity(n);
    right.push(Mat::eye(d0, d0, &proto));
    for j in 1..n {
        let next = w.blocks[j - 1].matmul(&right[j - 1]);
        right.push(next);
    }
    let mut left = vec![Mat::eye(dn, dn, &proto); n];
    for j in (0..n.saturating_sub(1)).rev() {
        left[j] = left[j + 1].matmul(&w.blocks[j + 1]);
    }
    (left, right)
}

/// The operator $M_W = d\phi_W\,d\phi_W^\top$ on `d_N×d_0` matrices, as a matrix acting on
/// row-major vectorizations: $M_W(Z) = \sum_j L_jL_j^\top Z R_j^\top R_j$. Errors when the blocks do
/// not chain (`W_{j+1}` must have as many columns as `W_j` has rows).
pub fn metric_operator<S: Scalar>(w: &Params<S>) -> Result<Mat<S>> {
    check_chain(w, "metric operator M_W")?;
    let (left, right) = left_right(w);
    let a: Vec<Mat<S>> = left.iter().map(Mat::gram).collect();
    let b: Vec<Mat<S>> = right.iter().map(Mat::gram_t).collect();
    let (dn, d0) = (a[0].rows(), b[0].rows());
    let proto = w.proto();
    let mut m = Mat::zeros(dn * d0, dn * d0, &proto);
    for (aj, bj) in a.iter().zip(&b) {
        for i in 0..dn {
            for k in 0..d0 {
                for c in 0..dn {
                    let aic = aj.get(i, c);
                    if aic.is_zero() {
                        continue;
                    }
                    for d in 0..d0 {
                        m.get_mut(i * d0 + k, c * d0 + d).mul_add_assign(aic, bj.get(d, k));
                    }
                }
            }
        }
    }
    Ok(m)
}

/// The pullback $d\phi_W^\top(Z)_j = L_j^\top Z R_j^\top$ (`z` of the product's shape).
pub fn pullback<S: Scalar>(w: &Params<S>, z: &Mat<S>) -> Result<Params<S>> {
    check_chain(w, "pullback")?;
    let want = (w.blocks[w.blocks.len() - 1].rows(), w.blocks[0].cols());
    if z.shape() != want {
        return Err(Error::dim("pullback argument", format!("{want:?}"), format!("{:?}", z.shape())));
    }
    let (left, right) = left_right(w);
    Ok(Params::new(left.iter().zip(&right).map(|(l, r)| l.prod(true, z, false).prod(false, r, true)).collect()))
}

fn check_same_shapes<S: Scalar>(w: &Params<S>, v: &Params<S>, what: &str) -> Result<()> {
    check_chain(w, what)?;
    if v.shapes() != w.shapes() {
        return Err(Error::dim(
            format!("{what}: direction V"),
            format!("{:?}", w.shapes()),
            format!("{:?}", v.shapes()),
        ));
    }
    Ok(())
}

/// The differential $d\phi_W(V) = \sum_j L_jV_jR_j$ (`v` of the shapes of `w`).
pub fn push_forward<S: Scalar>(w: &Params<S>, v: &Params<S>) -> Result<Mat<S>> {
    check_same_shapes(w, v, "push-forward")?;
    let (left, right) = left_right(w);
    let mut out = left[0].matmul(&v.blocks[0]).matmul(&right[0]);
    for j in 1..w.blocks.len() {
        out = out.add(&left[j].matmul(&v.blocks[j]).matmul(&right[j]));
    }
    Ok(out)
}

/// The moment map's differential along `v`:
/// $d\mu_k(V) = V_kW_k^\top + W_kV_k^\top - V_{k+1}^\top W_{k+1} - W_{k+1}^\top V_{k+1}$.
pub fn moment_map_derivative<S: Scalar>(w: &Params<S>, v: &Params<S>) -> Result<Vec<Mat<S>>> {
    check_same_shapes(w, v, "moment map derivative")?;
    Ok((0..w.blocks.len().saturating_sub(1))
        .map(|k| {
            let (wk, wk1, vk, vk1) = (&w.blocks[k], &w.blocks[k + 1], &v.blocks[k], &v.blocks[k + 1]);
            vk.prod(false, wk, true)
                .add(&wk.prod(false, vk, true))
                .sub(&vk1.prod(true, wk1, false))
                .sub(&wk1.prod(true, vk1, false))
        })
        .collect())
}

/// $-P_VW = -W + N\,d\phi_W^\top\bigl(M_W^{-1}(\phi(W))\bigr)$ at `w`, the velocity of balancing flow
/// (a) at unit speed, or the reason it is undefined (a singular $M_W$).
pub fn vertical_descent<S: Scalar>(w: &Params<S>) -> Result<Params<S>> {
    check_chain(w, REF_A)?;
    let n = w.blocks.len();
    let mut x = w.blocks[0].clone();
    for b in &w.blocks[1..] {
        x = b.matmul(&x);
    }
    let (dn, d0) = x.shape();
    let m = metric_operator(w)?;
    let rhs = Mat::from_vec(dn * d0, 1, x.as_slice().to_vec());
    let y = solve(&m, &rhs).map_err(|_| pre(REF_A, "M_W is singular (rank-deficient product)"))?;
    let y = Mat::from_vec(dn, d0, y.into_vec());
    let mut out = pullback(w, &y)?;
    let nn = w.proto().from_i64_like(n as i64);
    out.scale_mut(&nn);
    out.axpy(&-w.proto().one_like(), w);
    Ok(out)
}

pub(crate) fn check_chain<S: Scalar>(w: &Params<S>, reference: &str) -> Result<()> {
    if w.blocks.is_empty() {
        return Err(pre(reference, "need at least one block W_1"));
    }
    for j in 1..w.blocks.len() {
        if w.blocks[j].cols() != w.blocks[j - 1].rows() {
            return Err(Error::dim(
                format!("block W_{}", j + 1),
                format!("{} columns (rows of W_{j})", w.blocks[j - 1].rows()),
                w.blocks[j].cols().to_string(),
            ));
        }
    }
    if !w.is_finite() {
        return Err(Error::invalid("parameters", "all entries must be finite"));
    }
    Ok(())
}

/// Flow (a)'s exact moment map: $\mu(t) = e^{-2ct}\mu(0)$ (any widths, depth and $X$).
pub fn regularizer_flow_mu<S: Real>(mu0: &[Mat<S>], t: &S, speed: &S) -> Vec<Mat<S>> {
    let k = (-(t.from_i64_like(2) * speed.clone() * t.clone())).exp();
    mu0.iter().map(|m| m.scaled(&k)).collect()
}

/// Flow (a) in the scalar case (all widths 1): $w_j(t)^2 = e^{-2t}w_j(0)^2 + c(t)$ with the sign
/// of $w_j(0)$, where $c(t)$ is the root of $\prod_j(e^{-2t}w_j(0)^2 + c) = x^2$,
/// $x = \prod_j w_j(0)$, with every factor positive (bisection to the precision of the input,
/// then Newton). Preconditions: at least one factor, all non-zero and finite, `t` finite.
pub fn regularizer_flow_scalar<S: Real>(w0: &[S], t: &S) -> Result<Vec<S>> {
    if w0.is_empty() {
        return Err(pre(REF_A, "need at least one scalar factor"));
    }
    if w0.iter().any(|w| w.is_zero() || !w.is_finite()) || !t.is_finite() {
        return Err(pre(REF_A, "every w_j(0) must be finite and non-zero (full-rank product) and t finite"));
    }
    let proto = t.zero_like();
    let e = (-(proto.from_i64_like(2) * t.clone())).exp();
    let a: Vec<S> = w0.iter().map(|w| e.clone() * w.square()).collect();
    let x2 = w0.iter().fold(proto.one_like(), |p, w| p * w.square());
    let f = |c: &S| a.iter().fold(proto.one_like(), |p, ai| p * (ai.clone() + c.clone())) - x2.clone();
    let amin = a.iter().fold(a[0].clone(), |m, x| if *x < m { x.clone() } else { m });
    // f is increasing on (-amin, ∞), f(-amin) = -x² < 0; bracket the root above.
    let mut lo = -amin;
    let mut step = x2.clone() + proto.one_like();
    let mut hi = lo.clone() + step.clone();
    while f(&hi) < proto.zero_like() {
        step = step.clone() * proto.from_i64_like(2);
        hi = lo.clone() + step.clone();
    }
    let bits = t.precision().unwrap_or(53) as usize;
    let half = proto.ratio_like(1, 2);
    for _ in 0..bits + 64 {
        let mid = (lo.clone() + hi.clone()) * half.clone();
        if mid <= lo || mid >= hi {
            break;
        }
        if f(&mid) < proto.zero_like() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut c = (lo + hi) * half;
    for _ in 0..3 {
        // Newton polish: f'(c) = f(c) Σ 1/(a_i + c) computed as Σ_i Π_{k≠i}(a_k + c).
        let mut d = proto.zero_like();
        for i in 0..a.len() {
            d += &a
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != i)
                .fold(proto.one_like(), |p, (_, ak)| p * (ak.clone() + c.clone()));
        }
        if d.is_zero() {
            break;
        }
        c = c.clone() - f(&c) / d;
    }
    Ok(w0
        .iter()
        .zip(&a)
        .map(|(w, ai)| {
            let m = (ai.clone() + c.clone()).sqrt();
            if *w < proto.zero_like() {
                -m
            } else {
                m
            }
        })
        .collect())
}

/// Flow (b) for $N = 2$ in the scalar case, from $(w_1(0), w_2(0))$ with $x = w_2w_1$:
/// $\mu = w_1^2 - w_2^2$ obeys $\dot\mu = -4\mu\sqrt{\mu^2 + a^2}$, $a = 2|x|$, so
/// $\mu(t) = \operatorname{sgn}(\mu_0)\,a/\sinh(\operatorname{asinh}(a/|\mu_0|) + 4at)$ (and
/// $\mu_0/(1 + 4|\mu_0|t)$ when $x = 0$); then $w_1^2 = (\mu + \sqrt{\mu^2+a^2})/2$,
/// $w_2^2 = (-\mu + \sqrt{\mu^2+a^2})/2$ with the signs of $w(0)$. Returns $(\mu(t), w_1(t), w_2(t))$.
/// Preconditions: finite inputs, $t \ge 0$. The same formula holds mode by mode for SVD-aligned
/// matrices $W_1 = QD_1V^\top$, $W_2 = UD_2Q^\top$.
pub fn moment_flow_n2<S: Real>(w1: &S, w2: &S, t: &S) -> Result<(S, S, S)> {
    if !(w1.is_finite() && w2.is_finite() && t.is_finite()) || *t < t.zero_like() {
        return Err(pre(REF_B, "w_1(0), w_2(0) must be finite and t >= 0"));
    }
    let proto = t.zero_like();
    let (one, two) = (proto.one_like(), proto.from_i64_like(2));
    let mu0 = w1.square() - w2.square();
    let a = two.clone() * (w1.clone() * w2.clone()).abs();
    let mu = if mu0.is_zero() {
        proto.clone()
    } else if a.is_zero() {
        mu0.clone() / (one.clone() + proto.from_i64_like(4) * mu0.abs() * t.clone())
    } else {
        let z = a.clone() / mu0.abs();
        let theta =
            (z.clone() + (z.square() + one.clone()).sqrt()).ln() + proto.from_i64_like(4) * a.clone() * t.clone();
        // a / sinh θ = 2a e^{-θ} / (1 - e^{-2θ}), stable for large θ.
        let em = (-theta.clone()).exp();
        let m = two.clone() * a.clone() * em.clone() / (one.clone() - em.square());
        if mu0 < proto {
            -m
        } else {
            m
        }
    };
    let r = (mu.square() + a.square()).sqrt();
    let half = proto.ratio_like(1, 2);
    let s1 = ((mu.clone() + r.clone()) * half.clone()).sqrt();
    let s2 = ((r - mu.clone()) * half).sqrt();
    let sgn = |w: &S, s: S| if *w < proto { -s } else { s };
    Ok((mu, sgn(w1, s1), sgn(w2, s2)))
}

/// Linearization of flow (b) at the balanced points of the fibre of a square invertible `x`
/// (all widths `d`): the transverse decay rates $4(l_a + l_b) - 8\sqrt{l_al_b}\cos(p\pi/N)$ for
/// $1 \le a \le b \le d$, $1 \le p \le N-1$, with $l_i = \sigma_i(X)^{2/N}$, in increasing order
/// ($(N-1)d(d+1)/2$ values; the remaining directions, tangent to the balanced manifold, have rate 0).
/// The slowest is $8\,l_{\min}(1 - \cos(\pi/N))$: unlike flow (a), the rate depends on $X$.
/// Preconditions: `depth >= 2`, `x` square with full rank.
pub fn moment_flow_rates(x: &Mat<f64>, depth: usize) -> Result<Vec<f64>> {
    if depth < 2 {
        return Err(pre(REF_B, "depth N must be at least 2 (no hidden layer otherwise)"));
    }
    if x.rows() != x.cols() {
        return Err(pre(REF_B, format!("the rates are for square X (all widths equal), got {:?}", x.shape())));
    }
    let (_, sig, _) = thin_svd(x)?;
    let l: Vec<f64> = sig.iter().map(|s| f64::powf(*s, 2.0 / depth as f64)).collect();
    let mut rates = Vec::new();
    for a in 0..l.len() {
        for b in a..l.len() {
            for p in 1..depth {
                let c = (p as f64 * std::f64::consts::PI / depth as f64).cos();
                rates.push(4.0 * (l[a] + l[b]) - 8.0 * (l[a] * l[b]).sqrt() * c);
            }
        }
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates)
}
