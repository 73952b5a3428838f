//! Counting conservation laws exactly: the polynomial type and brackets against hand computations,
//! the Lie dimension against closed-form counts and against an unpruned bracket enumeration, the
//! two-point rule against a special point, the experiment, and the `laws` command.

use linflow::conservation::lie::{gradient_rank_at, lie_dimension_at};
use linflow::conservation::maps::{balancedness, generators, parameter_count, variable_names};
use linflow::conservation::poly::{Poly, PolyField};
use linflow::conservation::rank::rank;
use linflow::conservation::search::conserved_forms;
use linflow::conservation::{count_laws, count_laws_at, random_point, CountOptions};
use linflow::model::Arch;
use linflow::scalar::Q;
use rug::ops::Pow;

fn x(v: usize) -> Poly {
    Poly::var(v)
}
fn c(n: i64) -> Poly {
    Poly::constant(Q::from(n))
}
fn q(n: i64, d: i64) -> Q {
    Q::from((n, d))
}
fn deep(w: &[usize]) -> Arch {
    Arch::deep_linear(w).unwrap()
}
fn count(a: &Arch) -> linflow::conservation::LawCount {
    count_laws(a, &CountOptions::default()).unwrap()
}

#[test]
fn polynomial_arithmetic_matches_hand_expansion() {
    // (x0 + 2 x1)^2 = x0^2 + 4 x0 x1 + 4 x1^2.
    let p = x(0).add(&x(1).scale(&Q::from(2)));
    let sq = p.mul(&p);
    let hand = x(0).mul(&x(0)).add(&x(0).mul(&x(1)).scale(&Q::from(4))).add(&x(1).mul(&x(1)).scale(&Q::from(4)));
    assert_eq!(sq, hand);
    assert_eq!(sq.len(), 3);
    // ∂/∂x1 = 4 x0 + 8 x1.
    assert_eq!(sq.deriv(1), x(0).scale(&Q::from(4)).add(&x(1).scale(&Q::from(8))));
    // At (1/2, -1/3): (1/2 - 2/3)^2 = 1/36.
    assert_eq!(sq.eval(&[q(1, 2), q(-1, 3)]), q(1, 36));
    // p − p = 0 and a zero coefficient is not stored.
    assert!(p.sub(&p).is_zero());
    assert_eq!(sq.degree(), 2);
    assert_eq!(sq.to_string_with(&["a".into(), "b".into()]), "4*a*b + a^2 + 4*b^2");
}

#[test]
fn bracket_of_hand_computed_fields() {
    // X = y ∂x, Y = x ∂y: [X, Y] = (DY)X − (DX)Y = (0, y) − (x, 0) = (−x, y).
    let xf = PolyField::new(vec![x(1), Poly::zero()]);
    let yf = PolyField::new(vec![Poly::zero(), x(0)]);
    assert_eq!(xf.bracket(&yf), PolyField::new(vec![x(0).scale(&Q::from(-1)), x(1)]));
    // X = (x², xy), Y = (y, 1): DY·X = (xy, 0), DX·Y = (2xy, y² + x), so [X, Y] = (−xy, −y² − x).
    let xf = PolyField::new(vec![x(0).mul(&x(0)), x(0).mul(&x(1))]);
    let yf = PolyField::new(vec![x(1), c(1)]);
    let want =
        PolyField::new(vec![x(0).mul(&x(1)).scale(&Q::from(-1)), x(1).mul(&x(1)).add(&x(0)).scale(&Q::from(-1))]);
    assert_eq!(xf.bracket(&yf), want);
    // Antisymmetry: [Y, X] = −[X, Y].
    let neg = PolyField::new(want.comps.iter().map(|p| p.scale(&Q::from(-1))).collect());
    assert_eq!(yf.bracket(&xf), neg);
    // The value of the bracket at a point from Jacobians agrees with evaluating the symbolic bracket.
    let pt = [q(3, 7), q(-5, 2)];
    let (jx, jy) = (xf.jacobian_at(&pt), yf.jacobian_at(&pt));
    let a = linflow::conservation::poly::jac_times(&jy, &xf.eval(&pt));
    let b = linflow::conservation::poly::jac_times(&jx, &yf.eval(&pt));
    let v: Vec<Q> = a.into_iter().zip(b).map(|(a, b)| a - b).collect();
    assert_eq!(v, want.eval(&pt));
}

