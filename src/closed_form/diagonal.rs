//! Diagonal linear networks: closed-form trajectories and implicit bias.
//!
//! Loss $L(\beta) = \frac1{2n}\|\beta X - y\|^2$ (samples are the columns of $X \in \mathbb R^{d\times n}$,
//! as in [`crate::model::Loss::regression`]), gradient $g = \nabla L(\beta) = X r/n$ with
//! $r = (\beta X - y)^\top$, and the two parametrizations of [`crate::model::Arch`]:
//! $\beta = u\odot v$ (`DiagonalUV`) and $\beta = u\odot u - v\odot v$ (`DiagonalSq`).
//!
//! * [`CoordinateFlow`] / [`DiagonalFlow`]: for an orthogonal design ($XX^\top/n = I$, or a
//!   `Target` loss) every coordinate is independent and its gradient flow is a Saxe unbalanced
//!   mode: `DiagonalUV` gives $\dot\beta = -(\beta - b)\sqrt{\Delta^2 + 4\beta^2}$ with the conserved
//!   $\Delta = u^2 - v^2$; `DiagonalSq` gives $\dot\beta = -4(\beta - b)\sqrt{\beta^2 + 4m^2}$ with the
//!   conserved $m = uv$, i.e. the same equation with $c = 4m$ and $\tau = 1/2$.
//! * [`hyperbolic_entropy_argmin`]: $\arg\min \phi_a(\beta) + \langle\delta,\beta\rangle$ subject to
//!   $\beta X = y$, with Pesme's hyperbolic entropy
//!   $\phi_a(\beta) = \tfrac12\sum_i\bigl[\beta_i\operatorname{asinh}(\beta_i/a_i^2) - \sqrt{\beta_i^2 + a_i^4} + a_i^2\bigr]$,
//!   by damped Newton on the smooth strictly convex dual
//!   $D(\nu) = \sum_i a_i^2\sinh^2\bigl((X\nu - \delta)_i\bigr) - \langle\nu, y\rangle$, whose minimizer
//!   gives $\beta_i = a_i^2\sinh(2(X\nu - \delta)_i)$.
//! * [`flow_potential`]: gradient flow from any initialization with nonzero balance satisfies,
//!   *at every time*, $\nabla\phi_a(\beta(t)) - \nabla\phi_a(\beta_0) \in \operatorname{span}(X)$, so
//!   $\beta(t) = \arg\min_{\beta X = \beta(t) X}\phi_a(\beta) - \langle\nabla\phi_a(\beta_0), \beta\rangle$;
//!   its limit is the Woodworth et al. / Azulay et al. implicit bias.
//! * [`gd_potential`]: gradient descent with step $\gamma$ multiplies $u\pm v$ (`DiagonalUV`) by
//!   $1 \mp \gamma g_k$, hence the same statement with the effective scale
//!   $a_k = a\prod_j\sqrt{1-\gamma^2 g_j^2}$ and the linear term $\delta_k = \sum_j \bigl(\operatorname{artanh}(\gamma g_j) - \gamma g_j\bigr)$
//!   (Even, Pesme, Gunasekar, Flammarion 2023).
//! * [`min_l2_interpolator`] and [`l1_certificate`]: the kernel ($a\to\infty$) and rich
//!   ($a\to 0$) limits.

use super::saxe::{asinh, precondition, UnbalancedMode};
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::{Real, Scalar};

