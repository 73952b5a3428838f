//! Initializations.
//!
//! All are built in `f64` (seeded, bit-identical across machines) and converted exactly to other
//! number types with [`Params::cast`].

use crate::data;
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::Arch;
use crate::params::Params;
use rand_chacha::ChaCha8Rng;

/// Gaussian blocks with entries `N(0, scale²)`, block after block in parameter order.
pub fn gaussian(arch: &Arch, scale: f64, rng: &mut ChaCha8Rng) -> Params<f64> {
    Params::new(arch.param_shapes().into_iter().map(|(r, c)| data::gaussian(r, c, scale, rng)).collect())
}

/// Rectangular identities (`I` padded with zeros) for every block, scaled by `scale`.
pub fn identity(arch: &Arch, scale: f64) -> Params<f64> {
    Params::new(arch.param_shapes().into_iter().map(|(r, c)| Mat::eye(r, c, &0.0).scaled(&scale)).collect())
}

/// Random orthogonal (or semi-orthogonal) blocks from the QR factorization of Gaussian matrices.
pub fn orthogonal(arch: &Arch, scale: f64, rng: &mut ChaCha8Rng) -> Params<f64> {
    let blocks = arch
        .param_shapes()
        .into_iter()
        .map(|(r, c)| {
            let n = r.max(c);
            let g = data::gaussian(n, n, 1.0, rng).to_na();
            let q = g.qr().q();
            Mat::from_fn(r, c, |i, j| scale * q[(i, j)])
        })
        .collect();
    Params::new(blocks)
}

/// Explicit blocks, checked against the architecture.
pub fn explicit(arch: &Arch, blocks: Vec<Mat<f64>>) -> Result<Params<f64>> {
    let p = Params::new(blocks);
    if p.shapes() != arch.param_shapes() {
        return Err(Error::dim(
            "explicit initialization",
            format!("{:?}", arch.param_shapes()),
            format!("{:?}", p.shapes()),
        ));
    }
    if !p.is_finite() {
        return Err(Error::invalid("init", "explicit matrices must have finite entries"));
    }
    Ok(p)
}

/// Balanced initialization of a deep linear network with end-to-end matrix `target`
/// (Procedure 1 of Arora–Cohen–Golowich–Hu): with `target = UΣVᵀ` and `S = Σ^{1/N}`,
/// `W_N = U S`, `W_j = S`, `W_1 = S Vᵀ`, each padded with zeros to its shape. The product equals
/// `target` when its rank is at most the smallest width, and `W_{j+1}ᵀW_{j+1} = W_jW_jᵀ` holds.
///
/// ```
/// use linflow::{init, mat::Mat, model::Arch};
/// let arch = Arch::deep_linear(&[3, 4, 3, 3]).unwrap();
/// let target = Mat::from_fn(3, 3, |i, j| if i == j { 1.0 + i as f64 } else { 0.1 });
/// let p = init::balanced(&arch, &target).unwrap();
/// let c = p.blocks[1].gram_t().sub(&p.blocks[0].gram());
/// assert!(c.max_abs().unwrap() < 1e-12);
/// ```
pub fn balanced(arch: &Arch, target: &Mat<f64>) -> Result<Params<f64>> {
    let Arch::DeepLinear { widths } = arch else {
        return Err(Error::invalid("init", "balanced initialization is for deep linear networks"));
    };
    let n = widths.len() - 1;
    let (dn, d0) = (widths[n], widths[0]);
    if target.shape() != (dn, d0) {
        return Err(Error::dim("balanced init target", format!("{dn}x{d0}"), format!("{:?}", target.shape())));
    }
    let svd = target.to_na().svd(true, true);
    let (u, vt) = (svd.u.expect("requested"), svd.v_t.expect("requested"));
    let r = *widths.iter().min().expect("non-empty");
    let s: Vec<f64> = (0..r).map(|i| svd.singular_values.get(i).copied().unwrap_or(0.0).powf(1.0 / n as f64)).collect();
    let rank = svd.singular_values.iter().filter(|&&x| x > 1e-12 * svd.singular_values.max()).count();
    if rank > r {
        return Err(Error::invalid(
            "init",
            format!("target has rank {rank} but the narrowest width is {r}: no balanced factorization reproduces it"),
        ));
    }
    let mut blocks = Vec::with_capacity(n);
    for j in 1..=n {
        let (rows, cols) = (widths[j], widths[j - 1]);
        let m = if n == 1 {
            target.clone()
        } else if j == 1 {
            Mat::from_fn(rows, cols, |i, k| if i < r { s[i] * vt[(i, k)] } else { 0.0 })
        } else if j == n {
            Mat::from_fn(rows, cols, |i, k| if k < r { u[(i, k)] * s[k] } else { 0.0 })
        } else {
            Mat::from_fn(rows, cols, |i, k| if i == k && i < r { s[i] } else { 0.0 })
        };
        blocks.push(m);
    }
    Ok(Params::new(blocks))
}

/// Diagonal networks at scale α: `u = √2·α·1, v = 0` for `β = u⊙v` (so `u² − v² = 2α²`), and
/// `u = v = α·1` for `β = u² − v²` (so `β = 0`). Other architectures are rejected.
pub fn diagonal_alpha(arch: &Arch, alpha: f64) -> Result<Params<f64>> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(Error::invalid("alpha", format!("must be finite and > 0, got {alpha}")));
    }
    match arch {
        Arch::DiagonalUV { d } => {
            Ok(Params::new(vec![Mat::from_fn(1, *d, |_, _| 2f64.sqrt() * alpha), Mat::zeros(1, *d, &0.0)]))
        }
        Arch::DiagonalSq { d } => {
            Ok(Params::new(vec![Mat::from_fn(1, *d, |_, _| alpha), Mat::from_fn(1, *d, |_, _| alpha)]))
        }
        _ => Err(Error::invalid("init", "the alpha-scaled initialization is for diagonal networks")),
    }
}
