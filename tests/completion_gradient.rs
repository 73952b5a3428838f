//! The gradient of a deep linear network under a sparsely observed completion loss (the sparse
//! residual path of `model/sparse.rs`) against the textbook dense formula, exactly in rationals,
//! and the `f64` thin and small products it and the flows rely on against exact rational
//! products.

use linflow::model::Reduction;
use linflow::prelude::*;

/// A small integer-valued matrix (deterministic), as rationals.
fn int_mat(r: usize, c: usize, seed: usize) -> Mat<Q> {
    Mat::from_fn(r, c, |i, j| Q::from((((i * 7 + j * 3 + seed * 5) % 11) as i64 - 5, 1 + (seed % 3) as i64)))
}

/// The textbook gradient of $c\sum_{(i,j)\in\Omega}(W_{ij} - M_{ij})^2$ with $W = W_N\cdots W_1$:
/// the dense residual $R = 2c\,P_\Omega(W - M)$ and $G_j = (W_N\cdots W_{j+1})^\top R\,(W_{j-1}\cdots W_1)^\top$.
fn dense_formula(ws: &[Mat<Q>], entries: &[(usize, usize, Q)], c: &Q) -> (Q, Vec<Mat<Q>>) {
    let n = ws.len();
    let prod = |from: usize, to: usize, rows: usize| -> Mat<Q> {
        // W_to ⋯ W_from (1-based, inclusive); the identity of size `rows` when empty.
        let mut p = Mat::eye(rows, rows, &Q::new());
        for w in &ws[from - 1..to] {
            p = w.matmul(&p);
        }
        p
    };
    let w = prod(1, n, ws[0].cols());
    let mut r = Mat::zeros(w.rows(), w.cols(), &Q::new());
    let mut value = Q::new();
    for (i, j, m) in entries {
        let d = Q::from(w.get(*i, *j) - m);
        value += Q::from(&d * &d);
        *r.get_mut(*i, *j) += Q::from(&d * c) * Q::from(2);
    }
    let grads = (1..=n)
        .map(|j| {
            let left = prod(j + 1, n, ws[j - 1].rows());
            let right = prod(1, j - 1, ws[0].cols());
            left.prod(true, &r, false).matmul(&right.t())
        })
        .collect();
    (value * c.clone(), grads)
}

#[test]
fn sparse_completion_gradient_equals_the_dense_formula_exactly() {
    // Depths 2, 3, 4 with rectangular layers; about 10-20% of the entries observed, so the
    // workspace takes the sparse path (at most a quarter observed). Exact rationals: any
    // difference in the value or in any gradient entry is a real error, not rounding.
    for (widths, k) in [(vec![6, 4, 5], 4), (vec![7, 5, 6, 8], 6), (vec![5, 3, 4, 6, 5], 4), (vec![9, 9, 9, 9], 12)] {
        let n = widths.len() - 1;
        let ws: Vec<Mat<Q>> = (0..n).map(|j| int_mat(widths[j + 1], widths[j], j + 1)).collect();
        let (rows, cols) = (widths[n], widths[0]);
        let truth = int_mat(rows, cols, 9);
        // Deterministic spread of observed entries, one repeated (repeats count twice in both).
        let mut entries: Vec<(usize, usize, Q)> = (0..k)
            .map(|t| ((t * 5 + 1) % rows, (t * 3 + 2) % cols))
            .map(|(i, j)| (i, j, truth.get(i, j).clone()))
            .collect();
        entries.push(entries[0].clone());
        for red in [Reduction::Mean, Reduction::HalfSum, Reduction::HalfMean] {
            let loss = Loss::completion((rows, cols), entries.clone()).unwrap().with_reduction(red).unwrap();
            let model = Model::new(Arch::deep_linear(&widths).unwrap(), loss).unwrap();
            let p = Params::new(ws.clone());
            assert!(model.workspace(&Q::new()).sparse_residual(), "widths {widths:?}");
            let (v, g) = model.grad(&p);
            let c = match red {
                Reduction::Mean => Q::from((1, entries.len() as i64)),
                Reduction::HalfSum => Q::from((1, 2)),
                Reduction::HalfMean => Q::from((1, 2 * entries.len() as i64)),
            };
            let (v_ref, g_ref) = dense_formula(&ws, &entries, &c);
            assert_eq!(v, v_ref, "value, widths {widths:?}, {red:?}");
            assert_eq!(v, model.loss(&p), "value vs the loss, widths {widths:?}");
            for (j, (a, b)) in g.blocks.iter().zip(&g_ref).enumerate() {
                assert_eq!(a, b, "G_{}, widths {widths:?}, {red:?}", j + 1);
            }
            // Negative control: dropping one observation changes the gradient.
            let (_, g_wrong) = dense_formula(&ws, &entries[1..], &c);
            assert_ne!(g.blocks, g_wrong);
        }
        // With every entry observed the dense path is taken (and agrees as well).
        let all: Vec<(usize, usize, Q)> =
            (0..rows * cols).map(|f| (f / cols, f % cols, truth.get(f / cols, f % cols).clone())).collect();
        let loss = Loss::completion((rows, cols), all.clone()).unwrap().with_reduction(Reduction::Mean).unwrap();
        let model = Model::new(Arch::deep_linear(&widths).unwrap(), loss).unwrap();
        assert!(!model.workspace(&Q::new()).sparse_residual());
        let (v, g) = model.grad(&Params::new(ws.clone()));
        let (v_ref, g_ref) = dense_formula(&ws, &all, &Q::from((1, all.len() as i64)));
        assert_eq!((v, g.blocks), (v_ref, g_ref));
        // A mini-batch of the observations: the same formula on those entries alone.
        let loss = Loss::completion((rows, cols), entries.clone()).unwrap().with_reduction(Reduction::Mean).unwrap();
        let model = Model::new(Arch::deep_linear(&widths).unwrap(), loss).unwrap();
        let p = Params::new(ws.clone());
        let batch = [1usize, 3, 0];
        let mut wsp = model.workspace(&Q::new());
        let mut g = p.zeros_like();
        let v = model.grad_into(&mut wsp, &p, Some(&batch), &mut g);
        let sub: Vec<_> = batch.iter().map(|&t| entries[t].clone()).collect();
        let (v_ref, g_ref) = dense_formula(&ws, &sub, &Q::from((1, 3)));
        assert_eq!(v, v_ref);
        assert_eq!(g.blocks, g_ref);
    }
}

