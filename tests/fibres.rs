//! Fibres of the product map: Kempf–Ness, balancing flows, the end-to-end flow and the two-layer
//! Riccati closed form, each compared with an independent computation (a numerical flow, a
//! numerical minimization over the group, or a pointwise identity from the parameter side), in
//! `f64` and at 256 bits; preconditions rejected.
//!
//! 256-bit flow references use classical RK4 in MPFR at several step sizes `h_i = t/(n0·i)` and
//! eliminate the error terms `h^4, h^5, …` of its asymptotic expansion (Richardson
//! extrapolation with known exponents); the integrator is one `Integrator` value, so a
//! high-order method replaces it in one line.

use linflow::closed_form::balancing::{
    metric_operator, moment_flow_n2, moment_flow_rates, moment_map_derivative, push_forward, regularizer_flow_mu,
    regularizer_flow_scalar,
};
use linflow::closed_form::end_to_end::{
    end_to_end_field, preconditioner_spectrum, product_velocity, singular_value_rates,
};
use linflow::closed_form::lindsey_menon::{
    act, balanced_point, kempf_ness_minimum, lie_action, moment_map, orbit_descent, regularizer,
};
use linflow::closed_form::riccati::{lambda_balanced_init, Riccati};
use linflow::flow::fields::{EndToEndFlow, MomentMapFlow, RegularizerFlow};
use linflow::linalg::{solve as lin_solve, sym_eigen};
use linflow::prelude::*;

const BITS: u32 = 256;

fn mp() -> Mp {
    Mp::new(BITS)
}

fn max_abs<S: Scalar>(ms: &[Mat<S>]) -> f64 {
    ms.iter().filter_map(Mat::max_abs).map(|x| x.to_f64()).fold(0.0, f64::max)
}

fn scalar_params<S: Scalar>(ws: &[S]) -> Params<S> {
    Params::new(ws.iter().map(|w| Mat::from_vec(1, 1, vec![w.clone()])).collect())
}

fn is_precondition<T: std::fmt::Debug>(r: linflow::error::Result<T>) -> bool {
    matches!(r, Err(Error::Precondition { .. }))
}

/// RK4 with exactly `n` steps of `t1/n` (the step is computed in the number type; the `f64` step
/// given to `solve` is nudged up so that `ceil(t1/h) = n`).
fn rk4_final<F: VectorField<Mp>>(field: &mut F, model: &Model<Mp>, y0: &Params<Mp>, t1: f64, n: usize) -> Vec<Mp> {
    let h = t1 / n as f64 * (1.0 + 1e-12);
    let traj =
        solve(field, model, y0, &Integrator::Rk4 { h }, &SolveOptions { t1, save_times: vec![] }, &mut Monitor::new())
            .expect("rk4 runs");
    assert_eq!(traj.steps.last().copied(), Some(n));
    traj.last().flatten()
}

/// Richardson extrapolation of RK4 results `y(h_i)`, `h_i = t1/(n0·i)`, `i = 1..=k`: weights `w`
/// with `Σ w_i = 1` and `Σ w_i h_i^e = 0` for `e = 4, …, k+2` (computed at twice the precision).
fn richardson<F: VectorField<Mp>>(
    mut make: impl FnMut() -> F,
    model: &Model<Mp>,
    y0: &Params<Mp>,
    t1: f64,
    n0: usize,
    k: usize,
) -> Vec<Mp> {
    let wide = Mp::new(2 * BITS);
    let hs: Vec<Mp> = (1..=k).map(|i| wide.from_f64_like(t1) / wide.from_i64_like((n0 * i) as i64)).collect();
    let a = Mat::from_fn(k, k, |p, i| {
        if p == 0 {
            wide.one_like()
        } else {
            let mut x = wide.one_like();
            for _ in 0..p + 3 {
                x *= &hs[i];
            }
            x
        }
    });
    let e0 = Mat::from_fn(k, 1, |p, _| if p == 0 { wide.one_like() } else { wide.zero_like() });
    let w = lin_solve(&a, &e0).expect("Richardson system is regular");
    let mut acc: Option<Vec<Mp>> = None;
    for i in 0..k {
        let y = rk4_final(&mut make(), model, y0, t1, n0 * (i + 1));
        let wi = Mp::with_val(BITS, w.get(i, 0));
        let term: Vec<Mp> = y.into_iter().map(|v| v * wi.clone()).collect();
        acc = Some(match acc {
            None => term,
            Some(a) => a.into_iter().zip(term).map(|(x, y)| x + y).collect(),
        });
    }
    acc.expect("k >= 1")
}

