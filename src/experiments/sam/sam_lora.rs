//! `sam-lora`: LoRA-like layers under SAM and SGD: per-layer balancedness, its exact per-layer
//! drift, and how joint normalization slows each layer.

use crate::compare::{nan_max, nan_min};
use crate::data;
use crate::error::{Error, Result};
use crate::experiments::{Check, Experiment, Recipe};
use crate::invariants::Law;
use crate::mat::Mat;
use crate::model::{Arch, Loss, Model};
use crate::optim::StepRecord;
use crate::params::Params;
use crate::report::{Figure, Series, Style};

/// What one LoRA run measured.
#[derive(Clone, Debug)]
pub struct LoraRun {
    /// Per layer, $(t, B_l(t))$.
    pub b: Vec<Vec<(f64, f64)>>,
    /// The worst relative deviation from the per-layer exact identity over all steps and layers.
    pub identity: f64,
}

/// `layers` LoRA-like layers `½‖X_lY_lᵀ − (A_l + αN)‖²` (`m×n`, rank `r`, `A_l` of rank `r`,
/// fresh i.i.d. noise), trained jointly by SAM (one normalization over all layers, `rho > 0`) or
/// by SGD (`rho = 0`); start `X_l ~ 0.8·N(0,1)`, `Y_l = 0` (LoRA's initialization).
fn lora_run(
    layers: usize,
    shape: (usize, usize, usize),
    alpha: f64,
    eta: f64,
    rho: f64,
    t1: f64,
    seed: u64,
) -> Result<LoraRun> {
    let (m, n, r) = shape;
    let arch = Arch::Factor { d1: m, d2: n, r };
    let mut rng = data::rng(seed);
    let targets: Vec<Mat<f64>> = (0..layers).map(|_| data::low_rank(m, n, r, &mut rng)).collect();
    let mut models: Vec<Model<f64>> =
        targets.iter().map(|a| Model::new(arch.clone(), Loss::target(a.clone()))).collect::<Result<_>>()?;
    let mut ps: Vec<Params<f64>> =
        (0..layers).map(|_| Params::new(vec![data::gaussian(m, r, 0.8, &mut rng), Mat::zeros(n, r, &0.0)])).collect();
    let mut ws: Vec<_> = models.iter().map(|md| md.workspace(&0.0)).collect();
    let law = Law::sam_factor(eta, rho);
    let Law::ExactDrift { f, .. } = &law else { unreachable!("sam_factor is a drift law") };
    let steps = (t1 / eta).round() as usize;
    let every = (steps / 200).max(1);
    let bal = |p: &Params<f64>| 0.5 * (p.blocks[0].norm_sq() - p.blocks[1].norm_sq());
    let mut out = LoraRun { b: ps.iter().map(|p| vec![(0.0, bal(p))]).collect(), identity: 0.0 };
    let mut noise_rng = data::rng(seed + 1);
    for k in 1..=steps {
        for (md, a) in models.iter_mut().zip(&targets) {
            if let Loss::Target { phi } = &mut md.loss {
                *phi = a.add(&data::gaussian(m, n, alpha, &mut noise_rng));
            }
        }
        let gs: Vec<Params<f64>> = (0..layers)
            .map(|l| {
                let mut g = ps[l].zeros_like();
                models[l].grad_into(&mut ws[l], &ps[l], None, &mut g);
                g
            })
            .collect();
        let norm = gs.iter().map(|g| g.norm_sq()).sum::<f64>().sqrt();
        let u = if rho > 0.0 && norm > 0.0 { Some(1.0 / norm) } else { None };
        for l in 0..layers {
            let h = match u {
                Some(u) => {
                    let mut pert = ps[l].clone();
                    pert.axpy(&(rho * u), &gs[l]);
                    let mut h = ps[l].zeros_like();
                    models[l].grad_into(&mut ws[l], &pert, None, &mut h);
                    h
                }
                None => gs[l].clone(),
            };
            let rec = StepRecord {
                before: ps[l].clone(),
                grads: vec![gs[l].clone(), h.clone()],
                ascent: u,
                loss: 0.0,
                batch: None,
                momentum: None,
            };
            ps[l].axpy(&-eta, &h);
            let pred = f(&models[l], &rec)[0].get(0, 0).to_owned();
            let now = bal(&ps[l]);
            out.identity = nan_max([out.identity, (now - pred).abs() / now.abs().max(1e-300)]);
            if k % every == 0 || k == steps {
                out.b[l].push((k as f64 * eta, now));
            }
        }
        if ps.iter().any(|p| !p.is_finite()) {
            return Err(Error::Other(format!("LoRA run diverged at step {k}")));
        }
    }
    Ok(out)
}

/// What `sam-lora` measures.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Three layers under SAM (joint normalization).
    pub sam: LoraRun,
    /// The same three layers under SGD.
    pub sgd: LoraRun,
    /// One layer alone under SAM.
    pub alone: LoraRun,
}