#[test]
fn f64_sparse_gradient_agrees_with_rationals_to_rounding() {
    // The same network in f64 (the entries are small dyadic-free rationals rounded once) against
    // the exact gradient of the rounded inputs: agreement to 1e-13 relative (products of three
    // 9x9 layers with O(10) entries sum about 10^3 terms, each rounded at 1.1e-16).
    let widths = [9usize, 9, 9, 9];
    let ws: Vec<Mat<Q>> = (0..3).map(|j| int_mat(9, 9, j + 1)).collect();
    let wsf: Vec<Mat<f64>> = ws.iter().map(|w| w.to_f64()).collect();
    let wsq: Vec<Mat<Q>> = wsf.iter().map(|w| w.map(|x| Q::from_f64(*x).unwrap())).collect();
    let truth = int_mat(9, 9, 4).to_f64();
    let entries: Vec<(usize, usize, f64)> =
        (0..15).map(|t| ((t * 4 + 1) % 9, (t * 2 + 5) % 9)).map(|(i, j)| (i, j, *truth.get(i, j))).collect();
    let lf = Loss::completion((9, 9), entries.clone()).unwrap().with_reduction(Reduction::Mean).unwrap();
    let mf = Model::new(Arch::deep_linear(&widths).unwrap(), lf).unwrap();
    let (_, gf) = mf.grad(&Params::new(wsf));
    let eq: Vec<(usize, usize, Q)> = entries.iter().map(|(i, j, m)| (*i, *j, Q::from_f64(*m).unwrap())).collect();
    let (_, gq) = dense_formula(&wsq, &eq, &Q::from((1, eq.len() as i64)));
    for (a, b) in gf.blocks.iter().zip(&gq) {
        let scale = b.to_f64().max_abs().unwrap().max(1.0);
        for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((x - y.to_f64()).abs() <= 1e-13 * scale, "{x} vs {}", y.to_f64());
        }
    }
}

#[test]
fn thin_f64_products_equal_exact_products() {
    // Matrix–vector, vector–matrix, dot, outer and small products (side <= 12, and one just
    // above it through the blocked kernel) in every transpose layout, on
    // integer-valued data whose products and sums are integers below 2^53: every summation order
    // gives the exact result, so the f64 kernel must equal the rational product exactly.
    let shapes = [
        (1, 7, 5),
        (1, 9, 1),
        (6, 9, 1),
        (5, 1, 7),
        (1, 1, 1),
        (1, 13, 3),
        (1, 40, 200),
        (200, 40, 1),
        (8, 8, 8),
        (3, 4, 2),
        (16, 5, 16),
        (16, 16, 16),
        (17, 9, 3),
    ];
    for (m, k, n) in shapes {
        let a = Mat::from_fn(m, k, |i, l| (((i * 7 + l * 5) % 13) as f64) - 6.0);
        let b = Mat::from_fn(k, n, |l, j| (((l * 3 + j * 11) % 17) as f64) - 8.0);
        let want = a.map(|x| Q::from_f64(*x).unwrap()).matmul(&b.map(|x| Q::from_f64(*x).unwrap())).to_f64();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let aa = if ta { a.t() } else { a.clone() };
            let bb = if tb { b.t() } else { b.clone() };
            let mut c = Mat::from_fn(m, n, |_, _| 3.0);
            Mat::gemm_into(&aa, ta, &bb, tb, false, &mut c);
            assert_eq!(c, want, "{m}x{k}x{n} ta {ta} tb {tb}");
            // Accumulating adds the product once more.
            Mat::gemm_into(&aa, ta, &bb, tb, true, &mut c);
            assert_eq!(c, want.scaled(&2.0), "accumulate {m}x{k}x{n} ta {ta} tb {tb}");
        }
    }
}
