//! Newton polish of the minimum nuclear norm completion on an identified rank.
//!
//! With $X = LR^\top$ ($L$: `rows × r`, $R$: `cols × r`), $\|X\|_* = \min \tfrac12(\|L\|_F^2 +
//! \|R\|_F^2)$ over such factorizations, so for $r \ge \operatorname{rank} X^\star$ the minimum nuclear
//! norm completion solves
//! $$\min_{L,R}\ \tfrac12\bigl(\|L\|_F^2 + \|R\|_F^2\bigr)\quad\text{s.t.}\quad (LR^\top)_{ij} = M_{ij},\ (i,j)\in\Omega.$$
//! Its KKT conditions, with multipliers $\lambda_{ij}$ collected in $\Lambda$ (supported on $\Omega$),
//! are the square system
//! $$L = \Lambda R,\qquad R = \Lambda^\top L,\qquad P_\Omega(LR^\top) = P_\Omega M,$$
//! whose Jacobian is the (symmetric) KKT matrix of the Lagrangian. It is singular along the
//! rotations $L \mapsto LQ$, $R \mapsto RQ$, so the step is Levenberg–Marquardt's,
//! $(J^2 + \mu I)\,\delta = -JF$ with $\mu = \|F\|$, which converges quadratically under the local
//! error bound that such constant-rank degeneracy satisfies (Yamashita and Fukushima, 2001). The
//! system has $(m + n)r + k$ unknowns (about 4000 for a 100×100 minimizer of rank 17 from 500
//! entries), so the step is solved by conjugate gradients with Jacobian-vector products, never
//! forming $J$.
//!
//! Douglas–Rachford ([`super::nuclear`]) identifies the rank and supplies the starting point (its
//! thresholded iterate and its multipliers); the polish then drives the KKT residual to round-off
//! in a few steps. Nothing here is trusted: the caller certifies the result with the same duality
//! gap as Douglas–Rachford's iterates (a feasible completion and a dual point supported on $\Omega$,
//! both evaluated by SVD). A wrong rank gives a stationary point whose multipliers have spectral
//! norm above one, and the gap exposes it. Derivation: `proofs/matrix_completion.md`, section 5.

use nalgebra::{DMatrix, DVector};

/// A KKT point found by [`polish`]: factors and multipliers.
pub(crate) struct Polished {
    /// `rows × r`.
    pub l: DMatrix<f64>,
    /// `cols × r`.
    pub r: DMatrix<f64>,
    /// One multiplier per observed entry, in the order of the entries.
    pub lambda: Vec<f64>,
    /// Levenberg–Marquardt steps taken.
    pub steps: usize,
}

struct Kkt<'a> {
    rows: usize,
    cols: usize,
    rank: usize,
    entries: &'a [(usize, usize, f64)],
}

impl Kkt<'_> {
    fn len(&self) -> usize {
        (self.rows + self.cols) * self.rank + self.entries.len()
    }

    fn l_at(&self, i: usize, a: usize) -> usize {
        i * self.rank + a
    }

    fn r_at(&self, j: usize, a: usize) -> usize {
        (self.rows + j) * self.rank + a
    }

    fn lam_at(&self, e: usize) -> usize {
        (self.rows + self.cols) * self.rank + e
    }

    /// $F = (L - \Lambda R,\ R - \Lambda^\top L,\ P_\Omega M - P_\Omega(LR^\top))$.
    fn residual(&self, z: &DVector<f64>) -> DVector<f64> {
        let mut f = DVector::zeros(self.len());
        for i in 0..self.rows {
            for a in 0..self.rank {
                f[self.l_at(i, a)] = z[self.l_at(i, a)];
            }
        }
        for j in 0..self.cols {
            for a in 0..self.rank {
                f[self.r_at(j, a)] = z[self.r_at(j, a)];
            }
        }
        for (e, &(i, j, m)) in self.entries.iter().enumerate() {
            let lam = z[self.lam_at(e)];
            let mut x = 0.0;
            for a in 0..self.rank {
                let (li, rj) = (z[self.l_at(i, a)], z[self.r_at(j, a)]);
                f[self.l_at(i, a)] -= lam * rj;
                f[self.r_at(j, a)] -= lam * li;
                x += li * rj;
            }
            f[self.lam_at(e)] = m - x;
        }
        f
    }

    /// The product $Jv$ of the Jacobian of [`Kkt::residual`] at `z` with `v` (the Jacobian is
    /// symmetric and never formed: $O(kr)$ per product).
    fn jac_mul(&self, z: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
        let nlr = (self.rows + self.cols) * self.rank;
        let mut out = DVector::zeros(self.len());
        out.rows_mut(0, nlr).copy_from(&v.rows(0, nlr));
        for (e, &(i, j, _)) in self.entries.iter().enumerate() {
            let q = self.lam_at(e);
            let (lam, vq) = (z[q], v[q]);
            let mut acc = 0.0;
            for a in 0..self.rank {
                let (pl, pr) = (self.l_at(i, a), self.r_at(j, a));
                out[pl] -= lam * v[pr] + z[pr] * vq;
                out[pr] -= lam * v[pl] + z[pl] * vq;
                acc += z[pr] * v[pl] + z[pl] * v[pr];
            }
            out[q] = -acc;
        }
        out
    }
}

