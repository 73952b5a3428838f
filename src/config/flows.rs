//! Continuous-time dynamics from an experiment file: which vector field, at which speed, with
//! which integrator, to which exact horizon.
//!
//! Every number is kept exact until the run's number type is known. The horizon `t1`, the step
//! `h` and the save times then reach the integrator without passing through `f64`: the solver
//! integrates the rescaled field $G(\tau, y) = C\,F(C\tau, y)$ in a time τ in which
//! every step of a fixed-step method has length exactly 1 (so $C = s\,t_1/n$ for speed $s$ and
//! $n = \lceil t_1/h\rceil$ steps, computed in the run's number type, and the final time is
//! $t_1$ itself); adaptive methods integrate τ ∈ [0, 1] with $C = s\,t_1$. Adaptive integrators
//! take `f64` tolerances: `rtol`/`atol` are kept exact in the file and converted at that boundary,
//! with an error naming the key when the value is outside `f64`'s range.

use super::number_type::{RealField, RunScalar};
use super::numbers::{f64_of, short};
use super::schedule::SaveSpec;
use super::section::{bad, Section};
use crate::error::{Error, Result};
use crate::flow::fields::{
    FastSlow, HeavyBallFlow, ModifiedGdFlow, MomentMapFlow, NesterovFlow, RegularizerFlow, SamForm, UsamFlow,
};
use crate::flow::integrators::TaylorSeries;
use crate::flow::{self, GradientFlow, Integrator, SolveOptions, Tolerance, VectorField};
use crate::invariants::Monitor;
use crate::model::{Arch, Model};
use crate::params::Params;
use crate::scalar::{Scalar, Q};
use crate::trajectory::Trajectory;

/// The vector field of a flow, with its exact parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldKind {
    /// `gradient_flow`: θ̇ = −∇L.
    Gradient,
    /// `sam_flow`, `sam_modified_flow` (radius `rho`).
    Sam(Q, SamForm),
    /// `usam_flow`, `usam_modified_flow` (`rho`).
    Usam(Q, SamForm),
    /// `gd_modified_flow`: gradient flow on L + η/4‖∇L‖² (`eta`).
    GdModified(Q),
    /// `heavy_ball_flow`: λẅ + ẇ + ∇L = 0 (`lambda`, or `eta` and `beta` with λ = η/(1−β)²).
    HeavyBall(Q),
    /// `nesterov_flow`: ẅ + (r/t)ẇ + ∇L = 0 (`damping` r, default 3).
    Nesterov(Q),
    /// `end_to_end_flow`: the product's own flow (f64).
    EndToEnd,
    /// `regularizer_flow`: balancing flow (a), −P_V W.
    Regularizer,
    /// `moment_map_flow`: balancing flow (b), −∇½‖μ‖².
    MomentMap,
    /// `fast_slow_flow`: gradient flow + (1/ε) balancing flow (a) (`eps`).
    FastSlow(Q),
}

/// The flow kinds `[method] kind` accepts.
pub(crate) const FLOW_KINDS: &str = "gradient_flow, sam_flow, sam_modified_flow, usam_flow, usam_modified_flow, \
     gd_modified_flow, heavy_ball_flow, nesterov_flow, end_to_end_flow, regularizer_flow, moment_map_flow, fast_slow_flow";

