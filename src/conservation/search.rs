//! Polynomial conservation laws of a given degree, found exactly.
//!
//! A polynomial $h$ is conserved by the gradient flow of every loss of $\varphi$ exactly when
//! $\nabla\varphi_i(h) = \langle\nabla h, \nabla\varphi_i\rangle \equiv 0$ for every $i$. For a
//! homogeneous $h = \sum_\alpha c_\alpha \theta^\alpha$ of degree $m$ this is a linear system in the
//! $c_\alpha$; its null space over $\mathbb{Q}$ is every conserved form of degree $m$.

use super::poly::{Monomial, Poly, PolyField};
use crate::error::{Error, Result};
use crate::scalar::Q;
use std::collections::{BTreeMap, HashMap};

/// All monomials of degree exactly `m` in `d` variables.
pub fn monomials(d: usize, m: u32) -> Vec<Monomial> {
    fn rec(start: usize, d: usize, left: u32, cur: &mut Vec<usize>, out: &mut Vec<Monomial>) {
        if left == 0 {
            let m = cur.iter().fold(Monomial::one(), |acc, &v| acc.mul(&Monomial::var(v)));
            out.push(m);
            return;
        }
        for v in start..d {
            cur.push(v);
            rec(v, d, left - 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    rec(0, d, m, &mut Vec::new(), &mut out);
    out
}

/// Number of monomials of degree `m` in `d` variables, $\binom{d+m-1}{m}$.
pub fn monomial_count(d: usize, m: u32) -> f64 {
    (0..m as usize).fold(1.0, |acc, k| acc * (d + k) as f64 / (k + 1) as f64)
}

/// A basis of the homogeneous polynomials $h$ of degree `m` in `d` variables with $X(h) \equiv 0$
/// for every field $X$ in `fields`. Refuses more than `max_unknowns` monomials.
pub fn conserved_forms(fields: &[PolyField], d: usize, m: u32, max_unknowns: usize) -> Result<Vec<Poly>> {
    let n = monomial_count(d, m);
    if n > max_unknowns as f64 {
        return Err(Error::invalid(
            "degree",
            format!("{n} monomials of degree {m} in {d} variables exceed the limit {max_unknowns}"),
        ));
    }
    let basis = monomials(d, m);
    // Equation rows: for each field and each monomial of X(θ^α), the coefficient of c_α.
    let mut eqs: HashMap<(usize, Monomial), BTreeMap<usize, Q>> = HashMap::new();
    for (fi, x) in fields.iter().enumerate() {
        for (a, mono) in basis.iter().enumerate() {
            let image = Poly::term(Q::from(1), mono.clone()).along(x);
            for (mb, c) in image.terms() {
                *eqs.entry((fi, mb.clone())).or_default().entry(a).or_default() += c;
            }
        }
    }
    let mut rows: Vec<BTreeMap<usize, Q>> = eqs.into_values().collect();
    rows.iter_mut().for_each(|r| r.retain(|_, c| *c != 0));
    let null = nullspace(rows, basis.len());
    Ok(null.into_iter().map(|v| Poly::from_terms(basis.iter().cloned().zip(v))).collect())
}

/// A basis of $\{c : Ac = 0\}$ for sparse rows `a` with `cols` columns, by sparse reduced row
/// echelon form over $\mathbb{Q}$.
pub fn nullspace(a: Vec<BTreeMap<usize, Q>>, cols: usize) -> Vec<Vec<Q>> {
    // pivot column → fully reduced row with a 1 at the pivot.
    let mut piv: BTreeMap<usize, BTreeMap<usize, Q>> = BTreeMap::new();
    for mut r in a {
        for (p, b) in &piv {
            if let Some(f) = r.get(p).cloned() {
                axpy(&mut r, &-f, b);
            }
        }
        let Some((&p, lead)) = r.iter().next() else { continue };
        let inv = Q::from(lead.recip_ref());
        r.values_mut().for_each(|c| *c *= &inv);
        for b in piv.values_mut() {
            if let Some(f) = b.get(&p).cloned() {
                axpy(b, &-f, &r);
            }
        }
        piv.insert(p, r);
    }
    (0..cols)
        .filter(|c| !piv.contains_key(c))
        .map(|free| {
            let mut v = vec![Q::new(); cols];
            v[free] = Q::from(1);
            for (p, row) in &piv {
                if let Some(c) = row.get(&free) {
                    v[*p] = Q::from(-c);
                }
            }
            v
        })
        .collect()
}

/// `r += s·b` on sparse rows, dropping zeros.
fn axpy(r: &mut BTreeMap<usize, Q>, s: &Q, b: &BTreeMap<usize, Q>) {
    for (j, c) in b {
        let e = r.entry(*j).or_default();
        *e += Q::from(s * c);
        if *e == 0 {
            r.remove(j);
        }
    }
}
