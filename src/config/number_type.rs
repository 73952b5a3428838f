//! What a run's number type can compute: `f64` and MPFR have square roots, powers and
//! eigendecompositions at their precision; exact rationals do not, and every operation that needs
//! them is refused with the key that asked for it.

use super::reference::{compare, RefRun, ReferenceSpec};
use crate::closed_form::lindsey_menon::balanced_point;
use crate::error::{Error, Result};
use crate::flow::fields::{EndToEndFlow, SamFlow, SamForm};
use crate::flow::VectorField;
use crate::invariants::LawReport;
use crate::mat::Mat;
use crate::model::Model;
use crate::params::Params;
use crate::scalar::{Mp, Real, Scalar, Q};

/// A vector field that needs square roots or powers of the number type.
pub enum RealField<S> {
    /// SAM's exact or modified flow with radius ρ.
    Sam(S, SamForm),
    /// The end-to-end flow of a network of this depth (`f64` only).
    EndToEnd(usize),
}

/// A number type a run from an experiment file can use (`f64`, [`Mp`], [`Q`]): what it can
/// compute of an initialization and of the flows that need real functions.
pub trait RunScalar: Scalar {
    /// Orthonormalizes the columns (or, for a wide matrix, the rows) of `m` at this precision
    /// (modified Gram–Schmidt, applied twice).
    fn orthonormal(m: &Mat<Self>, key: &str) -> Result<Mat<Self>>;
    /// The balanced factorization of `x` for `widths` at this precision.
    fn balanced(x: &Mat<Self>, widths: &[usize], key: &str) -> Result<Params<Self>>;
    /// A field that needs real functions.
    fn real_field<'a>(
        field: RealField<Self>,
        model: &'a Model<Self>,
        key: &str,
    ) -> Result<Box<dyn VectorField<Self> + 'a>>;
}

/// A number type a `[reference]` can be evaluated in (the closed forms need [`Real`]).
pub(crate) trait RefScalar: Scalar {
    /// The run compared with the closed form of a `[reference]` section.
    fn reference(spec: &ReferenceSpec, run: &RefRun<Self>) -> Result<LawReport>;
}

fn orthonormal_real<S: Real>(m: &Mat<S>, key: &str) -> Result<Mat<S>> {
    let wide = m.rows() < m.cols();
    let a = if wide { m.t() } else { m.clone() };
    let (rows, cols) = a.shape();
    let mut q: Vec<Vec<S>> = (0..cols).map(|j| (0..rows).map(|i| a.get(i, j).clone()).collect()).collect();
    for _pass in 0..2 {
        for j in 0..cols {
            for k in 0..j {
                let (done, rest) = q.split_at_mut(j);
                let d = done[k].iter().zip(rest[0].iter()).fold(m.proto(), |acc, (x, y)| acc + x.clone() * y.clone());
                for (y, x) in rest[0].iter_mut().zip(done[k].iter()) {
                    *y -= &(d.clone() * x.clone());
                }
            }
            let norm = q[j].iter().fold(m.proto(), |acc, x| acc + x.square()).sqrt();
            if !norm.is_finite() || norm.is_zero() {
                return Err(Error::invalid(
                    key,
                    "the random matrix to orthonormalize is rank-deficient; change the seed",
                ));
            }
            for y in q[j].iter_mut() {
                *y /= &norm;
            }
        }
    }
    let out = Mat::from_fn(rows, cols, |i, j| q[j][i].clone());
    Ok(if wide { out.t() } else { out })
}

fn real_field_of<'a, S: Real>(field: RealField<S>, model: &'a Model<S>) -> Result<Box<dyn VectorField<S> + 'a>> {
    match field {
        RealField::Sam(rho, form) => Ok(Box::new(SamFlow::new(model, rho, form)?)),
        RealField::EndToEnd(_) => Err(Error::Unsupported("the end-to-end flow runs in f64 only".into())),
    }
}