// ------------------------------------------------------------------------------------------
// Kempf–Ness.

#[test]
fn group_action_fixes_product_and_moment_map_is_the_derivative_of_the_norm() {
    let arch = Arch::deep_linear(&[2, 3, 4, 2]).unwrap();
    let w = init::gaussian(&arch, 0.8, &mut data::rng(1));
    let mut rng = data::rng(2);
    let xi: Vec<Mat<f64>> = [3usize, 4].iter().map(|&d| data::gaussian(d, d, 0.5, &mut rng)).collect();
    // Finite differences of R(e^{s xi}.W) at s = 0 (central, step 1e-5: error O(s^2) = 1e-10
    // relative, rounding 1e-16/1e-5 = 1e-11) against <mu, xi>.
    let s = 1e-5;
    let exp = |sign: f64| -> Vec<Mat<f64>> { xi.iter().map(|x| Mat::from_na(&(x.to_na() * sign * s).exp())).collect() };
    let (wp, wm) = (act(&w, &exp(1.0)).unwrap(), act(&w, &exp(-1.0)).unwrap());
    let fd = (regularizer(&wp) - regularizer(&wm)) / (2.0 * s);
    let pairing: f64 = moment_map(&w).iter().zip(&xi).map(|(m, x)| m.dot(x)).sum();
    assert!((fd - pairing).abs() < 1e-8 * pairing.abs().max(1.0), "fd {fd} vs <mu, xi> {pairing}");
    // Same sign convention as the library's MomentMap quantity (and mu = -C).
    let model = Model::new(arch.clone(), Loss::target(arch.product(&w))).unwrap();
    assert_eq!(moment_map(&w), MomentMap.eval(&model, &w));
    // In exact rationals the action keeps the product exactly.
    let q = Q::new();
    let (wq, gq): (Params<Q>, Vec<Mat<Q>>) =
        (w.cast(&q), xi.iter().map(|x| Mat::eye(x.rows(), x.rows(), &0.0).add(x).cast(&q)).collect());
    assert_eq!(arch.product(&act(&wq, &gq).unwrap()), arch.product(&wq));
    // The action keeps the product; the orbit tangent is in ker dphi.
    let x = arch.product(&w);
    assert!(arch.product(&wp).sub(&x).max_abs().unwrap() < 1e-14);
    let tangent = lie_action(&w, &xi).unwrap();
    assert!(push_forward(&w, &tangent).unwrap().max_abs().unwrap() < 1e-14);
}

#[test]
fn kempf_ness_minimum_at_256_bits() {
    let widths = [3usize, 3, 3, 3];
    let p = mp();
    let x = data::gaussian(3, 3, 1.0, &mut data::rng(5)).cast(&p);
    let rmin = kempf_ness_minimum(&x, 3).unwrap();
    let wb = balanced_point(&x, &widths).unwrap();
    let arch = Arch::deep_linear(&widths).unwrap();
    // The construction is exact algebra on a 256-bit SVD: rounding 1e-77 times small factors.
    assert!(max_abs(&[arch.product(&wb).sub(&x)]) < 1e-70);
    assert!(max_abs(&moment_map(&wb)) < 1e-70);
    assert!((regularizer(&wb) - rmin.clone()).to_f64().abs() < 1e-70);
    // Numerical minimization over the group from an unbalanced point of the same fibre.
    let mut rng = data::rng(6);
    let g: Vec<Mat<Mp>> =
        (0..2).map(|_| Mat::eye(3, 3, &0.0).add(&data::gaussian(3, 3, 0.3, &mut rng)).cast(&p)).collect();
    let w0 = act(&wb, &g).unwrap();
    assert!(max_abs(&[arch.product(&w0).sub(&x)]) < 1e-70);
    let eta = p.from_f64_like(0.05);
    let (w_end, hist) = orbit_descent(&w0, &eta, 2500).unwrap();
    let gap = (hist.last().unwrap().clone() - rmin.clone()).to_f64();
    assert!(hist[0].to_f64() - rmin.to_f64() > 1e-2, "the start is unbalanced");
    // Linear convergence of R - R* to the 1e-50 level (well above the 1e-75 rounding floor).
    eprintln!("orbit descent at 256 bits: R - R* = {gap:e}");
    assert!(gap.abs() < 1e-50, "gap {gap:e}");
    assert!(gap > -1e-70, "never below the minimum: {gap:e}");
    assert!(max_abs(&[arch.product(&w_end).sub(&x)]) < 1e-65);
}

