//! Recording the one gradient as a tape of elementary operations, and evaluating the tape on
//! truncated power series one order at a time.
//!
//! [`Rec`] is a [`Scalar`] whose arithmetic builds an expression graph instead of numbers:
//! running [`Model::grad_into`] on parameters that are [`Rec`] variables records exactly the
//! operations of linflow's gradient (prefix products, loss gradient, pullback, weight decay), with
//! operations between constants folded to constants in the run's number type. [`Tape::compile`]
//! keeps the operations the outputs depend on, in topological order.
//!
//! [`Tape::sweep`] then computes the order-$k$ Taylor coefficient of every operation from the
//! lower-order ones (the automatic-differentiation recurrences of Moore, *Interval Analysis*, 1966):
//! $$(a\pm b)_k = a_k \pm b_k,\qquad (ab)_k = \sum_{j=0}^{k} a_j b_{k-j},\qquad
//! (a/b)_k = \Bigl(a_k - \sum_{j=1}^{k} b_j (a/b)_{k-j}\Bigr)\Big/ b_0 .$$
//! A product costs $k+1$ multiply-adds at order $k$, so a series of order $p$ costs $O(p^2)$ per
//! product: the cost of Taylor's method. Coefficients live in one preallocated array; a sweep
//! allocates nothing.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::Params;
use crate::scalar::{Scalar, Q};
use std::collections::HashMap;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};
use std::sync::Arc;

/// A recorded value: a constant of the number type `S`, a variable, or an operation on two recorded
/// values.
#[derive(Clone)]
pub struct Rec<S: Scalar>(Arc<Node<S>>);

struct Node<S: Scalar> {
    op: Op<S>,
    /// Zero in the run's number type (carries its precision).
    proto: S,
}

enum Op<S: Scalar> {
    Const(S),
    Var(usize),
    Neg(Rec<S>),
    Add(Rec<S>, Rec<S>),
    Sub(Rec<S>, Rec<S>),
    Mul(Rec<S>, Rec<S>),
    Div(Rec<S>, Rec<S>),
    /// An operation without a polynomial Taylor recurrence here (`abs`, a comparison's result).
    NonPolynomial(&'static str),
}

impl<S: Scalar> Rec<S> {
    fn node(op: Op<S>, proto: S) -> Self {
        Rec(Arc::new(Node { op, proto }))
    }

    /// The constant `v`.
    pub fn constant(v: S) -> Self {
        let proto = v.zero_like();
        Self::node(Op::Const(v), proto)
    }

    /// Variable number `i`, in the number type of `proto`.
    pub fn var(i: usize, proto: &S) -> Self {
        Self::node(Op::Var(i), proto.zero_like())
    }

    /// The value, when this is a constant.
    pub fn as_const(&self) -> Option<&S> {
        match &self.0.op {
            Op::Const(v) => Some(v),
            _ => None,
        }
    }

    fn like(&self, v: S) -> Self {
        Self::node(Op::Const(v), self.0.proto.clone())
    }

    fn binary(a: Self, b: Self, kind: u8) -> Self {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            let (x, y) = (x.clone(), y.clone());
            return a.like(match kind {
                b'+' => x + y,
                b'-' => x - y,
                b'*' => x * y,
                _ => x / y,
            });
        }
        let zero = |r: &Self| r.as_const().is_some_and(S::is_zero);
        let one = |r: &Self| r.as_const().is_some_and(|v| *v == v.one_like());
        let proto = a.0.proto.clone();
        match kind {
            b'+' if zero(&a) => b,
            b'+' | b'-' if zero(&b) => a,
            b'+' => Self::node(Op::Add(a, b), proto),
            b'-' if zero(&a) => -b,
            b'-' => Self::node(Op::Sub(a, b), proto),
            b'*' if zero(&a) || zero(&b) => a.like(proto.zero_like()),
            b'*' if one(&a) => b,
            b'*' if one(&b) => a,
            b'*' => Self::node(Op::Mul(a, b), proto),
            _ if one(&b) => a,
            _ => Self::node(Op::Div(a, b), proto),
        }
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl<S: Scalar> fmt::Debug for Rec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<S: Scalar> fmt::Display for Rec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.op {
            Op::Const(v) => write!(f, "{v}"),
            Op::Var(i) => write!(f, "y{i}"),
            _ => write!(f, "<recorded operation>"),
        }
    }
}

