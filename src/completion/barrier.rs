//! A log-barrier (interior-point) method on the dual of the minimum nuclear norm completion.
//!
//! The dual of $\min\{\|X\|_* : X_\Omega = M_\Omega\}$ has one variable per observation:
//! $$\max_{\lambda\in\mathbb R^k}\ \langle\lambda, m\rangle\quad\text{s.t.}\quad \|\Lambda(\lambda)\|_2\le 1,
//! \qquad \Lambda(\lambda) = \sum_{e} \lambda_e\, e_{i_e} e_{j_e}^\top .$$
//! The constraint is the linear matrix inequality $S(\lambda) = \begin{pmatrix} I & \Lambda\\ \Lambda^\top & I\end{pmatrix}\succeq 0$,
//! whose barrier is $\phi(\lambda) = -\log\det S = -\log\det(I - \Lambda^\top\Lambda)$. With
//! $Q = (I-\Lambda^\top\Lambda)^{-1}$, $C = \Lambda Q$ and $P = (I - \Lambda\Lambda^\top)^{-1} = I + C\Lambda^\top$
//! (the blocks of $S^{-1}$),
//! $$\partial_e\phi = 2C_{i_e j_e},\qquad \partial_e\partial_f\phi = 2\bigl(P_{i_e i_f}Q_{j_e j_f} + C_{i_f j_e}C_{i_e j_f}\bigr).$$
//! Damped Newton minimizes $f_t = -t\langle\lambda, m\rangle + \phi$ for $t = t_0, 10t_0, 100t_0,\dots$
//! On the central path $2C_\Omega/t = m$, so $X = 2C/t$ is a completion (exactly feasible after
//! resetting its observed entries) whose nuclear norm exceeds the dual value by at most
//! $(n_1+n_2)/t$ for an $n_1\times n_2$ matrix: the points approach the minimum from both sides.
//!
//! Nothing here is trusted: [`super::nuclear`] certifies every point it returns by the same
//! duality gap as Douglas–Rachford's iterates. The method is used when Douglas–Rachford stalls on
//! nearly degenerate instances (a dual certificate with singular values just below one, where
//! the splitting's linear rate is close to 1); its cost is a $k\times k$ Cholesky factorization
//! per Newton step, so it is offered for $k \le$ [`MAX_OBSERVATIONS`]. Derivation:
//! `proofs/matrix_completion.md`, section 6.

use nalgebra::{DMatrix, DVector};

/// The largest number of observations the barrier method accepts (its Newton system is
/// `k × k`: 2000 is about 3·10⁹ flops per step).
pub const MAX_OBSERVATIONS: usize = 2000;

/// One point of the barrier method's path, handed to the caller for certification.
pub(crate) struct BarrierPoint {
    /// The primal completion `2C/t` with its observed entries reset to the data.
    pub x: DMatrix<f64>,
    /// The dual variables, one per observed entry.
    pub lambda: Vec<f64>,
}

struct Eval {
    /// $\Lambda(\lambda)$.
    l: DMatrix<f64>,
    /// $-\log\det(I - \Lambda^\top\Lambda)$.
    phi: f64,
    q: DMatrix<f64>,
    c: DMatrix<f64>,
}

struct Dual<'a> {
    rows: usize,
    cols: usize,
    entries: &'a [(usize, usize, f64)],
}

impl Dual<'_> {
    fn lambda_matrix(&self, lambda: &[f64]) -> DMatrix<f64> {
        let mut l = DMatrix::zeros(self.rows, self.cols);
        for (&(i, j, _), &v) in self.entries.iter().zip(lambda) {
            l[(i, j)] = v;
        }
        l
    }

    /// The barrier and the blocks of $S^{-1}$, or `None` outside the open unit spectral ball.
    fn eval(&self, lambda: &[f64]) -> Option<Eval> {
        let l = self.lambda_matrix(lambda);
        let s = DMatrix::identity(self.cols, self.cols) - l.transpose() * &l;
        let chol = s.cholesky()?;
        let phi = -2.0 * chol.l_dirty().diagonal().iter().map(|d| d.ln()).sum::<f64>();
        if !phi.is_finite() {
            return None;
        }
        let q = chol.inverse();
        let c = &l * &q;
        Some(Eval { l, phi, q, c })
    }

    fn objective(&self, t: f64, lambda: &[f64], phi: f64) -> f64 {
        -t * self.entries.iter().zip(lambda).map(|(e, l)| e.2 * l).sum::<f64>() + phi
    }

    /// Gradient and Hessian of $f_t$ at the point of `ev`.
    fn newton_system(&self, t: f64, ev: &Eval) -> (DVector<f64>, DMatrix<f64>) {
        let k = self.entries.len();
        let p = DMatrix::identity(self.rows, self.rows) + &ev.c * ev.l.transpose();
        let g = DVector::from_iterator(k, self.entries.iter().map(|&(i, j, m)| -t * m + 2.0 * ev.c[(i, j)]));
        let mut h = DMatrix::zeros(k, k);
        for (f, &(i2, j2, _)) in self.entries.iter().enumerate() {
            for (e, &(i1, j1, _)) in self.entries.iter().enumerate().skip(f) {
                let v = 2.0 * (p[(i1, i2)] * ev.q[(j1, j2)] + ev.c[(i2, j1)] * ev.c[(i1, j2)]);
                h[(e, f)] = v;
                h[(f, e)] = v;
            }
        }
        (g, h)
    }
}