impl FieldKind {
    /// Reads the field of `[method] kind = kind`, or `None` when `kind` is not a flow.
    pub(crate) fn read(kind: &str, m: &Section) -> Result<Option<Self>> {
        let positive = |key: &str| -> Result<Q> {
            let q = m.num_req(key)?;
            if q.cmp0() != std::cmp::Ordering::Greater {
                return Err(bad(&m.field(key), format!("must be > 0, got {}", short(&q))));
            }
            Ok(q)
        };
        let nonneg = |key: &str| -> Result<Q> {
            let q = m.num_req(key)?;
            if q.cmp0() == std::cmp::Ordering::Less {
                return Err(bad(&m.field(key), format!("must be >= 0, got {}", short(&q))));
            }
            Ok(q)
        };
        Ok(Some(match kind {
            "gradient_flow" => FieldKind::Gradient,
            "sam_flow" => FieldKind::Sam(nonneg("rho")?, SamForm::Exact),
            "sam_modified_flow" => FieldKind::Sam(nonneg("rho")?, SamForm::Modified),
            "usam_flow" => FieldKind::Usam(nonneg("rho")?, SamForm::Exact),
            "usam_modified_flow" => FieldKind::Usam(nonneg("rho")?, SamForm::Modified),
            "gd_modified_flow" => FieldKind::GdModified(positive("eta")?),
            "heavy_ball_flow" => {
                if m.table_has("lambda") {
                    FieldKind::HeavyBall(positive("lambda")?)
                } else {
                    let eta = positive("eta")?;
                    let beta = nonneg("beta")?;
                    if beta >= 1 {
                        return Err(bad(&m.field("beta"), "momentum must be in [0, 1)"));
                    }
                    let one_minus = Q::from(1) - beta;
                    FieldKind::HeavyBall(eta / (one_minus.clone() * one_minus))
                }
            }
            "nesterov_flow" => {
                FieldKind::Nesterov(if m.table_has("damping") { positive("damping")? } else { Q::from(3) })
            }
            "end_to_end_flow" => FieldKind::EndToEnd,
            "regularizer_flow" => FieldKind::Regularizer,
            "moment_map_flow" => FieldKind::MomentMap,
            "fast_slow_flow" => FieldKind::FastSlow(positive("eps")?),
            _ => return Ok(None),
        }))
    }

    /// The `[method] kind` of this field.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            FieldKind::Gradient => "gradient_flow",
            FieldKind::Sam(_, SamForm::Exact) => "sam_flow",
            FieldKind::Sam(_, SamForm::Modified) => "sam_modified_flow",
            FieldKind::Usam(_, SamForm::Exact) => "usam_flow",
            FieldKind::Usam(_, SamForm::Modified) => "usam_modified_flow",
            FieldKind::GdModified(_) => "gd_modified_flow",
            FieldKind::HeavyBall(_) => "heavy_ball_flow",
            FieldKind::Nesterov(_) => "nesterov_flow",
            FieldKind::EndToEnd => "end_to_end_flow",
            FieldKind::Regularizer => "regularizer_flow",
            FieldKind::MomentMap => "moment_map_flow",
            FieldKind::FastSlow(_) => "fast_slow_flow",
        }
    }

    /// Whether the state is the phase state (w, ẇ).
    pub(crate) fn second_order(&self) -> bool {
        matches!(self, FieldKind::HeavyBall(_) | FieldKind::Nesterov(_))
    }
}

/// `[method] integrator`, exact.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum IntegratorSpec {
    /// euler, heun, rk4, rk8 and gauss_legendre (with its stages), step `h`.
    Fixed { kind: String, stages: usize, h: Q },
    /// dopri5, dop853, dp5, dp8, tsit5, gbs with `rtol`, `atol`.
    Adaptive { kind: String, rtol: Q, atol: Q },
    /// Taylor's method (gradient flows, f64 or MPFR) with an exact tolerance and an optional
    /// fixed order.
    Taylor { tol: Tolerance, order: Option<usize> },
}

