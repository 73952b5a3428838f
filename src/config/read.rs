//! Reading the sections of an experiment file into exact data: the architecture, the loss and its
//! data (generated from a seed or given), the initialization and the dynamics. Every error names
//! its key; sizes are checked against the [`Limits`] before anything of that size is built.

use super::flows::{FieldKind, FlowSpec, IntegratorSpec, FLOW_KINDS};
use super::numbers::{f64_of, short};
use super::plan::{self, Estimate, Limits};
use super::section::{bad, matrices, matrix, num, Section};
use crate::data;
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::{Arch, Loss, Reduction};
use crate::optim::{BarKind, Method};
use crate::scalar::{Scalar, Q};

/// `q` as an `f64` where a generator works in `f64`, or an error naming `field`.
pub(super) fn f64_in(field: &str, q: &Q) -> Result<f64> {
    f64_of(q).map_err(|why| bad(field, why))
}

/// Ground truth or target matrix: generated from a seed or given explicitly.
#[derive(Clone, Debug)]
enum Truth {
    Gaussian { scale: f64 },
    LowRank { rank: usize, norm: Option<f64> },
    Sparse { s: usize },
    Identity,
    Explicit(Mat<Q>),
}

impl Truth {
    fn read(sec: &Section) -> Result<Self> {
        let field = sec.field("truth");
        if sec.table_has("truth_norm") && sec.peek_str("truth") != Some("low_rank") {
            return Err(bad(&sec.field("truth_norm"), "applies to truth = \"low_rank\" only"));
        }
        Ok(match sec.get("truth") {
            None => Truth::Gaussian { scale: Self::scale(sec)? },
            Some(toml::Value::String(s)) => match s.as_str() {
                "gaussian" => Truth::Gaussian { scale: Self::scale(sec)? },
                "low_rank" => {
                    let norm = match sec.num_opt("truth_norm")? {
                        None => None,
                        Some(q) => {
                            let f = f64_in(&sec.field("truth_norm"), &q)?;
                            if !(f.is_finite() && f > 0.0) {
                                return Err(bad(&sec.field("truth_norm"), format!("must be > 0, got {}", short(&q))));
                            }
                            Some(f)
                        }
                    };
                    Truth::LowRank { rank: sec.positive("rank")?, norm }
                }
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

    fn scale(sec: &Section) -> Result<f64> {
        sec.num_opt("truth_scale")?.map_or(Ok(1.0), |q| f64_in(&sec.field("truth_scale"), &q))
    }

    fn build(&self, shape: (usize, usize), rng: &mut rand_chacha::ChaCha8Rng, field: &str) -> Result<Mat<Q>> {
        let q = Q::new();
        let m = match self {
            Truth::Gaussian { scale } => data::gaussian(shape.0, shape.1, *scale, rng).cast(&q),
            Truth::LowRank { rank, norm } => {
                if *rank > shape.0.min(shape.1) {
                    return Err(bad(field, format!("rank {rank} exceeds min{shape:?} of the end-to-end shape")));
                }
                match norm {
                    None => data::low_rank(shape.0, shape.1, *rank, rng).cast(&q),
                    Some(f) => data::low_rank_with_norm(shape.0, shape.1, *rank, *f, rng)
                        .map_err(|e| bad(field, e.to_string()))?
                        .cast(&q),
                }
            }
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
pub(super) enum LossData {
    Target(Mat<Q>),
    Regression(Mat<Q>, Mat<Q>),
    Sensing(Vec<Mat<Q>>, Vec<Q>),
    Completion((usize, usize), Vec<(usize, usize, Q)>),
}

impl LossData {
    /// The `[loss] kind` of these data.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            LossData::Target(_) => "target",
            LossData::Regression(..) => "regression",
            LossData::Sensing(..) => "sensing",
            LossData::Completion(..) => "completion",
        }
    }
}

/// What `[loss]` describes: the data, the reduction of a sensing or completion loss, and the
/// ground truth a completion was generated from (for its test error).
pub(super) struct LossRead {
    pub(super) data: LossData,
    pub(super) reduction: Option<Reduction>,
    pub(super) truth: Option<Mat<f64>>,
}

/// The initialization.
#[derive(Clone, Debug)]
pub(super) enum InitKind {
    Gaussian { scale: Q, seed: u64 },
    Orthogonal { scale: Q, seed: u64 },
    Identity { scale: Q },
    Balanced { product: Mat<Q> },
    Alpha { alpha: Q },
    Explicit(Vec<Mat<Q>>),
}

/// Dynamics: a discrete method or a flow.
#[derive(Clone, Debug)]
pub(super) enum Dynamics {
    Discrete {
        method: Method<Q>,
        batch: Option<(usize, u64)>,
        steps: usize,
        /// `run.stop_loss`: stop at the first step whose loss is at most this.
        stop_loss: Option<f64>,
        /// `method.eta = { stable_fraction = c }`: η from the completion rule, set once the loss is read.
        stable_fraction: Option<f64>,
    },
    Flow(FlowSpec),
}

/// Refuses an architecture whose blocks cannot be addressed or whose parameters alone exceed
/// the memory limit, before anything of its size is built.
pub(super) fn check_sizes(arch: &Arch, limits: &Limits) -> Result<()> {
    let mut total = 0f64;
    for (r, c) in arch.param_shapes() {
        plan::entries("model.widths", r, c)?;
        total += r as f64 * c as f64;
    }
    let (r, c) = arch.output_shape();
    plan::entries("model.widths", r, c)?;
    let mut e = Estimate::default();
    e.memory("model.widths", "the parameters", total, 8.0);
    e.memory("model.widths", "the end-to-end matrix", r as f64 * c as f64, 8.0);
    e.check(limits)
}

pub(super) fn read_arch(m: &Section) -> Result<Arch> {
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

/// Refuses generated data of `entries` numbers beyond the memory limit, before generating them.
fn check_data(field: &str, entries: f64, limits: &Limits) -> Result<()> {
    let mut e = Estimate::default();
    // The generator draws f64 data and keeps an exact rational copy of it.
    e.memory(field, "the generated data", entries, 8.0 + plan::scalar_bytes(None));
    e.check(limits)
}

pub(super) fn read_loss(l: &Section, arch: &Arch, limits: &Limits) -> Result<LossRead> {
    let kind = l.str_req("kind", "target, regression, sensing or completion")?;
    let reduction = match l.str_opt("reduction")? {
        None => None,
        Some(r) => {
            let r = match r {
                "mean" => Reduction::Mean,
                "half_sum" => Reduction::HalfSum,
                "half_mean" => Reduction::HalfMean,
                other => {
                    return Err(bad(
                        &l.field("reduction"),
                        format!("expected mean, half_sum or half_mean, got \"{other}\""),
                    ))
                }
            };
            if !matches!(kind, "sensing" | "completion") {
                return Err(bad(
                    &l.field("reduction"),
                    format!("only sensing and completion losses take a reduction, not {kind}"),
                ));
            }
            Some(r)
        }
    };
    let mut truth_f64 = None;
    let data = read_loss_data(l, kind, arch, limits, &mut truth_f64)?;
    Ok(LossRead { data, reduction, truth: truth_f64 })
}

fn read_loss_data(
    l: &Section,
    kind: &str,
    arch: &Arch,
    limits: &Limits,
    truth_out: &mut Option<Mat<f64>>,
) -> Result<LossData> {
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
                let noise = l.num_opt("noise")?.map_or(Ok(0.0), |q| f64_in(&l.field("noise"), &q))?;
                plan::entries(&l.field("samples"), input_dim(arch) + shape.0, n)?;
                check_data(&l.field("samples"), (input_dim(arch) + shape.0) as f64 * n as f64, limits)?;
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
                check_data(&l.field("samples"), shape.0 as f64 * shape.1 as f64 * m as f64, limits)?;
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
                for key in ["observed", "fraction"] {
                    if l.table_has(key) {
                        return Err(bad(
                            &l.field(key),
                            "explicit entries are given: drop it, or drop entries to generate the data",
                        ));
                    }
                }
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
                if let Some(v) = l.get("shape") {
                    let sf = l.field("shape");
                    let given = v
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .and_then(|a| Some((a[0].as_integer()?, a[1].as_integer()?)))
                        .ok_or_else(|| bad(&sf, format!("expected [rows, cols], got {v}")))?;
                    if given != (shape.0 as i64, shape.1 as i64) {
                        return Err(Error::dim(
                            sf,
                            format!("[{}, {}] (the end-to-end shape of the model)", shape.0, shape.1),
                            format!("[{}, {}]", given.0, given.1),
                        ));
                    }
                }
                LossData::Completion(shape, entries)
            }
            None => {
                let observed = l.usize_opt("observed")?;
                if observed.is_some() && l.table_has("fraction") {
                    return Err(bad(
                        &l.field("observed"),
                        "give observed (exactly k entries) or fraction (each entry with probability p), not both",
                    ));
                }
                let cells = shape.0 as f64 * shape.1 as f64;
                if let Some(k) = observed {
                    if k == 0 || k as f64 > cells {
                        return Err(bad(
                            &l.field("observed"),
                            format!(
                                "must be in 1..={cells} (entries of the {}x{} end-to-end matrix), got {k}",
                                shape.0, shape.1
                            ),
                        ));
                    }
                    check_data(&l.field("observed"), 3.0 * k as f64, limits)?;
                }
                let frac = l.num_opt("fraction")?.map_or(Ok(0.5), |q| f64_in(&l.field("fraction"), &q))?;
                if !(frac > 0.0 && frac <= 1.0) {
                    return Err(bad(&l.field("fraction"), format!("must be in (0, 1], got {frac}")));
                }
                let truth = Truth::read(l)?.build(shape, &mut rng, &l.field("truth"))?.to_f64();
                let loss = match observed {
                    Some(k) => data::completion_exact(&truth, k, &mut rng)
                        .map_err(|e| bad(&l.field("observed"), e.to_string()))?,
                    None => data::completion(&truth, frac, &mut rng),
                };
                *truth_out = Some(truth);
                match loss {
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

pub(super) fn read_init(i: &Section, arch: &Arch) -> Result<InitKind> {
    let kind = i.str_req("kind", "gaussian, orthogonal, identity, balanced, alpha or explicit")?;
    let scale = || -> Result<Q> {
        let s = i.num_opt("scale")?.unwrap_or_else(|| Q::from(1));
        if s.cmp0() == std::cmp::Ordering::Less {
            return Err(bad(&i.field("scale"), format!("must be >= 0, got {}", short(&s))));
        }
        Ok(s)
    };
    let seed = || -> Result<u64> { Ok(i.usize_opt("seed")?.unwrap_or(0) as u64) };
    if i.table_has("per_layer") && kind != "gaussian" {
        return Err(bad(&i.field("per_layer"), "applies to kind = \"gaussian\" only"));
    }
    Ok(match kind {
        "gaussian" => {
            let scale = scale()?;
            let scale = match i.str_opt("per_layer")? {
                None | Some("scale") => scale,
                Some("end_to_end") => {
                    let field = i.field("per_layer");
                    let Arch::DeepLinear { widths } = arch else {
                        return Err(bad(&field, "\"end_to_end\" is for deep linear networks"));
                    };
                    let d = widths[0];
                    if widths.iter().any(|&w| w != d) {
                        return Err(bad(
                            &field,
                            format!("\"end_to_end\" needs square layers (all widths equal), got {widths:?}"),
                        ));
                    }
                    let s = f64_in(&i.field("scale"), &scale)?;
                    let std = crate::completion::layer_std(s, arch.depth(), d).map_err(|e| bad(&i.field("scale"), e.to_string()))?;
                    Q::from_f64(std).ok_or_else(|| bad(&i.field("scale"), format!("per-layer std {std} is not finite")))?
                }
                Some(other) => {
                    return Err(bad(
                        &i.field("per_layer"),
                        format!("expected \"scale\" (std = scale) or \"end_to_end\" (std = scale^(1/N)/sqrt(d)), got \"{other}\""),
                    ))
                }
            };
            InitKind::Gaussian { scale, seed: seed()? }
        }
        "orthogonal" => InitKind::Orthogonal { scale: scale()?, seed: seed()? },
        "identity" => InitKind::Identity { scale: scale()? },
        "balanced" => {
            let shape = arch.output_shape();
            let product = match i.matrix_opt("product")? {
                Some(p) => p,
                None => {
                    data::gaussian(shape.0, shape.1, 1.0, &mut data::rng(seed()?)).cast(&Q::new()).scaled(&scale()?)
                }
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
        "alpha" => {
            let alpha = i.num_req("alpha")?;
            if alpha.cmp0() != std::cmp::Ordering::Greater {
                return Err(bad(&i.field("alpha"), format!("must be > 0, got {}", short(&alpha))));
            }
            if !matches!(arch, Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. }) {
                return Err(bad(&i.field("kind"), "the alpha-scaled initialization is for diagonal networks"));
            }
            InitKind::Alpha { alpha }
        }
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

/// Where `[loss] scale` applies.
const NO_SCALE: &str = "the time constant scale applies to gradient_flow and end_to_end_flow";

pub(super) fn read_dynamics(m: &Section, r: &Section, loss_scale: &Q) -> Result<Dynamics> {
    let kind =
        m.str_req("kind", &format!("gd, sgd, sam, usam, heavy_ball, nesterov, nbar, obar or a flow ({FLOW_KINDS})"))?;
    if let Some(field) = FieldKind::read(kind, m)? {
        let integrator = IntegratorSpec::read(m)?;
        if r.table_has("stop_loss") {
            return Err(bad(&r.field("stop_loss"), format!("applies to discrete methods, not the flow {kind}")));
        }
        let t1 = r.num_req("t1")?;
        if t1.cmp0() != std::cmp::Ordering::Greater {
            return Err(bad(&r.field("t1"), format!("must be > 0, got {}", short(&t1))));
        }
        let speed = m.num_opt("speed")?.unwrap_or_else(|| Q::from(1));
        if speed.cmp0() != std::cmp::Ordering::Greater {
            return Err(bad(&m.field("speed"), format!("must be > 0, got {}", short(&speed))));
        }
        // Saxe's time constant: tau dW/dt = -grad l is gradient flow at speed 1/tau.
        let speed = match field {
            FieldKind::Gradient | FieldKind::EndToEnd => speed / loss_scale.clone(),
            _ if *loss_scale == 1 => speed,
            _ => return Err(bad("loss.scale", format!("{NO_SCALE}, not {kind}"))),
        };
        return Ok(Dynamics::Flow(FlowSpec { field, integrator, t1, speed }));
    }
    if *loss_scale != 1 {
        return Err(bad("loss.scale", format!("{NO_SCALE}, not {kind}")));
    }
    let (eta, stable_fraction) = match m.get("eta") {
        Some(toml::Value::Table(t)) => {
            let sec = Section::new(&m.field("eta"), t);
            let c = sec.num_req("stable_fraction")?;
            let f = f64_in(&sec.field("stable_fraction"), &c)?;
            if !(f.is_finite() && f > 0.0) {
                return Err(bad(&sec.field("stable_fraction"), format!("must be > 0, got {}", short(&c))));
            }
            sec.finish()?;
            if kind != "gd" {
                return Err(bad(&m.field("eta"), format!("{{ stable_fraction }} is a rule for gd, not {kind}")));
            }
            // A placeholder until the loss's data give the step size (ExperimentSpec::from_table).
            (Q::from(1), Some(f))
        }
        _ => (m.num_req("eta")?, None),
    };
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
                    "expected gd, sgd, sam, usam, heavy_ball, nesterov, nbar, obar or a flow ({FLOW_KINDS}), got \"{other}\""
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
    let stop_loss = match r.num_opt("stop_loss")? {
        None => None,
        Some(q) => {
            let f = f64_in(&r.field("stop_loss"), &q)?;
            if !(f.is_finite() && f >= 0.0) {
                return Err(bad(&r.field("stop_loss"), format!("must be >= 0, got {}", short(&q))));
            }
            Some(f)
        }
    };
    Ok(Dynamics::Discrete { method, batch, steps, stop_loss, stable_fraction })
}
