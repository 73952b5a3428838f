//! What the continuous-time experiments share: the deep problem and a monitored gradient flow.

use crate::error::Result;
use crate::flow::{solve, GradientFlow, Integrator, SolveOptions};
use crate::invariants::{Law, Monitor, Quantity};
use crate::model::{Arch, Loss, Model};
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::Trajectory;
use crate::{data, init};

/// The deep problem: widths 3-5-4-6-2 (three hidden layers of unequal widths), regression loss on
/// 20 Gaussian samples, Gaussian initialization of scale 0.3 (larger scales make the flow stiff: the Hessian grows like the product of the other layers' norms squared).
pub fn deep_problem() -> Result<(Model<f64>, Params<f64>)> {
    let arch = Arch::deep_linear(&[3, 5, 4, 6, 2])?;
    let x = data::gaussian(3, 20, 1.0, &mut data::rng(101));
    let y = data::gaussian(2, 20, 1.0, &mut data::rng(102));
    let model = Model::new(arch.clone(), Loss::regression(x, y)?)?;
    Ok((model, init::gaussian(&arch, 0.3, &mut data::rng(103))))
}

/// Gradient flow of `model` (converted to the number type of `proto`) from `p0` over `[0, t1]`,
/// saving `saves` equally spaced times, tracking `q` under `law` and, with `energy`, the energy
/// identity.
#[allow(clippy::too_many_arguments)]
pub fn flow<S: Scalar>(
    model: &Model<S>,
    p0: &Params<S>,
    integ: &Integrator,
    t1: f64,
    saves: usize,
    q: impl Quantity<S> + 'static,
    law: Law<S>,
    energy: bool,
) -> Result<Trajectory<S>> {
    let mut mon = Monitor::new().track(q, law);
    if energy {
        mon = mon.track_energy();
    }
    let opts = SolveOptions { t1, save_times: (1..=saves).map(|k| t1 * k as f64 / saves as f64).collect() };
    solve(&mut GradientFlow::new(model), model, p0, integ, &opts, &mut mon)
}
