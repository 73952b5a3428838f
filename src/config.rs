//! Experiment files: one TOML file says what to run (model, loss and data, initialization, method,
//! horizon, save schedule, precision) and which laws to check.
//!
//! Numbers may be TOML integers or floats (taken at their exact binary value) or strings holding
//! an exact rational: `"1/10"`, `"-3/4"`, `"0.1"`, `"2.5e-3"`. In exact mode (`precision =
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
//! kind = "gd"                    # gd | sgd | sam | usam | heavy_ball | nesterov | nbar | obar | gradient_flow
//! eta = "1/10"
//!
//! [run]
//! steps = 20                     # discrete methods; flows use `t1` and [method].integrator
//! save = "all"                   # "all" | "final" | { every = n } | { log = n } | { times = [..] }
//!
//! [check]
//! tolerance = 0                  # relative; default: 0 exact, 1e-10 f64, 2^(20-bits) MPFR
//! ```
//!
//! Explicit data replace generated data: `[loss] target = [[..]]` (target), `x = [[..]]` and
//! `y = [[..]]` (regression, samples as columns), `entries = [[i, j, value], ..]` and `shape = [r, c]`
//! (completion), `a = [ [[..]], .. ]` and `y = [..]` (sensing); `[init] kind = "explicit"` with
//! `blocks = [ [[..]], .. ]`.

use crate::error::{Error, Result};
use crate::flow::{self, GradientFlow, Integrator, SolveOptions};
use crate::invariants::{discrete_identities, flow_identities, Law};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{BarKind, Method, Optimizer};
use crate::params::Params;
use crate::run::{run, RunOptions};
use crate::scalar::{Mp, Scalar, Q};
use crate::trajectory::Save;
use crate::verdict::TrajectoryText;
pub use crate::verdict::{RunReport, Verdict};
use crate::{data, init};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
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

/// Parses an exact rational from a decimal or fraction string: `"1/10"`, `"-0.25"`, `"3e-2"`.
pub fn parse_rational(s: &str) -> Option<Q> {
    let t = s.trim();
    if let Some((n, d)) = t.split_once('/') {
        let (n, d) = (parse_rational(n)?, parse_rational(d)?);
        return (!d.is_zero()).then(|| n / d);
    }
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant.strip_prefix('+').unwrap_or(mant)),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: rug::Integer = format!("{int}{frac}").parse().ok()?;
    let scale = exp - frac.len() as i32;
    let pow10 = |e: u32| rug::Integer::from(rug::Integer::u_pow_u(10, e));
    let mut q = Q::from(digits);
    if scale >= 0 {
        q *= Q::from(pow10(scale as u32));
    } else {
        q /= Q::from(pow10(scale.unsigned_abs()));
    }
    Some(if neg { -q } else { q })
}

/// One section of a TOML file, remembering which keys were read so unknown keys are reported.
struct Section<'a> {
    path: String,
    table: &'a toml::Table,
    used: RefCell<BTreeSet<String>>,
}

fn bad(path: &str, msg: impl Into<String>) -> Error {
    Error::invalid(path, msg)
}

