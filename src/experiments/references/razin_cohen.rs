//! `razin-cohen`: the Razin–Cohen 2×2 completion instance: $\det W$ keeps its sign and $|W_{11}|$
//! passes the predicted threshold.

use super::common::{fd8, flow};
use crate::closed_form::razin_cohen as rc;
use crate::compare::nan_min;
use crate::data;
use crate::error::Result;
use crate::experiments::{Check, Experiment, Recipe};
use crate::mat::Mat;
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::scalar::{Mp, Scalar};

/// 256-bit check of [`rc::log_det_rate`]: at a balanced point of the depth-3 instance (all layers
/// equal to a symmetric `P` with `det P > 0`), the derivative of $\ln\det W$ along $-\nabla L$ by
/// [`fd8`] against $-N\operatorname{tr}(W_1^{-1}G_1)$. Returns `(balanced gap, general-formula gap,
/// balanced formula at an unbalanced point)`.
pub fn razin_cohen_log_det_256() -> Result<(f64, f64, f64)> {
    let mp = Mp::new(256);
    let q = |a: i64, b: i64| mp.ratio_like(a, b);
    let model = rc::model(3)?.cast(&mp);
    let pm = Mat::from_vec(2, 2, vec![q(3, 5), q(1, 7), q(1, 7), q(2, 5)]);
    let balanced = Params::new(vec![pm.clone(), pm.clone(), pm.clone()]);
    let other = Mat::from_vec(2, 2, vec![q(1, 2), q(1, 3), q(-1, 5), q(4, 5)]);
    let unbalanced = Params::new(vec![pm.clone(), other, pm]);
    let fd_rate = |p: &Params<Mp>| -> Result<Mp> {
        let (_, g) = model.grad(p);
        let path = |s: &Mp| -> Result<Params<Mp>> {
            let mut x = p.clone();
            x.axpy(&-s.clone(), &g);
            let w = model.end_to_end(&x);
            Ok(Params::new(vec![Mat::from_vec(1, 1, vec![rc::det2(&w).ln()])]))
        };
        let d = fd8(&path, &mp.zero_like(), &q(1, 100_000_000))?;
        Ok(d.blocks[0].get(0, 0).clone())
    };
    let fd_b = fd_rate(&balanced)?;
    let gap_b = (fd_b.clone() - rc::log_det_rate(&model, &balanced)?).to_f64().abs();
    let fd_u = fd_rate(&unbalanced)?;
    let gap_general = (fd_u.clone() - rc::log_det_rate_general(&model, &unbalanced)?).to_f64().abs();
    let gap_wrong = (fd_u - rc::log_det_rate(&model, &unbalanced)?).to_f64().abs();
    Ok((gap_b, gap_general, gap_wrong))
}

/// A run of the instance: saved times with $\det W$, the loss and $|W_{11}|$ (empty for depth 2).
#[derive(Clone, Debug, Default)]
pub struct RcRun {
    /// Saved times.
    pub times: Vec<f64>,
    /// $\det W(t)$, rounded to `f64`.
    pub det: Vec<f64>,
    /// The loss.
    pub loss: Vec<f64>,
    /// $|W_{11}(t)|$ (depth 3 only).
    pub w11: Vec<f64>,
}

impl RcRun {
    /// The first saved time with $\det W \le 0$.
    pub fn first_nonpositive(&self) -> Option<f64> {
        self.det.iter().position(|d| *d <= 0.0).map(|k| self.times[k])
    }
    /// $\det W$ at the first saved time $\ge t$ (NaN after the run).
    pub fn det_at(&self, t: f64) -> f64 {
        self.times.iter().position(|x| *x >= t).map(|k| self.det[k]).unwrap_or(f64::NAN)
    }
}

fn rc_run<S: Scalar>(depth: usize, p0: &Params<f64>, proto: &S, h: f64, t1: f64, n_save: usize) -> Result<RcRun> {
    let model = rc::model(depth)?.cast(proto);
    let traj = flow(&model, &p0.cast(proto), h, t1, n_save)?;
    let mut r = RcRun {
        times: traj.times.iter().map(Scalar::to_f64).collect(),
        det: vec![],
        loss: traj.loss.clone(),
        w11: vec![],
    };
    for p in &traj.states {
        let w = model.end_to_end(p);
        r.det.push(rc::det2(&w).to_f64());
        r.w11.push(w.get(0, 0).to_f64().abs());
    }
    Ok(r)
}