/// Solves the square system `a x = b` by Gaussian elimination with partial pivoting (any
/// [`Scalar`]; exact in rationals). `None` when `a` is singular (a zero pivot).
pub fn solve_linear<S: Scalar>(a: &Mat<S>, b: &[S]) -> Option<Vec<S>> {
    let n = a.rows();
    if a.cols() != n || b.len() != n {
        return None;
    }
    let mut m: Vec<Vec<S>> = (0..n)
        .map(|i| {
            let mut r: Vec<S> = (0..n).map(|j| a.get(i, j).clone()).collect();
            r.push(b[i].clone());
            r
        })
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| m[i][col].abs().partial_cmp(&m[j][col].abs()).unwrap_or(std::cmp::Ordering::Equal))?;
        if m[piv][col].is_zero() || !m[piv][col].is_finite() {
            return None;
        }
        m.swap(col, piv);
        for i in col + 1..n {
            if m[i][col].is_zero() {
                continue;
            }
            let f = m[i][col].clone() / m[col][col].clone();
            let (top, bottom) = m.split_at_mut(i);
            for (mij, mcj) in bottom[0][col..].iter_mut().zip(&top[col][col..]) {
                let sub = f.clone() * mcj.clone();
                *mij -= &sub;
            }
        }
    }
    let mut x: Vec<S> = vec![b[0].zero_like(); n];
    for i in (0..n).rev() {
        let mut acc = m[i][n].clone();
        for j in i + 1..n {
            let sub = m[i][j].clone() * x[j].clone();
            acc -= &sub;
        }
        x[i] = acc / m[i][i].clone();
    }
    Some(x)
}

/// Which diagonal parametrization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// $\beta = u\odot v$.
    Uv,
    /// $\beta = u\odot u - v\odot v$.
    Sq,
}

impl Kind {
    /// The parametrization of a diagonal architecture (`None` for other architectures).
    pub fn of(arch: &Arch) -> Option<Kind> {
        match arch {
            Arch::DiagonalUV { .. } => Some(Kind::Uv),
            Arch::DiagonalSq { .. } => Some(Kind::Sq),
            _ => None,
        }
    }
}

/// Gradient flow of one coordinate of a diagonal network on $\tfrac12(\beta - b)^2$ (an
/// orthogonal design), from any initialization $(u_0, v_0)$ with a nonzero conserved balance.
#[derive(Clone, Debug)]
pub struct CoordinateFlow<S> {
    kind: Kind,
    mode: UnbalancedMode<S>,
}

impl<S: Real> CoordinateFlow<S> {
    const NAME: &'static str = "diagonal coordinate flow";

    /// Coordinate with initial `(u0, v0)` and target `b`. Needs `u0² ≠ v0²` (`Uv`) or
    /// `u0·v0 ≠ 0` (`Sq`): with a zero balance the coordinate follows a logistic law not covered here.
    pub fn new(kind: Kind, u0: S, v0: S, b: S) -> Result<Self> {
        for (name, x) in [("u0", &u0), ("v0", &v0), ("b", &b)] {
            if !x.is_finite() {
                return Err(precondition(Self::NAME, format!("{name} must be finite, got {x}")));
            }
        }
        let one = b.one_like();
        let mode = match kind {
            Kind::Uv => {
                if (u0.square() - v0.square()).is_zero() {
                    return Err(precondition(Self::NAME, "u0^2 - v0^2 must be nonzero for beta = u*v"));
                }
                UnbalancedMode::with_target(b, u0, v0, one)?
            }
            Kind::Sq => {
                // u' = u + v, v' = u − v: u'v' = u² − v² = β and u'² − v'² = 4uv, and the sq flow at
                // time t is the uv flow of (u', v') at time 2t, i.e. τ = 1/2.
                if (u0.clone() * v0.clone()).is_zero() {
                    return Err(precondition(Self::NAME, "u0*v0 must be nonzero for beta = u^2 - v^2"));
                }
                let (a, c) = (u0.clone() + v0.clone(), u0.clone() - v0.clone());
                UnbalancedMode::with_target(b, a, c, one.ratio_like(1, 2))?
            }
        };
        Ok(CoordinateFlow { kind, mode })
    }

    /// $\beta(t)$, $t \ge 0$.
    pub fn beta(&self, t: &S) -> Result<S> {
        self.mode.u(t)
    }

    /// $(u(t), v(t))$, $t \ge 0$.
    pub fn params(&self, t: &S) -> Result<(S, S)> {
        let (a, b) = self.mode.layers(t)?;
        Ok(match self.kind {
            Kind::Uv => (a, b),
            Kind::Sq => {
                let half = a.ratio_like(1, 2);
                ((a.clone() + b.clone()) * half.clone(), (a - b) * half)
            }
        })
    }
}

