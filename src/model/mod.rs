//! Models: an [`Arch`]itecture (parameters → end-to-end matrix, and the pullback of a gradient)
//! composed with a [`Loss`] on the end-to-end matrix, plus optional weight decay.
//!
//! The gradient is written once:
//! $$\nabla_\theta \mathcal L(\theta) = D\phi_\theta^{\top}\bigl(\nabla E(\phi(\theta))\bigr) + \lambda\,\theta ,$$
//! where $\phi$ is the architecture's product map and $E$ the loss. Every optimizer and every flow
//! calls [`Model::grad_into`].

mod arch;
pub mod custom;
mod loss;
mod sparse;

pub use arch::Arch;
pub use custom::LossFn;
pub use loss::{Loss, Reduction};

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::params::Params;
use crate::scalar::Scalar;

/// Architecture × loss (+ weight decay): the objective `L(θ) = E(φ(θ)) + (λ/2)‖θ‖²`.
#[derive(Clone, Debug)]
pub struct Model<S> {
    /// The product map.
    pub arch: Arch,
    /// The loss on the end-to-end matrix.
    pub loss: Loss<S>,
    /// Weight-decay coefficient λ (`None` for none).
    pub weight_decay: Option<S>,
}

/// Scratch space for allocation-free gradients (one per thread).
#[derive(Clone, Debug)]
pub struct Workspace<S> {
    /// Prefix products `P_j = W_j⋯W_1` (deep linear) or the end-to-end matrix (others).
    prefix: Vec<Mat<S>>,
    /// Back-propagated loss gradients `A_j` (deep linear).
    back: Vec<Mat<S>>,
    /// Gradient of the loss with respect to the end-to-end matrix.
    g: Mat<S>,
    /// For a deep network under a sparsely observed completion loss: $P_{N-1}^\top$ and
    /// $A_{N-1}^\top$ (see `sparse.rs`).
    sparse: Option<(Mat<S>, Mat<S>)>,
}

impl<S> Workspace<S> {
    /// Whether gradients with this workspace use the sparsity of a completion loss's residual
    /// (a deep network with at most a quarter of the entries observed; see `model/sparse.rs`).
    pub fn sparse_residual(&self) -> bool {
        self.sparse.is_some()
    }
}

impl Model<f64> {
    /// The same model with data converted exactly to the number type of `proto` (exact for
    /// rationals and MPFR of at least 53 bits).
    pub fn cast<T: Scalar>(&self, proto: &T) -> Model<T> {
        self.map(|x| proto.from_f64_like(*x))
    }
}

impl<S: Scalar> Model<S> {
    /// Builds a model, checking that the loss acts on matrices of the architecture's end-to-end
    /// shape.
    pub fn new(arch: Arch, loss: Loss<S>) -> Result<Self> {
        arch.validate()?;
        let want = arch.output_shape();
        let got = loss.shape();
        if want != got {
            return Err(Error::dim(
                "loss target / data",
                format!("end-to-end shape {}x{} of {}", want.0, want.1, arch.name()),
                format!("{}x{}", got.0, got.1),
            ));
        }
        Ok(Model { arch, loss, weight_decay: None })
    }

    /// Adds weight decay `(λ/2)Σ‖W_j‖²` (λ ≥ 0).
    pub fn with_weight_decay(mut self, lambda: S) -> Result<Self> {
        if lambda < lambda.zero_like() || !lambda.is_finite() {
            return Err(Error::invalid("weight_decay", format!("must be finite and >= 0, got {lambda}")));
        }
        self.weight_decay = Some(lambda);
        Ok(self)
    }

    /// Checks that `p` has the architecture's block shapes and finite entries.
    pub fn check_params(&self, p: &Params<S>) -> Result<()> {
        let want = self.arch.param_shapes();
        let got = p.shapes();
        if want != got {
            return Err(Error::dim("parameters", format!("{want:?}"), format!("{got:?}")));
        }
        if !p.is_finite() {
            return Err(Error::invalid("parameters", "all entries must be finite"));
        }
        Ok(())
    }

    /// Scratch space for [`Model::grad_into`].
    pub fn workspace(&self, proto: &S) -> Workspace<S> {
        let (prefix, back) = match &self.arch {
            Arch::DeepLinear { widths } => {
                let d0 = widths[0];
                let n = widths.len() - 1;
                (
                    (1..=n).map(|j| Mat::zeros(widths[j], d0, proto)).collect(),
                    (0..=n).map(|j| Mat::zeros(widths[j], d0, proto)).collect(),
                )
            }
            _ => {
                let (r, c) = self.arch.output_shape();
                (vec![Mat::zeros(r, c, proto)], Vec::new())
            }
        };
        let (r, c) = self.arch.output_shape();
        let sparse = match (&self.arch, &self.loss) {
            (Arch::DeepLinear { widths }, Loss::Completion { entries, .. })
                if widths.len() >= 3 && sparse::worth_it(entries.len(), r, c) =>
            {
                let k = widths[widths.len() - 2];
                Some((Mat::zeros(c, k, proto), Mat::zeros(c, k, proto)))
            }
            _ => None,
        };
        Workspace { prefix, back, g: Mat::zeros(r, c, proto), sparse }
    }

