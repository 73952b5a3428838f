//! The spectrum of a step: the exact Hessian against exact finite differences and closed forms,
//! step-map Jacobians against finite differences of the step maps, eigenvalues against closed
//! forms (GD's 1 − ηh_i, heavy ball's companion roots, a Toeplitz matrix), the `stability`
//! experiment and the `linflow stability` command.
#![cfg(feature = "testing")]

use linflow::prelude::*;
use linflow::scalar::Q;
use linflow::stability::{
    self, companion_discriminant, companion_roots, eigenvalues, hessian, step_jacobian, symmetric_eigenvalues,
};
use linflow::testing::strategies::{self as st, LossKind};
use linflow::testing::{self, Problem};
use num_complex::Complex;
use proptest::prelude::*;

/// The exact directional derivative $\frac{d}{dt}F(\theta + tv)|_0$ of a map that is a polynomial
/// of degree ≤ `degree` in t: the central difference $(F(\theta+tv) - F(\theta-tv))/2t$ is then an
/// even polynomial in t of degree ≤ degree − 1, i.e. a polynomial in $s = t^2$ of degree
/// ≤ (degree − 1)/2, and its value at s = 0 is recovered exactly by Lagrange interpolation from
/// that many plus one step sizes. In rationals this is an independent, exact truth.
fn exact_derivative(f: impl Fn(&Params<Q>) -> Vec<Q>, p: &Params<Q>, v: &Params<Q>, degree: usize) -> Vec<Q> {
    let m = (degree - 1) / 2 + 1;
    let ts: Vec<Q> = (1..=m).map(|k| Q::from((k as i64, 7))).collect();
    let diffs: Vec<Vec<Q>> = ts
        .iter()
        .map(|t| {
            let (mut a, mut b) = (p.clone(), p.clone());
            a.axpy(t, v);
            b.axpy(&-t.clone(), v);
            let two_t = Q::from(2) * t.clone();
            f(&a).into_iter().zip(f(&b)).map(|(x, y)| (x - y) / two_t.clone()).collect()
        })
        .collect();
    let s: Vec<Q> = ts.iter().map(|t| t.clone() * t.clone()).collect();
    let n = diffs[0].len();
    (0..n)
        .map(|c| {
            let mut acc = Q::new();
            for i in 0..m {
                let mut w = Q::from(1);
                for j in 0..m {
                    if i != j {
                        w *= -s[j].clone() / (s[i].clone() - s[j].clone());
                    }
                }
                acc += diffs[i][c].clone() * w;
            }
            acc
        })
        .collect()
}

fn unit(p: &Params<Q>, j: usize) -> Params<Q> {
    let mut e = p.zeros_like();
    let mut v = vec![Q::new(); p.len()];
    v[j] = Q::from(1);
    e.set_from_slice(&v);
    e
}