impl<S: Scalar> PartialEq for Rec<S> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || matches!((self.as_const(), other.as_const()), (Some(a), Some(b)) if a == b)
    }
}

impl<S: Scalar> PartialOrd for Rec<S> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (self.as_const(), other.as_const()) {
            (Some(a), Some(b)) => a.partial_cmp(b),
            _ if Arc::ptr_eq(&self.0, &other.0) => Some(std::cmp::Ordering::Equal),
            _ => None,
        }
    }
}

macro_rules! rec_binop {
    ($tr:ident, $f:ident, $tra:ident, $fa:ident, $k:expr) => {
        impl<S: Scalar> $tr for Rec<S> {
            type Output = Rec<S>;
            fn $f(self, rhs: Self) -> Self {
                Rec::binary(self, rhs, $k)
            }
        }
        impl<'a, S: Scalar> $tra<&'a Rec<S>> for Rec<S> {
            fn $fa(&mut self, rhs: &'a Rec<S>) {
                *self = Rec::binary(self.clone(), rhs.clone(), $k);
            }
        }
    };
}
rec_binop!(Add, add, AddAssign, add_assign, b'+');
rec_binop!(Sub, sub, SubAssign, sub_assign, b'-');
rec_binop!(Mul, mul, MulAssign, mul_assign, b'*');
rec_binop!(Div, div, DivAssign, div_assign, b'/');

impl<S: Scalar> Neg for Rec<S> {
    type Output = Rec<S>;
    fn neg(self) -> Self {
        match self.as_const() {
            Some(v) => self.like(-v.clone()),
            None => {
                let proto = self.0.proto.clone();
                Rec::node(Op::Neg(self), proto)
            }
        }
    }
}

impl<S: Scalar> Scalar for Rec<S> {
    fn zero_like(&self) -> Self {
        self.like(self.0.proto.zero_like())
    }
    fn from_f64_like(&self, x: f64) -> Self {
        self.like(self.0.proto.from_f64_like(x))
    }
    fn from_i64_like(&self, n: i64) -> Self {
        self.like(self.0.proto.from_i64_like(n))
    }
    fn from_q_like(&self, q: &Q) -> Self {
        self.like(self.0.proto.from_q_like(q))
    }
    fn ratio_like(&self, num: i64, den: i64) -> Self {
        self.like(self.0.proto.ratio_like(num, den))
    }
    fn to_f64(&self) -> f64 {
        self.as_const().map_or(f64::NAN, S::to_f64)
    }
    fn abs(&self) -> Self {
        match self.as_const() {
            Some(v) => self.like(v.abs()),
            None => Rec::node(Op::NonPolynomial("abs"), self.0.proto.clone()),
        }
    }
    fn is_finite(&self) -> bool {
        self.as_const().is_none_or(S::is_finite)
    }
    fn is_zero(&self) -> bool {
        self.as_const().is_some_and(S::is_zero)
    }
    fn precision(&self) -> Option<u32> {
        self.0.proto.precision()
    }
    fn mul_add_assign(&mut self, a: &Self, b: &Self) {
        let p = a.clone() * b.clone();
        *self = self.clone() + p;
    }
    fn kind_name(&self) -> String {
        format!("recorded {}", self.0.proto.kind_name())
    }
    fn try_sqrt(&self) -> Option<Self> {
        self.as_const().and_then(S::try_sqrt).map(|v| self.like(v))
    }
}

/// An operand: a series slot (variables first, then one slot per instruction) or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Index of a series slot.
    Slot(u32),
    /// Index into [`Tape::consts`].
    Const(u32),
}