impl<'a> Section<'a> {
    fn new(path: &str, table: &'a toml::Table) -> Self {
        Section { path: path.into(), table, used: RefCell::new(BTreeSet::new()) }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.into()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str) -> Option<&'a toml::Value> {
        self.used.borrow_mut().insert(key.into());
        self.table.get(key)
    }

    fn sub(&self, key: &str) -> Result<Section<'a>> {
        match self.get(key) {
            Some(toml::Value::Table(t)) => Ok(Section::new(&self.field(key), t)),
            Some(_) => Err(bad(&self.field(key), "expected a table")),
            None => Err(bad(&self.field(key), "missing section")),
        }
    }

    fn opt_sub(&self, key: &str) -> Result<Option<Section<'a>>> {
        if self.table.contains_key(key) {
            self.sub(key).map(Some)
        } else {
            self.get(key);
            Ok(None)
        }
    }

    fn str_opt(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(&self.field(key), format!("expected a string, got {v}"))),
        }
    }

    fn str_req(&self, key: &str, expected: &str) -> Result<&'a str> {
        self.str_opt(key)?.ok_or_else(|| bad(&self.field(key), format!("missing; expected {expected}")))
    }

    fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as usize)),
            Some(v) => Err(bad(&self.field(key), format!("expected a non-negative integer, got {v}"))),
        }
    }

    fn usize_req(&self, key: &str) -> Result<usize> {
        self.usize_opt(key)?.ok_or_else(|| bad(&self.field(key), "missing; expected a non-negative integer"))
    }

    fn positive(&self, key: &str) -> Result<usize> {
        match self.usize_req(key)? {
            0 => Err(bad(&self.field(key), "must be at least 1")),
            n => Ok(n),
        }
    }

    fn num_opt(&self, key: &str) -> Result<Option<Q>> {
        self.get(key).map(|v| num(&self.field(key), v)).transpose()
    }

    fn num_req(&self, key: &str) -> Result<Q> {
        self.num_opt(key)?.ok_or_else(|| bad(&self.field(key), "missing; expected a number or a string like \"1/10\""))
    }

    fn matrix_opt(&self, key: &str) -> Result<Option<Mat<Q>>> {
        self.get(key).map(|v| matrix(&self.field(key), v)).transpose()
    }

    /// Errors on keys that were never read.
    fn finish(&self) -> Result<()> {
        let used = self.used.borrow();
        let unknown: Vec<&String> = self.table.keys().filter(|k| !used.contains(*k)).collect();
        match unknown.first() {
            None => Ok(()),
            Some(k) => Err(bad(
                &self.field(k),
                format!("unknown key; known keys here: {}", used.iter().cloned().collect::<Vec<_>>().join(", ")),
            )),
        }
    }
}

fn num(field: &str, v: &toml::Value) -> Result<Q> {
    match v {
        toml::Value::Integer(i) => Ok(Q::from(*i)),
        toml::Value::Float(f) => Q::from_f64(*f).ok_or_else(|| bad(field, format!("must be finite, got {f}"))),
        toml::Value::String(s) => parse_rational(s)
            .ok_or_else(|| bad(field, format!("expected a number like 0.5, \"1/10\" or \"2.5e-3\", got \"{s}\""))),
        v => Err(bad(field, format!("expected a number, got {v}"))),
    }
}

