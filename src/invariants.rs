//! Quantities tracked along runs, each with the [`Law`] it should obey.
//!
//! Sign convention: the balancedness matrices are
//! $$C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top,\qquad j = 1,\dots,N-1,$$
//! and the moment map of the action $g\cdot W = (g_j W_j g_{j-1}^{-1})$ of
//! $GL(d_1)\times\dots\times GL(d_{N-1})$ is $\mu_j = W_j W_j^\top - W_{j+1}^\top W_{j+1} = -C_j$,
//! the convention in which $\frac{d}{dt}\big|_0 \tfrac12\|e^{t\xi}\cdot W\|^2 = \langle \mu, \xi\rangle$.

use crate::mat::Mat;
use crate::model::{Arch, Model};
use crate::optim::StepRecord;
use crate::params::Params;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A function of the parameters, valued in a list of matrices.
pub trait Quantity<S: Scalar>: Send + Sync {
    /// Name used in reports.
    fn name(&self) -> String;
    /// The value at `p`.
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>>;
}

/// `C_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ` for consecutive blocks (deep linear networks).
pub struct Balancedness;
/// The moment map `μ_j = W_jW_jᵀ − W_{j+1}ᵀW_{j+1} = −C_j`.
pub struct MomentMap;
/// Diagonal networks: `u⊙u − v⊙v` for `β = u⊙v`, `u⊙v` for `β = u⊙u − v⊙v` (each conserved by
/// gradient flow).
pub struct DiagonalBalance;
/// Two-factor problems: `B = ½(‖X‖² − ‖Y‖²)` (Li–Zhang–He's balancedness).
pub struct FactorBalance;
/// Two-factor problems: the matrix `D = XᵀX − YᵀY` (`B = ½ tr D`).
pub struct FactorGram;
/// The loss `L(θ)` as a `1×1` matrix.
pub struct LossValue;

fn one<S: Scalar>(x: S) -> Vec<Mat<S>> {
    vec![Mat::from_vec(1, 1, vec![x])]
}

impl<S: Scalar> Quantity<S> for Balancedness {
    fn name(&self) -> String {
        "balancedness".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        p.blocks.windows(2).map(|w| w[1].gram_t().sub(&w[0].gram())).collect()
    }
}

impl<S: Scalar> Quantity<S> for MomentMap {
    fn name(&self) -> String {
        "moment_map".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        p.blocks.windows(2).map(|w| w[0].gram().sub(&w[1].gram_t())).collect()
    }
}

impl<S: Scalar> Quantity<S> for DiagonalBalance {
    fn name(&self) -> String {
        "diagonal_balance".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        let (u, v) = (&p.blocks[0], &p.blocks[1]);
        let m = match model.arch {
            Arch::DiagonalSq { .. } => Mat::from_fn(1, u.cols(), |_, i| u.get(0, i).clone() * v.get(0, i).clone()),
            _ => Mat::from_fn(1, u.cols(), |_, i| u.get(0, i).square() - v.get(0, i).square()),
        };
        vec![m]
    }
}

impl<S: Scalar> Quantity<S> for FactorBalance {
    fn name(&self) -> String {
        "factor_balance".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        let b = p.blocks[0].norm_sq() - p.blocks[1].norm_sq();
        let half = b.ratio_like(1, 2);
        one(b * half)
    }
}

impl<S: Scalar> Quantity<S> for FactorGram {
    fn name(&self) -> String {
        "factor_gram".into()
    }
    fn eval(&self, _: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        vec![p.blocks[0].gram_t().sub(&p.blocks[1].gram_t())]
    }
}

impl<S: Scalar> Quantity<S> for LossValue {
    fn name(&self) -> String {
        "loss".into()
    }
    fn eval(&self, model: &Model<S>, p: &Params<S>) -> Vec<Mat<S>> {
        one(model.loss(p))
    }
}

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
}

