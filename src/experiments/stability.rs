//! `stability`: the spectrum of a step predicts where GD and heavy ball change behaviour.
//!
//! * GD on a quadratic $L(W) = \frac1{2n}\|WX\|^2$ ($X$ Gaussian $3\times 6$): the Hessian (exact,
//!   through dual numbers) has top eigenvalue $\lambda_{\max}$ and the step map $I - \eta H$ has
//!   spectral radius above 1 exactly when $\eta > 2/\lambda_{\max}$. The measured threshold is the
//!   step size, found by bisection, at which the loss stops decreasing and grows.
//! * Heavy ball on a quadratic with Hessian $\mathrm{diag}(3, 4/3, 1/3)$: its top mode oscillates
//!   (changes sign again and again) exactly when its companion block has complex eigenvalues,
//!   $\lambda h > 1/(1+\sqrt\beta)^2$ with $\lambda = \gamma/(1-\beta)^2$, and the momentum flow
//!   $\lambda\ddot w + \dot w + \nabla L = 0$ when $4\lambda h > 1$. The two thresholds differ by the
//!   factor $(1+\sqrt\beta)^2/4$, which tends to 1 as $\beta \to 1$.

use super::{Check, Experiment, Recipe};
use crate::data;
use crate::error::Result;
use crate::flow::fields::HeavyBallFlow;
use crate::flow::{solve, Integrator, SolveOptions};
use crate::invariants::Monitor;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::{Method, Optimizer};
use crate::params::Params;
use crate::report::{Figure, Series, Style};
use crate::run::{run, RunOptions};
use crate::stability::{analyze, hessian, symmetric_eigenvalues};
use crate::trajectory::Save;

/// Heavy ball's momentum in the regime experiment.
pub const BETA: f64 = 0.81;

/// A labelled GD run: `(label, η, (step, loss) points)`.
pub type GdRun = (String, f64, Vec<(f64, f64)>);
/// A GD step map's spectrum: `(η, spectral radius, eigenvalues as (re, im))`.
pub type GdSpectrum = (f64, f64, Vec<(f64, f64)>);

/// What the experiment measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// λ_max of the GD problem's Hessian (dual numbers + Jacobi).
    pub lambda_max: f64,
    /// The same from nalgebra's symmetric eigensolver applied to Σxx = XXᵀ/n (the Hessian of this quadratic).
    pub lambda_max_reference: f64,
    /// 2/λ_max.
    pub gd_predicted: f64,
    /// The bisected step size where the loss turns from decreasing to growing.
    pub gd_measured: f64,
    /// `(label, η, loss per step)` just below and just above the threshold.
    pub gd_runs: Vec<GdRun>,
    /// Final over initial loss just below (first) and just above (second) the threshold.
    pub gd_ratio: (f64, f64),
    /// `(η, spectral radius, eigenvalues)` of the GD step map just below and above.
    pub gd_spectra: Vec<GdSpectrum>,
    /// Top Hessian eigenvalue of the heavy-ball problem.
    pub hb_h: f64,
    /// Predicted discrete threshold of λh: 1/(1+√β)².
    pub hb_predicted: f64,
    /// Predicted flow threshold of λh: 1/4.
    pub flow_predicted: f64,
    /// `(λh, sign changes of the top mode, complex pair predicted by the spectrum)` over the grid.
    pub hb_grid: Vec<(f64, usize, bool)>,
    /// `(λh, sign changes of the top mode along the momentum flow)` over the grid.
    pub flow_grid: Vec<(f64, usize)>,
    /// `(λh, eigenvalues)` of the heavy-ball step map below the threshold and well above it.
    pub hb_spectra: Vec<(f64, Vec<(f64, f64)>)>,
}

/// The GD quadratic: one output, three inputs, six Gaussian samples, zero targets (minimum at 0).
fn gd_problem() -> Result<(Model<f64>, Params<f64>)> {
    let x = data::gaussian(3, 6, 1.0, &mut data::rng(71));
    let model = Model::new(Arch::deep_linear(&[3, 1])?, Loss::regression(x, Mat::zeros(1, 6, &0.0))?)?;
    Ok((model, Params::new(vec![data::gaussian(1, 3, 1.0, &mut data::rng(72))])))
}

/// The heavy-ball quadratic: `X = diag(3, 2, 1)`, zero targets, so `H = diag(3, 4/3, 1/3)` and the
/// coordinates decouple exactly, in floating point too; the top mode is the first coordinate.
fn hb_problem() -> Result<(Model<f64>, Params<f64>)> {
    let x = Mat::from_fn(3, 3, |i, j| if i == j { 3.0 - i as f64 } else { 0.0 });
    let model = Model::new(Arch::deep_linear(&[3, 1])?, Loss::regression(x, Mat::zeros(1, 3, &0.0))?)?;
    Ok((model, Params::new(vec![Mat::from_vec(1, 3, vec![1.0, 1.0, 1.0])])))
}