fn matrix(field: &str, v: &toml::Value) -> Result<Mat<Q>> {
    let rows = v.as_array().ok_or_else(|| bad(field, "expected a matrix as an array of rows [[..], ..]"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let r = r.as_array().ok_or_else(|| bad(field, format!("row {i} is not an array")))?;
        out.push(r.iter().enumerate().map(|(j, x)| num(&format!("{field}[{i}][{j}]"), x)).collect::<Result<Vec<_>>>()?);
    }
    if out.is_empty() || out[0].is_empty() {
        return Err(bad(field, "matrix must have at least one row and one column"));
    }
    Mat::try_from_rows(out).map_err(|e| bad(field, e))
}

fn matrices(field: &str, v: &toml::Value) -> Result<Vec<Mat<Q>>> {
    let list = v.as_array().ok_or_else(|| bad(field, "expected an array of matrices"))?;
    list.iter().enumerate().map(|(k, m)| matrix(&format!("{field}[{k}]"), m)).collect()
}

fn q_f64(q: &Q) -> f64 {
    q.to_f64()
}

/// Ground truth or target matrix: generated from a seed or given explicitly.
#[derive(Clone, Debug)]
enum Truth {
    Gaussian { scale: f64 },
    LowRank { rank: usize },
    Sparse { s: usize },
    Identity,
    Explicit(Mat<Q>),
}

impl Truth {
    fn read(sec: &Section) -> Result<Self> {
        let field = sec.field("truth");
        Ok(match sec.get("truth") {
            None => Truth::Gaussian { scale: sec.num_opt("scale")?.map_or(1.0, |q| q_f64(&q)) },
            Some(toml::Value::String(s)) => match s.as_str() {
                "gaussian" => Truth::Gaussian { scale: sec.num_opt("scale")?.map_or(1.0, |q| q_f64(&q)) },
                "low_rank" => Truth::LowRank { rank: sec.positive("rank")? },
                "sparse" => Truth::Sparse { s: sec.positive("sparsity")? },
                "identity" => Truth::Identity,
                other => {
                    return Err(bad(
                        &field,
                        format!("expected gaussian, low_rank, sparse, identity or a matrix, got \"{other}\""),
                    ))
                }
            },
            Some(v) => Truth::Explicit(matrix(&field, v)?),
        })
    }

    fn build(&self, shape: (usize, usize), rng: &mut rand_chacha::ChaCha8Rng, field: &str) -> Result<Mat<Q>> {
        let q = Q::new();
        let m = match self {
            Truth::Gaussian { scale } => data::gaussian(shape.0, shape.1, *scale, rng).cast(&q),
            Truth::LowRank { rank } => data::low_rank(shape.0, shape.1, *rank, rng).cast(&q),
            Truth::Sparse { s } => {
                if shape.0 != 1 {
                    return Err(bad(field, "sparse truths are rows (diagonal networks)"));
                }
                data::sparse_row(shape.1, *s, rng).cast(&q)
            }
            Truth::Identity => Mat::eye(shape.0, shape.1, &q),
            Truth::Explicit(m) => m.clone(),
        };
        if m.shape() != shape {
            return Err(Error::dim(field, format!("{}x{}", shape.0, shape.1), format!("{}x{}", m.rows(), m.cols())));
        }
        Ok(m)
    }
}

/// The loss and its data, exactly.
#[derive(Clone, Debug)]
enum LossData {
    Target(Mat<Q>),
    Regression(Mat<Q>, Mat<Q>),
    Sensing(Vec<Mat<Q>>, Vec<Q>),
    Completion((usize, usize), Vec<(usize, usize, Q)>),
}

/// The initialization.
#[derive(Clone, Debug)]
enum InitKind {
    Gaussian { scale: f64, seed: u64 },
    Orthogonal { scale: f64, seed: u64 },
    Identity { scale: f64 },
    Balanced { product: Mat<Q> },
    Alpha { alpha: f64 },
    Explicit(Vec<Mat<Q>>),
}

/// Dynamics: a discrete method or a flow.
#[derive(Clone, Debug)]
enum Dynamics {
    Discrete { method: Method<Q>, batch: Option<(usize, u64)>, steps: usize },
    GradientFlow { integrator: Integrator, t1: f64 },
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
    init: InitKind,
    dynamics: Dynamics,
    save: Save,
    divergence: f64,
    tolerance: Option<f64>,
}

impl ExperimentSpec {
    /// Reads and parses an experiment file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "experiment".into());
        Self::parse(&text, &stem)
            .map_err(|e| Error::Config { path: path.display().to_string(), message: e.to_string() })
    }

    /// Parses experiment-file text; `default_name` names it when the file does not.
    pub fn parse(text: &str, default_name: &str) -> Result<Self> {
        let doc: toml::Table =
            text.parse().map_err(|e: toml::de::Error| Error::Other(format!("not valid TOML: {e}")))?;
        Self::from_table(&doc, default_name)
    }

    /// Parses an already-read TOML document (as a sweep produces one per grid point).
    pub fn from_table(doc: &toml::Table, default_name: &str) -> Result<Self> {
        let top = Section::new("", doc);
        let name = top.str_opt("name")?.unwrap_or(default_name).to_string();
        top.str_opt("description")?;
        let precision = match top.get("precision") {
            None => PrecisionChoice::F64,
            Some(toml::Value::String(s)) => PrecisionChoice::parse(s)?,
            Some(toml::Value::Integer(b)) => PrecisionChoice::bits(u32::try_from(*b).unwrap_or(0))?,
            Some(v) => return Err(bad("precision", format!("expected \"f64\", \"mp:BITS\" or \"exact\", got {v}"))),
        };

        let m = top.sub("model")?;
        let arch = read_arch(&m)?;
        let weight_decay = m.num_opt("weight_decay")?;
        if let Some(l) = &weight_decay {
            if l.cmp0() == std::cmp::Ordering::Less {
                return Err(bad("model.weight_decay", format!("must be >= 0, got {l}")));
            }
        }
        m.finish()?;

        let l = top.sub("loss")?;
        let loss = read_loss(&l, &arch)?;
        l.finish()?;

        let i = top.sub("init")?;
        let init = read_init(&i, &arch)?;
        i.finish()?;

        let r = top.sub("run")?;
        let meth = top.sub("method")?;
        let dynamics = read_dynamics(&meth, &r)?;
        meth.finish()?;
        let save = read_save(&r)?;
        let divergence = r.num_opt("divergence")?.map_or(1e30, |q| q_f64(&q));
        if divergence.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
            return Err(bad("run.divergence", format!("must be > 1, got {divergence}")));
        }
        r.finish()?;

        let tolerance = match top.opt_sub("check")? {
            Some(c) => {
                let t = c.num_opt("tolerance")?.map(|q| q_f64(&q));
                if let Some(t) = t {
                    if t < 0.0 {
                        return Err(bad("check.tolerance", format!("must be >= 0, got {t}")));
                    }
                }
                c.finish()?;
                t
            }
            None => None,
        };
        top.finish()?;
        Ok(ExperimentSpec { name, precision, arch, weight_decay, loss, init, dynamics, save, divergence, tolerance })
    }

    /// Runs the experiment at `precision` (the file's own when `None`), checking the laws that
    /// apply to its method and architecture.
    pub fn run(&self, precision: Option<PrecisionChoice>) -> Result<RunReport> {
        let p = precision.unwrap_or(self.precision);
        let tol = self.tolerance.unwrap_or_else(|| p.default_tolerance());
        match p {
            PrecisionChoice::F64 => self.run_in(&0.0f64, tol, |r| Some(Law::exp_decay(r))),
            PrecisionChoice::Bits(b) => self.run_in(&Mp::new(b), tol, |r| Some(Law::exp_decay(r))),
            PrecisionChoice::Exact => self.run_in(&Q::new(), tol, |_| None),
        }
    }

    /// The file's model and starting point in the number type of `proto`.
    pub fn problem<S: Scalar>(&self, proto: &S) -> Result<(Model<S>, Params<S>)> {
        let (model, p0) = (self.model(proto)?, self.init(proto)?);
        model.check_params(&p0)?;
        Ok((model, p0))
    }

    /// The discrete method with its exact hyperparameters, and the number of steps; `None` when
    /// the file describes a flow.
    pub fn discrete(&self) -> Option<(&Method<Q>, usize)> {
        match &self.dynamics {
            Dynamics::Discrete { method, steps, .. } => Some((method, *steps)),
            Dynamics::GradientFlow { .. } => None,
        }
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
        let mut model = Model::new(self.arch.clone(), loss)?;
        if let Some(l) = &self.weight_decay {
            model = model.with_weight_decay(proto.from_q_like(l))?;
        }
        Ok(model)
    }

    fn init<S: Scalar>(&self, proto: &S) -> Result<Params<S>> {
        let p = match &self.init {
            InitKind::Gaussian { scale, seed } => init::gaussian(&self.arch, *scale, &mut data::rng(*seed)).cast(proto),
            InitKind::Orthogonal { scale, seed } => {
                init::orthogonal(&self.arch, *scale, &mut data::rng(*seed)).cast(proto)
            }
            InitKind::Identity { scale } => init::identity(&self.arch, *scale).cast(proto),
            InitKind::Balanced { product } => init::balanced(&self.arch, &product.to_f64())?.cast(proto),
            InitKind::Alpha { alpha } => init::diagonal_alpha(&self.arch, *alpha)?.cast(proto),
            InitKind::Explicit(blocks) => Params::new(blocks.iter().map(|m| m.map(|x| proto.from_q_like(x))).collect()),
        };
        Ok(p)
    }

    fn run_in<S: Scalar>(&self, proto: &S, tol: f64, decay: impl Fn(S) -> Option<Law<S>>) -> Result<RunReport> {
        let model = self.model(proto)?;
        let p0 = self.init(proto)?;
        model.check_params(&p0).map_err(|e| match e {
            Error::Dimension { expected, got, .. } => Error::dim("init.blocks", expected, got),
            e => e,
        })?;
        let (traj, unchecked, horizon_steps) = match &self.dynamics {
            Dynamics::Discrete { method, batch, steps } => {
                let method = method.map(|q| proto.from_q_like(q));
                let ids = discrete_identities(&method, &self.arch, model.weight_decay.as_ref());
                let unchecked = ids.unchecked.clone();
                let mut monitor = ids.monitor();
                let mut opt = Optimizer::exact(method)?;
                if let Some((size, seed)) = batch {
                    opt = opt.with_batches(*size, *seed);
                }
                let opts = RunOptions { steps: *steps, save: self.save.clone(), divergence: self.divergence };
                (run(&model, &mut opt, &p0, &opts, &mut monitor)?, unchecked, *steps)
            }
            Dynamics::GradientFlow { integrator, t1 } => {
                let ids = flow_identities(&self.arch, model.weight_decay.as_ref(), decay);
                let unchecked = ids.unchecked.clone();
                let mut monitor = ids.monitor();
                let save_times = match &self.save {
                    Save::Times { times } => times.clone(),
                    Save::Every { n } => {
                        let h = integrator_step(integrator);
                        let k = (*t1 / h).ceil() as usize;
                        (1..=k).step_by((*n).max(1)).map(|i| (i as f64 * h).min(*t1)).collect()
                    }
                    Save::LogSpaced { count } => {
                        (1..=*count).map(|i| t1 * 10f64.powf(-3.0 * (1.0 - i as f64 / *count as f64))).collect()
                    }
                    Save::FinalOnly => vec![],
                };
                let opts = SolveOptions { t1: *t1, save_times };
                let mut field = GradientFlow::new(&model);
                (flow::solve(&mut field, &model, &p0, integrator, &opts, &mut monitor)?, unchecked, 0)
            }
        };
        let verdicts = traj.laws.iter().map(|r| Verdict::judge(r, tol, &traj.outcome)).collect();
        Ok(RunReport {
            name: self.name.clone(),
            precision: proto.kind_name(),
            horizon_steps,
            verdicts,
            unchecked,
            text: TrajectoryText::new(&traj, &model),
            trajectory: traj.to_f64(),
        })
    }
}

