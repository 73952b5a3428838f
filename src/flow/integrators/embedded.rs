//! An adaptive explicit embedded Runge–Kutta driver on flat `f64` state, allocation-free per step.
//!
//! A pair $(A, b, \hat b, c)$ advances with the weights $b$ (order $p$) and estimates the local
//! error by $e = h\sum_i (b_i - \hat b_i) k_i$ (order $\hat p$ of $\hat b$). The step is accepted
//! when the error norm
//! $$\|e\| = \Bigl(\frac1n\sum_i \Bigl(\frac{e_i}{\mathrm{atol} + \mathrm{rtol}\max(|y_i|, |y^{new}_i|)}\Bigr)^2\Bigr)^{1/2}$$
//! (the convention of scipy and diffrax) is at most 1, and the next step is
//! $h \cdot \mathrm{clamp}(0.9\,\|e\|^{-\alpha}\|e_{prev}\|^{\beta}, 0.2, 10)$ with
//! $\alpha = 1/(\hat p + 1) - 0.75\beta$ (Hairer's PI controller; $\beta = 0.04$ for
//! Dormand–Prince 5(4), $\beta = 0$ for 8(7)). After a rejection the step does not grow.
//!
//! Tableaux ([`EmbeddedPair`]):
//! * Dormand–Prince 5(4) (J. R. Dormand, P. J. Prince, *A family of embedded Runge–Kutta
//!   formulae*, J. Comput. Appl. Math. 6 (1980) 19–26): 7 stages, first same as last (FSAL), so an
//!   accepted step costs 6 evaluations.
//! * Prince–Dormand RK8(7)13M (P. J. Prince, J. R. Dormand, *High order embedded Runge–Kutta
//!   formulae*, J. Comput. Appl. Math. 7 (1981) 67–75; "Dopri8" in diffrax): 13 stages. The
//!   published coefficients are rationals that *approximate* the real solution of the order
//!   conditions to about 18 digits, so the order conditions hold to about $10^{-18}$, not exactly
//!   (measured by the tests: more than enough in `f64`).

use super::tableau::Tableau;
use super::Integrate;
use crate::error::{Error, Result};
use crate::flow::record::Recorder;
use crate::flow::VectorField;
use crate::params::Params;
use crate::scalar::Scalar;

/// An explicit embedded pair: the method's tableau (weights $b$) and the embedded weights $\hat b$.
#[derive(Clone, Debug)]
pub struct EmbeddedPair<S> {
    /// $(A, b, c)$ with the order of $b$.
    pub method: Tableau<S>,
    /// The embedded weights $\hat b$.
    pub embedded: Vec<S>,
    /// Order of the embedded weights.
    pub embedded_order: usize,
    /// Third-order weights $\check b$ of Hairer's combined estimate ([`dop853`](super::dop853)):
    /// when present the error norm is $|h|E_5/\sqrt{n(E_5 + 0.01E_3)}$ and the controller's
    /// exponent is $1/p$ ($p$ the method's order) instead of $1/(\hat p+1)$.
    pub embedded3: Option<Vec<S>>,
    /// Whether the last stage is evaluated at $(t + h, y_{n+1})$ (first same as last).
    pub fsal: bool,
    /// The $\beta$ of the PI step controller.
    pub pi_beta: f64,
    /// Name for reports.
    pub name: &'static str,
}

type R = (i64, i64);

fn build<S: Scalar>(proto: &S, a: &[&[R]], b: &[R], bh: &[R], c: &[R]) -> (Vec<Vec<S>>, Vec<S>, Vec<S>, Vec<S>) {
    let s = b.len();
    let conv = |&(p, q): &R| proto.ratio_like(p, q);
    let am = (0..s)
        .map(|i| (0..s).map(|j| a.get(i).and_then(|r| r.get(j)).map_or_else(|| proto.zero_like(), conv)).collect())
        .collect();
    (am, b.iter().map(conv).collect(), bh.iter().map(conv).collect(), c.iter().map(conv).collect())
}

