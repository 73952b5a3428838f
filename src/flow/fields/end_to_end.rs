//! The Arora–Cohen–Hazan end-to-end flow of a deep linear network, on its product alone
//! (derivation: `proofs/end_to_end.md`; the formulas at any precision are in
//! [`crate::closed_form::end_to_end`]).

use crate::error::{Error, Result};
use crate::flow::VectorField;
use crate::linalg::psd_power_eig;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;

/// The end-to-end flow of a depth-$N$ linear network with loss ℓ and weight decay λ on its
/// product $X = W_N\cdots W_1$,
/// $$\dot X = -\lambda N X - \sum_{j=1}^N (XX^\top)^{\frac{j-1}{N}}\,\nabla\ell(X)\,(X^\top X)^{\frac{N-j}{N}},$$
/// which the product follows exactly under gradient flow from a balanced start
/// ($W_{j+1}^\top W_{j+1} = W_jW_j^\top$). The state is the single block $X$ (`d_N×d_0`). `f64`
/// only: fractional powers come from symmetric eigendecompositions (nalgebra), see [`F64_CUT`](crate::linalg::F64_CUT).
#[derive(Clone, Debug)]
pub struct EndToEndFlow {
    loss: Loss<f64>,
    depth: usize,
    lambda: f64,
    g: Mat<f64>,
}

impl EndToEndFlow {
    /// The end-to-end flow of the deep linear model `deep` (its loss, depth and weight decay),
    /// and the depth-1 model on $X$ with the same loss (no decay), with which
    /// [`crate::flow::solve`] checks states and evaluates the loss. Precondition: `deep` is a deep
    /// linear network.
    pub fn new(deep: &Model<f64>) -> Result<(Self, Model<f64>)> {
        let Arch::DeepLinear { widths } = &deep.arch else {
            return Err(Error::Precondition {
                reference: "end-to-end flow".into(),
                message: format!("the model must be a deep linear network, got {}", deep.arch.name()),
            });
        };
        let n = widths.len() - 1;
        let e2e = Model::new(Arch::deep_linear(&[widths[0], widths[n]])?, deep.loss.clone())?;
        let flow = Self::of_loss(deep.loss.clone(), n, deep.weight_decay.unwrap_or(0.0))?;
        Ok((flow, e2e))
    }

    /// The end-to-end flow of depth `depth` ≥ 1 for the loss `loss` on $X$ and weight decay
    /// `lambda` ≥ 0 of the factors.
    pub fn of_loss(loss: Loss<f64>, depth: usize, lambda: f64) -> Result<Self> {
        if depth == 0 {
            return Err(Error::invalid("depth", "must be at least 1"));
        }
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::invalid("lambda", format!("weight decay must be finite and >= 0, got {lambda}")));
        }
        let (r, c) = loss.shape();
        Ok(EndToEndFlow { loss, depth, lambda, g: Mat::zeros(r, c, &0.0) })
    }

    /// $\dot X$ at `x` (allocating); `x` must have the loss's shape and finite entries.
    pub fn field(&mut self, x: &Mat<f64>) -> Result<Mat<f64>> {
        if x.shape() != self.g.shape() {
            return Err(Error::dim("end-to-end matrix", format!("{:?}", self.g.shape()), format!("{:?}", x.shape())));
        }
        if !x.is_finite() {
            return Err(Error::invalid("x", "end-to-end matrix must have finite entries"));
        }
        self.loss.value_grad(x, None, &mut self.g);
        let n = self.depth;
        let xn = x.to_na();
        let left = (&xn * xn.transpose()).symmetric_eigen();
        let right = (xn.transpose() * &xn).symmetric_eigen();
        let g = self.g.to_na();
        let mut out = &xn * (-self.lambda * n as f64);
        for j in 1..=n {
            let a = psd_power_eig(&left, (j - 1) as f64 / n as f64);
            let b = psd_power_eig(&right, (n - j) as f64 / n as f64);
            out -= a * &g * b;
        }
        Ok(Mat::from_na(&out))
    }
}

impl VectorField<f64> for EndToEndFlow {
    fn eval(&mut self, _t: &f64, y: &Params<f64>, dy: &mut Params<f64>) {
        // A state of the wrong shape is rejected by `solve` before the first evaluation; a
        // non-finite state gives NaN, which the integrator reports as a non-finite outcome.
        dy.blocks[0] = self.field(&y.blocks[0]).unwrap_or_else(|_| y.blocks[0].map(|_| f64::NAN));
    }
    fn name(&self) -> String {
        format!("end-to-end flow (N = {})", self.depth)
    }
}
