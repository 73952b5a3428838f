//! Exact rank over $\mathbb{Q}$ by incremental fraction-free Gaussian elimination.
//!
//! Rows are given with rational entries; each is scaled by the least common multiple of its
//! denominators (which does not change the span) and reduced against the stored echelon rows
//! over $\mathbb{Z}$, dividing out the content after each step so that entries stay small.

use crate::scalar::Q;
use rug::Integer;

/// An echelon basis of the span of the rows inserted so far.
#[derive(Clone, Debug)]
pub struct Echelon {
    cols: usize,
    rows: Vec<(usize, Vec<Integer>)>,
}

impl Echelon {
    /// An empty basis for rows of length `cols`.
    pub fn new(cols: usize) -> Self {
        Echelon { cols, rows: Vec::new() }
    }
    /// The rank of the rows inserted so far.
    pub fn rank(&self) -> usize {
        self.rows.len()
    }
    /// Row length.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Whether `row` lies outside the current span, without inserting it.
    pub fn is_independent(&self, row: &[Q]) -> bool {
        self.reduce(row).is_some()
    }
    /// Inserts `row`; returns whether it raised the rank (was outside the span).
    ///
    /// # Panics
    /// If `row.len()` differs from the column count (a programming error, not user input).
    pub fn insert(&mut self, row: &[Q]) -> bool {
        match self.reduce(row) {
            Some(r) => {
                self.rows.push(r);
                true
            }
            None => false,
        }
    }

    /// The remainder of `row` after elimination, with its pivot, or `None` when it is in the span.
    fn reduce(&self, row: &[Q]) -> Option<(usize, Vec<Integer>)> {
        assert_eq!(row.len(), self.cols, "row length");
        let mut lcm = Integer::from(1);
        for q in row {
            if *q.denom() != 1 {
                lcm.lcm_mut(q.denom());
            }
        }
        let mut r: Vec<Integer> = row.iter().map(|q| q.numer() * Integer::from(&lcm / q.denom())).collect();
        remove_content(&mut r);
        // Each stored row vanishes at the pivots of the rows stored before it, so one pass in
        // insertion order leaves `r` zero at every pivot.
        for (p, b) in &self.rows {
            if r[*p] == 0 {
                continue;
            }
            let (bp, rp) = (b[*p].clone(), r[*p].clone());
            for (x, y) in r.iter_mut().zip(b) {
                if *y == 0 {
                    *x *= &bp;
                } else {
                    *x = Integer::from(&*x * &bp) - Integer::from(&rp * y);
                }
            }
            remove_content(&mut r);
        }
        let pivot = r.iter().position(|x| *x != 0)?;
        Some((pivot, r))
    }
}

/// Divides a vector by the gcd of its entries.
fn remove_content(r: &mut [Integer]) {
    let mut g = Integer::new();
    for x in r.iter() {
        if *x != 0 {
            g.gcd_mut(x);
            if g == 1 {
                return;
            }
        }
    }
    if g > 1 {
        for x in r.iter_mut() {
            x.div_exact_mut(&g);
        }
    }
}

/// The rank over $\mathbb{Q}$ of a list of rows of length `cols`.
pub fn rank(rows: &[Vec<Q>], cols: usize) -> usize {
    let mut e = Echelon::new(cols);
    for r in rows {
        e.insert(r);
    }
    e.rank()
}
