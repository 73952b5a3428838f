//! Laws: what a quantity should do along a run (conserved, non-increasing, an exact per-step drift,
//! a known function of time), with the exact per-step identities of each discrete method.

use super::quantities::{Balancedness, DiagonalBalance, FactorBalance, Quantity};
use crate::mat::Mat;
use crate::model::{Arch, Model};
use crate::optim::{BarKind, StepRecord};
use crate::scalar::Scalar;
use std::sync::Arc;

/// Predicts a quantity's value after a discrete step from what the step computed.
pub type DriftFn<S> = Arc<dyn Fn(&Model<S>, &StepRecord<S>) -> Vec<Mat<S>> + Send + Sync>;
/// Predicts a quantity's value at time `t` from its initial value.
pub type PredictFn<S> = Arc<dyn Fn(&S, &[Mat<S>]) -> Vec<Mat<S>> + Send + Sync>;

/// What a quantity should do along a run.
#[derive(Clone)]
pub enum Law<S> {
    /// Constant in time.
    Conserved,
    /// A scalar that never increases.
    NonIncreasing,
    /// Each discrete step changes the value exactly as the formula says.
    ExactDrift {
        /// Formula name for reports.
        name: String,
        /// The prediction.
        f: DriftFn<S>,
    },
    /// A known function of time and the initial value (e.g. `e^{−2λt}μ(0)`).
    Predicted {
        /// Formula name for reports.
        name: String,
        /// The prediction.
        f: PredictFn<S>,
    },
}

impl<S: Scalar> std::fmt::Debug for Law<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl<S: Scalar> Law<S> {
    /// Name for reports.
    pub fn name(&self) -> String {
        match self {
            Law::Conserved => "conserved".into(),
            Law::NonIncreasing => "non-increasing".into(),
            Law::ExactDrift { name, .. } => format!("exact drift: {name}"),
            Law::Predicted { name, .. } => format!("predicted: {name}"),
        }
    }

    /// `Q(t) = e^{−rate·t} Q(0)` (weight decay λ makes the moment map decay at rate `2λ`).
    pub fn exp_decay(rate: S) -> Self
    where
        S: crate::scalar::Real,
    {
        Law::Predicted {
            name: format!("Q(t) = exp(-{} t) Q(0)", rate.to_f64()),
            f: Arc::new(move |t, q0| {
                let k = (-(rate.clone() * t.clone())).exp();
                q0.iter().map(|m| m.scaled(&k)).collect()
            }),
        }
    }

    /// GD/SGD on a deep linear net with weight decay λ:
    /// `C_j⁺ = (1−ηλ)²C_j + η²(A_{j+1}ᵀA_{j+1} − A_jA_jᵀ)` with `A_j = ∂E/∂W_j` (loss without decay).
    pub fn gd_balancedness(eta: S) -> Self {
        Law::ExactDrift {
            name: "C+ = (1-eta*lambda)^2 C + eta^2 (A_{j+1}^T A_{j+1} - A_j A_j^T)".into(),
            f: Arc::new(move |model, rec| {
                let mut a = rec.grads[0].clone();
                let one = eta.one_like();
                let mut shrink = one.clone();
                if let Some(l) = &model.weight_decay {
                    a.axpy(&-l.clone(), &rec.before);
                    shrink = one - eta.clone() * l.clone();
                }
                let c = Balancedness.eval(model, &rec.before);
                let s2 = shrink.square();
                let e2 = eta.square();
                c.iter()
                    .enumerate()
                    .map(|(j, cj)| {
                        let d = a.blocks[j + 1].gram_t().sub(&a.blocks[j].gram());
                        cj.scaled(&s2).add(&d.scaled(&e2))
                    })
                    .collect()
            }),
        }
    }