impl<S: Scalar> EmbeddedPair<S> {
    /// Dormand–Prince 5(4), FSAL, exact rational coefficients.
    pub fn dopri5(proto: &S) -> Self {
        let a: &[&[R]] = &[
            &[],
            &[(1, 5)],
            &[(3, 40), (9, 40)],
            &[(44, 45), (-56, 15), (32, 9)],
            &[(19372, 6561), (-25360, 2187), (64448, 6561), (-212, 729)],
            &[(9017, 3168), (-355, 33), (46732, 5247), (49, 176), (-5103, 18656)],
            &[(35, 384), (0, 1), (500, 1113), (125, 192), (-2187, 6784), (11, 84)],
        ];
        let b = [(35, 384), (0, 1), (500, 1113), (125, 192), (-2187, 6784), (11, 84), (0, 1)];
        let bh = [(5179, 57600), (0, 1), (7571, 16695), (393, 640), (-92097, 339200), (187, 2100), (1, 40)];
        let c = [(0, 1), (1, 5), (3, 10), (4, 5), (8, 9), (1, 1), (1, 1)];
        let (a, b, bh, c) = build(proto, a, &b, &bh, &c);
        EmbeddedPair {
            method: Tableau { a, b, c, order: 5 },
            embedded: bh,
            embedded_order: 4,
            embedded3: None,
            fsal: true,
            pi_beta: 0.04,
            name: "dp5",
        }
    }

    /// Prince–Dormand RK8(7)13M with the published rational coefficients (accurate to about
    /// $10^{-18}$, see the module documentation).
    pub fn dopri8(proto: &S) -> Self {
        let a: &[&[R]] = &[
            &[],
            &[(1, 18)],
            &[(1, 48), (1, 16)],
            &[(1, 32), (0, 1), (3, 32)],
            &[(5, 16), (0, 1), (-75, 64), (75, 64)],
            &[(3, 80), (0, 1), (0, 1), (3, 16), (3, 20)],
            &[
                (29443841, 614563906),
                (0, 1),
                (0, 1),
                (77736538, 692538347),
                (-28693883, 1125000000),
                (23124283, 1800000000),
            ],
            &[
                (16016141, 946692911),
                (0, 1),
                (0, 1),
                (61564180, 158732637),
                (22789713, 633445777),
                (545815736, 2771057229),
                (-180193667, 1043307555),
            ],
            &[
                (39632708, 573591083),
                (0, 1),
                (0, 1),
                (-433636366, 683701615),
                (-421739975, 2616292301),
                (100302831, 723423059),
                (790204164, 839813087),
                (800635310, 3783071287),
            ],
            &[
                (246121993, 1340847787),
                (0, 1),
                (0, 1),
                (-37695042795, 15268766246),
                (-309121744, 1061227803),
                (-12992083, 490766935),
                (6005943493, 2108947869),
                (393006217, 1396673457),
                (123872331, 1001029789),
            ],
            &[
                (-1028468189, 846180014),
                (0, 1),
                (0, 1),
                (8478235783, 508512852),
                (1311729495, 1432422823),
                (-10304129995, 1701304382),
                (-48777925059, 3047939560),
                (15336726248, 1032824649),
                (-45442868181, 3398467696),
                (3065993473, 597172653),
            ],
            &[
                (185892177, 718116043),
                (0, 1),
                (0, 1),
                (-3185094517, 667107341),
                (-477755414, 1098053517),
                (-703635378, 230739211),
                (5731566787, 1027545527),
                (5232866602, 850066563),
                (-4093664535, 808688257),
                (3962137247, 1805957418),
                (65686358, 487910083),
            ],
            &[
                (403863854, 491063109),
                (0, 1),
                (0, 1),
                (-5068492393, 434740067),
                (-411421997, 543043805),
                (652783627, 914296604),
                (11173962825, 925320556),
                (-13158990841, 6184727034),
                (3936647629, 1978049680),
                (-160528059, 685178525),
                (248638103, 1413531060),
                (0, 1),
            ],
        ];
        let b = [
            (14005451, 335480064),
            (0, 1),
            (0, 1),
            (0, 1),
            (0, 1),
            (-59238493, 1068277825),
            (181606767, 758867731),
            (561292985, 797845732),
            (-1041891430, 1371343529),
            (760417239, 1151165299),
            (118820643, 751138087),
            (-528747749, 2220607170),
            (1, 4),
        ];
        let bh = [
            (13451932, 455176623),
            (0, 1),
            (0, 1),
            (0, 1),
            (0, 1),
            (-808719846, 976000145),
            (1757004468, 5645159321),
            (656045339, 265891186),
            (-3867574721, 1518517206),
            (465885868, 322736535),
            (53011238, 667516719),
            (2, 45),
            (0, 1),
        ];
        let c = [
            (0, 1),
            (1, 18),
            (1, 12),
            (1, 8),
            (5, 16),
            (3, 8),
            (59, 400),
            (93, 200),
            (5490023248, 9719169821),
            (13, 20),
            (1201146811, 1299019798),
            (1, 1),
            (1, 1),
        ];
        let (a, b, bh, c) = build(proto, a, &b, &bh, &c);
        EmbeddedPair {
            method: Tableau { a, b, c, order: 8 },
            embedded: bh,
            embedded_order: 7,
            embedded3: None,
            fsal: false,
            pi_beta: 0.0,
            name: "dp8",
        }
    }