/// What `razin-cohen` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// RK4 step of the depth-3 runs.
    pub h: f64,
    /// Depth 3 in `f64`.
    pub run64: RcRun,
    /// $\min_t \det W$ of `run64`.
    pub min_det: f64,
    /// $\min_t \det W$ of the same flow in 128-bit MPFR.
    pub min_det_mp: f64,
    /// $\min_t\,|W_{11}| - (1 - \sqrt{2l})^2/\sqrt{2l}$ over the saved times with $l < 1/2$.
    pub margin: f64,
    /// $(t, \text{bound})$ where the bound is positive.
    pub bound: Vec<(f64, f64)>,
    /// Five times the bound at $l = 0.1$.
    pub w11_needed: f64,
    /// 256-bit $d/dt \ln\det W$: (balanced gap, general-formula gap, balanced formula at an unbalanced point).
    pub log_det_gaps: (f64, f64, f64),
    /// Depth 2: RK4 step and horizon.
    pub h2: f64,
    /// Depth 2 horizon.
    pub t2: f64,
    /// Depth 2 in `f64` (from a factorization balanced in `f64`).
    pub d64: RcRun,
    /// Depth 2 in 256-bit MPFR (from a factorization balanced at 256 bits).
    pub dmp: RcRun,
    /// Depth 2 in 256-bit MPFR from the `f64` balanced factorization: the first $\det W \le 0$, and that
    /// start's imbalance.
    pub cast: (Option<f64>, f64),
}

/// The depth-3 flow in `f64` and MPFR, the 256-bit log-det rates, and the depth-2 sign of $\det W$ in
/// three precisions.
pub fn measure(quick: bool) -> Result<Measured> {
    let depth = 3;
    let p0 = rc::balanced_init(depth, 0.05, 61)?;
    let h = 0.01;
    let t1 = if quick { 150.0 } else { 1500.0 };
    let run64 = rc_run(depth, &p0, &0.0f64, h, t1, 300)?;
    let run_mp = rc_run(depth, &p0, &Mp::new(128), h, if quick { t1 } else { 300.0 }, 300)?;
    let (mut margins, mut bound) = (Vec::new(), Vec::new());
    for k in 0..run64.times.len() {
        let l = run64.loss[k];
        if l > 0.0 && l < 0.5 {
            let b = rc::w11_lower_bound(&l)?;
            margins.push(run64.w11[k] - b);
            if b > 0.0 {
                bound.push((run64.times[k], b));
            }
        }
    }
    // Depth 2: det decays exponentially (d/dt ln|det W| = -2 tr(V U^T grad l) stays bounded, no
    // decay to zero in finite time, but exponentially small values).
    // Depth 2 from an initialization balanced in each number type (f64: to 1e-16; MPFR-256: to 1e-77).
    let mut a2 = data::gaussian(2, 2, 0.2, &mut data::rng(62));
    if rc::det2(&a2) < 0.0 {
        for j in 0..2 {
            *a2.get_mut(0, j) = -*a2.get(0, j);
        }
    }
    let t2 = 80.0;
    let h2 = if quick { 1e-3 } else { 2.5e-4 };
    let mp256 = Mp::new(256);
    let model = rc::model(2)?;
    let m_mp = model.cast(&mp256);
    let t64 = flow(&model, &rc::balanced_two_layer(&a2)?, h2, t2, 400)?;
    let d64 = RcRun {
        times: t64.times.clone(),
        det: t64.states.iter().map(|p| rc::det2(&model.end_to_end(p))).collect(),
        loss: t64.loss.clone(),
        w11: vec![],
    };
    let tmp = flow(&m_mp, &rc::balanced_two_layer(&a2.cast(&mp256))?, h2, t2, 400)?;
    let dmp = RcRun {
        times: tmp.times.iter().map(Scalar::to_f64).collect(),
        det: tmp.states.iter().map(|p| rc::det2(&m_mp.end_to_end(p)).to_f64()).collect(),
        loss: tmp.loss.clone(),
        w11: vec![],
    };
    // The same in MPFR from an f64 balanced factorization (init::balanced, balanced only to ~1e-16).
    let p_cast = rc::balanced_init(2, 0.2, 62)?;
    let cast_run = rc_run(2, &p_cast, &mp256, h2, t2, 400)?;
    let cast_imbalance = p_cast.blocks[1].gram_t().sub(&p_cast.blocks[0].gram()).max_abs().unwrap_or(f64::NAN);
    Ok(Measured {
        h,
        min_det: nan_min(run64.det.iter().copied()),
        min_det_mp: nan_min(run_mp.det.iter().copied()),
        margin: nan_min(margins),
        bound,
        w11_needed: 5.0 * rc::w11_lower_bound(&0.1)?,
        run64,
        log_det_gaps: razin_cohen_log_det_256()?,
        h2,
        t2,
        d64,
        dmp,
        cast: (cast_run.first_nonpositive(), cast_imbalance),
    })
}