/// Problems whose loss is a polynomial of degree ≤ 4 in θ (depth ≤ 2 and the other
/// architectures), with or without weight decay: every loss and architecture kind.
fn quartic() -> BoxedStrategy<Problem> {
    let archs = prop_oneof![
        st::deep_linear(1..=2, 1..=2),
        st::diagonal_uv(1..=3),
        st::diagonal_sq(1..=3),
        st::factor(1..=2, 1..=2),
        st::factor_op(1..=2)
    ]
    .boxed();
    st::with_weight_decay(st::problem(archs, None))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The Hessian from dual-number HVPs equals, column by column and exactly, the derivative of
    /// the gradient along e_j recovered from central differences (gradient of degree 3).
    #[test]
    fn hessian_is_exact_derivative_of_gradient(case in quartic()) {
        let (m, p) = (&case.model, &case.p0);
        let h = hessian(m, p);
        for j in 0..p.len() {
            let col = exact_derivative(|q| m.grad(q).1.flatten(), p, &unit(p, j), 3);
            for (i, x) in col.iter().enumerate() {
                prop_assert_eq!(h.get(i, j), x);
            }
        }
        // Symmetric exactly.
        prop_assert_eq!(h.t(), h);
    }

    /// Step-map Jacobians equal the exact derivatives of the step maps: GD and heavy ball
    /// (degree 3), Nesterov (degree 3 in (θ, θ′)), USAM (degree 9), on (θ, θ′) for momentum.
    #[test]
    fn polynomial_step_jacobians_are_exact(case in quartic(), eta in st::step_size(), aux in st::momentum(),
                                           prev_seed in any::<u64>()) {
        let (m, p) = (&case.model, &case.p0);
        let prev = testing::draw(&st::params(&m.arch), prev_seed);
        let d = p.len();
        for map in [
            Method::Gd { eta: eta.clone() },
            Method::HeavyBall { eta: eta.clone(), beta: aux.clone() },
            Method::Nesterov { eta: eta.clone(), beta: aux.clone() },
            Method::Usam { eta: eta.clone(), rho: aux.clone() },
        ] {
            let j = step_jacobian(m, &map, p, &prev).unwrap();
            let deg = if matches!(map, Method::Usam { .. }) { 9 } else { 3 };
            let mem = map.has_memory();
            prop_assert_eq!(j.rows(), if mem { 2 * d } else { d });
            // Joint state (θ, θ′) for momentum methods; the map's second half is θ ↦ θ.
            let cols = if mem { 2 * d } else { d };
            for c in 0..cols {
                let (vp, vq) = if c < d { (unit(p, c), p.zeros_like()) } else { (p.zeros_like(), unit(p, c - d)) };
                let f = |t: &Q| {
                    let (mut a, mut b) = (p.clone(), prev.clone());
                    a.axpy(t, &vp);
                    b.axpy(t, &vq);
                    let mut out = stability::apply_step(m, &map, &a, &b).unwrap().flatten();
                    if mem {
                        out.extend(a.flatten());
                    }
                    out
                };
                // Differentiate t ↦ f(t) through a one-parameter family θ(t) = θ + t e.
                let one = Params::new(vec![Mat::from_vec(1, 1, vec![Q::new()])]);
                let dir = Params::new(vec![Mat::from_vec(1, 1, vec![Q::from(1)])]);
                let col = exact_derivative(|x| f(x.blocks[0].get(0, 0)), &one, &dir, deg);
                for (i, x) in col.iter().enumerate() {
                    prop_assert_eq!(j.get(i, c), x, "{} column {}", map.name(), c);
                }
            }
        }
    }
}

/// SAM (normalized, not polynomial): its Jacobian against a central difference at 256 bits.
#[test]
fn sam_jacobian_matches_finite_differences_at_256_bits() {
    let case = testing::draw(&st::problem(st::deep_linear(2..=2, 2..=2), Some(LossKind::Regression)), 17);
    let mp = Mp::new(256);
    let (m, p) = case.cast(&mp);
    let map = Method::Sam { eta: mp.from_f64_like(0.1), rho: mp.from_f64_like(0.05) };
    let j = step_jacobian(&m, &map, &p, &p).unwrap();
    let t = mp.from_f64_like(1e-25);
    let mut worst = 0.0f64;
    for c in 0..p.len() {
        let mut v = vec![mp.zero_like(); p.len()];
        v[c] = t.clone();
        let (mut a, mut b) = (p.clone(), p.clone());
        let mut e = p.zeros_like();
        e.set_from_slice(&v);
        a.axpy(&mp.one_like(), &e);
        b.axpy(&-mp.one_like(), &e);
        let (fa, fb) = (
            stability::apply_step(&m, &map, &a, &a).unwrap().flatten(),
            stability::apply_step(&m, &map, &b, &b).unwrap().flatten(),
        );
        for i in 0..p.len() {
            let fd = (fa[i].clone() - fb[i].clone()) / (t.clone() * mp.from_i64_like(2));
            worst = worst.max((fd - j.get(i, c).clone()).to_f64().abs());
        }
    }
    // Central difference: truncation O(t²·|F'''|) ≈ 1e-50·O(100), rounding 2^-256/t ≈ 1e-52; 1e-40
    // leaves a wide margin while a wrong Jacobian term (O(ρ) ≈ 1e-2) would be caught.
    assert!(worst < 1e-40, "worst {worst:e}");
    // Negative control: USAM's Jacobian is not SAM's.
    let usam =
        step_jacobian(&m, &Method::Usam { eta: mp.from_f64_like(0.1), rho: mp.from_f64_like(0.05) }, &p, &p).unwrap();
    let diff = j.sub(&usam).max_abs().unwrap().to_f64();
    assert!(diff > 1e-6, "SAM and USAM Jacobians coincide: {diff:e}");
}

