//! Vector fields beyond plain gradient flow, all built on [`Model::grad_into`].
//!
//! | field | equation |
//! |---|---|
//! | [`SamFlow`] exact | $\dot w = -\nabla L\bigl(w + \rho\,\nabla L(w)/\|\nabla L(w)\|\bigr)$ (SAM as $\eta\to 0$ at fixed $\rho$) |
//! | [`SamFlow`] modified | $\dot w = -\nabla\bigl(L + \rho\|\nabla L\|\bigr) = -(g + \rho Hg/\|g\|)$ |
//! | [`UsamFlow`] exact | $\dot w = -\nabla L\bigl(w + \rho\,\nabla L(w)\bigr)$ |
//! | [`UsamFlow`] modified | $\dot w = -\nabla\bigl(L + \tfrac{\rho}{2}\|\nabla L\|^2\bigr) = -(g + \rho Hg)$ |
//! | [`ModifiedGdFlow`] | $\dot w = -\nabla\bigl(L + \tfrac{\eta}{4}\|\nabla L\|^2\bigr) = -(g + \tfrac{\eta}{2} Hg)$ |
//! | [`HeavyBallFlow`] | $\lambda\ddot w + \dot w + \nabla L(w) = 0$ as a first-order system on $(w, \dot w)$ |
//! | [`EndToEndFlow`] | $\dot W = -\sum_{j=1}^N (WW^\top)^{\frac{j-1}{N}}\,\nabla\ell(W)\,(W^\top W)^{\frac{N-j}{N}}$ |
//!
//! Here $g = \nabla L(w)$ and $H = \nabla^2 L(w)$.
//!
//! **Hessian-vector products.** $\nabla\tfrac12\|\nabla L\|^2 = Hg$ and
//! $\nabla\|\nabla L\| = Hg/\|g\|$. [`Hvp`] computes $Hv$ exactly by forward-mode
//! differentiation: the model's gradient runs on [`Dual`] numbers $a + b\varepsilon$,
//! $\varepsilon^2 = 0$, from the point $w + \varepsilon v$, and the $\varepsilon$ part of the
//! result is $\frac{d}{d\varepsilon}\nabla L(w + \varepsilon v)\big|_0 = Hv$. Unlike a central
//! difference it needs no step, has no truncation error, and stays exact in rationals, at the
//! price of about three gradient evaluations.

use super::VectorField;
use crate::error::{Error, Result};
use crate::mat::Mat;
use crate::model::{Arch, Model, Workspace};
use crate::params::Params;
use crate::scalar::{Real, Scalar};
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

// ---------------------------------------------------------------------------------------------
// Dual numbers.

/// A dual number $a + b\varepsilon$ with $\varepsilon^2 = 0$ over a [`Scalar`] `S`: arithmetic on
/// it carries the directional derivative $b$ of every value along with the value $a$.
#[derive(Clone, Debug, PartialEq)]
pub struct Dual<S> {
    /// Value $a$.
    pub re: S,
    /// Derivative part $b$.
    pub eps: S,
}

impl<S: Scalar> Dual<S> {
    /// $a + b\varepsilon$.
    pub fn new(re: S, eps: S) -> Self {
        Dual { re, eps }
    }
    /// $a + 0\varepsilon$.
    pub fn constant(re: S) -> Self {
        let eps = re.zero_like();
        Dual { re, eps }
    }
}

impl<S: Scalar> fmt::Display for Dual<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + {}ε", self.re, self.eps)
    }
}

