//! Seeded data generators.
//!
//! Every generator takes an explicit `seed` and draws from ChaCha8 with the ziggurat normal
//! sampler, so that the same seed gives bit-identical `f64` data on every machine. Data are
//! generated in `f64` and converted exactly to MPFR or rationals with [`Mat::cast`], so runs at
//! different precisions see the same problem.

use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::Loss;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The random source of all generators.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `rows×cols` with i.i.d. `N(0, scale²)` entries.
pub fn gaussian(rows: usize, cols: usize, scale: f64, rng: &mut ChaCha8Rng) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| scale * rng.sample::<f64, _>(StandardNormal))
}

/// A rank-`r` `rows×cols` matrix `U Vᵀ / √r` with Gaussian factors.
pub fn low_rank(rows: usize, cols: usize, r: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let u = gaussian(rows, r, 1.0, rng);
    let v = gaussian(cols, r, 1.0, rng);
    u.prod(false, &v, true).scaled(&(1.0 / (r.max(1) as f64).sqrt()))
}

/// A rank-`r` `rows×cols` matrix `U Vᵀ` with Gaussian factors, rescaled to Frobenius norm `fro`
/// (the ground truth of Arora, Cohen, Hu and Luo 2019: `100×100`, rank 5, norm 100, so that the
/// mean squared entry is 1). Errors if `r` is zero or above `min(rows, cols)`, or `fro` is not
/// finite and positive.
pub fn low_rank_with_norm(rows: usize, cols: usize, r: usize, fro: f64, rng: &mut ChaCha8Rng) -> Result<Mat<f64>> {
    if r == 0 || r > rows.min(cols) {
        return Err(Error::invalid("rank", format!("must be in 1..={}, got {r}", rows.min(cols))));
    }
    if !(fro.is_finite() && fro > 0.0) {
        return Err(Error::invalid("fro", format!("Frobenius norm must be finite and > 0, got {fro}")));
    }
    let u = gaussian(rows, r, 1.0, rng);
    let v = gaussian(cols, r, 1.0, rng);
    let m = u.prod(false, &v, true);
    let scale = fro / m.norm_sq().sqrt();
    Ok(m.scaled(&scale))
}

/// `k` distinct positions of a `rows×cols` matrix, drawn uniformly without replacement (every
/// `k`-subset equally likely), in row-major order. Errors if `k` exceeds `rows·cols`.
pub fn observe_exact(rows: usize, cols: usize, k: usize, rng: &mut ChaCha8Rng) -> Result<Vec<(usize, usize)>> {
    let n = rows * cols;
    if k > n {
        return Err(Error::invalid("observed", format!("cannot draw {k} distinct entries of a {rows}x{cols} matrix")));
    }
    let mut flat = rand::seq::index::sample(rng, n, k).into_vec();
    flat.sort_unstable();
    Ok(flat.into_iter().map(|f| (f / cols, f % cols)).collect())
}

/// Matrix completion with exactly `k` entries of `W*` observed, drawn uniformly without
/// replacement ([`observe_exact`]); the loss has the default reduction. Errors if `k` is zero or
/// exceeds the number of entries.
pub fn completion_exact(w_star: &Mat<f64>, k: usize, rng: &mut ChaCha8Rng) -> Result<Loss<f64>> {
    if k == 0 {
        return Err(Error::invalid("observed", "matrix completion needs at least one observed entry"));
    }
    let (r, c) = w_star.shape();
    let entries = observe_exact(r, c, k, rng)?.into_iter().map(|(i, j)| (i, j, *w_star.get(i, j))).collect();
    Loss::completion((r, c), entries)
}

/// An `s`-sparse `1×d` row with `N(0,1)` entries on a random support.
pub fn sparse_row(d: usize, s: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut m = Mat::zeros(1, d, &0.0);
    let support = rand::seq::index::sample(rng, d, s.min(d));
    for i in support.iter() {
        *m.get_mut(0, i) = rng.sample(StandardNormal);
    }
    m
}

/// Noisy linear regression: `X ~ N(0,1)` (`d_in×n`), `Y = W*·X + noise·N(0,1)` with `W*` given.
pub fn regression(w_star: &Mat<f64>, n: usize, noise: f64, rng: &mut ChaCha8Rng) -> (Mat<f64>, Mat<f64>) {
    let x = gaussian(w_star.cols(), n, 1.0, rng);
    let mut y = w_star.matmul(&x);
    if noise != 0.0 {
        y = y.add(&gaussian(y.rows(), n, noise, rng));
    }
    (x, y)
}

/// Gaussian sensing: `m` matrices `A_i` with `N(0, 1)` entries and `y_i = ⟨A_i, W*⟩`.
pub fn sensing(w_star: &Mat<f64>, m: usize, rng: &mut ChaCha8Rng) -> Loss<f64> {
    let (r, c) = w_star.shape();
    let a: Vec<_> = (0..m).map(|_| gaussian(r, c, 1.0, rng)).collect();
    let y = a.iter().map(|ai| ai.dot(w_star)).collect();
    Loss::sensing(a, y).expect("generated sensing data are consistent")
}

/// Matrix completion: each entry of `W*` observed independently with probability `p` (at least
/// one entry is always observed).
pub fn completion(w_star: &Mat<f64>, p: f64, rng: &mut ChaCha8Rng) -> Loss<f64> {
    let (r, c) = w_star.shape();
    let mut entries = Vec::new();
    for i in 0..r {
        for j in 0..c {
            if rng.random::<f64>() < p {
                entries.push((i, j, *w_star.get(i, j)));
            }
        }
    }
    if entries.is_empty() {
        entries.push((0, 0, *w_star.get(0, 0)));
    }
    Loss::completion((r, c), entries).expect("generated indices are in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bits() {
        let a = gaussian(3, 4, 1.0, &mut rng(7));
        let b = gaussian(3, 4, 1.0, &mut rng(7));
        assert_eq!(
            a.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.as_slice().iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_ne!(a, gaussian(3, 4, 1.0, &mut rng(8)));
    }
}
