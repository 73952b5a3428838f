//! Saxe–McClelland–Ganguli modes of deep linear networks (arXiv:1312.6120).
//!
//! For a whitened regression problem with input–output correlation $\Phi = U\,\mathrm{diag}(s)\,V^\top$
//! and an *aligned* initialization ($W_1 = R_1\,\mathrm{diag}(a_1)V^\top$, …,
//! $W_N = U\,\mathrm{diag}(a_N)R_{N-1}^\top$ with orthonormal $R_j$), gradient flow
//! $\tau\dot W_j = -\partial_{W_j}\tfrac12\|W_N\cdots W_1-\Phi\|_F^2$ keeps every mode decoupled: the
//! mode strength $u = a_1\cdots a_N$ of singular value $s$ obeys a scalar ODE. This module gives
//! that ODE's solution in three cases:
//!
//! * [`BalancedMode`], two layers with $a = b$: $\tau\dot u = 2u(s-u)$, the sigmoid
//!   $$u(t) = \frac{s}{1 + e^{-2st/\tau}\,(s/u_0 - 1)};$$
//! * [`UnbalancedMode`], two layers with $c = a^2 - b^2 \neq 0$ (conserved):
//!   $\tau\dot u = \sqrt{c^2+4u^2}\,(s-u)$, solved in $x = e^{\theta}$, $\theta = \operatorname{asinh}(2u/|c|)$,
//!   where it becomes a Riccati equation with constant roots $x_\pm$;
//! * [`DeepBalancedMode`], $N \ge 2$ layers with equal $a_j$: $\tau\dot u = N u^{2-2/N}(s-u)$, whose
//!   time-of-flight $t(u) = \frac{\tau}{N}\int_{u_0}^{u}\frac{dv}{v^{2-2/N}(s-v)}$ is a ${}_2F_1$
//!   function; it is evaluated by two convergent series and inverted by a safeguarded Newton
//!   iteration on the logit $q = \ln\frac{u}{s-u}$.
//!
//! In linflow's units, gradient flow of `Loss::target(Φ)` has $\tau = 1$. Every evaluation is
//! generic over [`Real`] (f64 or MPFR at the precision of the arguments).

use crate::error::{Error, Result};
use crate::scalar::Real;

pub(crate) fn precondition(reference: &str, message: impl Into<String>) -> Error {
    Error::Precondition { reference: reference.into(), message: message.into() }
}

/// $\operatorname{asinh}(x) = \operatorname{sign}(x)\ln(|x| + \sqrt{x^2+1})$ (odd by construction, so
/// negative arguments lose no accuracy).
pub fn asinh<S: Real>(x: &S) -> S {
    let ax = x.abs();
    let r = (ax.clone() + (ax.square() + x.one_like()).sqrt()).ln();
    if *x < x.zero_like() {
        -r
    } else {
        r
    }
}

/// $e^{\operatorname{asinh} z} = z + \sqrt{1+z^2}$, without cancellation for negative $z$.
pub(crate) fn exp_asinh<S: Real>(z: &S) -> S {
    let r = (z.square() + z.one_like()).sqrt();
    if *z < z.zero_like() {
        z.one_like() / (r - z.clone())
    } else {
        r + z.clone()
    }
}

/// Solution of the Riccati equation $\dot x = -\kappa (x - x_+)(x - x_-)$ with $x_- < 0 < x_+$,
/// written as $\frac{x - x_+}{x - x_-} = k e^{-rt}$ with $r = \kappa(x_+ - x_-)$:
/// $x(t) = \dfrac{x_+ - k e^{-rt} x_-}{1 - k e^{-rt}}$.
pub(crate) fn riccati_x<S: Real>(x0: &S, xp: &S, xm: &S, rate: &S, t: &S) -> S {
    let k = (x0.clone() - xp.clone()) / (x0.clone() - xm.clone());
    let e = (-(rate.clone() * t.clone())).exp();
    let ke = k * e;
    (xp.clone() - ke.clone() * xm.clone()) / (ke.one_like() - ke)
}

fn check_finite<S: Real>(reference: &str, name: &str, x: &S) -> Result<()> {
    if !x.is_finite() {
        return Err(precondition(reference, format!("{name} must be finite, got {x}")));
    }
    Ok(())
}

