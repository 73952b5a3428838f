//! Matrix-completion library pieces against independent truths: the exact-k sampler (counts and
//! inclusion frequencies), the mean-squared-error reduction (finite differences and the defining
//! sum), the scaled low-rank ground truth, effective rank and Schatten quasi-norms (closed forms),
//! and the minimum nuclear norm completion (the 2×2 closed form of `proofs/matrix_completion.md`,
//! weak duality, and exact recovery of a rank-1 matrix from a full cross).

use linflow::completion::{effective_rank, min_nuclear_norm_completion, schatten, singular_values, NuclearOptions};
use linflow::model::Reduction;
use linflow::prelude::*;
use std::collections::HashSet;

#[test]
fn exact_k_sampler_draws_k_distinct_entries() {
    for (rows, cols, k) in [(7, 5, 0), (7, 5, 1), (7, 5, 17), (7, 5, 35), (100, 100, 2000)] {
        let pos = data::observe_exact(rows, cols, k, &mut data::rng(k as u64)).unwrap();
        assert_eq!(pos.len(), k);
        let set: HashSet<_> = pos.iter().copied().collect();
        assert_eq!(set.len(), k, "duplicates among {k} draws");
        assert!(pos.iter().all(|&(i, j)| i < rows && j < cols));
    }
    // k above the number of entries is an error naming the field, not a panic.
    let e = data::observe_exact(3, 3, 10, &mut data::rng(1)).unwrap_err().to_string();
    assert!(e.contains("observed"), "{e}");
    assert!(data::completion_exact(&Mat::zeros(2, 2, &0.0), 0, &mut data::rng(1)).is_err());
}

#[test]
fn exact_k_sampler_is_uniform_over_entries() {
    // Each entry of a 6x5 matrix is included with probability k/30 = 1/3. Over 6000 seeds the
    // count of one entry is Binomial(6000, 1/3): sd = sqrt(6000 * 2/9) = 36.5; 5 sd = 183 bounds
    // all 30 counts (the chance of any exceeding it is below 1e-5).
    let (rows, cols, k, seeds) = (6, 5, 10, 6000u64);
    let mut counts = vec![0usize; rows * cols];
    for s in 0..seeds {
        for (i, j) in data::observe_exact(rows, cols, k, &mut data::rng(s)).unwrap() {
            counts[i * cols + j] += 1;
        }
    }
    let expect = seeds as f64 * k as f64 / (rows * cols) as f64;
    let worst = counts.iter().map(|&c| (c as f64 - expect).abs()).fold(0.0, f64::max);
    assert!(worst < 183.0, "largest deviation {worst} from {expect}");
    // Negative control: a sampler biased to the first row would fail the same bound.
    let biased: Vec<f64> = (0..rows * cols).map(|e| if e < cols { 1.5 * expect } else { expect }).collect();
    assert!(biased.iter().any(|&c| (c - expect).abs() >= 183.0));
}

#[test]
fn low_rank_truth_has_the_rank_and_norm_asked() {
    let m = data::low_rank_with_norm(30, 20, 4, 100.0, &mut data::rng(3)).unwrap();
    // ||M||_F = sqrt(sum of entries squared) computed independently of the scaling.
    let fro = m.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((fro - 100.0).abs() < 1e-12 * 100.0, "{fro}");
    let s = singular_values(&m).unwrap();
    // Rank 4: the 5th singular value is round-off (eps * sigma_1 * sqrt(n) ~ 1e-13).
    assert!(s[3] > 1e-3 * s[0] && s[4] < 1e-12 * s[0], "{s:?}");
    assert!(data::low_rank_with_norm(3, 3, 4, 1.0, &mut data::rng(1)).is_err());
    assert!(data::low_rank_with_norm(3, 3, 1, f64::NAN, &mut data::rng(1)).is_err());
}

