//! The one gradient against central finite differences, over random architectures and losses.

use linflow::prelude::*;
use proptest::prelude::*;

/// Random model of any architecture and loss kind, data from a seed.
fn model_for(kind: u8, dims: &[usize], loss_kind: u8, seed: u64) -> (Model<f64>, Params<f64>) {
    let mut rng = data::rng(seed);
    let arch = match kind % 6 {
        0 => Arch::deep_linear(dims).unwrap(),
        1 => Arch::DiagonalUV { d: dims[0] },
        2 => Arch::DiagonalSq { d: dims[0] },
        3 => Arch::Factor { d1: dims[0], d2: dims[1], r: dims[dims.len() - 1] },
        4 => Arch::FactorOp { d: dims[0] },
        _ => Arch::SymFactor { d: dims[0], k: dims[1] },
    };
    let (r, c) = arch.output_shape();
    let w_star = data::gaussian(r, c, 1.0, &mut rng);
    let loss = match loss_kind % 4 {
        0 => Loss::target(w_star),
        1 => {
            let (x, y) = data::regression(&w_star, 5, 0.3, &mut rng);
            Loss::regression(x, y).unwrap()
        }
        2 => data::sensing(&w_star, 4, &mut rng),
        _ => data::completion(&w_star, 0.6, &mut rng),
    };
    let p = init::gaussian(&arch, 0.7, &mut rng);
    let model = Model::new(arch, loss).unwrap().with_weight_decay(0.05).unwrap();
    (model, p)
}

/// Largest |analytic - five-point central difference| over all entries, relative to
/// max(1, |grad|_inf). The stencil `[8(f(h) - f(-h)) - (f(2h) - f(-2h))]/(12h)` is exact for
/// polynomials of degree <= 4, and along one coordinate every loss here is such a polynomial
/// (the product map is multilinear in the blocks, or quadratic in `u_i` for `u*u - v*v` and in
/// `X_ij` for `XX^T`, and the
/// losses are quadratic), so the only error left is round-off, about `eps*|f|/h`.
fn fd_error<S: Real>(model: &Model<S>, p: &Params<S>, h: &S) -> f64 {
    let (_, g) = model.grad(p);
    let mut worst: f64 = 0.0;
    let gmax = g.iter().map(|x| x.to_f64().abs()).fold(1.0, f64::max);
    let at = |i: usize, k: i64| {
        let mut q = p.clone();
        *q.iter_mut().nth(i).unwrap() += &(h.clone() * h.from_i64_like(k));
        model.loss(&q)
    };
    for i in 0..p.len() {
        let num = h.from_i64_like(8) * (at(i, 1) - at(i, -1)) - (at(i, 2) - at(i, -2));
        let fd = num / (h.from_i64_like(12) * h.clone());
        let err = (fd - g.iter().nth(i).unwrap().clone()).abs().to_f64();
        worst = worst.max(err / gmax);
    }
    worst
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn gradient_matches_finite_differences_f64(
        kind in 0u8..6, loss_kind in 0u8..4, seed in 0u64..1000,
        dims in prop::collection::vec(1usize..5, 2..6),
    ) {
        let (model, p) = model_for(kind, &dims, loss_kind, seed);
        // No truncation error (see `fd_error`); round-off eps*|f|/h with h = 1e-2 and losses of
        // order 10-100 at these scales is ~1e-12: 1e-8 leaves room for unlucky cancellation.
        let err = fd_error(&model, &p, &1e-2);
        prop_assert!(err < 1e-8, "relative error {err:e}");
    }

    #[test]
    fn gradient_matches_finite_differences_mpfr256(
        kind in 0u8..6, loss_kind in 0u8..4, seed in 0u64..1000,
        dims in prop::collection::vec(1usize..4, 2..5),
    ) {
        let (model, p) = model_for(kind, &dims, loss_kind, seed);
        let proto = Mp::new(256);
        let (model, p) = (model.cast(&proto), p.cast(&proto));
        // 256 bits: eps = 1.7e-77. No truncation error (see `fd_error`); round-off eps*|f|/h with
        // h = 1e-2 is ~1e-73 for these losses. The claim checked is agreement to 1e-60.
        let h = proto.from_f64_like(1e-2);
        let err = fd_error(&model, &p, &h);
        prop_assert!(err < 1e-60, "relative error {err:e}");
    }
}
