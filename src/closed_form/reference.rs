//! A closed form attached to a flow problem (SciML's `analytic`): the [`Reference`] trait, the
//! gap it reports along a solve ([`Gap`], NaN-propagating), and thin adapters that make the
//! closed forms of this module references: [`SaxeModes`], [`RiccatiProduct`], [`DiagonalModes`].
//!
//! [`crate::flow::FlowProblem::reference`] takes any reference; the solver compares it with the
//! state at every saved time and reports the worst gap in
//! [`crate::trajectory::Trajectory::reference`].
//!
//! ```
//! use linflow::prelude::*;
//! use linflow::closed_form::reference::SaxeModes;
//! // Two layers, Φ = diag(3, 1), balanced aligned start W1 = W2 = diag(0.3, 0.2).
//! let arch = Arch::deep_linear(&[2, 2, 2]).unwrap();
//! let phi = Mat::from_vec(2, 2, vec![3.0, 0.0, 0.0, 1.0]);
//! let model = Model::new(arch.clone(), Loss::target(phi.clone())).unwrap();
//! let w = Mat::from_vec(2, 2, vec![0.3, 0.0, 0.0, 0.2]);
//! let p0 = Params::new(vec![w.clone(), w]);
//! let saxe = SaxeModes::new(&arch, &phi, &p0, 1.0).unwrap(); // τ = 1 for Loss::target
//! let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 2.0)
//!     .model(&model)
//!     .save(Save::Times { times: vec![0.5, 1.0, 1.5] })
//!     .reference(saxe)
//!     .solve(&Integrator::Dp8 { rtol: 1e-12, atol: 1e-14 })
//!     .unwrap();
//! let gap = traj.reference.unwrap();
//! assert_eq!(gap.checks, 5);
//! assert!(gap.worst_rel < 1e-10);
//! ```

use super::diagonal::DiagonalFlow;
use super::lindsey_menon::{moment_map, thin_svd};
use super::riccati::Riccati;
use super::saxe::{self, precondition};
use crate::decimal;
use crate::error::{Error, Result};
use crate::invariants::LawReport;
use crate::mat::Mat;
use crate::model::{Arch, Model};
use crate::params::Params;
use crate::scalar::{Real, Scalar};

/// A closed form of a flow: what of the state it describes, and its value at a time.
pub trait Reference<S: Scalar> {
    /// Name for the report.
    fn name(&self) -> String;
    /// The part of a saved state the closed form describes (by default the whole state, block by
    /// block).
    fn observed(&self, y: &Params<S>) -> Vec<Mat<S>> {
        y.blocks.clone()
    }
    /// The closed form at time `t` (in the flow's time), in the layout of
    /// [`Reference::observed`]; an error (e.g. past a blow-up) is reported as a non-finite gap.
    fn at(&self, t: &S) -> Result<Vec<Mat<S>>>;
}

fn check_shapes<S: Scalar>(arch: &Arch, p: &Params<S>) -> Result<()> {
    let (want, got) = (arch.param_shapes(), p.shapes());
    if want != got {
        return Err(Error::dim("y0", format!("{want:?}"), format!("{got:?}")));
    }
    Ok(())
}

/// The entries of a list of matrices, in order.
pub fn entries<S: Scalar>(ms: &[Mat<S>]) -> Vec<S> {
    ms.iter().flat_map(|m| m.as_slice().iter().cloned()).collect()
}

/// The worst deviation of a run from a closed form over its checks, in the layout of a law
/// report: the largest absolute entry of (run − closed form) relative to the largest entry of the
/// closed form (1 where that is 0); a non-finite deviation, a mismatch in the number of entries or
/// a closed form that cannot be evaluated becomes the worst and stays so.
pub struct Gap<S> {
    report: LawReport,
    worst: Option<S>,
    all_zero: bool,
}

impl<S: Scalar> Gap<S> {
    /// A gap with nothing compared yet.
    pub fn new(quantity: &str, law: &str) -> Self {
        let report = LawReport::unchecked(quantity, law);
        Gap { report, worst: None, all_zero: true }
    }