    /// GD/SGD on a diagonal net (weight decay λ allowed):
    /// `u²−v²` multiplies by `(1−ηλ)² − η²g_i²` (`β = u⊙v`), `u⊙v` by `(1−ηλ)² − 4η²g_i²`
    /// (`β = u²−v²`), with `g = ∂E/∂β` at the step's point and batch.
    pub fn gd_diagonal(eta: S) -> Self {
        Law::ExactDrift {
            name: "Delta+ = ((1-eta*lambda)^2 - c eta^2 g^2) Delta".into(),
            f: Arc::new(move |model, rec| {
                let beta = model.arch.product(&rec.before);
                let mut g = beta.zeros_like();
                model.loss.value_grad(&beta, rec.batch.as_deref(), &mut g);
                let one = eta.one_like();
                let shrink = match &model.weight_decay {
                    Some(l) => one - eta.clone() * l.clone(),
                    None => one,
                };
                let c = eta.from_i64_like(if matches!(model.arch, Arch::DiagonalSq { .. }) { 4 } else { 1 });
                let d0 = DiagonalBalance.eval(model, &rec.before).remove(0);
                let s2 = shrink.square();
                vec![Mat::from_fn(1, d0.cols(), |_, i| {
                    let gi = g.get(0, i);
                    let f = s2.clone() - c.clone() * eta.square() * gi.square();
                    f * d0.get(0, i).clone()
                })]
            }),
        }
    }

    /// SAM/USAM/GD on a two-factor problem (no weight decay), any ascent factor `u`:
    /// `ΔB = ηρu(⟨g_x,h_x⟩ − ⟨g_y,h_y⟩) + (η²/2)(‖h_x‖² − ‖h_y‖²)`, `h` the gradient at the
    /// perturbed point (`h = g`, `ρ = 0` for GD).
    pub fn sam_factor(eta: S, rho: S) -> Self {
        Law::ExactDrift {
            name: "dB = eta rho u (<g_x,h_x> - <g_y,h_y>) + eta^2/2 (|h_x|^2 - |h_y|^2)".into(),
            f: Arc::new(move |model, rec| {
                let g = &rec.grads[0];
                let h = rec.grads.last().expect("at least one gradient");
                let b0 = FactorBalance.eval(model, &rec.before).remove(0);
                let mut db = h.blocks[0].norm_sq() - h.blocks[1].norm_sq();
                db *= &(eta.square() * eta.ratio_like(1, 2));
                if let Some(u) = &rec.ascent {
                    let c = g.blocks[0].dot(&h.blocks[0]) - g.blocks[1].dot(&h.blocks[1]);
                    db += &(eta.clone() * rho.clone() * u.clone() * c);
                }
                vec![b0.add(&Mat::from_vec(1, 1, vec![db]))]
            }),
        }
    }

    /// Heavy-ball momentum on a diagonal net `β = u⊙v` (no weight decay), with `δu = u_k − u_{k−1}`:
    /// `Δ⁺ = Δ(1−γ²g²) + 2β(uδu − vδv) + β²(δu² − δv²) − 2γβg(δu·v − δv·u)`.
    pub fn heavy_ball_diagonal(eta: S, beta: S) -> Self {
        Law::ExactDrift {
            name: "heavy-ball balance identity".into(),
            f: Arc::new(move |model, rec| {
                let b = model.arch.product(&rec.before);
                let mut g = b.zeros_like();
                model.loss.value_grad(&b, rec.batch.as_deref(), &mut g);
                let (u, v) = (&rec.before.blocks[0], &rec.before.blocks[1]);
                let mom = rec.momentum.as_ref().expect("heavy-ball records its momentum");
                let (du, dv) = (&mom.blocks[0], &mom.blocks[1]);
                let two = eta.from_i64_like(2);
                vec![Mat::from_fn(1, u.cols(), |_, i| {
                    let (ui, vi, dui, dvi, gi) = (u.get(0, i), v.get(0, i), du.get(0, i), dv.get(0, i), g.get(0, i));
                    let delta = ui.square() - vi.square();
                    delta * (eta.one_like() - eta.square() * gi.square())
                        + two.clone() * beta.clone() * (ui.clone() * dui.clone() - vi.clone() * dvi.clone())
                        + beta.square() * (dui.square() - dvi.square())
                        - two.clone()
                            * eta.clone()
                            * beta.clone()
                            * gi.clone()
                            * (dui.clone() * vi.clone() - dvi.clone() * ui.clone())
                })]
            }),
        }
    }

