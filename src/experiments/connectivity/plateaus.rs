//! Plateau counting for `connectivity`: maximal runs of slowly decreasing loss at a constant
//! numerical rank (the rule is in the parent module's docs).

use super::setup::rank_of;

/// A plateau's loss decreases slower than this per unit time. The rates of the escapes are the
/// saddles' unstable eigenvalues, order 0.1-10 here, so 1e-2 separates plateaus from escapes.
pub(super) const PLATEAU_RATE: f64 = 1e-2;
/// Minimum plateau duration (time units); the plateaus of a variance-1e-16 start last ~ln(1e16)/λ.
pub(super) const PLATEAU_MIN_TIME: f64 = 1.0;

/// One plateau found by the rule in the parent module's docs.
#[derive(Clone, Debug)]
pub struct Plateau {
    /// Numerical rank of W on it.
    pub rank: usize,
    /// Start and end time.
    pub start: f64,
    /// End time.
    pub end: f64,
    /// Loss where its decrease is slowest.
    pub loss: f64,
}

/// The plateaus of a sampled run `(time, loss, singular values)`, ranks relative to `scale`.
pub(super) fn find_plateaus(trace: &[(f64, f64, Vec<f64>)], scale: f64) -> Vec<Plateau> {
    let l0 = trace[0].1;
    let mut out: Vec<Plateau> = Vec::new();
    let mut open: Option<(usize, f64, f64, f64, f64)> = None; // rank, start, end, min rate, loss there
    for w in trace.windows(2) {
        let ((t0, l_a, s0), (t1, l_b, s1)) = (&w[0], &w[1]);
        let (r0, r1) = (rank_of(s0, scale), rank_of(s1, scale));
        let rate = -(l_b.ln() - l_a.ln()) / (t1 - t0);
        let ok = r0 == r1 && rate < PLATEAU_RATE && *l_a > 1e-6 * l0;
        match (&mut open, ok) {
            (Some(o), true) if o.0 == r0 => {
                o.2 = *t1;
                if rate.abs() < o.3 {
                    o.3 = rate.abs();
                    o.4 = *l_a;
                }
            }
            (_, true) => {
                if let Some(o) = open.take() {
                    out.push(Plateau { rank: o.0, start: o.1, end: o.2, loss: o.4 });
                }
                open = Some((r0, *t0, *t1, rate.abs(), *l_a));
            }
            (_, false) => {
                if let Some(o) = open.take() {
                    out.push(Plateau { rank: o.0, start: o.1, end: o.2, loss: o.4 });
                }
            }
        }
    }
    if let Some(o) = open {
        out.push(Plateau { rank: o.0, start: o.1, end: o.2, loss: o.4 });
    }
    out.retain(|p| p.end - p.start >= PLATEAU_MIN_TIME);
    out
}