fn fd5(f: impl Fn(f64) -> f64, h: f64) -> f64 {
    (8.0 * (f(h) - f(-h)) - (f(2.0 * h) - f(-2.0 * h))) / (12.0 * h)
}

#[test]
fn mean_reduction_value_and_gradient() {
    let w_star = data::low_rank_with_norm(4, 3, 2, 4.0, &mut data::rng(11)).unwrap();
    let half = data::completion_exact(&w_star, 7, &mut data::rng(12)).unwrap();
    let mse = half.clone().with_reduction(Reduction::Mean).unwrap();
    assert_eq!(mse.reduction(), Some(Reduction::Mean));
    assert!(Loss::target(w_star.clone()).with_reduction(Reduction::Mean).is_err());
    let arch = Arch::deep_linear(&[3, 5, 2, 4]).unwrap();
    let p = init::gaussian(&arch, 0.8, &mut data::rng(13));
    let model = Model::new(arch, mse.clone()).unwrap();
    // The value is the mean squared error over the 7 observations, from its definition.
    let w = model.end_to_end(&p);
    let Loss::Completion { entries, .. } = &mse else { unreachable!() };
    let direct: f64 = entries.iter().map(|(i, j, m)| (w.get(*i, *j) - m).powi(2)).sum::<f64>() / 7.0;
    assert!((model.loss(&p) - direct).abs() <= 1e-15 * direct.max(1.0));
    // It is (2/m) times the default ½-sum (exactly: both are scalings of the same sum).
    let half_model = Model::new(arch_of(&model), half).unwrap();
    assert!((model.loss(&p) - half_model.loss(&p) * 2.0 / 7.0).abs() <= 1e-15 * direct.max(1.0));
    // The one gradient matches a five-point central difference in every coordinate. The loss is a
    // polynomial of degree 2 in each coordinate (multilinear product, quadratic loss), so the
    // stencil is exact and only round-off eps*|L|/h ~ 1e-14 remains: 1e-9 relative.
    let (_, g) = model.grad(&p);
    let gmax = g.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for i in 0..p.len() {
        let f = |h: f64| {
            let mut q = p.clone();
            *q.iter_mut().nth(i).unwrap() += h;
            model.loss(&q)
        };
        let fd = fd5(f, 1e-2);
        let an = *g.iter().nth(i).unwrap();
        assert!((fd - an).abs() <= 1e-9 * gmax, "coordinate {i}: fd {fd} vs {an}");
    }
    // Sensing with the mean reduction: same check on a depth-2 model.
    let sens = data::sensing(&w_star, 5, &mut data::rng(14)).with_reduction(Reduction::Mean).unwrap();
    let arch = Arch::deep_linear(&[3, 2, 4]).unwrap();
    let p = init::gaussian(&arch, 0.8, &mut data::rng(15));
    let model = Model::new(arch, sens).unwrap();
    let (_, g) = model.grad(&p);
    let gmax = g.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for i in 0..p.len() {
        let f = |h: f64| {
            let mut q = p.clone();
            *q.iter_mut().nth(i).unwrap() += h;
            model.loss(&q)
        };
        assert!((fd5(f, 1e-2) - g.iter().nth(i).unwrap()).abs() <= 1e-9 * gmax);
    }
}

fn arch_of(m: &Model<f64>) -> Arch {
    m.arch.clone()
}