#[test]
fn brackets_satisfy_the_jacobi_identity() {
    // [X,[Y,Z]] + [Y,[Z,X]] + [Z,[X,Y]] = 0 for polynomial fields in three variables.
    let f = |a: Poly, b: Poly, cc: Poly| PolyField::new(vec![a, b, cc]);
    let xf = f(x(1).mul(&x(2)), x(0).mul(&x(0)), c(3));
    let yf = f(x(2), x(0).mul(&x(1)).scale(&q(1, 2)), x(1).mul(&x(1)).sub(&x(0)));
    let zf = f(x(0).mul(&x(1)).mul(&x(2)), c(-2), x(2).mul(&x(2)));
    let s1 = xf.bracket(&yf.bracket(&zf));
    let s2 = yf.bracket(&zf.bracket(&xf));
    let s3 = zf.bracket(&xf.bracket(&yf));
    for k in 0..3 {
        assert!(s1.comps[k].add(&s2.comps[k]).add(&s3.comps[k]).is_zero(), "component {k}");
    }
    // Negative control: dropping one term breaks it.
    assert!((0..3).any(|k| !s1.comps[k].add(&s2.comps[k]).is_zero()));
}

#[test]
fn exact_rank_matches_constructed_ranks() {
    let r1: Vec<Q> = [1, 2, 3, 4].iter().map(|&n| Q::from(n)).collect();
    let r2: Vec<Q> = [q(1, 3), q(0, 1), q(-7, 5), q(2, 9)].to_vec();
    let r3: Vec<Q> = r1.iter().zip(&r2).map(|(a, b)| Q::from(a * q(2, 3)) - Q::from(b * q(5, 1))).collect();
    assert_eq!(rank(&[r1.clone(), r2.clone(), r3.clone()], 4), 2);
    // Perturbing one entry of the combination by 1/10^30 makes it independent.
    let mut r4 = r3.clone();
    r4[2] += Q::from((1, rug::Integer::from(10).pow(30u32)));
    assert_eq!(rank(&[r1.clone(), r2.clone(), r4], 4), 3);
    // A 5×5 Vandermonde matrix on distinct rationals has full rank.
    let nodes = [q(1, 2), q(-1, 3), q(2, 1), q(5, 7), q(-3, 4)];
    let v: Vec<Vec<Q>> = nodes.iter().map(|t| (0..5).map(|k| Q::from(t.clone().pow(k as u32))).collect()).collect();
    assert_eq!(rank(&v, 5), 5);
}

#[test]
fn one_one_one_net_has_one_law_a2_minus_b2() {
    // θ = (a, b), φ = ab: ∇φ = (b, a), Lie dim 1, laws 1, which is a² − b² up to scale.
    let a = deep(&[1, 1, 1]);
    let cnt = count(&a);
    assert_eq!((cnt.parameters, cnt.lie_dimension, cnt.laws, cnt.balancedness_laws), (2, 1, 1, 1));
    let forms = conserved_forms(&generators(&a), 2, 2, 100).unwrap();
    assert_eq!(forms.len(), 1);
    let h = &forms[0];
    let want = x(0).mul(&x(0)).sub(&x(1).mul(&x(1)));
    // h is a rational multiple of a² − b²: h·coef(a²) equals coef·want.
    let (_, lead) = h.terms().next().unwrap();
    let normalized = h.scale(&Q::from(lead.recip_ref()));
    assert_eq!(normalized, want);
    assert_eq!(normalized.to_string_with(&variable_names(&a)), "W1[0,0]^2 - W2[0,0]^2");
    // Negative control: ab is not conserved (∇φ(ab) = a² + b²).
    assert!(!x(0).mul(&x(1)).along(&generators(&a)[0]).is_zero());
}