/// Per-coordinate targets `b` of a diagonal model whose loss is a `Target` or a `Regression` with
/// an orthogonal design ($XX^\top/n = I$ to within `tol`).
pub fn orthogonal_targets<S: Real>(model: &Model<S>, tol: f64) -> Result<Vec<S>> {
    const NAME: &str = "diagonal orthogonal design";
    if Kind::of(&model.arch).is_none() {
        return Err(precondition(NAME, format!("needs a diagonal architecture, got {}", model.arch.name())));
    }
    if model.weight_decay.is_some() {
        return Err(precondition(NAME, "stated without weight decay"));
    }
    match &model.loss {
        Loss::Target { phi } => Ok(phi.as_slice().to_vec()),
        Loss::Regression { sxx, syx, .. } => {
            let eye = Mat::eye(sxx.rows(), sxx.cols(), &sxx.proto());
            let dev = sxx.sub(&eye).max_abs().map(|x| x.to_f64()).unwrap_or(0.0);
            if dev.is_nan() || dev > tol {
                return Err(precondition(
                    NAME,
                    format!("needs X X^T / n = I (orthogonal design): max deviation {dev:e} exceeds {tol:e}"),
                ));
            }
            Ok(syx.as_slice().to_vec())
        }
        _ => Err(precondition(NAME, "needs a target or regression loss")),
    }
}

/// Closed-form gradient flow of a diagonal network with an orthogonal design: one
/// [`CoordinateFlow`] per coordinate.
#[derive(Clone, Debug)]
pub struct DiagonalFlow<S> {
    coords: Vec<CoordinateFlow<S>>,
}

impl<S: Real> DiagonalFlow<S> {
    /// From a diagonal model (see [`orthogonal_targets`]; `tol` bounds $\|XX^\top/n - I\|_{\max}$)
    /// and an initialization `p0`.
    pub fn new(model: &Model<S>, p0: &Params<S>, tol: f64) -> Result<Self> {
        let b = orthogonal_targets(model, tol)?;
        model.check_params(p0)?;
        let kind = Kind::of(&model.arch).expect("checked by orthogonal_targets");
        let (u, v) = (p0.blocks[0].as_slice(), p0.blocks[1].as_slice());
        let coords = b
            .into_iter()
            .enumerate()
            .map(|(i, bi)| CoordinateFlow::new(kind, u[i].clone(), v[i].clone(), bi))
            .collect::<Result<Vec<_>>>()?;
        Ok(DiagonalFlow { coords })
    }

    /// $\beta(t)$ as a `1×d` row.
    pub fn beta(&self, t: &S) -> Result<Mat<S>> {
        let v = self.coords.iter().map(|c| c.beta(t)).collect::<Result<Vec<_>>>()?;
        Ok(Mat::from_vec(1, v.len(), v))
    }

    /// The parameters $(u(t), v(t))$.
    pub fn params(&self, t: &S) -> Result<Params<S>> {
        let (mut u, mut v) = (Vec::new(), Vec::new());
        for c in &self.coords {
            let (a, b) = c.params(t)?;
            u.push(a);
            v.push(b);
        }
        let d = u.len();
        Ok(Params::new(vec![Mat::from_vec(1, d, u), Mat::from_vec(1, d, v)]))
    }
}

/// `(sinh x, cosh x)`; below `|x| = 1/2` the odd series of `sinh` avoids the cancellation of
/// `(e^x − e^{−x})/2`, so small arguments keep full relative accuracy.
fn sinh_cosh<S: Real>(x: &S) -> (S, S) {
    let e = x.exp();
    let ie = x.one_like() / e.clone();
    let half = x.ratio_like(1, 2);
    let cosh = (e.clone() + ie.clone()) * half.clone();
    if x.abs() < half {
        let eps = x.epsilon_like();
        let x2 = x.square();
        let mut term = x.clone();
        let mut sum = x.clone();
        let mut k = 1i64;
        while term.abs() > eps.clone() * sum.abs() && !term.is_zero() {
            term = term * x2.clone() / x.from_i64_like((2 * k) * (2 * k + 1));
            sum += &term;
            k += 1;
        }
        (sum, cosh)
    } else {
        ((e - ie) * half, cosh)
    }
}

