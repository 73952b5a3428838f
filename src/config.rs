//! Experiment files: one TOML file says what to run (model, loss and data, initialization, method,
//! horizon, save schedule, precision) and which laws to check.
//!
//! Numbers may be TOML integers or floats (taken at their exact binary value) or strings holding
//! an exact rational: `"1/10"`, `"-3/4"`, `"0.1"`, `"2.5e-3"`, `"2^-1000"` (see [`parse_number`]).
//! In exact mode (`precision =
//! "exact"` or `linflow check --exact`) a string `"0.1"` is the rational 1/10, while the float
//! `0.1` is the binary number nearest to it.
//!
//! ```toml
//! name = "gd-drift"
//! precision = "exact"            # "f64" | "mp:256" (bits) | "exact"
//!
//! [model]
//! arch = "deep_linear"           # deep_linear | diagonal_uv | diagonal_sq | factor | factor_op
//! widths = [2, 3, 2]             # d_0..d_N (deep_linear); `d` (diagonal_*, factor_op); d1, d2, r (factor)
//! weight_decay = "1/20"          # optional
//!
//! [loss]
//! kind = "regression"            # target | regression | sensing | completion
//! seed = 7                       # data generator seed
//! samples = 5                    # regression: n; sensing: m; completion: use `fraction`
//! truth = "gaussian"             # gaussian | low_rank | sparse | identity, or an explicit matrix
//!
//! [init]
//! kind = "gaussian"              # gaussian | orthogonal | identity | balanced | alpha | explicit
//! scale = "1/2"
//! seed = 1
//!
//! [method]
//! kind = "gd"                    # gd | sgd | sam | usam | heavy_ball | nesterov | nbar | obar | a flow:
//!                                # gradient_flow, sam_flow, ..., nesterov_flow (README lists them all)
//! eta = "1/10"
//!
//! [run]
//! steps = 20                     # discrete methods; flows use `t1` and [method].integrator
//! save = "all"                   # "all" | "final" | { every = n } | { log = n } | { times = [..] }
//!
//! [check]
//! tolerance = 0                  # relative; default: 0 exact, 1e-10 f64, 2^(20-bits) MPFR
//! every = 1                      # discrete methods: check the laws after every n-th step
//!
//! [reference]                    # optional, flows: a closed form compared at the saved times
//! kind = "saxe_modes"            # saxe_modes | riccati | diagonal | hyperbolic_entropy | kempf_ness | balancing
//! tolerance = 1e-8               # and optionally tau (time constant) and data (a matrix)
//! ```
//!
//! `[loss] scale = τ` (default 1) is a time constant: a gradient or end-to-end flow then follows
//! $\tau\dot W = -\nabla\ell$ (other methods refuse it); a generated Gaussian truth takes its
//! scale from `truth_scale`.
//!
//! Explicit data replace generated data: `[loss] target = [[..]]` (target), `x = [[..]]` and
//! `y = [[..]]` (regression, samples as columns), `entries = [[i, j, value], ..]` and `shape = [r, c]`
//! (completion), `a = [ [[..]], .. ]` and `y = [..]` (sensing); `[init] kind = "explicit"` with
//! `blocks = [ [[..]], .. ]`.
//!
//! Generated completion data (`[loss] kind = "completion"`, as in `examples/dmf_grid.toml`):
//! `truth = "low_rank"` with `rank = r` and optionally `truth_norm = F` (the truth rescaled to
//! Frobenius norm `F`, [`crate::data::low_rank_with_norm`]; without it $UV^\top/\sqrt r$);
//! `observed = k` observes exactly `k` entries drawn uniformly without replacement
//! ([`crate::data::completion_exact`]) instead of each entry with probability `fraction` (the two
//! and `entries` exclude one another); the truth and then the entries come from the one random
//! stream of `seed`. `reduction = "mean" | "half_sum" | "half_mean"` (sensing and completion)
//! sets the [`Reduction`]: $\frac1m\sum r_i^2$, $\frac12\sum r_i^2$ (completion's default) or
//! $\frac1{2m}\sum r_i^2$ (sensing's default). A completion generated from a truth adds to the
//! report ([`RunReport::completion`]) and to `summary.json` the final end-to-end matrix's test error
//! $\|W-M\|_F^2/(d_N d_0)$, effective rank and largest singular values.
//!
//! `[init] kind = "gaussian"` with `per_layer = "end_to_end"` draws every layer with standard
//! deviation $s^{1/N}/\sqrt d$ for `scale = s` (deep linear networks with all widths `d`;
//! [`crate::completion::layer_std`], computed in `f64`), so that the product has norm about
//! $s\sqrt d$; `per_layer = "scale"` (the default) is standard deviation `s`.
//!
//! `[method] eta = { stable_fraction = c }` (`gd` on a deep linear network, completion generated
//! from a truth, `reduction = "mean"`) sets $\eta = c\,k/(2N\sigma_1(M)^{2-2/N})$, `c` times the
//! inverse of a bound on the sharpness at a balanced interpolating solution
//! ([`crate::completion::stable_step_size`]).
//!
//! `[run] stop_loss = ε` (discrete methods) stops at the first step whose loss is at most `ε`:
//! the run ends `converged` at that step, or `not_converged` after `steps` steps, which fails its
//! verdicts like any run that did not reach its horizon.
//!
//! Sizes are checked before anything is built: [`ExperimentSpec::plan`] estimates a run's memory
//! and work and refuses it beyond its [`Limits`].