/// A depth-1 regression is the quadratic L(W) = (1/2n)‖WX − Y‖²: its Hessian is
/// δ_ik Σxx_jl (+ λ δ), exactly, and GD's Jacobian is I − ηH.
#[test]
fn quadratic_hessian_and_gd_jacobian_closed_form() {
    let case = testing::draw(
        &st::with_weight_decay(st::problem(st::deep_linear(1..=1, 2..=3), Some(LossKind::Regression))),
        8,
    );
    let (m, p) = (&case.model, &case.p0);
    let Loss::Regression { sxx, .. } = &m.loss else { unreachable!() };
    let (rows, cols) = (p.blocks[0].rows(), p.blocks[0].cols());
    let lam = m.weight_decay.clone().unwrap_or_default();
    let n = rows * cols;
    let want = Mat::from_fn(n, n, |a, b| {
        let (i, j, k, l) = (a / cols, a % cols, b / cols, b % cols);
        let mut x = if i == k { sxx.get(j, l).clone() } else { Q::new() };
        if a == b {
            x += &lam;
        }
        x
    });
    assert_eq!(hessian(m, p), want);
    let eta = Q::from((2, 7));
    let jac = step_jacobian(m, &Method::Gd { eta: eta.clone() }, p, p).unwrap();
    assert_eq!(jac, Mat::eye(n, n, &Q::new()).sub(&want.scaled(&eta)));
}

/// GD's eigenvalues are 1 − ηh_i: on X = diag(3, 2, 1) (n = 3), h = (3, 4/3, 1/3); at 256 bits.
#[test]
fn gd_spectrum_is_one_minus_eta_h() {
    let mp = Mp::new(256);
    let x = Mat::from_fn(3, 3, |i, j| if i == j { mp.from_i64_like(3 - i as i64) } else { mp.zero_like() });
    let m =
        Model::new(Arch::deep_linear(&[3, 1]).unwrap(), Loss::regression(x, Mat::zeros(1, 3, &mp)).unwrap()).unwrap();
    let p = Params::new(vec![Mat::from_fn(1, 3, |_, j| mp.from_i64_like(j as i64 + 1))]);
    let eta = mp.ratio_like(1, 2);
    let r = stability::analyze(&m, &Method::Gd { eta: eta.clone() }, &p, &p, 0).unwrap();
    let mut got: Vec<f64> = r.eigenvalues.iter().map(|z| z.0).collect();
    got.sort_by(f64::total_cmp);
    // 1 − h/2 for h = 3, 4/3, 1/3.
    let want = [1.0 - 1.5, 1.0 - 2.0 / 3.0, 1.0 - 1.0 / 6.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{got:?}");
    }
    assert_eq!(r.gd_threshold.map(|t| (t - 2.0 / 3.0).abs() < 1e-15), Some(true));
    // The Hessian eigenvalues at 256 bits, to 2^-240: exact h (3, 4/3, 1/3).
    let h = symmetric_eigenvalues(&hessian(&m, &p)).unwrap();
    for (hi, w) in h.iter().zip([Q::from((1, 3)), Q::from((4, 3)), Q::from(3)]) {
        let d = (hi.clone() - mp.from_q_like(&w)).abs().to_f64();
        assert!(d < 2f64.powi(-240), "{d:e}");
    }
}