/// Pesme's hyperbolic entropy $\phi_a(\beta) = \tfrac12\sum_i\bigl[\beta_i\operatorname{asinh}(\beta_i/a_i^2) - \sqrt{\beta_i^2 + a_i^4} + a_i^2\bigr]$.
pub fn hyperbolic_entropy<S: Real>(beta: &[S], a: &[S]) -> S {
    let mut s = beta[0].zero_like();
    for (b, ai) in beta.iter().zip(a) {
        let a2 = ai.square();
        s += &(b.clone() * asinh(&(b.clone() / a2.clone())) - (b.square() + a2.square()).sqrt() + a2);
    }
    s * beta[0].ratio_like(1, 2)
}

/// The solution of [`hyperbolic_entropy_argmin`].
#[derive(Clone, Debug)]
pub struct ImplicitBias<S> {
    /// The minimizer $\beta$ (length `d`).
    pub beta: Vec<S>,
    /// The dual variable $\nu$ (length `n`): $\nabla\phi_a(\beta) + \delta = X\nu$.
    pub nu: Vec<S>,
    /// Newton iterations taken.
    pub iterations: usize,
    /// Constraint residual $\|\beta X - y\|_\infty$.
    pub residual: S,
}

/// $\arg\min_\beta \phi_a(\beta) + \langle\delta,\beta\rangle$ subject to $\beta X = y$, with `x`
/// of shape `d×n` (samples are columns), `y` of length `n`, scales `a` (length `d`, all `> 0`) and an
/// optional linear term `delta` (length `d`). Damped Newton on the dual (see the module docs),
/// stopped when the residual reaches rounding level; needs `X` of full column rank `n ≤ d`.
///
/// ```
/// use linflow::closed_form::diagonal::{hyperbolic_entropy_argmin, min_l2_interpolator};
/// use linflow::mat::Mat;
/// // One sample, three coordinates: β₁ + 2β₂ − β₃ = 1.
/// let x = Mat::from_vec(3, 1, vec![1.0, 2.0, -1.0]);
/// let big = hyperbolic_entropy_argmin(&x, &[1.0], &[100.0; 3], None).unwrap();
/// let l2 = min_l2_interpolator(&x, &[1.0]).unwrap(); // (1, 2, −1)/6
/// assert!(big.beta.iter().zip(&l2).all(|(a, b)| (a - b).abs() < 1e-8));
/// let small = hyperbolic_entropy_argmin(&x, &[1.0], &[1e-4; 3], None).unwrap();
/// assert!((small.beta[1] - 0.5).abs() < 1e-3); // least ℓ1: all weight on the largest |x_i|
/// ```
pub fn hyperbolic_entropy_argmin<S: Real>(
    x: &Mat<S>,
    y: &[S],
    a: &[S],
    delta: Option<&[S]>,
) -> Result<ImplicitBias<S>> {
    const NAME: &str = "hyperbolic entropy argmin";
    let (d, n) = x.shape();
    if y.len() != n || a.len() != d || delta.is_some_and(|dl| dl.len() != d) {
        return Err(Error::dim(
            NAME,
            format!("X d x n = {d}x{n}, y of length {n}, a and delta of length {d}"),
            format!("y {}, a {}, delta {:?}", y.len(), a.len(), delta.map(|v| v.len())),
        ));
    }
    if n > d {
        return Err(precondition(NAME, format!("needs n <= d (an underdetermined system), got n = {n}, d = {d}")));
    }
    if let Some(i) = a.iter().position(|ai| !(ai.is_finite() && *ai > ai.zero_like())) {
        return Err(precondition(NAME, format!("scale a_{i} must be finite and > 0, got {}", a[i])));
    }
    let proto = x.proto();
    let zero = proto.zero_like();
    let a2: Vec<S> = a.iter().map(|ai| ai.square()).collect();
    let dl: Vec<S> = delta.map(|v| v.to_vec()).unwrap_or_else(|| vec![zero.clone(); d]);
    let w_of = |nu: &[S]| -> Vec<S> {
        (0..d)
            .map(|i| {
                let mut s = -dl[i].clone();
                for (j, nj) in nu.iter().enumerate() {
                    s.mul_add_assign(x.get(i, j), nj);
                }
                s
            })
            .collect()
    };
    let dual = |nu: &[S]| -> S {
        let w = w_of(nu);
        let mut v = zero.clone();
        for i in 0..d {
            let (sh, _) = sinh_cosh(&w[i]);
            v += &(a2[i].clone() * sh.square());
        }
        for (nj, yj) in nu.iter().zip(y) {
            v -= &(nj.clone() * yj.clone());
        }
        v
    };
    let primal = |w: &[S]| -> Vec<S> {
        let two = proto.from_i64_like(2);
        (0..d).map(|i| a2[i].clone() * sinh_cosh(&(two.clone() * w[i].clone())).0).collect()
    };
    let grad_of = |beta: &[S]| -> Vec<S> {
        (0..n)
            .map(|j| {
                let mut s = -y[j].clone();
                for (i, bi) in beta.iter().enumerate() {
                    s.mul_add_assign(x.get(i, j), bi);
                }
                s
            })
            .collect()
    };
    let inf_norm = |v: &[S]| v.iter().map(|z| z.abs()).fold(zero.clone(), |m, z| if z > m { z } else { m });
    let eps = proto.epsilon_like();
    let y_scale = inf_norm(y) + proto.one_like();
    let mut nu = vec![zero.clone(); n];
    let mut dval = dual(&nu);
    let mut iterations = 0;
    let max_iter = 400;
    let mut best = None::<S>;
    let mut stalled = 0;
    loop {
        let w = w_of(&nu);
        let beta = primal(&w);
        let g = grad_of(&beta);
        let gnorm = inf_norm(&g);
        // Rounding level of βX − y: each entry sums d products of size |x_ij β_i|.
        let mut scale = y_scale.clone();
        for j in 0..n {
            let mut s = zero.clone();
            for (i, bi) in beta.iter().enumerate() {
                s += &(x.get(i, j).abs() * bi.abs());
            }
            if s > scale {
                scale = s;
            }
        }
        // Stalled: eight iterations without halving the best residual (rounding level reached).
        match &best {
            Some(b) if gnorm.clone() * proto.from_i64_like(2) > *b => stalled += 1,
            _ => {
                best = Some(gnorm.clone());
                stalled = 0;
            }
        }
        if gnorm <= eps.clone() * scale.clone() * proto.from_i64_like(64) || iterations >= max_iter || stalled >= 8 {
            return Ok(ImplicitBias { beta, nu, iterations, residual: gnorm });
        }
        // Hessian X^T diag(2 a² cosh 2w) X.
        let two = proto.from_i64_like(2);
        let wt: Vec<S> =
            (0..d).map(|i| two.clone() * a2[i].clone() * sinh_cosh(&(two.clone() * w[i].clone())).1).collect();
        let h = Mat::from_fn(n, n, |j, k| {
            let mut s = zero.clone();
            for (i, wi) in wt.iter().enumerate() {
                s += &(x.get(i, j).clone() * x.get(i, k).clone() * wi.clone());
            }
            s
        });
        let neg_g: Vec<S> = g.iter().map(|z| -z.clone()).collect();
        let p = solve_linear(&h, &neg_g)
            .ok_or_else(|| precondition(NAME, "the dual Hessian is singular: X must have full column rank"))?;
        let slope: S = p.iter().zip(&g).fold(zero.clone(), |s, (pi, gi)| s + pi.clone() * gi.clone());
        let g2 = g.iter().fold(zero.clone(), |s, gi| s + gi.square());
        // Globalization: Armijo on the dual while its predicted decrease is above the dual's rounding
        // level, otherwise sufficient decrease of the residual ‖∇D‖² (Newton's direction is a descent
        // direction for both: d/ds ‖∇D(ν + s p)‖² = −2‖∇D‖² at s = 0).
        let noise = eps.clone() * proto.from_i64_like(1024) * (dval.abs() + proto.one_like());
        let mut step = proto.one_like();
        let c1 = proto.ratio_like(1, 10000);
        let half = proto.ratio_like(1, 2);
        let mut accepted = false;
        for _ in 0..80 {
            let trial: Vec<S> = nu.iter().zip(&p).map(|(a, b)| a.clone() + step.clone() * b.clone()).collect();
            let dt = dual(&trial);
            let gt = grad_of(&primal(&w_of(&trial)));
            let gt2 = gt.iter().fold(zero.clone(), |s, gi| s + gi.square());
            let predicted = -(step.clone() * slope.clone());
            let armijo =
                dt.is_finite() && predicted > noise && dt <= dval.clone() + c1.clone() * step.clone() * slope.clone();
            let resid = gt2.is_finite() && gt2 <= (proto.one_like() - c1.clone() * step.clone()) * g2.clone();
            if armijo || resid {
                nu = trial;
                dval = dt;
                accepted = true;
                break;
            }
            step = step * half.clone();
        }
        if !accepted {
            // Neither the dual nor the residual can decrease at this precision: rounding level.
            return Ok(ImplicitBias { beta, nu, iterations, residual: gnorm });
        }
        iterations += 1;
    }
}

