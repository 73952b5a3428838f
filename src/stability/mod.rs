//! The spectrum of a step: is a discrete method locally stable where it is?
//!
//! Near a point, a step map $\theta_{k+1} = T(\theta_k)$ behaves like its linearization, and
//! perturbations grow or shrink by the eigenvalues of the Jacobian $DT$ — complex numbers in
//! general. With $H = \nabla^2 L(\theta)$ (exact, [`hessian`]) and $h_1\le\dots\le h_D$ its
//! eigenvalues:
//!
//! * GD: $DT = I - \eta H$, eigenvalues $1 - \eta h_i$; stable iff $\eta < 2/h_D$ (edge of
//!   stability at $\eta = 2/\lambda_{\max}$) when $H \succeq 0$.
//! * Heavy ball on $(\theta_k, \theta_{k-1})$: the companion matrix
//!   $\begin{pmatrix}(1+\beta)I-\gamma H & -\beta I\\ I & 0\end{pmatrix}$ is similar to the direct
//!   sum of the $2\times 2$ blocks $\begin{pmatrix}1+\beta-\gamma h_i & -\beta\\ 1 & 0\end{pmatrix}$,
//!   whose eigenvalues are the roots of $z^2 - (1+\beta-\gamma h_i)z + \beta$: a complex pair of
//!   modulus $\sqrt\beta$ when $(1+\beta-\gamma h_i)^2 < 4\beta$ (proofs/companion_spectrum.md).
//!   The momentum flow $\lambda\ddot\theta + \dot\theta + \nabla L = 0$ with
//!   $\lambda = \gamma/(1-\beta)^2$ is underdamped along $h_i$ when $4\lambda h_i > 1$.
//! * Nesterov: blocks with characteristic polynomial $z^2 - (1+\beta)(1-\eta h_i)z + \beta(1-\eta h_i)$,
//!   $h_i$ the Hessian's eigenvalues at the look-ahead point.
//! * USAM and SAM: the Jacobians of [`step_jacobian`], not symmetric; their eigenvalues come from
//!   the real Schur form in `f64`.
//!
//! In rationals and MPFR the Hessian and the Jacobians are exact (rationals) or correct to the
//! working precision; the symmetric Hessian spectrum and the companion roots are computed at that
//! precision ([`symmetric_eigenvalues`], [`companion_roots`]); general complex spectra in `f64`.

mod jacobian;
mod spectrum;

pub use jacobian::{apply_step, hessian, step_jacobian};
pub use spectrum::{
    companion_discriminant, companion_roots, eigenvalues, nesterov_roots, spectral_radius, symmetric_eigenvalues,
};

use crate::error::Result;
use crate::model::Model;
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::scalar::{Real, Scalar};
use num_complex::Complex;
use serde::{Deserialize, Serialize};

/// Heavy ball's regime at a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MomentumRegime {
    /// $\lambda = \gamma/(1-\beta)^2$ of the momentum flow.
    pub lambda: f64,
    /// Whether the flow is underdamped along the top Hessian mode: $4\lambda\,\lambda_{\max} > 1$.
    pub flow_underdamped: bool,
    /// Number of Hessian modes whose discrete companion block has a complex pair of eigenvalues.
    pub complex_pairs: usize,
    /// Number of modes (the parameter dimension).
    pub modes: usize,
}

/// The stability of a step map at one point of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PointReport {
    /// Step index of the point.
    pub step: usize,
    /// Loss there.
    pub loss: f64,
    /// Method name.
    pub method: String,
    /// Smallest Hessian eigenvalue.
    pub hessian_min: f64,
    /// Largest Hessian eigenvalue $\lambda_{\max}$.
    pub hessian_max: f64,
    /// The spectral radius of the step map's Jacobian.
    pub spectral_radius: f64,
    /// GD's edge-of-stability step $2/\lambda_{\max}$ (`None` when $\lambda_{\max} \le 0$).
    pub gd_threshold: Option<f64>,
    /// Heavy ball only: the regime.
    pub momentum: Option<MomentumRegime>,
    /// The step map's eigenvalues as `(re, im)`.
    pub eigenvalues: Vec<(f64, f64)>,
}

fn c64<S: Scalar>(z: &Complex<S>) -> Complex<f64> {
    Complex::new(z.re.to_f64(), z.im.to_f64())
}

/// The stability report of `method`'s step at `p` (with `prev` = $\theta_{k-1}$ for momentum methods) in
/// the precision of `S`.
pub fn analyze<S: Real>(
    model: &Model<S>,
    method: &Method<S>,
    p: &Params<S>,
    prev: &Params<S>,
    step: usize,
) -> Result<PointReport> {
    let h = symmetric_eigenvalues(&hessian(model, p))?;
    let (hmin, hmax) = (h.first().map_or(0.0, |x| x.to_f64()), h.last().map_or(0.0, |x| x.to_f64()));
    let mut momentum = None;
    let eigs: Vec<Complex<f64>> = match method {
        Method::Gd { eta } => {
            h.iter().map(|x| Complex::new((x.one_like() - eta.clone() * x.clone()).to_f64(), 0.0)).collect()
        }
        Method::HeavyBall { eta, beta } => {
            let one = eta.one_like();
            let lambda = eta.clone() / (one.clone() - beta.clone()).square();
            let pairs = h.iter().filter(|x| companion_discriminant(*x, eta, beta) < x.zero_like()).count();
            momentum = Some(MomentumRegime {
                lambda: lambda.to_f64(),
                flow_underdamped: h.last().is_some_and(|m| lambda.clone() * m.clone() * one.from_i64_like(4) > one),
                complex_pairs: pairs,
                modes: h.len(),
            });
            h.iter().flat_map(|x| companion_roots(x, eta, beta)).map(|z| c64(&z)).collect()
        }
        Method::Nesterov { eta, beta } => {
            let mut y = p.clone();
            y.axpy(beta, p);
            y.axpy(&-beta.clone(), prev);
            let hy = symmetric_eigenvalues(&hessian(model, &y))?;
            hy.iter().flat_map(|x| nesterov_roots(x, eta, beta)).map(|z| c64(&z)).collect()
        }
        Method::Usam { .. } | Method::Sam { .. } => eigenvalues(&step_jacobian(model, method, p, prev)?.to_f64())?,
        Method::Bar { .. } => return Err(jacobian::not_smooth()),
    };
    Ok(PointReport {
        step,
        loss: model.loss(p).to_f64(),
        method: method.name().into(),
        hessian_min: hmin,
        hessian_max: hmax,
        spectral_radius: spectral_radius(&eigs),
        gd_threshold: (hmax > 0.0).then(|| 2.0 / hmax),
        momentum,
        eigenvalues: eigs.iter().map(|z| (z.re, z.im)).collect(),
    })
}

