//! Dual numbers $a + b\varepsilon$, $\varepsilon^2 = 0$: forward-mode derivatives of any
//! computation written against [`Scalar`] (the model's gradient on duals gives exact
//! Hessian-vector products, see `crate::flow::fields::Hvp`).

use super::Scalar;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A dual number $a + b\varepsilon$ with $\varepsilon^2 = 0$ over a [`Scalar`] `S`: arithmetic on
/// it carries the directional derivative $b$ of every value along with the value $a$.
#[derive(Clone, Debug, PartialEq)]
pub struct Dual<S> {
    /// Value $a$.
    pub re: S,
    /// Derivative part $b$.
    pub eps: S,
}

impl<S: Scalar> Dual<S> {
    /// $a + b\varepsilon$.
    pub fn new(re: S, eps: S) -> Self {
        Dual { re, eps }
    }
    /// $a + 0\varepsilon$.
    pub fn constant(re: S) -> Self {
        let eps = re.zero_like();
        Dual { re, eps }
    }
}

impl<S: Scalar> fmt::Display for Dual<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.re, self.eps)
    }
}

impl<S: Scalar> PartialOrd for Dual<S> {
    /// Orders by the value part.
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

impl<S: Scalar> Add for Dual<S> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Dual { re: self.re + o.re, eps: self.eps + o.eps }
    }
}
impl<S: Scalar> Sub for Dual<S> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Dual { re: self.re - o.re, eps: self.eps - o.eps }
    }
}
impl<S: Scalar> Mul for Dual<S> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let mut eps = self.re.clone() * o.eps;
        eps.mul_add_assign(&self.eps, &o.re);
        Dual { re: self.re * o.re, eps }
    }
}
impl<S: Scalar> Div for Dual<S> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        // (a + bε)/(c + dε) = a/c + (bc − ad)/c² ε.
        let re = self.re.clone() / o.re.clone();
        let eps = (self.eps - re.clone() * o.eps) / o.re;
        Dual { re, eps }
    }
}
impl<S: Scalar> Neg for Dual<S> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual { re: -self.re, eps: -self.eps }
    }
}
impl<S: Scalar> AddAssign<&Dual<S>> for Dual<S> {
    fn add_assign(&mut self, o: &Self) {
        self.re += &o.re;
        self.eps += &o.eps;
    }
}
impl<S: Scalar> SubAssign<&Dual<S>> for Dual<S> {
    fn sub_assign(&mut self, o: &Self) {
        self.re -= &o.re;
        self.eps -= &o.eps;
    }
}
impl<S: Scalar> MulAssign<&Dual<S>> for Dual<S> {
    fn mul_assign(&mut self, o: &Self) {
        let v = self.clone() * o.clone();
        *self = v;
    }
}
impl<S: Scalar> DivAssign<&Dual<S>> for Dual<S> {
    fn div_assign(&mut self, o: &Self) {
        let v = self.clone() / o.clone();
        *self = v;
    }
}

impl<S: Scalar> Scalar for Dual<S> {
    fn zero_like(&self) -> Self {
        Dual::constant(self.re.zero_like())
    }
    fn from_f64_like(&self, x: f64) -> Self {
        Dual::constant(self.re.from_f64_like(x))
    }
    fn from_q_like(&self, q: &super::Q) -> Self {
        Dual::constant(self.re.from_q_like(q))
    }
    fn from_i64_like(&self, n: i64) -> Self {
        Dual::constant(self.re.from_i64_like(n))
    }
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        Dual::constant(self.re.ratio_like(num, den))
    }
    fn to_f64(&self) -> f64 {
        self.re.to_f64()
    }
    fn abs(&self) -> Self {
        if self.re < self.re.zero_like() {
            -self.clone()
        } else {
            self.clone()
        }
    }
    fn is_finite(&self) -> bool {
        self.re.is_finite() && self.eps.is_finite()
    }
    fn is_zero(&self) -> bool {
        self.re.is_zero() && self.eps.is_zero()
    }
    fn precision(&self) -> Option<u32> {
        self.re.precision()
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        self.re.mul_add_assign(&a.re, &b.re);
        self.eps.mul_add_assign(&a.re, &b.eps);
        self.eps.mul_add_assign(&a.eps, &b.re);
    }
    fn kind_name(&self) -> String {
        format!("dual<{}>", self.re.kind_name())
    }
    fn try_sqrt(&self) -> Option<Self> {
        let s = self.re.try_sqrt()?;
        if s.is_zero() {
            return self.eps.is_zero().then(|| self.clone());
        }
        let eps = self.eps.clone() / (s.clone() + s.clone());
        Some(Dual { re: s, eps })
    }
}
