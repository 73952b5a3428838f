//! Paths in plot and pixel coordinates: clipping to the plot box, thinning dense pixel runs,
//! dash patterns and marker positions along a polyline.

use super::axis::transform;

type Pt = (f64, f64);

/// Clips the segment `p→q` to the box; returns the clipped ends and whether each end was moved.
fn clip(p: Pt, q: Pt, bx: (f64, f64, f64, f64)) -> Option<(Pt, Pt, bool, bool)> {
    let (x0, x1, y0, y1) = bx;
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [(-dx, p.0 - x0), (dx, x1 - p.0), (-dy, p.1 - y0), (dy, y1 - p.1)] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (p.0 + t * dx, p.1 + t * dy);
    Some((at(t0), at(t1), t0 > 0.0, t1 < 1.0))
}

/// The drawable pieces of a series in plot coordinates: polylines broken where a point cannot be
/// shown (non-finite, or ≤ 0 on a log axis) and where the curve leaves the axis box.
pub(super) fn pieces(
    points: &[(f64, f64)],
    log_x: bool,
    log_y: bool,
    bx: (f64, f64, f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<(f64, f64)> = None;
    let inside = |p: (f64, f64)| p.0 >= bx.0 && p.0 <= bx.1 && p.1 >= bx.2 && p.1 <= bx.3;
    for &(x, y) in points {
        let t = transform(x, log_x).zip(transform(y, log_y));
        match (prev, t) {
            (Some(p), Some(q)) => {
                if let Some((a, b, ca, cb)) = clip(p, q, bx) {
                    if ca || cur.is_empty() {
                        if cur.len() > 1 {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.clear();
                        cur.push(a);
                    }
                    cur.push(b);
                    if cb {
                        out.push(std::mem::take(&mut cur));
                    }
                } else if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, Some(q)) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if inside(q) {
                    cur.push(q);
                }
            }
            (_, None) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
        prev = t;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Drops points that land on the same pixel column, keeping each column's first, lowest,
/// highest and last point in order (the drawn envelope is unchanged).
pub(super) fn thin(px: Vec<(i32, i32)>) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(px.len().min(4096));
    let mut i = 0;
    while i < px.len() {
        let mut j = i;
        while j + 1 < px.len() && px[j + 1].0 == px[i].0 {
            j += 1;
        }
        let run = &px[i..=j];
        let lo = (0..run.len()).min_by_key(|&k| run[k].1).unwrap_or(0);
        let hi = (0..run.len()).max_by_key(|&k| run[k].1).unwrap_or(0);
        let mut idx = vec![0, lo, hi, run.len() - 1];
        idx.sort_unstable();
        idx.dedup();
        for k in idx {
            if out.last() != Some(&run[k]) {
                out.push(run[k]);
            }
        }
        i = j + 1;
    }
    out
}

/// Splits a pixel polyline into the "on" pieces of a dash pattern.
pub(super) fn dash(px: &[(i32, i32)], pattern: &[f64]) -> Vec<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    if px.len() < 2 || pattern.is_empty() {
        return out;
    }
    let (mut k, mut left, mut on) = (0usize, pattern[0], true);
    let mut cur = vec![px[0]];
    for w in px.windows(2) {
        let (a, b) = ((w[0].0 as f64, w[0].1 as f64), (w[1].0 as f64, w[1].1 as f64));
        let d = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut pos = 0.0;
        while d - pos > left {
            pos += left;
            let t = pos / d;
            let p = ((a.0 + t * (b.0 - a.0)).round() as i32, (a.1 + t * (b.1 - a.1)).round() as i32);
            if on {
                cur.push(p);
                out.push(std::mem::take(&mut cur));
            } else {
                cur = vec![p];
            }
            on = !on;
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= d - pos;
        if on {
            cur.push(w[1]);
        }
    }
    if on && cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// Points every `spacing` pixels along a pixel polyline, starting `offset` pixels in.
pub(super) fn along(px: &[(i32, i32)], offset: f64, spacing: f64) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let mut next = offset;
    let mut walked = 0.0;
    for w in px.windows(2) {
        let (a, b) = ((w[0].0 as f64, w[0].1 as f64), (w[1].0 as f64, w[1].1 as f64));
        let d = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        while next <= walked + d {
            let t = if d > 0.0 { (next - walked) / d } else { 0.0 };
            out.push(((a.0 + t * (b.0 - a.0)).round() as i32, (a.1 + t * (b.1 - a.1)).round() as i32));
            next += spacing;
        }
        walked += d;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_splits_at_the_box() {
        let p = pieces(&[(0.0, 0.0), (2.0, 2.0), (4.0, 0.0)], false, false, (0.0, 4.0, 0.0, 1.0));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], vec![(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(p[1], vec![(3.0, 1.0), (4.0, 0.0)]);
    }

    #[test]
    fn thinning_keeps_each_columns_extremes_in_order() {
        let px = vec![(0, 5), (0, 9), (0, 1), (0, 4), (1, 3), (2, 3), (2, 3)];
        assert_eq!(thin(px), vec![(0, 5), (0, 9), (0, 1), (0, 4), (1, 3), (2, 3)]);
        let col: Vec<(i32, i32)> = (0..1000).map(|k| (7, (k * 37) % 101)).collect();
        let t = thin(col);
        // First (which is also the lowest, 0), highest (100), last (999·37 mod 101 = 98).
        assert_eq!(t, vec![(7, 0), (7, 100), (7, 98)]);
    }

    #[test]
    fn dashes_alternate() {
        let d = dash(&[(0, 0), (100, 0)], &[10.0, 10.0]);
        assert_eq!(d.len(), 5);
        assert_eq!(d[0], vec![(0, 0), (10, 0)]);
        assert_eq!(d[1][0], (20, 0));
    }
}