#[test]
fn effective_rank_and_schatten_closed_forms() {
    // r equal singular values: entropy ln r, effective rank r.
    for r in 1..6 {
        let s = vec![2.5; r];
        assert!((effective_rank(&s).unwrap() - r as f64).abs() < 1e-13);
    }
    // Zeros do not count; two values a, b: exp(-p ln p - q ln q), p = a/(a+b).
    let (a, b) = (3.0f64, 1.0f64);
    let (p, q) = (a / (a + b), b / (a + b));
    let expect = (-(p * p.ln()) - q * q.ln()).exp();
    assert!((effective_rank(&[a, 0.0, b, 0.0]).unwrap() - expect).abs() < 1e-14);
    assert!(effective_rank(&[0.0, 0.0]).is_err());
    assert!(effective_rank(&[1.0, -1.0]).is_err());
    // Schatten: p = 2 is the Frobenius norm computed from the entries; p = 1 is the trace of a
    // positive semidefinite matrix; the 2x2 quasi-norm at p = 1/2 from sigma_1 sigma_2 = |det| and
    // sigma_1^2 + sigma_2^2 = ||X||_F^2.
    let x = Mat::from_fn(4, 3, |i, j| ((i * 3 + j) as f64 * 0.7).sin());
    let s = singular_values(&x).unwrap();
    let fro = x.as_slice().iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((schatten(&s, &2.0).unwrap() - fro).abs() < 1e-14 * fro);
    let psd = x.gram_t();
    let tr = psd.trace();
    assert!((schatten(&singular_values(&psd).unwrap(), &1.0).unwrap() - tr).abs() < 1e-13 * tr);
    let y = Mat::from_vec(2, 2, vec![2.0, -1.0, 0.5, 3.0]);
    let (f2, det) = (y.norm_sq(), 2.0f64 * 3.0 + 0.5);
    let disc = (f2 * f2 - 4.0 * det * det).sqrt();
    let (s1, s2) = (((f2 + disc) / 2.0).sqrt(), ((f2 - disc) / 2.0).sqrt());
    let half_norm = (s1.sqrt() + s2.sqrt()).powi(2);
    assert!((schatten(&singular_values(&y).unwrap(), &0.5).unwrap() - half_norm).abs() < 1e-13 * half_norm);
    assert!(schatten(&s, &0.0).is_err());
    // MPFR: effective rank of three equal values is 3 to 1e-70 at 256 bits.
    let three = vec![Mp::with_val(256, 7); 3];
    let e = effective_rank(&three).unwrap() - Mp::with_val(256, 3);
    assert!(e.abs().to_f64() < 1e-70);
}

/// The minimum nuclear norm completion of [[a, ?], [c, d]] (proofs/matrix_completion.md):
/// x* = clamp(ad/c, -|c|, |c|) for c != 0, and x* = 0 for c = 0.
fn two_by_two_minimizer(a: f64, c: f64, d: f64) -> f64 {
    if c == 0.0 {
        0.0
    } else {
        (a * d / c).clamp(-c.abs(), c.abs())
    }
}

/// A 12×10 rank-2 truth of Frobenius norm 10 (seed `seed`) and `k` of its entries, drawn
/// without replacement with seed `mask_seed`.
fn rank_two_instance(seed: u64, k: usize, mask_seed: u64) -> (linflow::mat::Mat<f64>, Vec<(usize, usize, f64)>) {
    let m = data::low_rank_with_norm(12, 10, 2, 10.0, &mut data::rng(seed)).unwrap();
    let Loss::Completion { entries, .. } = data::completion_exact(&m, k, &mut data::rng(mask_seed)).unwrap() else {
        unreachable!()
    };
    (m, entries)
}

fn nuclear_2x2(a: f64, b: f64, c: f64, d: f64) -> f64 {
    // sigma_1 + sigma_2 = sqrt(||X||_F^2 + 2 |det X|).
    (a * a + b * b + c * c + d * d + 2.0 * (a * d - b * c).abs()).sqrt()
}