/// Heavy ball's companion blocks: roots of z² − (1+β−γh)z + β, complex exactly when the
/// discriminant (exact in rationals) is negative, then of modulus √β.
#[test]
fn companion_closed_form() {
    let mp = Mp::new(256);
    for (h, gamma, beta) in [((3, 1), (1, 10), (81, 100)), ((1, 3), (1, 2), (1, 4)), ((2, 1), (1, 100), (1, 2))] {
        let (h, gamma, beta) = (Q::from(h), Q::from(gamma), Q::from(beta));
        let disc = companion_discriminant(&h, &gamma, &beta);
        let want = (Q::from(1) + beta.clone() - gamma.clone() * h.clone()).square() - Q::from(4) * beta.clone();
        assert_eq!(disc, want);
        let (hm, gm, bm) = (mp.from_q_like(&h), mp.from_q_like(&gamma), mp.from_q_like(&beta));
        let tr = mp.one_like() + bm.clone() - gm.clone() * hm.clone();
        for z in companion_roots(&hm, &gm, &bm) {
            // z² − tr z + β = 0 in complex arithmetic at 256 bits.
            let re = z.re.clone() * z.re.clone() - z.im.clone() * z.im.clone() - tr.clone() * z.re.clone() + bm.clone();
            let im = z.re.clone() * z.im.clone() * mp.from_i64_like(2) - tr.clone() * z.im.clone();
            assert!(re.abs().to_f64() < 1e-70 && im.abs().to_f64() < 1e-70);
            let complex = disc < 0;
            assert_eq!(!z.im.is_zero(), complex);
            if complex {
                let m2 = z.re.clone() * z.re.clone() + z.im.clone() * z.im.clone();
                assert!((m2 - bm.clone()).abs().to_f64() < 1e-70);
            }
        }
    }
}

/// The full companion matrix of heavy ball on a deep network (f64, real Schur form) has the
/// eigenvalues of the 2×2 blocks built from the Hessian's eigenvalues (Jacobi).
#[test]
fn companion_matrix_spectrum_is_union_of_blocks() {
    let case = testing::draw(&st::problem(st::deep_linear(2..=2, 2..=2), Some(LossKind::Target)), 2);
    let (m, p) = case.cast(&0.0f64);
    let (gamma, beta) = (0.05, 0.6);
    let map = Method::HeavyBall { eta: gamma, beta };
    let full = eigenvalues(&step_jacobian(&m, &map, &p, &p).unwrap()).unwrap();
    let h = symmetric_eigenvalues(&hessian(&m, &p)).unwrap();
    let mut blocks: Vec<Complex<f64>> = h.iter().flat_map(|x| companion_roots(x, &gamma, &beta)).collect();
    let mut full = full;
    let key = |z: &Complex<f64>| (z.re * 1e6).round() as i64 * 1_000_000 + (z.im * 1e6).round() as i64;
    blocks.sort_by_key(key);
    full.sort_by_key(key);
    assert_eq!(full.len(), 2 * p.len());
    // A double root of a block is ill-conditioned (error ~ √ε); away from it both sides agree to
    // ~1e-12. The data are random, so require 1e-7.
    for (a, b) in full.iter().zip(&blocks) {
        assert!((a - b).norm() < 1e-7, "{full:?} vs {blocks:?}");
    }
}

/// Jacobi at 256 bits on the tridiagonal Toeplitz matrix tridiag(−1, 2, −1) of size n: eigenvalues
/// 2 − 2cos(kπ/(n+1)).
#[test]
fn jacobi_matches_toeplitz_closed_form() {
    let mp = Mp::new(256);
    let n = 6;
    let t = Mat::from_fn(n, n, |i, j| {
        mp.from_i64_like(if i == j {
            2
        } else if i.abs_diff(j) == 1 {
            -1
        } else {
            0
        })
    });
    let got = symmetric_eigenvalues(&t).unwrap();
    let pi = Mp::with_val(256, rug::float::Constant::Pi);
    for (k, g) in got.iter().enumerate() {
        let arg = pi.clone() * mp.from_i64_like(k as i64 + 1) / mp.from_i64_like(n as i64 + 1);
        let want = mp.from_i64_like(2) - mp.from_i64_like(2) * Mp::with_val(256, arg.cos_ref());
        // 256-bit rounding over ~10 Jacobi sweeps of 15 rotations: below 1e-70.
        assert!((g.clone() - want).abs().to_f64() < 1e-70);
    }
    // Negative control: nalgebra's f64 result agrees only to f64 precision.
    let f = symmetric_eigenvalues(&t.to_f64()).unwrap();
    assert!((f[0] - got[0].to_f64()).abs() < 1e-14);
}