fn integrator_step(i: &Integrator) -> f64 {
    serde_json::to_value(i).ok().and_then(|v| v.get("h").and_then(|h| h.as_f64())).unwrap_or(0.01)
}

fn read_arch(m: &Section) -> Result<Arch> {
    let kind = m.str_req("arch", "deep_linear, diagonal_uv, diagonal_sq, factor or factor_op")?;
    let arch = match kind {
        "deep_linear" => {
            let field = m.field("widths");
            let w = m.get("widths").ok_or_else(|| bad(&field, "missing; expected [d_0, ..., d_N]"))?;
            let list = w.as_array().ok_or_else(|| bad(&field, "expected an array of positive integers"))?;
            let widths = list
                .iter()
                .map(|x| match x.as_integer() {
                    Some(i) if i >= 0 => Ok(i as usize),
                    _ => Err(bad(&field, format!("expected positive integers, got {x}"))),
                })
                .collect::<Result<Vec<_>>>()?;
            Arch::DeepLinear { widths }
        }
        "diagonal_uv" => Arch::DiagonalUV { d: m.positive("d")? },
        "diagonal_sq" => Arch::DiagonalSq { d: m.positive("d")? },
        "factor" => Arch::Factor { d1: m.positive("d1")?, d2: m.positive("d2")?, r: m.positive("r")? },
        "factor_op" => Arch::FactorOp { d: m.positive("d")? },
        other => {
            return Err(bad(
                &m.field("arch"),
                format!("expected deep_linear, diagonal_uv, diagonal_sq, factor or factor_op, got \"{other}\""),
            ))
        }
    };
    arch.validate().map_err(|e| match e {
        Error::Invalid { field, message } => bad(&m.field(&field), message),
        e => e,
    })?;
    Ok(arch)
}

