//! Taylor coefficients in fixed point: the tape of the one gradient swept on integers.
//!
//! At a few hundred bits most of an MPFR product's time is spent outside the limb
//! multiplication (rounding, exponent and sign handling, normalisation), once per term of every
//! Cauchy sum $(ab)_k = \sum_{j} a_j b_{k-j}$. Here each series is carried as integers:
//! coefficient $k$ of a slot is $A_k = \operatorname{round}(a_k\,\sigma^k\,2^F)$ with a step
//! scale $\sigma > 0$ and $F$ fractional bits. The substitution $t \mapsto \sigma t$ is a ring
//! homomorphism on series, so the scaled coefficients obey the same recurrences, and every term of a
//! Cauchy sum carries the same scale $2^{2F}$: the sum is exact in integers (GMP's multiply-add)
//! and rounded once, by a shift of $F$ bits. With $\sigma$ about the step, the scaled terms
//! $a_k\sigma^k$ decrease like the terms of the step's series, so the small high orders have few
//! limbs by themselves (the tapering that [`super::integrators::TaylorSeries`] does by hand with
//! MPFR precisions).
//!
//! Each operation rounds once, by at most one unit of $2^{-F}$ in the scaled coefficient; a term
//! $a_k h^k = (a_k\sigma^k)(h/\sigma)^k$ of a step $h \le \sigma$ then errs by at most that unit
//! times the operation count, relative to $\max(1,\|y\|_\infty)$, the scale of Jorba–Zou's
//! tolerance. $F$ is the working precision plus guard bits.

use super::tape::{Arg, Instr, Tape};
use crate::scalar::Mp;
use rug::{Assign, Integer};

/// `x · 2^n` for either sign of `n` (a right shift floors).
fn shift(x: &mut Integer, n: i64) {
    match n {
        n if n > 0 => *x <<= n as u32,
        n if n < 0 => *x >>= (-n) as u32,
        _ => {}
    }
}

/// A constant as $M\,2^e$ with $M$ carrying `bits` significant bits, for products and quotients.
#[derive(Clone, Debug)]
struct Factor {
    m: Integer,
    e: i64,
}

impl Factor {
    fn new(c: &Mp, bits: u32) -> Self {
        if c.is_zero() {
            return Factor { m: Integer::new(), e: 0 };
        }
        let (_, exp) = c.to_f64_exp();
        let e = i64::from(exp) - i64::from(bits);
        let mut f = c.clone();
        f <<= -(e as i32);
        let m = f.to_integer().unwrap_or_default();
        Factor { m, e }
    }

    /// `x ← x · c`.
    fn mul(&self, x: &mut Integer) {
        *x *= &self.m;
        shift(x, self.e);
    }

    /// `x ← x / c`, with `guard` extra bits in the quotient before it is rounded.
    fn div(&self, x: &mut Integer, guard: u32) {
        *x <<= guard;
        *x /= &self.m;
        shift(x, -self.e - i64::from(guard));
    }
}

/// The tape of a gradient swept in fixed point; see the module documentation.
pub struct FixedSeries {
    /// Fractional bits $F$.
    frac: u32,
    /// Coefficient `j` of slot `s` is at `s * stride + j`.
    stride: usize,
    coef: Vec<Integer>,
    /// The tape's constants in fixed point (for sums: $\operatorname{round}(c\,2^F)$).
    add: Vec<Integer>,
    /// The tape's constants as factors (for products and quotients).
    fac: Vec<Factor>,
    acc: Integer,
    /// The flow's time scale $c$ in $\dot y = -c\nabla L$ (`None` for 1).
    time_scale: Option<Mp>,
    out: Integer,
    /// $\sigma^{-k}$, `k = 0..=p`, for reading the scaled coefficients back.
    inv_pow: Vec<Mp>,
}

