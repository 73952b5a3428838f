//! Butcher tableaux at the working precision, and their order conditions.
//!
//! A Runge–Kutta method with $s$ stages is the tableau $(A, b, c)$:
//! $$k_i = F\Bigl(t + c_i h,\; y + h\sum_j a_{ij} k_j\Bigr),\qquad y_{n+1} = y_n + h\sum_i b_i k_i .$$
//! It has order $p$ when $\Phi(\tau) = 1/\gamma(\tau)$ for every rooted tree $\tau$ with at most $p$
//! vertices (Butcher), where the elementary weight is $\Phi(\tau) = b^\top g(\tau)$ with
//! $g(\bullet) = \mathbb 1$, $g([\tau_1,\dots,\tau_m]) = \prod_k A\,g(\tau_k)$ (entrywise), and the
//! density is $\gamma(\bullet) = 1$, $\gamma([\tau_1,\dots,\tau_m]) = |\tau|\prod_k\gamma(\tau_k)$.
//! [`Tableau::order_residuals`] evaluates these conditions, so a tableau typed from a paper is
//! checked rather than trusted.
//!
//! Irrational coefficients ($\sqrt{21}$ in Cooper–Verner, $\sqrt 3$ and $\sqrt{15}$ in
//! Gauss–Legendre) are computed in the number type of the prototype, never through `f64`.

use crate::error::{Error, Result};
use crate::scalar::Scalar;

/// A Butcher tableau with coefficients in `S`.
#[derive(Clone, Debug)]
pub struct Tableau<S> {
    /// The matrix $A$ (`s × s`; strictly lower triangular for explicit methods).
    pub a: Vec<Vec<S>>,
    /// The weights $b$.
    pub b: Vec<S>,
    /// The nodes $c$.
    pub c: Vec<S>,
    /// The classical order the method is designed to have.
    pub order: usize,
}

fn sqrt_of<S: Scalar>(proto: &S, n: i64, method: &str) -> Result<S> {
    proto.from_i64_like(n).try_sqrt().ok_or_else(|| {
        Error::Unsupported(format!(
            "{method} needs sqrt({n}), which the number type {} cannot represent; use f64 or Mp",
            proto.kind_name()
        ))
    })
}

/// `(p + q·r)/d` with integers `p, q, d`.
fn lin<S: Scalar>(r: &S, p: i64, q: i64, d: i64) -> S {
    let proto = r.zero_like();
    (proto.from_i64_like(p) + proto.from_i64_like(q) * r.clone()) / proto.from_i64_like(d)
}

fn from_rational<S: Scalar>(
    proto: &S,
    a: &[&[(i64, i64)]],
    b: &[(i64, i64)],
    c: &[(i64, i64)],
    order: usize,
) -> Tableau<S> {
    let s = b.len();
    let conv = |&(p, q): &(i64, i64)| proto.ratio_like(p, q);
    let a = (0..s)
        .map(|i| (0..s).map(|j| a.get(i).and_then(|r| r.get(j)).map_or_else(|| proto.zero_like(), conv)).collect())
        .collect();
    Tableau { a, b: b.iter().map(conv).collect(), c: c.iter().map(conv).collect(), order }
}