fn input_dim(arch: &Arch) -> usize {
    arch.output_shape().1
}

fn read_loss(l: &Section, arch: &Arch) -> Result<LossData> {
    let kind = l.str_req("kind", "target, regression, sensing or completion")?;
    let shape = arch.output_shape();
    let seed = l.usize_opt("seed")?.unwrap_or(0) as u64;
    let mut rng = data::rng(seed);
    let q = Q::new();
    Ok(match kind {
        "target" => {
            let t = match l.matrix_opt("target")? {
                Some(t) => t,
                None => Truth::read(l)?.build(shape, &mut rng, &l.field("truth"))?,
            };
            if t.shape() != shape {
                return Err(Error::dim(
                    l.field("target"),
                    format!("{}x{}", shape.0, shape.1),
                    format!("{}x{}", t.rows(), t.cols()),
                ));
            }
            LossData::Target(t)
        }
        "regression" => match (l.matrix_opt("x")?, l.matrix_opt("y")?) {
            (Some(x), Some(y)) => {
                if x.rows() != input_dim(arch) {
                    return Err(Error::dim(
                        l.field("x"),
                        format!("{} rows (input dimension)", input_dim(arch)),
                        format!("{} rows", x.rows()),
                    ));
                }
                if y.shape() != (shape.0, x.cols()) {
                    return Err(Error::dim(
                        l.field("y"),
                        format!("{}x{} (outputs x samples)", shape.0, x.cols()),
                        format!("{}x{}", y.rows(), y.cols()),
                    ));
                }
                LossData::Regression(x, y)
            }
            (None, None) => {
                let n = l.positive("samples")?;
                let noise = l.num_opt("noise")?.map_or(0.0, |q| q_f64(&q));
                let truth = Truth::read(l)?.build(shape, &mut rng, &l.field("truth"))?;
                let (x, y) = data::regression(&truth.to_f64(), n, noise, &mut rng);
                LossData::Regression(x.cast(&q), y.cast(&q))
            }
            _ => return Err(bad(&l.field("x"), "give both x and y, or neither (then samples and seed generate them)")),
        },
        "sensing" => match l.get("a") {
            Some(a) => {
                let a = matrices(&l.field("a"), a)?;
                let y = l
                    .get("y")
                    .ok_or_else(|| bad(&l.field("y"), "missing; expected one measurement per matrix in a"))?;
                let y = y.as_array().ok_or_else(|| bad(&l.field("y"), "expected an array of numbers"))?;
                let y = y
                    .iter()
                    .enumerate()
                    .map(|(k, v)| num(&format!("{}[{k}]", l.field("y")), v))
                    .collect::<Result<Vec<_>>>()?;
                LossData::Sensing(a, y)
            }
            None => {
                let m = l.positive("samples")?;
                let truth = Truth::read(l)?.build(shape, &mut rng, &l.field("truth"))?;
                match data::sensing(&truth.to_f64(), m, &mut rng) {
                    Loss::Sensing { a, y, .. } => LossData::Sensing(
                        a.iter().map(|m| m.cast(&q)).collect(),
                        y.iter().map(|v| q.from_f64_like(*v)).collect(),
                    ),
                    _ => unreachable!("data::sensing builds a sensing loss"),
                }
            }
        },
        "completion" => match l.get("entries") {
            Some(e) => {
                let field = l.field("entries");
                let list = e.as_array().ok_or_else(|| bad(&field, "expected [[i, j, value], ..]"))?;
                let mut entries = Vec::new();
                for (k, t) in list.iter().enumerate() {
                    let t = t
                        .as_array()
                        .filter(|t| t.len() == 3)
                        .ok_or_else(|| bad(&field, format!("entry {k} is not [i, j, value]")))?;
                    let idx = |v: &toml::Value| v.as_integer().filter(|&i| i >= 0).map(|i| i as usize);
                    let (i, j) = idx(&t[0])
                        .zip(idx(&t[1]))
                        .ok_or_else(|| bad(&field, format!("entry {k}: indices must be non-negative integers")))?;
                    entries.push((i, j, num(&format!("{field}[{k}][2]"), &t[2])?));
                }
                LossData::Completion(shape, entries)
            }
            None => {
                let frac = l.num_opt("fraction")?.map_or(0.5, |q| q_f64(&q));
                if !(frac > 0.0 && frac <= 1.0) {
                    return Err(bad(&l.field("fraction"), format!("must be in (0, 1], got {frac}")));
                }
                let truth = Truth::read(l)?.build(shape, &mut rng, &l.field("truth"))?;
                match data::completion(&truth.to_f64(), frac, &mut rng) {
                    Loss::Completion { entries, .. } => LossData::Completion(
                        shape,
                        entries.iter().map(|(i, j, v)| (*i, *j, q.from_f64_like(*v))).collect(),
                    ),
                    _ => unreachable!("data::completion builds a completion loss"),
                }
            }
        },
        other => {
            return Err(bad(
                &l.field("kind"),
                format!("expected target, regression, sensing or completion, got \"{other}\""),
            ))
        }
    })
}