#[test]
fn kempf_ness_preconditions_are_checked() {
    let rank1 = Mat::from_fn(3, 3, |i, j| (i + 1) as f64 * (j + 1) as f64);
    assert!(is_precondition(balanced_point(&rank1, &[3, 3, 3])));
    let x = data::gaussian(3, 3, 1.0, &mut data::rng(7));
    assert!(is_precondition(balanced_point(&x, &[3, 2, 3])));
    assert!(matches!(balanced_point(&x, &[3, 3, 4]), Err(Error::Dimension { .. })));
    assert!(is_precondition(kempf_ness_minimum(&x, 0)));
    let nan = Mat::from_fn(2, 2, |_, _| f64::NAN);
    assert!(matches!(kempf_ness_minimum(&nan, 2), Err(Error::Invalid { .. })));
    let w = init::gaussian(&Arch::deep_linear(&[2, 2, 2]).unwrap(), 1.0, &mut data::rng(8));
    assert!(is_precondition(act(&w, &[Mat::zeros(2, 2, &0.0)])));
}

// ------------------------------------------------------------------------------------------
// Balancing flows.

#[test]
fn flow_a_moment_map_law_and_fixed_product_pointwise_at_256_bits() {
    // d/dt mu along flow (a) is exactly -2 mu, and dphi(flow) = 0: checked pointwise with the
    // differential of mu (independent of the closed form's derivation by pairing).
    let p = mp();
    let arch = Arch::deep_linear(&[2, 4, 3, 2]).unwrap();
    let w = init::gaussian(&arch, 0.8, &mut data::rng(11)).cast(&p);
    let v = RegularizerFlow::vertical_descent(&w).unwrap();
    let dmu = moment_map_derivative(&w, &v).unwrap();
    let mu = moment_map(&w);
    let two = p.from_i64_like(2);
    let res: Vec<Mat<Mp>> = dmu.iter().zip(&mu).map(|(d, m)| d.add(&m.scaled(&two))).collect();
    assert!(max_abs(&res) < 1e-70, "{:e}", max_abs(&res));
    assert!(max_abs(&[push_forward(&w, &v).unwrap()]) < 1e-70);
    // Exact in rationals too: the field is rational in W.
    let q = Q::new();
    let wq = init::gaussian(&arch, 0.8, &mut data::rng(11)).cast(&q);
    let vq = RegularizerFlow::vertical_descent(&wq).unwrap();
    let two = Q::from(2);
    for (d, m) in moment_map_derivative(&wq, &vq).unwrap().iter().zip(moment_map(&wq)) {
        assert_eq!(d.add(&m.scaled(&two)), Mat::zeros(m.rows(), m.cols(), &q));
    }
}

