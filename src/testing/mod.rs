//! Property tests of your own claims (feature `testing`, on by default).
//!
//! * [`strategies`]: proptest strategies for exact rationals and rational matrices,
//!   architectures of every kind (deep linear with width-1 layers and bottlenecks, diagonal
//!   `u⊙v` and `u⊙u − v⊙v`, `f(XYᵀ)`, `f(xᵀy)`), data for every loss, parameters, exactly
//!   balanced and α-scaled initializations, step sizes, momenta and radii. They shrink: a failing
//!   case is reduced to few layers, narrow widths and small fractions.
//! * [`Problem`] and [`Dynamics`]: a rational test case and the run it is checked along (GD, SGD,
//!   SAM, USAM, heavy ball, Nesterov, gradient flow), with exact hyperparameters.
//! * Runners: [`check`] (a [`Quantity`](crate::invariants::Quantity) with a
//!   [`Law`](crate::invariants::Law)), [`check_steps`] (a closure on each step) and
//!   [`check_states`] (a closure on each saved state), in rationals with zero tolerance
//!   (`&Q::new()`, `tol = 0`) or in MPFR at any number of bits (`&Mp::new(bits)`).
//! * [`Verdict`]: whether the claim held, and if not where (architecture, dynamics, step, worst
//!   deviation, the case in exact fractions). A claim checked on zero values fails.
//! * [`falsify`]: runs a claim over a strategy and returns the shrunk counter-example, if any.
//!
//! A claim of your own, in rationals with zero tolerance: GD on `f(XYᵀ)` changes
//! `D = XᵀX − YᵀY` by exactly `η²(G_XᵀG_X − G_YᵀG_Y)` (`G` the gradient blocks).
//!
//! ```
//! use linflow::prelude::*;
//! use linflow::testing::{self, strategies as st, Dynamics};
//! use proptest::prelude::*;
//! use std::sync::Arc;
//! proptest!(ProptestConfig::with_cases(16), |(case in st::problem(st::factor(1..=3, 1..=2), None),
//!                                              eta in st::step_size())| {
//!     let e2 = eta.clone() * eta.clone();
//!     let law = Law::ExactDrift { name: "D+ = D + eta^2 (GxT Gx - GyT Gy)".into(), f: Arc::new(move |m, rec| {
//!         let g = &rec.grads[0];
//!         let d = FactorGram.eval(m, &rec.before).remove(0);
//!         vec![d.add(&g.blocks[0].gram_t().sub(&g.blocks[1].gram_t()).scaled(&e2))]
//!     })};
//!     testing::check(&case, &Q::new(), &Dynamics::gd(eta), 3, 0.0, FactorGram, law).prop()?;
//! });
//! ```

mod problem;
mod runners;
pub mod strategies;

pub use problem::{Dynamics, Problem};
pub use proptest;
pub use runners::{check, check_states, check_steps, quantity, trajectory, FnQuantity, Verdict};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// A deterministic runner: the same cases on every machine, no regression files written, and
/// room to shrink through the nested strategies (a problem's data and parameters shrink before
/// its architecture, one fraction at a time).
fn runner(cases: u32, seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 1 << 16, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// One value of `strategy`, determined by `seed` (the same on every machine): cases for
/// experiments that want the kit's generators without a property test.
pub fn draw<T: Strategy>(strategy: &T, seed: u64) -> T::Value {
    let mut r = runner(1, seed);
    strategy.new_tree(&mut r).expect("the kit's strategies do not reject").current()
}

/// A claim that failed, reduced by proptest's shrinking.
#[derive(Clone, Debug)]
pub struct Counterexample<V> {
    /// The shrunk input.
    pub input: V,
    /// The claim's verdict on it.
    pub verdict: Verdict,
}

/// Looks for a counter-example to `claim` among `cases` inputs drawn from `strategy`
/// (deterministically), and shrinks the first one found. `None` means every case held.
///
/// ```
/// use linflow::prelude::*;
/// use linflow::testing::{self, strategies as st, Dynamics};
/// // A false claim: "GD conserves balancedness exactly".
/// let cases = (st::problem(st::deep_linear(2..=3, 1..=3), None), st::step_size());
/// let found = testing::falsify(32, &cases, |(case, eta)| {
///     testing::check(case, &Q::new(), &Dynamics::gd(eta.clone()), 2, 0.0, Balancedness, Law::Conserved)
/// })
/// .expect("GD does not conserve balancedness");
/// assert!(found.verdict.rejected());
/// ```
pub fn falsify<T>(cases: u32, strategy: &T, claim: impl Fn(&T::Value) -> Verdict) -> Option<Counterexample<T::Value>>
where
    T: Strategy,
{
    let mut r = runner(cases, 0x11f10);
    let result = r.run(strategy, |v| match claim(&v).failure() {
        Some(msg) => Err(TestCaseError::fail(msg)),
        None => Ok(()),
    });
    match result {
        Ok(()) => None,
        Err(TestError::Fail(_, input)) => {
            let verdict = claim(&input);
            Some(Counterexample { input, verdict })
        }
        Err(TestError::Abort(reason)) => panic!("the property run was aborted: {reason}"),
    }
}
