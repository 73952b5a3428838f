use super::custom::{LossFn, Rounded};
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use std::sync::Arc;

/// A loss `E(W)` on the end-to-end matrix, with its gradient.
///
/// | variant | `E(W)` | samples for mini-batches |
/// |---|---|---|
/// | `Target` | `½‖W − Φ‖²_F` | none |
/// | `Regression` | `(1/2n)‖WX − Y‖²_F`, samples are the `n` columns of `X`, `Y` | columns |
/// | `Sensing` | `(1/2m)Σ_i (⟨A_i, W⟩ − y_i)²` | measurements |
/// | `Completion` | `½Σ_{(i,j)∈Ω} (W_ij − M_ij)²` | observed entries |
/// | `Custom` | a user's [`LossFn`] (see [`super::custom`]) | none |
///
/// Sensing and completion losses take a [`Reduction`] ([`Loss::with_reduction`]): the defaults
/// above, or the mean squared error `(1/m)Σ r_i²` (no ½) of the matrix-factorization papers. The
/// reduction is a constant factor on the one value and gradient computation, not a separate path.
#[derive(Clone, Debug)]
pub enum Loss<S> {
    /// `½‖W − Φ‖²`.
    Target {
        /// Φ.
        phi: Mat<S>,
    },
    /// `(1/2n)‖WX − Y‖²`.
    Regression {
        /// Inputs, `d_0 × n` (samples are columns).
        x: Mat<S>,
        /// Outputs, `d_N × n`.
        y: Mat<S>,
        /// `Σxx = XXᵀ/n`.
        sxx: Mat<S>,
        /// `Σyx = YXᵀ/n`.
        syx: Mat<S>,
    },
    /// `(1/2m)Σ(⟨A_i, W⟩ − y_i)²`.
    Sensing {
        /// Measurement matrices, all of the end-to-end shape.
        a: Vec<Mat<S>>,
        /// Measurements.
        y: Vec<S>,
        /// How the squared residuals are summed (default [`Reduction::HalfMean`]).
        reduction: Reduction,
    },
    /// A user's own loss ([`LossFn`]): value and gradient on the end-to-end matrix, no samples
    /// (build it with [`Loss::custom`]).
    Custom {
        /// The loss.
        f: Arc<dyn LossFn<S>>,
        /// A number of the loss's type and precision (`0.0` for `f64`), for conversions.
        proto: S,
    },
    /// `½Σ_Ω (W_ij − M_ij)²`.
    Completion {
        /// Shape of `W`.
        shape: (usize, usize),
        /// Observed entries `(i, j, M_ij)`.
        entries: Vec<(usize, usize, S)>,
        /// How the squared residuals are summed (default [`Reduction::HalfSum`]).
        reduction: Reduction,
    },
}

/// How a sensing or completion loss combines the squared residuals $r_i^2$ of its $m$ samples
/// (of the mini-batch, when there is one): the value is $c\sum_i r_i^2$ and the gradient
/// $2c\sum_i r_i\,\partial r_i$.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// $c = \tfrac12$: $\tfrac12\sum_i r_i^2$ (completion's default).
    HalfSum,
    /// $c = \tfrac1{2m}$: $\tfrac1{2m}\sum_i r_i^2$ (sensing's default).
    HalfMean,
    /// $c = \tfrac1m$: the mean squared error $\tfrac1m\sum_i r_i^2$, as in Arora, Cohen, Hu and
    /// Luo (2019).
    Mean,
}

impl Reduction {
    /// The factor $c$ for `m` samples, like `proto`.
    pub(crate) fn factor<S: Scalar>(self, m: usize, proto: &S) -> S {
        match self {
            Reduction::HalfSum => proto.ratio_like(1, 2),
            Reduction::HalfMean => proto.ratio_like(1, 2 * m.max(1) as i64),
            Reduction::Mean => proto.ratio_like(1, m.max(1) as i64),
        }
    }
}

impl<S: Scalar> Loss<S> {
    /// `½‖W − Φ‖²`.
    pub fn target(phi: Mat<S>) -> Self {
        Loss::Target { phi }
    }

    /// A user's own loss `f` in the number type and precision of `proto` (`&0.0` for `f64`).
    pub fn custom(f: impl LossFn<S> + 'static, proto: &S) -> Self {
        Loss::Custom { f: Arc::new(f), proto: proto.clone() }
    }