impl IntegratorSpec {
    /// Reads `integrator = { kind = .., .. }`, refusing keys the kind does not take.
    pub(crate) fn read(m: &Section) -> Result<Self> {
        let field = m.field("integrator");
        let t = match m.get("integrator") {
            Some(toml::Value::Table(t)) => t,
            Some(v) => {
                return Err(bad(&field, format!("expected a table like {{ kind = \"rk4\", h = \"1/100\" }}, got {v}")))
            }
            None => return Err(bad(&field, "missing; expected e.g. { kind = \"rk4\", h = \"1/100\" }")),
        };
        let s = Section::new(&field, t);
        let kind = s.str_req(
            "kind",
            "euler, heun, rk4, rk8, gauss_legendre, dopri5, dop853, dp5, dp8, dp853, tsit5, gbs or taylor",
        )?;
        let out = match kind {
            "euler" | "heun" | "rk4" | "rk8" | "gauss_legendre" => {
                let stages = if kind == "gauss_legendre" {
                    match s.usize_opt("stages")? {
                        Some(n @ 1..=3) => n,
                        Some(n) => {
                            return Err(bad(
                                &s.field("stages"),
                                format!("Gauss-Legendre has 1, 2 or 3 stages, got {n}"),
                            ))
                        }
                        None => return Err(bad(&s.field("stages"), "missing; 1, 2 or 3")),
                    }
                } else {
                    0
                };
                let h = s.num_req("h")?;
                if h.cmp0() != std::cmp::Ordering::Greater {
                    return Err(bad(&s.field("h"), format!("step must be > 0, got {}", short(&h))));
                }
                IntegratorSpec::Fixed { kind: kind.into(), stages, h }
            }
            "taylor" => {
                let tol = match s.get("tol") {
                    None => Tolerance::Auto,
                    Some(toml::Value::String(text)) => Tolerance::parse(text, &s.field("tol"))?,
                    Some(_) => Tolerance::exact(s.num_req("tol")?, &s.field("tol"))?,
                };
                let order = s.usize_opt("order")?;
                TaylorSeries::validate(order, None).map_err(|e| bad(&s.field("order"), e.to_string()))?;
                IntegratorSpec::Taylor { tol, order }
            }
            "dopri5" | "dop853" | "dp5" | "dp8" | "dp853" | "tsit5" | "gbs" => {
                let tol = |key: &str| -> Result<Q> {
                    let q = s.num_req(key)?;
                    if q.cmp0() == std::cmp::Ordering::Less {
                        return Err(bad(&s.field(key), format!("must be >= 0, got {}", short(&q))));
                    }
                    f64_of(&q).map_err(|why| {
                        bad(&s.field(key), format!("{why}; the adaptive integrators take f64 tolerances"))
                    })?;
                    Ok(q)
                };
                let (rtol, atol) = (tol("rtol")?, tol("atol")?);
                if rtol.is_zero() && atol.is_zero() {
                    return Err(bad(&field, "rtol and atol must not both be 0"));
                }
                IntegratorSpec::Adaptive { kind: kind.into(), rtol, atol }
            }
            other => {
                return Err(bad(
                    &s.field("kind"),
                    format!(
                    "expected euler, heun, rk4, rk8, gauss_legendre, dopri5, dop853, dp5, dp8, dp853, tsit5, gbs or taylor, got \"{other}\""
                ),
                ))
            }
        };
        s.finish()?;
        Ok(out)
    }

    fn kind(&self) -> &str {
        match self {
            IntegratorSpec::Fixed { kind, .. } | IntegratorSpec::Adaptive { kind, .. } => kind,
            IntegratorSpec::Taylor { .. } => "taylor",
        }
    }

    /// Refuses an integrator the number type cannot run, naming what can.
    pub(crate) fn check_type(&self, bits: Option<u32>, key: &str) -> Result<()> {
        let k = self.kind();
        let ok = match bits {
            None => matches!(k, "euler" | "heun" | "rk4"),
            Some(53) => true,
            Some(_) => !matches!(k, "dopri5" | "dop853" | "dp5" | "dp8" | "dp853" | "tsit5"),
        };
        if ok {
            return Ok(());
        }
        Err(bad(
            key,
            match bits {
                None => format!(
                    "{k} cannot run in exact rationals; the integrators that do are euler, heun and rk4 \
                     (explicit, with a rational step)"
                ),
                _ => format!("{k} runs in f64 only; in MPFR use taylor or gbs (adaptive), rk8, gauss_legendre or rk4"),
            },
        ))
    }
}