    /// One check at save `k`, time `t`: the run's `got` against the closed form's `want`.
    pub fn add(&mut self, k: usize, t: &S, got: &[S], want: &[S]) {
        let zero = t.zero_like();
        let mut diff = zero.clone();
        let mut scale = zero.clone();
        if got.len() != want.len() {
            diff = t.from_f64_like(f64::NAN);
        }
        for (g, w) in got.iter().zip(want) {
            let d = (g.clone() - w.clone()).abs();
            if d > diff || !d.is_finite() {
                diff = d;
            }
            let a = w.abs();
            if a > scale || !a.is_finite() {
                scale = a;
            }
        }
        let r = &mut self.report;
        r.checks += 1;
        r.items += got.len();
        r.series.push((t.to_f64(), diff.to_f64()));
        r.series_text.push((decimal::text(t), decimal::text(&diff)));
        if !(diff.is_finite() && scale.is_finite()) && r.non_finite.is_none() {
            let what = if got.len() == want.len() { "the deviation from the closed form" } else { "a shape mismatch" };
            r.non_finite = Some(format!("{what} at save {k} (t = {})", t.to_f64()));
        }
        self.all_zero &= diff.is_zero();
        let s = if scale.is_zero() { scale.one_like() } else { scale };
        let rel = (diff.clone() / s.clone()).to_f64();
        // NaN-propagating: the first non-finite deviation becomes the worst and stays so.
        let worse = self.worst.is_none() || (!r.worst_rel.is_nan() && (rel.is_nan() || rel > r.worst_rel));
        if worse {
            r.worst_rel = rel;
            r.worst_abs = diff.to_f64();
            r.worst_abs_text = decimal::text(&diff);
            r.scale = s.to_f64();
            r.at_step = k;
            r.at_time = t.to_f64();
            self.worst = Some(diff);
        }
    }

    /// One check at save `k`, time `t` where the closed form could not be evaluated (`why`): a
    /// NaN deviation.
    pub fn failed(&mut self, k: usize, t: &S, why: &str) {
        let nan = t.from_f64_like(f64::NAN);
        let had = self.report.non_finite.is_some();
        self.add(k, t, std::slice::from_ref(&nan), std::slice::from_ref(&nan));
        if !had {
            self.report.non_finite = Some(format!("the closed form at save {k} (t = {}): {why}", t.to_f64()));
        }
    }

    /// Compares `reference` with the saved state `y` at save `k`, time `t`.
    pub fn check(&mut self, reference: &dyn Reference<S>, k: usize, t: &S, y: &Params<S>) {
        match reference.at(t) {
            Ok(want) => self.add(k, t, &entries(&reference.observed(y)), &entries(&want)),
            Err(e) => self.failed(k, t, &e.to_string()),
        }
    }

    /// The report.
    pub fn finish(mut self) -> LawReport {
        self.report.exact_zero = self.report.checks > 0 && self.all_zero;
        self.report
    }
}

/// `a` and `b` agree to `10^3·ε·max(1, |b|)` of the working precision (a precondition on a start
/// given exactly or computed at this precision).
pub fn close<S: Real>(a: &Mat<S>, b: &Mat<S>) -> bool {
    let proto = a.proto();
    let scale = b.max_abs().unwrap_or_else(|| proto.zero_like());
    let one = proto.one_like();
    let bound = proto.epsilon_like() * proto.from_i64_like(1000) * if scale > one { scale } else { one };
    a.sub(b).max_abs().is_some_and(|d| d <= bound)
}

enum SaxeMode<S> {
    Two(saxe::BalancedMode<S>),
    Deep(saxe::DeepBalancedMode<S>),
}

/// The Saxe modes as a reference for gradient flow of `Loss::target(Φ)` on a deep linear network
/// from a balanced start aligned with Φ's SVD: the end-to-end matrix
/// $U\operatorname{diag}(u_i(t/\tau))V^\top$ ([`saxe::BalancedMode`] for two layers,
/// [`saxe::DeepBalancedMode`] for more). `tau` is the flow's time constant (1 for
/// `Loss::target` without rescaling).
pub struct SaxeModes<S> {
    arch: Arch,
    u: Mat<S>,
    v: Mat<S>,
    tau: S,
    modes: Vec<SaxeMode<S>>,
}

