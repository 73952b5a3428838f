//! What a run will cost, estimated before anything is allocated: memory (parameters, data,
//! saved states, the matrices a law check builds) and work (multiply–adds). A run beyond its
//! [`Limits`] is refused with the largest item named, instead of aborting or running for days.

use crate::error::{Error, Result};

/// Resource limits a run must stay within (`linflow run --max-memory 16G --max-ops 1e15`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Bytes of memory the run may use (default 4 GiB).
    pub max_memory: f64,
    /// Multiply–adds the run may take, counted in `f64` equivalents (an MPFR operation counts as
    /// [`op_cost`] of them). The default, 10¹³, is of the order of an hour on one core.
    pub max_ops: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_memory: 4.0 * GIB, max_ops: 1e13 }
    }
}

const GIB: f64 = (1u64 << 30) as f64;

impl Limits {
    /// Parses a byte count: `"4G"`, `"512M"`, `"64k"`, `"1e9"` (powers of 1024 for K, M, G, T).
    pub fn parse_bytes(s: &str) -> Result<f64> {
        let t = s.trim();
        let (num, mult) = match t.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() && !t.ends_with(['e', 'E']) => {
                let m = match c.to_ascii_uppercase() {
                    'K' => 1024.0,
                    'M' => 1024.0 * 1024.0,
                    'G' => GIB,
                    'T' => GIB * 1024.0,
                    'B' => 1.0,
                    _ => {
                        return Err(Error::invalid("max-memory", format!("unknown unit in \"{s}\"; use K, M, G or T")))
                    }
                };
                (&t[..i], m)
            }
            _ => (t, 1.0),
        };
        match num.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v * mult),
            _ => Err(Error::invalid("max-memory", format!("expected a positive size like 4G or 512M, got \"{s}\""))),
        }
    }

    /// Parses a positive operation count like `1e15`.
    pub fn parse_ops(s: &str) -> Result<f64> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(Error::invalid("max-ops", format!("expected a positive count like 1e15, got \"{s}\""))),
        }
    }
}

/// The cost of one arithmetic operation in `f64` multiply–adds: 1 for `f64`, about 20 + bits/16
/// for MPFR, and 200 for exact rationals (whose entries grow along a run: this is a floor).
pub fn op_cost(bits: Option<u32>) -> f64 {
    match bits {
        Some(53) => 1.0,
        Some(b) => 20.0 + b as f64 / 16.0,
        None => 200.0,
    }
}

/// Bytes of one number: 8 for `f64`, the MPFR header and limbs for `Mp`, and a floor of 64 for a
/// rational (two small integers).
pub fn scalar_bytes(bits: Option<u32>) -> f64 {
    match bits {
        Some(53) => 8.0,
        Some(b) => 32.0 + 8.0 * (b as f64 / 64.0).ceil(),
        None => 64.0,
    }
}

/// `rows × cols`, or an error naming `field` when it does not fit in memory's address space.
pub fn entries(field: &str, rows: usize, cols: usize) -> Result<usize> {
    rows.checked_mul(cols)
        .filter(|&n| n <= isize::MAX as usize / 64)
        .ok_or_else(|| Error::invalid(field, format!("{rows} x {cols} entries cannot be addressed")))
}

/// One item of an estimate.
#[derive(Clone, Debug)]
struct Item {
    key: String,
    what: String,
    bytes: f64,
}

/// Memory and work of a planned run, item by item.
#[derive(Clone, Debug, Default)]
pub struct Estimate {
    items: Vec<Item>,
    ops: f64,
    ops_key: String,
    ops_what: String,
    ops_top: f64,
}

impl Estimate {
    /// Adds `count` numbers of `bytes` each, attributed to the file key `key`.
    pub fn memory(&mut self, key: &str, what: &str, count: f64, bytes: f64) {
        self.items.push(Item { key: key.into(), what: what.into(), bytes: count * bytes });
    }

    /// Adds work; the key of the largest contribution is the one a refusal names.
    pub fn work(&mut self, key: &str, what: &str, ops: f64) {
        if !within(ops, self.ops_top) {
            self.ops_top = ops;
            self.ops_key = key.into();
            self.ops_what = what.into();
        }
        self.ops += ops;
    }

    /// Total bytes.
    pub fn bytes(&self) -> f64 {
        self.items.iter().map(|i| i.bytes).sum()
    }

    /// Total multiply–adds (in `f64` equivalents).
    pub fn ops(&self) -> f64 {
        self.ops
    }

    /// Refuses an estimate beyond `limits`, naming the largest item and the flag that raises the
    /// limit.
    pub fn check(&self, limits: &Limits) -> Result<()> {
        let bytes = self.bytes();
        if !within(bytes, limits.max_memory) {
            let top = self.items.iter().max_by(|a, b| a.bytes.total_cmp(&b.bytes)).expect("nonzero total");
            return Err(Error::invalid(
                top.key.clone(),
                format!(
                    "the run would need about {} of memory ({} alone: {}), above the limit of {}; \
                     reduce the sizes or raise the limit with --max-memory",
                    human(bytes),
                    top.what,
                    human(top.bytes),
                    human(limits.max_memory)
                ),
            ));
        }
        if !within(self.ops, limits.max_ops) {
            return Err(Error::invalid(
                self.ops_key.clone(),
                format!(
                    "the run would take about {:.1e} multiply-adds ({}), above the limit of {:.1e}; \
                     reduce the sizes or raise the limit with --max-ops",
                    self.ops, self.ops_what, limits.max_ops
                ),
            ));
        }
        Ok(())
    }
}

/// `x ≤ limit`, false when either is NaN (so a NaN estimate is refused).
fn within(x: f64, limit: f64) -> bool {
    matches!(x.partial_cmp(&limit), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal))
}

/// `1.5 GiB`-style sizes.
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if v >= 1024.0 {
        format!("{bytes:.1e} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(Limits::parse_bytes("4G").unwrap(), 4.0 * GIB);
        assert_eq!(Limits::parse_bytes("512k").unwrap(), 512.0 * 1024.0);
        assert_eq!(Limits::parse_bytes("1e9").unwrap(), 1e9);
        for s in ["", "-1G", "4X", "inf", "G"] {
            assert!(Limits::parse_bytes(s).is_err(), "{s}");
        }
    }

    #[test]
    fn an_estimate_beyond_the_limit_names_its_largest_item() {
        let mut e = Estimate::default();
        e.memory("model.widths", "balancedness matrices", 1e10, 8.0);
        e.memory("run.save", "saved states", 10.0, 8.0);
        let err = e.check(&Limits::default()).unwrap_err().to_string();
        assert!(err.contains("model.widths") && err.contains("--max-memory"), "{err}");
        assert!(e.check(&Limits { max_memory: 1e11, max_ops: 1.0 }).is_ok());
        assert!(entries("x", usize::MAX, 2).is_err());
    }
}