#[test]
fn flow_a_mu_law_along_rk4_in_f64() {
    let widths = [3usize, 4, 2, 2];
    let arch = Arch::deep_linear(&widths).unwrap();
    let w0 = init::gaussian(&arch, 0.8, &mut data::rng(12));
    let model = Model::new(arch.clone(), Loss::target(arch.product(&w0))).unwrap();
    let mut mon = Monitor::new().track(MomentMap, Law::exp_decay(2.0)).track(Balancedness, Law::exp_decay(2.0));
    let opts = SolveOptions { t1: 2.0, save_times: (1..=40).map(|k| k as f64 * 0.05).collect() };
    let traj =
        solve(&mut RegularizerFlow::new(&w0).unwrap(), &model, &w0, &Integrator::Rk4 { h: 0.01 }, &opts, &mut mon)
            .unwrap();
    // RK4, h = 0.01: global error O(h^4) = 1e-8 times O(10) derivatives.
    assert!(traj.laws[0].worst_rel < 1e-6, "{:?}", traj.laws[0]);
    assert!(traj.laws[1].worst_rel < 1e-6);
    let x_end = arch.product(traj.last());
    assert!(x_end.sub(&arch.product(&w0)).max_abs().unwrap() < 1e-6);
    // The closed-form helper, and speed c = 2 (rate 4), at t = 2.
    let mu0 = moment_map(&w0);
    let pred = regularizer_flow_mu(&mu0, &2.0, &1.0);
    let now = moment_map(traj.last());
    let dev: Vec<Mat<f64>> = now.iter().zip(&pred).map(|(a, b)| a.sub(b)).collect();
    assert!(max_abs(&dev) < 1e-6 * max_abs(&mu0));
    let mut fast = RegularizerFlow::new(&w0).unwrap().with_speed(2.0).unwrap();
    let traj2 = solve(&mut fast, &model, &w0, &Integrator::Rk4 { h: 0.005 }, &opts, &mut Monitor::new()).unwrap();
    let pred = regularizer_flow_mu(&mu0, &2.0, &2.0);
    let dev: Vec<Mat<f64>> = moment_map(traj2.last()).iter().zip(&pred).map(|(a, b)| a.sub(b)).collect();
    // RK4 with h = 0.005 at rate 4 (z = 0.02 per step): far below 1e-6 relative.
    assert!(max_abs(&dev) < 1e-6 * max_abs(&mu0));
    // Negative control: the same law with rate 1.9 is far off.
    let mut wrong = Monitor::new().track(MomentMap, Law::exp_decay(1.9));
    let traj =
        solve(&mut RegularizerFlow::new(&w0).unwrap(), &model, &w0, &Integrator::Rk4 { h: 0.01 }, &opts, &mut wrong)
            .unwrap();
    assert!(traj.laws[0].worst_rel > 1e-3);
}

#[test]
fn flow_a_scalar_closed_form_at_256_bits() {
    let p = mp();
    let w0: Vec<Mp> = [1.5, -0.4, 0.9].iter().map(|w| p.from_f64_like(*w)).collect();
    let p0 = scalar_params(&w0);
    let x = w0.iter().fold(p.one_like(), |a, b| a * b.clone());
    let model =
        Model::new(Arch::deep_linear(&[1, 1, 1, 1]).unwrap(), Loss::target(Mat::from_vec(1, 1, vec![x]))).unwrap();
    let t1 = 0.5;
    let num = richardson(|| RegularizerFlow::new(&p0).unwrap(), &model, &p0, t1, 20, 24);
    let cf = regularizer_flow_scalar(&w0, &p.from_f64_like(t1)).unwrap();
    let err = num.iter().zip(&cf).map(|(a, b)| (a.clone() - b.clone()).to_f64().abs()).fold(0.0, f64::max);
    eprintln!("flow (a) scalar, Richardson RK4 at 256 bits vs closed form: {err:e}");
    assert!(err < 1e-50, "flow (a) scalar at 256 bits: {err:e}");
    // The same closed form in f64 agrees with the 256-bit one to rounding.
    let cf64 = regularizer_flow_scalar(&[1.5, -0.4, 0.9], &t1).unwrap();
    for (a, b) in cf64.iter().zip(&cf) {
        assert!((a - b.to_f64()).abs() < 1e-14);
    }
}