mod check;
mod flows;
mod number_type;
mod numbers;
mod plan;
mod read;
mod reference;
mod schedule;
mod section;

pub use numbers::{parse_number, parse_rational, MAX_BITS};
pub use plan::Limits;

use flows::{FieldKind, FlowPlan, IntegratorSpec};
use number_type::RefScalar;
pub use number_type::{RealField, RunScalar};
use numbers::short;
use plan::Estimate;
use read::{
    check_sizes, f64_in, read_arch, read_dynamics, read_init, read_loss, Dynamics, InitKind, LossData, LossRead,
};
use reference::{RefRun, ReferenceSpec, RunShape};
use schedule::SaveSpec;

use crate::completion::{effective_rank, singular_values, stable_step_size, test_mse};
use crate::error::{Error, Result};
use crate::invariants::{discrete_identities, flow_identities, Identities, Law, LossValue, Tracked};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model, Reduction};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::run::{run, RunOptions};
use crate::scalar::{Mp, Scalar, Q};
use crate::verdict::TrajectoryText;
pub use crate::verdict::{CompletionMeasures, RunReport, Verdict};
use crate::{data, init};
use section::{bad, Section};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The number type a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrecisionChoice {
    /// IEEE double.
    F64,
    /// MPFR with this many bits (≥ 2).
    Bits(u32),
    /// Exact rationals.
    Exact,
}

impl PrecisionChoice {
    /// Parses `f64`, `mp:N`, `bits:N`, `N` (bits) or `exact`.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        let bits = t.strip_prefix("mp:").or_else(|| t.strip_prefix("bits:")).unwrap_or(&t);
        match t.as_str() {
            "f64" | "double" => Ok(PrecisionChoice::F64),
            "exact" | "rational" => Ok(PrecisionChoice::Exact),
            _ => match bits.parse::<u32>() {
                Ok(b) => PrecisionChoice::bits(b),
                Err(_) => {
                    Err(Error::invalid("precision", format!("expected \"f64\", \"mp:BITS\" or \"exact\", got \"{s}\"")))
                }
            },
        }
    }

    /// MPFR with `bits` bits, checking `bits ≥ 2` (MPFR's minimum).
    pub fn bits(bits: u32) -> Result<Self> {
        if !(2..=1 << 24).contains(&bits) {
            return Err(Error::invalid("precision", format!("bits must be in 2..=16777216, got {bits}")));
        }
        Ok(PrecisionChoice::Bits(bits))
    }

    /// The default relative tolerance of a law check: 0 in exact arithmetic, `1e-10` in `f64`,
    /// `2^(20−bits)` in MPFR (rounding errors of a few hundred operations per step, with margin).
    pub fn default_tolerance(&self) -> f64 {
        match self {
            PrecisionChoice::F64 => 1e-10,
            PrecisionChoice::Bits(b) => 2f64.powi(20 - *b as i32),
            PrecisionChoice::Exact => 0.0,
        }
    }
}