impl<S: Real> SaxeModes<S> {
    /// Checks the start (aligned with Φ's SVD and balanced, to $10^3\varepsilon$) and sets up the
    /// modes.
    pub fn new(arch: &Arch, phi: &Mat<S>, p0: &Params<S>, tau: S) -> Result<Self> {
        let depth = arch.depth();
        if !matches!(arch, Arch::DeepLinear { .. }) || depth < 2 {
            return Err(precondition("saxe_modes", "needs a deep_linear network of depth >= 2"));
        }
        if phi.shape() != arch.output_shape() {
            return Err(precondition("saxe_modes", "Phi must have the network's output shape"));
        }
        check_shapes(arch, p0)?;
        let proto = phi.proto();
        let (u, s, v) = thin_svd(phi)?;
        let d0 = u.t().matmul(&arch.product(p0)).matmul(&v);
        let u0: Vec<S> = (0..s.len()).map(|i| d0.get(i, i).clone()).collect();
        let me = SaxeModes { arch: arch.clone(), u, v, tau, modes: Vec::new() };
        if !close(&arch.product(p0), &me.product(&u0)) {
            return Err(precondition(
                "saxe_modes",
                "the start's product is not U diag(u0) V^T for the SVD Phi = U S V^T (an aligned start)",
            ));
        }
        for (j, m) in moment_map(p0).iter().enumerate() {
            if !close(m, &m.zeros_like()) {
                return Err(precondition("saxe_modes", format!("the start is not balanced at hidden layer {}", j + 1)));
            }
        }
        let one = proto.one_like();
        let modes = s
            .iter()
            .zip(&u0)
            .map(|(si, ui)| -> Result<SaxeMode<S>> {
                Ok(if depth == 2 {
                    SaxeMode::Two(saxe::BalancedMode::new(si.clone(), ui.clone(), one.clone())?)
                } else {
                    SaxeMode::Deep(saxe::DeepBalancedMode::new(depth, si.clone(), ui.clone(), one.clone())?)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SaxeModes { modes, ..me })
    }

    /// $U\operatorname{diag}(\text{vals})V^\top$.
    fn product(&self, vals: &[S]) -> Mat<S> {
        let zero = self.tau.zero_like();
        let d = Mat::from_fn(vals.len(), vals.len(), |i, j| if i == j { vals[i].clone() } else { zero.clone() });
        self.u.matmul(&d).matmul(&self.v.t())
    }

    /// The mode strengths $u_i(t/\tau)$.
    pub fn strengths(&self, t: &S) -> Result<Vec<S>> {
        let unit = t.clone() / self.tau.clone();
        self.modes
            .iter()
            .map(|m| match m {
                SaxeMode::Two(m) => m.u(&unit),
                SaxeMode::Deep(m) => m.u(&unit),
            })
            .collect()
    }
}

impl<S: Real> Reference<S> for SaxeModes<S> {
    fn name(&self) -> String {
        "end-to-end matrix = U diag(u_i(t/tau)) V^T (Saxe modes)".into()
    }
    fn observed(&self, y: &Params<S>) -> Vec<Mat<S>> {
        vec![self.arch.product(y)]
    }
    fn at(&self, t: &S) -> Result<Vec<Mat<S>>> {
        Ok(vec![self.product(&self.strengths(t)?)])
    }
}

/// The Riccati closed form of two-factor gradient flow $UV^\top \to Y$ from a start with
/// $U_0^\top U_0 - V_0^\top V_0 = \lambda I$, as a reference on the product ([`Riccati`]).
pub struct RiccatiProduct<S> {
    arch: Arch,
    riccati: Riccati<S>,
    tau: S,
}

impl<S: Real> RiccatiProduct<S> {
    /// From the target `y`, the start's two factors (the first two blocks of `p0`) and the time
    /// constant `tau`.
    pub fn new(arch: &Arch, y: &Mat<S>, p0: &Params<S>, tau: S) -> Result<Self> {
        check_shapes(arch, p0)?;
        if p0.blocks.len() != 2 {
            return Err(precondition("riccati", "needs a two-factor network"));
        }
        Ok(RiccatiProduct { arch: arch.clone(), riccati: Riccati::new(y, &p0.blocks[0], &p0.blocks[1])?, tau })
    }
}

impl<S: Real> Reference<S> for RiccatiProduct<S> {
    fn name(&self) -> String {
        "product = U V^T of the Riccati closed form".into()
    }
    fn observed(&self, y: &Params<S>) -> Vec<Mat<S>> {
        vec![self.arch.product(y)]
    }
    fn at(&self, t: &S) -> Result<Vec<Mat<S>>> {
        Ok(vec![self.riccati.product(&(t.clone() / self.tau.clone()))?])
    }
}

/// The coordinate flows of a diagonal network with an orthogonal design, as a reference on the
/// parameters $(u, v)(t/\tau)$ ([`DiagonalFlow`]).
pub struct DiagonalModes<S> {
    flow: DiagonalFlow<S>,
    tau: S,
}

impl<S: Real> DiagonalModes<S> {
    /// From a diagonal model, a start and the time constant; `design_tol` bounds
    /// $\|XX^\top/n - I\|_{\max}$.
    pub fn new(model: &Model<S>, p0: &Params<S>, tau: S, design_tol: f64) -> Result<Self> {
        Ok(DiagonalModes { flow: DiagonalFlow::new(model, p0, design_tol)?, tau })
    }
}

impl<S: Real> Reference<S> for DiagonalModes<S> {
    fn name(&self) -> String {
        "parameters = (u, v)(t/tau) of the coordinate flows (diagonal)".into()
    }
    fn at(&self, t: &S) -> Result<Vec<Mat<S>>> {
        Ok(self.flow.params(&(t.clone() / self.tau.clone()))?.blocks)
    }
}