/// A flow: field, speed, integrator and exact horizon.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FlowSpec {
    /// The vector field.
    pub field: FieldKind,
    /// The integrator.
    pub integrator: IntegratorSpec,
    /// The horizon `t1 > 0`.
    pub t1: Q,
    /// The speed `s > 0`: the run follows θ̇ = s·F(s·t, θ).
    pub speed: Q,
}

impl FlowSpec {
    /// The number of fixed steps `ceil(t1/h)`, or `None` for an adaptive integrator.
    pub(crate) fn fixed_steps(&self) -> Option<f64> {
        match &self.integrator {
            IntegratorSpec::Fixed { h, .. } => {
                let n = (self.t1.clone() / h.clone()).ceil();
                Some(n.numer().to_f64())
            }
            IntegratorSpec::Adaptive { .. } | IntegratorSpec::Taylor { .. } => None,
        }
    }
}

/// The field as the solver sees it: $G(\tau, y) = C\,F(C\tau, y)$.
struct Rescaled<'a, S: Scalar> {
    inner: Box<dyn VectorField<S> + 'a>,
    c: S,
}

impl<S: Scalar> VectorField<S> for Rescaled<'_, S> {
    fn eval(&mut self, t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let tc = self.c.clone() * t.clone();
        self.inner.eval(&tc, y, dy);
        dy.scale_mut(&self.c);
    }
    fn name(&self) -> String {
        self.inner.name()
    }
    fn position<'y>(&self, y: &'y Params<S>) -> std::borrow::Cow<'y, Params<S>> {
        self.inner.position(y)
    }
    fn gradient_calls(&self) -> usize {
        self.inner.gradient_calls()
    }
    fn gradient_flow_of(&self) -> Option<&Model<S>> {
        self.inner.gradient_flow_of()
    }
    fn time_scale(&self) -> Option<S> {
        Some(self.inner.time_scale().map_or_else(|| self.c.clone(), |c| c * self.c.clone()))
    }
}

/// A solved flow: the trajectory (in solver time), the physical times of its saves, and the
/// depth-1 model of an end-to-end flow.
pub(crate) type Solved<S> = (Trajectory<S>, Vec<S>, Option<Model<S>>);

/// The solver's time grid for one run: its horizon, the solver times of the saves, and the map
/// back to physical times.
pub(crate) struct FlowPlan<S> {
    /// Physical time per solver time unit.
    pub unit: S,
    /// Speed times `unit`: the factor $C$ of the rescaled field.
    pub c: S,
    t1: S,
    fixed: bool,
    solver_t1: f64,
    solver_saves: Vec<f64>,
}