#[test]
fn nuclear_completion_matches_the_two_by_two_closed_form() {
    let opts = NuclearOptions::default();
    // Both regimes: |ad| <= c^2 (rank-1 completion) and |ad| > c^2 (clamped), signs mixed, c = 0.
    let cases =
        [(1.0, 2.0, 1.5), (3.0, 1.0, 2.0), (-2.0, 0.5, 1.0), (1.0, -3.0, -4.0), (2.0, 0.0, -1.0), (0.3, 1.0, -0.2)];
    for (a, c, d) in cases {
        let entries = [(0, 0, a), (1, 0, c), (1, 1, d)];
        let sol = min_nuclear_norm_completion((2, 2), &entries, &opts).unwrap();
        assert!(sol.converged, "({a}, {c}, {d}): gap {:e} after {}", sol.rel_gap, sol.iterations);
        let xs = two_by_two_minimizer(a, c, d);
        let best = nuclear_2x2(a, xs, c, d);
        // The certified gap is <= 1e-9 relative; the norm is within it of the closed-form minimum.
        assert!((sol.nuclear_norm - best).abs() <= 2e-9 * best, "({a},{c},{d}): {} vs {best}", sol.nuclear_norm);
        assert!(sol.lower_bound <= best * (1.0 + 1e-12), "lower bound above the minimum");
        // The minimizer is unique (x^2 is strictly convex) and the objective grows at least like
        // (x - x*)^2 / (2 ||X||_*), so a 1e-9 relative gap places x within ~sqrt(2e-9)*||X||_*.
        let x01 = *sol.x.get(0, 1);
        assert!((x01 - xs).abs() <= 1e-4 * best, "({a},{c},{d}): x = {x01} vs {xs}");
        // Observed entries are exact.
        assert_eq!((*sol.x.get(0, 0), *sol.x.get(1, 0), *sol.x.get(1, 1)), (a, c, d));
    }
    // Negative control: the naive zero fill has a larger nuclear norm where x* != 0.
    let (a, c, d) = (1.0, 2.0, 1.5);
    assert!(nuclear_2x2(a, 0.0, c, d) > nuclear_2x2(a, two_by_two_minimizer(a, c, d), c, d) + 0.1);
}

#[test]
fn nuclear_completion_recovers_rank_one_from_a_cross_and_certifies_random_cases() {
    // A rank-1 matrix u v^T observed on row 0 and column 0: proofs/matrix_completion.md section 3
    // gives a dual certificate (||Lambda||_F^2 = 1.04 < 2) showing u v^T is the unique minimum.
    let u = [3.0, 0.5, -1.0, 0.8];
    let v = [3.0, -0.7, 0.2, 1.0, 0.4];
    let mut entries = Vec::new();
    for (j, vj) in v.iter().enumerate() {
        entries.push((0, j, u[0] * vj));
    }
    for (i, ui) in u.iter().enumerate().skip(1) {
        entries.push((i, 0, ui * v[0]));
    }
    let tight = NuclearOptions { tol: 1e-12, ..NuclearOptions::default() };
    let sol = min_nuclear_norm_completion((4, 5), &entries, &tight).unwrap();
    assert!(sol.converged, "gap {:e}", sol.rel_gap);
    // Near a unique minimum the norm grows at least quadratically, ~|dX|^2/||X||_*, so a relative
    // gap g bounds the entry error by about sqrt(g)*||X||_* = 1e-6 * 10.8: 1e-4 leaves margin.
    let err = (0..4)
        .flat_map(|i| (0..5).map(move |j| (i, j)))
        .map(|(i, j)| (sol.x.get(i, j) - u[i] * v[j]).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-4, "largest entry error {err}");
    // Weak duality on random instances: lower <= upper always, and the gap is certified.
    for seed in 0..3 {
        let (m, entries) = rank_two_instance(seed, 70, 100 + seed);
        let sol = min_nuclear_norm_completion((12, 10), &entries, &NuclearOptions::default()).unwrap();
        assert!(sol.converged && sol.lower_bound <= sol.nuclear_norm && sol.rel_gap <= 1e-9);
        // The truth is feasible, so its nuclear norm bounds the minimum from above.
        let truth = schatten(&singular_values(&m).unwrap(), &1.0).unwrap();
        assert!(sol.lower_bound <= truth * (1.0 + 1e-12));
    }
}