#[test]
fn flow_b_sinh_law_at_256_bits() {
    let p = mp();
    let (w1, w2) = (p.from_f64_like(1.0), p.from_f64_like(0.5));
    let p0 = scalar_params(&[w1.clone(), w2.clone()]);
    let model = Model::new(
        Arch::deep_linear(&[1, 1, 1]).unwrap(),
        Loss::target(Mat::from_vec(1, 1, vec![w1.clone() * w2.clone()])),
    )
    .unwrap();
    let t1 = 0.5;
    let num = richardson(|| MomentMapFlow, &model, &p0, t1, 20, 24);
    let (mu, c1, c2) = moment_flow_n2(&w1, &w2, &p.from_f64_like(t1)).unwrap();
    let mu_num = num[0].clone() * num[0].clone() - num[1].clone() * num[1].clone();
    let err = [(num[0].clone() - c1), (num[1].clone() - c2), (mu_num - mu)]
        .iter()
        .map(|d| d.to_f64().abs())
        .fold(0.0, f64::max);
    eprintln!("flow (b) N = 2, Richardson RK4 at 256 bits vs sinh law: {err:e}");
    assert!(err < 1e-50, "flow (b) N = 2 at 256 bits: {err:e}");
}

#[test]
fn flow_b_sinh_law_negative_sign_and_zero_product() {
    // mu0 < 0 (w2 dominant) and x = 0 (one factor zero: mu0/(1 + 4|mu0| t)), against RK4 in f64.
    for (w1, w2) in [(0.3, -1.7), (0.0, 1.2)] {
        let p0 = scalar_params(&[w1, w2]);
        let model =
            Model::new(Arch::deep_linear(&[1, 1, 1]).unwrap(), Loss::target(Mat::from_vec(1, 1, vec![w1 * w2])))
                .unwrap();
        let opts = SolveOptions { t1: 1.0, save_times: vec![] };
        let traj =
            solve(&mut MomentMapFlow, &model, &p0, &Integrator::Rk4 { h: 0.001 }, &opts, &mut Monitor::new()).unwrap();
        let (_, c1, c2) = moment_flow_n2(&w1, &w2, &1.0).unwrap();
        let l = traj.last();
        // RK4 at h = 0.001 with rates up to 4 sqrt(mu^2 + a^2) ~ 12: (12h)^4 ~ 2e-8.
        assert!((l.blocks[0].get(0, 0) - c1).abs() < 1e-7 && (l.blocks[1].get(0, 0) - c2).abs() < 1e-7);
    }
    assert!(is_precondition(moment_flow_n2(&1.0, &2.0, &-0.1)));
    assert!(is_precondition(moment_flow_n2(&f64::NAN, &2.0, &0.1)));
}

#[test]
fn flow_b_linearization_rates_match_a_finite_difference_jacobian() {
    // Jacobian of flow (b) at the balanced point of a 3-3-3-3 fibre by central differences
    // (step 1e-6: truncation O(h^2) ~ 1e-12 times third derivatives, rounding 1e-16/1e-6 = 1e-10),
    // symmetric since the flow is a gradient flow; its non-zero spectrum against the formula.
    let widths = [3usize, 3, 3, 3];
    let x = data::gaussian(3, 3, 1.0, &mut data::rng(14));
    let w = balanced_point(&x, &widths).unwrap();
    let dim = w.len();
    let hstep = 1e-6;
    let mut jac = nalgebra::DMatrix::<f64>::zeros(dim, dim);
    let mut field = MomentMapFlow;
    for k in 0..dim {
        let mut plus = w.clone();
        let mut minus = w.clone();
        let mut xp = plus.flatten();
        let mut xm = minus.flatten();
        xp[k] += hstep;
        xm[k] -= hstep;
        plus.set_from_slice(&xp);
        minus.set_from_slice(&xm);
        let (mut fp, mut fm) = (w.zeros_like(), w.zeros_like());
        field.eval(&0.0, &plus, &mut fp);
        field.eval(&0.0, &minus, &mut fm);
        for (i, (a, b)) in fp.flatten().iter().zip(fm.flatten()).enumerate() {
            jac[(i, k)] = -(a - b) / (2.0 * hstep);
        }
    }
    let asym = (&jac - jac.transpose()).abs().max();
    assert!(asym < 1e-7, "Jacobian of a gradient flow is symmetric: {asym:e}");
    let sym = (&jac + jac.transpose()) * 0.5;
    let mut eig: Vec<f64> = sym.symmetric_eigen().eigenvalues.iter().copied().collect();
    eig.sort_by(|a, b| b.total_cmp(a));
    let rates = moment_flow_rates(&x, 3).unwrap();
    assert_eq!(rates.len(), 2 * 6);
    let mut top: Vec<f64> = eig[..rates.len()].to_vec();
    top.sort_by(f64::total_cmp);
    for (a, b) in top.iter().zip(&rates) {
        assert!((a - b).abs() < 1e-6 * b.max(1.0), "rate {a} vs formula {b}");
    }
    // The other directions (tangent to the balanced manifold, dimension d^2 + (N-1)d(d-1)/2 = 15)
    // have rate 0.
    assert!(eig[rates.len()..].iter().all(|e| e.abs() < 1e-6));
    assert!(is_precondition(moment_flow_rates(&data::gaussian(2, 3, 1.0, &mut data::rng(15)), 3)));
}

