//! The minimum nuclear norm completion
//! $$\min_X \|X\|_* \quad\text{subject to}\quad X_{ij} = M_{ij},\ (i,j)\in\Omega,$$
//! by Douglas–Rachford splitting of $\|\cdot\|_*$ (whose proximal map is singular-value
//! thresholding) and the indicator of the affine set $\mathcal A = \{X : X_\Omega = M_\Omega\}$:
//! $$X_k = P_{\mathcal A}(Z_k),\quad Y_k = \operatorname{SVT}_\gamma(2X_k - Z_k),\quad
//! Z_{k+1} = Z_k + \rho\,(Y_k - X_k).$$
//!
//! Convergence is certified by a duality gap, not by the size of the last step. $X_k$ is exactly
//! feasible, so $\|X_k\|_*$ bounds the minimum from above. $\Lambda_k = (X_k - Z_k)/\gamma$ is
//! supported on $\Omega$ (because $P_{\mathcal A}$ only changes entries in $\Omega$), and for any
//! such $\Lambda \ne 0$ and any feasible $X$,
//! $\langle\Lambda, M_\Omega\rangle = \langle\Lambda, X\rangle \le \|\Lambda\|_2\|X\|_*$, so
//! $\langle\Lambda_k, M_\Omega\rangle/\|\Lambda_k\|_2$ bounds the minimum from below. At the
//! fixed point $\Lambda \in \partial\|X^\star\|_*$ and the bounds meet. The solver stops when
//! (upper − lower)/upper ≤ `tol`. Derivation: `proofs/matrix_completion.md`.

use super::polish;
use crate::error::{Error, Result};
use crate::mat::Mat;
use nalgebra::DMatrix;

/// Options of [`min_nuclear_norm_completion`].
#[derive(Clone, Debug)]
pub struct NuclearOptions {
    /// Stop when the relative duality gap is at most this (> 0).
    pub tol: f64,
    /// At most this many iterations.
    pub max_iter: usize,
    /// Threshold γ > 0 of the singular-value thresholding; `None`: the largest singular value of
    /// the zero-filled observations divided by 5 (scales with the data, so the iteration count is
    /// scale-free).
    pub gamma: Option<f64>,
    /// Relaxation ρ ∈ (0, 2) (1 is plain Douglas–Rachford).
    pub relax: f64,
    /// Evaluate the duality gap every this many iterations (each evaluation costs two SVDs).
    pub check_every: usize,
    /// Newton polish on the rank identified by Douglas–Rachford ([`super::polish`]) after this
    /// many iterations and then after every doubling (200, 400, 800, …); `None` (the default):
    /// never. The polished point is certified by the same duality gap and kept only if its gap is
    /// smaller. On the 100×100 rank-5 instances of `dmf-completion` (seed 0) it certifies to
    /// round-off after 800 iterations from 1000 entries (Douglas–Rachford alone: 2170 to 1e-9)
    /// and after 200 from 2000 (alone: 1000); from 500 entries (a rank-17 minimizer) it does not
    /// yet reach a smaller gap than Douglas–Rachford's.
    pub polish_after: Option<usize>,
}

impl Default for NuclearOptions {
    fn default() -> Self {
        NuclearOptions { tol: 1e-9, max_iter: 20_000, gamma: None, relax: 1.0, check_every: 10, polish_after: None }
    }
}

/// The result of [`min_nuclear_norm_completion`].
#[derive(Clone, Debug)]
pub struct NuclearCompletion {
    /// The completion (its observed entries equal the data exactly).
    pub x: Mat<f64>,
    /// $\|X\|_*$, an upper bound on the minimum.
    pub nuclear_norm: f64,
    /// The dual certificate's value, a lower bound on the minimum.
    pub lower_bound: f64,
    /// (upper − lower)/upper.
    pub rel_gap: f64,
    /// Douglas–Rachford iterations done.
    pub iterations: usize,
    /// Levenberg–Marquardt steps of the Newton polish, over all attempts.
    pub polish_steps: usize,
    /// Rank of the last polish attempt (0: none).
    pub polish_rank: usize,
    /// Whether `rel_gap <= tol` was reached (otherwise the iteration cap stopped it).
    pub converged: bool,
}