/// One tape operation; instruction `i` writes slot `nvars + i`. `a`, `b` are slots, `c` constants.
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub enum Instr {
    Neg(u32),
    Add(u32, u32),
    /// `a + c`.
    AddC(u32, u32),
    Sub(u32, u32),
    /// `a − c`.
    SubC(u32, u32),
    /// `c − a`.
    CSub(u32, u32),
    Mul(u32, u32),
    /// `a · c`.
    Scale(u32, u32),
    Div(u32, u32),
    /// `a / c`.
    DivC(u32, u32),
    /// `c / a`.
    CDiv(u32, u32),
    /// `Σ a·b` over the slot pairs `pairs[start..start+len]` (a fused sum of products: one
    /// accumulator for all of them).
    Dot(u32, u32),
}

/// A compiled tape: the operations the outputs depend on, in topological order.
#[derive(Clone, Debug)]
pub struct Tape<S> {
    /// Number of variables (slots `0..nvars`).
    pub nvars: usize,
    /// Constants referred to by [`Arg::Const`] and the constant operands of instructions.
    pub consts: Vec<S>,
    /// Operations; instruction `i` writes slot `nvars + i`.
    pub instrs: Vec<Instr>,
    /// The recorded outputs.
    pub outputs: Vec<Arg>,
    /// Number of series products (`Mul`, `Div`, `CDiv`, and each pair of a `Dot`) per sweep, for
    /// cost estimates.
    pub products: usize,
    /// Operand pairs of [`Instr::Dot`].
    pub pairs: Vec<(u32, u32)>,
}

impl<S: Scalar> Tape<S> {
    /// Compiles the operations that `outputs` depend on (variables `0..nvars`, constants in the
    /// number type of `proto`; constant 0 is −1, used by negations).
    pub fn compile(outputs: &[Rec<S>], nvars: usize, proto: &S) -> Result<Self> {
        let mut tape = Tape {
            nvars,
            consts: vec![proto.from_i64_like(-1)],
            instrs: Vec::new(),
            outputs: Vec::new(),
            products: 0,
            pairs: Vec::new(),
        };
        let mut done: HashMap<usize, Arg> = HashMap::new();
        for out in outputs {
            // Iterative post-order walk (deep sums would overflow a recursive one).
            let mut stack: Vec<(Rec<S>, bool)> = vec![(out.clone(), false)];
            while let Some((r, expanded)) = stack.pop() {
                if done.contains_key(&r.id()) {
                    continue;
                }
                let kids: Vec<&Rec<S>> = match &r.0.op {
                    Op::Neg(a) => vec![a],
                    Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => vec![a, b],
                    _ => vec![],
                };
                if !expanded && kids.iter().any(|k| !done.contains_key(&k.id())) {
                    stack.push((r.clone(), true));
                    for k in kids.into_iter().rev() {
                        stack.push((k.clone(), false));
                    }
                    continue;
                }
                let arg = tape.emit(&r, &done)?;
                done.insert(r.id(), arg);
            }
            tape.outputs.push(done[&out.id()]);
        }
        Ok(tape.fuse())
    }

