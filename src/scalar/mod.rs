//! Number types: one trait, three implementations.
//!
//! Everything in linflow (models, gradients, optimizers, integrators and invariants) is written once
//! against [`Scalar`] and runs on
//!
//! * `f64`, for speed;
//! * [`Mp`] (`rug::Float`, MPFR), whose precision is carried by each value and chosen per run;
//! * [`Q`] (`rug::Rational`), exact, so that a per-step identity is checked with zero tolerance.
//!
//! There is no global default precision: new values are created *like* an existing one
//! ([`Scalar::zero_like`], [`Scalar::from_f64_like`], [`Scalar::ratio_like`]), which copies its
//! precision. Operations that need a square root, exponential or logarithm are in [`Real`], which
//! `f64` and [`Mp`] implement and [`Q`] does not.
//!
//! ```
//! use linflow::scalar::{Mp, Q, Real, Scalar};
//! let x = Mp::with_val(256, 2);
//! let r = x.sqrt();
//! assert_eq!(r.prec(), 256);
//! let third = Q::from(1).ratio_like(1, 3);
//! assert_eq!(third.clone() * Q::from(3), Q::from(1));
//! ```

pub mod dual;

mod thin;

pub use self::dual::Dual;

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// MPFR floating point number; its precision (in bits) is part of the value.
pub type Mp = rug::Float;
/// Exact rational number.
pub type Q = rug::Rational;

/// A field of numbers that linflow computes in: `f64`, [`Mp`] or [`Q`].
pub trait Scalar:
    Clone
    + Debug
    + Display
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + for<'a> AddAssign<&'a Self>
    + for<'a> SubAssign<&'a Self>
    + for<'a> MulAssign<&'a Self>
    + for<'a> DivAssign<&'a Self>
{
    /// Zero with the precision of `self`.
    fn zero_like(&self) -> Self;
    /// One with the precision of `self`.
    fn one_like(&self) -> Self {
        self.from_i64_like(1)
    }
    /// `x` (rounded to the precision of `self`; exact for [`Q`]).
    // `self` supplies the precision: the constructor is "like" an existing value.
    #[allow(clippy::wrong_self_convention)]
    fn from_f64_like(&self, x: f64) -> Self;
    /// The integer `n` with the precision of `self`.
    #[allow(clippy::wrong_self_convention)]
    fn from_i64_like(&self, n: i64) -> Self;
    /// The rational `q` (rounded to the precision of `self`; exact for [`Q`]).
    #[allow(clippy::wrong_self_convention)]
    fn from_q_like(&self, q: &Q) -> Self;
    /// `num/den` with the precision of `self` (exact for [`Q`]).
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        self.from_i64_like(num) / self.from_i64_like(den)
    }
    /// Nearest `f64`.
    fn to_f64(&self) -> f64;
    /// Absolute value.
    fn abs(&self) -> Self;
    /// Whether the value is finite (always true for [`Q`]).
    fn is_finite(&self) -> bool;
    /// Whether the value is exactly zero.
    fn is_zero(&self) -> bool;
    /// Precision in bits: 53 for `f64`, the value's precision for [`Mp`], `None` for exact [`Q`].
    fn precision(&self) -> Option<u32>;
    /// `self += a * b`.
    fn mul_add_assign(&mut self, a: &Self, b: &Self);
    /// `self * self`.
    fn square(&self) -> Self {
        self.clone() * self.clone()
    }
    /// A short name of the number type, for reports.
    fn kind_name(&self) -> String;
    /// $\log_2|x|$ in `f64`, without overflow or underflow for values outside `f64`'s range
    /// (`-inf` for zero).
    fn log2_abs(&self) -> f64 {
        self.to_f64().abs().log2()
    }
    /// Changes the precision of this value to `bits`, rounding it (only [`Mp`] has a per-value
    /// precision; a no-op otherwise). Used to carry high-order Taylor coefficients in fewer bits.
    fn set_precision(&mut self, _bits: u32) {}
    /// `self ← src`, rounded to `self`'s own precision (`clone_from` takes `src`'s precision).
    fn assign_round(&mut self, src: &Self) {
        self.clone_from(src);
    }
    /// `self ← a·b`, rounded to `self`'s own precision.
    fn mul_round(&mut self, a: &Self, b: &Self) {
        self.clone_from(a);
        *self *= b;
    }

    /// Square root when it exists in the number type: always for `f64` and [`Mp`] (non-negative
    /// arguments), for [`Q`] only for squares of rationals.
    fn try_sqrt(&self) -> Option<Self>;

    /// Matrix product kernel: `c = op(a)·op(b)` (or `c += …` when `accumulate`), `c` row-major
    /// `m×n`, `a` read at `a[i*rsa + l*csa]` and `b` at `b[l*rsb + j*csb]`, `l < k`.
    /// Strides express transposes. `f64` uses a blocked SIMD kernel; other types a plain loop.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        (rsa, csa): (usize, usize),
        b: &[Self],
        (rsb, csb): (usize, usize),
        accumulate: bool,
        c: &mut [Self],
    ) {
        for i in 0..m {
            for j in 0..n {
                let cij = &mut c[i * n + j];
                if !accumulate {
                    *cij = cij.zero_like();
                }
                for l in 0..k {
                    cij.mul_add_assign(&a[i * rsa + l * csa], &b[l * rsb + j * csb]);
                }
            }
        }
    }
}