fn check_positive<S: Real>(reference: &str, name: &str, x: &S) -> Result<()> {
    check_finite(reference, name, x)?;
    if *x <= x.zero_like() {
        return Err(precondition(reference, format!("{name} must be > 0, got {x}")));
    }
    Ok(())
}

fn check_time<S: Real>(reference: &str, t: &S) -> Result<()> {
    check_finite(reference, "t", t)?;
    if *t < t.zero_like() {
        return Err(precondition(reference, format!("the closed form is stated for t >= 0, got {t}")));
    }
    Ok(())
}

/// Two-layer balanced mode ($a = b$, so $u = a^2 > 0$): $\tau\dot u = 2u(s-u)$,
/// $u(t) = s/(1 + e^{-2st/\tau}(s/u_0 - 1))$ (Saxe et al. eqs. (10)–(12)).
#[derive(Clone, Debug)]
pub struct BalancedMode<S> {
    s: S,
    u0: S,
    tau: S,
}

impl<S: Real> BalancedMode<S> {
    const NAME: &'static str = "Saxe balanced two-layer mode";

    /// Singular value `s > 0`, initial strength `u0 > 0`, time constant `tau > 0`.
    pub fn new(s: S, u0: S, tau: S) -> Result<Self> {
        check_positive(Self::NAME, "s (singular value)", &s)?;
        check_positive(Self::NAME, "u0 (initial mode strength a0*b0 = a0^2; balanced modes are positive)", &u0)?;
        check_positive(Self::NAME, "tau", &tau)?;
        Ok(BalancedMode { s, u0, tau })
    }

    /// Mode strength $u(t)$, $t \ge 0$.
    pub fn u(&self, t: &S) -> Result<S> {
        check_time(Self::NAME, t)?;
        let two = t.from_i64_like(2);
        let e = (-(two * self.s.clone() * t.clone() / self.tau.clone())).exp();
        let one = t.one_like();
        Ok(self.s.clone() / (one.clone() + e * (self.s.clone() / self.u0.clone() - one)))
    }

    /// Each layer's mode coefficient $a(t) = b(t) = \sqrt{u(t)}$.
    pub fn layer(&self, t: &S) -> Result<S> {
        Ok(self.u(t)?.sqrt())
    }

    /// Time at which the mode reaches `uf` (strictly between `u0` and `s`):
    /// $t = \frac{\tau}{2s}\ln\frac{u_f(s-u_0)}{u_0(s-u_f)}$.
    pub fn time_to(&self, uf: &S) -> Result<S> {
        check_finite(Self::NAME, "uf", uf)?;
        let (lo, hi) = if self.u0 < self.s { (&self.u0, &self.s) } else { (&self.s, &self.u0) };
        if !(uf > lo && uf < hi) {
            return Err(precondition(Self::NAME, format!("uf = {uf} must lie strictly between u0 and s")));
        }
        let two = uf.from_i64_like(2);
        let ratio = uf.clone() * (self.s.clone() - self.u0.clone()) / (self.u0.clone() * (self.s.clone() - uf.clone()));
        Ok(self.tau.clone() / (two * self.s.clone()) * ratio.ln())
    }
}

/// Two-layer unbalanced mode with conserved $c = a^2 - b^2 \ne 0$:
/// $\tau\dot u = \sqrt{c^2 + 4u^2}\,(s-u)$, $\tau\dot a = b(s - ab)$, $\tau\dot b = a(s-ab)$.
///
/// With $\theta = \operatorname{asinh}(2u/|c|)$ and $x = e^\theta$,
/// $\tau\dot x = -\tfrac{|c|}{2}(x - x_+)(x - x_-)$, $x_\pm = 2s/|c| \pm \sqrt{4s^2/c^2 + 1}$, so
/// $x(t) = (x_+ - k e^{-rt}x_-)/(1 - ke^{-rt})$ with $r = \sqrt{4s^2 + c^2}/\tau$ and
/// $k = (x_0 - x_+)/(x_0 - x_-)$; then $u = |c|(x - 1/x)/4$. The layer of larger magnitude keeps its
/// sign and has square $(|c| + \sqrt{c^2 + 4u^2})/2$; the other is $u$ divided by it.
#[derive(Clone, Debug)]
pub struct UnbalancedMode<S> {
    c: S,
    a0: S,
    b0: S,
    x0: S,
    xp: S,
    xm: S,
    rate: S,
}