impl<S: Scalar> PartialOrd for Dual<S> {
    /// Orders by the value part.
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

impl<S: Scalar> Add for Dual<S> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Dual { re: self.re + o.re, eps: self.eps + o.eps }
    }
}
impl<S: Scalar> Sub for Dual<S> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Dual { re: self.re - o.re, eps: self.eps - o.eps }
    }
}
impl<S: Scalar> Mul for Dual<S> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let mut eps = self.re.clone() * o.eps;
        eps.mul_add_assign(&self.eps, &o.re);
        Dual { re: self.re * o.re, eps }
    }
}
impl<S: Scalar> Div for Dual<S> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        // (a + bε)/(c + dε) = a/c + (bc − ad)/c² ε.
        let re = self.re.clone() / o.re.clone();
        let eps = (self.eps - re.clone() * o.eps) / o.re;
        Dual { re, eps }
    }
}
impl<S: Scalar> Neg for Dual<S> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual { re: -self.re, eps: -self.eps }
    }
}
impl<S: Scalar> AddAssign<&Dual<S>> for Dual<S> {
    fn add_assign(&mut self, o: &Self) {
        self.re += &o.re;
        self.eps += &o.eps;
    }
}
impl<S: Scalar> SubAssign<&Dual<S>> for Dual<S> {
    fn sub_assign(&mut self, o: &Self) {
        self.re -= &o.re;
        self.eps -= &o.eps;
    }
}
impl<S: Scalar> MulAssign<&Dual<S>> for Dual<S> {
    fn mul_assign(&mut self, o: &Self) {
        let v = self.clone() * o.clone();
        *self = v;
    }
}
impl<S: Scalar> DivAssign<&Dual<S>> for Dual<S> {
    fn div_assign(&mut self, o: &Self) {
        let v = self.clone() / o.clone();
        *self = v;
    }
}

impl<S: Scalar> Scalar for Dual<S> {
    fn zero_like(&self) -> Self {
        Dual::constant(self.re.zero_like())
    }
    fn from_f64_like(&self, x: f64) -> Self {
        Dual::constant(self.re.from_f64_like(x))
    }
    fn from_q_like(&self, q: &crate::scalar::Q) -> Self {
        Dual::constant(self.re.from_q_like(q))
    }
    fn from_i64_like(&self, n: i64) -> Self {
        Dual::constant(self.re.from_i64_like(n))
    }
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        Dual::constant(self.re.ratio_like(num, den))
    }
    fn to_f64(&self) -> f64 {
        self.re.to_f64()
    }
    fn abs(&self) -> Self {
        if self.re < self.re.zero_like() {
            -self.clone()
        } else {
            self.clone()
        }
    }
    fn is_finite(&self) -> bool {
        self.re.is_finite() && self.eps.is_finite()
    }
    fn is_zero(&self) -> bool {
        self.re.is_zero() && self.eps.is_zero()
    }
    fn precision(&self) -> Option<u32> {
        self.re.precision()
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        self.re.mul_add_assign(&a.re, &b.re);
        self.eps.mul_add_assign(&a.re, &b.eps);
        self.eps.mul_add_assign(&a.eps, &b.re);
    }
    fn kind_name(&self) -> String {
        format!("dual<{}>", self.re.kind_name())
    }
    fn try_sqrt(&self) -> Option<Self> {
        let s = self.re.try_sqrt()?;
        if s.is_zero() {
            return self.eps.is_zero().then(|| self.clone());
        }
        let eps = self.eps.clone() / (s.clone() + s.clone());
        Some(Dual { re: s, eps })
    }
}

// ---------------------------------------------------------------------------------------------
// Hessian-vector products.

/// Exact Hessian-vector products $\nabla^2 L(w)\,v$ of a model's loss (with its weight decay),
/// by the model's own gradient run on [`Dual`] numbers.
pub struct Hvp<S: Scalar> {
    model: Model<Dual<S>>,
    ws: Option<Workspace<Dual<S>>>,
    point: Option<Params<Dual<S>>>,
    out: Option<Params<Dual<S>>>,
}

impl<S: Scalar> Hvp<S> {
    /// Hessian-vector products of `model`.
    pub fn new(model: &Model<S>) -> Self {
        Hvp { model: model.map(|x| Dual::constant(x.clone())), ws: None, point: None, out: None }
    }