fn read_init(i: &Section, arch: &Arch) -> Result<InitKind> {
    let kind = i.str_req("kind", "gaussian, orthogonal, identity, balanced, alpha or explicit")?;
    let scale = || -> Result<f64> {
        let s = i.num_opt("scale")?.map_or(1.0, |q| q_f64(&q));
        if !(s.is_finite() && s >= 0.0) {
            return Err(bad(&i.field("scale"), format!("must be finite and >= 0, got {s}")));
        }
        Ok(s)
    };
    let seed = || -> Result<u64> { Ok(i.usize_opt("seed")?.unwrap_or(0) as u64) };
    Ok(match kind {
        "gaussian" => InitKind::Gaussian { scale: scale()?, seed: seed()? },
        "orthogonal" => InitKind::Orthogonal { scale: scale()?, seed: seed()? },
        "identity" => InitKind::Identity { scale: scale()? },
        "balanced" => {
            let shape = arch.output_shape();
            let product = match i.matrix_opt("product")? {
                Some(p) => p,
                None => data::gaussian(shape.0, shape.1, scale()?, &mut data::rng(seed()?)).cast(&Q::new()),
            };
            if product.shape() != shape {
                return Err(Error::dim(
                    i.field("product"),
                    format!("{}x{}", shape.0, shape.1),
                    format!("{}x{}", product.rows(), product.cols()),
                ));
            }
            InitKind::Balanced { product }
        }
        "alpha" => InitKind::Alpha { alpha: q_f64(&i.num_req("alpha")?) },
        "explicit" => {
            let field = i.field("blocks");
            let b =
                i.get("blocks").ok_or_else(|| bad(&field, "missing; expected [ [[..]], .. ], one matrix per block"))?;
            InitKind::Explicit(matrices(&field, b)?)
        }
        other => {
            return Err(bad(
                &i.field("kind"),
                format!("expected gaussian, orthogonal, identity, balanced, alpha or explicit, got \"{other}\""),
            ))
        }
    })
}