#[test]
fn regularizer_flow_preconditions_are_checked() {
    // W_1 = W_2 = 11^T: dphi(V) = 11^T V_1 + V_2 11^T misses the matrices orthogonal to 1 on both sides.
    let rank_deficient = Params::new(vec![Mat::from_fn(2, 2, |_, _| 1.0), Mat::from_fn(2, 2, |_, _| 1.0)]);
    assert!(is_precondition(RegularizerFlow::new(&rank_deficient)));
    let ok = init::gaussian(&Arch::deep_linear(&[2, 2, 2]).unwrap(), 1.0, &mut data::rng(13));
    assert!(matches!(RegularizerFlow::new(&ok).unwrap().with_speed(-1.0), Err(Error::Invalid { .. })));
    let bad_chain = Params::new(vec![Mat::zeros(2, 3, &0.0), Mat::zeros(2, 3, &0.0)]);
    assert!(matches!(RegularizerFlow::new(&bad_chain), Err(Error::Dimension { .. })));
    assert!(matches!(metric_operator(&bad_chain), Err(Error::Dimension { .. })));
    assert!(matches!(push_forward(&ok, &bad_chain), Err(Error::Dimension { .. })));
    assert!(is_precondition(regularizer_flow_scalar(&[1.0, 0.0], &1.0)));
    assert!(is_precondition(regularizer_flow_scalar::<f64>(&[], &1.0)));
}

// ------------------------------------------------------------------------------------------
// End-to-end flow.

#[test]
fn end_to_end_field_matches_parameter_velocity_at_256_bits() {
    // At a balanced point, dphi(-grad L(W)) equals the end-to-end field: rectangular widths
    // (exact zero eigenvalues in X^T X), non-whitened regression, weight decay 1/10.
    let p = mp();
    let widths = [4usize, 5, 5, 3];
    let mut rng = data::rng(21);
    let w_star = data::gaussian(3, 4, 1.0, &mut rng);
    let (x_in, y_out) = data::regression(&w_star, 12, 0.1, &mut rng);
    let x_in = Mat::from_fn(4, 12, |i, j| x_in.get(i, j) * (1.0 + i as f64));
    let model = Model::new(Arch::deep_linear(&widths).unwrap(), Loss::regression(x_in, y_out).unwrap())
        .unwrap()
        .cast(&p)
        .with_weight_decay(p.ratio_like(1, 10))
        .unwrap();
    let a = data::gaussian(3, 4, 0.5, &mut rng).cast(&p);
    let w = balanced_point(&a, &widths).unwrap();
    let (x, xdot) = product_velocity(&model, &w).unwrap();
    let lambda = p.ratio_like(1, 10);
    let field = end_to_end_field(&model.loss, &x, 3, Some(&lambda)).unwrap();
    let err = max_abs(&[field.sub(&xdot)]);
    eprintln!("end-to-end field vs dphi(-grad L) at 256 bits: {err:e}");
    assert!(err < 1e-50, "end-to-end identity at 256 bits: {err:e}");
    // Preconditioner spectrum against the eigenvalues of M_W = dphi dphi^T from the layers.
    let (mut eig, _) = sym_eigen(&metric_operator(&w).unwrap()).unwrap();
    eig.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let spec = preconditioner_spectrum(&x, 3).unwrap();
    assert_eq!(eig.len(), spec.len());
    let serr = eig.iter().zip(&spec).map(|(a, b)| (a.clone() - b.clone()).to_f64().abs()).fold(0.0, f64::max);
    eprintln!("preconditioner spectrum vs eig(M_W) at 256 bits: {serr:e}");
    assert!(serr < 1e-50, "spectrum at 256 bits: {serr:e}");
    // Singular value rates against u_r^T X' v_r (first-order perturbation of simple singular values).
    let mut g = x.zeros_like();
    model.loss.value_grad(&x, None, &mut g);
    let rates = singular_value_rates(&x, &g, 3, Some(&lambda)).unwrap();
    let (u, _, v) = linflow::linalg::thin_svd(&x).unwrap();
    let uxv = u.prod(true, &xdot, false).matmul(&v);
    for (r, rate) in rates.iter().enumerate() {
        assert!((rate.clone() - uxv.get(r, r).clone()).to_f64().abs() < 1e-50);
    }
}