    /// The tableau with the embedded weights in place of $b$ (to check their order conditions).
    pub fn embedded_tableau(&self) -> Tableau<S> {
        Tableau {
            a: self.method.a.clone(),
            b: self.embedded.clone(),
            c: self.method.c.clone(),
            order: self.embedded_order,
        }
    }

    /// The tableau with the third-order weights $\check b$ in place of $b$, for pairs with
    /// Hairer's combined estimate (`None` otherwise).
    pub fn embedded3_tableau(&self) -> Option<Tableau<S>> {
        self.embedded3.as_ref().map(|b| Tableau {
            a: self.method.a.clone(),
            b: b.clone(),
            c: self.method.c.clone(),
            order: 3,
        })
    }
}

/// Counters of an adaptive run (the flows' [`crate::trajectory::Stats`]).
pub use crate::trajectory::Stats;

/// Tolerances and limits of [`Embedded`].
#[derive(Clone, Copy, Debug)]
pub struct Control {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Safety factor of the controller.
    pub safety: f64,
    /// Smallest factor by which a step may shrink.
    pub fac_min: f64,
    /// Largest factor by which a step may grow.
    pub fac_max: f64,
    /// Largest number of steps (accepted and rejected) per call of [`Embedded::integrate`].
    pub max_steps: usize,
}

impl Control {
    /// The defaults (safety 0.9, factors in $[0.2, 10]$, $10^6$ steps) with the given tolerances.
    pub fn new(rtol: f64, atol: f64) -> Result<Self> {
        if !(rtol.is_finite() && atol.is_finite() && rtol >= 0.0 && atol >= 0.0 && rtol + atol > 0.0) {
            return Err(Error::invalid(
                "rtol/atol",
                format!("tolerances must be finite, >= 0 and not both 0, got rtol {rtol}, atol {atol}"),
            ));
        }
        Ok(Control { rtol, atol, safety: 0.9, fac_min: 0.2, fac_max: 10.0, max_steps: 1_000_000 })
    }
}

/// Why an adaptive integration stopped early. The state passed to [`Embedded::integrate`] holds
/// the last accepted (finite) state at time `t`.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// The step size fell below the resolution of `t` (finite-time blow-up or a non-finite
    /// right-hand side that persists at every step size).
    StepUnderflow {
        /// Time of the last accepted state.
        t: f64,
        /// Whether a non-finite stage value was seen in the last attempts.
        non_finite: bool,
    },
    /// [`Control::max_steps`] was reached.
    StepLimit {
        /// Time of the last accepted state.
        t: f64,
    },
}

/// The adaptive driver with preallocated stage buffers for a state of fixed length.
#[derive(Clone, Debug)]
pub struct Embedded {
    /// Lower triangle of $A$, row by row (row `i` has `i` entries).
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    /// $b - \hat b$.
    e: Vec<f64>,
    /// $b - \check b$ (Hairer's combined estimate), with its buffer.
    e3: Option<(Vec<f64>, Vec<f64>)>,
    c: Vec<f64>,
    err_order: usize,
    order: usize,
    fsal: bool,
    beta: f64,
    k: Vec<Vec<f64>>,
    ytmp: Vec<f64>,
    ynew: Vec<f64>,
    /// Whether `k[0]` holds $F(t, y)$ for the current state.
    k0_valid: bool,
    /// Step to try next (0: choose one).
    h: f64,
    err_prev: f64,
    /// Counters since construction.
    pub stats: Stats,
}

impl Embedded {
    /// A driver for `pair` and states of length `n`.
    pub fn new(pair: &EmbeddedPair<f64>, n: usize) -> Self {
        let s = pair.method.stages();
        let a = (0..s).map(|i| pair.method.a[i][..i].to_vec()).collect();
        let diff = |w: &[f64]| -> Vec<f64> { pair.method.b.iter().zip(w).map(|(x, y)| x - y).collect() };
        let (e, e3) = (diff(&pair.embedded), pair.embedded3.as_ref().map(|w| (diff(w), vec![0.0; n])));
        Embedded {
            a,
            b: pair.method.b.clone(),
            e,
            e3,
            c: pair.method.c.clone(),
            err_order: pair.embedded_order,
            order: pair.method.order,
            fsal: pair.fsal,
            beta: pair.pi_beta,
            k: vec![vec![0.0; n]; s],
            ytmp: vec![0.0; n],
            ynew: vec![0.0; n],
            k0_valid: false,
            h: 0.0,
            err_prev: 1e-4,
            stats: Stats::default(),
        }
    }