fn read_dynamics(m: &Section, r: &Section) -> Result<Dynamics> {
    let kind = m.str_req("kind", "gd, sgd, sam, usam, heavy_ball, nesterov, nbar, obar or gradient_flow")?;
    if kind == "gradient_flow" {
        let field = m.field("integrator");
        let v =
            m.get("integrator").ok_or_else(|| bad(&field, "missing; expected e.g. { kind = \"rk4\", h = 0.01 }"))?;
        let integrator: Integrator =
            v.clone().try_into().map_err(|e: toml::de::Error| bad(&field, e.message().to_string()))?;
        let t1 = q_f64(&r.num_req("t1")?);
        if !(t1.is_finite() && t1 > 0.0) {
            return Err(bad(&r.field("t1"), format!("must be finite and > 0, got {t1}")));
        }
        return Ok(Dynamics::GradientFlow { integrator, t1 });
    }
    let eta = m.num_req("eta")?;
    let aux_key = match kind {
        "sam" | "usam" => "rho",
        "heavy_ball" | "nesterov" => "beta",
        "nbar" | "obar" => "alpha",
        _ => "",
    };
    let a = if aux_key.is_empty() { Q::new() } else { m.num_req(aux_key)? };
    let e = eta;
    let method = match kind {
        "gd" | "sgd" => Method::Gd { eta: e },
        "sam" => Method::Sam { eta: e, rho: a },
        "usam" => Method::Usam { eta: e, rho: a },
        "heavy_ball" => Method::HeavyBall { eta: e, beta: a },
        "nesterov" => Method::Nesterov { eta: e, beta: a },
        "nbar" => Method::Bar { eta: e, alpha: a, kind: BarKind::N },
        "obar" => Method::Bar { eta: e, alpha: a, kind: BarKind::O },
        other => {
            return Err(bad(
                &m.field("kind"),
                format!(
                    "expected gd, sgd, sam, usam, heavy_ball, nesterov, nbar, obar or gradient_flow, got \"{other}\""
                ),
            ))
        }
    };
    method.validate().map_err(|err| match err {
        Error::Invalid { field, message } => bad(&m.field(&field), message),
        err => err,
    })?;
    let batch = match (kind, m.usize_opt("batch")?) {
        (_, Some(0)) => return Err(bad(&m.field("batch"), "must be at least 1")),
        (_, Some(b)) => Some((b, m.usize_opt("batch_seed")?.unwrap_or(0) as u64)),
        ("sgd", None) => return Err(bad(&m.field("batch"), "sgd needs a batch size")),
        _ => None,
    };
    let steps = r.usize_req("steps")?;
    Ok(Dynamics::Discrete { method, batch, steps })
}