    /// Writes $\nabla L(w)$ into `grad` and $\nabla^2 L(w)\,v$ into `hv`; returns $L(w)$.
    pub fn eval(&mut self, w: &Params<S>, v: &Params<S>, grad: &mut Params<S>, hv: &mut Params<S>) -> S {
        let proto = Dual::constant(w.proto());
        let point = self.point.get_or_insert_with(|| Params::new(w.blocks.iter().map(|b| dual_block(b)).collect()));
        for ((p, a), b) in point.iter_mut().zip(w.iter()).zip(v.iter()) {
            p.re.clone_from(a);
            p.eps.clone_from(b);
        }
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&proto));
        let out = self.out.get_or_insert_with(|| point.zeros_like());
        let value = self.model.grad_into(ws, point, None, out);
        for ((o, g), h) in out.iter().zip(grad.iter_mut()).zip(hv.iter_mut()) {
            g.clone_from(&o.re);
            h.clone_from(&o.eps);
        }
        value.re
    }
}

fn dual_block<S: Scalar>(b: &Mat<S>) -> Mat<Dual<S>> {
    b.map(|x| Dual::constant(x.clone()))
}

// ---------------------------------------------------------------------------------------------
// SAM and USAM flows, GD's modified flow.

/// Which continuous limit of a SAM-type method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamForm {
    /// The exact small-step limit at fixed ρ: the gradient at the ascent point.
    Exact,
    /// The first-order modified flow (gradient flow of the penalized loss).
    Modified,
}

/// SAM's continuous limits (joint normalization over all blocks), see the [module](self) table.
/// Where $\nabla L = 0$ the ascent direction is taken as zero, as in the discrete method.
pub struct SamFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    rho: S,
    form: SamForm,
    ws: Option<Workspace<S>>,
    hvp: Option<Hvp<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Real> SamFlow<'a, S> {
    /// SAM's flow with radius `rho` (≥ 0, finite) in the given form.
    pub fn new(model: &'a Model<S>, rho: S, form: SamForm) -> Result<Self> {
        check_nonneg("rho", &rho)?;
        Ok(SamFlow { model, rho, form, ws: None, hvp: None, g: None })
    }
}

impl<S: Real> VectorField<S> for SamFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        match self.form {
            SamForm::Exact => {
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let norm = g.norm_sq().sqrt();
                let mut pert = y.clone();
                if !norm.is_zero() {
                    pert.axpy(&(self.rho.clone() / norm), g);
                }
                self.model.grad_into(ws, &pert, None, dy);
            }
            SamForm::Modified => {
                let hvp = self.hvp.get_or_insert_with(|| Hvp::new(self.model));
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let gc = g.clone();
                hvp.eval(y, &gc, g, dy);
                let norm = g.norm_sq().sqrt();
                if norm.is_zero() {
                    dy.clone_from(g);
                } else {
                    dy.scale_mut(&(self.rho.clone() / norm));
                    dy.axpy(&self.rho.one_like(), g);
                }
            }
        }
        dy.scale_mut(&-self.rho.one_like());
    }
    fn name(&self) -> String {
        match self.form {
            SamForm::Exact => format!("SAM flow (rho = {})", self.rho.to_f64()),
            SamForm::Modified => format!("SAM modified flow on L + rho |grad L| (rho = {})", self.rho.to_f64()),
        }
    }
}

fn check_nonneg<S: Scalar>(field: &str, x: &S) -> Result<()> {
    if !x.is_finite() || *x < x.zero_like() {
        return Err(Error::invalid(field, format!("must be finite and >= 0, got {x}")));
    }
    Ok(())
}

/// Gradient flow of $L + \tfrac{c}{2}\|\nabla L\|^2$: writes $-(g + cHg)$ into `dy` (one plain
/// gradient for $g$, then one dual pass for $Hg$).
fn grad_norm_penalty<S: Scalar>(
    model: &Model<S>,
    ws: &mut Workspace<S>,
    hvp: &mut Hvp<S>,
    g: &mut Params<S>,
    c: &S,
    y: &Params<S>,
    dy: &mut Params<S>,
) {
    model.grad_into(ws, y, None, g);
    let gc = g.clone();
    hvp.eval(y, &gc, g, dy);
    dy.scale_mut(c);
    dy.axpy(&c.one_like(), g);
    dy.scale_mut(&-c.one_like());
}

