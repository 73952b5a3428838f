//! `connectivity`: the connectivity of the observed entries decides what small-initialization
//! gradient descent on a matrix factorization learns (Bai, Zhao, Zhang, NeurIPS 2024).
//!
//! * **Connected** mask: a $4\times4$ rank-3 matrix with entry $(0,0)$ unknown. The rank-3
//!   completion is $x^\ast = -\det M(0)/C_{00}$ (exact in rationals, [`rank_lowering_entry`]); the
//!   nuclear-norm minimizer $\arg\min_x\|M(x)\|_\ast$ is a different number. GD on $W = W_2W_1$
//!   (all $4\times4$) from Gaussian initializations of variance $1,\dots,10^{-16}$ learns an entry
//!   that tends to $x^\ast$. At the smallest variance the loss passes through plateaus on which the
//!   numerical rank of $W$ is constant and steps $0\to1\to2\to3$. The first plateau's length has a
//!   closed form: around $W=0$ GD multiplies the top singular pair of $P_\Omega(M)$ by $1+\eta s_1$
//!   per step in each factor, so lowering the variance from $v_a$ to $v_b$ delays the first drop
//!   by $\ln(v_a/v_b)/(2\ln(1+\eta s_1))$ steps. The loss on the rank-$k$ plateau is compared with
//!   the best rank-$k$ fit of the observed entries, computed independently by alternating least
//!   squares.
//! * **Disconnected** mask: a $3\times3$ rank-1 matrix $uv^\top$ observed on rows/cols $\{0,1\}$
//!   and on $(2,2)$ (two complete bipartite components, four unknown entries). The two blocks'
//!   parameters are disjoint, so GD fits each block separately along its own hidden direction
//!   $h_1$, $h_2$; the result has nuclear norm $\|B_1\|_\ast + |b_2|$, the minimum over all
//!   completions by the pinching inequality, but rank 2, although rank-1 completions with that
//!   same nuclear norm exist. The unknown entries depend on the seed through
//!   $\rho = W_{02}W_{20}/(W_{00}W_{22}) = \cos^2\angle(h_1,h_2) < 1$ (a rank-1 completion has
//!   $\rho = 1$).
//!
//! Plateau rule: samples every `SAMPLE_EVERY` steps; an interval between consecutive samples
//! qualifies when the numerical rank (singular values above $10^{-3}\sigma_1(M)$) is the same at
//! both ends, the loss decreases slower than `PLATEAU_RATE` per unit time
//! ($-\Delta\ln L/\Delta t$), and $L > 10^{-6}L(0)$; a maximal run of qualifying intervals of
//! equal rank lasting at least `PLATEAU_MIN_TIME` is one plateau.
//!
//! Files: `setup` (the shared GD setup), `plateaus` (the plateau rule), `connected`,
//! `disconnected` (each case's measurement, claims and notes) and `figures`.

mod connected;
mod disconnected;
mod figures;
mod plateaus;
mod setup;

pub use connected::Connected;
pub use disconnected::{Disconnected, SeedResult};
pub use plateaus::Plateau;

use super::{Check, Experiment, Recipe};
use crate::error::Result;
use crate::report::Figure;

/// Everything `connectivity` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Connected case 0 (rank-3 completion against the nuclear-norm minimizer).
    pub connected: Connected,
    /// Connected case 1 (plateaus).
    pub plateau_case: Connected,
    /// Disconnected case.
    pub disconnected: Disconnected,
}

/// Runs both cases (quick: fewer variances, seeds and ALS restarts).
pub fn measure(quick: bool) -> Result<Measured> {
    Ok(Measured {
        connected: connected::measure(quick, 0)?,
        plateau_case: connected::measure(quick, 1)?,
        disconnected: disconnected::measure(quick)?,
    })
}

/// The claims: the connected case's, then the disconnected case's.
pub fn checks(m: &Measured) -> Vec<Check> {
    let mut v = connected::checks(&m.connected, &m.plateau_case);
    v.extend(disconnected::checks(&m.disconnected));
    v
}

/// Figures: learned entry against init variance; loss and singular values over time (connected);
/// learned unknown entries per seed and singular values over time (disconnected).
pub fn figures(m: &Measured) -> Vec<Figure> {
    figures::figures(&m.connected, &m.plateau_case, &m.disconnected)
}

/// Remarks on a measurement: measured values worth reading, where a claim does not apply.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v = connected::notes(&m.connected, &m.plateau_case);
    v.extend(disconnected::notes(&m.disconnected));
    v.push(
        "The paper's own 4x4 and 3x3 matrices (its Fig. 3a, 4a) were not available here; the matrices are small \
         integer ones of the same shape, rank and mask type."
            .into(),
    );
    v
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "connectivity",
    description:
        "Bai-Zhao-Zhang (NeurIPS 2024): connected masks lead small-init GD to the rank-3 completion through rank \
         plateaus; disconnected ones to a minimum-nuclear-norm, not minimum-rank, completion",
    measure,
    checks,
    figures,
    notes,
};

pub(super) fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: RECIPE.name,
        about:
            "mask connectivity decides the implicit bias: rank-3 completion via rank plateaus (connected) vs minimum \
                nuclear norm but rank 2 (disconnected), Bai-Zhao-Zhang 2024",
        run: |ctx| RECIPE.run(ctx),
    }]
}
