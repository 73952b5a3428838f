//! `[reference]`: a flow from an experiment file compared with a closed form at its saved times,
//! with a tolerance and a verdict beside the laws.
//!
//! | `kind` | run | compared at each saved time $t$ |
//! |---|---|---|
//! | `saxe_modes` | `gradient_flow`, `deep_linear` (depth ≥ 2), `target` Φ, balanced start aligned with Φ's SVD | the product $U\operatorname{diag}(u_i(t/\tau))V^\top$ ([`SaxeModes`]) |
//! | `riccati` | `gradient_flow`, `factor`, `target` $Y$, $U_0^\top U_0 - V_0^\top V_0 = \lambda I$ | the product $UV^\top(t/\tau)$ ([`RiccatiProduct`]) |
//! | `diagonal` | `gradient_flow`, `diagonal_uv`/`diagonal_sq`, `target` or orthogonal-design `regression` | both blocks $(u, v)(t/\tau)$ ([`DiagonalModes`]) |
//! | `hyperbolic_entropy` | `gradient_flow`, diagonal, `regression` with $n \le d$ | the final $\beta$ against the $t\to\infty$ limit ([`diagonal::hyperbolic_entropy_argmin`] with [`diagonal::flow_potential`]) |
//! | `kempf_ness` | `regularizer_flow` or `moment_map_flow` | the final $\frac12\|W\|^2$ against the minimum on the fibre ([`kempf_ness_minimum`]) |
//! | `balancing` | `regularizer_flow` (any widths), `moment_map_flow` (widths `[1, 1, 1]`) | the moment map $e^{-2t/\tau}\mu(0)$ ([`balancing::regularizer_flow_mu`]); the state ([`balancing::moment_flow_n2`]) |
//!
//! The time constant τ of the closed form is the run's own (`loss.scale / method.speed` for
//! gradient flows, `1 / method.speed` for balancing flows) unless `tau` is given; `data`
//! replaces the matrix the closed form reads (Φ, $Y$, the diagonal targets, the regression
//! outputs or the product whose fibre is meant). A reference that describes another run (a
//! perturbed `data`, a wrong `tau`) fails its verdict. Deviations are the largest absolute entry of
//! (run − closed form), relative to the largest entry of the closed form (1 where that is 0).

use super::numbers::{f64_of, short};
use super::section::{bad, Section};
use crate::closed_form::lindsey_menon::{kempf_ness_minimum, moment_map, regularizer};
use crate::closed_form::reference::{entries, DiagonalModes, Gap, Reference, RiccatiProduct, SaxeModes};
use crate::closed_form::{balancing, diagonal};
use crate::error::{Error, Result};
use crate::invariants::LawReport;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::{Real, Q};

const KEY: &str = "reference.kind";

/// Which closed form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefKind {
    SaxeModes,
    Riccati,
    Diagonal,
    HyperbolicEntropy,
    KempfNess,
    Balancing,
}

/// The kinds `[reference] kind` accepts.
pub(crate) const REF_KINDS: &str = "saxe_modes, riccati, diagonal, hyperbolic_entropy, kempf_ness or balancing";

/// What the run is, as far as a reference needs to know before it runs.
pub(crate) enum RunShape {
    /// `gradient_flow`.
    Gradient,
    /// `regularizer_flow`.
    Regularizer,
    /// `moment_map_flow`.
    MomentMap,
    /// Anything else (another flow or a discrete method), named.
    Other(String),
}

/// `[reference]`, exact until the run's number type is known.
#[derive(Clone, Debug)]
pub(crate) struct ReferenceSpec {
    pub kind: RefKind,
    /// Largest relative deviation that holds.
    pub tolerance: f64,
    /// The closed form's time constant, when not the run's own.
    pub tau: Option<Q>,
    /// The matrix the closed form reads instead of the run's.
    pub data: Option<Mat<Q>>,
}