/// USAM's continuous limits (no normalization), see the [module](self) table. Polynomial fields:
/// they run in every number type, exact rationals included.
pub struct UsamFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    rho: S,
    form: SamForm,
    ws: Option<Workspace<S>>,
    hvp: Option<Hvp<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> UsamFlow<'a, S> {
    /// USAM's flow with ascent factor `rho` (≥ 0, finite) in the given form.
    pub fn new(model: &'a Model<S>, rho: S, form: SamForm) -> Result<Self> {
        check_nonneg("rho", &rho)?;
        Ok(UsamFlow { model, rho, form, ws: None, hvp: None, g: None })
    }
}

impl<S: Scalar> VectorField<S> for UsamFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        match self.form {
            SamForm::Exact => {
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                self.model.grad_into(ws, y, None, g);
                let mut pert = y.clone();
                pert.axpy(&self.rho, g);
                self.model.grad_into(ws, &pert, None, dy);
                dy.scale_mut(&-self.rho.one_like());
            }
            SamForm::Modified => {
                let hvp = self.hvp.get_or_insert_with(|| Hvp::new(self.model));
                let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
                grad_norm_penalty(self.model, ws, hvp, g, &self.rho, y, dy);
            }
        }
    }
    fn name(&self) -> String {
        match self.form {
            SamForm::Exact => format!("USAM flow (rho = {})", self.rho.to_f64()),
            SamForm::Modified => format!("USAM modified flow on L + rho/2 |grad L|^2 (rho = {})", self.rho.to_f64()),
        }
    }
}

/// Gradient descent's first-order modified flow (Barrett–Dherin): gradient flow on
/// $L + \tfrac{\eta}{4}\|\nabla L\|^2$, which GD with step η follows to $O(\eta^2)$ at fixed time.
pub struct ModifiedGdFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    half_eta: S,
    hvp: Hvp<S>,
    ws: Option<Workspace<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> ModifiedGdFlow<'a, S> {
    /// The modified flow of GD with step `eta` (> 0, finite).
    pub fn new(model: &'a Model<S>, eta: S) -> Result<Self> {
        if !eta.is_finite() || eta <= eta.zero_like() {
            return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {eta}")));
        }
        let half_eta = eta.clone() * eta.ratio_like(1, 2);
        Ok(ModifiedGdFlow { model, half_eta, hvp: Hvp::new(model), ws: None, g: None })
    }
}

impl<S: Scalar> VectorField<S> for ModifiedGdFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let g = self.g.get_or_insert_with(|| y.zeros_like());
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&y.proto()));
        grad_norm_penalty(self.model, ws, &mut self.hvp, g, &self.half_eta, y, dy);
    }
    fn name(&self) -> String {
        format!("GD modified flow on L + eta/4 |grad L|^2 (eta = {})", 2.0 * self.half_eta.to_f64())
    }
}

// ---------------------------------------------------------------------------------------------
// Heavy-ball momentum flow.

/// The model's own blocks of a state: phase-space states (heavy ball's $(w, \dot w)$) append
/// blocks after the model's, and the integrators check and evaluate the loss on the leading ones.
pub(crate) fn position<'y, S: Scalar>(model: &Model<S>, y: &'y Params<S>) -> std::borrow::Cow<'y, Params<S>> {
    let nb = model.arch.depth();
    if y.blocks.len() > nb {
        std::borrow::Cow::Owned(Params::new(y.blocks[..nb].to_vec()))
    } else {
        std::borrow::Cow::Borrowed(y)
    }
}

