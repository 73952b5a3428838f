//! The model map $\varphi(\theta)$ of each architecture, and its balancedness quantities, as
//! polynomials in the parameters.
//!
//! Parameters are numbered block by block in the order of [`Arch::param_shapes`], each block
//! row-major, so $D$ = [`Arch`]'s parameter count.

use super::poly::{Poly, PolyField};
use crate::model::Arch;

/// A matrix of polynomials, row-major.
#[derive(Clone, Debug)]
pub struct PolyMat {
    rows: usize,
    cols: usize,
    data: Vec<Poly>,
}

impl PolyMat {
    /// The `rows×cols` matrix whose entries are the variables `first, first+1, …` (row-major).
    pub fn variables(rows: usize, cols: usize, first: usize) -> Self {
        PolyMat { rows, cols, data: (0..rows * cols).map(|k| Poly::var(first + k)).collect() }
    }
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> &Poly {
        &self.data[i * self.cols + j]
    }
    /// Shape.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// Entries, row-major.
    pub fn entries(&self) -> &[Poly] {
        &self.data
    }
    /// The transpose.
    pub fn t(&self) -> PolyMat {
        let mut data = Vec::with_capacity(self.data.len());
        for j in 0..self.cols {
            for i in 0..self.rows {
                data.push(self.get(i, j).clone());
            }
        }
        PolyMat { rows: self.cols, cols: self.rows, data }
    }
    /// The product `self · other`.
    pub fn matmul(&self, other: &PolyMat) -> PolyMat {
        assert_eq!(self.cols, other.rows, "inner dimensions");
        let mut data = Vec::with_capacity(self.rows * other.cols);
        for i in 0..self.rows {
            for j in 0..other.cols {
                let mut acc = Poly::zero();
                for k in 0..self.cols {
                    acc = acc.add(&self.get(i, k).mul(other.get(k, j)));
                }
                data.push(acc);
            }
        }
        PolyMat { rows: self.rows, cols: other.cols, data }
    }
    /// `self − other`.
    pub fn sub(&self, other: &PolyMat) -> PolyMat {
        PolyMat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().zip(&other.data).map(|(a, b)| a.sub(b)).collect(),
        }
    }
    /// Entries `(i, j)` with `i ≤ j` of a square matrix (the independent entries of a symmetric one).
    pub fn upper_triangle(&self) -> Vec<Poly> {
        let mut v = Vec::new();
        for i in 0..self.rows {
            for j in i..self.cols {
                v.push(self.get(i, j).clone());
            }
        }
        v
    }
}

/// Number of parameters $D$.
pub fn parameter_count(arch: &Arch) -> usize {
    arch.param_shapes().iter().map(|(r, c)| r * c).sum()
}

/// The parameter blocks as matrices of variables.
pub fn blocks(arch: &Arch) -> Vec<PolyMat> {
    let mut first = 0;
    arch.param_shapes()
        .into_iter()
        .map(|(r, c)| {
            let m = PolyMat::variables(r, c, first);
            first += r * c;
            m
        })
        .collect()
}

/// The coordinates of $\varphi(\theta)$ (the end-to-end matrix, row-major).
pub fn phi(arch: &Arch) -> Vec<Poly> {
    let b = blocks(arch);
    match arch {
        Arch::DeepLinear { .. } => {
            let mut acc = b[0].clone();
            for w in &b[1..] {
                acc = w.matmul(&acc);
            }
            acc.entries().to_vec()
        }
        Arch::DiagonalUV { .. } => b[0].entries().iter().zip(b[1].entries()).map(|(u, v)| u.mul(v)).collect(),
        Arch::DiagonalSq { .. } => {
            b[0].entries().iter().zip(b[1].entries()).map(|(u, v)| u.mul(u).sub(&v.mul(v))).collect()
        }
        Arch::Factor { .. } => b[0].matmul(&b[1].t()).entries().to_vec(),
        Arch::FactorOp { .. } => b[0].t().matmul(&b[1]).entries().to_vec(),
        Arch::SymFactor { .. } => b[0].matmul(&b[0].t()).entries().to_vec(),
    }
}