#[test]
fn end_to_end_f64_field_agrees_with_generic_field_and_is_not_a_gradient_at_depth_one_only() {
    let widths = [3usize, 4, 2];
    let target = data::gaussian(2, 3, 1.0, &mut data::rng(22));
    let model = Model::new(Arch::deep_linear(&widths).unwrap(), Loss::target(target)).unwrap();
    let (mut flow, _) = EndToEndFlow::new(&model).unwrap();
    let x = data::gaussian(2, 3, 0.7, &mut data::rng(23));
    let a = flow.field(&x).unwrap();
    let b = end_to_end_field(&model.loss, &x, 2, None).unwrap();
    // Two eigen-solvers (nalgebra, Jacobi) on O(1) Gram matrices: agreement to ~100 eps.
    assert!(a.sub(&b).max_abs().unwrap() < 1e-13);
    // Depth 1 is plain gradient flow: the field is -(X - Phi).
    let m1 = Model::new(Arch::deep_linear(&[3, 2]).unwrap(), model.loss.clone()).unwrap();
    let (mut f1, _) = EndToEndFlow::new(&m1).unwrap();
    let g = f1.field(&x).unwrap();
    assert!(matches!(f1.field(&Mat::zeros(3, 3, &0.0)), Err(Error::Dimension { .. })));
    let phi = match &model.loss {
        Loss::Target { phi } => phi.clone(),
        _ => unreachable!(),
    };
    assert!(g.add(&x.sub(&phi)).max_abs().unwrap() < 1e-15);
    let diag = Model::new(Arch::DiagonalUV { d: 3 }, Loss::target(Mat::zeros(1, 3, &0.0))).unwrap();
    assert!(is_precondition(EndToEndFlow::new(&diag)));
}

#[test]
fn end_to_end_preconditions_are_checked() {
    let x = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 });
    // Repeated singular values: u_r, v_r are not defined.
    assert!(is_precondition(singular_value_rates(&x, &x, 2, None)));
    assert!(matches!(singular_value_rates(&x, &Mat::zeros(3, 2, &0.0), 2, None), Err(Error::Dimension { .. })));
    assert!(is_precondition(preconditioner_spectrum(&x, 0)));
    let loss = Loss::target(Mat::zeros(2, 3, &0.0));
    assert!(matches!(end_to_end_field(&loss, &x, 2, None), Err(Error::Dimension { .. })));
}

#[test]
fn preconditioner_spectrum_square_minimum_is_n_sigma_min_power() {
    // Square X: the smallest eigenvalue is N sigma_min^(2(N-1)/N) (ACH Claim 1), compared with
    // nalgebra's singular values.
    let x = data::gaussian(3, 3, 1.0, &mut data::rng(24));
    let smin = x.to_na().singular_values().min();
    for n in 1..5usize {
        let spec = preconditioner_spectrum(&x, n).unwrap();
        let want = n as f64 * smin.powf(2.0 * (n as f64 - 1.0) / n as f64);
        assert!((spec.last().unwrap() - want).abs() < 1e-12 * want.max(1.0), "N = {n}");
    }
}

// ------------------------------------------------------------------------------------------
// Riccati.

