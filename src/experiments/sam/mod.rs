//! SAM, BAR and momentum on scale-invariant and diagonal problems: Li–Zhang–He's balancedness,
//! BAR, Papazov–Pesme–Flammarion's intrinsic λ and Andriushchenko–Flammarion's balancing exponent,
//! each prediction compared with a measured run.
//!
//! Convention: losses are ½‖·‖² (Li–Zhang–He write ‖·‖²). Their SAM iterates are reproduced
//! exactly by our step size 2η, since SAM's ascent $\rho g/\|g\|$ does not see the factor 2; their
//! time $t = k\eta$ is half ours. Curvatures κ are those of the ½-loss (κ = 1).

pub mod bar;
mod common;
pub mod momentum_lambda;
pub mod sam_balancedness;
pub mod sam_diagonal;
pub mod sam_lora;

use super::Experiment;

/// This group's experiments, in registry order.
pub(super) fn experiments() -> Vec<Experiment> {
    vec![
        sam_balancedness::experiment(),
        momentum_lambda::experiment(),
        bar::experiment(),
        sam_diagonal::experiment(),
        sam_lora::experiment(),
    ]
}