    /// Forgets the stored derivative and step (call after changing the state from outside).
    pub fn reset(&mut self) {
        self.k0_valid = false;
        self.h = 0.0;
        self.err_prev = 1e-4;
    }

    /// The step the controller would try next (0 before the first step).
    pub fn next_step(&self) -> f64 {
        self.h
    }

    fn rms_scaled(&self, v: &[f64], y: &[f64], ctl: &Control) -> f64 {
        let n = v.len().max(1);
        let s: f64 = v
            .iter()
            .zip(y)
            .map(|(vi, yi)| {
                let r = vi / (ctl.atol + ctl.rtol * yi.abs());
                r * r
            })
            .sum();
        (s / n as f64).sqrt()
    }

    /// Hairer's starting step (as in scipy's `select_initial_step`), one extra evaluation.
    fn initial_step<F: FnMut(f64, &[f64], &mut [f64])>(
        &mut self,
        f: &mut F,
        t: f64,
        y: &[f64],
        span: f64,
        ctl: &Control,
    ) -> f64 {
        let d0 = self.rms_scaled(y, y, ctl);
        let d1 = self.rms_scaled(&self.k[0], y, ctl);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 || !d1.is_finite() { 1e-6 } else { 0.01 * d0 / d1 };
        let h0 = h0.min(span);
        for ((yt, yi), ki) in self.ytmp.iter_mut().zip(y).zip(&self.k[0]) {
            *yt = yi + h0 * ki;
        }
        let (k1, rest) = self.k.split_first_mut().expect("at least one stage");
        let f1 = &mut rest[0];
        f(t + h0, &self.ytmp, f1);
        self.stats.rhs_evals += 1;
        let n = y.len().max(1);
        let d2 = (k1
            .iter()
            .zip(f1.iter())
            .zip(y)
            .map(|((a, b), yi)| {
                let r = (b - a) / (ctl.atol + ctl.rtol * yi.abs());
                r * r
            })
            .sum::<f64>()
            / n as f64)
            .sqrt()
            / h0;
        let m = d1.max(d2);
        let h1 = if !m.is_finite() || m <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / m).powf(1.0 / (self.order as f64 + 1.0))
        };
        (100.0 * h0).min(h1).min(span)
    }

    /// Integrates $y' = f(t, y)$ from `t0` to `t1 > t0`, overwriting `y` with the state at `t1`
    /// (exactly at `t1`). `f(t, y, dy)` writes $f(t,y)$ into `dy`. Consecutive calls continue
    /// from where the last one ended, reusing its step size and (FSAL) last derivative, so that
    /// integrating save time by save time costs no more than one long call; `accept` is called
    /// after every accepted step with the new time and state.
    ///
    /// On [`Stop`], `y` holds the last accepted (finite) state at the time in the `Stop`.
    pub fn integrate<F, A>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        ctl: &Control,
        mut accept: A,
    ) -> std::result::Result<(), Stop>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
        A: FnMut(f64, &[f64]),
    {
        let n = y.len();
        debug_assert_eq!(n, self.ytmp.len());
        let s = self.b.len();
        let mut t = t0;
        if t1 <= t0 {
            return Ok(());
        }
        if !self.k0_valid {
            f(t, y, &mut self.k[0]);
            self.stats.rhs_evals += 1;
            self.k0_valid = true;
        }
        if self.h <= 0.0 {
            self.h = self.initial_step(f, t, y, t1 - t0, ctl);
        }
        let mut h = self.h;
        let mut rejected_last = false;
        let mut non_finite = false;
        let expo = if self.e3.is_some() { 1.0 / self.order as f64 } else { 1.0 / (self.err_order as f64 + 1.0) }
            - 0.75 * self.beta;
        let mut steps = 0usize;
        loop {
            if steps >= ctl.max_steps {
                self.h = h;
                return Err(Stop::StepLimit { t });
            }
            steps += 1;
            let min_h = 16.0 * f64::EPSILON * t.abs().max(t1.abs()).max(f64::MIN_POSITIVE);
            if h.is_nan() || h < min_h {
                self.h = h;
                return Err(Stop::StepUnderflow { t, non_finite });
            }
            // Land exactly on t1 (stretching a step by up to 1% rather than leaving a sliver).
            let last = t + 1.01 * h >= t1;
            let h_step = if last { t1 - t } else { h };
            // Stages 2..s.
            for i in 1..s {
                self.ytmp.copy_from_slice(y);
                combine(&mut self.ytmp, h_step, &self.a[i], &self.k);
                let ti = if self.c[i] == 1.0 { t + h_step } else { t + self.c[i] * h_step };
                f(ti, &self.ytmp, &mut self.k[i]);
                self.stats.rhs_evals += 1;
            }
            // y_new = y + h Σ b_i k_i (for FSAL the last stage point is y_new already).
            if self.fsal {
                self.ynew.copy_from_slice(&self.ytmp);
            } else {
                self.ynew.copy_from_slice(y);
                combine(&mut self.ynew, h_step, &self.b, &self.k);
            }
            // Error: ytmp ← h Σ e_i k_i, then its scaled RMS.
            self.ytmp.fill(0.0);
            combine(&mut self.ytmp, h_step, &self.e, &self.k);
            let err = if let Some((e3, err3)) = self.e3.as_mut() {
                // Hairer's DOP853 estimate: both differences without the factor h, then
                // |h| E5 / sqrt(n (E5 + 0.01 E3)).
                err3.fill(0.0);
                combine(err3, 1.0, e3, &self.k);
                let (mut s5, mut s3) = (0.0, 0.0);
                for (((ev, e3v), yo), yn) in self.ytmp.iter().zip(err3.iter()).zip(y.iter()).zip(&self.ynew) {
                    let sk = ctl.atol + ctl.rtol * yo.abs().max(yn.abs());
                    let (r5, r3) = (ev / (h_step * sk), e3v / sk);
                    s5 += r5 * r5;
                    s3 += r3 * r3;
                }
                // A non-finite sum is a non-finite error (s5 / inf would accept the step).
                let den = s5 + 0.01 * s3;
                match den {
                    0.0 => 0.0,
                    d if d.is_finite() => h_step.abs() * s5 / (d * n.max(1) as f64).sqrt(),
                    _ => f64::NAN,
                }
            } else {
                let mut acc = 0.0;
                for ((ev, yo), yn) in self.ytmp.iter().zip(y.iter()).zip(&self.ynew) {
                    let r = ev / (ctl.atol + ctl.rtol * yo.abs().max(yn.abs()));
                    acc += r * r;
                }
                (acc / n.max(1) as f64).sqrt()
            };
            if !err.is_finite() {
                non_finite = true;
                self.stats.rejected += 1;
                h = h_step * ctl.fac_min;
                rejected_last = true;
                continue;
            }
            if err <= 1.0 {
                let err_c = err.max(1e-10);
                let mut fac = ctl.safety * err_c.powf(-expo) * self.err_prev.powf(self.beta);
                fac = fac.clamp(ctl.fac_min, if rejected_last { 1.0 } else { ctl.fac_max });
                self.err_prev = err_c;
                y.copy_from_slice(&self.ynew);
                t = if last { t1 } else { t + h_step };
                if self.fsal {
                    self.k.swap(0, s - 1);
                    self.k0_valid = true;
                } else {
                    f(t, y, &mut self.k[0]);
                    self.stats.rhs_evals += 1;
                }
                self.stats.accepted += 1;
                non_finite = false;
                rejected_last = false;
                accept(t, y);
                // The next step, from the step actually taken (a shortened final step keeps the
                // larger proposed step for the next call).
                h = (h_step * fac).max(if last { h } else { 0.0 });
                if last {
                    self.h = h;
                    return Ok(());
                }
            } else {
                let fac = (ctl.safety * err.powf(-expo)).clamp(ctl.fac_min, 1.0);
                h = h_step * fac;
                self.stats.rejected += 1;
                rejected_last = true;
            }
        }
    }
}