    /// Merges sums of products whose partial results are used nowhere else into [`Instr::Dot`]
    /// (a matrix product's entry $\sum_l a_l b_l$ becomes one instruction with one accumulator),
    /// and renumbers the slots.
    fn fuse(self) -> Self {
        let n = self.nvars;
        let mut uses = vec![0usize; self.slots()];
        let mut count = |a: u32| uses[a as usize] += 1;
        for ins in &self.instrs {
            match *ins {
                Instr::Neg(a)
                | Instr::AddC(a, _)
                | Instr::SubC(a, _)
                | Instr::CSub(a, _)
                | Instr::Scale(a, _)
                | Instr::DivC(a, _)
                | Instr::CDiv(a, _) => count(a),
                Instr::Add(a, b) | Instr::Sub(a, b) | Instr::Mul(a, b) | Instr::Div(a, b) => {
                    count(a);
                    count(b);
                }
                Instr::Dot(..) => unreachable!("fused once"),
            }
        }
        for o in &self.outputs {
            if let Arg::Slot(s) = o {
                uses[*s as usize] += 2;
            }
        }
        // Term lists of sums of products, and which instructions were absorbed into a later one.
        let mut terms: Vec<Option<Vec<(u32, u32)>>> = vec![None; self.instrs.len()];
        let mut absorbed = vec![false; self.instrs.len()];
        for i in 0..self.instrs.len() {
            match self.instrs[i] {
                Instr::Mul(a, b) => terms[i] = Some(vec![(a, b)]),
                Instr::Add(x, y) => {
                    let fusable =
                        |s: u32| (s as usize) >= n && uses[s as usize] == 1 && terms[s as usize - n].is_some();
                    if fusable(x) && fusable(y) {
                        let mut t = terms[x as usize - n].take().unwrap_or_default();
                        t.extend(terms[y as usize - n].take().unwrap_or_default());
                        absorbed[x as usize - n] = true;
                        absorbed[y as usize - n] = true;
                        terms[i] = Some(t);
                    }
                }
                _ => {}
            }
        }
        let mut map: Vec<u32> = (0..n as u32).collect();
        map.resize(self.slots(), u32::MAX);
        let mut out = Tape {
            nvars: n,
            consts: self.consts,
            instrs: Vec::new(),
            outputs: Vec::new(),
            products: 0,
            pairs: Vec::new(),
        };
        for (i, ins) in self.instrs.iter().enumerate() {
            if absorbed[i] {
                continue;
            }
            let m = |s: u32| map[s as usize];
            let new = match (&terms[i], *ins) {
                (Some(t), _) if t.len() > 1 => {
                    let start = out.pairs.len() as u32;
                    out.pairs.extend(t.iter().map(|&(a, b)| (m(a), m(b))));
                    out.products += t.len();
                    Instr::Dot(start, t.len() as u32)
                }
                (_, Instr::Neg(a)) => Instr::Neg(m(a)),
                (_, Instr::Add(a, b)) => Instr::Add(m(a), m(b)),
                (_, Instr::AddC(a, c)) => Instr::AddC(m(a), c),
                (_, Instr::Sub(a, b)) => Instr::Sub(m(a), m(b)),
                (_, Instr::SubC(a, c)) => Instr::SubC(m(a), c),
                (_, Instr::CSub(a, c)) => Instr::CSub(m(a), c),
                (_, Instr::Mul(a, b)) => {
                    out.products += 1;
                    Instr::Mul(m(a), m(b))
                }
                (_, Instr::Scale(a, c)) => Instr::Scale(m(a), c),
                (_, Instr::Div(a, b)) => {
                    out.products += 1;
                    Instr::Div(m(a), m(b))
                }
                (_, Instr::DivC(a, c)) => Instr::DivC(m(a), c),
                (_, Instr::CDiv(a, c)) => {
                    out.products += 1;
                    Instr::CDiv(m(a), c)
                }
                (_, Instr::Dot(..)) => unreachable!("fused once"),
            };
            out.instrs.push(new);
            map[n + i] = (n + out.instrs.len() - 1) as u32;
        }
        out.outputs = self
            .outputs
            .iter()
            .map(|o| match *o {
                Arg::Slot(s) => Arg::Slot(map[s as usize]),
                c => c,
            })
            .collect();
        out
    }