/// Where along a run to analyze the step map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// At the starting point.
    Start,
    /// At the last point.
    End,
    /// At steps 0, n, 2n, … and the last.
    Every(usize),
}

impl At {
    /// Parses `start`, `end` or `every N` (also `every:N`), naming the field `at` in errors.
    pub fn parse(words: &[String]) -> Result<Self> {
        let joined = words.join(" ").replace(':', " ");
        let parts: Vec<&str> = joined.split_whitespace().collect();
        match parts.as_slice() {
            ["start"] => Ok(At::Start),
            ["end"] => Ok(At::End),
            ["every", n] => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(At::Every(n)),
                _ => Err(crate::error::Error::invalid("at", format!("`every N` needs an integer N >= 1, got `{n}`"))),
            },
            _ => Err(crate::error::Error::invalid(
                "at",
                format!("expected `start`, `end` or `every N`, got `{}`", words.join(" ")),
            )),
        }
    }
}

/// Runs `method` from `p0` for `steps` steps (momentum methods from $\theta_{-1} = \theta_0$) and
/// analyzes it where `at` says. A run whose parameters stop being finite ends there (its last
/// finite point is analyzed for [`At::End`]).
pub fn along<S: Real>(
    model: &Model<S>,
    method: &Method<S>,
    p0: &Params<S>,
    steps: usize,
    at: At,
) -> Result<Vec<PointReport>> {
    model.check_params(p0)?;
    let mut out = Vec::new();
    let mut opt = Optimizer::exact(method.clone())?;
    let (mut prev, mut p) = (p0.clone(), p0.clone());
    let wanted = |k: usize| match at {
        At::Start => k == 0,
        At::End => false,
        At::Every(n) => k % n == 0,
    };
    let mut last = 0;
    for k in 0..=steps {
        if wanted(k) {
            out.push(analyze(model, method, &p, &prev, k)?);
        }
        last = k;
        if k == steps || (at == At::Start) {
            break;
        }
        let mut next = p.clone();
        opt.step(model, &mut next)?;
        if !next.is_finite() {
            break;
        }
        prev = std::mem::replace(&mut p, next);
    }
    if at == At::End || (matches!(at, At::Every(_)) && out.last().map(|r| r.step) != Some(last)) {
        out.push(analyze(model, method, &p, &prev, last)?);
    }
    Ok(out)
}

#[cfg(feature = "cli")]
/// The reports of `linflow stability FILE`: the file's model, starting point and discrete method
/// in the precision of `proto`, analyzed where `at` says.
pub fn from_spec<S: Real + crate::config::RunScalar>(
    spec: &crate::config::ExperimentSpec,
    proto: &S,
    at: At,
) -> Result<Vec<PointReport>> {
    let (method, steps) = spec.discrete().ok_or_else(|| {
        crate::error::Error::invalid("method", "the stability of a step needs a discrete method, not a flow")
    })?;
    // Full-batch: a mini-batch setting is ignored, the Hessian is that of the whole loss.
    let method = method.map(|x| proto.from_q_like(x));
    let (model, p0) = spec.problem(proto)?;
    along(&model, &method, &p0, steps, at)
}

/// The table printed by `linflow stability`.
pub fn table(reports: &[PointReport]) -> String {
    let mut s = format!(
        "{:>7} {:>12} {:>12} {:>12} {:>12} {:>12}  {}\n",
        "step", "loss", "hess min", "hess max", "2/lam_max", "radius", "regime"
    );
    for r in reports {
        let thr = r.gd_threshold.map_or("-".to_string(), |t| format!("{t:.5e}"));
        let regime = match &r.momentum {
            Some(m) => format!(
                "lambda = {:.4e}: flow {}, {}/{} complex pairs",
                m.lambda,
                if m.flow_underdamped { "underdamped (4 lambda lam_max > 1)" } else { "overdamped" },
                m.complex_pairs,
                m.modes
            ),
            None => (if r.spectral_radius < 1.0 { "locally contracting" } else { "not contracting" }).to_string(),
        };
        s.push_str(&format!(
            "{:>7} {:>12.5e} {:>12.5e} {:>12.5e} {:>12} {:>12.6}  {} ({})\n",
            r.step, r.loss, r.hessian_min, r.hessian_max, thr, r.spectral_radius, regime, r.method
        ));
    }
    s
}