#[test]
fn the_dual_barrier_method_certifies_alone_and_matches_the_closed_forms() {
    // One Douglas-Rachford iteration cannot certify 1e-9, so every point below comes from the
    // barrier path (proofs/matrix_completion.md section 6) or the Newton polish it hands its
    // rank to, certified by the same duality gap.
    let barrier_only = NuclearOptions { max_iter: 1, check_every: 1, ..NuclearOptions::default() };
    for (a, c, d) in [(1.0, 2.0, 1.5), (3.0, 1.0, 2.0), (-2.0, 0.5, 1.0), (1.0, -3.0, -4.0), (0.3, 1.0, -0.2)] {
        let entries = [(0, 0, a), (1, 0, c), (1, 1, d)];
        let sol = min_nuclear_norm_completion((2, 2), &entries, &barrier_only).unwrap();
        let from_path = sol.method == "barrier" || sol.method == "polish";
        assert!(sol.converged && from_path, "({a},{c},{d}): {} gap {:e}", sol.method, sol.rel_gap);
        assert!(sol.barrier_steps > 0);
        let best = nuclear_2x2(a, two_by_two_minimizer(a, c, d), c, d);
        // Certified relative gap <= 1e-9 brackets the closed-form minimum.
        assert!((sol.nuclear_norm - best).abs() <= 2e-9 * best, "({a},{c},{d}): {} vs {best}", sol.nuclear_norm);
    }
    // Random rank-2 instances: the barrier's certified minimum agrees with Douglas-Rachford's
    // (both certified to 1e-9 relative, so they differ by at most 2e-9 relative).
    for seed in 0..3 {
        let (_, entries) = rank_two_instance(seed, 70, 100 + seed);
        let dr = min_nuclear_norm_completion((12, 10), &entries, &NuclearOptions::default()).unwrap();
        let ipm = min_nuclear_norm_completion((12, 10), &entries, &barrier_only).unwrap();
        assert!(dr.converged && dr.method == "douglas-rachford" && dr.barrier_steps == 0);
        assert!(ipm.converged && ipm.barrier_steps > 0, "seed {seed}: {} gap {:e}", ipm.method, ipm.rel_gap);
        assert!((dr.nuclear_norm - ipm.nuclear_norm).abs() <= 2e-9 * dr.nuclear_norm);
        // And it lies inside the bracket of Douglas-Rachford's single iterate (weak duality).
        let (lo, up) = ipm.douglas_rachford_bounds;
        assert!(lo <= ipm.nuclear_norm && ipm.lower_bound <= up);
    }
    // Sparser masks (60 of 120 entries) include nearly degenerate instances where 20 000
    // Douglas-Rachford iterations stop short of 1e-9; the default options then certify on the
    // barrier path, inside Douglas-Rachford's own bracket.
    let mut fell_back = 0;
    for seed in 0..3 {
        let (_, entries) = rank_two_instance(seed, 60, 200 + seed);
        let sol = min_nuclear_norm_completion((12, 10), &entries, &NuclearOptions::default()).unwrap();
        assert!(sol.converged, "seed {seed}: {} gap {:e}", sol.method, sol.rel_gap);
        let (lo, up) = sol.douglas_rachford_bounds;
        assert!(lo <= sol.nuclear_norm && sol.lower_bound <= up, "seed {seed}: outside [{lo}, {up}]");
        fell_back += usize::from(sol.barrier_steps > 0);
    }
    assert!(fell_back > 0, "no instance needed the barrier: the case above no longer exercises it");
    // Negative control: without the barrier the single iteration does not certify.
    let none = NuclearOptions { barrier_newton: 0, ..barrier_only };
    let sol = min_nuclear_norm_completion((2, 2), &[(0, 0, 1.0), (1, 0, 2.0), (1, 1, 1.5)], &none).unwrap();
    assert!(!sol.converged && sol.barrier_steps == 0);
}

