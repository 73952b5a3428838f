//! Quantities tracked along runs, each with the [`Law`] it should obey.
//!
//! Sign convention: the balancedness matrices are
//! $$C_j = W_{j+1}^\top W_{j+1} - W_j W_j^\top,\qquad j = 1,\dots,N-1,$$
//! and the moment map of the action $g\cdot W = (g_j W_j g_{j-1}^{-1})$ of
//! $GL(d_1)\times\dots\times GL(d_{N-1})$ is $\mu_j = W_j W_j^\top - W_{j+1}^\top W_{j+1} = -C_j$,
//! the convention in which $\frac{d}{dt}\big|_0 \tfrac12\|e^{t\xi}\cdot W\|^2 = \langle \mu, \xi\rangle$.
//!
//! | file | concept |
//! |---|---|
//! | `quantities` | functions of the parameters ([`Quantity`]) |
//! | `laws` | what a quantity should do ([`Law`]) and the exact per-step identities |
//! | `identities` | which law applies to which method × architecture ([`discrete_identities`], [`flow_identities`]) |
//! | `monitor` | checking laws along a run ([`Monitor`], [`LawReport`]) |

mod identities;
mod laws;
mod monitor;
mod quantities;

pub use identities::{discrete_identities, flow_identities, Identities};
pub use laws::{DriftFn, Law, PredictFn};
pub use monitor::{worst_entry, LawReport, Monitor, Tracked};
pub use quantities::{Balancedness, DiagonalBalance, FactorBalance, FactorGram, LossValue, MomentMap, Quantity};
