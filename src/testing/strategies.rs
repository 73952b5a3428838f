//! Proptest strategies: exact rationals, matrices, architectures, losses, parameters,
//! initializations and hyperparameters. Every value is built from proptest primitives, so a failing
//! case shrinks (fewer layers, narrower widths, entries closer to zero).

use super::problem::Problem;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::Q;
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// The rational `n/d`, `n ∈ num`, `d ∈ den` (`den` must exclude 0). Shrinks toward `n = 0`
/// (or the smallest `n`), `d` small.
pub fn rational(num: RangeInclusive<i64>, den: RangeInclusive<i64>) -> impl Strategy<Value = Q> + Clone {
    assert!(!den.contains(&0), "a denominator range must exclude 0");
    (num, den).prop_map(Q::from)
}

/// A small rational `n/d`, `n ∈ [−6, 6]`, `d ∈ [1, 4]`: entries of data and parameters.
pub fn small_rational() -> impl Strategy<Value = Q> + Clone {
    rational(-6..=6, 1..=4)
}

/// A `rows×cols` matrix of [`small_rational`] entries.
pub fn rational_matrix(rows: usize, cols: usize) -> BoxedStrategy<Mat<Q>> {
    prop::collection::vec(small_rational(), rows * cols).prop_map(move |v| Mat::from_vec(rows, cols, v)).boxed()
}

/// Widths `d_0, …, d_N` of a deep linear network with depth `N ∈ depth` and each width in `width`
/// (width 1 and bottlenecks included when `width` starts at 1).
pub fn widths(depth: RangeInclusive<usize>, width: RangeInclusive<usize>) -> BoxedStrategy<Vec<usize>> {
    let (lo, hi) = (*depth.start() + 1, *depth.end() + 1);
    prop::collection::vec(width, lo..=hi).boxed()
}

/// Widths with a bottleneck: depth `N ≥ 2` in `depth`, an inner width 1 and the others in `width`.
pub fn bottleneck_widths(depth: RangeInclusive<usize>, width: RangeInclusive<usize>) -> BoxedStrategy<Vec<usize>> {
    let depth = (*depth.start()).max(2)..=(*depth.end()).max(2);
    widths(depth, width)
        .prop_flat_map(|w| {
            let inner = 1..w.len() - 1;
            (Just(w), inner)
        })
        .prop_map(|(mut w, j)| {
            w[j] = 1;
            w
        })
        .boxed()
}

/// Deep linear networks of depth in `depth` and widths in `width`.
pub fn deep_linear(depth: RangeInclusive<usize>, width: RangeInclusive<usize>) -> BoxedStrategy<Arch> {
    widths(depth, width).prop_map(|widths| Arch::DeepLinear { widths }).boxed()
}

/// Diagonal networks `β = u⊙v` of dimension `d`.
pub fn diagonal_uv(d: RangeInclusive<usize>) -> BoxedStrategy<Arch> {
    d.prop_map(|d| Arch::DiagonalUV { d }).boxed()
}

/// Diagonal networks `β = u⊙u − v⊙v` of dimension `d`.
pub fn diagonal_sq(d: RangeInclusive<usize>) -> BoxedStrategy<Arch> {
    d.prop_map(|d| Arch::DiagonalSq { d }).boxed()
}

/// Two-factor problems `f(XYᵀ)` with `d1, d2 ∈ d` and inner dimension `r ∈ r`.
pub fn factor(d: RangeInclusive<usize>, r: RangeInclusive<usize>) -> BoxedStrategy<Arch> {
    (d.clone(), d, r).prop_map(|(d1, d2, r)| Arch::Factor { d1, d2, r }).boxed()
}

/// Scalar two-factor problems `f(xᵀy)` with `x, y ∈ ℚ^d`.
pub fn factor_op(d: RangeInclusive<usize>) -> BoxedStrategy<Arch> {
    d.prop_map(|d| Arch::FactorOp { d }).boxed()
}

/// Every kind of architecture, small: deep linear (depth 1–3, widths 1–3, bottlenecks included),
/// both diagonal networks (d ≤ 4), `f(XYᵀ)` (d ≤ 3, r ≤ 2) and `f(xᵀy)` (d ≤ 3).
pub fn any_arch() -> BoxedStrategy<Arch> {
    prop_oneof![
        deep_linear(1..=3, 1..=3),
        diagonal_uv(1..=4),
        diagonal_sq(1..=4),
        factor(1..=3, 1..=2),
        factor_op(1..=3)
    ]
    .boxed()
}

/// Which loss a problem uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// `½‖W − Φ‖²`.
    Target,
    /// `(1/2n)‖WX − Y‖²` with 1–4 samples.
    Regression,
    /// `(1/2m)Σ(⟨A_i, W⟩ − y_i)²` with 1–3 measurements.
    Sensing,
    /// `½Σ_Ω(W_ij − M_ij)²` on a nonempty set Ω of entries.
    Completion,
}