/// Heavy-ball momentum as a first-order system: the state is $(w, \dot w)$, the model's blocks
/// followed by as many velocity blocks, and
/// $$\dot w = v,\qquad \dot v = -\bigl(v + \nabla L(w)\bigr)/\lambda,$$
/// i.e. $\lambda\ddot w + \dot w + \nabla L(w) = 0$ (Papazov–Pesme–Flammarion). Discrete heavy
/// ball with step γ and momentum β (and $w_{-1} = w_0$) follows it with $\lambda = \gamma/(1-\beta)^2$,
/// one step covering $\Delta t = \gamma/(1-\beta)$, from $\dot w(0) = 0$ ([`HeavyBallFlow::initial`]).
/// [`crate::flow::solve`] checks and evaluates the loss on the leading (position) blocks; a
/// [`crate::invariants::Monitor`] passed to it sees the whole phase state (quantities that read
/// the first blocks only, such as `DiagonalBalance` or `FactorBalance`, read the position).
pub struct HeavyBallFlow<'a, S: Scalar> {
    model: &'a Model<S>,
    inv_lambda: S,
    lambda: S,
    ws: Option<Workspace<S>>,
    g: Option<Params<S>>,
}

impl<'a, S: Scalar> HeavyBallFlow<'a, S> {
    /// The momentum flow with $\lambda > 0$.
    pub fn new(model: &'a Model<S>, lambda: S) -> Result<Self> {
        if !lambda.is_finite() || lambda <= lambda.zero_like() {
            return Err(Error::invalid("lambda", format!("must be finite and > 0, got {lambda}")));
        }
        Ok(HeavyBallFlow { model, inv_lambda: lambda.one_like() / lambda.clone(), lambda, ws: None, g: None })
    }

    /// $\lambda = \gamma/(1-\beta)^2$ of heavy ball with step `eta` = γ > 0 and momentum `beta` ∈ [0, 1).
    pub fn lambda_of(eta: f64, beta: f64) -> Result<f64> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(Error::invalid("eta", format!("step size must be finite and > 0, got {eta}")));
        }
        if !(0.0..1.0).contains(&beta) {
            return Err(Error::invalid("beta", format!("momentum must be in [0, 1), got {beta}")));
        }
        Ok(eta / ((1.0 - beta) * (1.0 - beta)))
    }

    /// λ.
    pub fn lambda(&self) -> &S {
        &self.lambda
    }

    /// The phase-space state $(w_0, 0)$.
    pub fn initial(w0: &Params<S>) -> Params<S> {
        let mut blocks = w0.blocks.clone();
        blocks.extend(w0.blocks.iter().map(Mat::zeros_like));
        Params::new(blocks)
    }

    /// The position part $w$ of a phase-space state.
    pub fn position(y: &Params<S>) -> Params<S> {
        Params::new(y.blocks[..y.blocks.len() / 2].to_vec())
    }

    /// The velocity part $\dot w$ of a phase-space state.
    pub fn velocity(y: &Params<S>) -> Params<S> {
        Params::new(y.blocks[y.blocks.len() / 2..].to_vec())
    }
}

impl<S: Scalar> VectorField<S> for HeavyBallFlow<'_, S> {
    fn eval(&mut self, _t: &S, y: &Params<S>, dy: &mut Params<S>) {
        let n = y.blocks.len() / 2;
        let w = Params::new(y.blocks[..n].to_vec());
        let g = self.g.get_or_insert_with(|| w.zeros_like());
        let ws = self.ws.get_or_insert_with(|| self.model.workspace(&w.proto()));
        self.model.grad_into(ws, &w, None, g);
        let m = -self.inv_lambda.clone();
        for j in 0..n {
            dy.blocks[j].clone_from(&y.blocks[n + j]);
            let mut a = y.blocks[n + j].clone();
            a.axpy(&a.proto().one_like(), &g.blocks[j]);
            a.scale_mut(&m);
            dy.blocks[n + j] = a;
        }
    }
    fn name(&self) -> String {
        format!("heavy-ball flow (lambda = {})", self.lambda.to_f64())
    }
}