/// `out += Σ_j scale·w_j k_j` over the non-zero weights `w` (stage points, the new state and the
/// error vectors: one pass over `out` per non-zero weight).
fn combine(out: &mut [f64], scale: f64, w: &[f64], k: &[Vec<f64>]) {
    for (wj, kj) in w.iter().zip(k) {
        if *wj != 0.0 {
            let c = scale * wj;
            for (o, kv) in out.iter_mut().zip(kj) {
                *o += c * kv;
            }
        }
    }
}

/// [`crate::flow::solve`] for `Dp5`/`Dp8`: flattens the parameters
/// ([`crate::params::Params::flatten`] layout) and copies into reused [`crate::params::Params`]
/// buffers at each evaluation; the energy integral, when tracked, is one more state component
/// with derivative $\|F\|^2$.
pub struct EmbeddedRk {
    /// The pair.
    pub pair: EmbeddedPair<f64>,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl<S: Scalar> Integrate<S> for EmbeddedRk {
    fn integrate<F: VectorField<S>>(&mut self, field: &mut F, y0: &Params<S>, rec: &mut Recorder<'_, S>) -> Result<()> {
        integrate(field, y0, &self.pair, self.rtol, self.atol, rec)
    }
}

fn integrate<S: Scalar, F: VectorField<S>>(
    field: &mut F,
    y0: &Params<S>,
    pair: &EmbeddedPair<f64>,
    rtol: f64,
    atol: f64,
    rec: &mut Recorder<'_, S>,
) -> Result<()> {
    let proto = y0.proto();
    if std::any::TypeId::of::<S>() != std::any::TypeId::of::<f64>() {
        return Err(Error::Unsupported(format!(
            "{} runs in f64 only; for {} use gbs, rk8 or gauss_legendre",
            pair.name,
            proto.kind_name()
        )));
    }
    let ctl = Control::new(rtol, atol)?;
    let n = y0.len();
    let energy = rec.energy;
    let m = n + usize::from(energy);
    let mut yp = y0.clone();
    let mut dp = y0.zeros_like();
    let mut state: Vec<f64> = y0.iter().map(Scalar::to_f64).chain(energy.then_some(0.0)).collect();
    let mut solver = Embedded::new(pair, m);
    rec.adaptive()?;
    let mut t = 0.0;
    let mut p = y0.clone();
    let mut seen = y0.clone();
    while let Some(target) = rec.next_target(t) {
        let mut rhs = |t: f64, x: &[f64], dx: &mut [f64]| {
            // Block by block over plain slices (a copy for f64), not through the flattening iterator.
            let mut off = 0;
            for blk in &mut yp.blocks {
                let d = blk.as_mut_slice();
                let len = d.len();
                for (d, s) in d.iter_mut().zip(&x[off..off + len]) {
                    *d = proto.from_f64_like(*s);
                }
                off += len;
            }
            field.eval(&proto.from_f64_like(t), &yp, &mut dp);
            let mut off = 0;
            for blk in &dp.blocks {
                let s = blk.as_slice();
                for (d, s) in dx[off..off + s.len()].iter_mut().zip(s) {
                    *d = s.to_f64();
                }
                off += s.len();
            }
            if energy {
                dx[n] = dx[..n].iter().map(|v| v * v).sum();
            }
        };
        let mut k = solver.stats.accepted;
        let observe = |tk: f64, x: &[f64]| {
            k += 1;
            if rec.wants_step(k) {
                for (d, s) in seen.iter_mut().zip(x) {
                    *d = proto.from_f64_like(*s);
                }
                rec.observe_step(k, &proto.from_f64_like(tk), &seen, None);
            }
        };
        let res = solver.integrate(&mut rhs, t, target, &mut state, &ctl, observe);
        rec.stats = solver.stats;
        let stop_t = match &res {
            Ok(()) => target,
            Err(Stop::StepUnderflow { t, .. } | Stop::StepLimit { t }) => *t,
        };
        for (d, s) in p.iter_mut().zip(&state) {
            *d = proto.from_f64_like(*s);
        }
        let e = proto.from_f64_like(if energy { state[n] } else { 0.0 });
        let (ts, step) = (proto.from_f64_like(stop_t), solver.stats.accepted);
        match res {
            Ok(()) => {
                t = target;
                rec.save(&*field, &p, &e, step, &ts);
            }
            Err(Stop::StepLimit { .. }) => {
                rec.step_limit(&*field, &p, &e, step, &ts);
                return Ok(());
            }
            Err(Stop::StepUnderflow { non_finite, .. }) => {
                let reason = format!(
                    "{}: step size underflow{} (finite-time blow-up?)",
                    pair.name,
                    if non_finite { " after non-finite values of the vector field" } else { "" }
                );
                rec.step_underflow(&*field, &p, &e, step, &ts, solver.next_step(), reason);
                return Ok(());
            }
        }
    }
    Ok(())
}