/// Solves `h δ = -g` by Cholesky, shifting the diagonal by a growing multiple of its largest
/// entry when round-off has made `h` numerically indefinite (late in the path its condition
/// number grows like $t^2$).
fn newton_step(h: DMatrix<f64>, g: &DVector<f64>) -> Option<DVector<f64>> {
    let scale = h.diagonal().amax();
    let mut shift = 0.0;
    for _ in 0..8 {
        let mut hs = h.clone();
        for d in 0..hs.nrows() {
            hs[(d, d)] += shift;
        }
        if let Some(ch) = hs.cholesky() {
            let step = -ch.solve(g);
            if step.iter().all(|v| v.is_finite()) {
                return Some(step);
            }
        }
        shift = if shift == 0.0 { 1e-15 * scale } else { shift * 100.0 };
    }
    None
}

/// Follows the central path from $\lambda = 0$, handing every point it centers (to round-off) to `accept`, until
/// `accept` returns `true`, `max_newton` Newton steps are spent, or the Newton step fails.
/// Returns the number of Newton steps taken.
pub(crate) fn follow_path(
    shape: (usize, usize),
    entries: &[(usize, usize, f64)],
    max_newton: usize,
    mut accept: impl FnMut(&BarrierPoint) -> bool,
) -> usize {
    let dual = Dual { rows: shape.0, cols: shape.1, entries };
    let k = entries.len();
    let mut lambda = vec![0.0; k];
    // Start where the path's duality gap (n1 + n2)/t equals ‖M_Ω‖_F·√(min(m, n)), an upper bound
    // on the nuclear norm of the zero-filled observations (a feasible completion).
    let data_norm = entries.iter().map(|e| e.2 * e.2).sum::<f64>().sqrt() * (shape.0.min(shape.1) as f64).sqrt();
    let mut t = (shape.0 + shape.1) as f64 / data_norm.max(f64::MIN_POSITIVE);
    let mut steps = 0;
    let Some(mut ev) = dual.eval(&lambda) else { return 0 };
    loop {
        // Centering: damped Newton until the decrement δ² = -gᵀΔ (affine invariant: δ²/2 bounds
        // f_t - min f_t) is 1e-12, or stops shrinking. Near the center Newton squares δ², so a
        // decrement below 1e-6 that does not halve is at the round-off floor of g = -t m + 2C
        // (cancellation of size eps·t·|m|), and further steps only move the point in noise.
        let mut prev = f64::INFINITY;
        for _ in 0..60 {
            if steps >= max_newton {
                return steps;
            }
            let (g, h) = dual.newton_system(t, &ev);
            let Some(delta) = newton_step(h, &g) else { return steps };
            steps += 1;
            let dec2 = -g.dot(&delta);
            if dec2.is_nan() || dec2 < 0.0 {
                return steps;
            }
            if dec2 <= 1e-12 || (prev < 1e-6 && dec2 > 0.5 * prev) {
                break;
            }
            prev = dec2;
            let f0 = dual.objective(t, &lambda, ev.phi);
            let mut s = 1.0;
            let mut moved = false;
            for _ in 0..60 {
                let trial: Vec<f64> = lambda.iter().zip(delta.iter()).map(|(l, d)| l + s * d).collect();
                if let Some(ev_t) = dual.eval(&trial) {
                    // Armijo with slope fraction 1/4 along the Newton direction.
                    if dual.objective(t, &trial, ev_t.phi) <= f0 - 0.25 * s * dec2 {
                        lambda = trial;
                        ev = ev_t;
                        moved = true;
                        break;
                    }
                }
                s *= 0.5;
            }
            if !moved {
                // No decrease representable: the point is as centered as round-off allows.
                break;
            }
        }
        // Every point goes to the caller, centered or at the round-off floor: its certificate,
        // not its centrality, decides whether it is kept.
        let mut x = &ev.c * (2.0 / t);
        for &(i, j, m) in entries {
            x[(i, j)] = m;
        }
        if accept(&BarrierPoint { x, lambda: lambda.clone() }) {
            return steps;
        }
        t *= 10.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// $\sigma_1 + \sigma_2 = \sqrt{\|X\|_F^2 + 2|\det X|}$ for a 2×2 matrix.
    fn nuclear_2x2(x: &DMatrix<f64>) -> f64 {
        (x.norm_squared() + 2.0 * (x[(0, 0)] * x[(1, 1)] - x[(0, 1)] * x[(1, 0)]).abs()).sqrt()
    }

    #[test]
    fn the_central_path_brackets_the_closed_form_minimum() {
        // Observed a, c, d of [[a, x], [c, d]]: the minimum over x is at x* = ad/c when |ad| <= c^2
        // (the rank-1 completion), proofs/matrix_completion.md section 1.
        let (a, c, d) = (1.0, 2.0, 1.5);
        let entries = [(0, 0, a), (1, 0, c), (1, 1, d)];
        let xs = a * d / c;
        let best = nuclear_2x2(&DMatrix::from_row_slice(2, 2, &[a, xs, c, d]));
        let mut points = 0;
        let steps = follow_path((2, 2), &entries, 400, |p| {
            points += 1;
            let dual: f64 = entries.iter().zip(&p.lambda).map(|(e, l)| e.2 * l).sum();
            let upper = nuclear_2x2(&p.x);
            // Weak duality: every path point brackets the minimum (1e-12: round-off of the sums).
            assert!(dual <= best * (1.0 + 1e-12) && upper >= best * (1.0 - 1e-12), "{dual} {best} {upper}");
            // The path alone reaches about 1e-9 relative in f64 (the Newton systems' condition
            // number grows like t^2); 1e-8 shows it converges, the polish does the rest.
            (upper - dual) / upper <= 1e-8
        });
        assert!(points >= 3 && steps > 0 && steps < 400, "{points} points, {steps} Newton steps");
    }
}
