//! The property-test kit itself: its strategies produce what they promise (checked against
//! algebraic identities), its runners reject wrong claims and claims checked on nothing, and a
//! false claim shrinks to a small counter-example.
#![cfg(feature = "testing")]

use linflow::prelude::*;
use linflow::scalar::Q;
use linflow::testing::strategies::{self as st, LossKind};
use linflow::testing::{self, Dynamics, Problem};
use proptest::prelude::*;
use std::sync::Arc;

/// GD with step `eta` checked against its exact law with step `law_eta` (`None`: conservation),
/// for the quantity of the architecture.
fn gd_law(case: &Problem, eta: &Q, law_eta: Option<&Q>) -> testing::Verdict {
    let (gd, q0) = (Dynamics::gd(eta.clone()), Q::new());
    let e = law_eta.cloned();
    match (&case.model.arch, e) {
        (Arch::DeepLinear { .. }, Some(e)) => {
            testing::check(case, &q0, &gd, 2, 0.0, Balancedness, Law::gd_balancedness(e))
        }
        (Arch::DeepLinear { .. }, None) => testing::check(case, &q0, &gd, 2, 0.0, Balancedness, Law::Conserved),
        (Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. }, Some(e)) => {
            testing::check(case, &q0, &gd, 2, 0.0, DiagonalBalance, Law::gd_diagonal(e))
        }
        (Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. }, None) => {
            testing::check(case, &q0, &gd, 2, 0.0, DiagonalBalance, Law::Conserved)
        }
        (_, Some(e)) => testing::check(case, &q0, &gd, 2, 0.0, FactorBalance, Law::sam_factor(e, Q::new())),
        (_, None) => testing::check(case, &q0, &gd, 2, 0.0, FactorBalance, Law::Conserved),
    }
}