/// The gradient fields $\nabla\varphi_i$ that span $W_\varphi$.
pub fn generators(arch: &Arch) -> Vec<PolyField> {
    let d = parameter_count(arch);
    phi(arch).iter().filter(|p| !p.is_zero()).map(|p| PolyField::gradient(p, d)).collect()
}

/// The balancedness quantities known to be conserved by gradient flow, as polynomials:
///
/// | architecture | quantities |
/// |---|---|
/// | deep linear | upper-triangle entries of $C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top$, $j = 1..N-1$ |
/// | $u\odot v$ | $u_i^2 - v_i^2$ |
/// | $u\odot u - v\odot v$ | $u_i v_i$ |
/// | $XY^\top$ | upper-triangle entries of $X^\top X - Y^\top Y$ |
/// | $x^\top y$ | upper-triangle entries of $xx^\top - yy^\top$ (the $C_1$ of the network $1$-$d$-$1$) |
pub fn balancedness(arch: &Arch) -> Vec<Poly> {
    let b = blocks(arch);
    match arch {
        Arch::DeepLinear { .. } => {
            b.windows(2).flat_map(|w| w[1].t().matmul(&w[1]).sub(&w[0].matmul(&w[0].t())).upper_triangle()).collect()
        }
        Arch::DiagonalUV { .. } => {
            b[0].entries().iter().zip(b[1].entries()).map(|(u, v)| u.mul(u).sub(&v.mul(v))).collect()
        }
        Arch::DiagonalSq { .. } => b[0].entries().iter().zip(b[1].entries()).map(|(u, v)| u.mul(v)).collect(),
        Arch::Factor { .. } => b[0].t().matmul(&b[0]).sub(&b[1].t().matmul(&b[1])).upper_triangle(),
        Arch::FactorOp { .. } => b[0].matmul(&b[0].t()).sub(&b[1].matmul(&b[1].t())).upper_triangle(),
        // XXᵀ has one factor: no balancedness between factors.
        Arch::SymFactor { .. } => Vec::new(),
    }
}

/// $\sum_{j \text{ hidden}} d_j(d_j+1)/2$ for a deep linear network (the number of balancedness
/// entries; an upper bound on the independent ones). `None` for other architectures.
pub fn balancedness_entry_count(arch: &Arch) -> Option<usize> {
    match arch {
        Arch::DeepLinear { widths } => Some(widths[1..widths.len() - 1].iter().map(|d| d * (d + 1) / 2).sum()),
        _ => None,
    }
}

/// Names of the parameters in the numbering of [`blocks`]: `W1[i,j]`… for deep linear networks,
/// `u[i]`, `v[i]` for diagonal ones, `X[i,j]`, `Y[i,j]` and `x[i]`, `y[i]` for factor problems.
pub fn variable_names(arch: &Arch) -> Vec<String> {
    let vector = matches!(arch, Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. } | Arch::FactorOp { .. });
    let label = |b: usize| -> String {
        match arch {
            Arch::DeepLinear { .. } => format!("W{}", b + 1),
            Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. } => ["u", "v"][b].into(),
            Arch::Factor { .. } => ["X", "Y"][b].into(),
            Arch::FactorOp { .. } => ["x", "y"][b].into(),
            Arch::SymFactor { .. } => "X".into(),
        }
    };
    let mut names = Vec::new();
    for (b, (r, c)) in arch.param_shapes().into_iter().enumerate() {
        for i in 0..r {
            for j in 0..c {
                names.push(if vector {
                    format!("{}[{}]", label(b), i.max(j))
                } else {
                    format!("{}[{i},{j}]", label(b))
                });
            }
        }
    }
    names
}