impl RefScalar for f64 {
    fn reference(spec: &ReferenceSpec, run: &RefRun<Self>) -> Result<LawReport> {
        compare(spec, run)
    }
}

impl RunScalar for f64 {
    fn orthonormal(m: &Mat<Self>, key: &str) -> Result<Mat<Self>> {
        orthonormal_real(m, key)
    }
    fn balanced(x: &Mat<Self>, widths: &[usize], key: &str) -> Result<Params<Self>> {
        balanced_point(x, widths).map_err(|e| Error::invalid(key, e.to_string()))
    }
    fn real_field<'a>(
        field: RealField<f64>,
        model: &'a Model<f64>,
        key: &str,
    ) -> Result<Box<dyn VectorField<f64> + 'a>> {
        match field {
            RealField::EndToEnd(depth) => {
                // The caller passes the depth-1 model on the product; weight decay is refused upstream.
                let flow = EndToEndFlow::of_loss(model.loss.clone(), depth, 0.0)
                    .map_err(|e| Error::invalid(key, e.to_string()))?;
                Ok(Box::new(flow))
            }
            f => real_field_of(f, model),
        }
    }
}

impl RefScalar for Mp {
    fn reference(spec: &ReferenceSpec, run: &RefRun<Self>) -> Result<LawReport> {
        compare(spec, run)
    }
}

impl RunScalar for Mp {
    fn orthonormal(m: &Mat<Self>, key: &str) -> Result<Mat<Self>> {
        orthonormal_real(m, key)
    }
    fn balanced(x: &Mat<Self>, widths: &[usize], key: &str) -> Result<Params<Self>> {
        balanced_point(x, widths).map_err(|e| Error::invalid(key, e.to_string()))
    }
    fn real_field<'a>(field: RealField<Mp>, model: &'a Model<Mp>, key: &str) -> Result<Box<dyn VectorField<Mp> + 'a>> {
        match field {
            RealField::EndToEnd(_) => Err(Error::invalid(
                key,
                "the end-to-end flow takes fractional matrix powers through an f64 eigendecomposition: run it in f64",
            )),
            f => real_field_of(f, model),
        }
    }
}

impl RefScalar for Q {
    fn reference(_: &ReferenceSpec, _: &RefRun<Self>) -> Result<LawReport> {
        Err(Error::invalid(
            "reference.kind",
            "the closed forms take exponentials, logarithms and square roots, which exact rationals lack: \
             compare in f64 or mp:BITS",
        ))
    }
}

impl RunScalar for Q {
    fn orthonormal(_: &Mat<Self>, key: &str) -> Result<Mat<Self>> {
        Err(Error::invalid(
            key,
            "an orthogonal initialization needs square roots, which exact rationals lack; exact inits are \
             gaussian, identity, explicit, alpha (diagonal_sq) and balanced at depth 1: use one, or f64 / mp:BITS",
        ))
    }
    fn balanced(x: &Mat<Self>, widths: &[usize], key: &str) -> Result<Params<Self>> {
        if widths.len() == 2 {
            return Ok(Params::new(vec![x.clone()]));
        }
        Err(Error::invalid(
            key,
            "a balanced initialization of depth >= 2 needs an SVD and N-th roots, which exact rationals lack; \
             exact inits are gaussian, identity, explicit, alpha (diagonal_sq) and balanced at depth 1",
        ))
    }
    fn real_field<'a>(field: RealField<Q>, _: &'a Model<Q>, key: &str) -> Result<Box<dyn VectorField<Q> + 'a>> {
        let what = match field {
            RealField::Sam(..) => "SAM's flows normalize by |grad L| (a square root)",
            RealField::EndToEnd(_) => "the end-to-end flow takes fractional matrix powers",
        };
        Err(Error::invalid(key, format!("{what}, which exact rationals lack: run in f64 or mp:BITS")))
    }
}