    /// End-to-end matrix φ(θ).
    pub fn end_to_end(&self, p: &Params<S>) -> Mat<S> {
        self.arch.product(p)
    }

    /// Loss value on all the data.
    pub fn loss(&self, p: &Params<S>) -> S {
        let w = self.end_to_end(p);
        let mut v = self.loss.value(&w, None);
        if let Some(l) = &self.weight_decay {
            let half = l.ratio_like(1, 2);
            v += &(half * l.clone() * p.norm_sq());
        }
        v
    }

    /// Gradient (allocating). Returns `(L(θ), ∇L(θ))`.
    pub fn grad(&self, p: &Params<S>) -> (S, Params<S>) {
        let mut ws = self.workspace(&p.proto());
        let mut out = p.zeros_like();
        let v = self.grad_into(&mut ws, p, None, &mut out);
        (v, out)
    }

    /// Gradient on a mini-batch of samples (`None`: all data) written into `out`; returns the
    /// (mini-batch) loss. No allocation for `f64` deep linear nets with a target or regression loss.
    pub fn grad_into(&self, ws: &mut Workspace<S>, p: &Params<S>, batch: Option<&[usize]>, out: &mut Params<S>) -> S {
        let mut value = match (&self.arch, &self.loss) {
            (Arch::DeepLinear { .. }, Loss::Completion { entries, reduction, .. }) if ws.sparse.is_some() => {
                sparse::grad_completion(ws, &p.blocks, entries, *reduction, batch, out)
            }
            (Arch::DeepLinear { .. }, _) => {
                let w = &p.blocks;
                let n = w.len();
                // Prefix products P_1 = W_1, P_j = W_j P_{j-1}.
                ws.prefix[0].clone_from(&w[0]);
                for j in 1..n {
                    let (done, rest) = ws.prefix.split_at_mut(j);
                    Mat::gemm_into(&w[j], false, &done[j - 1], false, false, &mut rest[0]);
                }
                let v = self.loss.value_grad(&ws.prefix[n - 1], batch, &mut ws.g);
                // Backward: A_N = G; G_j = A_j P_{j-1}^T; A_{j-1} = W_j^T A_j.
                ws.back[n].clone_from(&ws.g);
                for j in (1..=n).rev() {
                    if j > 1 {
                        Mat::gemm_into(&ws.back[j], false, &ws.prefix[j - 2], true, false, &mut out.blocks[j - 1]);
                        let (lo, hi) = ws.back.split_at_mut(j);
                        Mat::gemm_into(&w[j - 1], true, &hi[0], false, false, &mut lo[j - 1]);
                    } else {
                        out.blocks[0].clone_from(&ws.back[1]);
                    }
                }
                v
            }
            (arch, _) => {
                arch.product_into(p, &mut ws.prefix[0]);
                let v = self.loss.value_grad(&ws.prefix[0], batch, &mut ws.g);
                arch.pullback(p, &ws.g, out);
                v
            }
        };
        if let Some(l) = &self.weight_decay {
            out.axpy(l, p);
            let half = l.ratio_like(1, 2);
            value += &(half * l.clone() * p.norm_sq());
        }
        value
    }

    /// The same model in another number type (data converted entry by entry with `f`).
    pub fn map<T: Scalar>(&self, f: impl Fn(&S) -> T) -> Model<T> {
        Model { arch: self.arch.clone(), loss: self.loss.map(&f), weight_decay: self.weight_decay.as_ref().map(&f) }
    }

    /// Number of samples a mini-batch can be drawn from (`None` if the loss has no samples).
    pub fn n_samples(&self) -> Option<usize> {
        self.loss.n_samples()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_layer_gradient_matches_hand_formula() {
        // W = W2 W1, E = ½‖W − Φ‖²: ∂/∂W1 = W2ᵀ(W−Φ), ∂/∂W2 = (W−Φ)W1ᵀ.
        let w1 = Mat::from_fn(3, 2, |i, j| (i + 2 * j) as f64 * 0.25 - 0.5);
        let w2 = Mat::from_fn(2, 3, |i, j| (i as f64 - j as f64) * 0.5);
        let phi = Mat::from_fn(2, 2, |i, j| (i + j) as f64);
        let m = Model::new(Arch::deep_linear(&[2, 3, 2]).unwrap(), Loss::target(phi.clone())).unwrap();
        let p = Params::new(vec![w1.clone(), w2.clone()]);
        let (_, g) = m.grad(&p);
        let r = w2.matmul(&w1).sub(&phi);
        assert_eq!(g.blocks[0], w2.prod(true, &r, false));
        assert_eq!(g.blocks[1], r.prod(false, &w1, true));
    }
}