/// One quantity and its law, with the worst deviation seen so far.
pub struct Tracked<S: Scalar> {
    /// The quantity.
    pub quantity: Box<dyn Quantity<S>>,
    /// Its law.
    pub law: Law<S>,
    initial: Vec<Mat<S>>,
    previous: Vec<Mat<S>>,
    report: LawReport,
}

/// The outcome of checking one law along a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LawReport {
    /// Quantity name.
    pub quantity: String,
    /// Law name.
    pub law: String,
    /// Largest absolute entry of (observed − predicted) over all checks.
    pub worst_abs: f64,
    /// `worst_abs / scale`.
    pub worst_rel: f64,
    /// The scale: largest absolute entry of the quantity (initial value for time laws, the
    /// observed value for drift laws) at the worst check; 1 where that is zero.
    pub scale: f64,
    /// Step of the worst check.
    pub at_step: usize,
    /// Time of the worst check.
    pub at_time: f64,
    /// True when every deviation was exactly zero (meaningful in rational arithmetic).
    pub exact_zero: bool,
    /// Number of checks.
    pub checks: usize,
    /// `(time, deviation)` at every check, for plots.
    pub series: Vec<(f64, f64)>,
}

impl<S: Scalar> Tracked<S> {
    /// Tracks `quantity` under `law`.
    pub fn new(quantity: impl Quantity<S> + 'static, law: Law<S>) -> Self {
        let name = quantity.name();
        Tracked {
            law: law.clone(),
            quantity: Box::new(quantity),
            initial: Vec::new(),
            previous: Vec::new(),
            report: LawReport {
                quantity: name,
                law: law.name(),
                worst_abs: 0.0,
                worst_rel: 0.0,
                scale: 1.0,
                at_step: 0,
                at_time: 0.0,
                exact_zero: true,
                checks: 0,
                series: Vec::new(),
            },
        }
    }

    fn record(&mut self, dev: Option<S>, scale: Option<S>, step: usize, time: f64) {
        let Some(dev) = dev else { return };
        let (abs, zero) = (dev.to_f64(), dev.is_zero());
        let scale = scale.map(|s| s.to_f64()).filter(|&s| s > 0.0).unwrap_or(1.0);
        let r = &mut self.report;
        r.checks += 1;
        r.exact_zero &= zero;
        r.series.push((time, abs));
        if abs > r.worst_abs || (r.checks == 1) || !abs.is_finite() {
            r.worst_abs = abs;
            r.worst_rel = abs / scale;
            r.scale = scale;
            r.at_step = step;
            r.at_time = time;
        }
    }

    /// The report so far.
    pub fn report(&self) -> &LawReport {
        &self.report
    }
}

fn max_abs_all<S: Scalar>(ms: &[Mat<S>]) -> Option<S> {
    let mut best: Option<S> = None;
    for m in ms {
        if let Some(x) = m.max_abs() {
            if best.as_ref().is_none_or(|b| x > *b) {
                best = Some(x);
            }
        }
    }
    best
}

fn max_abs_diff<S: Scalar>(a: &[Mat<S>], b: &[Mat<S>]) -> Option<S> {
    let d: Vec<Mat<S>> = a.iter().zip(b).map(|(x, y)| x.sub(y)).collect();
    max_abs_all(&d)
}

/// A set of tracked quantities, fed by runs and solvers.
pub struct Monitor<S: Scalar> {
    /// The tracked quantities.
    pub tracked: Vec<Tracked<S>>,
    /// The energy identity of gradient flow, when tracked ([`Monitor::track_energy`]).
    energy: Option<Tracked<S>>,
}

impl<S: Scalar> Default for Monitor<S> {
    fn default() -> Self {
        Monitor { tracked: Vec::new(), energy: None }
    }
}

impl<S: Scalar> Monitor<S> {
    /// An empty monitor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a quantity with its law.
    pub fn track(mut self, quantity: impl Quantity<S> + 'static, law: Law<S>) -> Self {
        self.tracked.push(Tracked::new(quantity, law));
        self
    }

