//! From runs to plotted series: a [`Trajectory`]'s loss, any function of its saved states, the
//! size of a [`Quantity`] along it, a law's deviations, and a closed form sampled on a grid.
//!
//! Each helper reads the trajectory's saved times (converted to `f64`) as `x`, so a discrete run
//! and a flow on the same problem share an axis: GD with step $\eta$ saves $t_k = k\eta$.
//!
//! ```
//! use linflow::prelude::*;
//! let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
//! let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
//! let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
//! let mut opt = Optimizer::new(Method::Gd { eta: 0.05 }, &0.0).unwrap();
//! let gd = run(&model, &mut opt, &p0, &RunOptions::steps(200), &mut Monitor::new()).unwrap();
//! let gf = FlowProblem::new(GradientFlow::new(&model), &p0, 10.0)
//!     .model(&model)
//!     .save(Save::grid(10.0, 200))
//!     .solve(&Integrator::Rk4 { h: 0.01 })
//!     .unwrap();
//! let fig = Figure::new("loss", "GD vs gradient flow", "time t", "loss")
//!     .log_y()
//!     .with(Series::loss("GD, η = 0.05", &gd))
//!     .with(Series::loss("gradient flow", &gf));
//! // Both share the time axis up to t = 10 (200 steps of η = 0.05; 200 saves of the flow) ...
//! let (a, b) = (&fig.series[0].points, &fig.series[1].points);
//! assert_eq!((a.len(), b.len()), (201, 201));
//! assert!((a[200].0 - 10.0).abs() < 1e-12 && (b[200].0 - 10.0).abs() < 1e-12);
//! // ... and along gradient flow dL/dt = −‖∇L‖² ≤ 0: the loss never increases.
//! assert!(b.windows(2).all(|w| w[1].1 <= w[0].1));
//! ```

use super::{Series, Style};
use crate::invariants::{worst_entry, LawReport, Quantity};
use crate::model::Model;
use crate::params::Params;
use crate::scalar::Scalar;
use crate::trajectory::Trajectory;

impl Series {
    /// The loss against time of every saved state of `traj`.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// let arch = Arch::deep_linear(&[1, 1]).unwrap();
    /// // L(w) = ½(w − 1)²; GD with η = 1/2 halves w − 1 at each step.
    /// let model = Model::new(arch.clone(), Loss::target(Mat::eye(1, 1, &0.0))).unwrap();
    /// let p0 = Params::new(vec![Mat::zeros(1, 1, &0.0)]);
    /// let mut opt = Optimizer::new(Method::Gd { eta: 0.5 }, &0.0).unwrap();
    /// let traj = run(&model, &mut opt, &p0, &RunOptions::steps(4), &mut Monitor::new()).unwrap();
    /// let s = Series::loss("GD", &traj);
    /// for (k, (t, l)) in s.points.iter().enumerate() {
    ///     assert_eq!(*t, 0.5 * k as f64);
    ///     assert_eq!(*l, 0.5 * 0.25f64.powi(k as i32)); // ½ (2^-k)²
    /// }
    /// ```
    pub fn loss<S: Scalar>(label: impl Into<String>, traj: &Trajectory<S>) -> Series {
        Series::line(label, traj.times.iter().map(Scalar::to_f64).zip(traj.loss.iter().copied()).collect())
    }

    /// `(t, f(θ(t)))` for every saved state `θ(t)` of `traj`.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// let arch = Arch::deep_linear(&[1, 1]).unwrap();
    /// let model = Model::new(arch.clone(), Loss::target(Mat::eye(1, 1, &0.0))).unwrap();
    /// let p0 = Params::new(vec![Mat::zeros(1, 1, &0.0)]);
    /// let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 2.0)
    ///     .model(&model)
    ///     .save(Save::grid(2.0, 4))
    ///     .solve(&Integrator::Rk4 { h: 0.01 })
    ///     .unwrap();
    /// // Gradient flow of ½(w − 1)² from 0: w(t) = 1 − e^{−t}.
    /// let s = Series::from_trajectory("w", &traj, |p| *p.blocks[0].get(0, 0));
    /// assert_eq!(s.points.len(), 5);
    /// for (t, w) in &s.points {
    ///     assert!((w - (1.0 - (-t).exp())).abs() < 1e-9); // RK4, h = 0.01: O(h⁴) = 1e-8 · t e^{−t}
    /// }
    /// ```
    pub fn from_trajectory<S: Scalar>(
        label: impl Into<String>,
        traj: &Trajectory<S>,
        f: impl Fn(&Params<S>) -> f64,
    ) -> Series {
        Series::line(label, traj.times.iter().map(Scalar::to_f64).zip(traj.states.iter().map(f)).collect())
    }