/// A [`Scalar`] with the elementary functions (not exact rationals).
pub trait Real: Scalar {
    /// Square root.
    fn sqrt(&self) -> Self;
    /// Exponential.
    fn exp(&self) -> Self;
    /// Natural logarithm.
    fn ln(&self) -> Self;
    /// `self^p`.
    fn powf(&self, p: &Self) -> Self;
    /// Machine epsilon of the value's precision, 2^(1-prec).
    fn epsilon_like(&self) -> Self;
}

impl Scalar for f64 {
    #[inline]
    fn zero_like(&self) -> Self {
        0.0
    }
    #[inline]
    fn one_like(&self) -> Self {
        1.0
    }
    #[inline]
    fn from_f64_like(&self, x: f64) -> Self {
        x
    }
    #[inline]
    fn from_i64_like(&self, n: i64) -> Self {
        n as f64
    }
    fn from_q_like(&self, q: &Q) -> Self {
        q.to_f64()
    }
    #[inline]
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        num as f64 / den as f64
    }
    #[inline]
    fn to_f64(&self) -> f64 {
        *self
    }
    #[inline]
    fn abs(&self) -> Self {
        f64::abs(*self)
    }
    #[inline]
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
    #[inline]
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    fn precision(&self) -> Option<u32> {
        Some(53)
    }
    #[inline]
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        *self += a * b;
    }
    #[inline]
    fn square(&self) -> Self {
        self * self
    }
    fn kind_name(&self) -> String {
        "f64".into()
    }
    fn try_sqrt(&self) -> Option<Self> {
        (*self >= 0.0).then(|| self.sqrt())
    }

    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        (rsa, csa): (usize, usize),
        b: &[Self],
        (rsb, csb): (usize, usize),
        accumulate: bool,
        c: &mut [Self],
    ) {
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                c[..m * n].fill(0.0);
            }
            return;
        }
        assert!(a.len() > (m - 1) * rsa + (k - 1) * csa && b.len() > (k - 1) * rsb + (n - 1) * csb);
        assert!(c.len() >= m * n);
        if m == 1 || n == 1 || k == 1 || m.max(n).max(k) <= thin::SMALL {
            thin::gemm(m, k, n, a, (rsa, csa), b, (rsb, csb), accumulate, c);
            return;
        }
        // One thread per product: on the 2-core machine measured, splitting the rows of C over
        // two rayon threads ran at 26-32 Gflop/s against 46-49 on one, for sides 96-256 (each
        // half packs its operands again, and a thread waits for the other); parallelism is
        // across independent runs instead (16 W5 runs: 2.07 times faster on 2 threads).
        let beta = if accumulate { 1.0 } else { 0.0 };
        // SAFETY: the asserts above bound every index the kernel reads or writes.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa as isize,
                csa as isize,
                b.as_ptr(),
                rsb as isize,
                csb as isize,
                beta,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

impl Real for f64 {
    fn sqrt(&self) -> Self {
        f64::sqrt(*self)
    }
    fn exp(&self) -> Self {
        f64::exp(*self)
    }
    fn ln(&self) -> Self {
        f64::ln(*self)
    }
    fn powf(&self, p: &Self) -> Self {
        f64::powf(*self, *p)
    }
    fn epsilon_like(&self) -> Self {
        f64::EPSILON
    }
}