    /// `(1/2n)‖WX − Y‖²` from inputs `X` (`d_0×n`) and outputs `Y` (`d_N×n`).
    pub fn regression(x: Mat<S>, y: Mat<S>) -> Result<Self> {
        if x.cols() != y.cols() || x.cols() == 0 {
            return Err(Error::dim(
                "regression data",
                "X (d_0 x n) and Y (d_N x n) with the same n >= 1 samples (columns)",
                format!("X {}x{}, Y {}x{}", x.rows(), x.cols(), y.rows(), y.cols()),
            ));
        }
        let inv_n = x.proto().ratio_like(1, x.cols() as i64);
        let sxx = x.prod(false, &x, true).scaled(&inv_n);
        let syx = y.prod(false, &x, true).scaled(&inv_n);
        Ok(Loss::Regression { x, y, sxx, syx })
    }

    /// `(1/2m)Σ(⟨A_i, W⟩ − y_i)²`.
    pub fn sensing(a: Vec<Mat<S>>, y: Vec<S>) -> Result<Self> {
        if a.is_empty() || a.len() != y.len() {
            return Err(Error::dim(
                "sensing data",
                "m >= 1 matrices A_i and m values y_i",
                format!("{} and {}", a.len(), y.len()),
            ));
        }
        let s = a[0].shape();
        if let Some(i) = a.iter().position(|m| m.shape() != s) {
            return Err(Error::dim(
                format!("sensing matrix A_{i}"),
                format!("{}x{}", s.0, s.1),
                format!("{:?}", a[i].shape()),
            ));
        }
        Ok(Loss::Sensing { a, y, reduction: Reduction::HalfMean })
    }

    /// `½Σ_Ω (W_ij − M_ij)²` on observed entries of a `rows×cols` matrix.
    pub fn completion(shape: (usize, usize), entries: Vec<(usize, usize, S)>) -> Result<Self> {
        if let Some((i, j, _)) = entries.iter().find(|(i, j, _)| *i >= shape.0 || *j >= shape.1) {
            return Err(Error::dim(
                "completion entry",
                format!("indices below {}x{}", shape.0, shape.1),
                format!("({i}, {j})"),
            ));
        }
        if entries.is_empty() {
            return Err(Error::invalid("entries", "matrix completion needs at least one observed entry"));
        }
        Ok(Loss::Completion { shape, entries, reduction: Reduction::HalfSum })
    }

    /// The same sensing or completion loss with another [`Reduction`]; an error for the target
    /// and regression losses, whose scaling is fixed.
    pub fn with_reduction(self, r: Reduction) -> Result<Self> {
        match self {
            Loss::Sensing { a, y, .. } => Ok(Loss::Sensing { a, y, reduction: r }),
            Loss::Completion { shape, entries, .. } => Ok(Loss::Completion { shape, entries, reduction: r }),
            _ => Err(Error::invalid("reduction", "only sensing and completion losses take a reduction")),
        }
    }

    /// The loss's reduction (`None` for target and regression losses).
    pub fn reduction(&self) -> Option<Reduction> {
        match self {
            Loss::Sensing { reduction, .. } | Loss::Completion { reduction, .. } => Some(*reduction),
            _ => None,
        }
    }

