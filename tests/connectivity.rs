//! Mask connectivity, exact single-entry completion, and the `connectivity` experiment.
//!
//! Truths used: masks whose components are known by construction (block-diagonal patterns,
//! diagonals, isolated rows), determinants expanded by hand, and for the experiment the
//! ground truth $UV^\top$ entry and the determinant of the learned matrix.

use linflow::completion::connectivity::{classify, Component, Connectivity, MaskGraph};
use linflow::completion::exact::{cofactor, determinant, rank_lowering_entry};
use linflow::experiments::connectivity;
use linflow::prelude::*;
use proptest::prelude::*;

fn q(v: i64) -> Q {
    Q::from(v)
}

#[test]
fn full_mask_is_one_complete_component() {
    let mask: Vec<_> = (0..3).flat_map(|i| (0..5).map(move |j| (i, j))).collect();
    let g = MaskGraph::new((3, 5), &mask).unwrap();
    assert_eq!(g.connectivity(), Connectivity::Connected);
    assert_eq!(g.components, vec![Component { rows: vec![0, 1, 2], cols: vec![0, 1, 2, 3, 4], observed: 15 }]);
    assert!(g.all_complete_bipartite());
}

#[test]
fn diagonal_mask_has_one_component_per_index() {
    let g = MaskGraph::new((4, 4), &[(0, 0), (1, 1), (2, 2), (3, 3)]).unwrap();
    assert_eq!(g.connectivity(), Connectivity::Disconnected { components: 4 });
    for (k, c) in g.components.iter().enumerate() {
        assert_eq!((c.rows.clone(), c.cols.clone(), c.observed), (vec![k], vec![k], 1));
    }
    assert!(g.all_complete_bipartite());
}

#[test]
fn one_missing_entry_is_connected_and_not_complete() {
    let mask: Vec<_> = (0..4).flat_map(|i| (0..4).map(move |j| (i, j))).filter(|&p| p != (0, 0)).collect();
    let g = MaskGraph::new((4, 4), &mask).unwrap();
    assert_eq!(g.connectivity(), Connectivity::Connected);
    assert_eq!(g.components[0].observed, 15);
    assert!(!g.all_complete_bipartite());
}

#[test]
fn staircase_is_connected_but_block_pattern_is_not() {
    // (0,0)-(0,1)-(1,1)-(1,2)-(2,2): a path through all rows and columns.
    assert_eq!(classify((3, 3), &[(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)]).unwrap(), Connectivity::Connected);
    // The paper's disconnected 3x3 pattern: block {0,1}x{0,1} and (2,2).
    let g = MaskGraph::new((3, 3), &[(0, 0), (0, 1), (1, 0), (1, 1), (2, 2)]).unwrap();
    assert_eq!(g.connectivity(), Connectivity::Disconnected { components: 2 });
    assert_eq!(g.components[0], Component { rows: vec![0, 1], cols: vec![0, 1], observed: 4 });
    assert_eq!(g.components[1], Component { rows: vec![2], cols: vec![2], observed: 1 });
    assert!(g.all_complete_bipartite());
    // Drop one entry of the block: still two components, the first no longer complete.
    let h = MaskGraph::new((3, 3), &[(0, 0), (0, 1), (1, 1), (2, 2)]).unwrap();
    assert_eq!(h.components.len(), 2);
    assert!(!h.all_complete_bipartite());
}

#[test]
fn unobserved_row_and_column_are_isolated_components() {
    // Row 2 and column 3 never observed; rows 0,1 and columns 0..2 connected through (0,0),(0,1),(1,1),(1,2).
    let g = MaskGraph::new((3, 4), &[(0, 0), (0, 1), (1, 1), (1, 2), (1, 2)]).unwrap();
    assert_eq!(g.connectivity(), Connectivity::Disconnected { components: 3 });
    assert_eq!(g.components[0], Component { rows: vec![0, 1], cols: vec![0, 1, 2], observed: 4 });
    assert!(g.components.contains(&Component { rows: vec![2], cols: vec![], observed: 0 }));
    assert!(g.components.contains(&Component { rows: vec![], cols: vec![3], observed: 0 }));
    assert!(!g.components[1].is_complete_bipartite());
}