    /// Also checks the energy identity of gradient flow,
    /// $L(\theta(t)) + \int_0^t \|\dot\theta\|^2\,ds = L(\theta(0))$, with the integral accumulated by
    /// the flow solver's own quadrature (flows only: discrete runs ignore it). Its report comes
    /// after those of the tracked quantities, scaled by $|L(\theta(0))|$.
    pub fn track_energy(mut self) -> Self {
        let mut t = Tracked::new(LossValue, Law::Conserved);
        t.report.quantity = "energy".into();
        t.report.law = "L(t) + int_0^t |dtheta/dt|^2 ds = L(0)".into();
        self.energy = Some(t);
        self
    }

    /// Whether the energy identity is tracked.
    pub fn tracks_energy(&self) -> bool {
        self.energy.is_some()
    }

    /// Checks the energy identity at time `t` given `integral` $= \int_0^t\|\dot\theta\|^2ds$.
    pub fn at_time_energy(&mut self, model: &Model<S>, p: &Params<S>, integral: &S, k: usize, t: &S) {
        if let Some(tr) = &mut self.energy {
            let l0 = tr.initial[0].get(0, 0).clone();
            let dev = (model.loss(p) + integral.clone() - l0.clone()).abs();
            tr.record(Some(dev), Some(l0.abs()), k, t.to_f64());
        }
    }

    /// Records initial values.
    pub fn start(&mut self, model: &Model<S>, p: &Params<S>) {
        for t in self.tracked.iter_mut().chain(self.energy.as_mut()) {
            t.initial = t.quantity.eval(model, p);
            t.previous = t.initial.clone();
        }
    }

    /// Checks every law after a discrete step (`k` steps done, time `t`).
    pub fn after_step(&mut self, model: &Model<S>, rec: &StepRecord<S>, p: &Params<S>, k: usize, t: &S) {
        for tr in &mut self.tracked {
            let now = tr.quantity.eval(model, p);
            match &tr.law {
                Law::ExactDrift { f, .. } => {
                    let pred = f(model, rec);
                    let dev = max_abs_diff(&now, &pred);
                    let scale = max_abs_all(&now);
                    tr.record(dev, scale, k, t.to_f64());
                }
                _ => check_time_law(tr, &now, k, t),
            }
            tr.previous = now;
        }
    }

    /// Checks the laws that depend only on time (for flows, at saved times; drift laws are skipped).
    pub fn at_time(&mut self, model: &Model<S>, p: &Params<S>, k: usize, t: &S) {
        for tr in &mut self.tracked {
            if matches!(tr.law, Law::ExactDrift { .. }) {
                continue;
            }
            let now = tr.quantity.eval(model, p);
            check_time_law(tr, &now, k, t);
            tr.previous = now;
        }
    }

    /// Reports, one per tracked quantity.
    pub fn reports(&self) -> Vec<LawReport> {
        self.tracked.iter().chain(self.energy.as_ref()).map(|t| t.report.clone()).collect()
    }
}

fn check_time_law<S: Scalar>(tr: &mut Tracked<S>, now: &[Mat<S>], k: usize, t: &S) {
    let (dev, scale) = match &tr.law {
        Law::Conserved => (max_abs_diff(now, &tr.initial), max_abs_all(&tr.initial)),
        Law::NonIncreasing => {
            let (a, b) = (now[0].get(0, 0), tr.previous[0].get(0, 0));
            let inc = a.clone() - b.clone();
            let dev = if inc > inc.zero_like() { inc } else { inc.zero_like() };
            (Some(dev), max_abs_all(&tr.initial))
        }
        Law::Predicted { f, .. } => {
            let pred = f(t, &tr.initial);
            (max_abs_diff(now, &pred), max_abs_all(&tr.initial))
        }
        Law::ExactDrift { .. } => return,
    };
    tr.record(dev, scale, k, t.to_f64());
}