impl<S: RunScalar> FlowPlan<S> {
    /// Plans `spec` with `save` in the number type of `proto`.
    pub(crate) fn new(spec: &FlowSpec, save: &SaveSpec, proto: &S) -> Result<Self> {
        let t1 = proto.from_q_like(&spec.t1);
        let speed = proto.from_q_like(&spec.speed);
        match &spec.integrator {
            IntegratorSpec::Fixed { h, .. } => {
                let nq = (spec.t1.clone() / h.clone()).ceil();
                let n = nq.numer().to_u64().filter(|n| (1..=1 << 53).contains(n)).ok_or_else(|| {
                    bad("method.integrator.h", "t1/h steps is more than a run can take (2^53)".to_string())
                })?;
                let unit = t1.clone() / proto.from_i64_like(n as i64);
                let step_of = |t: &Q| -> u64 {
                    // The first step at or after t: ceil(t·n/t1), exactly.
                    let k = (t.clone() * Q::from(n) / spec.t1.clone()).ceil();
                    k.numer().to_u64().unwrap_or(u64::MAX).min(n)
                };
                let mut steps: Vec<u64> = match save {
                    SaveSpec::Every(e) => (1..=n / e).map(|i| i * e).collect(),
                    // At most one save per step.
                    SaveSpec::Log(c) => {
                        log_times((*c).min(n), 1.0).map(|f| ((f * n as f64).ceil() as u64).clamp(1, n)).collect()
                    }
                    SaveSpec::Times(ts) => ts.iter().map(step_of).collect(),
                    SaveSpec::Final => vec![],
                };
                steps.sort_unstable();
                steps.dedup();
                Ok(FlowPlan {
                    c: unit.clone() * speed,
                    unit,
                    t1,
                    fixed: true,
                    solver_t1: n as f64,
                    solver_saves: steps.into_iter().map(|k| k as f64).collect(),
                })
            }
            IntegratorSpec::Adaptive { .. } | IntegratorSpec::Taylor { .. } => {
                let saves = match save {
                    // Adaptive steps are not known in advance: "all" means 100 equally spaced times.
                    SaveSpec::Every(1) => (1..=100).map(|i| i as f64 / 100.0).collect(),
                    SaveSpec::Every(_) => {
                        return Err(bad(
                            "run.save",
                            "every = n counts fixed steps; with an adaptive integrator give times or log",
                        ))
                    }
                    SaveSpec::Log(c) => log_times(*c, 1.0).collect(),
                    SaveSpec::Times(ts) => ts.iter().map(|t| (t.clone() / spec.t1.clone()).to_f64().min(1.0)).collect(),
                    SaveSpec::Final => vec![],
                };
                Ok(FlowPlan {
                    c: t1.clone() * speed,
                    unit: t1.clone(),
                    t1,
                    fixed: false,
                    solver_t1: 1.0,
                    solver_saves: saves,
                })
            }
        }
    }

    /// The physical time of solver time `tau` (exactly `t1` at the end).
    pub(crate) fn time(&self, tau: f64) -> S {
        if tau >= self.solver_t1 {
            return self.t1.clone();
        }
        if self.fixed {
            self.unit.clone() * self.unit.from_i64_like(tau.round() as i64)
        } else {
            self.unit.clone() * self.unit.from_f64_like(tau)
        }
    }

    /// The solver's integrator: unit steps for fixed-step methods.
    fn integrator(&self, spec: &IntegratorSpec) -> Integrator {
        match spec {
            IntegratorSpec::Fixed { kind, stages, .. } => match kind.as_str() {
                "euler" => Integrator::Euler { h: 1.0 },
                "heun" => Integrator::Heun { h: 1.0 },
                "rk4" => Integrator::Rk4 { h: 1.0 },
                "rk8" => Integrator::Rk8 { h: 1.0 },
                _ => Integrator::GaussLegendre { stages: *stages, h: 1.0 },
            },
            IntegratorSpec::Adaptive { kind, rtol, atol } => {
                let (rtol, atol) = (rtol.to_f64(), atol.to_f64());
                match kind.as_str() {
                    "dopri5" => Integrator::Dopri5 { rtol, atol },
                    "dop853" => Integrator::Dop853 { rtol, atol },
                    "dp5" => Integrator::Dp5 { rtol, atol },
                    "dp8" => Integrator::Dp8 { rtol, atol },
                    "dp853" => Integrator::Dp853 { rtol, atol },
                    "tsit5" => Integrator::Tsit5 { rtol, atol },
                    _ => Integrator::Gbs { rtol, atol },
                }
            }
            IntegratorSpec::Taylor { tol, order } => {
                Integrator::Taylor { tol: tol.clone(), order: *order, max_step: None }
            }
        }
    }