impl FixedSeries {
    /// Storage for series of order `p` of every slot of `tape`, with `frac` fractional bits.
    pub fn new(tape: &Tape<Mp>, p: usize, frac: u32) -> Self {
        let add = tape
            .consts
            .iter()
            .map(|c| {
                let mut f = c.clone();
                f <<= frac;
                f.to_integer().unwrap_or_default()
            })
            .collect();
        let fac = tape.consts.iter().map(|c| Factor::new(c, frac)).collect();
        FixedSeries {
            frac,
            stride: p + 1,
            coef: vec![Integer::new(); tape.slots() * (p + 1)],
            add,
            fac,
            acc: Integer::new(),
            time_scale: None,
            out: Integer::new(),
            inv_pow: Vec::new(),
        }
    }

    /// Sets the time scale $c$ of $\dot y = -c\nabla L$ (`None` for 1).
    pub fn with_time_scale(mut self, c: Option<&Mp>) -> Self {
        self.time_scale = c.cloned();
        self
    }

    /// Sets order 0 of variable `i` to $\operatorname{round}(v\,2^F)$.
    pub fn set_var(&mut self, i: usize, v: &Mp) {
        let mut f = v.clone();
        f <<= self.frac;
        self.coef[i * self.stride] = f.to_integer().unwrap_or_default();
    }

    /// Order `k` of output `o` of `tape`, into `dst`.
    pub fn output(&self, tape: &Tape<Mp>, o: usize, k: usize, dst: &mut Integer) {
        match tape.outputs[o] {
            Arg::Slot(s) => dst.assign(&self.coef[s as usize * self.stride + k]),
            Arg::Const(c) if k == 0 => dst.assign(&self.add[c as usize]),
            Arg::Const(_) => dst.assign(0),
        }
    }

    /// The scaled coefficient `x` of order `k` as a number, $x\,\sigma^{-k}\,2^{-F}$, rounded to
    /// `dst`'s precision (σ of the last [`FixedSeries::flow_coefficients`]).
    fn to_float(&self, x: &Integer, k: usize, dst: &mut Mp) {
        dst.assign(x);
        if k > 0 {
            *dst *= &self.inv_pow[k];
        }
        *dst >>= self.frac as i32;
    }

    /// The gradient flow's order-$(k+1)$ coefficient from the tape's order-$k$ output `o`:
    /// $c\,\sigma\,G_k/(k+1)$ (scaled; `cs` is $c\sigma$), into `g`.
    fn next_order(&self, tape: &Tape<Mp>, o: usize, k: usize, cs: &Factor, g: &mut Integer) {
        self.output(tape, o, k, g);
        cs.mul(g);
        *g /= k as u32 + 1;
    }

    /// The Taylor coefficients $y_0,\dots,y_p$ at `y` of the gradient flow whose gradient `tape`
    /// records, $y_{k+1} = -c\,(\nabla L)_k/(k+1)$, computed with step scale `sigma` and
    /// written (unscaled) into `coef` (coefficient `k` of variable `i` at `i * (p + 1) + k`,
    /// rounded to that element's precision); with `energy`, the series of the tape's last output
    /// integrated, $e_{k+1} = c\,(\|\nabla L\|^2)_k/(k+1)$, into `energy[1..=p]`. Only orders
    /// `0..=orders` (at most `p`) are computed and written.
    pub fn flow_coefficients(
        &mut self,
        tape: &Tape<Mp>,
        y: &[&Mp],
        sigma: &Mp,
        coef: &mut [Mp],
        mut energy: Option<&mut [Mp]>,
        orders: usize,
    ) {
        let (nv, stride) = (tape.nvars, self.stride);
        let p = orders.min(stride - 1);
        let mut cs = Mp::with_val(self.frac, sigma);
        if let Some(c) = &self.time_scale {
            cs *= c;
        }
        let cs = Factor::new(&cs, self.frac);
        let inv = Mp::with_val(self.frac + 64, 1) / sigma;
        self.inv_pow.resize(p + 1, Mp::new(self.frac + 64));
        self.inv_pow[0].assign(1);
        for k in 1..=p {
            let (lo, hi) = self.inv_pow.split_at_mut(k);
            hi[0].assign(&lo[k - 1] * &inv);
        }
        for (i, v) in y.iter().enumerate() {
            self.set_var(i, v);
        }
        let mut g = std::mem::take(&mut self.out);
        for k in 0..p {
            self.sweep(tape, k);
            for i in 0..nv {
                self.next_order(tape, i, k, &cs, &mut g);
                self.coef[i * stride + k + 1].assign(-&g);
            }
            if let Some(e) = energy.as_deref_mut() {
                self.next_order(tape, nv, k, &cs, &mut g);
                self.to_float(&g, k + 1, &mut e[k + 1]);
            }
        }
        self.out = g;
        for i in 0..nv {
            for k in 0..=p {
                self.to_float(&self.coef[i * stride + k], k, &mut coef[i * stride + k]);
            }
        }
    }