impl Scalar for Mp {
    fn zero_like(&self) -> Self {
        Mp::new(self.prec())
    }
    fn from_f64_like(&self, x: f64) -> Self {
        Mp::with_val(self.prec(), x)
    }
    fn from_q_like(&self, q: &Q) -> Self {
        Mp::with_val(self.prec(), q)
    }
    fn from_i64_like(&self, n: i64) -> Self {
        Mp::with_val(self.prec(), n)
    }
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        Mp::with_val(self.prec(), Q::from((num, den)))
    }
    fn to_f64(&self) -> f64 {
        Mp::to_f64(self)
    }
    fn abs(&self) -> Self {
        Mp::abs(self.clone())
    }
    fn is_finite(&self) -> bool {
        Mp::is_finite(self)
    }
    fn is_zero(&self) -> bool {
        Mp::is_zero(self)
    }
    fn precision(&self) -> Option<u32> {
        Some(self.prec())
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        // One rounding for the product, one for the sum, as in f64 without FMA.
        *self += a * b;
    }
    fn square(&self) -> Self {
        Mp::with_val(self.prec(), self.square_ref())
    }
    fn kind_name(&self) -> String {
        format!("mpfr{}", self.prec())
    }
    fn set_precision(&mut self, bits: u32) {
        if self.prec() != bits {
            self.set_prec(bits);
        }
    }
    fn assign_round(&mut self, src: &Self) {
        rug::Assign::assign(self, src);
    }
    fn mul_round(&mut self, a: &Self, b: &Self) {
        rug::Assign::assign(self, a * b);
    }
    fn log2_abs(&self) -> f64 {
        match self.to_f64_exp() {
            (m, _) if m == 0.0 || !m.is_finite() => m.abs().log2(),
            (m, e) => m.abs().log2() + f64::from(e),
        }
    }
    fn try_sqrt(&self) -> Option<Self> {
        (self.cmp0() != Some(std::cmp::Ordering::Less)).then(|| Real::sqrt(self))
    }
}

impl Real for Mp {
    fn sqrt(&self) -> Self {
        Mp::with_val(self.prec(), self.sqrt_ref())
    }
    fn exp(&self) -> Self {
        Mp::with_val(self.prec(), self.exp_ref())
    }
    fn ln(&self) -> Self {
        Mp::with_val(self.prec(), self.ln_ref())
    }
    fn powf(&self, p: &Self) -> Self {
        Mp::with_val(self.prec(), rug::ops::Pow::pow(self, p))
    }
    fn epsilon_like(&self) -> Self {
        let one = Mp::with_val(self.prec(), 1);
        one >> (self.prec() - 1)
    }
}

impl Scalar for Q {
    fn zero_like(&self) -> Self {
        Q::new()
    }
    fn from_f64_like(&self, x: f64) -> Self {
        Q::from_f64(x).unwrap_or_default()
    }
    fn from_q_like(&self, q: &Q) -> Self {
        q.clone()
    }
    fn from_i64_like(&self, n: i64) -> Self {
        Q::from(n)
    }
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        Q::from((num, den))
    }
    fn to_f64(&self) -> f64 {
        Q::to_f64(self)
    }
    fn abs(&self) -> Self {
        Q::abs(self.clone())
    }
    fn is_finite(&self) -> bool {
        true
    }
    fn is_zero(&self) -> bool {
        self.cmp0() == std::cmp::Ordering::Equal
    }
    fn precision(&self) -> Option<u32> {
        None
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        *self += Q::from(a * b);
    }
    fn kind_name(&self) -> String {
        "rational".into()
    }
    fn try_sqrt(&self) -> Option<Self> {
        if self.cmp0() == std::cmp::Ordering::Less {
            return None;
        }
        let (n, d) = (self.numer(), self.denom());
        let (rn, rd) = (n.clone().sqrt(), d.clone().sqrt());
        (rn.clone().square() == *n && rd.clone().square() == *d).then(|| Q::from((rn, rd)))
    }
}

/// The number type of a run, chosen at run time (experiment files, `linflow check --bits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE double.
    F64,
    /// MPFR with this many bits (at least 2).
    Bits(u32),
    /// Exact rationals.
    Exact,
}

impl Precision {
    /// A prototype value of `Mp` at this precision.
    pub fn mp(bits: u32) -> Mp {
        Mp::new(bits)
    }
}

impl Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precision::F64 => write!(f, "f64"),
            Precision::Bits(b) => write!(f, "mpfr{b}"),
            Precision::Exact => write!(f, "exact"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_matches_f64_at_53_bits() {
        assert_eq!(Mp::with_val(53, 1).epsilon_like().to_f64(), f64::EPSILON);
    }

    #[test]
    fn constants_carry_precision() {
        let p = Mp::new(300);
        assert_eq!(p.ratio_like(1, 3).prec(), 300);
        assert_eq!(p.zero_like().prec(), 300);
    }
}
