use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// The product map φ from parameters to the end-to-end matrix.
///
/// | variant | parameters (block order) | end-to-end |
/// |---|---|---|
/// | `DeepLinear` | `W_1 (d_1×d_0), …, W_N (d_N×d_{N-1})` | `W_N⋯W_1`, `d_N×d_0` |
/// | `DiagonalUV` | `u, v` (each `1×d`) | `β = u⊙v` (`1×d`) |
/// | `DiagonalSq` | `u, v` (each `1×d`) | `β = u⊙u − v⊙v` (`1×d`) |
/// | `Factor` | `X (d_1×r), Y (d_2×r)` | `XYᵀ` (NOP; vector case `r = 1`, LoRA case `r > 1`) |
/// | `FactorOp` | `x, y` (each `d×1`) | `xᵀy` (`1×1`, OP) |
/// | `SymFactor` | `X (d×k)` | `XXᵀ` (`d×d`, symmetric PSD; over-parametrized when `k` exceeds the rank sought) |
///
/// Diagonal predictors are rows so that a regression loss `(1/2n)‖βX − y‖²` with samples as the
/// columns of `X` has the same form as for deep networks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arch {
    /// Deep linear network of depth `N = widths.len() - 1`.
    DeepLinear {
        /// `d_0, …, d_N`.
        widths: Vec<usize>,
    },
    /// Diagonal network `β = u⊙v`.
    DiagonalUV {
        /// Dimension.
        d: usize,
    },
    /// Diagonal network `β = u⊙u − v⊙v`.
    DiagonalSq {
        /// Dimension.
        d: usize,
    },
    /// Two-factor scale-invariant problem `f(XYᵀ)`.
    Factor {
        /// Rows of `X`.
        d1: usize,
        /// Rows of `Y`.
        d2: usize,
        /// Inner dimension.
        r: usize,
    },
    /// Over-parametrized scalar problem `f(xᵀy)`.
    FactorOp {
        /// Dimension of `x` and `y`.
        d: usize,
    },
    /// Symmetric factorization `XXᵀ` (Burer–Monteiro).
    SymFactor {
        /// Rows of `X` (the end-to-end matrix is `d×d`).
        d: usize,
        /// Columns of `X`.
        k: usize,
    },
}

impl Arch {
    /// A deep linear network, checking that there are at least two widths and none is zero.
    pub fn deep_linear(widths: &[usize]) -> Result<Self> {
        let a = Arch::DeepLinear { widths: widths.to_vec() };
        a.validate()?;
        Ok(a)
    }

    /// Checks sizes: depth ≥ 1, no zero width or dimension.
    pub fn validate(&self) -> Result<()> {
        match self {
            Arch::DeepLinear { widths } => {
                if widths.len() < 2 {
                    return Err(Error::invalid(
                        "widths",
                        format!("need d_0..d_N with N >= 1 (at least two widths), got {widths:?}"),
                    ));
                }
                if let Some(j) = widths.iter().position(|&w| w == 0) {
                    return Err(Error::invalid("widths", format!("width d_{j} is zero in {widths:?}")));
                }
            }
            Arch::DiagonalUV { d } | Arch::DiagonalSq { d } | Arch::FactorOp { d } => {
                if *d == 0 {
                    return Err(Error::invalid("d", "dimension must be at least 1"));
                }
            }
            Arch::Factor { d1, d2, r } => {
                if *d1 == 0 || *d2 == 0 || *r == 0 {
                    return Err(Error::invalid("d1, d2, r", format!("all must be >= 1, got {d1}, {d2}, {r}")));
                }
            }
            Arch::SymFactor { d, k } => {
                if *d == 0 || *k == 0 {
                    return Err(Error::invalid("d, k", format!("both must be >= 1, got {d}, {k}")));
                }
            }
        }
        Ok(())
    }

    /// Short description.
    pub fn name(&self) -> String {
        match self {
            Arch::DeepLinear { widths } => format!("deep linear {widths:?}"),
            Arch::DiagonalUV { d } => format!("diagonal u*v (d={d})"),
            Arch::DiagonalSq { d } => format!("diagonal u^2-v^2 (d={d})"),
            Arch::Factor { d1, d2, r } => format!("factor XY^T ({d1}x{r}, {d2}x{r})"),
            Arch::FactorOp { d } => format!("factor x^T y (d={d})"),
            Arch::SymFactor { d, k } => format!("symmetric factor XX^T ({d}x{k})"),
        }
    }

    /// Shape of the end-to-end matrix.
    pub fn output_shape(&self) -> (usize, usize) {
        match self {
            Arch::DeepLinear { widths } => (widths[widths.len() - 1], widths[0]),
            Arch::DiagonalUV { d } | Arch::DiagonalSq { d } => (1, *d),
            Arch::Factor { d1, d2, .. } => (*d1, *d2),
            Arch::FactorOp { .. } => (1, 1),
            Arch::SymFactor { d, .. } => (*d, *d),
        }
    }