    /// BAR on a two-factor problem (no weight decay): with `a = αη`, the rescale
    /// `((1±a)x, (1∓a)y)` then a GD step with the gradient `g` from before the rescale,
    /// `B⁺ = ½[(1±a)²‖x‖² − (1∓a)²‖y‖²] − η[(1±a) − (1∓a)]⟨x, g_x⟩ + (η²/2)(‖g_x‖² − ‖g_y‖²)`
    /// (using `⟨x, g_x⟩ = ⟨y, g_y⟩`), the sign read off the step itself.
    pub fn bar(eta: S, alpha: S, kind: BarKind) -> Self {
        Law::ExactDrift {
            name: "BAR rescale + GD step".into(),
            f: Arc::new(move |_, rec| {
                let (x, y) = (&rec.before.blocks[0], &rec.before.blocks[1]);
                let g = &rec.grads[0];
                let a = alpha.clone() * eta.clone();
                let one = eta.one_like();
                let half = eta.ratio_like(1, 2);
                let grow_x = match kind {
                    BarKind::N => g.blocks[0].norm_sq() >= g.blocks[1].norm_sq(),
                    BarKind::O => x.norm_sq() < y.norm_sq(),
                };
                let (fx, fy) =
                    if grow_x { (one.clone() + a.clone(), one - a) } else { (one.clone() - a.clone(), one + a) };
                let b = half.clone() * (fx.square() * x.norm_sq() - fy.square() * y.norm_sq())
                    - eta.clone() * (fx - fy) * x.dot(&g.blocks[0])
                    + half * eta.square() * (g.blocks[0].norm_sq() - g.blocks[1].norm_sq());
                vec![Mat::from_vec(1, 1, vec![b])]
            }),
        }
    }

    /// SAM/USAM on `β = u⊙v` (no weight decay): with ascent factor `s` (USAM: 1, SAM: 1/‖∇‖),
    /// `g = ∂L/∂β` before and `g′` at the ascent point,
    /// `Δ⁺ = Δ[1 − 2ηρs g g′ − η²g′²(1 − (ρs)²g²)]`, `Δ = u⊙u − v⊙v`.
    pub fn sam_diagonal(eta: S, rho: S) -> Self {
        Law::ExactDrift {
            name: "Delta+ = Delta [1 - 2 eta rho s g g' - eta^2 g'^2 (1 - rho^2 s^2 g^2)]".into(),
            f: Arc::new(move |model, rec| {
                let sc = rec.ascent.clone().unwrap_or_else(|| eta.zero_like()) * rho.clone();
                let beta = model.arch.product(&rec.before);
                let mut g = beta.zeros_like();
                model.loss.value_grad(&beta, rec.batch.as_deref(), &mut g);
                let mut pert = rec.before.clone();
                pert.axpy(&sc, &rec.grads[0]);
                let beta2 = model.arch.product(&pert);
                let mut g2 = beta2.zeros_like();
                model.loss.value_grad(&beta2, rec.batch.as_deref(), &mut g2);
                let (u, v) = (&rec.before.blocks[0], &rec.before.blocks[1]);
                let one = eta.one_like();
                let two = eta.from_i64_like(2);
                vec![Mat::from_fn(1, u.cols(), |_, i| {
                    let (gi, hi) = (g.get(0, i).clone(), g2.get(0, i).clone());
                    let delta = u.get(0, i).square() - v.get(0, i).square();
                    let f = one.clone()
                        - two.clone() * eta.clone() * sc.clone() * gi.clone() * hi.clone()
                        - eta.square() * hi.square() * (one.clone() - sc.square() * gi.square());
                    delta * f
                })]
            }),
        }
    }
}
