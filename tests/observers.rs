//! Observers (argmin's pattern): call counts against the known number of steps (fixed-step
//! methods and discrete runs: exact; adaptive methods: the solver's own count of accepted steps),
//! a loss-recording observer against the trajectory's losses, and the monitor as an observer
//! with a negative control (a wrong law is flagged).

use linflow::prelude::*;

/// Counts calls and keeps the step indices it was shown.
#[derive(Default)]
struct Counter {
    starts: usize,
    ends: usize,
    steps: Vec<usize>,
    end_step: usize,
}

impl<S: Scalar> Observer<S> for Counter {
    fn start(&mut self, obs: &Observation<S>) {
        assert_eq!(obs.step, 0);
        self.starts += 1;
    }
    fn step(&mut self, obs: &Observation<S>) {
        self.steps.push(obs.step);
    }
    fn end(&mut self, obs: &Observation<S>) {
        self.ends += 1;
        self.end_step = obs.step;
    }
}

/// Records `(step, t, loss)` of the state it is shown, through the model it is given.
#[derive(Default)]
struct LossLog(Vec<(usize, f64, f64)>);

impl<S: Scalar> Observer<S> for LossLog {
    fn step(&mut self, obs: &Observation<S>) {
        let model = obs.model.expect("a model is given");
        self.0.push((obs.step, obs.t.to_f64(), model.loss(obs.state).to_f64()));
    }
}

fn deep_problem() -> (Model<f64>, Params<f64>) {
    let arch = Arch::deep_linear(&[3, 4, 2]).unwrap();
    let model = Model::new(arch.clone(), Loss::target(data::gaussian(2, 3, 1.0, &mut data::rng(3)))).unwrap();
    let p0 = init::gaussian(&arch, 0.5, &mut data::rng(4));
    (model, p0)
}

#[test]
fn fixed_step_flow_calls_observers_once_per_step() {
    let (model, p0) = deep_problem();
    // t1 = 1 with h = 0.01: exactly 100 RK4 steps.
    let (mut all, mut every7, mut fin) = (Counter::default(), Counter::default(), Counter::default());
    let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 1.0)
        .model(&model)
        .observe(&mut all, ObserverMode::Always)
        .observe(&mut every7, ObserverMode::Every(7))
        .observe(&mut fin, ObserverMode::Final)
        .solve(&Integrator::Rk4 { h: 0.01 })
        .unwrap();
    assert!(traj.outcome.is_done());
    assert_eq!(traj.stats.accepted, 100);
    assert_eq!(all.steps, (1..=100).collect::<Vec<_>>());
    assert_eq!(every7.steps, (7..=100).step_by(7).collect::<Vec<_>>()); // 14 calls
    assert!(fin.steps.is_empty());
    for c in [&all, &every7, &fin] {
        assert_eq!((c.starts, c.ends, c.end_step), (1, 1, 100));
    }
}

#[test]
fn discrete_run_calls_observers_once_per_step() {
    let (model, p0) = deep_problem();
    let mut opt = Optimizer::new(Method::Gd { eta: 0.05 }, &0.0).unwrap();
    let (mut all, mut every10) = (Counter::default(), Counter::default());
    let traj = Run::new(&model, &mut opt, &p0, RunOptions::steps(50).save(Save::FinalOnly))
        .observe(&mut all, ObserverMode::Always)
        .observe(&mut every10, ObserverMode::Every(10))
        .run()
        .unwrap();
    assert!(traj.outcome.is_done());
    assert_eq!(all.steps, (1..=50).collect::<Vec<_>>());
    assert_eq!(every10.steps, vec![10, 20, 30, 40, 50]);
    assert_eq!((all.starts, all.ends, all.end_step), (1, 1, 50));
}