    /// Integrates `field` from `p0` with `monitor`, returning the trajectory (in solver time), the
    /// physical times of its saved states, and, for the end-to-end flow, the depth-1 model whose
    /// state (the product) the trajectory holds.
    pub(crate) fn solve(
        &self,
        spec: &FlowSpec,
        model: &Model<S>,
        p0: &Params<S>,
        monitor: &mut Monitor<S>,
    ) -> Result<Solved<S>> {
        let proto = p0.proto();
        let key = "method.kind";
        let q = |x: &Q| proto.from_q_like(x);
        let integrator = self.integrator(&spec.integrator);
        let opts = SolveOptions { t1: self.solver_t1, save_times: self.solver_saves.clone() };
        if spec.field == FieldKind::EndToEnd {
            // The end-to-end flow moves the product W = φ(θ) under the loss of a depth-1 model.
            deep_only(model, "end_to_end_flow")?;
            let (rows, cols) = model.arch.output_shape();
            let m = Model::new(Arch::DeepLinear { widths: vec![cols, rows] }, model.loss.clone())?;
            let inner = S::real_field(RealField::EndToEnd(model.arch.depth()), &m, key)?;
            let mut field = Rescaled { inner, c: self.c.clone() };
            let y0 = Params::new(vec![model.end_to_end(p0)]);
            let traj = flow::solve(&mut field, &m, &y0, &integrator, &opts, monitor)?;
            let times = traj.times.iter().map(|t| self.time(t.to_f64())).collect();
            drop(field);
            return Ok((traj, times, Some(m)));
        }
        let (inner, y0): (Box<dyn VectorField<S> + '_>, Params<S>) = match &spec.field {
            FieldKind::Gradient | FieldKind::EndToEnd => (Box::new(GradientFlow::new(model)), p0.clone()),
            FieldKind::Sam(rho, form) => (S::real_field(RealField::Sam(q(rho), *form), model, key)?, p0.clone()),
            FieldKind::Usam(rho, form) => (Box::new(UsamFlow::new(model, q(rho), *form)?), p0.clone()),
            FieldKind::GdModified(eta) => (Box::new(ModifiedGdFlow::new(model, q(eta))?), p0.clone()),
            FieldKind::HeavyBall(l) => (Box::new(HeavyBallFlow::new(model, q(l))?), HeavyBallFlow::initial(p0)),
            FieldKind::Nesterov(r) => (Box::new(NesterovFlow::new(model, q(r))?), NesterovFlow::initial(p0)),
            FieldKind::Regularizer => {
                deep_only(model, "regularizer_flow")?;
                (Box::new(RegularizerFlow::new(p0).map_err(|e| bad("init", e.to_string()))?), p0.clone())
            }
            FieldKind::MomentMap => {
                deep_only(model, "moment_map_flow")?;
                (Box::new(MomentMapFlow), p0.clone())
            }
            FieldKind::FastSlow(eps) => {
                (Box::new(FastSlow::new(model, p0, q(eps)).map_err(|e| bad(key, e.to_string()))?), p0.clone())
            }
        };
        let mut field = Rescaled { inner, c: self.c.clone() };
        let traj = flow::solve(&mut field, model, &y0, &integrator, &opts, monitor)?;
        let times = traj.times.iter().map(|t| self.time(t.to_f64())).collect();
        Ok((traj, times, None))
    }
}

fn deep_only<S: Scalar>(model: &Model<S>, kind: &str) -> Result<()> {
    if !matches!(model.arch, Arch::DeepLinear { .. }) {
        return Err(Error::invalid(
            "method.kind",
            format!("{kind} acts on deep linear networks, not {}", model.arch.name()),
        ));
    }
    if model.weight_decay.is_some() && kind != "moment_map_flow" {
        return Err(Error::invalid("model.weight_decay", format!("{kind} is defined without weight decay")));
    }
    Ok(())
}

/// `count` log-spaced fractions of the horizon from 10⁻³ to 1.
fn log_times(count: u64, top: f64) -> impl Iterator<Item = f64> {
    (1..=count).map(move |i| top * 10f64.powf(-3.0 * (1.0 - i as f64 / count as f64)))
}