/// The sign of $\det W$, the $|W_{11}|$ bound, the log-det rates, and the depth-2 sign flip as rounding.
pub fn checks(m: &Measured) -> Vec<Check> {
    let (gap_b, gap_general, gap_wrong) = m.log_det_gaps;
    let mp_at_f64_flip = m.d64.first_nonpositive().map(|t| m.dmp.det_at(t)).unwrap_or(f64::NAN);
    vec![
        Check::at_least(
            "det-stays-positive-f64",
            "det W(t) > 0 at every saved time (depth 3: det decays at most algebraically, far above f64 rounding)",
            m.min_det,
            f64::MIN_POSITIVE,
        ),
        Check::at_least(
            "det-stays-positive-mpfr128",
            "det W(t) > 0 at every saved time in 128-bit MPFR",
            m.min_det_mp,
            f64::MIN_POSITIVE,
        ),
        Check::at_least(
            "w11-exceeds-bound",
            "wherever l < 1/2: |W11| - (1 - sqrt(2l))^2/sqrt(2l) > 0 (an exact consequence of det W > 0)",
            m.margin,
            0.0,
        ),
        Check::at_least(
            "w11-grows",
            "|W11| at the end exceeds 5 times the bound at l = 0.1 (5 x 0.683): it keeps growing as l falls, as the bound forces",
            *m.run64.w11.last().expect("non-empty"),
            m.w11_needed,
        ),
        Check::at_most(
            "mpfr256-log-det-rate-balanced",
            "at a balanced point, d/dt ln det W = -N tr(W_1^-1 G_1) against an 8th-order central difference of ln det \
             along -grad L at 256 bits (step 1e-8: truncation ~1e-64, rounding ~1e-69); 1e-50",
            gap_b,
            1e-50,
        ),
        Check::at_most(
            "mpfr256-log-det-rate-general",
            "at an unbalanced point, Jacobi's -sum_j tr(W_j^-1 G_j) still matches (same tolerance)",
            gap_general,
            1e-50,
        ),
        Check::at_least(
            "balanced-formula-needs-balance",
            "at the unbalanced point the balanced formula -N tr(W_1^-1 G_1) is off by far more than rounding (>= 1e-3)",
            gap_wrong,
            1e-3,
        ),
        Check::at_least(
            "depth2-mpfr-keeps-sign",
            "depth 2, balanced to 1e-77 in 256-bit MPFR: det W(t) > 0 at every saved time up to t = 80",
            nan_min(m.dmp.det.iter().copied()),
            f64::MIN_POSITIVE,
        ),
        Check::at_least(
            "depth2-f64-flip-is-rounding",
            "depth 2: det W decays exponentially and f64 reports det <= 0 at a time where the same RK4 map (same step, \
             same initial matrix) in 256-bit MPFR still has det > 0, so the f64 crossing is rounding",
            mp_at_f64_flip,
            f64::MIN_POSITIVE,
        ),
    ]
}