#[test]
fn adaptive_flows_show_every_accepted_step() {
    // The observers' count against each solver's own count of accepted steps.
    let (model, p0) = deep_problem();
    for integ in [
        Integrator::Dp5 { rtol: 1e-9, atol: 1e-12 },
        Integrator::Dp8 { rtol: 1e-12, atol: 1e-14 },
        Integrator::Dopri5 { rtol: 1e-9, atol: 1e-12 },
        Integrator::Dop853 { rtol: 1e-12, atol: 1e-14 },
        Integrator::Gbs { rtol: 1e-12, atol: 1e-14 },
        Integrator::Taylor {
            tol: linflow::flow::Tolerance::parse("1e-14", "tol").unwrap(),
            order: None,
            max_step: None,
        },
    ] {
        let mut all = Counter::default();
        let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 2.0)
            .model(&model)
            .save(Save::Times { times: vec![0.3, 1.0] })
            .observe(&mut all, ObserverMode::Always)
            .solve(&integ)
            .unwrap();
        assert!(traj.outcome.is_done(), "{}", integ.name());
        assert!(traj.stats.accepted >= 3, "{}: {:?}", integ.name(), traj.stats);
        assert_eq!(all.steps, (1..=traj.stats.accepted).collect::<Vec<_>>(), "{}", integ.name());
        assert_eq!(all.end_step, traj.stats.accepted, "{}", integ.name());
    }
}

#[test]
fn a_loss_observer_agrees_with_the_trajectory() {
    let (model, p0) = deep_problem();
    // Flow: saving every step, the observer's loss at step k is the trajectory's at step k.
    let mut log = LossLog::default();
    let traj = FlowProblem::new(GradientFlow::new(&model), &p0, 0.5)
        .model(&model)
        .save(Save::Every { n: 1 })
        .observe(&mut log, ObserverMode::Always)
        .solve(&Integrator::Heun { h: 0.01 })
        .unwrap();
    assert_eq!(log.0.len(), 50);
    for (k, t, l) in &log.0 {
        assert_eq!(traj.steps[*k], *k);
        assert_eq!(*l, traj.loss[*k], "step {k}");
        assert!((t - 0.01 * *k as f64).abs() < 1e-15, "step {k}: t = {t}");
    }
    // The loss decreases along gradient flow: the observer saw a real run.
    assert!(log.0.last().unwrap().2 < traj.loss[0]);

    // Discrete run saving every 5 steps: the observer's losses at those steps are the saved ones.
    let mut opt = Optimizer::new(Method::Gd { eta: 0.05 }, &0.0).unwrap();
    let mut log = LossLog::default();
    let traj = Run::new(&model, &mut opt, &p0, RunOptions::steps(40).save(Save::Every { n: 5 }))
        .observe(&mut log, ObserverMode::Every(5))
        .run()
        .unwrap();
    assert_eq!(log.0.len(), 8);
    for ((k, _, l), (step, loss)) in log.0.iter().zip(traj.steps.iter().zip(&traj.loss).skip(1)) {
        assert_eq!(k, step);
        assert_eq!(l, loss);
    }
}

#[test]
fn the_monitor_is_an_observer() {
    let (model, p0) = deep_problem();
    let eta = 0.05;
    // GD's balancedness drift, an exact η² law, checked after every step through the observer
    // interface; a wrong step size in the law (2η) is a negative control.
    let mut right = Monitor::new().track(Balancedness, Law::gd_balancedness(eta));
    let mut wrong = Monitor::new().track(Balancedness, Law::gd_balancedness(2.0 * eta));
    let mut opt = Optimizer::new(Method::Gd { eta }, &0.0).unwrap();
    Run::new(&model, &mut opt, &p0, RunOptions::steps(30))
        .observe(&mut right, ObserverMode::Always)
        .observe(&mut wrong, ObserverMode::Always)
        .run()
        .unwrap();
    let (r, w) = (&right.reports()[0], &wrong.reports()[0]);
    assert_eq!(r.checks, 30);
    // f64 rounding of a few products per step, relative to the quantity's size.
    assert!(r.worst_rel < 1e-12, "{r:?}");
    assert!(w.worst_rel > 1e-6, "the wrong law was not flagged: {w:?}");

    // For a flow, a conserved quantity checked at every accepted Gauss–Legendre step (a quadratic
    // invariant kept to the stage equations' rounding).
    let mut mon = Monitor::new().track(Balancedness, Law::Conserved);
    FlowProblem::new(GradientFlow::new(&model), &p0, 1.0)
        .model(&model)
        .observe(&mut mon, ObserverMode::Every(2))
        .solve(&Integrator::GaussLegendre { stages: 2, h: 0.05 })
        .unwrap();
    let rep = &mon.reports()[0];
    assert_eq!(rep.checks, 10);
    assert!(rep.worst_rel < 1e-12, "{rep:?}");
}