// ---------------------------------------------------------------------------------------------
// End-to-end flow.

/// The Arora–Cohen–Hazan end-to-end flow of a depth-`N` linear network on its product
/// $W = W_N\cdots W_1$,
/// $$\dot W = -\sum_{j=1}^N (WW^\top)^{\frac{j-1}{N}}\,\nabla\ell(W)\,(W^\top W)^{\frac{N-j}{N}},$$
/// which the product follows exactly under gradient flow from a balanced start
/// ($W_{j+1}^\top W_{j+1} = W_jW_j^\top$). The state is the single block $W$; `loss_model` is the
/// depth-1 model `Arch::DeepLinear { widths: [d_0, d_N] }` with the loss ℓ (use it for
/// [`crate::flow::solve`] too). `f64` only: fractional powers come from a symmetric
/// eigendecomposition (nalgebra), with eigenvalues below `1e-13·λ_max` (round-off in the exact zeros
/// of a rank-deficient $WW^\top$) set to zero before the power is taken.
pub struct EndToEndFlow<'a> {
    loss_model: &'a Model<f64>,
    depth: usize,
    ws: Option<Workspace<f64>>,
}

impl<'a> EndToEndFlow<'a> {
    /// The end-to-end flow of depth `depth` ≥ 1 for the depth-1 model `loss_model`.
    pub fn new(loss_model: &'a Model<f64>, depth: usize) -> Result<Self> {
        if depth == 0 {
            return Err(Error::invalid("depth", "must be at least 1"));
        }
        match &loss_model.arch {
            Arch::DeepLinear { widths } if widths.len() == 2 => {}
            a => {
                return Err(Error::invalid(
                    "loss_model",
                    format!("the end-to-end flow acts on W: give a depth-1 deep linear model, got {}", a.name()),
                ))
            }
        }
        if loss_model.weight_decay.is_some() {
            return Err(Error::invalid("loss_model", "weight decay is not a function of W alone"));
        }
        Ok(EndToEndFlow { loss_model, depth, ws: None })
    }
}

/// $M^p$ for a symmetric positive semidefinite $M$ (eigenvalues below `1e-13·λ_max` set to zero;
/// $0^0 = 1$).
pub fn psd_power(m: &nalgebra::DMatrix<f64>, p: f64) -> nalgebra::DMatrix<f64> {
    let n = m.nrows();
    if p == 0.0 {
        return nalgebra::DMatrix::identity(n, n);
    }
    let e = nalgebra::SymmetricEigen::new(m.clone());
    let top = e.eigenvalues.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
    let vals = e.eigenvalues.map(|l| if l > 1e-13 * top { l.powf(p) } else { 0.0 });
    &e.eigenvectors * nalgebra::DMatrix::from_diagonal(&vals) * e.eigenvectors.transpose()
}

impl VectorField<f64> for EndToEndFlow<'_> {
    fn eval(&mut self, _t: &f64, y: &Params<f64>, dy: &mut Params<f64>) {
        let ws = self.ws.get_or_insert_with(|| self.loss_model.workspace(&0.0));
        self.loss_model.grad_into(ws, y, None, dy);
        let w = y.blocks[0].to_na();
        let g = dy.blocks[0].to_na();
        let (wwt, wtw) = (&w * w.transpose(), w.transpose() * &w);
        let n = self.depth as f64;
        let mut acc = nalgebra::DMatrix::zeros(w.nrows(), w.ncols());
        for j in 1..=self.depth {
            let left = psd_power(&wwt, (j - 1) as f64 / n);
            let right = psd_power(&wtw, (self.depth - j) as f64 / n);
            acc += left * &g * right;
        }
        dy.blocks[0] = Mat::from_na(&(-acc));
    }
    fn name(&self) -> String {
        format!("end-to-end flow (depth {})", self.depth)
    }
}