    fn emit(&mut self, r: &Rec<S>, done: &HashMap<usize, Arg>) -> Result<Arg> {
        let arg = |x: &Rec<S>| done[&x.id()];
        let ins = match &r.0.op {
            Op::Const(v) => {
                self.consts.push(v.clone());
                return Ok(Arg::Const(self.consts.len() as u32 - 1));
            }
            Op::Var(i) if *i < self.nvars => return Ok(Arg::Slot(*i as u32)),
            Op::Var(i) => {
                return Err(Error::Other(format!("tape: variable {i} out of range ({} variables)", self.nvars)))
            }
            Op::NonPolynomial(what) => {
                return Err(Error::Unsupported(format!(
                    "the gradient uses `{what}`, which has no Taylor recurrence here: use the gbs integrator"
                )))
            }
            Op::Neg(a) => match arg(a) {
                Arg::Slot(a) => Instr::Neg(a),
                Arg::Const(_) => unreachable!("constants are folded"),
            },
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => {
                let sym = match &r.0.op {
                    Op::Add(..) => 0,
                    Op::Sub(..) => 1,
                    Op::Mul(..) => 2,
                    _ => 3,
                };
                match (sym, arg(a), arg(b)) {
                    (0, Arg::Slot(x), Arg::Slot(y)) => Instr::Add(x, y),
                    (0, Arg::Slot(x), Arg::Const(c)) | (0, Arg::Const(c), Arg::Slot(x)) => Instr::AddC(x, c),
                    (1, Arg::Slot(x), Arg::Slot(y)) => Instr::Sub(x, y),
                    (1, Arg::Slot(x), Arg::Const(c)) => Instr::SubC(x, c),
                    (1, Arg::Const(c), Arg::Slot(x)) => Instr::CSub(x, c),
                    (2, Arg::Slot(x), Arg::Slot(y)) => Instr::Mul(x, y),
                    (2, Arg::Slot(x), Arg::Const(c)) | (2, Arg::Const(c), Arg::Slot(x)) => Instr::Scale(x, c),
                    (3, Arg::Slot(x), Arg::Slot(y)) => Instr::Div(x, y),
                    (3, Arg::Slot(x), Arg::Const(c)) => Instr::DivC(x, c),
                    (3, Arg::Const(c), Arg::Slot(x)) => Instr::CDiv(x, c),
                    _ => unreachable!("constants are folded"),
                }
            }
        };
        if matches!(ins, Instr::Mul(..) | Instr::Div(..) | Instr::CDiv(..)) {
            self.products += 1;
        }
        self.instrs.push(ins);
        Ok(Arg::Slot((self.nvars + self.instrs.len() - 1) as u32))
    }

    /// Number of series slots (variables and instruction results).
    pub fn slots(&self) -> usize {
        self.nvars + self.instrs.len()
    }