/// GD for `steps` steps; `(loss per saved step, whether it grew: diverged, or L(K) > L(K/2))`.
fn gd_run(
    model: &Model<f64>,
    p0: &Params<f64>,
    eta: f64,
    steps: usize,
    every: usize,
) -> Result<(Vec<(f64, f64)>, bool)> {
    let mut opt = Optimizer::new(Method::Gd { eta }, &0.0)?;
    let t = run(model, &mut opt, p0, &RunOptions::steps(steps).save(Save::Every { n: every }), &mut Monitor::new())?;
    let pts: Vec<(f64, f64)> = t.steps.iter().zip(&t.loss).map(|(&k, &l)| (k as f64, l)).collect();
    let half = t.steps.iter().position(|&k| k >= steps / 2).unwrap_or(0);
    let grew = !t.outcome.is_done() || t.loss.last().copied().unwrap_or(f64::NAN) > t.loss[half];
    Ok((pts, grew))
}

fn sign_changes(xs: impl Iterator<Item = f64>) -> usize {
    let mut last = 0.0f64;
    let mut n = 0;
    for x in xs {
        // Below 1e-290 the value is near underflow: stop counting.
        if x.abs() < 1e-290 {
            break;
        }
        if last != 0.0 && (x > 0.0) != (last > 0.0) {
            n += 1;
        }
        last = x;
    }
    n
}

/// Measures everything (`quick`: fewer steps and a coarser grid; the checks keep their meaning).
pub fn measure(quick: bool) -> Result<Measured> {
    // GD: the threshold predicted from the exact Hessian, and the one found by bisection.
    let (model, p0) = gd_problem()?;
    let h = symmetric_eigenvalues(&hessian(&model, &p0))?;
    let lambda_max = *h.last().expect("three parameters");
    let Loss::Regression { sxx, .. } = &model.loss else { unreachable!("a regression problem") };
    let lambda_max_reference = nalgebra::SymmetricEigen::new(sxx.to_na()).eigenvalues.max();
    let gd_predicted = 2.0 / lambda_max;
    let steps = if quick { 1000 } else { 4000 };
    let (mut lo, mut hi) = (0.5 * gd_predicted, 1.5 * gd_predicted);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if gd_run(&model, &p0, mid, steps, steps / 2)?.1 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let gd_measured = 0.5 * (lo + hi);
    let mut gd_runs = Vec::new();
    let mut gd_spectra = Vec::new();
    let mut ratios = Vec::new();
    for (label, f) in [("0.98 x 2/lambda_max", 0.98), ("1.02 x 2/lambda_max", 1.02)] {
        let eta = f * gd_predicted;
        let (pts, _) = gd_run(&model, &p0, eta, 400, 1)?;
        ratios.push(pts.last().map_or(f64::NAN, |p| p.1) / pts[0].1);
        gd_runs.push((label.to_string(), eta, pts));
        let r = analyze(&model, &Method::Gd { eta }, &p0, &p0, 0)?;
        gd_spectra.push((eta, r.spectral_radius, r.eigenvalues));
    }

    // Heavy ball: oscillation of the top mode against the companion discriminant's sign.
    let (hb_model, q0) = hb_problem()?;
    let hb_h = 3.0;
    let hb_predicted = 1.0 / (1.0 + BETA.sqrt()).powi(2);
    let flow_predicted = 0.25;
    let n = if quick { 21 } else { 41 };
    let hb_steps = if quick { 3000 } else { 6000 };
    let mut hb_grid = Vec::new();
    for i in 0..n {
        let lh = 0.26 + 0.04 * i as f64 / (n - 1) as f64;
        let gamma = lh / hb_h * (1.0 - BETA).powi(2);
        let mut opt = Optimizer::new(Method::HeavyBall { eta: gamma, beta: BETA }, &0.0)?;
        let mut p = q0.clone();
        let mut xs = Vec::with_capacity(hb_steps);
        for _ in 0..hb_steps {
            opt.step(&hb_model, &mut p)?;
            xs.push(*p.blocks[0].get(0, 0));
        }
        let r = analyze(&hb_model, &Method::HeavyBall { eta: gamma, beta: BETA }, &q0, &q0, 0)?;
        let top_complex = r.eigenvalues.iter().any(|z| z.1 != 0.0 && (z.0 * z.0 + z.1 * z.1 - BETA).abs() < 1e-12);
        hb_grid.push((
            lh,
            sign_changes(xs.into_iter()),
            top_complex && r.momentum.is_some_and(|m| m.complex_pairs > 0),
        ));
    }
    // The momentum flow on the same problem (RK4, whose error at h = λ/20 is far below the
    // distance to the threshold resolved here).
    let mut flow_grid = Vec::new();
    for i in 0..n {
        let lh = 0.23 + 0.04 * i as f64 / (n - 1) as f64;
        let lambda = lh / hb_h;
        let h = lambda / 20.0;
        let t1 = 1200.0 * lambda;
        let k = (t1 / h) as usize;
        let opts = SolveOptions { t1, save_times: (1..=k).map(|j| j as f64 * h).collect() };
        let mut field = HeavyBallFlow::new(&hb_model, lambda)?;
        let y0 = HeavyBallFlow::initial(&q0);
        let t = solve(&mut field, &hb_model, &y0, &Integrator::Rk4 { h }, &opts, &mut Monitor::new())?;
        flow_grid.push((lh, sign_changes(t.states.iter().map(|s| *s.blocks[0].get(0, 0)))));
    }
    let mut hb_spectra = Vec::new();
    for lh in [0.9 * hb_predicted, 3.0 * hb_predicted] {
        let gamma = lh / hb_h * (1.0 - BETA).powi(2);
        let r = analyze(&hb_model, &Method::HeavyBall { eta: gamma, beta: BETA }, &q0, &q0, 0)?;
        hb_spectra.push((lh, r.eigenvalues));
    }
    Ok(Measured {
        lambda_max,
        lambda_max_reference,
        gd_predicted,
        gd_measured,
        gd_runs,
        gd_ratio: (ratios[0], ratios[1]),
        gd_spectra,
        hb_h,
        hb_predicted,
        flow_predicted,
        hb_grid,
        flow_grid,
        hb_spectra,
    })
}