/// `U max(Σ − γ, 0) Vᵀ`, with its balanced factors `U√(Σ−γ)` and `V√(Σ−γ)` (the kept singular
/// values only).
fn svt(y: &Mat<f64>, gamma: f64) -> (Mat<f64>, DMatrix<f64>, DMatrix<f64>) {
    let svd = y.to_na().svd(true, true);
    let (u, vt) = (svd.u.expect("requested"), svd.v_t.expect("requested"));
    let keep: Vec<usize> = (0..svd.singular_values.len()).filter(|&i| svd.singular_values[i] > gamma).collect();
    let root = |k: usize| (svd.singular_values[keep[k]] - gamma).sqrt();
    let l = DMatrix::from_fn(y.rows(), keep.len(), |i, k| u[(i, keep[k])] * root(k));
    let r = DMatrix::from_fn(y.cols(), keep.len(), |j, k| vt[(keep[k], j)] * root(k));
    let mut out = Mat::zeros(y.rows(), y.cols(), &0.0);
    if !keep.is_empty() {
        out = Mat::from_na(&(&l * r.transpose()));
    }
    (out, l, r)
}

fn nuclear_and_spectral(x: &Mat<f64>) -> (f64, f64) {
    let s = x.to_na().singular_values();
    (s.iter().sum(), s.iter().fold(0.0, |m: f64, v| m.max(*v)))
}