impl<S: Scalar> Tableau<S> {
    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.b.len()
    }

    /// Whether every $a_{ij}$ with $j \ge i$ is zero.
    pub fn is_explicit(&self) -> bool {
        self.a.iter().enumerate().all(|(i, r)| r.iter().skip(i).all(Scalar::is_zero))
    }

    /// Explicit Euler: order 1.
    pub fn euler(proto: &S) -> Self {
        from_rational(proto, &[], &[(1, 1)], &[(0, 1)], 1)
    }

    /// Heun's method (explicit trapezoid): order 2.
    pub fn heun(proto: &S) -> Self {
        from_rational(proto, &[&[], &[(1, 1)]], &[(1, 2), (1, 2)], &[(0, 1), (1, 1)], 2)
    }

    /// The classical Runge–Kutta method: order 4.
    pub fn rk4(proto: &S) -> Self {
        from_rational(
            proto,
            &[&[], &[(1, 2)], &[(0, 1), (1, 2)], &[(0, 1), (0, 1), (1, 1)]],
            &[(1, 6), (1, 3), (1, 3), (1, 6)],
            &[(0, 1), (1, 2), (1, 2), (1, 1)],
            4,
        )
    }

    /// Cooper and Verner's explicit method of order 8 with 11 stages (G. J. Cooper, J. H. Verner,
    /// *Some explicit Runge–Kutta methods of high order*, SIAM J. Numer. Anal. 9 (1972) 389–405),
    /// whose coefficients lie in $\mathbb Q(\sqrt{21})$. Fails for number types without $\sqrt{21}$.
    pub fn cooper_verner8(proto: &S) -> Result<Self> {
        let r = sqrt_of(proto, 21, "rk8 (Cooper-Verner)")?;
        let z = proto.zero_like();
        let q = |p: i64, d: i64| proto.ratio_like(p, d);
        let l = |p: i64, k: i64, d: i64| lin(&r, p, k, d);
        let c = vec![
            z.clone(),
            q(1, 2),
            q(1, 2),
            l(7, 1, 14),
            l(7, 1, 14),
            q(1, 2),
            l(7, -1, 14),
            l(7, -1, 14),
            q(1, 2),
            l(7, 1, 14),
            q(1, 1),
        ];
        let mut a = vec![vec![z.clone(); 11]; 11];
        a[1][0] = q(1, 2);
        a[2][0] = q(1, 4);
        a[2][1] = q(1, 4);
        a[3][0] = q(1, 7);
        a[3][1] = l(-7, -3, 98);
        a[3][2] = l(21, 5, 49);
        a[4][0] = l(11, 1, 84);
        a[4][2] = l(18, 4, 63);
        a[4][3] = l(21, -1, 252);
        a[5][0] = l(5, 1, 48);
        a[5][2] = l(9, 1, 36);
        a[5][3] = l(-231, 14, 360);
        a[5][4] = l(63, -7, 80);
        a[6][0] = l(10, -1, 42);
        a[6][2] = l(-432, 92, 315);
        a[6][3] = l(633, -145, 90);
        a[6][4] = l(-504, 115, 70);
        a[6][5] = l(63, -13, 35);
        a[7][0] = q(1, 14);
        a[7][4] = l(14, -3, 126);
        a[7][5] = l(13, -3, 63);
        a[7][6] = q(1, 9);
        a[8][0] = q(1, 32);
        a[8][4] = l(91, -21, 576);
        a[8][5] = q(11, 72);
        a[8][6] = l(-385, -75, 1152);
        a[8][7] = l(63, 13, 128);
        a[9][0] = q(1, 14);
        a[9][4] = q(1, 9);
        a[9][5] = l(-733, -147, 2205);
        a[9][6] = l(515, 111, 504);
        a[9][7] = l(-51, -11, 56);
        a[9][8] = l(132, 28, 245);
        a[10][4] = l(-42, 7, 18);
        a[10][5] = l(-18, 28, 45);
        a[10][6] = l(-273, -53, 72);
        a[10][7] = l(301, 53, 72);
        a[10][8] = l(28, -28, 45);
        a[10][9] = l(49, -7, 18);
        let mut b = vec![z; 11];
        b[0] = q(1, 20);
        b[7] = q(49, 180);
        b[8] = q(16, 45);
        b[9] = q(49, 180);
        b[10] = q(1, 20);
        Ok(Tableau { a, b, c, order: 8 })
    }

    /// The implicit Gauss–Legendre method with `stages` ∈ {1, 2, 3} (order `2·stages`): nodes at the
    /// zeros of the shifted Legendre polynomial, $c = \tfrac12$ (implicit midpoint);
    /// $c = \tfrac12 \mp \tfrac{\sqrt3}{6}$; $c = \tfrac12 - \tfrac{\sqrt{15}}{10}, \tfrac12,
    /// \tfrac12 + \tfrac{\sqrt{15}}{10}$, with $a_{ij} = \int_0^{c_i}\ell_j$ and $b_j = \int_0^1\ell_j$
    /// for the Lagrange basis $\ell_j$ on the nodes.
    pub fn gauss_legendre(stages: usize, proto: &S) -> Result<Self> {
        let q = |p: i64, d: i64| proto.ratio_like(p, d);
        match stages {
            1 => Ok(from_rational(proto, &[&[(1, 2)]], &[(1, 1)], &[(1, 2)], 2)),
            2 => {
                let r = sqrt_of(proto, 3, "gauss_legendre (2 stages)")?;
                let l = |p: i64, k: i64, d: i64| lin(&r, p, k, d);
                Ok(Tableau {
                    // a = [[1/4, 1/4 − √3/6], [1/4 + √3/6, 1/4]] = [[1/4, (3 − 2√3)/12], [(3 + 2√3)/12, 1/4]].
                    a: vec![vec![q(1, 4), l(3, -2, 12)], vec![l(3, 2, 12), q(1, 4)]],
                    b: vec![q(1, 2), q(1, 2)],
                    c: vec![l(3, -1, 6), l(3, 1, 6)],
                    order: 4,
                })
            }
            3 => {
                let r = sqrt_of(proto, 15, "gauss_legendre (3 stages)")?;
                let l = |p: i64, k: i64, d: i64| lin(&r, p, k, d);
                Ok(Tableau {
                    // 2/9 − √15/15 = (10 − 3√15)/45; 5/36 − √15/30 = (25 − 6√15)/180;
                    // 5/36 ± √15/24 = (10 ± 3√15)/72.
                    a: vec![
                        vec![q(5, 36), l(10, -3, 45), l(25, -6, 180)],
                        vec![l(10, 3, 72), q(2, 9), l(10, -3, 72)],
                        vec![l(25, 6, 180), l(10, 3, 45), q(5, 36)],
                    ],
                    b: vec![q(5, 18), q(4, 9), q(5, 18)],
                    c: vec![l(5, -1, 10), q(1, 2), l(5, 1, 10)],
                    order: 6,
                })
            }
            s => Err(Error::invalid("stages", format!("Gauss-Legendre is implemented for 1, 2 or 3 stages, got {s}"))),
        }
    }

    /// $\max_i |c_i - \sum_j a_{ij}|$ (the row-sum condition the tree conditions assume).
    pub fn row_sum_residual(&self) -> S {
        let mut worst = self.b[0].zero_like();
        for (row, ci) in self.a.iter().zip(&self.c) {
            let mut s = ci.clone();
            for x in row {
                s -= x;
            }
            let d = s.abs();
            if d > worst {
                worst = d;
            }
        }
        worst
    }

    /// For each order $p = 1..=$`max_order`, the largest $|\Phi(\tau) - 1/\gamma(\tau)|$ over the
    /// rooted trees with $p$ vertices (zero up to rounding through the method's order).
    pub fn order_residuals(&self, max_order: usize) -> Vec<S> {
        let proto = self.b[0].zero_like();
        let s = self.stages();
        let trees = rooted_trees(max_order);
        let mut g: Vec<Vec<S>> = Vec::with_capacity(trees.len());
        let mut ag: Vec<Vec<S>> = Vec::with_capacity(trees.len());
        let mut gamma: Vec<i64> = Vec::with_capacity(trees.len());
        let mut worst = vec![proto.clone(); max_order];
        for t in &trees {
            let mut gi = vec![proto.one_like(); s];
            let mut gam = t.order as i64;
            for &ch in &t.children {
                for (x, y) in gi.iter_mut().zip(&ag[ch]) {
                    *x *= y;
                }
                gam *= gamma[ch];
            }
            let agi: Vec<S> = (0..s)
                .map(|i| {
                    let mut acc = proto.clone();
                    for (aij, gj) in self.a[i].iter().zip(&gi) {
                        acc.mul_add_assign(aij, gj);
                    }
                    acc
                })
                .collect();
            let mut phi = proto.clone();
            for (bi, x) in self.b.iter().zip(&gi) {
                phi.mul_add_assign(bi, x);
            }
            let res = (phi - proto.ratio_like(1, gam)).abs();
            if res > worst[t.order - 1] {
                worst[t.order - 1] = res;
            }
            g.push(gi);
            ag.push(agi);
            gamma.push(gam);
        }
        worst
    }
}