#[test]
fn diagonal_networks_have_d_laws() {
    for d in 1..=4 {
        for a in [Arch::DiagonalUV { d }, Arch::DiagonalSq { d }] {
            let cnt = count(&a);
            // Each coordinate pair (u_i, v_i) moves on a curve: d laws, all balancedness entries.
            assert_eq!((cnt.parameters, cnt.laws, cnt.balancedness_laws), (2 * d, d, d), "{}", a.name());
        }
    }
}

#[test]
fn two_layer_nets_have_r_r_plus_1_over_2_laws() {
    // φ = W2 W1 with hidden width r and n + m ≥ r: the entries of C_1 are complete, r(r+1)/2 laws.
    for w in [[2, 2, 2], [2, 3, 2], [3, 2, 4], [4, 1, 3], [2, 4, 3], [3, 3, 3]] {
        let cnt = count(&deep(&w));
        let r = w[1];
        assert_eq!(cnt.laws, r * (r + 1) / 2, "{w:?}: {cnt:?}");
        assert_eq!(cnt.balancedness_laws, cnt.laws, "{w:?}");
    }
    // The two-factor problem XYᵀ is the same model with blocks transposed.
    let cnt = count(&Arch::Factor { d1: 3, d2: 2, r: 2 });
    assert_eq!((cnt.laws, cnt.balancedness_laws), (3, 3));
}

#[test]
fn scalar_output_nets_have_d_minus_one_laws() {
    // A scalar φ: W_φ is one line, [∇φ, ∇φ] = 0, so dim Lie = 1 and there are D − 1 laws,
    // more than the independent balancedness entries when the hidden layers are wide.
    let cnt = count(&deep(&[1, 3, 1]));
    assert_eq!((cnt.parameters, cnt.lie_dimension, cnt.laws), (6, 1, 5));
    assert_eq!(cnt.balancedness_entries, 6);
    assert!(cnt.balancedness_laws <= cnt.laws);
    let cnt = count(&deep(&[1, 2, 2, 1]));
    assert_eq!((cnt.parameters, cnt.lie_dimension, cnt.laws), (8, 1, 7));
    assert!(cnt.balancedness_laws < cnt.laws, "{cnt:?}");
}

/// Every left-normed bracket of the generators of length ≤ `levels`, formed symbolically without
/// any pruning, and the rank of their values at `pt`.
fn brute_force_rank(gens: &[PolyField], pt: &[Q], levels: usize) -> usize {
    let mut all: Vec<PolyField> = gens.to_vec();
    let mut last: Vec<PolyField> = gens.to_vec();
    for _ in 1..levels {
        let mut next = Vec::new();
        for g in gens {
            for y in &last {
                next.push(g.bracket(y));
            }
        }
        all.extend(next.iter().cloned());
        last = next;
    }
    rank(&all.iter().map(|f| f.eval(pt)).collect::<Vec<_>>(), pt.len())
}

#[test]
fn pruned_algorithm_agrees_with_unpruned_brackets() {
    let mut rng = linflow::data::rng(5);
    for a in [
        deep(&[2, 2, 2]),
        deep(&[2, 1, 2]),
        deep(&[1, 2, 2, 1]),
        deep(&[2, 2, 1, 2]),
        Arch::Factor { d1: 2, d2: 1, r: 2 },
    ] {
        let d = parameter_count(&a);
        let pt = random_point(d, 20, &mut rng);
        let gens = generators(&a);
        let fast = lie_dimension_at(&gens, &pt);
        // Three levels of every bracket: the pruned run needs at most that many here.
        assert!(fast.rank_by_level.len() <= 4, "{}: {:?}", a.name(), fast.rank_by_level);
        assert_eq!(fast.dimension(), brute_force_rank(&gens, &pt, 3), "{}", a.name());
    }
}