#[test]
fn bad_masks_are_errors_naming_the_field() {
    let e = MaskGraph::new((2, 2), &[(0, 0), (2, 1)]).unwrap_err().to_string();
    assert!(e.contains("mask entry") && e.contains("(2, 1)"), "{e}");
    let e = MaskGraph::new((0, 3), &[]).unwrap_err().to_string();
    assert!(e.contains("shape"), "{e}");
    let e = MaskGraph::of_loss(&Loss::target(Mat::eye(2, 2, &0.0))).unwrap_err().to_string();
    assert!(e.contains("loss"), "{e}");
    let loss = Loss::completion((2, 3), vec![(0, 0, 1.0), (1, 2, 2.0)]).unwrap();
    assert_eq!(MaskGraph::of_loss(&loss).unwrap().components.len(), 3);
}

/// A mask made of `sizes.len()` diagonal blocks, each connected by construction (a staircase
/// through its rows and columns plus extra random entries inside the block), then permuted.
fn block_mask(
    sizes: &[(usize, usize)],
    extra: &[u8],
    rperm: &[usize],
    cperm: &[usize],
) -> ((usize, usize), Vec<(usize, usize)>) {
    let (m, n) = sizes.iter().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1));
    let mut mask = Vec::new();
    let (mut r0, mut c0) = (0, 0);
    for (b, &(h, w)) in sizes.iter().enumerate() {
        // Staircase (i, j) with i + j stepping by one: touches every row and column of the block.
        let (mut i, mut j) = (0, 0);
        mask.push((r0, c0));
        while i + 1 < h || j + 1 < w {
            if (i + j) % 2 == 0 && j + 1 < w || i + 1 >= h {
                j += 1;
            } else {
                i += 1;
            }
            mask.push((r0 + i, c0 + j));
        }
        let e = extra[b % extra.len()] as usize;
        mask.push((r0 + e % h, c0 + (e / 3) % w));
        r0 += h;
        c0 += w;
    }
    let permuted = mask.iter().map(|&(i, j)| (rperm[i % m], cperm[j % n])).collect();
    ((m, n), permuted)
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut data::rng(seed));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn block_diagonal_masks_have_one_component_per_block(
        sizes in prop::collection::vec((1usize..4, 1usize..4), 1..5),
        extra in prop::collection::vec(0u8..9, 1..4),
        seed in 0u64..1000,
    ) {
        let (m, n) = sizes.iter().fold((0, 0), |a, s| (a.0 + s.0, a.1 + s.1));
        let (shape, mask) = block_mask(&sizes, &extra, &shuffled(m, seed), &shuffled(n, seed + 1));
        let g = MaskGraph::new(shape, &mask).unwrap();
        prop_assert_eq!(g.components.len(), sizes.len());
        let mut got: Vec<(usize, usize)> = g.components.iter().map(|c| (c.rows.len(), c.cols.len())).collect();
        let mut want = sizes.clone();
        got.sort_unstable();
        want.sort_unstable();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn component_structure_is_invariant_under_row_and_column_permutations(
        rows in 1usize..6, cols in 1usize..6, bits in prop::collection::vec(any::<bool>(), 36), seed in 0u64..1000,
    ) {
        let mask: Vec<(usize, usize)> =
            (0..rows).flat_map(|i| (0..cols).map(move |j| (i, j))).filter(|&(i, j)| bits[i * 6 + j]).collect();
        let (rp, cp) = (shuffled(rows, seed), shuffled(cols, seed + 7));
        let permuted: Vec<(usize, usize)> = mask.iter().map(|&(i, j)| (rp[i], cp[j])).collect();
        let (a, b) = (MaskGraph::new((rows, cols), &mask).unwrap(), MaskGraph::new((rows, cols), &permuted).unwrap());
        prop_assert_eq!(a.components.len(), b.components.len());
        let sig = |g: &MaskGraph| {
            let mut s: Vec<_> = g.components.iter().map(|c| (c.rows.len(), c.cols.len(), c.observed)).collect();
            s.sort_unstable();
            s
        };
        prop_assert_eq!(sig(&a), sig(&b));
        // Each permuted component is the image of an original one.
        for c in &a.components {
            let img = Component {
                rows: { let mut r: Vec<_> = c.rows.iter().map(|&i| rp[i]).collect(); r.sort_unstable(); r },
                cols: { let mut r: Vec<_> = c.cols.iter().map(|&j| cp[j]).collect(); r.sort_unstable(); r },
                observed: c.observed,
            };
            prop_assert!(b.components.contains(&img));
        }
    }
}