/// The potential $(a, \delta)$ of gradient flow from `p0`: for every $t$,
/// $\beta(t) = \arg\min_{\beta X = \beta(t)X}\phi_a(\beta) + \langle\delta, \beta\rangle$ with
/// $a_i = \sqrt{|u_{0i}^2 - v_{0i}^2|/2}$ and $\delta = -\tfrac12\operatorname{asinh}(\beta_0/a^2)$ for
/// `Uv` (for `Sq` the same with $u' = u+v$, $v' = u - v$, i.e. $a_i = \sqrt{2|u_{0i}v_{0i}|}$).
/// Standard initializations ([`crate::init::diagonal_alpha`]) give $a = \alpha$ (`Uv`),
/// $a = \sqrt2\alpha$ (`Sq`) and $\delta = 0$. Needs a nonzero balance in every coordinate.
pub fn flow_potential<S: Real>(arch: &Arch, p0: &Params<S>) -> Result<(Vec<S>, Vec<S>)> {
    const NAME: &str = "diagonal flow potential";
    let kind = Kind::of(arch).ok_or_else(|| precondition(NAME, "needs a diagonal architecture"))?;
    if p0.shapes() != arch.param_shapes() {
        return Err(Error::dim(NAME, format!("{:?}", arch.param_shapes()), format!("{:?}", p0.shapes())));
    }
    let (u, v) = (p0.blocks[0].as_slice(), p0.blocks[1].as_slice());
    let mut a = Vec::with_capacity(u.len());
    let mut delta = Vec::with_capacity(u.len());
    let half = p0.proto().ratio_like(1, 2);
    for i in 0..u.len() {
        let (bal, beta0) = match kind {
            Kind::Uv => (u[i].square() - v[i].square(), u[i].clone() * v[i].clone()),
            Kind::Sq => (u[i].clone() * v[i].clone() * half.from_i64_like(4), u[i].square() - v[i].square()),
        };
        if bal.is_zero() {
            return Err(precondition(NAME, format!("coordinate {i} has zero balance: the potential degenerates")));
        }
        let a2 = bal.abs() * half.clone();
        delta.push(-(asinh(&(beta0 / a2.clone())) * half.clone()));
        a.push(a2.sqrt());
    }
    Ok((a, delta))
}