fn zero(ms: &[Mat<Q>]) -> bool {
    ms.iter().all(|m| m.as_slice().iter().all(|x| x.is_zero()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Every drawn problem is a valid model with a starting point of the right shapes, for every
    /// architecture and loss.
    #[test]
    fn problems_are_well_formed(case in st::any_problem()) {
        prop_assert!(case.model.check_params(&case.p0).is_ok());
        prop_assert_eq!(case.model.loss.shape(), case.model.arch.output_shape());
    }

    /// The Cayley transform of a skew matrix is orthogonal: OᵀO = I exactly.
    #[test]
    fn cayley_frames_are_orthogonal(d in 1usize..=4, seed in any::<u64>()) {
        let a = testing::draw(&st::rational_matrix(d, d), seed);
        let skew = a.sub(&a.t());
        let o = st::cayley(&skew);
        prop_assert_eq!(o.prod(true, &o, false), Mat::eye(d, d, &Q::new()));
        // Negative control: a non-skew matrix does not give an orthogonal one in general.
    }

    /// Balanced initializations are exactly balanced: C_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ = 0, with
    /// nonzero blocks.
    #[test]
    fn balanced_init_is_exactly_balanced(p in st::widths(1..=4, 1..=4).prop_flat_map(st::balanced)) {
        prop_assert!(zero(&p.blocks.windows(2).map(|w| w[1].gram_t().sub(&w[0].gram())).collect::<Vec<_>>()));
        prop_assert!(p.blocks.iter().all(|b| !zero(std::slice::from_ref(b))));
    }

    /// α-scaled inits: deep linear balanced, `u² − v² = α²` for u⊙v, `u⊙v = α²` for u⊙u − v⊙v.
    #[test]
    fn alpha_scaled_inits(arch in st::any_arch(), alpha in st::rational(1..=4, 2..=8)) {
        let p = st::alpha_scaled(&arch, &alpha);
        prop_assert_eq!(p.shapes(), arch.param_shapes());
        let a2 = alpha.clone() * alpha.clone();
        match &arch {
            Arch::DeepLinear { .. } => {
                prop_assert!(zero(&p.blocks.windows(2).map(|w| w[1].gram_t().sub(&w[0].gram())).collect::<Vec<_>>()));
            }
            Arch::DiagonalUV { .. } | Arch::DiagonalSq { .. } => {
                let model = Model::new(arch.clone(), Loss::target(Mat::zeros(1, p.blocks[0].cols(), &Q::new()))).unwrap();
                let d = DiagonalBalance.eval(&model, &p).remove(0);
                prop_assert!(d.as_slice().iter().all(|x| *x == a2));
            }
            _ => {}
        }
    }

    /// GD's exact law holds for every architecture and loss where it has something to check; a
    /// depth-1 network has no balancedness matrix and its verdict fails for lack of checks.
    #[test]
    fn gd_laws_on_every_arch_and_loss(case in st::any_problem(), eta in st::step_size()) {
        let v = gd_law(&case, &eta, Some(&eta));
        if case.model.arch.depth() == 1 {
            prop_assert!(!v.passed() && v.checks == 0 && !v.rejected());
        } else {
            v.prop()?;
            prop_assert_eq!(v.checks, 2);
            // Negative control: where GD moves the quantity at all (conservation is rejected), the
            // law with the step size 10% too large is rejected too (the change is c·η², c ≠ 0).
            if gd_law(&case, &eta, None).rejected() {
                let big = eta.clone() * Q::from((11, 10));
                prop_assert!(gd_law(&case, &eta, Some(&big)).rejected());
            }
        }
    }

    /// A closure claim per step, in rationals: USAM's ascent point is θ + ρ∇L(θ), so the step is
    /// θ⁺ = θ − η h with h the gradient there; residuals are θ⁺ − (θ − η rec.grads[1]).
    #[test]
    fn closure_step_claim_usam(case in st::problem(st::factor(1..=2, 1..=2), Some(LossKind::Sensing)),
                               eta in st::step_size(), rho in st::radius()) {
        let usam = Dynamics::Usam { eta: eta.clone(), rho: rho.clone() };
        let v = testing::check_steps(&case, &Q::new(), &usam, 2, 0.0, "theta+ = theta - eta h", |m, rec, after| {
            let mut pert = rec.before.clone();
            pert.axpy(&rho, &rec.grads[0]);
            let mut want = rec.before.clone();
            want.axpy(&-eta.clone(), &m.grad(&pert).1);
            after.iter().zip(want.iter()).map(|(a, b)| a.clone() - b.clone()).collect()
        });
        v.prop()?;
        prop_assert_eq!(v.checks, 2 * case.p0.len());
    }
}

/// The false claim "GD conserves balancedness exactly" is refuted, and shrinking reduces the
/// counter-example to a depth-2 network of width 1 everywhere.
#[test]
fn false_claim_shrinks_to_a_small_counterexample() {
    let cases = (st::problem(st::deep_linear(2..=4, 1..=3), None), st::step_size());
    let found = testing::falsify(64, &cases, |(case, eta)| {
        testing::check(case, &Q::new(), &Dynamics::gd(eta.clone()), 2, 0.0, Balancedness, Law::Conserved)
    })
    .expect("GD does not conserve balancedness");
    assert!(found.verdict.rejected(), "{}", found.verdict);
    println!("{}", found.verdict);
    let Arch::DeepLinear { widths } = &found.input.0.model.arch else { panic!("deep linear") };
    assert_eq!(widths, &vec![1, 1, 1], "shrunk to {:?}", found.input.0);
    // The true law on the same case holds: the counter-example is to the claim, not the code.
    let (case, eta) = &found.input;
    testing::check(
        case,
        &Q::new(),
        &Dynamics::gd(eta.clone()),
        2,
        0.0,
        Balancedness,
        Law::gd_balancedness(eta.clone()),
    )
    .assert_holds();
}

/// A true claim has no counter-example.
#[test]
fn true_claim_has_no_counterexample() {
    let cases = (
        st::problem(st::bottleneck_widths(2..=3, 1..=3).prop_map(|w| Arch::DeepLinear { widths: w }).boxed(), None),
        st::step_size(),
    );
    let found = testing::falsify(24, &cases, |(case, eta)| {
        testing::check(
            case,
            &Q::new(),
            &Dynamics::gd(eta.clone()),
            2,
            0.0,
            Balancedness,
            Law::gd_balancedness(eta.clone()),
        )
    });
    assert!(found.is_none(), "{:?}", found.map(|c| c.verdict.to_string()));
}

/// A law checked on zero items fails, and says so.
#[test]
fn zero_checks_fail() {
    let case = testing::draw(&st::problem(st::deep_linear(1..=1, 1..=3), None), 5);
    let v = testing::check(&case, &Q::new(), &Dynamics::gd(Q::from((1, 10))), 3, 0.0, Balancedness, Law::Conserved);
    assert_eq!(v.checks, 0);
    assert!(!v.passed() && !v.rejected());
    assert!(v.to_string().contains("zero values"), "{v}");
    let r = std::panic::catch_unwind(|| v.assert_holds());
    assert!(r.is_err());
    // A drift law along a flow is never checked (flows have no steps): that fails too.
    let flow = Dynamics::GradientFlow { t1: 0.1, integrator: Integrator::Rk4 { h: 0.01 } };
    let v =
        testing::check(&case, &Mp::new(64), &flow, 3, 1e-6, Balancedness, Law::gd_balancedness(Mp::with_val(64, 0.1)));
    assert!(v.checks == 0 && !v.passed());
}

/// The failure message names the architecture, the dynamics, the step, the worst deviation and
/// the case in exact fractions.
#[test]
fn failure_message_shows_where() {
    let case = testing::draw(&st::problem(st::deep_linear(2..=2, 2..=2), Some(LossKind::Target)), 3);
    let v = testing::check(&case, &Q::new(), &Dynamics::gd(Q::from((1, 3))), 2, 0.0, Balancedness, Law::Conserved);
    let msg = v.failure().expect("GD does not conserve balancedness");
    for part in ["deep linear [2, 2, 2]", "GD (eta = 1/3)", "at step", "worst deviation", "case:", "target"] {
        assert!(msg.contains(part), "`{part}` missing from: {msg}");
    }
}

/// MPFR runners: SAM (normalized, needs √) obeys its two-term balance identity to rounding at
/// 256 bits, and gradient flow conserves u²−v² to the integrator's error; in rationals SAM is an
/// error that fails the claim.
#[test]
fn mpfr_runners() {
    let case = testing::draw(&st::problem(st::factor(2..=3, 1..=2), Some(LossKind::Target)), 9);
    let (eta, rho) = (Q::from((1, 20)), Q::from((1, 10)));
    let sam = Dynamics::Sam { eta: eta.clone(), rho: rho.clone() };
    let p = Mp::new(256);
    let law = Law::sam_factor(p.from_q_like(&eta), p.from_q_like(&rho));
    // 2^-230: 256-bit rounding with a 2^26 margin for the operations of 5 steps.
    testing::check(&case, &p, &sam, 5, 2f64.powi(-230), FactorBalance, law).assert_holds();
    let v = testing::check(&case, &Q::new(), &sam, 5, 0.0, FactorBalance, Law::sam_factor(eta, rho));
    assert!(v.error.is_some() && !v.passed());

    let diag = testing::draw(&st::problem(st::diagonal_uv(2..=3), Some(LossKind::Regression)), 4);
    let flow = Dynamics::GradientFlow { t1: 0.01, integrator: Integrator::Gbs { rtol: 1e-30, atol: 1e-30 } };
    // GBS at 128 bits (epsilon 6e-39) with tolerances 1e-30: the conserved quantity stays within
    // ~1e-28 relative; 1e-20 leaves a margin for the random data's conditioning.
    testing::check(&diag, &Mp::new(128), &flow, 5, 1e-20, DiagonalBalance, Law::Conserved).assert_holds();
    // Negative control: GD at the same horizon does not conserve it.
    testing::check(&diag, &Mp::new(128), &Dynamics::gd(Q::from((1, 200))), 2, 1e-20, DiagonalBalance, Law::Conserved)
        .assert_rejected();
    // State claims along the flow: the loss never increases (residual = max(0, L(t) − L(0))).
    let l0 = diag.cast(&Mp::new(128)).0.loss(&diag.cast(&Mp::new(128)).1);
    let v = testing::check_states(&diag, &Mp::new(128), &flow, 5, 0.0, "L(t) <= L(0)", move |m, _, p| {
        let inc = m.loss(p) - l0.clone();
        vec![if inc > 0 { inc } else { Mp::new(128) }]
    });
    v.assert_holds();
    assert!(v.checks >= 6, "{v}");
}

/// A user's own quantity through `testing::quantity`: `tr D = ‖X‖² − ‖Y‖²` of a two-factor
/// problem changes under GD by η²(‖G_X‖² − ‖G_Y‖²), and the wrong sign is rejected.
#[test]
fn closure_quantity() {
    let case: Problem = testing::draw(&st::problem(st::factor(1..=3, 1..=2), Some(LossKind::Completion)), 21);
    let trd = || {
        testing::quantity("tr D", |_: &Model<Q>, p: &Params<Q>| {
            vec![Mat::from_vec(1, 1, vec![p.blocks[0].norm_sq() - p.blocks[1].norm_sq()])]
        })
    };
    let law = |sign: i64| Law::ExactDrift {
        name: format!("trD+ = trD {sign:+} eta^2 (|Gx|^2 - |Gy|^2)"),
        f: Arc::new(move |_m: &Model<Q>, rec: &linflow::optim::StepRecord<Q>| {
            let g = &rec.grads[0];
            let d = rec.before.blocks[0].norm_sq() - rec.before.blocks[1].norm_sq();
            let e2 = Q::from((1, 36));
            vec![Mat::from_vec(1, 1, vec![d + Q::from(sign) * e2 * (g.blocks[0].norm_sq() - g.blocks[1].norm_sq())])]
        }),
    };
    let gd = Dynamics::gd(Q::from((1, 6)));
    testing::check(&case, &Q::new(), &gd, 3, 0.0, trd(), law(1)).assert_holds();
    testing::check(&case, &Q::new(), &gd, 3, 0.0, trd(), law(-1)).assert_rejected();
}