    /// Computes the order-`k` coefficient of every instruction, given orders `0..k` of all slots
    /// and order `k` of the variables. Slot `s`'s coefficient `j` is `coef[s*stride + j]`.
    ///
    /// Every result is rounded to the precision its slot already has ([`Scalar::assign_round`]),
    /// and `tmp` carries the precision of the products: for [`crate::scalar::Mp`] the caller may
    /// keep high orders in fewer bits ([`Scalar::set_precision`]); the sweep follows.
    pub fn sweep(&self, k: usize, stride: usize, coef: &mut [S], tmp: &mut S) {
        let n = self.nvars;
        for (i, ins) in self.instrs.iter().enumerate() {
            let (lo, hi) = coef.split_at_mut((n + i) * stride);
            let (done, cur) = hi.split_at_mut(k);
            let dst = &mut cur[0];
            let at = |s: u32, j: usize| &lo[s as usize * stride + j];
            let c = |ci: u32| &self.consts[ci as usize];
            match *ins {
                Instr::Neg(a) => {
                    dst.assign_round(at(a, k));
                    *dst *= &self.consts[0];
                }
                Instr::Add(a, b) => {
                    dst.assign_round(at(a, k));
                    *dst += at(b, k);
                }
                Instr::Sub(a, b) => {
                    dst.assign_round(at(a, k));
                    *dst -= at(b, k);
                }
                Instr::AddC(a, ci) => {
                    dst.assign_round(at(a, k));
                    if k == 0 {
                        *dst += c(ci);
                    }
                }
                Instr::SubC(a, ci) => {
                    dst.assign_round(at(a, k));
                    if k == 0 {
                        *dst -= c(ci);
                    }
                }
                Instr::CSub(a, ci) => {
                    dst.assign_round(at(a, k));
                    *dst *= &self.consts[0];
                    if k == 0 {
                        *dst += c(ci);
                    }
                }
                Instr::Mul(a, b) => {
                    dst.mul_round(at(a, 0), at(b, k));
                    for j in 1..=k {
                        mul_add(dst, tmp, at(a, j), at(b, k - j));
                    }
                }
                Instr::Scale(a, ci) => {
                    dst.assign_round(at(a, k));
                    *dst *= c(ci);
                }
                Instr::Dot(start, len) => {
                    let pairs = &self.pairs[start as usize..(start + len) as usize];
                    let (a, b) = pairs[0];
                    dst.mul_round(at(a, 0), at(b, k));
                    for j in 1..=k {
                        mul_add(dst, tmp, at(a, j), at(b, k - j));
                    }
                    for &(a, b) in &pairs[1..] {
                        for j in 0..=k {
                            mul_add(dst, tmp, at(a, j), at(b, k - j));
                        }
                    }
                }
                Instr::DivC(a, ci) => {
                    dst.assign_round(at(a, k));
                    *dst /= c(ci);
                }
                Instr::Div(a, b) | Instr::CDiv(b, a) => {
                    // (a/b)_k = (a_k − Σ_{j≥1} b_j (a/b)_{k−j}) / b_0; for c/b, a is the constant.
                    let num_const = matches!(ins, Instr::CDiv(..));
                    if num_const {
                        if k == 0 {
                            dst.assign_round(c(a));
                        } else {
                            *dst = dst.zero_like();
                        }
                    } else {
                        dst.assign_round(at(a, k));
                    }
                    for j in 1..=k {
                        tmp.mul_round(at(b, j), &done[k - j]);
                        *dst -= &*tmp;
                    }
                    *dst /= at(b, 0);
                }
            }
        }
    }

    /// Order-`k` coefficient of output `o`, written into `dst`.
    pub fn output(&self, o: usize, k: usize, stride: usize, coef: &[S], dst: &mut S) {
        match self.outputs[o] {
            Arg::Slot(s) => dst.assign_round(&coef[s as usize * stride + k]),
            Arg::Const(c) if k == 0 => dst.assign_round(&self.consts[c as usize]),
            Arg::Const(_) => *dst = dst.zero_like(),
        }
    }
}

/// `dst += a·b` as a product into `tmp` (rounded to `tmp`'s precision) and a sum (for MPFR two
/// roundings, measured faster than its fused multiply-add, which forms the exact double-length
/// product).
#[inline]
fn mul_add<S: Scalar>(dst: &mut S, tmp: &mut S, a: &S, b: &S) {
    tmp.mul_round(a, b);
    *dst += &*tmp;
}

/// Records the gradient of `model` at symbolic parameters shaped like `p` (variables numbered in
/// [`Params::iter`] order), and, with `energy`, $\|\nabla L\|^2$ as one more output.
pub fn record_gradient<S: Scalar>(model: &Model<S>, p: &Params<S>, energy: bool) -> Result<Tape<S>> {
    model.loss.refuse_custom("taylor's method (the gradient recorded on a tape)")?;
    let proto = p.proto();
    let rm: Model<Rec<S>> = model.map(|x| Rec::constant(x.clone()));
    let mut i = 0;
    let vars = Params::new(
        p.blocks
            .iter()
            .map(|b| {
                b.map(|_| {
                    i += 1;
                    Rec::var(i - 1, &proto)
                })
            })
            .collect(),
    );
    let rproto = Rec::constant(proto.zero_like());
    let mut ws = rm.workspace(&rproto);
    let mut out = Params::new(vars.blocks.iter().map(|b| b.map(|_| rproto.clone())).collect());
    rm.grad_into(&mut ws, &vars, None, &mut out);
    let mut outs: Vec<Rec<S>> = out.iter().cloned().collect();
    if energy {
        outs.push(out.norm_sq());
    }
    Tape::compile(&outs, i, &proto)
}