/// The minimum nuclear norm completion of a `shape.0 × shape.1` matrix with the observed
/// `entries` `(i, j, M_ij)`, to relative duality gap `opts.tol` (see the module docs).
///
/// Errors (naming the field) on an empty shape, an index out of range, a non-finite value, the
/// same position observed twice with different values, or invalid options. With no observations
/// the minimum is the zero matrix. A run that reaches `opts.max_iter` returns its certified
/// bounds with `converged = false`.
pub fn min_nuclear_norm_completion(
    shape: (usize, usize),
    entries: &[(usize, usize, f64)],
    opts: &NuclearOptions,
) -> Result<NuclearCompletion> {
    let (r, c) = shape;
    if r == 0 || c == 0 {
        return Err(Error::invalid("shape", format!("must be non-empty, got {r}x{c}")));
    }
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(Error::invalid("tol", format!("must be finite and > 0, got {}", opts.tol)));
    }
    if !(opts.relax > 0.0 && opts.relax < 2.0) {
        return Err(Error::invalid("relax", format!("must be in (0, 2), got {}", opts.relax)));
    }
    if opts.check_every == 0 || opts.max_iter == 0 {
        return Err(Error::invalid("check_every, max_iter", "must be at least 1"));
    }
    if let Some(g) = opts.gamma {
        if !(g.is_finite() && g > 0.0) {
            return Err(Error::invalid("gamma", format!("must be finite and > 0, got {g}")));
        }
    }
    let mut observed = Mat::zeros(r, c, &0.0);
    let mut mask = vec![false; r * c];
    for (k, &(i, j, v)) in entries.iter().enumerate() {
        if i >= r || j >= c {
            return Err(Error::invalid("entries", format!("entry {k} at ({i}, {j}) is outside {r}x{c}")));
        }
        if !v.is_finite() {
            return Err(Error::invalid("entries", format!("entry {k} at ({i}, {j}) is not finite")));
        }
        if mask[i * c + j] && *observed.get(i, j) != v {
            return Err(Error::invalid("entries", format!("({i}, {j}) is observed twice with different values")));
        }
        mask[i * c + j] = true;
        *observed.get_mut(i, j) = v;
    }
    let zero = || NuclearCompletion {
        x: Mat::zeros(r, c, &0.0),
        nuclear_norm: 0.0,
        lower_bound: 0.0,
        rel_gap: 0.0,
        iterations: 0,
        converged: true,
        polish_steps: 0,
        polish_rank: 0,
    };
    let (_, top) = nuclear_and_spectral(&observed);
    if top == 0.0 {
        // Every observation is zero (or there are none): X = 0 is feasible and has norm 0.
        return Ok(zero());
    }
    let gamma = opts.gamma.unwrap_or(top / 5.0);
    let project = |z: &Mat<f64>| -> Mat<f64> {
        let mut x = z.clone();
        for (xi, (&m, &o)) in x.as_mut_slice().iter_mut().zip(mask.iter().zip(observed.as_slice())) {
            if m {
                *xi = o;
            }
        }
        x
    };
    let mut z = observed.clone();
    let mut best: Option<NuclearCompletion> = None;
    let mut polish_steps = 0;
    let mut next_polish = opts.polish_after;
    let mut polish_rank = 0;
    let mut record = |x: Mat<f64>, lambda: &Mat<f64>, it: usize, polish: (usize, usize)| -> bool {
        let c = certify(x, lambda, &observed);
        let done = c.rel_gap <= opts.tol;
        if best.as_ref().is_none_or(|b| c.rel_gap < b.rel_gap) {
            let (polish_steps, polish_rank) = polish;
            best = Some(NuclearCompletion { iterations: it, converged: done, polish_steps, polish_rank, ..c });
        }
        done
    };
    for it in 1..=opts.max_iter {
        let x = project(&z);
        let mut refl = x.scaled(&2.0);
        refl.axpy(&-1.0, &z);
        let (y, yl, yr) = svt(&refl, gamma);
        if it % opts.check_every == 0 || it == opts.max_iter {
            let lambda = x.sub(&z).scaled(&(1.0 / gamma));
            if record(x.clone(), &lambda, it, (polish_steps, polish_rank)) {
                break;
            }
        }
        if next_polish == Some(it) && yl.ncols() > 0 {
            next_polish = Some(2 * it);
            let rank = yl.ncols();
            // A minimizer of rank `rank` has a dual certificate with `rank` unit singular values,
            // rank (rank + 1) / 2 conditions on the k multipliers (Pataki's bound); a larger
            // rank is not identified yet.
            if rank * (rank + 1) / 2 <= entries.len() {
                let lam0: Vec<f64> = entries.iter().map(|&(i, j, _)| (x.get(i, j) - z.get(i, j)) / gamma).collect();
                // Stop at a residual of 1e-14 of the data: round-off of the O(n r) sums in F.
                let p = polish::polish(shape, entries, &yl, &yr, &lam0, 12, 1e-14);
                polish_steps += p.steps;
                polish_rank = rank;
                let xp = project(&Mat::from_na(&(&p.l * p.r.transpose())));
                let mut lambda = Mat::zeros(r, c, &0.0);
                for (&(i, j, _), l) in entries.iter().zip(&p.lambda) {
                    *lambda.get_mut(i, j) = *l;
                }
                if record(xp, &lambda, it, (polish_steps, polish_rank)) {
                    break;
                }
            }
        }
        let mut step = y;
        step.axpy(&-1.0, &x);
        z.axpy(&opts.relax, &step);
    }
    // The last iteration always evaluates the gap, so `best` is set.
    best.ok_or_else(|| Error::Other("nuclear-norm solver evaluated no duality gap".into()))
}

/// The duality-gap certificate of a completion `x` (feasible: its observed entries equal the
/// data) and a dual point `lambda` supported on the observed positions: upper bound $\|X\|_*$,
/// lower bound $\langle\Lambda, M_\Omega\rangle/\|\Lambda\|_2$.
fn certify(x: Mat<f64>, lambda: &Mat<f64>, observed: &Mat<f64>) -> NuclearCompletion {
    let (upper, _) = nuclear_and_spectral(&x);
    let (_, lam2) = nuclear_and_spectral(lambda);
    let lower = if lam2 > 0.0 { lambda.dot(observed) / lam2 } else { 0.0 };
    NuclearCompletion {
        x,
        nuclear_norm: upper,
        lower_bound: lower,
        rel_gap: (upper - lower) / upper,
        iterations: 0,
        converged: false,
        polish_steps: 0,
        polish_rank: 0,
    }
}