/// The first grid value from which the count is at least 2 at every later point (`NaN` if the
/// transition is not monotone or absent).
pub fn transition(grid: &[(f64, usize)]) -> f64 {
    let first = grid.iter().position(|&(_, c)| c >= 2);
    match first {
        Some(i) if grid[i..].iter().all(|&(_, c)| c >= 2) && grid[..i].iter().all(|&(_, c)| c <= 1) => grid[i].0,
        _ => f64::NAN,
    }
}

/// The claims.
pub fn checks(m: &Measured) -> Vec<Check> {
    let hb: Vec<(f64, usize)> = m.hb_grid.iter().map(|&(x, c, _)| (x, c)).collect();
    let spacing = m.hb_grid.get(1).map_or(1.0, |g| g.0) - m.hb_grid[0].0;
    let hb_measured = transition(&hb);
    let flow_measured = transition(&m.flow_grid);
    let disagree = m
        .hb_grid
        .iter()
        .filter(|&&(x, c, complex)| (x - m.hb_predicted).abs() > spacing && (c >= 2) != complex)
        .count();
    vec![
        Check::at_most(
            "hessian-lambda-max",
            "λ_max of the Hessian assembled from dual-number HVPs (Jacobi eigenvalues) equals nalgebra's top \
             eigenvalue of XXᵀ/n, the closed-form Hessian of this quadratic; relative difference, 1e-12 allows \
             rounding in both eigensolvers on a 3x3 matrix",
            (m.lambda_max - m.lambda_max_reference).abs() / m.lambda_max_reference,
            1e-12,
        ),
        Check::at_most(
            "gd-threshold",
            "the bisected step size where GD's loss turns from decreasing to growing is 2/λ_max; relative \
             difference. At η = (1+δ)·2/λ_max the top mode's share of the loss changes by (1+2δ)^K over the \
             compared half-run of K/2 = 500 (quick) or 2000 steps while the other modes' shares only shrink, so \
             the comparison flips within |δ| where that factor meets f64 rounding and the slowest mode's decay \
             (observed 5e-13 at full size); 1e-8 leaves a margin and still fails any Hessian error above 1e-8",
            (m.gd_measured - m.gd_predicted).abs() / m.gd_predicted,
            1e-8,
        ),
        Check::at_most(
            "gd-converges-below",
            "at η = 0.98·2/λ_max the loss after 400 steps is below 1e-6 of the initial loss (top mode factor 0.96)",
            m.gd_ratio.0,
            1e-6,
        ),
        Check::at_least(
            "gd-diverges-above",
            "at η = 1.02·2/λ_max the loss after 400 steps is above 1e6 times the initial loss (top factor 1.04)",
            m.gd_ratio.1,
            1e6,
        ),
        Check::at_least(
            "gd-spectral-radius-crosses-1",
            "the step map's spectral radius is below 1 at 0.98·2/λ_max and above 1 at 1.02·2/λ_max; observed = \
             min(1 − ρ_below, ρ_above − 1), which must be positive (it is ≈ 0.04 in exact arithmetic)",
            (1.0 - m.gd_spectra[0].1).min(m.gd_spectra[1].1 - 1.0),
            0.03,
        ),
        Check::near(
            "heavy-ball-regime",
            "heavy ball's top mode oscillates (≥ 2 sign changes) from the λh where its companion block turns \
             complex, 1/(1+√β)²; tolerance: one grid spacing plus the resolution of the sign count",
            hb_measured,
            m.hb_predicted,
            1.5 * spacing,
        ),
        Check::at_most(
            "heavy-ball-spectrum-agrees",
            "at every grid point farther than one spacing from the threshold, 'oscillates' agrees with 'the \
             spectrum has a complex pair of modulus √β'; observed = disagreements",
            disagree as f64,
            0.0,
        ),
        Check::near(
            "momentum-flow-regime",
            "the momentum flow λẅ + ẇ + ∇L = 0 oscillates from 4λh = 1 (λh = 1/4); tolerance: one grid spacing \
             plus the resolution of 1200λ time units",
            flow_measured,
            m.flow_predicted,
            1.5 * spacing,
        ),
    ]
}