#[test]
fn rank_lowering_entry_matches_hand_expansions() {
    // [[x, 2], [3, 4]]: det = 4x - 6, so x* = 3/2.
    let m = Mat::from_vec(2, 2, vec![q(0), q(2), q(3), q(4)]);
    assert_eq!(rank_lowering_entry(&m, (0, 0)).unwrap(), Q::from((3, 2)));
    // [[1, 2, 3], [4, 5, 6], [7, 8, x]]: det = -3x + 27 (expansion along row 2): x* = 9, and 9 is
    // the entry of the rank-2 matrix with rows in arithmetic progression.
    let m = Mat::from_vec(3, 3, [1, 2, 3, 4, 5, 6, 7, 8, 100].iter().map(|&v| q(v)).collect());
    assert_eq!(cofactor(&m, (2, 2)).unwrap(), q(-3));
    assert_eq!(rank_lowering_entry(&m, (2, 2)).unwrap(), q(9));
    let mut filled = m.clone();
    *filled.get_mut(2, 2) = q(9);
    assert_eq!(determinant(&filled).unwrap(), q(0));
    // Negative control: a zero cofactor is a precondition error, not a division by zero.
    let z = Mat::from_vec(2, 2, vec![q(1), q(1), q(1), q(0)]);
    assert!(rank_lowering_entry(&z, (0, 0)).unwrap_err().to_string().contains("cofactor"));
    assert!(determinant(&Mat::from_vec(2, 3, vec![q(1); 6])).is_err());
}

#[test]
fn connectivity_experiment_quick() {
    let m = connectivity::measure(true).unwrap();
    let checks = connectivity::checks(&m);
    for c in &checks {
        println!("{} {}: {} (tol {})", if c.pass { "ok  " } else { "FAIL" }, c.name, c.observed, c.tolerance);
    }
    let c = &m.connected;
    assert!(checks.iter().all(|c| c.pass));
    // Independent truth 1: the ground truth U V^T has entry (0,0) = 8 (U_0 = (-2,2,-2), V_0 = (0,2,-2)).
    assert_eq!(c.x_star, 8.0);
    assert_eq!(*c.truth.get(0, 0), 8.0);
    // Independent truth 2: the learned matrix at the smallest variance is singular: its determinant
    // relative to the product of its singular values' scale is at round-off level.
    let last = c.learned.len() - 1;
    let mut w = c.truth.clone();
    *w.get_mut(0, 0) = c.learned[last];
    let det = w.to_na().determinant();
    let s1: f64 = w.to_na().singular_values().max();
    assert!(det.abs() / s1.powi(4) < 1e-8, "det {det}");
    // The nuclear-norm minimizer really has a smaller nuclear norm (convexity, independent SVD).
    assert!(c.nuclear_at.1 < c.nuclear_at.0 - 1e-6);
    // Disconnected: the minimum nuclear norm is ||B_1||_F + |b_2| = 5 + 3 for u = (1,2,3), v = (2,1,1).
    assert!((m.disconnected.min_nuclear - 8.0).abs() < 1e-12);
    assert_eq!(connectivity::figures(&m).len(), 5);
}