impl ReferenceSpec {
    /// Reads `[reference]`.
    pub(crate) fn read(s: &Section) -> Result<Self> {
        let kind = match s.str_req("kind", REF_KINDS)? {
            "saxe_modes" => RefKind::SaxeModes,
            "riccati" => RefKind::Riccati,
            "diagonal" => RefKind::Diagonal,
            "hyperbolic_entropy" => RefKind::HyperbolicEntropy,
            "kempf_ness" => RefKind::KempfNess,
            "balancing" => RefKind::Balancing,
            other => return Err(bad(&s.field("kind"), format!("expected {REF_KINDS}, got \"{other}\""))),
        };
        let tol = s.num_req("tolerance")?;
        if tol.cmp0() == std::cmp::Ordering::Less {
            return Err(bad(&s.field("tolerance"), format!("must be >= 0, got {}", short(&tol))));
        }
        let tolerance = f64_of(&tol).map_err(|why| bad(&s.field("tolerance"), why))?;
        let tau = s.num_opt("tau")?;
        if let Some(t) = &tau {
            if t.cmp0() != std::cmp::Ordering::Greater {
                return Err(bad(&s.field("tau"), format!("must be > 0, got {}", short(t))));
            }
        }
        let data = s.matrix_opt("data")?;
        if data.is_some() && kind == RefKind::Balancing {
            return Err(bad(&s.field("data"), "the balancing closed forms read the start only; remove data"));
        }
        s.finish()?;
        Ok(ReferenceSpec { kind, tolerance, tau, data })
    }

    /// Refuses a reference that cannot describe the file's run, naming `reference.kind`.
    pub(crate) fn validate(&self, arch: &Arch, loss: &str, run: &RunShape, weight_decay: bool) -> Result<()> {
        let need = |ok: bool, what: &str| if ok { Ok(()) } else { Err(bad(KEY, what.to_string())) };
        let gradient = matches!(run, RunShape::Gradient);
        let balancing = matches!(run, RunShape::Regularizer | RunShape::MomentMap);
        let diag = matches!(arch, Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. });
        if let RunShape::Other(kind) = run {
            return Err(bad(
                KEY,
                format!("closed forms are compared with flows of the kinds listed in README, not {kind}"),
            ));
        }
        match self.kind {
            RefKind::SaxeModes => {
                need(gradient, "saxe_modes describes gradient_flow")?;
                need(
                    matches!(arch, Arch::DeepLinear { widths } if widths.len() >= 3),
                    "saxe_modes needs a deep_linear network of depth >= 2",
                )?;
                need(loss == "target", "saxe_modes needs a target loss (the correlation Phi)")?;
            }
            RefKind::Riccati => {
                need(gradient, "riccati describes gradient_flow")?;
                need(matches!(arch, Arch::Factor { .. }), "riccati needs arch = \"factor\" (U V^T)")?;
                need(loss == "target", "riccati needs a target loss (Y)")?;
            }
            RefKind::Diagonal => {
                need(gradient, "diagonal describes gradient_flow")?;
                need(diag, "diagonal needs a diagonal_uv or diagonal_sq network")?;
                need(loss == "target" || loss == "regression", "diagonal needs a target or regression loss")?;
            }
            RefKind::HyperbolicEntropy => {
                need(gradient, "hyperbolic_entropy describes gradient_flow")?;
                need(diag, "hyperbolic_entropy needs a diagonal_uv or diagonal_sq network")?;
                need(loss == "regression", "hyperbolic_entropy needs a regression loss")?;
            }
            RefKind::KempfNess | RefKind::Balancing => {
                need(balancing, "kempf_ness and balancing describe regularizer_flow or moment_map_flow")?;
            }
        }
        need(!weight_decay, "the closed forms are stated without weight decay")
    }
}

/// A finished flow, as a reference reads it: states (positions) at physical times.
pub(crate) struct RefRun<'a, S> {
    pub model: &'a Model<S>,
    pub times: &'a [S],
    pub states: &'a [Params<S>],
    /// The run's own time constant (physical time per unit time of the closed form).
    pub tau: S,
    /// Whether the run was a moment-map flow (else regularizer or gradient flow).
    pub moment_map: bool,
}