    /// Computes order `k` of every instruction from orders `0..k` of all slots and order `k` of
    /// the variables (the recurrences of [`Tape::sweep`], in integers).
    pub fn sweep(&mut self, tape: &Tape<Mp>, k: usize) {
        let (n, stride, frac) = (tape.nvars, self.stride, self.frac);
        let acc = &mut self.acc;
        for (i, ins) in tape.instrs.iter().enumerate() {
            let (lo, hi) = self.coef.split_at_mut((n + i) * stride);
            let (done, cur) = hi.split_at_mut(k);
            let dst = &mut cur[0];
            let at = |s: u32, j: usize| &lo[s as usize * stride + j];
            let add_c = |ci: u32| if k == 0 { Some(&self.add[ci as usize]) } else { None };
            match *ins {
                Instr::Neg(a) => dst.assign(-at(a, k)),
                Instr::Add(a, b) => dst.assign(at(a, k) + at(b, k)),
                Instr::Sub(a, b) => dst.assign(at(a, k) - at(b, k)),
                Instr::AddC(a, ci) => {
                    dst.assign(at(a, k));
                    if let Some(c) = add_c(ci) {
                        *dst += c;
                    }
                }
                Instr::SubC(a, ci) => {
                    dst.assign(at(a, k));
                    if let Some(c) = add_c(ci) {
                        *dst -= c;
                    }
                }
                Instr::CSub(a, ci) => {
                    dst.assign(-at(a, k));
                    if let Some(c) = add_c(ci) {
                        *dst += c;
                    }
                }
                Instr::Mul(a, b) => {
                    acc.assign(0);
                    for j in 0..=k {
                        *acc += at(a, j) * at(b, k - j);
                    }
                    *acc >>= frac;
                    std::mem::swap(dst, acc);
                }
                Instr::Dot(start, len) => {
                    acc.assign(0);
                    for &(a, b) in &tape.pairs[start as usize..(start + len) as usize] {
                        for j in 0..=k {
                            *acc += at(a, j) * at(b, k - j);
                        }
                    }
                    *acc >>= frac;
                    std::mem::swap(dst, acc);
                }
                Instr::Scale(a, ci) => {
                    dst.assign(at(a, k));
                    self.fac[ci as usize].mul(dst);
                }
                Instr::DivC(a, ci) => {
                    dst.assign(at(a, k));
                    self.fac[ci as usize].div(dst, frac);
                }
                Instr::Div(a, b) | Instr::CDiv(b, a) => {
                    // q_k = (a_k − Σ_{j≥1} b_j q_{k−j}) / b_0; scaled, Q_k = (A_k 2^F − Σ B_j Q_{k−j}) / B_0.
                    if matches!(ins, Instr::CDiv(..)) {
                        match add_c(a) {
                            Some(c) => acc.assign(c),
                            None => acc.assign(0),
                        }
                    } else {
                        acc.assign(at(a, k));
                    }
                    *acc <<= frac;
                    for j in 1..=k {
                        *acc -= at(b, j) * &done[k - j];
                    }
                    *acc /= at(b, 0);
                    std::mem::swap(dst, acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tape::record_gradient;
    use crate::model::{Arch, Loss, Model};
    use crate::scalar::Scalar;
    use rug::ops::Pow;

    /// The fixed-point sweep gives the same Taylor coefficients of the gradient flow as the MPFR
    /// sweep (an independent arithmetic: one relative rounding per operation) for a depth-3
    /// regression with weight decay and a time scale, at two step scales σ.
    #[test]
    fn fixed_point_coefficients_match_the_mpfr_sweep() {
        let bits = 256;
        let proto = Mp::new(bits);
        let q = |n: i64, d: i64| proto.ratio_like(n, d);
        let mk = |r: usize, c: usize, seed: usize| {
            crate::mat::Mat::from_fn(r, c, |i, j| q(((i * 7 + j * 3 + 1) * seed % 11) as i64 - 5, 7))
        };
        let model =
            Model::new(Arch::deep_linear(&[3, 4, 3, 2]).unwrap(), Loss::regression(mk(3, 5, 1), mk(2, 5, 2)).unwrap())
                .unwrap()
                .with_weight_decay(q(1, 10))
                .unwrap();
        let p0 = crate::params::Params::new(vec![mk(4, 3, 3), mk(3, 4, 5), mk(2, 3, 4)]);
        let c = q(3, 2);
        let tape = record_gradient(&model, &p0, true).unwrap();
        let (p, nv) = (12usize, tape.nvars);
        let stride = p + 1;
        // MPFR: y_{k+1} = −c g_k/(k+1), e_{k+1} = c |g|²_k/(k+1).
        let mut coef = vec![proto.clone(); tape.slots() * stride];
        let mut e = vec![proto.clone(); stride];
        for (i, v) in p0.iter().enumerate() {
            coef[i * stride] = v.clone();
        }
        let mut tmp = proto.clone();
        let mut g = proto.clone();
        for k in 0..p {
            tape.sweep(k, stride, &mut coef, &mut tmp);
            let den = proto.from_i64_like(k as i64 + 1);
            for i in 0..nv {
                tape.output(i, k, stride, &coef, &mut g);
                coef[i * stride + k + 1] = -(g.clone() * &c) / &den;
            }
            tape.output(nv, k, stride, &coef, &mut g);
            e[k + 1] = g.clone() * &c / &den;
        }
        let y: Vec<&Mp> = p0.iter().collect();
        for sigma in [proto.from_i64_like(1), q(1, 7)] {
            let mut fx = FixedSeries::new(&tape, p, bits + 32).with_time_scale(Some(&c));
            let mut got = vec![proto.clone(); nv * stride];
            let mut got_e = vec![proto.clone(); stride];
            fx.flow_coefficients(&tape, &y, &sigma, &mut got, Some(&mut got_e), p);
            // Largest difference scaled by σ^k, relative to max(1, |scaled coefficient|) (fixed
            // point errs absolutely in the scaled coefficient, MPFR relatively), with order k of
            // the result multiplied by `wrong^k`.
            let worst = |wrong: &Mp| {
                let mut w = f64::NEG_INFINITY;
                for i in 0..nv {
                    for k in 0..=p {
                        let x = got[i * stride + k].clone() * wrong.clone().pow(k as u32);
                        let r = coef[i * stride + k].clone() * sigma.clone().pow(k as u32);
                        let v = (x - &coef[i * stride + k]) * sigma.clone().pow(k as u32);
                        w = w.max(v.log2_abs() - r.log2_abs().max(0.0));
                    }
                }
                for k in 1..=p {
                    let r = e[k].clone() * sigma.clone().pow(k as u32);
                    let v = (got_e[k].clone() * wrong.clone().pow(k as u32) - &e[k]) * sigma.clone().pow(k as u32);
                    w = w.max(v.log2_abs() - r.log2_abs().max(0.0));
                }
                w
            };
            // 2^-(256-16): F = 288 fractional bits, a few hundred roundings of one unit each,
            // coefficients up to about 2^8 in this example, and MPFR's own 256-bit roundings.
            let w = worst(&proto.from_i64_like(1));
            assert!(w < -240.0, "σ = {sigma}: worst scaled difference 2^{w}");
            // Negative control: the coefficients of a slightly different time scale are rejected.
            assert!(worst(&q(1001, 1000)) > -40.0);
        }
    }
}
