//! Seeded data generators.
//!
//! Every generator takes an explicit `seed` and draws from ChaCha8 with the ziggurat normal
//! sampler, so that the same seed gives bit-identical `f64` data on every machine. Data are
//! generated in `f64` and converted exactly to MPFR or rationals with [`Mat::cast`], so runs at
//! different precisions see the same problem.

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