#[test]
fn special_point_undercounts_and_two_points_recover() {
    // At θ = 0 every ∇φ_i of a depth-2 net vanishes: rank 0, so a one-point count claims D laws.
    let a = deep(&[2, 3, 2]);
    let d = parameter_count(&a);
    let zero = vec![Q::new(); d];
    let at_zero = count_laws_at(&a, std::slice::from_ref(&zero)).unwrap();
    assert_eq!((at_zero.lie_dimension, at_zero.laws), (0, d));
    // The balancedness gradients vanish at 0 too.
    assert_eq!(gradient_rank_at(&balancedness(&a), &zero), 0);
    // With a second, random point the maximum is the generic value.
    let pt = random_point(d, 64, &mut linflow::data::rng(9));
    let both = count_laws_at(&a, &[zero, pt]).unwrap();
    assert_eq!(both.dimension_at_points[0], 0);
    assert_eq!((both.lie_dimension, both.laws, both.balancedness_laws), (6, 6, 6));
    // A point on a special set with non-zero coordinates: W1 = 0 but W2 ≠ 0 also lowers the rank.
    let mut partial = random_point(d, 64, &mut linflow::data::rng(10));
    for v in partial.iter_mut().take(6) {
        *v = Q::new();
    }
    let one = count_laws_at(&a, std::slice::from_ref(&partial)).unwrap();
    assert!(one.lie_dimension < 6, "{one:?}");
}

#[test]
fn bad_input_is_an_error_naming_the_field() {
    let a = deep(&[2, 2, 2]);
    let e = count_laws_at(&a, &[vec![Q::new(); 3]]).unwrap_err().to_string();
    assert!(e.contains("point"), "{e}");
    let e = count_laws(&a, &CountOptions { points: 0, ..CountOptions::default() }).unwrap_err().to_string();
    assert!(e.contains("points"), "{e}");
    // Too large: refused before computing, naming the model.
    let big = deep(&[30, 30, 30, 30]);
    let e = count_laws(&big, &CountOptions::default()).unwrap_err().to_string();
    assert!(e.contains("model") && e.contains("D = 2700"), "{e}");
}

#[test]
fn experiment_checks_pass_in_quick_mode() {
    use linflow::experiments::conservation_laws::{checks, measure};
    let m = measure(true).unwrap();
    let cs = checks(&m);
    assert!(cs.iter().all(|c| c.pass), "{cs:#?}");
    // Independently: in 2-6-2, C_1 (6×6) has rank ≤ n + m = 4, and the symmetric 6×6 matrices of
    // rank ≤ 4 form a set of dimension 4·6 − 4·3/2 = 18 (not 6·7/2 = 21); 1-2-2-1 has D − 1 = 7.
    let find = |w: &[usize]| m.outside.iter().find(|r| r.arch == deep(w)).unwrap().count.clone();
    assert_eq!(find(&[2, 6, 2]).laws, 18);
    assert_eq!(find(&[1, 2, 2, 1]).laws, 7);
    // Every random architecture was counted with D = Σ d_j d_{j+1}.
    for r in &m.random {
        let Arch::DeepLinear { widths } = &r.arch else { panic!() };
        assert_eq!(r.count.parameters, widths.windows(2).map(|w| w[0] * w[1]).sum::<usize>());
    }
}

#[test]
fn laws_command_prints_json_and_text() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("linflow-laws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("net.toml");
    let spec = |w: &str| {
        format!(
            "[model]\narch = \"deep_linear\"\nwidths = {w}\n\n[loss]\nkind = \"regression\"\nseed = 3\nsamples = 10\n\
             truth = \"gaussian\"\n\n[init]\nkind = \"gaussian\"\nscale = 0.5\nseed = 1\n\n[method]\nkind = \"gd\"\neta = \
             \"1/10\"\n\n[run]\nsteps = 5\n"
        )
    };
    std::fs::write(&file, spec("[1, 2, 2, 1]")).unwrap();
    let bin = env!("CARGO_BIN_EXE_linflow");
    let out = Command::new(bin).args(["laws", file.to_str().unwrap(), "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4);
    for k in ["parameters", "lie_dimension", "laws", "balancedness_laws"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["parameters"], 8);
    assert_eq!(v["laws"], 7);
    assert_eq!(v["laws"].as_u64().unwrap() + v["lie_dimension"].as_u64().unwrap(), 8);
    let out = Command::new(bin).args(["laws", file.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("differ"), "{text}");
    // Too large: exit 2 with a message.
    std::fs::write(&file, spec("[30, 30, 30, 1]")).unwrap();
    let out = Command::new(bin).args(["laws", file.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("estimated") && err.contains("D = 1830"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