    /// Shape of the matrices the loss acts on.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Loss::Target { phi } => phi.shape(),
            Loss::Regression { x, y, .. } => (y.rows(), x.rows()),
            Loss::Sensing { a, .. } => a[0].shape(),
            Loss::Completion { shape, .. } => *shape,
            Loss::Custom { f, .. } => f.shape(),
        }
    }

    /// The name of a custom loss (`None` for the built-in ones).
    pub fn custom_name(&self) -> Option<String> {
        match self {
            Loss::Custom { f, .. } => Some(f.name()),
            _ => None,
        }
    }

    /// An error naming a custom loss for a code path (`what`) that needs the loss's structure;
    /// `Ok` for the built-in losses.
    pub fn refuse_custom(&self, what: &str) -> Result<()> {
        match self.custom_name() {
            Some(name) => Err(Error::Unsupported(format!(
                "{what} needs the loss's structure; the custom loss \"{name}\" gives only its value and gradient"
            ))),
            None => Ok(()),
        }
    }

    /// Number of samples for mini-batches.
    pub fn n_samples(&self) -> Option<usize> {
        match self {
            Loss::Target { .. } | Loss::Custom { .. } => None,
            Loss::Regression { x, .. } => Some(x.cols()),
            Loss::Sensing { a, .. } => Some(a.len()),
            Loss::Completion { entries, .. } => Some(entries.len()),
        }
    }

    /// `E(W)` on all data (`batch = None`) or on the given samples.
    pub fn value(&self, w: &Mat<S>, batch: Option<&[usize]>) -> S {
        let mut g = w.zeros_like();
        self.value_grad(w, batch, &mut g)
    }

    /// `E(W)` and `∇E(W)` (into `g`) on all data or a mini-batch.
    pub fn value_grad(&self, w: &Mat<S>, batch: Option<&[usize]>, g: &mut Mat<S>) -> S {
        let half = w.proto().ratio_like(1, 2);
        match self {
            Loss::Target { phi } => {
                let mut v = w.proto();
                for ((gi, wi), pi) in g.as_mut_slice().iter_mut().zip(w.as_slice()).zip(phi.as_slice()) {
                    gi.clone_from(wi);
                    *gi -= pi;
                    v.mul_add_assign(gi, gi);
                }
                v * half
            }
            Loss::Regression { x, y, sxx, syx } => match batch {
                None => {
                    let n = x.cols();
                    let mut r = y.clone();
                    Mat::gemm_into(w, false, x, false, false, &mut r);
                    for (ri, yi) in r.as_mut_slice().iter_mut().zip(y.as_slice()) {
                        *ri -= yi;
                    }
                    let inv_n = w.proto().ratio_like(1, n as i64);
                    if n <= x.rows() {
                        Mat::gemm_into(&r, false, x, true, false, g);
                        g.scale_mut(&inv_n);
                    } else {
                        Mat::gemm_into(w, false, sxx, false, false, g);
                        for (gi, si) in g.as_mut_slice().iter_mut().zip(syx.as_slice()) {
                            *gi -= si;
                        }
                    }
                    r.norm_sq() * half * inv_n
                }
                Some(idx) => {
                    let xb = Mat::from_fn(x.rows(), idx.len(), |i, k| x.get(i, idx[k]).clone());
                    let yb = Mat::from_fn(y.rows(), idx.len(), |i, k| y.get(i, idx[k]).clone());
                    let r = w.matmul(&xb).sub(&yb);
                    let inv_b = w.proto().ratio_like(1, idx.len() as i64);
                    Mat::gemm_into(&r, false, &xb, true, false, g);
                    g.scale_mut(&inv_b);
                    r.norm_sq() * half * inv_b
                }
            },
            Loss::Sensing { a, y, reduction } => {
                let all: Vec<usize>;
                let idx = match batch {
                    Some(i) => i,
                    None => {
                        all = (0..a.len()).collect();
                        &all
                    }
                };
                for gi in g.as_mut_slice() {
                    *gi = gi.zero_like();
                }
                let mut v = w.proto();
                for &i in idx {
                    let r = a[i].dot(w) - y[i].clone();
                    v.mul_add_assign(&r, &r);
                    g.axpy(&r, &a[i]);
                }
                let c = reduction.factor(idx.len(), &v);
                g.scale_mut(&(c.clone() + c.clone()));
                v * c
            }
            Loss::Completion { entries, reduction, .. } => {
                for gi in g.as_mut_slice() {
                    *gi = gi.zero_like();
                }
                let mut v = w.proto();
                let mut add = |k: usize| {
                    let (i, j, m) = &entries[k];
                    let r = w.get(*i, *j).clone() - m.clone();
                    v.mul_add_assign(&r, &r);
                    *g.get_mut(*i, *j) += &r;
                };
                let m = match batch {
                    Some(idx) => {
                        idx.iter().for_each(|&k| add(k));
                        idx.len()
                    }
                    None => {
                        (0..entries.len()).for_each(add);
                        entries.len()
                    }
                };
                let c = reduction.factor(m, &v);
                if *reduction != Reduction::HalfSum {
                    g.scale_mut(&(c.clone() + c.clone()));
                }
                v * c
            }
            Loss::Custom { f, .. } => {
                f.grad(w, g);
                f.value(w)
            }
        }
    }

    /// Converts the data to another number type (a [`Loss::Custom`] is evaluated in its own type,
    /// through `f64`: see [`super::custom`]).
    pub fn map<T: Scalar>(&self, f: &impl Fn(&S) -> T) -> Loss<T> {
        match self {
            Loss::Target { phi } => Loss::Target { phi: phi.map(f) },
            // Σxx and Σyx are recomputed in the new type, so that they are exact for rationals.
            Loss::Regression { x, y, .. } => Loss::regression(x.map(f), y.map(f)).expect("shapes were checked"),
            Loss::Sensing { a, y, reduction } => Loss::Sensing {
                a: a.iter().map(|m| m.map(f)).collect(),
                y: y.iter().map(f).collect(),
                reduction: *reduction,
            },
            Loss::Completion { shape, entries, reduction } => Loss::Completion {
                shape: *shape,
                entries: entries.iter().map(|(i, j, m)| (*i, *j, f(m))).collect(),
                reduction: *reduction,
            },
            // The loss stays in its own number type (see `custom::Rounded`); the paths that need
            // exact derivatives through it refuse it before mapping.
            Loss::Custom { f: inner, proto } => {
                let bridge = Rounded::<S, T> { inner: inner.clone(), proto: proto.clone(), _to: PhantomData };
                Loss::Custom { f: Arc::new(bridge), proto: f(proto) }
            }
        }
    }
}