impl<S: Real> UnbalancedMode<S> {
    const NAME: &'static str = "Saxe unbalanced two-layer mode";

    /// Singular value `s > 0`, initial layer coefficients `a0` (first layer) and `b0` (second
    /// layer) with `a0² ≠ b0²`, time constant `tau > 0`.
    pub fn new(s: S, a0: S, b0: S, tau: S) -> Result<Self> {
        check_positive(Self::NAME, "s (singular value)", &s)?;
        Self::with_target(s, a0, b0, tau)
    }

    /// As [`UnbalancedMode::new`] but with a target `s` of any sign (the per-coordinate dynamics of
    /// a diagonal network, where `s` is the coordinate's least-squares target).
    pub(crate) fn with_target(s: S, a0: S, b0: S, tau: S) -> Result<Self> {
        check_finite(Self::NAME, "s", &s)?;
        check_finite(Self::NAME, "a0", &a0)?;
        check_finite(Self::NAME, "b0", &b0)?;
        check_positive(Self::NAME, "tau", &tau)?;
        let c = a0.square() - b0.square();
        if c.is_zero() {
            return Err(precondition(Self::NAME, "a0^2 - b0^2 must be nonzero (use BalancedMode for a balanced mode)"));
        }
        let ac = c.abs();
        let u0 = a0.clone() * b0.clone();
        let two = s.from_i64_like(2);
        let x0 = exp_asinh(&(two.clone() * u0 / ac.clone()));
        // x± are the roots of x² − 2q x − 1 with q = 2s/|c|: x₊ = e^{asinh q}, x₊x₋ = −1.
        let xp = exp_asinh(&(two * s.clone() / ac));
        let xm = -(s.one_like() / xp.clone());
        let rate = (s.from_i64_like(4) * s.square() + c.square()).sqrt() / tau;
        Ok(UnbalancedMode { c, a0, b0, x0, xp, xm, rate })
    }

    /// The conserved imbalance $c = a^2 - b^2$.
    pub fn imbalance(&self) -> &S {
        &self.c
    }

    /// The asymptotic rate $r = 2\sqrt{s^2 + c^2/4}/\tau$ (faster than the balanced $2s/\tau$).
    pub fn rate(&self) -> &S {
        &self.rate
    }

    /// Mode strength $u(t) = a(t)b(t)$, $t \ge 0$.
    pub fn u(&self, t: &S) -> Result<S> {
        check_time(Self::NAME, t)?;
        let x = riccati_x(&self.x0, &self.xp, &self.xm, &self.rate, t);
        let four = t.from_i64_like(4);
        Ok(self.c.abs() * (x.clone() - x.one_like() / x) / four)
    }

    /// Layer coefficients $(a(t), b(t))$, $t \ge 0$.
    pub fn layers(&self, t: &S) -> Result<(S, S)> {
        let u = self.u(t)?;
        let two = u.from_i64_like(2);
        let big2 = (self.c.abs() + (self.c.square() + two.clone() * two.clone() * u.square()).sqrt()) / two;
        let zero = u.zero_like();
        if self.c > zero {
            let a = if self.a0 < zero { -big2.sqrt() } else { big2.sqrt() };
            let b = u / a.clone();
            Ok((a, b))
        } else {
            let b = if self.b0 < zero { -big2.sqrt() } else { big2.sqrt() };
            let a = u / b.clone();
            Ok((a, b))
        }
    }
}

