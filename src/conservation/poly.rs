//! Multivariate polynomials with rational coefficients, and polynomial vector fields.
//!
//! A [`Poly`] is a sparse sum of terms $c\,x^\alpha$ with $c \in \mathbb{Q}$; a [`PolyField`]
//! is a vector of them, one per coordinate of $\mathbb{R}^D$. The Lie bracket of fields is
//! $[X, Y] = (DY)X - (DX)Y$, i.e. $[X,Y]_k = X(Y_k) - Y(X_k)$ with $X(p) = \sum_j X_j\,\partial_j p$.

use crate::scalar::Q;
use std::collections::{BTreeMap, HashMap};

/// A monomial $\prod_v x_v^{e_v}$: `(variable, exponent)` pairs sorted by variable, exponents ≥ 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Monomial(Vec<(u32, u32)>);

impl Monomial {
    /// The monomial $1$.
    pub fn one() -> Self {
        Monomial(Vec::new())
    }
    /// The variable $x_v$.
    pub fn var(v: usize) -> Self {
        Monomial(vec![(v as u32, 1)])
    }
    /// `(variable, exponent)` pairs, sorted by variable.
    pub fn factors(&self) -> &[(u32, u32)] {
        &self.0
    }
    /// Total degree.
    pub fn degree(&self) -> u32 {
        self.0.iter().map(|f| f.1).sum()
    }
    /// The product of two monomials.
    pub fn mul(&self, other: &Monomial) -> Monomial {
        let (a, b) = (&self.0, &other.0);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => {
                    out.push(a[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(b[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push((a[i].0, a[i].1 + b[j].1));
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Monomial(out)
    }
    /// The monomial with the exponent of the `k`-th factor lowered by one (the factor's exponent is
    /// returned beside it): $\partial_v x^\alpha = e_v\,x^{\alpha - e_v}$.
    fn lower(&self, k: usize) -> (u32, Monomial) {
        let mut f = self.0.clone();
        let e = f[k].1;
        if e == 1 {
            f.remove(k);
        } else {
            f[k].1 -= 1;
        }
        (e, Monomial(f))
    }
    /// Value at `x`.
    pub fn eval(&self, x: &[Q]) -> Q {
        let mut acc = Q::from(1);
        for &(v, e) in &self.0 {
            let p = Q::from(rug::ops::Pow::pow(&x[v as usize], e));
            acc *= p;
        }
        acc
    }
}

/// A polynomial with rational coefficients (no zero coefficient is stored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Poly {
    terms: BTreeMap<Monomial, Q>,
}

impl Poly {
    /// The zero polynomial.
    pub fn zero() -> Self {
        Poly::default()
    }
    /// The constant `c`.
    pub fn constant(c: Q) -> Self {
        Poly::term(c, Monomial::one())
    }
    /// The variable $x_v$.
    pub fn var(v: usize) -> Self {
        Poly::term(Q::from(1), Monomial::var(v))
    }
    /// The single term $c\,m$.
    pub fn term(c: Q, m: Monomial) -> Self {
        let mut terms = BTreeMap::new();
        if c != 0 {
            terms.insert(m, c);
        }
        Poly { terms }
    }
    /// The polynomial with these terms (like monomials are added, zeros dropped).
    pub fn from_terms(it: impl IntoIterator<Item = (Monomial, Q)>) -> Self {
        let mut terms: BTreeMap<Monomial, Q> = BTreeMap::new();
        for (m, c) in it {
            *terms.entry(m).or_default() += c;
        }
        terms.retain(|_, c| *c != 0);
        Poly { terms }
    }
    /// Its terms, ordered by monomial.
    pub fn terms(&self) -> impl Iterator<Item = (&Monomial, &Q)> {
        self.terms.iter()
    }
    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }
    /// Whether it has no terms (the zero polynomial).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
    /// Whether it is the zero polynomial.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }
    /// Total degree (0 for the zero polynomial).
    pub fn degree(&self) -> u32 {
        self.terms.keys().map(Monomial::degree).max().unwrap_or(0)
    }
    /// Largest variable index that occurs, plus one.
    pub fn num_vars(&self) -> usize {
        self.terms.keys().filter_map(|m| m.0.last().map(|f| f.0 as usize + 1)).max().unwrap_or(0)
    }
    /// `self + other`.
    pub fn add(&self, other: &Poly) -> Poly {
        self.combine(other, &Q::from(1))
    }
    /// `self − other`.
    pub fn sub(&self, other: &Poly) -> Poly {
        self.combine(other, &Q::from(-1))
    }
    /// `self + s·other`.
    fn combine(&self, other: &Poly, s: &Q) -> Poly {
        let mut terms = self.terms.clone();
        for (m, c) in &other.terms {
            let e = terms.entry(m.clone()).or_default();
            *e += Q::from(c * s);
            if *e == 0 {
                terms.remove(m);
            }
        }
        Poly { terms }
    }
    /// `s·self`.
    pub fn scale(&self, s: &Q) -> Poly {
        if *s == 0 {
            return Poly::zero();
        }
        Poly { terms: self.terms.iter().map(|(m, c)| (m.clone(), Q::from(c * s))).collect() }
    }
    /// `self·other`.
    pub fn mul(&self, other: &Poly) -> Poly {
        let mut acc: HashMap<Monomial, Q> = HashMap::new();
        for (m1, c1) in &self.terms {
            for (m2, c2) in &other.terms {
                *acc.entry(m1.mul(m2)).or_default() += Q::from(c1 * c2);
            }
        }
        Poly::from_terms(acc)
    }
    /// The partial derivative $\partial p / \partial x_v$.
    pub fn deriv(&self, v: usize) -> Poly {
        Poly::from_terms(self.terms.iter().filter_map(|(m, c)| {
            let k = m.0.iter().position(|f| f.0 as usize == v)?;
            let (e, lowered) = m.lower(k);
            Some((lowered, Q::from(c * e)))
        }))
    }
    /// Value at the rational point `x` (which must have at least [`Poly::num_vars`] coordinates).
    pub fn eval(&self, x: &[Q]) -> Q {
        let mut acc = Q::new();
        for (m, c) in &self.terms {
            acc += m.eval(x) * c;
        }
        acc
    }
    /// The gradient at `x`, as sparse `(variable, value)` pairs (variables in increasing order).
    pub fn grad_at(&self, x: &[Q]) -> Vec<(usize, Q)> {
        let mut acc: BTreeMap<usize, Q> = BTreeMap::new();
        for (m, c) in &self.terms {
            for k in 0..m.0.len() {
                let (e, lowered) = m.lower(k);
                *acc.entry(m.0[k].0 as usize).or_default() += lowered.eval(x) * c * e;
            }
        }
        acc.into_iter().filter(|(_, v)| *v != 0).collect()
    }
    /// The derivative of `self` along the field `x`: $X(p) = \sum_j X_j\,\partial_j p$.
    pub fn along(&self, x: &PolyField) -> Poly {
        let mut acc: HashMap<Monomial, Q> = HashMap::new();
        for (m, c) in &self.terms {
            for k in 0..m.0.len() {
                let (e, lowered) = m.lower(k);
                let ce = Q::from(c * e);
                for (m2, c2) in &x.comps[m.0[k].0 as usize].terms {
                    *acc.entry(lowered.mul(m2)).or_default() += Q::from(&ce * c2);
                }
            }
        }
        Poly::from_terms(acc)
    }
}

/// A polynomial vector field on $\mathbb{R}^D$: one [`Poly`] per coordinate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolyField {
    /// Components $X_1, \dots, X_D$.
    pub comps: Vec<Poly>,
}

impl PolyField {
    /// The field with these components.
    pub fn new(comps: Vec<Poly>) -> Self {
        PolyField { comps }
    }
    /// The gradient field $\nabla p$ on $\mathbb{R}^D$.
    pub fn gradient(p: &Poly, dim: usize) -> Self {
        PolyField { comps: (0..dim).map(|v| p.deriv(v)).collect() }
    }
    /// Dimension $D$.
    pub fn dim(&self) -> usize {
        self.comps.len()
    }
    /// Total number of terms over all components.
    pub fn num_terms(&self) -> usize {
        self.comps.iter().map(Poly::len).sum()
    }
    /// Largest component degree.
    pub fn degree(&self) -> u32 {
        self.comps.iter().map(Poly::degree).max().unwrap_or(0)
    }
    /// The Lie bracket $[X, Y] = (DY)X - (DX)Y$ with `self` $= X$.
    pub fn bracket(&self, y: &PolyField) -> PolyField {
        PolyField { comps: self.comps.iter().zip(&y.comps).map(|(xk, yk)| yk.along(self).sub(&xk.along(y))).collect() }
    }
    /// Value at `x`.
    pub fn eval(&self, x: &[Q]) -> Vec<Q> {
        self.comps.iter().map(|p| p.eval(x)).collect()
    }
    /// The Jacobian at `x`, row `k` holding the sparse gradient of component `k`.
    pub fn jacobian_at(&self, x: &[Q]) -> Vec<Vec<(usize, Q)>> {
        self.comps.iter().map(|p| p.grad_at(x)).collect()
    }
}

/// The product $Jv$ of a sparse Jacobian (from [`PolyField::jacobian_at`]) with a vector.
pub fn jac_times(jac: &[Vec<(usize, Q)>], v: &[Q]) -> Vec<Q> {
    jac.iter()
        .map(|row| {
            let mut s = Q::new();
            for (j, a) in row {
                if v[*j] != 0 {
                    s += Q::from(a * &v[*j]);
                }
            }
            s
        })
        .collect()
}

impl Poly {
    /// The polynomial written with the given variable names, terms in monomial order, e.g.
    /// `a^2 - b^2`.
    pub fn to_string_with(&self, names: &[String]) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut s = String::new();
        for (k, (m, c)) in self.terms.iter().enumerate() {
            let neg = *c < 0;
            let abs = Q::from(c.abs_ref());
            if k == 0 {
                s.push_str(if neg { "-" } else { "" });
            } else {
                s.push_str(if neg { " - " } else { " + " });
            }
            let factors: Vec<String> = m
                .factors()
                .iter()
                .map(|&(v, e)| {
                    let n = names.get(v as usize).cloned().unwrap_or_else(|| format!("x{v}"));
                    if e == 1 {
                        n
                    } else {
                        format!("{n}^{e}")
                    }
                })
                .collect();
            if abs != 1 || factors.is_empty() {
                s.push_str(&abs.to_string());
                if !factors.is_empty() {
                    s.push('*');
                }
            }
            s.push_str(&factors.join("*"));
        }
        s
    }
}