/// The depth-3 run's end state, the log-det gaps, and when each depth-2 run loses the sign.
pub fn notes(m: &Measured) -> Vec<String> {
    let (gap_b, gap_general, gap_wrong) = m.log_det_gaps;
    let (h, h2, t2) = (m.h, m.h2, m.t2);
    let (d64, dmp) = (&m.d64, &m.dmp);
    vec![
        format!(
            "depth 3, RK4 h = {h}: final loss {:.3e}, |W11| = {:.3}, min det (f64) {:.3e}, \
             min det (MPFR 128) {:.3e}; 256-bit log-det-rate gaps {gap_b:.1e} (balanced), {gap_general:.1e} \
             (general), balanced formula at an unbalanced point off by {gap_wrong:.3e}",
            m.run64.loss.last().expect("non-empty"),
            m.run64.w11.last().expect("non-empty"),
            m.min_det,
            m.min_det_mp
        ),
        format!(
            "depth 2, RK4 h = {h2}, t <= {t2}: f64 det first <= 0 at {:?}, MPFR-256 at {:?}; det at t = 20, 40, 60, 80: \
             f64 {:.3e} {:.3e} {:.3e} {:.3e}, MPFR {:.3e} {:.3e} {:.3e} {:.3e}; final loss {:.3e}",
            d64.first_nonpositive(),
            dmp.first_nonpositive(),
            d64.det_at(20.0),
            d64.det_at(40.0),
            d64.det_at(60.0),
            d64.det_at(80.0),
            dmp.det_at(20.0),
            dmp.det_at(40.0),
            dmp.det_at(60.0),
            dmp.det_at(80.0),
            dmp.loss.last().expect("non-empty"),
        ),
        format!(
            "depth 2, MPFR-256 started from an f64 balanced factorization (imbalance {:.1e}): det first <= 0 \
             at {:?}",
            m.cast.1, m.cast.0
        ),
    ]
}

/// Depth 3: $|W_{11}|$ against the bound, $\det W$ and the loss; depth 2: $\det W$ in `f64` and MPFR.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let r = &m.run64;
    let positive = |ys: &[f64]| {
        r.times.iter().zip(ys).map(|(t, y)| (*t, *y)).filter(|p| p.0 > 0.0 && p.1 > 0.0).collect::<Vec<_>>()
    };
    let fig =
        Figure::new("razin_cohen", "Razin-Cohen instance, depth 3, balanced init with det W(0) > 0", "time t", "value")
            .log_y()
            .with(Series::line("|W11(t)| (f64)", positive(&r.w11)))
            .with(Series::line("bound (1 - sqrt(2l))^2/sqrt(2l)", m.bound.clone()).styled(Style::Dashed))
            .with(Series::line("det W(t) (f64)", positive(&r.det)))
            .with(Series::line("loss", positive(&r.loss)))
            .log_x();
    let pos =
        |r: &RcRun| r.times.iter().zip(&r.det).filter(|(_, d)| **d > 0.0).map(|(t, d)| (*t, *d)).collect::<Vec<_>>();
    let neg: Vec<(f64, f64)> =
        m.d64.times.iter().zip(&m.d64.det).filter(|(_, d)| **d < 0.0).map(|(t, d)| (*t, d.abs())).collect();
    let fig2 = Figure::new(
        "razin_cohen_depth2_det",
        "Depth 2: det W(t), f64 vs MPFR-256 (same RK4 step, balanced init)",
        "time t",
        "|det W(t)|",
    )
    .log_y()
    .y_range(1e-22, 1.0)
    .with(Series::line("f64, det > 0", pos(&m.d64)))
    .with(Series::points("f64, det < 0 (wrong sign; exact zeros not drawn)", neg))
    .with(Series::line("MPFR 256, det > 0", pos(&m.dmp)).styled(Style::Dashed));
    vec![fig, fig2]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "razin-cohen",
    description: "Razin-Cohen 2x2 completion (W12 = W21 = 1, W22 = 0 observed), depth 3, balanced initialization with \
         det W > 0: gradient flow keeps det W > 0, so as the loss l falls |W11| must exceed (1 - sqrt(2l))^2/sqrt(2l) \
         and every norm diverges; f64 against MPFR for the sign of det W.",
    measure,
    checks,
    figures,
    notes,
};

/// The `razin-cohen` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "Razin-Cohen 2x2 completion: det W keeps its sign and |W11| passes (1-sqrt(2l))^2/sqrt(2l)",
        run: |ctx| RECIPE.run(ctx),
    }
}