/// The run's and the closed form's entries at one saved time and state.
type Pairs<'a, S> = dyn FnMut(&S, &Params<S>) -> Result<(Vec<S>, Vec<S>)> + 'a;

fn refused(e: Error) -> Error {
    match e {
        Error::Precondition { reference, message } => bad(KEY, format!("{reference}: {message}")),
        Error::Invalid { field, message } => bad(KEY, format!("{field}: {message}")),
        e => bad(KEY, e.to_string()),
    }
}

fn to_s<S: Real>(m: &Mat<Q>, proto: &S) -> Mat<S> {
    m.map(|x| proto.from_q_like(x))
}

/// Compares `run` with the closed form of `spec` at the run's precision.
pub(crate) fn compare<S: Real>(spec: &ReferenceSpec, run: &RefRun<S>) -> Result<LawReport> {
    let proto = run.tau.zero_like();
    let tau = spec.tau.as_ref().map_or_else(|| run.tau.clone(), |t| proto.from_q_like(t));
    let unit = |t: &S| t.clone() / tau.clone();
    let model = run.model;
    let data = spec.data.as_ref().map(|d| to_s(d, &proto));
    let (w0, last) = match (run.states.first(), run.states.last()) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(bad(KEY, "the run saved no state to compare")),
    };
    let target = || -> Result<Mat<S>> {
        match (&data, &model.loss) {
            (Some(d), _) => Ok(d.clone()),
            (None, Loss::Target { phi }) => Ok(phi.clone()),
            _ => Err(bad(KEY, "this closed form reads a target matrix: give a target loss or reference.data")),
        }
    };
    let shape_of = |m: &Mat<S>, want: (usize, usize)| -> Result<()> {
        if m.shape() == want {
            Ok(())
        } else {
            Err(Error::dim("reference.data", format!("{}x{}", want.0, want.1), format!("{}x{}", m.rows(), m.cols())))
        }
    };
    let every = |gap: &mut Gap<S>, f: &mut Pairs<'_, S>| -> Result<()> {
        for (k, (t, w)) in run.times.iter().zip(run.states).enumerate() {
            let (got, want) = f(t, w)?;
            gap.add(k, t, &got, &want);
        }
        Ok(())
    };
    match spec.kind {
        RefKind::SaxeModes => {
            let phi = target()?;
            shape_of(&phi, model.arch.output_shape())?;
            let r = SaxeModes::new(&model.arch, &phi, w0, tau.clone()).map_err(refused)?;
            let mut gap = Gap::new("product (Saxe modes)", "= U diag(u_i(t/tau)) V^T at saved times");
            every(&mut gap, &mut |t, w| Ok((entries(&r.observed(w)), entries(&r.at(t).map_err(refused)?))))?;
            Ok(gap.finish())
        }
        RefKind::Riccati => {
            let y = target()?;
            shape_of(&y, model.arch.output_shape())?;
            let r = RiccatiProduct::new(&model.arch, &y, w0, tau.clone()).map_err(refused)?;
            let mut gap = Gap::new("product (Riccati)", "= U V^T of the Riccati closed form at saved times");
            every(&mut gap, &mut |t, w| Ok((entries(&r.observed(w)), entries(&r.at(t).map_err(refused)?))))?;
            Ok(gap.finish())
        }
        RefKind::Diagonal => {
            let reference_model;
            let m = match &data {
                Some(b) => {
                    shape_of(b, model.arch.output_shape())?;
                    reference_model = Model::new(model.arch.clone(), Loss::target(b.clone()))?;
                    &reference_model
                }
                None => model,
            };
            // An orthogonal design given exactly is orthogonal to rounding at this precision.
            let design_tol = 1e3 * proto.epsilon_like().to_f64();
            let r = DiagonalModes::new(m, w0, tau.clone(), design_tol).map_err(refused)?;
            let mut gap = Gap::new("parameters (diagonal)", "= (u, v)(t/tau) of the coordinate flows");
            every(&mut gap, &mut |t, w| Ok((entries(&r.observed(w)), entries(&r.at(t).map_err(refused)?))))?;
            Ok(gap.finish())
        }
        RefKind::HyperbolicEntropy => {
            let Loss::Regression { x, y, .. } = &model.loss else {
                return Err(bad(KEY, "hyperbolic_entropy needs a regression loss"));
            };
            let y = match &data {
                Some(d) => {
                    shape_of(d, y.shape())?;
                    d.clone()
                }
                None => y.clone(),
            };
            let (a, delta) = diagonal::flow_potential(&model.arch, w0).map_err(refused)?;
            let limit = diagonal::hyperbolic_entropy_argmin(x, y.as_slice(), &a, Some(&delta)).map_err(refused)?;
            let mut gap = Gap::new("beta (t -> infinity)", "= argmin hyperbolic entropy s.t. beta X = y (final state)");
            let k = run.states.len() - 1;
            gap.add(k, &run.times[k], model.end_to_end(last).as_slice(), &limit.beta);
            Ok(gap.finish())
        }
        RefKind::KempfNess => {
            let x = match &data {
                Some(d) => {
                    shape_of(d, model.arch.output_shape())?;
                    d.clone()
                }
                None => model.end_to_end(w0),
            };
            let min = kempf_ness_minimum(&x, model.arch.depth()).map_err(refused)?;
            let mut gap = Gap::new("|W|^2/2 (t -> infinity)", "= Kempf-Ness minimum N/2 sum sigma_i(X)^(2/N)");
            let k = run.states.len() - 1;
            gap.add(k, &run.times[k], &[regularizer(last)], &[min]);
            Ok(gap.finish())
        }
        RefKind::Balancing if run.moment_map => {
            let Arch::DeepLinear { widths } = &model.arch else {
                return Err(bad(KEY, "balancing needs a deep_linear network"));
            };
            if widths != &[1, 1, 1] {
                return Err(bad(
                    KEY,
                    format!("the moment-map flow's closed form is for widths [1, 1, 1], got {widths:?}"),
                ));
            }
            let (a, b) = (w0.blocks[0].get(0, 0).clone(), w0.blocks[1].get(0, 0).clone());
            let mut gap = Gap::new("parameters (moment-map flow)", "= (w1, w2)(t/tau), N = 2 scalar closed form");
            every(&mut gap, &mut |t, w| {
                let (_, w1, w2) = balancing::moment_flow_n2(&a, &b, &unit(t)).map_err(refused)?;
                Ok((vec![w.blocks[0].get(0, 0).clone(), w.blocks[1].get(0, 0).clone()], vec![w1, w2]))
            })?;
            Ok(gap.finish())
        }
        RefKind::Balancing => {
            let mu0 = moment_map(w0);
            if mu0.is_empty() {
                return Err(bad(KEY, "balancing compares the moment map, which a depth-1 network does not have"));
            }
            let one = proto.one_like();
            let mut gap = Gap::new("moment map (regularizer flow)", "= exp(-2t/tau) mu(0)");
            every(&mut gap, &mut |t, w| {
                let want = balancing::regularizer_flow_mu(&mu0, &unit(t), &one);
                let got = moment_map(w);
                Ok((got.concat_vec(), want.concat_vec()))
            })?;
            Ok(gap.finish())
        }
    }
}

/// The entries of a list of matrices, in order.
trait ConcatVec<S> {
    fn concat_vec(&self) -> Vec<S>;
}

impl<S: crate::scalar::Scalar> ConcatVec<S> for [Mat<S>] {
    fn concat_vec(&self) -> Vec<S> {
        self.iter().flat_map(|m| m.as_slice().to_vec()).collect()
    }
}

impl<S: crate::scalar::Scalar> ConcatVec<S> for Vec<Mat<S>> {
    fn concat_vec(&self) -> Vec<S> {
        self.as_slice().concat_vec()
    }
}