impl LossKind {
    /// All four.
    pub const ALL: [LossKind; 4] = [LossKind::Target, LossKind::Regression, LossKind::Sensing, LossKind::Completion];

    /// Whether the loss has samples to draw mini-batches from.
    pub fn has_samples(self) -> bool {
        self != LossKind::Target
    }
}

/// Data of the given kind for losses on `rows×cols` end-to-end matrices (rational entries).
/// For [`LossKind::Regression`] the inputs have `cols` rows, so `rows×cols` must be the
/// architecture's [`Arch::output_shape`].
pub fn loss(shape: (usize, usize), kind: LossKind) -> BoxedStrategy<Loss<Q>> {
    let (r, c) = shape;
    match kind {
        LossKind::Target => rational_matrix(r, c).prop_map(Loss::target).boxed(),
        LossKind::Regression => (1usize..=4)
            .prop_flat_map(move |n| (rational_matrix(c, n), rational_matrix(r, n)))
            .prop_map(|(x, y)| Loss::regression(x, y).expect("X and Y have the same number of columns"))
            .boxed(),
        LossKind::Sensing => (1usize..=3)
            .prop_flat_map(move |m| {
                (prop::collection::vec(rational_matrix(r, c), m), prop::collection::vec(small_rational(), m))
            })
            .prop_map(|(a, y)| Loss::sensing(a, y).expect("m matrices of one shape and m values"))
            .boxed(),
        LossKind::Completion => (prop::collection::vec(any::<bool>(), r * c), rational_matrix(r, c))
            .prop_map(move |(mask, m)| {
                let mut entries: Vec<(usize, usize, Q)> =
                    (0..r * c).filter(|&k| mask[k]).map(|k| (k / c, k % c, m.get(k / c, k % c).clone())).collect();
                if entries.is_empty() {
                    entries.push((0, 0, m.get(0, 0).clone()));
                }
                Loss::completion((r, c), entries).expect("indices are in range and Ω is nonempty")
            })
            .boxed(),
    }
}

/// Data for any of the four losses.
pub fn any_loss(shape: (usize, usize)) -> BoxedStrategy<Loss<Q>> {
    prop_oneof![
        loss(shape, LossKind::Target),
        loss(shape, LossKind::Regression),
        loss(shape, LossKind::Sensing),
        loss(shape, LossKind::Completion)
    ]
    .boxed()
}

/// Parameters of `arch` with [`small_rational`] entries.
pub fn params(arch: &Arch) -> BoxedStrategy<Params<Q>> {
    let blocks: Vec<BoxedStrategy<Mat<Q>>> =
        arch.param_shapes().into_iter().map(|(r, c)| rational_matrix(r, c)).collect();
    blocks.prop_map(Params::new).boxed()
}

/// A problem on an architecture drawn from `arch`, with a loss of kind `kind` (`None`: any of the
/// four) and parameters from [`params`].
pub fn problem(arch: BoxedStrategy<Arch>, kind: Option<LossKind>) -> BoxedStrategy<Problem> {
    arch.prop_flat_map(move |a| {
        let data = match kind {
            Some(k) => loss(a.output_shape(), k),
            None => any_loss(a.output_shape()),
        };
        (data, params(&a), Just(a))
    })
    .prop_map(|(loss, p0, arch)| Problem::new(Model::new(arch, loss).expect("the loss has the output shape"), p0))
    .boxed()
}

/// Problems on every kind of architecture ([`any_arch`]) with every loss.
pub fn any_problem() -> BoxedStrategy<Problem> {
    problem(any_arch(), None)
}

/// `problems` with weight decay λ from [`rational`]`(0..=3, 1..=8)` (λ = 0 included).
pub fn with_weight_decay(problems: BoxedStrategy<Problem>) -> BoxedStrategy<Problem> {
    (problems, rational(0..=3, 1..=8))
        .prop_map(|(mut pr, lam)| {
            pr.model = pr.model.with_weight_decay(lam).expect("λ ≥ 0");
            pr
        })
        .boxed()
}

/// A step size in `[1/12, 5/2]`, mostly below 1.
pub fn step_size() -> impl Strategy<Value = Q> + Clone {
    rational(1..=5, 2..=12)
}

/// A momentum β ∈ `[0, 3/4]`.
pub fn momentum() -> impl Strategy<Value = Q> + Clone {
    rational(0..=3, 4..=4)
}

/// A SAM radius or USAM ascent factor ρ ∈ `[0, 3]`.
pub fn radius() -> impl Strategy<Value = Q> + Clone {
    rational(0..=3, 1..=5)
}