#[test]
fn riccati_closed_form_at_256_bits() {
    let p = mp();
    let (m, n, k) = (2usize, 3usize, 1usize);
    let mut rng = data::rng(31);
    let y = data::gaussian(m, n, 1.0, &mut rng).cast(&p);
    let v0 = data::gaussian(n, k, 0.3, &mut rng).cast(&p);
    let raw = data::gaussian(m, k, 1.0, &mut rng).cast(&p);
    let u0 = lambda_balanced_init(&v0, &raw, &p.ratio_like(1, 2)).unwrap();
    let cf = Riccati::new(&y, &u0, &v0).unwrap();
    let model = Model::new(Arch::Factor { d1: m, d2: n, r: k }, Loss::target(y.clone())).unwrap();
    let p0 = Params::new(vec![u0, v0]);
    let t1 = 1.0;
    let num = richardson(|| GradientFlow::new(&model), &model, &p0, t1, 20, 24);
    let mut end = p0.clone();
    end.set_from_slice(&num);
    let w = model.end_to_end(&end);
    let err = max_abs(&[w.sub(&cf.product(&p.from_f64_like(t1)).unwrap())]);
    eprintln!("Riccati closed form vs Richardson RK4 at 256 bits: {err:e}");
    assert!(err < 1e-50, "Riccati closed form at 256 bits: {err:e}");
}

#[test]
fn riccati_spectrum_and_f64_flow() {
    // Spectrum of S_lambda: ±sqrt(s_i^2 + lambda^2/4) and ±lambda/2 on the |m - n| extra dimensions.
    let (m, n, k, lambda) = (2usize, 3usize, 2usize, 0.8);
    let mut rng = data::rng(32);
    let y = data::gaussian(m, n, 1.0, &mut rng);
    let v0 = data::gaussian(n, k, 0.2, &mut rng);
    let raw = data::gaussian(m, k, 1.0, &mut rng);
    let u0 = lambda_balanced_init(&v0, &raw, &lambda).unwrap();
    let cf = Riccati::new(&y, &u0, &v0).unwrap();
    let s = y.to_na().singular_values();
    let mut want: Vec<f64> = s
        .iter()
        .flat_map(|si| [(si * si + lambda * lambda / 4.0).sqrt(), -(si * si + lambda * lambda / 4.0).sqrt()])
        .collect();
    want.push(-lambda / 2.0);
    want.sort_by(|a, b| b.total_cmp(a));
    for (a, b) in cf.spectrum().iter().zip(&want) {
        assert!((a - b).abs() < 1e-13);
    }
    assert!((cf.lambda() - lambda).abs() < 1e-14);
    // Short horizon in f64, where the formula does not cancel: against RK4.
    let model = Model::new(Arch::Factor { d1: m, d2: n, r: k }, Loss::target(y.clone())).unwrap();
    let p0 = Params::new(vec![u0, v0]);
    let opts = SolveOptions { t1: 1.0, save_times: vec![] };
    let traj =
        solve(&mut GradientFlow::new(&model), &model, &p0, &Integrator::Rk4 { h: 0.005 }, &opts, &mut Monitor::new())
            .unwrap();
    let err = model.end_to_end(traj.last()).sub(&cf.product(&1.0).unwrap()).max_abs().unwrap();
    // RK4, h = 0.005: O(h^4) = 6e-10 times O(1) derivatives.
    assert!(err < 1e-8, "{err:e}");
}

#[test]
fn riccati_preconditions_are_checked() {
    let y = data::gaussian(2, 3, 1.0, &mut data::rng(33));
    let u0 = data::gaussian(2, 2, 0.5, &mut data::rng(34));
    let v0 = data::gaussian(3, 2, 0.5, &mut data::rng(35));
    // Generic U0, V0: U0^T U0 - V0^T V0 is not a multiple of the identity.
    assert!(is_precondition(Riccati::new(&y, &u0, &v0)));
    assert!(matches!(Riccati::new(&y, &v0, &v0), Err(Error::Dimension { .. })));
    let u_ok = lambda_balanced_init(&v0, &u0, &0.3).unwrap();
    let cf = Riccati::new(&y, &u_ok, &v0).unwrap();
    assert!(is_precondition(cf.product(&-1.0)));
    // lambda I + V^T V not positive definite.
    assert!(is_precondition(lambda_balanced_init(&v0, &u0, &-100.0)));
}
