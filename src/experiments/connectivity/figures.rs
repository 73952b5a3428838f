//! The figures of `connectivity`.

use super::connected::Connected;
use super::disconnected::{Disconnected, DISC_U, DISC_V};
use crate::report::{Figure, Series, Style};

/// Figures: learned entry against init variance; loss and singular values over time (connected);
/// learned unknown entries per seed and singular values over time (disconnected).
pub(super) fn figures(c: &Connected, pc: &Connected, d: &Disconnected) -> Vec<Figure> {
    let vs = (c.variances[c.variances.len() - 1], c.variances[0]);
    let entry = Figure::new(
        "connected_learned_entry",
        "Connected 4x4: learned unknown entry against init variance",
        "init variance",
        "learned W_00",
    )
    .log_x()
    .with(
        Series::points("gradient descent", c.variances.iter().copied().zip(c.learned.iter().copied()).collect())
            .styled(Style::LinePoints),
    )
    .with(
        Series::line(format!("rank-3 completion x* = {}", c.x_star_exact), vec![(vs.0, c.x_star), (vs.1, c.x_star)])
            .styled(Style::Dashed),
    )
    .with(
        Series::line(
            format!("nuclear-norm minimizer {:.4}", c.x_nuclear),
            vec![(vs.0, c.x_nuclear), (vs.1, c.x_nuclear)],
        )
        .styled(Style::Dashed),
    );
    let mut loss = Figure::new(
        "connected_loss",
        "Connected 4x4 (x* = 1), variance 1e-16: training loss",
        "time (steps x eta)",
        "loss",
    )
    .log_y();
    loss = loss.with(Series::line("loss", pc.trace.iter().map(|s| (s.0, s.1.max(1e-30))).collect()));
    for (k, f) in pc.best_fit.iter().enumerate() {
        let t1 = pc.trace.last().map_or(1.0, |s| s.0);
        loss = loss
            .with(Series::line(format!("best rank-{k} fit (ALS)"), vec![(0.0, *f), (t1, *f)]).styled(Style::Dashed));
    }
    let sv_fig = |name: &str, title: &str, trace: &[(f64, f64, Vec<f64>)]| {
        let n = trace.first().map_or(0, |s| s.2.len());
        let mut f = Figure::new(name, title, "time (steps x eta)", "singular value of W").log_y();
        for i in 0..n {
            f = f.with(Series::line(
                format!("sigma_{}", i + 1),
                trace.iter().map(|s| (s.0, s.2[i].max(1e-30))).collect(),
            ));
        }
        f
    };
    let sv =
        sv_fig("connected_singular_values", "Connected 4x4 (x* = 1), variance 1e-16: singular values of W", &pc.trace);
    let xs: Vec<f64> = d.seeds.iter().map(|s| s.w02).collect();
    let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, &x| (a.0.min(x), a.1.max(x)));
    let prod = d.seeds.first().map_or(1.0, |_| DISC_U[0] * DISC_V[0] * DISC_U[2] * DISC_V[2]);
    let span = (hi - lo).abs().max(1.0);
    let curve: Vec<(f64, f64)> =
        (1..=60).map(|i| lo.abs().min(hi.abs()).max(0.05) + (i as f64) * span / 20.0).map(|x| (x, prod / x)).collect();
    let seeds_fig = Figure::new(
        "disconnected_seeds",
        "Disconnected 3x3: learned unknown entries per seed (variance 1e-12)",
        "learned W_02",
        "learned W_20",
    )
    .with(Series::points("gradient descent, one point per seed", d.seeds.iter().map(|s| (s.w02, s.w20)).collect()))
    .with(Series::line("rank-1 completions: W02 W20 = W00 W22", curve).styled(Style::Dashed));
    let dsv = sv_fig("disconnected_singular_values", "Disconnected 3x3, first seed: singular values of W", &d.trace);
    vec![entry, loss, sv, seeds_fig, dsv]
}