/// $\operatorname{artanh}(x) - x$ for $|x| < 1$ (series below $1/4$, so small steps lose no accuracy).
fn artanh_minus_x<S: Real>(x: &S) -> S {
    if x.abs() < x.ratio_like(1, 4) {
        let eps = x.epsilon_like();
        let x2 = x.square();
        let mut p = x.clone() * x2.clone();
        let mut s = x.zero_like();
        for k in 1..10_000 {
            let term = p.clone() / x.from_i64_like(2 * k + 1);
            s += &term;
            if term.abs() <= eps.clone() * s.abs() || term.is_zero() {
                break;
            }
            p *= &x2;
        }
        s
    } else {
        let one = x.one_like();
        ((one.clone() + x.clone()) / (one - x.clone())).ln() * x.ratio_like(1, 2) - x.clone()
    }
}

/// The potential $(a_k, \delta_k)$ of gradient descent with step `gamma` from the standard
/// initialization `p0` ([`crate::init::diagonal_alpha`]: $u = \sqrt2\alpha, v = 0$ for `Uv`,
/// $u = v = \alpha$ for `Sq`), given the loss gradients $g_j = \nabla L(\beta_j)$ (`1×d` rows) of the
/// steps taken: the iterate after those steps is
/// $\beta_k = \arg\min_{\beta X = \beta_k X}\phi_{a_k}(\beta) + \langle\delta_k, \beta\rangle$ with, writing
/// $c = 1$ (`Uv`) or $2$ (`Sq`), $a_k = a_0\prod_j\sqrt{1 - c^2\gamma^2 g_j^2}$ and
/// $\delta_k = \sum_j\bigl(\operatorname{artanh}(c\gamma g_j) - c\gamma g_j\bigr)$, $a_0 = \alpha$ (`Uv`) or
/// $\sqrt2\alpha$ (`Sq`). Needs $|c\gamma g_j| < 1$ at every step.
pub fn gd_potential<S: Real>(arch: &Arch, p0: &Params<S>, gamma: &S, grads: &[Mat<S>]) -> Result<(Vec<S>, Vec<S>)> {
    const NAME: &str = "diagonal GD potential";
    let kind = Kind::of(arch).ok_or_else(|| precondition(NAME, "needs a diagonal architecture"))?;
    if p0.shapes() != arch.param_shapes() {
        return Err(Error::dim(NAME, format!("{:?}", arch.param_shapes()), format!("{:?}", p0.shapes())));
    }
    let (u, v) = (p0.blocks[0].as_slice(), p0.blocks[1].as_slice());
    let d = u.len();
    let proto = p0.proto();
    let zero = proto.zero_like();
    let standard = match kind {
        Kind::Uv => u.iter().all(|x| *x > zero) && v.iter().all(|x| x.is_zero()),
        Kind::Sq => u.iter().zip(v).all(|(a, b)| *a > zero && a == b),
    };
    if !standard {
        return Err(precondition(
            NAME,
            "needs the standard initialization (u = sqrt(2) alpha > 0, v = 0 for u*v; u = v = alpha > 0 for u^2 - v^2)",
        ));
    }
    if !(gamma.is_finite() && *gamma > zero) {
        return Err(precondition(NAME, format!("step gamma must be finite and > 0, got {gamma}")));
    }
    let c = proto.from_i64_like(match kind {
        Kind::Uv => 1,
        Kind::Sq => 2,
    });
    let mut log_a: Vec<S> = (0..d)
        .map(|i| match kind {
            // u = √2 α  ⇒  a0 = α = u/√2, ln a0 = ln u − ½ ln 2.
            Kind::Uv => u[i].ln() - proto.from_i64_like(2).ln() * proto.ratio_like(1, 2),
            // u = v = α  ⇒  a0 = √2 α.
            Kind::Sq => u[i].ln() + proto.from_i64_like(2).ln() * proto.ratio_like(1, 2),
        })
        .collect();
    let mut delta = vec![zero.clone(); d];
    let one = proto.one_like();
    let half = proto.ratio_like(1, 2);
    for (k, g) in grads.iter().enumerate() {
        if g.shape() != (1, d) {
            return Err(Error::dim(NAME, format!("gradient rows 1x{d}"), format!("{:?} at step {k}", g.shape())));
        }
        for i in 0..d {
            let x = c.clone() * gamma.clone() * g.get(0, i).clone();
            if x.abs() >= one {
                return Err(precondition(
                    NAME,
                    format!("|c gamma g| = {} >= 1 at step {k}, coordinate {i}: u +- v changes sign", x.abs()),
                ));
            }
            log_a[i] += &((one.clone() - x.square()).ln() * half.clone());
            delta[i] += &artanh_minus_x(&x);
        }
    }
    Ok((log_a.into_iter().map(|l| l.exp()).collect(), delta))
}