/// Deep balanced mode: $N \ge 2$ layers with equal coefficients $a_j = u^{1/N}$,
/// $\tau\dot u = N u^{2-2/N}(s-u)$, $0 < u_0 < s$ (Saxe et al. eq. (15)).
///
/// The time of flight is $t(u) = \frac{\tau}{N}\bigl(G(u) - G(u_0)\bigr)$ with $G' = 1/(v^{\alpha}(s-v))$,
/// $\alpha = 2 - 2/N$. With $z = v/s$:
/// * for $z \le 1/2$, $G(v) = \frac{v^{1-\alpha}}{s}\sum_{k\ge0}\frac{z^k}{k+1-\alpha}$ (this is
///   $\frac{v^{1-\alpha}}{s(1-\alpha)}{}_2F_1(1, 1-\alpha; 2-\alpha; z)$; for $N = 2$ the $k = 0$ term is
///   $\ln v$);
/// * for $z > 1/2$, with $y = 1 - z$, $G(v) = -s^{-\alpha}\bigl(\ln y + \sum_{m\ge1}\frac{(\alpha)_m}{m!\,m}y^m\bigr) + K$,
///   $K$ chosen so both agree at $z = 1/2$.
///
/// Both series converge at least like $2^{-k}$. $u(t)$ is found by Newton's method on the logit
/// $q = \ln\frac{u}{s-u}$, where $dt/dq = \tau u^{1-\alpha}/(Ns)$, safeguarded by bisection.
#[derive(Clone, Debug)]
pub struct DeepBalancedMode<S> {
    n: usize,
    s: S,
    u0: S,
    tau: S,
    alpha: S,
    /// $G$ at $u_0$ (so $t(u) = \frac{\tau}{N}(G(u) - G_0)$).
    g0: S,
    /// Joining constant of the upper branch.
    k_join: S,
}

impl<S: Real> DeepBalancedMode<S> {
    const NAME: &'static str = "Saxe deep balanced mode";

    /// Depth `n >= 2`, singular value `s > 0`, initial strength `0 < u0 < s`, `tau > 0`.
    pub fn new(n: usize, s: S, u0: S, tau: S) -> Result<Self> {
        if n < 2 {
            return Err(precondition(Self::NAME, format!("depth N must be >= 2, got {n}")));
        }
        check_positive(Self::NAME, "s (singular value)", &s)?;
        check_positive(Self::NAME, "u0", &u0)?;
        check_positive(Self::NAME, "tau", &tau)?;
        if u0 >= s {
            return Err(precondition(
                Self::NAME,
                format!("needs 0 < u0 < s (learning from below), got u0 = {u0}, s = {s}"),
            ));
        }
        let alpha = s.from_i64_like(2) - s.ratio_like(2, n as i64);
        let mut m =
            DeepBalancedMode { n, s: s.clone(), u0: u0.clone(), tau, alpha, g0: s.zero_like(), k_join: s.zero_like() };
        let half = s.ratio_like(1, 2);
        let (zh, yh) = (half.clone(), half.clone());
        m.k_join = m.g_lower(&(s.clone() * half), &zh) - m.g_upper(&yh);
        let z0 = u0.clone() / s.clone();
        let y0 = (s.clone() - u0.clone()) / s;
        m.g0 = m.g(&u0, &z0, &y0);
        Ok(m)
    }

    fn max_terms(&self) -> usize {
        4 * self.s.precision().unwrap_or(64) as usize + 40
    }

    /// Lower series at `v = s z`.
    fn g_lower(&self, v: &S, z: &S) -> S {
        let eps = v.epsilon_like();
        let one = v.one_like();
        let b = one.clone() - self.alpha.clone(); // 1 − α = 2/N − 1
        let mut sum = v.zero_like();
        let mut zk = one.clone();
        let log_case = self.n == 2;
        for k in 0..self.max_terms() {
            let denom = b.clone() + v.from_i64_like(k as i64);
            if !(k == 0 && log_case) {
                let term = zk.clone() / denom;
                sum += &term;
                if k > 2 && term.abs() <= eps.clone() * sum.abs() {
                    break;
                }
            }
            zk *= z;
        }
        if log_case {
            (v.ln() + sum) / self.s.clone()
        } else {
            v.powf(&b) / self.s.clone() * sum
        }
    }