/// A parsed experiment file.
#[derive(Clone, Debug)]
pub struct ExperimentSpec {
    /// Name (defaults to the file stem).
    pub name: String,
    /// Number type (overridable on the command line).
    pub precision: PrecisionChoice,
    /// The architecture.
    pub arch: Arch,
    weight_decay: Option<Q>,
    loss: LossData,
    reduction: Option<Reduction>,
    truth: Option<Mat<f64>>,
    init: InitKind,
    dynamics: Dynamics,
    save: SaveSpec,
    divergence: f64,
    tolerance: Option<f64>,
    /// `[check] every`: discrete runs check their laws after every this-many steps.
    check_every: usize,
    reference: Option<ReferenceSpec>,
    /// Memory and work limits a run must stay within (checked before anything is allocated).
    pub limits: Limits,
}

impl ExperimentSpec {
    /// Reads and parses an experiment file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_file_with(path, &Limits::default())
    }

    /// Parses experiment-file text; `default_name` names it when the file does not.
    pub fn parse(text: &str, default_name: &str) -> Result<Self> {
        Self::parse_with(text, default_name, &Limits::default())
    }

    /// Parses an already-read TOML document (as a sweep produces one per grid point).
    pub fn from_table(doc: &toml::Table, default_name: &str) -> Result<Self> {
        Self::from_table_with(doc, default_name, &Limits::default())
    }

    /// [`ExperimentSpec::parse`] with resource limits: data the file asks to generate are
    /// refused beyond them before they are generated, and [`ExperimentSpec::run`] checks the run.
    pub fn parse_with(text: &str, default_name: &str, limits: &Limits) -> Result<Self> {
        let doc: toml::Table =
            text.parse().map_err(|e: toml::de::Error| Error::Other(format!("not valid TOML: {e}")))?;
        Self::from_table_with(&doc, default_name, limits)
    }

    /// [`ExperimentSpec::from_file`] with resource limits.
    pub fn from_file_with(path: &Path, limits: &Limits) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "experiment".into());
        Self::parse_with(&text, &stem, limits)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })
    }

    /// [`ExperimentSpec::from_table`] with resource limits.
    pub fn from_table_with(doc: &toml::Table, default_name: &str, limits: &Limits) -> Result<Self> {
        let top = Section::new("", doc);
        let name = top.str_opt("name")?.unwrap_or(default_name).to_string();
        top.str_opt("description")?;
        let precision = match top.get("precision") {
            None => PrecisionChoice::F64,
            Some(toml::Value::String(s)) => PrecisionChoice::parse(s)?,
            Some(toml::Value::Integer(b)) => match u32::try_from(*b) {
                Ok(b) => PrecisionChoice::bits(b)?,
                Err(_) => return Err(bad("precision", format!("bits must be in 2..=16777216, got {b}"))),
            },
            Some(v) => return Err(bad("precision", format!("expected \"f64\", \"mp:BITS\" or \"exact\", got {v}"))),
        };

        let m = top.sub("model")?;
        let arch = read_arch(&m)?;
        check_sizes(&arch, limits)?;
        let weight_decay = m.num_opt("weight_decay")?;
        if let Some(l) = &weight_decay {
            if l.cmp0() == std::cmp::Ordering::Less {
                return Err(bad("model.weight_decay", format!("must be >= 0, got {}", short(l))));
            }
        }
        m.finish()?;

        let l = top.sub("loss")?;
        let LossRead { data: loss, reduction, truth } = read_loss(&l, &arch, limits)?;
        let loss_scale = l.num_opt("scale")?.unwrap_or_else(|| Q::from(1));
        if loss_scale.cmp0() != std::cmp::Ordering::Greater {
            return Err(bad("loss.scale", format!("must be > 0, got {}", short(&loss_scale))));
        }
        l.finish()?;

        let i = top.sub("init")?;
        let init = read_init(&i, &arch)?;
        i.finish()?;

        let r = top.sub("run")?;
        let meth = top.sub("method")?;
        let mut dynamics = read_dynamics(&meth, &r, &loss_scale)?;
        if let Dynamics::Discrete { method, stable_fraction: Some(c), .. } = &mut dynamics {
            *method = Method::Gd { eta: stable_eta(&arch, &loss, reduction, truth.as_ref(), *c)? };
        }
        meth.finish()?;
        let save = SaveSpec::read(&r)?;
        let divergence = r.num_opt("divergence")?.map_or(Ok(1e30), |q| match q.to_f64() {
            // A threshold beyond f64's range never triggers, like an infinite one.
            f if f.is_infinite() && q.cmp0() == std::cmp::Ordering::Greater => Ok(f64::MAX),
            _ => f64_in("run.divergence", &q),
        })?;
        if divergence.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
            return Err(bad("run.divergence", format!("must be > 1, got {divergence}")));
        }
        r.finish()?;

        let (tolerance, check_every) = match top.opt_sub("check")? {
            Some(c) => check::read(&c, matches!(dynamics, Dynamics::Flow(_)))?,
            None => (None, 1),
        };
        let reference = match top.opt_sub("reference")? {
            Some(sec) => {
                let r = ReferenceSpec::read(&sec)?;
                let shape = match &dynamics {
                    Dynamics::Flow(f) => match f.field {
                        FieldKind::Gradient => RunShape::Gradient,
                        FieldKind::Regularizer => RunShape::Regularizer,
                        FieldKind::MomentMap => RunShape::MomentMap,
                        _ => RunShape::Other(format!("this flow ({})", f.field.name())),
                    },
                    Dynamics::Discrete { .. } => RunShape::Other("a discrete method".into()),
                };
                r.validate(&arch, loss.kind(), &shape, weight_decay.is_some())?;
                Some(r)
            }
            None => None,
        };
        top.finish()?;
        Ok(ExperimentSpec {
            name,
            precision,
            arch,
            weight_decay,
            loss,
            reduction,
            truth,
            init,
            dynamics,
            save,
            divergence,
            tolerance,
            check_every,
            reference,
            limits: *limits,
        })
    }

    /// Runs the experiment at `precision` (the file's own when `None`), checking the laws that
    /// apply to its method and architecture.
    pub fn run(&self, precision: Option<PrecisionChoice>) -> Result<RunReport> {
        let p = precision.unwrap_or(self.precision);
        self.plan(p)?;
        if p == PrecisionChoice::Exact && self.reference.is_some() {
            // Refused before the run, which in rationals can take long.
            return Err(bad(
                "reference.kind",
                "the closed forms take exponentials, logarithms and square roots, which exact rationals lack: \
                 compare in f64 or mp:BITS",
            ));
        }
        let tol = self.tolerance.unwrap_or_else(|| p.default_tolerance());
        match p {
            PrecisionChoice::F64 => self.run_in(&0.0f64, tol, |r| Some(Law::exp_decay(r))),
            PrecisionChoice::Bits(b) => self.run_in(&Mp::new(b), tol, |r| Some(Law::exp_decay(r))),
            PrecisionChoice::Exact => self.run_in(&Q::new(), tol, |_| None),
        }
    }

    /// The file's model and starting point in the number type of `proto`.
    pub fn problem<S: RunScalar>(&self, proto: &S) -> Result<(Model<S>, Params<S>)> {
        let (model, p0) = (self.model(proto)?, self.init(proto)?);
        model.check_params(&p0)?;
        Ok((model, p0))
    }

    /// The discrete method with its exact hyperparameters, and the number of steps; `None` when
    /// the file describes a flow.
    pub fn discrete(&self) -> Option<(&Method<Q>, usize)> {
        match &self.dynamics {
            Dynamics::Discrete { method, steps, .. } => Some((method, *steps)),
            Dynamics::Flow(_) => None,
        }
    }

    /// Estimates the memory and work of a run at precision `p` and refuses it beyond
    /// [`ExperimentSpec::limits`]; also refuses an integrator the number type cannot run. Nothing
    /// is allocated. Returns the estimated bytes and multiply–adds.
    pub fn plan(&self, p: PrecisionChoice) -> Result<(f64, f64)> {
        let bits = match p {
            PrecisionChoice::F64 => Some(53),
            PrecisionChoice::Bits(b) => Some(b),
            PrecisionChoice::Exact => None,
        };
        let (b, cost) = (plan::scalar_bytes(bits), plan::op_cost(bits));
        let shapes = self.arch.param_shapes();
        let params: f64 = shapes.iter().map(|(r, c)| *r as f64 * *c as f64).sum();
        let (out_r, out_c) = self.arch.output_shape();
        let (data, cols) = match &self.loss {
            LossData::Target(_) => (out_r as f64 * out_c as f64, out_c as f64),
            LossData::Regression(x, y) => ((x.rows() + y.rows()) as f64 * x.cols() as f64, x.cols() as f64),
            LossData::Sensing(a, _) => (a.len() as f64 * out_r as f64 * out_c as f64, a.len() as f64),
            LossData::Completion(_, e) => (3.0 * e.len() as f64, 1.0),
        };
        let widths: Vec<f64> = match &self.arch {
            Arch::DeepLinear { widths } => widths.iter().map(|&w| w as f64).collect(),
            _ => vec![],
        };
        // W_{j+1}ᵀW_{j+1} − W_jW_jᵀ, d_j × d_j at every hidden layer, with its two products.
        let hidden: f64 = widths.iter().skip(1).take(widths.len().saturating_sub(2)).map(|d| d * d).sum();
        let hidden_ops: f64 = widths.windows(3).map(|w| w[1] * w[1] * (w[0] + w[2])).sum();
        let (state, steps, evals, key) = match &self.dynamics {
            Dynamics::Discrete { steps, method, .. } => {
                let evals = if matches!(method, Method::Sam { .. } | Method::Usam { .. }) { 2.0 } else { 1.0 };
                (params, Some(*steps as f64), evals, "run.steps")
            }
            Dynamics::Flow(f) => {
                f.integrator.check_type(bits, "method.integrator.kind")?;
                let stages = match &f.integrator {
                    IntegratorSpec::Fixed { kind, stages, .. } => match kind.as_str() {
                        "euler" => 1.0,
                        "heun" => 2.0,
                        "rk4" => 4.0,
                        "rk8" => 11.0,
                        // fixed-point iterations on the stage equations: about ten per step.
                        _ => 10.0 * *stages as f64,
                    },
                    IntegratorSpec::Adaptive { .. } => 13.0,
                    // A step of order p costs about p tape sweeps, each about one gradient.
                    IntegratorSpec::Taylor { order, .. } => order.unwrap_or(30) as f64,
                };
                let per = match f.field {
                    FieldKind::Sam(..) | FieldKind::Usam(..) => 3.0,
                    FieldKind::GdModified(_) => 3.0,
                    // M_W on d_N·d_0-vectors and its solve: (d_N d_0)³ per evaluation.
                    FieldKind::Regularizer | FieldKind::FastSlow(_) => {
                        1.0 + (out_r as f64 * out_c as f64).powi(3) / (params * cols).max(1.0)
                    }
                    _ => 1.0,
                };
                let state = if f.field.second_order() { 2.0 * params } else { params };
                (state, f.fixed_steps(), stages * per, "run.t1")
            }
        };
        let mut e = Estimate::default();
        e.memory("model.widths", "the parameters, gradients and workspaces", 8.0 * state, b);
        e.memory("model.widths", "the activations", 2.0 * widths.iter().sum::<f64>() * cols, b);
        e.memory("loss", "the data", data, b + plan::scalar_bytes(None));
        e.memory("model.widths", "the balancedness matrices of the law check", 3.0 * hidden, b);
        let saves = self.save.count(steps);
        e.memory("run.save", "the saved states", saves, state * (b + 8.0) + 16.0);
        // One gradient: a forward and a backward product through every block, per column of data.
        let grad = 4.0 * params * cols + data;
        if let Some(steps) = steps {
            e.work(key, "steps x gradient evaluations", steps * evals * grad * cost);
        }
        e.work("run.save", "law checks at the saved states", saves * (hidden_ops + params) * cost);
        e.check(&self.limits)?;
        Ok((e.bytes(), e.ops()))
    }

    /// The ground truth a generated completion loss observes (`None` for other data): the
    /// reference of the run's test error.
    pub fn truth(&self) -> Option<&Mat<f64>> {
        self.truth.as_ref()
    }

    fn model<S: Scalar>(&self, proto: &S) -> Result<Model<S>> {
        let c = |m: &Mat<Q>| m.map(|x| proto.from_q_like(x));
        let loss = match &self.loss {
            LossData::Target(t) => Loss::target(c(t)),
            LossData::Regression(x, y) => Loss::regression(c(x), c(y))?,
            LossData::Sensing(a, y) => {
                Loss::sensing(a.iter().map(c).collect(), y.iter().map(|v| proto.from_q_like(v)).collect())?
            }
            LossData::Completion(shape, e) => {
                Loss::completion(*shape, e.iter().map(|(i, j, v)| (*i, *j, proto.from_q_like(v))).collect())?
            }
        };
        let loss = match self.reduction {
            Some(r) => loss.with_reduction(r)?,
            None => loss,
        };
        let mut model = Model::new(self.arch.clone(), loss)?;
        if let Some(l) = &self.weight_decay {
            model = model.with_weight_decay(proto.from_q_like(l))?;
        }
        Ok(model)
    }

    /// The initialization, computed in the number type of `proto` (random draws are seeded
    /// `f64` samples, exact in every type; scales, roots, orthonormalization and the SVD of a
    /// balanced start are done at the working precision).
    fn init<S: RunScalar>(&self, proto: &S) -> Result<Params<S>> {
        let q = |x: &Q| proto.from_q_like(x);
        let shapes = self.arch.param_shapes();
        let p = match &self.init {
            InitKind::Gaussian { scale, seed } => {
                let mut p = init::gaussian(&self.arch, 1.0, &mut data::rng(*seed)).cast(proto);
                p.scale_mut(&q(scale));
                p
            }
            InitKind::Orthogonal { scale, seed } => {
                let mut rng = data::rng(*seed);
                let blocks = shapes
                    .iter()
                    .map(|&(r, c)| {
                        let g = data::gaussian(r, c, 1.0, &mut rng).cast(proto);
                        S::orthonormal(&g, "init.kind").map(|m| m.scaled(&q(scale)))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Params::new(blocks)
            }
            InitKind::Identity { scale } => {
                Params::new(shapes.iter().map(|&(r, c)| Mat::eye(r, c, proto).scaled(&q(scale))).collect())
            }
            InitKind::Balanced { product } => {
                let Arch::DeepLinear { widths } = &self.arch else {
                    return Err(bad("init.kind", "the balanced initialization is for deep linear networks"));
                };
                S::balanced(&product.map(|x| proto.from_q_like(x)), widths, "init.kind")?
            }
            InitKind::Alpha { alpha } => {
                let a = q(alpha);
                match self.arch {
                    // u = √2·α·1, v = 0, so that u² − v² = 2α².
                    Arch::DiagonalUV { d } => {
                        let two = proto.from_i64_like(2);
                        let root = two.try_sqrt().ok_or_else(|| {
                            bad(
                                "init.kind",
                                "alpha on diagonal_uv starts at u = sqrt(2)*alpha, which exact rationals lack; \
                                 use f64 / mp:BITS, or explicit blocks",
                            )
                        })?;
                        let u = root * a;
                        Params::new(vec![Mat::from_fn(1, d, |_, _| u.clone()), Mat::zeros(1, d, proto)])
                    }
                    Arch::DiagonalSq { d } => {
                        Params::new(vec![Mat::from_fn(1, d, |_, _| a.clone()), Mat::from_fn(1, d, |_, _| a.clone())])
                    }
                    _ => return Err(bad("init.kind", "the alpha-scaled initialization is for diagonal networks")),
                }
            }
            InitKind::Explicit(blocks) => Params::new(blocks.iter().map(|m| m.map(|x| proto.from_q_like(x))).collect()),
        };
        if !p.is_finite() {
            let key = match &self.init {
                InitKind::Alpha { .. } => "init.alpha",
                InitKind::Explicit(_) | InitKind::Balanced { .. } => "init.kind",
                _ => "init.scale",
            };
            return Err(bad(
                key,
                format!(
                    "the initialization overflows {}; use a smaller value or more bits (mp:BITS)",
                    proto.kind_name()
                ),
            ));
        }
        Ok(p)
    }

    fn run_in<S: RunScalar + RefScalar>(
        &self,
        proto: &S,
        tol: f64,
        decay: impl Fn(S) -> Option<Law<S>>,
    ) -> Result<RunReport> {
        let model = self.model(proto)?;
        let p0 = self.init(proto)?;
        model.check_params(&p0).map_err(|e| match e {
            Error::Dimension { expected, got, .. } => Error::dim("init.blocks", expected, got),
            e => e,
        })?;
        let (traj, unchecked, horizon_steps, loss_model) = match &self.dynamics {
            Dynamics::Discrete { method, batch, steps, stop_loss, .. } => {
                let method = method.map(|q| proto.from_q_like(q));
                let ids = discrete_identities(&method, &self.arch, model.weight_decay.as_ref());
                let unchecked = ids.unchecked.clone();
                let mut monitor = ids.monitor().check_every(self.check_every);
                let mut opt = Optimizer::exact(method)?;
                if let Some((size, seed)) = batch {
                    opt = opt.with_batches(*size, *seed);
                }
                let opts = RunOptions {
                    steps: *steps,
                    save: self.save.discrete(*steps),
                    divergence: self.divergence,
                    stop_loss: *stop_loss,
                };
                (run(&model, &mut opt, &p0, &opts, &mut monitor)?, unchecked, *steps, None)
            }
            Dynamics::Flow(f) => {
                let plan = FlowPlan::new(f, &self.save, proto)?;
                let only = |law: Law<S>| Identities { tracked: vec![Tracked::new(LossValue, law)], unchecked: vec![] };
                let ids = match f.field {
                    FieldKind::Gradient => {
                        // e^{-2λt} in physical time t = C·τ of the solver's time τ.
                        let c = plan.c.clone();
                        flow_identities(&self.arch, model.weight_decay.as_ref(), |r| decay(r * c.clone()))
                    }
                    // Gradient-like flows (the fast-slow field adds a vertical part orthogonal to
                    // the gradient) decrease the loss; the balancing flows keep the product.
                    FieldKind::EndToEnd | FieldKind::FastSlow(_) => only(Law::NonIncreasing),
                    FieldKind::Regularizer | FieldKind::MomentMap => only(Law::Conserved),
                    _ => Identities {
                        tracked: vec![],
                        unchecked: vec![
                            "no conserved or monotone quantity is known for this flow: nothing checked".into()
                        ],
                    },
                };
                let unchecked = ids.unchecked.clone();
                let mut monitor = ids.monitor();
                let (mut traj, times, loss_model) = plan.solve(f, &model, &p0, &mut monitor)?;
                traj.times = times;
                if f.field.second_order() {
                    // Outputs hold the position w of the phase state (w, ẇ).
                    let n = model.arch.depth();
                    for s in traj.states.iter_mut() {
                        s.blocks.truncate(n);
                    }
                }
                (traj, unchecked, 0, loss_model)
            }
        };
        let mut verdicts: Vec<Verdict> = traj.laws.iter().map(|r| Verdict::judge(r, tol, &traj.outcome)).collect();
        if let (Some(r), Dynamics::Flow(f)) = (&self.reference, &self.dynamics) {
            // Physical time per unit time of the closed form: 1/speed (the speed includes 1/scale).
            let tau = proto.one_like() / proto.from_q_like(&f.speed);
            let run = RefRun {
                model: &model,
                times: &traj.times,
                states: &traj.states,
                tau,
                moment_map: f.field == FieldKind::MomentMap,
            };
            verdicts.push(Verdict::judge(&S::reference(r, &run)?, r.tolerance, &traj.outcome));
        }
        let text = TrajectoryText::new(&traj, loss_model.as_ref().unwrap_or(&model));
        let trajectory = traj.to_f64();
        let completion = match (&self.truth, trajectory.states.last()) {
            (Some(truth), Some(last)) => self.completion_measures(truth, last)?,
            _ => None,
        };
        Ok(RunReport {
            name: self.name.clone(),
            precision: proto.kind_name(),
            horizon_steps,
            verdicts,
            unchecked,
            text,
            trajectory,
            completion,
        })
    }

    /// Test error and spectrum of the end-to-end matrix at `state` against the generated truth
    /// (`None` when that matrix is not finite: its spectrum is undefined).
    fn completion_measures(&self, truth: &Mat<f64>, state: &Params<f64>) -> Result<Option<CompletionMeasures>> {
        let w = self.model(&0.0f64)?.end_to_end(state);
        if !w.is_finite() {
            return Ok(None);
        }
        let sv = singular_values(&w)?;
        Ok(Some(CompletionMeasures {
            test_mse: test_mse(&w, truth)?,
            effective_rank: effective_rank(&sv)?,
            singular_values: sv.into_iter().take(10).collect(),
        }))
    }
}

/// `method.eta = { stable_fraction = c }`: the step size $\eta = c\,m/(2N\sigma_1^{2-2/N})$ of
/// [`stable_step_size`] from the `m` observed entries of a completion generated from a truth with
/// largest singular value $\sigma_1$, under the mean squared error, for a depth-`N` deep linear
/// network; exact from its `f64` value.
fn stable_eta(
    arch: &Arch,
    loss: &LossData,
    reduction: Option<Reduction>,
    truth: Option<&Mat<f64>>,
    c: f64,
) -> Result<Q> {
    let field = "method.eta";
    let (LossData::Completion(_, entries), Some(truth)) = (loss, truth) else {
        return Err(bad(
            field,
            "{ stable_fraction } needs a completion loss generated from a truth (observed or fraction)",
        ));
    };
    if reduction != Some(Reduction::Mean) {
        return Err(bad(
            field,
            "{ stable_fraction } bounds the sharpness of the mean squared error: set loss.reduction = \"mean\"",
        ));
    }
    if !matches!(arch, Arch::DeepLinear { .. }) {
        return Err(bad(field, "{ stable_fraction } is for deep linear networks"));
    }
    let sigma = singular_values(truth)?[0];
    let eta = stable_step_size(entries.len(), arch.depth(), sigma, c);
    match Q::from_f64(eta) {
        Some(q) if eta > 0.0 => Ok(q),
        _ => Err(bad(field, format!("the rule gives eta = {eta}, not a finite positive number"))),
    }
}