/// A rooted tree: its number of vertices and the indices (into the list of [`rooted_trees`]) of the
/// subtrees hanging from its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootedTree {
    /// Number of vertices $|\tau|$.
    pub order: usize,
    /// Subtrees of the root, as indices into the same list, non-increasing.
    pub children: Vec<usize>,
}

/// All rooted trees with at most `max_order` vertices, each once, by increasing order; a tree's
/// subtrees come before it in the list.
pub fn rooted_trees(max_order: usize) -> Vec<RootedTree> {
    let mut all: Vec<RootedTree> = Vec::new();
    for n in 1..=max_order {
        let known = all.len();
        let mut found = Vec::new();
        let mut cur = Vec::new();
        multisets(&all, n - 1, known, &mut cur, &mut found);
        all.extend(found.into_iter().map(|children| RootedTree { order: n, children }));
    }
    all
}

/// Multisets of trees (indices `< below`, non-increasing) with `remaining` vertices in total.
fn multisets(all: &[RootedTree], remaining: usize, below: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if remaining == 0 {
        out.push(cur.clone());
        return;
    }
    for i in (0..below).rev() {
        if all[i].order <= remaining {
            cur.push(i);
            multisets(all, remaining - all[i].order, i + 1, cur, out);
            cur.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_counts_match_a000081() {
        // Number of rooted trees with n vertices, OEIS A000081: 1, 1, 2, 4, 9, 20, 48, 115.
        let t = rooted_trees(8);
        let counts: Vec<usize> = (1..=8).map(|n| t.iter().filter(|x| x.order == n).count()).collect();
        assert_eq!(counts, vec![1, 1, 2, 4, 9, 20, 48, 115]);
    }

    #[test]
    fn rk4_has_order_four_and_not_five() {
        // Exact rationals: the residuals through order 4 are exactly zero, and some order-5
        // condition fails (a fourth-order method with four stages cannot reach order 5).
        let t = Tableau::rk4(&crate::scalar::Q::new());
        let r = t.order_residuals(5);
        assert!(r[..4].iter().all(Scalar::is_zero), "{r:?}");
        assert!(!r[4].is_zero());
    }
}