impl Measured {
    /// $\min_l |B_T^{SGD}| / |B_T^{SAM}|$ over the layers.
    pub fn min_gain(&self) -> f64 {
        nan_min((0..self.sam.b.len()).map(|l| {
            let (b_sam, b_sgd) = (self.sam.b[l].last().expect("B").1, self.sgd.b[l].last().expect("B").1);
            b_sgd.abs() / b_sam.abs()
        }))
    }

    /// $\ln|B_T/B_0|$ of layer 0 alone and jointly with three layers.
    pub fn decays(&self) -> (f64, f64) {
        let decay = |series: &[(f64, f64)]| (series.last().expect("B").1 / series[0].1).abs().ln();
        (decay(&self.alone.b[0]), decay(&self.sam.b[0]))
    }
}

/// Three LoRA-like layers (8×6, rank 2) under SAM ($\rho = 0.1$) and SGD, and one layer alone under
/// SAM, with noise $\alpha = 1$, $\eta = 10^{-3}$ over $t \le 20$ (the same in quick mode).
pub fn measure(_quick: bool) -> Result<Measured> {
    let shape = (8, 6, 2);
    let (eta, rho, alpha) = (1e-3, 0.1, 1.0);
    let t1 = 20.0;
    let layers = 3;
    Ok(Measured {
        sam: lora_run(layers, shape, alpha, eta, rho, t1, 91)?,
        sgd: lora_run(layers, shape, alpha, eta, 0.0, t1, 91)?,
        alone: lora_run(1, shape, alpha, eta, rho, t1, 91)?,
    })
}

/// The exact per-layer drift, SAM's balancing of every layer, and the slowdown of joint normalization.
pub fn checks(m: &Measured) -> Vec<Check> {
    let (d_alone, d_joint) = m.decays();
    vec![
        Check::at_most(
            "per-layer-exact-drift",
            "each layer's B changes by exactly eta rho u (<g_x,h_x> - <g_y,h_y>)_l + (eta^2/2)(|h_x|^2 - |h_y|^2)_l with the \
             joint u = 1/|g| over all layers (rounding only: 1e-12 relative), SAM and SGD runs",
            nan_max([m.sam.identity, m.sgd.identity]),
            1e-12,
        ),
        Check::at_least(
            "sam-balances-every-layer",
            "with gradient noise SAM leaves every layer at least 1.5x more balanced than SGD (|B_T| ratio SGD/SAM), SGD moving \
             B only by its O(eta) drift",
            m.min_gain(),
            1.5,
        ),
        Check::at_least(
            "curse-of-multi-layer",
            "the same layer balances more slowly when SAM normalizes jointly over 3 layers than alone (Theorem 5: the \
             per-layer rate is divided by the joint gradient norm): ln|B_T/B_0| alone / joint >= 1.2",
            d_alone / d_joint,
            1.2,
        ),
    ]
}

/// Each layer's balancedness at the start and the end, and the two decays.
pub fn notes(m: &Measured) -> Vec<String> {
    let mut v: Vec<String> = (0..m.sam.b.len())
        .map(|l| {
            format!(
                "layer {l}: B_0 = {:.4}, SGD B_T = {:.4}, SAM B_T = {:.4}",
                m.sam.b[l][0].1,
                m.sgd.b[l].last().expect("B").1,
                m.sam.b[l].last().expect("B").1
            )
        })
        .collect();
    let (d_alone, d_joint) = m.decays();
    v.push(format!("layer 0 ln|B_T/B_0|: alone {d_alone:.4}, jointly with 3 layers {d_joint:.4}"));
    v
}

/// $|B_l(t)|$ under SAM and SGD, and of the layer alone.
pub fn figures(m: &Measured) -> Vec<Figure> {
    let abs = |s: &[(f64, f64)]| s.iter().map(|&(t, b)| (t, b.abs())).collect::<Vec<_>>();
    let mut fig = Figure::new("sam_lora", "Per-layer balancedness, SAM vs SGD", "time t", "|B_l(t)|").log_y();
    for l in 0..m.sam.b.len() {
        fig = fig.with(Series::line(format!("SAM layer {l}"), abs(&m.sam.b[l])));
        fig = fig.with(Series::line(format!("SGD layer {l}"), abs(&m.sgd.b[l])).styled(Style::Dashed));
    }
    vec![fig.with(Series::line("SAM layer 0 alone", abs(&m.alone.b[0])))]
}

const RECIPE: Recipe<Measured> = Recipe {
    name: "sam-lora",
    description: "LoRA-like layers X_l Y_l^T (8x6, rank 2, Y_0 = 0) with fresh i.i.d. target noise, trained jointly by SAM \
         (rho = 0.1, noise alpha = 1, one normalization over all layers) and by SGD (eta = 1e-3): per-layer balancedness \
         B_l = (|X_l|^2 - |Y_l|^2)/2.",
    measure,
    checks,
    figures,
    notes,
};

/// The `sam-lora` experiment.
pub fn experiment() -> Experiment {
    Experiment {
        name: RECIPE.name,
        about: "LoRA-like layers under SAM vs SGD: per-layer balancedness, exact per-layer drift, joint normalization slows each layer",
        run: |ctx| RECIPE.run(ctx),
    }
}