/// The minimum-$\ell_2$ interpolator $\beta = y (X^\top X)^{-1}X^\top$ of $\beta X = y$ (the kernel
/// limit $a\to\infty$), `x` of shape `d×n`, `n ≤ d`, full column rank.
pub fn min_l2_interpolator<S: Real>(x: &Mat<S>, y: &[S]) -> Result<Vec<S>> {
    const NAME: &str = "minimum l2 interpolator";
    let (d, n) = x.shape();
    if y.len() != n {
        return Err(Error::dim(NAME, format!("y of length {n}"), format!("{}", y.len())));
    }
    if n > d {
        return Err(precondition(NAME, format!("needs n <= d, got n = {n}, d = {d}")));
    }
    let g = x.prod(true, x, false);
    let c = solve_linear(&g, y).ok_or_else(|| precondition(NAME, "X^T X is singular: X needs full column rank"))?;
    Ok((0..d)
        .map(|i| {
            let mut s = x.proto();
            for (j, cj) in c.iter().enumerate() {
                s.mul_add_assign(x.get(i, j), cj);
            }
            s
        })
        .collect())
}

/// A dual certificate that `beta` (with $\beta X = y$) is the unique minimum-$\ell_1$ interpolator
/// (the rich limit $a\to 0$): with support $S = \{i : |\beta_i| > \text{tol}\}$ and the least-norm
/// $\nu$ solving $(X\nu)_S = \operatorname{sign}(\beta_S)$, returns $\max_{i\notin S}|(X\nu)_i|$; a value
/// below 1 certifies optimality (together with an invertible $X_S X_S^\top$).
pub fn l1_certificate<S: Real>(x: &Mat<S>, beta: &[S], tol: f64) -> Result<f64> {
    const NAME: &str = "l1 dual certificate";
    let (d, n) = x.shape();
    if beta.len() != d {
        return Err(Error::dim(NAME, format!("beta of length {d}"), format!("{}", beta.len())));
    }
    let support: Vec<usize> = (0..d).filter(|&i| beta[i].to_f64().abs() > tol).collect();
    if support.is_empty() || support.len() > n {
        return Err(precondition(NAME, format!("support size {} must be in 1..={n}", support.len())));
    }
    let xs = Mat::from_fn(support.len(), n, |r, j| x.get(support[r], j).clone());
    let gram = xs.prod(false, &xs, true);
    let signs: Vec<S> = support
        .iter()
        .map(|&i| if beta[i] > beta[i].zero_like() { beta[i].one_like() } else { -beta[i].one_like() })
        .collect();
    let c = solve_linear(&gram, &signs).ok_or_else(|| precondition(NAME, "X_S X_S^T is singular"))?;
    let nu: Vec<S> = (0..n)
        .map(|j| {
            let mut s = x.proto();
            for (r, cr) in c.iter().enumerate() {
                s.mul_add_assign(xs.get(r, j), cr);
            }
            s
        })
        .collect();
    let mut worst: f64 = 0.0;
    for i in (0..d).filter(|i| !support.contains(i)) {
        let mut s = x.proto();
        for (j, nj) in nu.iter().enumerate() {
            s.mul_add_assign(x.get(i, j), nj);
        }
        worst = worst.max(s.to_f64().abs());
    }
    Ok(worst)
}