fn circle(r: f64, label: &str) -> Series {
    let pts = (0..=200).map(|i| {
        let t = std::f64::consts::TAU * i as f64 / 200.0;
        (r * t.cos(), r * t.sin())
    });
    Series::line(label, pts.collect()).styled(Style::Dashed)
}

/// The figures: GD loss across the threshold, the spectra in the complex plane, the heavy-ball
/// oscillation count across λ.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let mut loss = Figure::new("gd_threshold_loss", "GD just below and above 2/λ_max", "step k", "loss").log_y();
    for (label, _, pts) in &m.gd_runs {
        loss = loss.with(Series::line(label.clone(), pts.clone()));
    }
    let mut spec = Figure::new("step_spectrum", "Eigenvalues of the step map", "Re z", "Im z")
        .x_range(-1.3, 1.3)
        .y_range(-1.1, 1.1)
        .with(circle(1.0, "unit circle"))
        .with(circle(BETA.sqrt(), "|z| = sqrt(beta)"));
    for (eta, _, e) in &m.gd_spectra {
        spec = spec.with(Series::points(format!("GD, eta = {:.4}", eta), e.clone()));
    }
    for (lh, e) in &m.hb_spectra {
        spec = spec.with(Series::points(format!("heavy ball, lambda h = {lh:.3}"), e.clone()));
    }
    let regime = Figure::new("heavy_ball_regime", "Sign changes of the top mode", "lambda h", "sign changes")
        .with(Series::points("heavy ball", m.hb_grid.iter().map(|&(x, c, _)| (x, c as f64)).collect()))
        .with(Series::points("momentum flow", m.flow_grid.iter().map(|&(x, c)| (x, c as f64)).collect()))
        .with(
            Series::line("1/(1+sqrt beta)^2", vec![(m.hb_predicted, 0.0), (m.hb_predicted, 20.0)])
                .styled(Style::Dashed),
        )
        .with(Series::line("1/4", vec![(m.flow_predicted, 0.0), (m.flow_predicted, 20.0)]).styled(Style::Dashed));
    vec![loss, spec, regime]
}

/// Remarks on a measurement: measured values worth reading, where a claim does not apply.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v = Vec::new();
    v.push(format!(
        "GD: lambda_max = {:.6}, predicted threshold 2/lambda_max = {:.6}, measured {:.6}",
        m.lambda_max, m.gd_predicted, m.gd_measured
    ));
    v.push(format!(
        "heavy ball (beta = {BETA}): discrete threshold lambda h = 1/(1+sqrt beta)^2 = {:.5}, flow threshold 1/4; \
         the two differ by the factor (1+sqrt beta)^2/4 = {:.4}",
        m.hb_predicted,
        (1.0 + BETA.sqrt()).powi(2) / 4.0
    ));
    v
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "stability",
    description:
        "The spectrum of the linearized step map: GD crosses 2/lambda_max; heavy ball turns oscillatory where its \
         companion blocks turn complex, the momentum flow at 4 lambda h = 1",
    measure,
    checks,
    figures,
    notes,
};

/// The `stability` experiment.
pub fn experiments() -> Vec<Experiment> {
    vec![Experiment {
        name: RECIPE.name,
        about: "GD crosses 2/lambda_max and heavy ball changes regime where the step map's spectrum says",
        run: |ctx| RECIPE.run(ctx),
    }]
}