fn read_save(r: &Section) -> Result<Save> {
    let field = r.field("save");
    Ok(match r.get("save") {
        None => Save::Every { n: 1 },
        Some(toml::Value::String(s)) if s == "all" => Save::Every { n: 1 },
        Some(toml::Value::String(s)) if s == "final" => Save::FinalOnly,
        Some(toml::Value::Table(t)) => {
            let s = Section::new(&field, t);
            let out = if let Some(n) = s.usize_opt("every")? {
                Save::Every { n: n.max(1) }
            } else if let Some(n) = s.usize_opt("log")? {
                Save::LogSpaced { count: n.max(1) }
            } else if let Some(v) = s.get("times") {
                let times = v
                    .as_array()
                    .ok_or_else(|| bad(&field, "times must be an array of numbers"))?
                    .iter()
                    .enumerate()
                    .map(|(k, x)| num(&format!("{field}.times[{k}]"), x).map(|q| q_f64(&q)))
                    .collect::<Result<Vec<_>>>()?;
                if times.windows(2).any(|w| w[0] > w[1]) {
                    return Err(bad(&field, "times must be increasing"));
                }
                Save::Times { times }
            } else {
                return Err(bad(&field, "expected { every = n }, { log = n } or { times = [..] }"));
            };
            s.finish()?;
            out
        }
        Some(v) => {
            return Err(bad(
                &field,
                format!("expected \"all\", \"final\", {{ every = n }}, {{ log = n }} or {{ times = [..] }}, got {v}"),
            ))
        }
    })
}