/// Exact balanced parameters of a deep linear network: `W_j = O_j E_j O_{j−1}ᵀ` with rational
/// orthogonal frames `O_j` (Cayley transforms of random skew matrices) and `E_j` the
/// `d_j×d_{j−1}` matrix holding `diag(s_1, …, s_r)`, `r = min_j d_j`, in its top-left corner. Then
/// `W_{j+1}ᵀW_{j+1} = O_j diag(s², 0) O_jᵀ = W_jW_jᵀ` exactly.
pub fn balanced(widths: Vec<usize>) -> BoxedStrategy<Params<Q>> {
    let r = *widths.iter().min().expect("at least two widths");
    let skews: Vec<BoxedStrategy<Mat<Q>>> = widths.iter().map(|&d| skew(d)).collect();
    (skews, prop::collection::vec(rational(1..=4, 1..=3), r))
        .prop_map(move |(skews, s)| {
            let o: Vec<Mat<Q>> = skews.iter().map(cayley).collect();
            let blocks =
                (1..widths.len())
                    .map(|j| {
                        let e = Mat::from_fn(widths[j], widths[j - 1], |i, k| {
                            if i == k && i < r {
                                s[i].clone()
                            } else {
                                Q::new()
                            }
                        });
                        o[j].matmul(&e).prod(false, &o[j - 1], true)
                    })
                    .collect();
            Params::new(blocks)
        })
        .boxed()
}

/// The α-scaled initialization of `arch` in rationals: deep linear `W_j = α E_j` (`E_j` the
/// padded identity of the narrowest width, so balanced), `u = α·1, v = 0` for `u⊙v`
/// (`u² − v² = α²`), `u = v = α·1` for `u⊙u − v⊙v` (`β = 0`), `X, Y` α times padded identities
/// and `x = y = α e_1` for the two-factor problems.
pub fn alpha_scaled(arch: &Arch, alpha: &Q) -> Params<Q> {
    let a = alpha.clone();
    let r = match arch {
        Arch::DeepLinear { widths } => *widths.iter().min().expect("validated"),
        _ => usize::MAX,
    };
    let ones = |d: usize| Mat::from_fn(1, d, |_, _| a.clone());
    let blocks = match arch {
        Arch::DeepLinear { .. } => arch
            .param_shapes()
            .into_iter()
            .map(|(rows, cols)| Mat::from_fn(rows, cols, |i, k| if i == k && i < r { a.clone() } else { Q::new() }))
            .collect(),
        Arch::DiagonalUV { d } => vec![ones(*d), Mat::zeros(1, *d, &Q::new())],
        Arch::DiagonalSq { d } => vec![ones(*d), ones(*d)],
        Arch::Factor { .. } | Arch::FactorOp { .. } | Arch::SymFactor { .. } => {
            arch.param_shapes().into_iter().map(|(rows, cols)| Mat::eye(rows, cols, &Q::new()).scaled(&a)).collect()
        }
    };
    Params::new(blocks)
}

/// α-scaled initializations ([`alpha_scaled`]) with α ∈ `[1/8, 2]`.
pub fn alpha_init(arch: Arch) -> BoxedStrategy<Params<Q>> {
    rational(1..=4, 2..=8).prop_map(move |a| alpha_scaled(&arch, &a)).boxed()
}

fn skew(d: usize) -> BoxedStrategy<Mat<Q>> {
    let n = d * (d.saturating_sub(1)) / 2;
    prop::collection::vec(rational(-2..=2, 1..=2), n)
        .prop_map(move |v| {
            let mut m = Mat::zeros(d, d, &Q::new());
            let mut k = 0;
            for i in 0..d {
                for j in i + 1..d {
                    *m.get_mut(i, j) = v[k].clone();
                    *m.get_mut(j, i) = -v[k].clone();
                    k += 1;
                }
            }
            m
        })
        .boxed()
}

/// The Cayley transform `(I − A)(I + A)^{-1}` of a skew matrix `A`: a rational orthogonal matrix
/// (`I + A` is invertible because the eigenvalues of `A` are imaginary).
pub fn cayley(a: &Mat<Q>) -> Mat<Q> {
    let n = a.rows();
    let id = Mat::eye(n, n, &Q::new());
    let inv = inverse(&id.add(a)).expect("I + A is invertible for skew A");
    id.sub(a).matmul(&inv)
}

/// The inverse of a square rational matrix by Gauss–Jordan elimination (`None` if singular).
pub fn inverse(m: &Mat<Q>) -> Option<Mat<Q>> {
    let n = m.rows();
    let mut a = m.to_rows();
    let mut inv = Mat::eye(n, n, &Q::new()).to_rows();
    for col in 0..n {
        let piv = (col..n).find(|&i| a[i][col].cmp0() != std::cmp::Ordering::Equal)?;
        a.swap(col, piv);
        inv.swap(col, piv);
        let p = a[col][col].clone();
        for j in 0..n {
            a[col][j] /= &p;
            inv[col][j] /= &p;
        }
        for i in 0..n {
            if i != col && a[i][col].cmp0() != std::cmp::Ordering::Equal {
                let f = a[i][col].clone();
                for j in 0..n {
                    let (x, y) = (Q::from(&f * &a[col][j]), Q::from(&f * &inv[col][j]));
                    a[i][j] -= x;
                    inv[i][j] -= y;
                }
            }
        }
    }
    Mat::try_from_rows(inv).ok()
}