/// Bad input is an error naming the field.
#[test]
fn bad_input_names_the_field() {
    assert!(stability::At::parse(&["every".into(), "0".into()]).unwrap_err().to_string().contains("`at`"));
    assert!(stability::At::parse(&["sometimes".into()]).unwrap_err().to_string().contains("`at`"));
    let e = eigenvalues(&Mat::from_vec(1, 2, vec![1.0, 2.0])).unwrap_err();
    assert!(e.to_string().contains("matrix"));
    let e = eigenvalues(&Mat::from_vec(1, 1, vec![f64::NAN])).unwrap_err();
    assert!(e.to_string().contains("matrix"));
}

/// The `stability` experiment: every check passes, and the measured GD threshold is 2/λ_max with
/// λ_max also computed here independently (nalgebra on XXᵀ/n of the same seeded data).
#[test]
fn stability_experiment_quick() {
    use linflow::experiments::stability::{checks, measure};
    let m = measure(true).unwrap();
    for c in checks(&m) {
        assert!(c.pass, "{} observed {} tol {}: {}", c.name, c.observed, c.tolerance, c.claim);
    }
    let x = data::gaussian(3, 6, 1.0, &mut data::rng(71)).to_na();
    let top = nalgebra::SymmetricEigen::new(&x * x.transpose() / 6.0).eigenvalues.max();
    // The experiment's own tolerance with its reason: rounding-limited bisection.
    assert!((m.gd_measured - 2.0 / top).abs() < 1e-8 * 2.0 / top);
    // Heavy ball's discrete threshold is 1/(1+√β)², not the flow's 1/4 (they differ by 10% at β = 0.81).
    assert!((m.hb_predicted - 1.0 / (1.0 + 0.9f64).powi(2)).abs() < 1e-12);
}

/// `linflow stability FILE` prints the table and JSON with the threshold 2/λ_max.
#[test]
fn cli_stability() {
    let dir = std::env::temp_dir().join(format!("linflow-stability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("quad.toml");
    // L(W) = ½‖W − Φ‖² on a depth-1 net: H = I, so λ_max = 1 and 2/λ_max = 2 exactly.
    std::fs::write(
        &file,
        "[model]\narch = \"deep_linear\"\nwidths = [2, 2]\n[loss]\nkind = \"target\"\ntarget = [[1, 0], [0, 1]]\n\
         [init]\nkind = \"identity\"\nscale = 0.5\n[method]\nkind = \"heavy_ball\"\neta = 0.5\nbeta = 0.25\n[run]\nsteps = 4\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linflow"))
        .args(["stability", file.to_str().unwrap(), "--at", "every", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pts = v.as_array().unwrap();
    assert_eq!(pts.iter().map(|p| p["step"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 2, 4]);
    assert_eq!(pts[0]["gd_threshold"].as_f64(), Some(2.0));
    // Companion roots for h = 1, γ = 1/2, β = 1/4: z² − (3/4)z + 1/4 has discriminant 9/16 − 1 < 0:
    // a complex pair of modulus 1/2 for each of the 4 modes.
    assert_eq!(pts[0]["momentum"]["complex_pairs"].as_u64(), Some(4));
    assert!((pts[0]["spectral_radius"].as_f64().unwrap() - 0.5).abs() < 1e-15);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_linflow"))
        .args(["stability", file.to_str().unwrap(), "--at", "whenever"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`at`"));
    let _ = std::fs::remove_dir_all(&dir);
}