/// Conjugate gradients on $(J^2 + \mu I)\,\delta = b$, matrix-free, to relative residual `tol`.
fn cg(kkt: &Kkt<'_>, z: &DVector<f64>, mu: f64, b: &DVector<f64>, tol: f64, max_iter: usize) -> DVector<f64> {
    let apply = |v: &DVector<f64>| kkt.jac_mul(z, &kkt.jac_mul(z, v)) + v * mu;
    let mut x = DVector::zeros(b.len());
    let mut r = b.clone();
    let mut p = r.clone();
    let mut rr = r.norm_squared();
    let stop = tol * tol * rr;
    for _ in 0..max_iter {
        if rr <= stop {
            break;
        }
        let ap = apply(&p);
        let alpha = rr / p.dot(&ap);
        x.axpy(alpha, &p, 1.0);
        r.axpy(-alpha, &ap, 1.0);
        let rr_new = r.norm_squared();
        p = &r + &p * (rr_new / rr);
        rr = rr_new;
    }
    x
}

/// Levenberg–Marquardt on the KKT system from `l0`, `r0`, `lambda0`, at most `max_steps` steps,
/// until the residual's norm is at most `tol` times the norm of the observations. The damped
/// normal equations are solved by conjugate gradients with Jacobian products ($O(kr)$ each).
pub(crate) fn polish(
    shape: (usize, usize),
    entries: &[(usize, usize, f64)],
    l0: &DMatrix<f64>,
    r0: &DMatrix<f64>,
    lambda0: &[f64],
    max_steps: usize,
    tol: f64,
) -> Polished {
    let rank = l0.ncols();
    let kkt = Kkt { rows: shape.0, cols: shape.1, rank, entries };
    let mut z = DVector::zeros(kkt.len());
    for i in 0..shape.0 {
        for a in 0..rank {
            z[kkt.l_at(i, a)] = l0[(i, a)];
        }
    }
    for j in 0..shape.1 {
        for a in 0..rank {
            z[kkt.r_at(j, a)] = r0[(j, a)];
        }
    }
    for (e, &lam) in lambda0.iter().enumerate() {
        z[kkt.lam_at(e)] = lam;
    }
    let scale = entries.iter().map(|e| e.2 * e.2).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    let mut f = kkt.residual(&z);
    let mut fnorm = f.norm();
    let f0 = fnorm;
    let mut steps = 0;
    let mut mu_factor = 1.0;
    while steps < max_steps && fnorm > tol * scale {
        steps += 1;
        let mu = mu_factor * fnorm;
        let rhs = -kkt.jac_mul(&z, &f);
        // The step only needs to be accurate relative to the residual it removes: 1e-10 keeps
        // the quadratic convergence down to round-off from any starting residual >= 1e-4.
        let delta = cg(&kkt, &z, mu, &rhs, 1e-10, (5 * kkt.len()).min(3000));
        let trial = &z + delta;
        let ft = kkt.residual(&trial);
        let ftn = ft.norm();
        if steps >= 4 && ftn > 1e-3 * f0 {
            // Not converging quadratically: the rank is not identified yet (or the start is
            // too far); give up rather than spend the step budget.
            break;
        }
        if ftn < fnorm {
            z = trial;
            f = ft;
            fnorm = ftn;
            mu_factor = (mu_factor / 4.0).max(1e-3);
        } else {
            mu_factor *= 16.0;
        }
    }
    let l = DMatrix::from_fn(shape.0, rank, |i, a| z[kkt.l_at(i, a)]);
    let r = DMatrix::from_fn(shape.1, rank, |j, a| z[kkt.r_at(j, a)]);
    let lambda = (0..entries.len()).map(|e| z[kkt.lam_at(e)]).collect();
    Polished { l, r, lambda, steps }
}
