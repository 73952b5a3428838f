//! Gradient flow $\dot\theta = -\nabla L(\theta)$, on the model's one gradient.

use crate::flow::VectorField;
use crate::model::{Model, Workspace};
use crate::params::Params;
use crate::scalar::Scalar;

/// Gradient flow `θ̇ = −∇L(θ)` (with the model's weight decay, if any).
pub struct GradientFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    ws: Option<Workspace<S>>,
}

impl<'a, S: Scalar> GradientFlow<'a, S> {
    /// The gradient flow of `model`.
    pub fn new(model: &'a Model<S>) -> Self {
        GradientFlow { model, ws: None }
    }
}

impl<S: Scalar> VectorField<S> for GradientFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
        self.model.grad_into(ws, y, None, dy);
        let m1 = y.proto().from_i64_like(-1);
        dy.scale_mut(&m1);
    }
    fn name(&self) -> String {
        "gradient flow".into()
    }
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        Some(self.model)
    }
}