    /// Upper series in `y = 1 − v/s` (without the joining constant).
    fn g_upper(&self, y: &S) -> S {
        let eps = y.epsilon_like();
        let mut sum = y.zero_like();
        let mut c = y.one_like(); // (α)_m / m!
        let mut ym = y.one_like();
        for m in 1..self.max_terms() {
            let mf = y.from_i64_like(m as i64);
            c = c * (self.alpha.clone() + y.from_i64_like(m as i64 - 1)) / mf.clone();
            ym *= y;
            let term = c.clone() * ym.clone() / mf;
            sum += &term;
            if m > 2 && term.abs() <= eps.clone() * (sum.abs() + y.ln().abs()) {
                break;
            }
        }
        -(y.ln() + sum) / self.s.powf(&self.alpha)
    }

    fn g(&self, v: &S, z: &S, y: &S) -> S {
        if *z <= z.ratio_like(1, 2) {
            self.g_lower(v, z)
        } else {
            self.g_upper(y) + self.k_join.clone()
        }
    }

    fn time_from(&self, v: &S, z: &S, y: &S) -> S {
        self.tau.clone() / v.from_i64_like(self.n as i64) * (self.g(v, z, y) - self.g0.clone())
    }

    /// Time of flight $t(u)$ from $u_0$ to `u` (`u0 <= u < s`).
    pub fn time_of(&self, u: &S) -> Result<S> {
        check_finite(Self::NAME, "u", u)?;
        if *u < self.u0 || *u >= self.s {
            return Err(precondition(Self::NAME, format!("time_of needs u0 <= u < s, got u = {u}")));
        }
        let z = u.clone() / self.s.clone();
        let y = (self.s.clone() - u.clone()) / self.s.clone();
        Ok(self.time_from(u, &z, &y))
    }

    /// `(u, t(u))` at logit `q`, with `u`, `z` and `y` from `q` without cancellation.
    fn at_logit(&self, q: &S) -> (S, S) {
        let one = q.one_like();
        let e = (-q.clone()).exp();
        let z = one.clone() / (one.clone() + e.clone());
        let y = e.clone() / (one + e);
        let v = self.s.clone() * z.clone();
        let t = self.time_from(&v, &z, &y);
        (v, t)
    }

    /// Mode strength $u(t)$, $t \ge 0$, by inverting $t(u)$.
    pub fn u(&self, t: &S) -> Result<S> {
        check_time(Self::NAME, t)?;
        let q0 = (self.u0.clone() / (self.s.clone() - self.u0.clone())).ln();
        if t.is_zero() {
            return Ok(self.u0.clone());
        }
        let nn = t.from_i64_like(self.n as i64);
        let b = t.one_like() - self.alpha.clone();
        // Bracket [lo, hi] with t(lo) <= t <= t(hi).
        let mut lo = q0.clone();
        let mut step = t.one_like();
        let mut hi = q0.clone() + step.clone();
        let mut guard = 0;
        while self.at_logit(&hi).1 < *t {
            lo = hi.clone();
            step = step.clone() + step;
            hi = hi + step.clone();
            guard += 1;
            if guard > 200 {
                return Err(Error::Other(format!("{}: could not bracket t = {t}", Self::NAME)));
            }
        }
        let eps = t.epsilon_like();
        let two = t.from_i64_like(2);
        let mut q = (lo.clone() + hi.clone()) / two.clone();
        for _ in 0..400 {
            let (v, tq) = self.at_logit(&q);
            let f = tq - t.clone();
            if f.is_zero() {
                return Ok(v);
            }
            if f < f.zero_like() {
                lo = q.clone();
            } else {
                hi = q.clone();
            }
            let dtdq = self.tau.clone() * v.powf(&b) / (nn.clone() * self.s.clone());
            let mut next = q.clone() - f / dtdq;
            if !(next > lo && next < hi) {
                next = (lo.clone() + hi.clone()) / two.clone();
            }
            let dq = (next.clone() - q.clone()).abs();
            q = next;
            let scale = q.abs() + q.one_like();
            if dq <= eps.clone() * scale.clone() * two.clone() || hi.clone() - lo.clone() <= eps.clone() * scale {
                return Ok(self.at_logit(&q).0);
            }
        }
        Ok(self.at_logit(&q).0)
    }

    /// Each layer's coefficient $a_j(t) = u(t)^{1/N}$.
    pub fn layer(&self, t: &S) -> Result<S> {
        let u = self.u(t)?;
        Ok(u.powf(&u.ratio_like(1, self.n as i64)))
    }
}