    /// The size $\max_j\max_{ab}|Q_j(\theta(t))_{ab}|$ of a quantity (its largest entry over all
    /// its matrices) at every saved state of `traj`; 0 for a quantity with no entries.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// // Gradient flow with weight decay λ balances the network: μ(t) = e^{−2λt} μ(0).
    /// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
    /// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
    /// let model = model.with_weight_decay(0.5).unwrap();
    /// let p0 = init::gaussian(&arch, 0.7, &mut data::rng(2));
    /// let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 2.0)
    ///     .model(&model)
    ///     .save(Save::grid(2.0, 10))
    ///     .solve(&Integrator::Rk4 { h: 0.005 })
    ///     .unwrap();
    /// let s = Series::quantity("max |μ|", &model, &traj, &MomentMap);
    /// let mu0 = s.points[0].1;
    /// assert!(mu0 > 0.1);
    /// for (t, mu) in &s.points {
    ///     // RK4 at h = 0.005: truncation error O(h⁴) ≈ 1e-9, far below 1e-6.
    ///     assert!((mu - mu0 * (-t).exp()).abs() < 1e-6 * mu0);
    /// }
    /// ```
    pub fn quantity<S: Scalar, Q: Quantity<S> + ?Sized>(
        label: impl Into<String>,
        model: &Model<S>,
        traj: &Trajectory<S>,
        quantity: &Q,
    ) -> Series {
        Series::from_trajectory(label, traj, |p| {
            worst_entry(&quantity.eval(model, p)).0.map(|x| x.to_f64()).unwrap_or(0.0)
        })
    }

    /// A law's absolute deviation $|\text{observed} - \text{predicted}|$ (largest entry) at each
    /// check, against time: what [`LawReport::series`] recorded. A log axis drops exact zeros.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// let arch = Arch::deep_linear(&[2, 3, 2]).unwrap();
    /// let model = Model::new(arch.clone(), Loss::target(Mat::eye(2, 2, &0.0))).unwrap();
    /// let p0 = init::gaussian(&arch, 0.5, &mut data::rng(1));
    /// let mut opt = Optimizer::new(Method::Gd { eta: 0.1 }, &0.0).unwrap();
    /// let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
    /// let traj = run(&model, &mut opt, &p0, &RunOptions::steps(30), &mut mon).unwrap();
    /// let s = Series::law("GD drift", &traj.laws[0]);
    /// assert_eq!(s.points.len(), traj.laws[0].checks);
    /// // Balancedness is not conserved by GD, and the report's worst deviation is the largest point.
    /// let top = s.points.iter().map(|p| p.1).fold(0.0, f64::max);
    /// assert!(top > 1e-6 && top == traj.laws[0].worst_abs);
    /// ```
    pub fn law(label: impl Into<String>, report: &LawReport) -> Series {
        Series::line(label, report.series.clone()).abs()
    }

    /// `(x, f(x))` for each `x` of `xs`, drawn dashed: a closed form or a reference curve.
    ///
    /// ```
    /// use linflow::prelude::*;
    /// let s = Series::sample("e^{-t}", (0..=4).map(|k| k as f64), |t| (-t).exp());
    /// assert_eq!(s.points[2], (2.0, (-2.0f64).exp()));
    /// assert_eq!(s.style, Style::Dashed);
    /// ```
    pub fn sample(label: impl Into<String>, xs: impl IntoIterator<Item = f64>, f: impl Fn(f64) -> f64) -> Series {
        Series::line(label, xs.into_iter().map(|x| (x, f(x))).collect()).styled(Style::Dashed)
    }
}