#[test]
fn nuclear_completion_rejects_bad_input() {
    let o = NuclearOptions::default();
    let e =
        |r: linflow::error::Result<_>| r.map(|_: linflow::completion::NuclearCompletion| ()).unwrap_err().to_string();
    assert!(e(min_nuclear_norm_completion((2, 2), &[(2, 0, 1.0)], &o)).contains("entries"));
    assert!(e(min_nuclear_norm_completion((2, 2), &[(0, 0, f64::NAN)], &o)).contains("entries"));
    assert!(e(min_nuclear_norm_completion((2, 2), &[(0, 0, 1.0), (0, 0, 2.0)], &o)).contains("entries"));
    assert!(e(min_nuclear_norm_completion((0, 2), &[], &o)).contains("shape"));
    let bad = NuclearOptions { relax: 2.0, ..NuclearOptions::default() };
    assert!(e(min_nuclear_norm_completion((2, 2), &[(0, 0, 1.0)], &bad)).contains("relax"));
    // No observations: the zero matrix.
    let z = min_nuclear_norm_completion((3, 2), &[], &o).unwrap();
    assert_eq!(z.nuclear_norm, 0.0);
}

#[test]
fn dmf_completion_quick_reproduces_the_paper_and_matches_the_truth() {
    use linflow::experiments::dmf_completion::{checks, measure};
    let m = measure(true).unwrap();
    let cs = checks(&m);
    for c in &cs {
        println!("{} {}: {:.3e} (tol {:.1e})", if c.pass { "ok  " } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    assert!(!cs.is_empty() && cs.iter().all(|c| c.pass));
    // Independent truth: the ground truth M itself. At k = 5000 (5x the 975 degrees of freedom of a
    // 100x100 rank-5 matrix) the nuclear-norm minimizer recovers M exactly (Candes-Recht); the
    // solver's certified gap of 1e-9 relative leaves an error far below 1e-6 in mean square.
    let nuc = m.select(1, 5000, 0.0);
    assert!(
        !nuc.is_empty() && nuc.iter().all(|r| r.test_mse < 1e-6),
        "{:?}",
        nuc.iter().map(|r| r.test_mse).collect::<Vec<_>>()
    );
    // Depth 3 at k = 2000 recovers M: its five leading singular values are those of M (to 1%: a test
    // MSE <= 1e-3 is a Frobenius error <= 3.2 against singular values of tens, Weyl's inequality).
    let prob = linflow::experiments::dmf_completion::problem(&m.setting, 2000, 0).unwrap();
    let truth_sv = singular_values(&prob.truth).unwrap();
    let d3 = m.select(3, 2000, 1e-3);
    let d3 = d3.iter().find(|r| r.seed == 0).unwrap();
    for (r, (got, want)) in d3.top_singular_values.iter().zip(&truth_sv).take(5).enumerate() {
        assert!((got - want).abs() < 0.01 * want, "sigma_{r}: {got} vs {want}");
    }
}

#[test]
fn dmf_dynamics_quick_checks_and_the_linear_flow_width() {
    use linflow::experiments::dmf_dynamics::{checks, measure};
    let m = measure(true).unwrap();
    let cs = checks(&m);
    for c in &cs {
        println!("{} {}: {:.3e} (tol {:.1e})", if c.pass { "ok  " } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    assert!(cs.len() > 1 && cs.iter().all(|c| c.pass));
    // Independent truth: at depth 1 GD is linear, sigma_r(t) = (1 - q^k) sigma_r(P_Omega M) up to
    // the 1e-3 init, so every singular value crosses 10%, 50%, 90% of its final value at
    // k = ln(1-p)/ln q: relative width (ln 0.1 - ln 0.9)/ln 0.5 = 3.170. Records are linearly
    // interpolated on a grid of ~60 points, so 5% tolerance.
    let d1 = m.gd.iter().find(|t| t.depth == 1).unwrap();
    let closed = ((0.1f64).ln() - (0.9f64).ln()) / (0.5f64).ln();
    assert!((d1.mean_width() - closed).abs() < 0.05 * closed, "{} vs {closed}", d1.mean_width());
}

#[test]
fn sigma_dot_difference_quotient_converges_at_order_four() {
    use linflow::experiments::dmf_dynamics::{stencil_summaries, theorem_points};
    // Independent of the experiment's own spacing-2dt comparison: a second flow with half the
    // step and half the save spacing. The five-point stencil's error is -d^4 sigma^(5)/30 + O(d^6),
    // so halving d must divide the largest error (over the same time window) by 16; GL3's h^6
    // error is ~1e-13 of the rate scale here, far below the stencil's 1e-5, so it does not blur
    // the ratio. 16 within a factor 1.3 (order 4 +- 0.4).
    let coarse = theorem_points(3, 0.25, 1.0 / 128.0, 1.0 / 128.0).unwrap();
    let fine = theorem_points(3, 0.25, 1.0 / 256.0, 1.0 / 256.0).unwrap();
    // The same time window [4/128, 0.25 - 4/128] for both (the coarse stencil's reach).
    let worst = |pts: &[linflow::experiments::dmf_dynamics::TheoremPoint]| {
        pts.iter()
            .filter(|p| p.t >= 4.0 / 128.0 - 1e-12 && p.t <= 0.25 - 4.0 / 128.0 + 1e-12)
            .filter_map(|p| p.fd_error)
            .fold(0.0, f64::max)
    };
    let ratio = worst(&coarse) / worst(&fine);
    assert!((ratio.log2() - 4.0).abs() < 0.4, "error ratio {ratio} for halved spacing");
    // Relative to the flow's rate scale the fine error is below 1e-5 (1e-5/16 expected).
    let s = stencil_summaries(&fine);
    assert_eq!(s.len(), 1);
    assert!(s[0].relative < 1e-5 && s[0].points > 40, "{:?}", s[0]);
    // Negative control: the wrong exponent is not a discretization error and does not shrink.
    assert!(s[0].relative_wrong_depth > 1e-3, "{:?}", s[0]);
}

#[test]
fn nuclear_polish_agrees_with_the_closed_form_and_douglas_rachford() {
    // The Newton polish is certified by the same duality gap; with it on, the 2x2 minimum is still
    // the closed form of proofs/matrix_completion.md section 1 (to the 1e-9 certified gap), and on
    // random 12x10 rank-2 instances the certified minimum agrees with Douglas-Rachford's alone
    // (both within their 1e-9 gaps of the same minimum: 3e-9 relative).
    let polish = NuclearOptions { polish_after: Some(20), ..NuclearOptions::default() };
    for (a, c, d) in [(1.0, 2.0, 1.5), (3.0, 1.0, 2.0), (-2.0, 0.5, 1.0)] {
        let sol = min_nuclear_norm_completion((2, 2), &[(0, 0, a), (1, 0, c), (1, 1, d)], &polish).unwrap();
        let best = nuclear_2x2(a, two_by_two_minimizer(a, c, d), c, d);
        assert!(sol.converged && (sol.nuclear_norm - best).abs() <= 2e-9 * best, "({a},{c},{d})");
    }
    for seed in 0..3 {
        let (_, entries) = rank_two_instance(seed, 70, 100 + seed);
        let plain = min_nuclear_norm_completion((12, 10), &entries, &NuclearOptions::default()).unwrap();
        let pol = min_nuclear_norm_completion((12, 10), &entries, &polish).unwrap();
        assert!(pol.converged && pol.lower_bound <= pol.nuclear_norm);
        assert!((pol.nuclear_norm - plain.nuclear_norm).abs() <= 3e-9 * plain.nuclear_norm);
        println!(
            "seed {seed}: DR {} iterations; with polish {} + {} Newton steps",
            plain.iterations, pol.iterations, pol.polish_steps
        );
    }
}
