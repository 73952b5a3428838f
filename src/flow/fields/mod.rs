//! Vector fields, all built on [`crate::model::Model::grad_into`] or on the geometry of the
//! product map; one concept per file.
//!
//! | field | file | equation |
//! |---|---|---|
//! | [`GradientFlow`] | `gradient.rs` | $\dot w = -\nabla L(w)$ |
//! | [`SamFlow`], [`UsamFlow`], [`ModifiedGdFlow`] | `sam.rs` | SAM/USAM limits, GD's modified flow, with exact Hessian-vector products ([`Hvp`], `hvp.rs`) |
//! | [`HeavyBallFlow`] | `heavy_ball.rs` | $\lambda\ddot w + \dot w + \nabla L(w) = 0$ on phase space $(w, \dot w)$ |
//! | [`NesterovFlow`] | `nesterov.rs` | $\ddot w + \frac{r}{t}\dot w + \nabla L(w) = 0$ on phase space $(w, \dot w)$ |
//! | [`EndToEndFlow`] | `end_to_end.rs` | $\dot W = -\lambda NW - \sum_{j=1}^N (WW^\top)^{\frac{j-1}{N}}\,\nabla\ell(W)\,(W^\top W)^{\frac{N-j}{N}}$ |
//! | [`RegularizerFlow`], [`MomentMapFlow`], [`FastSlow`] | `balancing.rs` | Lindsey–Menon balancing flows on a fibre |
//!
//! A field whose state is not the model's parameters says how to read them from it
//! ([`crate::flow::VectorField::position`]; [`HeavyBallFlow`] overrides it).

pub mod balancing;
pub mod end_to_end;
pub mod gradient;
pub mod heavy_ball;
pub mod hvp;
pub mod nesterov;
pub mod sam;

pub use self::balancing::{FastSlow, MomentMapFlow, RegularizerFlow};
pub use self::end_to_end::EndToEndFlow;
pub use self::gradient::GradientFlow;
pub use self::heavy_ball::HeavyBallFlow;
pub use self::hvp::Hvp;
pub use self::nesterov::NesterovFlow;
pub use self::sam::{ModifiedGdFlow, SamFlow, SamForm, UsamFlow};
pub use crate::scalar::Dual;