    /// Shapes of the parameter blocks, in order.
    pub fn param_shapes(&self) -> Vec<(usize, usize)> {
        match self {
            Arch::DeepLinear { widths } => widths.windows(2).map(|w| (w[1], w[0])).collect(),
            Arch::DiagonalUV { d } | Arch::DiagonalSq { d } => vec![(1, *d), (1, *d)],
            Arch::Factor { d1, d2, r } => vec![(*d1, *r), (*d2, *r)],
            Arch::FactorOp { d } => vec![(*d, 1), (*d, 1)],
            Arch::SymFactor { d, k } => vec![(*d, *k)],
        }
    }

    /// Depth (number of blocks).
    pub fn depth(&self) -> usize {
        self.param_shapes().len()
    }

    /// End-to-end matrix φ(θ).
    pub fn product<S: Scalar>(&self, p: &Params<S>) -> Mat<S> {
        let (r, c) = self.output_shape();
        let mut out = Mat::zeros(r, c, &p.proto());
        self.product_into(p, &mut out);
        out
    }

    /// End-to-end matrix written into `out`.
    pub fn product_into<S: Scalar>(&self, p: &Params<S>, out: &mut Mat<S>) {
        let b = &p.blocks;
        match self {
            Arch::DeepLinear { .. } => {
                let mut acc = b[0].clone();
                for w in &b[1..] {
                    acc = w.matmul(&acc);
                }
                *out = acc;
            }
            Arch::DiagonalUV { .. } => {
                for ((o, u), v) in out.as_mut_slice().iter_mut().zip(b[0].as_slice()).zip(b[1].as_slice()) {
                    *o = u.clone() * v.clone();
                }
            }
            Arch::DiagonalSq { .. } => {
                for ((o, u), v) in out.as_mut_slice().iter_mut().zip(b[0].as_slice()).zip(b[1].as_slice()) {
                    *o = u.square() - v.square();
                }
            }
            Arch::Factor { .. } => Mat::gemm_into(&b[0], false, &b[1], true, false, out),
            Arch::FactorOp { .. } => Mat::gemm_into(&b[0], true, &b[1], false, false, out),
            Arch::SymFactor { .. } => Mat::gemm_into(&b[0], false, &b[0], true, false, out),
        }
    }

    /// Pullback `Dφ_θᵀ(g)` of a gradient `g` on the end-to-end matrix, written into `out`.
    pub fn pullback<S: Scalar>(&self, p: &Params<S>, g: &Mat<S>, out: &mut Params<S>) {
        let b = &p.blocks;
        match self {
            Arch::DeepLinear { .. } => {
                // L_j^T g R_j^T with L_j = W_N⋯W_{j+1}, R_j = W_{j-1}⋯W_1.
                let n = b.len();
                let mut prefix = vec![b[0].clone()];
                for j in 1..n {
                    let next = b[j].matmul(&prefix[j - 1]);
                    prefix.push(next);
                }
                let mut a = g.clone();
                for j in (0..n).rev() {
                    out.blocks[j] = if j > 0 { a.prod(false, &prefix[j - 1], true) } else { a.clone() };
                    if j > 0 {
                        a = b[j].prod(true, &a, false);
                    }
                }
            }
            Arch::DiagonalUV { .. } => {
                let (gu, gv) = two_mut(&mut out.blocks);
                for i in 0..g.cols() {
                    let gi = g.get(0, i);
                    *gu.get_mut(0, i) = gi.clone() * b[1].get(0, i).clone();
                    *gv.get_mut(0, i) = gi.clone() * b[0].get(0, i).clone();
                }
            }
            Arch::DiagonalSq { .. } => {
                let (gu, gv) = two_mut(&mut out.blocks);
                let uv = b[0].as_slice().iter().zip(b[1].as_slice());
                let outs = gu.as_mut_slice().iter_mut().zip(gv.as_mut_slice());
                for ((ou, ov), (gi, (u, v))) in outs.zip(g.as_slice().iter().zip(uv)) {
                    // 2g (exact in binary floating point and in rationals).
                    let two_g = gi.clone() + gi.clone();
                    *ou = two_g.clone() * u.clone();
                    *ov = -(two_g * v.clone());
                }
            }
            Arch::Factor { .. } => {
                let (gx, gy) = two_mut(&mut out.blocks);
                Mat::gemm_into(g, false, &b[1], false, false, gx);
                Mat::gemm_into(g, true, &b[0], false, false, gy);
            }
            Arch::FactorOp { .. } => {
                let s = g.get(0, 0);
                let (gx, gy) = two_mut(&mut out.blocks);
                *gx = b[1].scaled(s);
                *gy = b[0].scaled(s);
            }
            Arch::SymFactor { .. } => {
                // d⟨G, XXᵀ⟩ = ⟨G, dX Xᵀ + X dXᵀ⟩ = ⟨(G + Gᵀ)X, dX⟩.
                Mat::gemm_into(g, false, &b[0], false, false, &mut out.blocks[0]);
                Mat::gemm_into(g, true, &b[0], false, true, &mut out.blocks[0]);
            }
        }
    }
}

fn two_mut<T>(v: &mut [T]) -> (&mut T, &mut T) {
    let (a, b) = v.split_at_mut(1);
    (&mut a[0], &mut b[0])
}
