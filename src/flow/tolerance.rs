//! Exact tolerances for integrators that work at any precision.
//!
//! An `f64` cannot hold $2^{-2000}$, the tolerance a 2048-bit run needs, and rounds $10^{-300}$.
//! A [`Tolerance`] is an exact positive rational, read from a TOML number or from a string:
//!
//! | written | value |
//! |---|---|
//! | `1e-300`, `"1e-300"`, `"2.5e-70"` | the decimal, exactly |
//! | `"2^-1000"` | $2^{-1000}$ (any integer base) |
//! | `"1/3"` | $1/3$ |
//! | `"auto"` | a few units in the last place of the run's precision ([`Tolerance::default_for_bits`]) |
//!
//! It is converted to the run's number type only when the run starts, and compared there.

use crate::error::{Error, Result};
use crate::scalar::{Scalar, Q};
use rug::ops::Pow;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Largest decimal or binary exponent accepted, so that parsing cannot build huge rationals.
const MAX_EXPONENT: i64 = 1_000_000;

/// An exact positive tolerance, or `Auto` (a few ulps of the working precision).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Tolerance {
    /// A few units in the last place of the working precision: $2^{4-p}$ at $p$ bits.
    #[default]
    Auto,
    /// This exact positive rational.
    Exact(Q),
}

impl Tolerance {
    /// Parses `"1e-300"`, `"2^-1000"`, `"3/7"`, `"0.5"` or `"auto"`; names `field` in errors.
    pub fn parse(text: &str, field: &str) -> Result<Self> {
        let s = text.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Tolerance::Auto);
        }
        let bad = |why: &str| {
            Error::invalid(
                field,
                format!("{why}, got \"{text}\" (expected e.g. \"1e-300\", \"2^-1000\", \"1/3\" or \"auto\")"),
            )
        };
        let q = if let Some((b, e)) = s.split_once('^') {
            let base: i64 = b.trim().parse().map_err(|_| bad("the base of a power must be an integer"))?;
            let exp: i64 = e.trim().parse().map_err(|_| bad("the exponent of a power must be an integer"))?;
            if base < 2 || exp.abs() > MAX_EXPONENT {
                return Err(bad("a power needs an integer base >= 2 and an exponent of at most 1e6 in size"));
            }
            let p = rug::Integer::from(base).pow(exp.unsigned_abs() as u32);
            if exp < 0 {
                Q::from((rug::Integer::from(1), p))
            } else {
                Q::from(p)
            }
        } else if let Some((n, d)) = s.split_once('/') {
            let n: rug::Integer = n.trim().parse().map_err(|_| bad("the numerator must be an integer"))?;
            let d: rug::Integer = d.trim().parse().map_err(|_| bad("the denominator must be an integer"))?;
            if d == 0 {
                return Err(bad("the denominator is zero"));
            }
            Q::from((n, d))
        } else {
            parse_decimal(s).ok_or_else(|| bad("not a decimal number"))?
        };
        Self::exact(q, field)
    }

    /// An exact tolerance, checking that it is positive.
    pub fn exact(q: Q, field: &str) -> Result<Self> {
        if q.cmp0() != std::cmp::Ordering::Greater {
            return Err(Error::invalid(field, format!("a tolerance must be > 0, got {q}")));
        }
        Ok(Tolerance::Exact(q))
    }

    /// The `f64` value, exactly converted (must be finite and > 0).
    pub fn from_f64(x: f64, field: &str) -> Result<Self> {
        match Q::from_f64(x) {
            Some(q) => Self::exact(q, field),
            None => Err(Error::invalid(field, format!("a tolerance must be finite, got {x}"))),
        }
    }

    /// $2^{4-p}$: eight units in the last place ($2^{1-p}$) of a $p$-bit number.
    pub fn default_for_bits(bits: u32) -> Q {
        Q::from((rug::Integer::from(1), rug::Integer::from(1) << (bits.saturating_sub(4))))
    }

    /// The exact value for a run at `bits` bits.
    pub fn value(&self, bits: u32) -> Q {
        match self {
            Tolerance::Auto => Self::default_for_bits(bits),
            Tolerance::Exact(q) => q.clone(),
        }
    }

    /// The value in the number type of `proto` (rounded to its precision).
    pub fn to_scalar<S: Scalar>(&self, proto: &S) -> S {
        proto.from_q_like(&self.value(proto.precision().unwrap_or(53)))
    }

    /// $\log_2$ of the value (finite for any exact tolerance, however small).
    pub fn log2(&self, bits: u32) -> f64 {
        let q = self.value(bits);
        let (n, d) = (q.numer(), q.denom());
        log2_int(n) - log2_int(d)
    }
}

/// $\log_2$ of a positive integer of any size.
fn log2_int(n: &rug::Integer) -> f64 {
    let bits = n.significant_bits();
    if bits <= 1000 {
        return n.to_f64().log2();
    }
    let shift = bits - 60;
    let top = rug::Integer::from(n >> shift);
    top.to_f64().log2() + shift as f64
}

/// `[-]digits[.digits][e[-]digits]` as an exact rational.
fn parse_decimal(s: &str) -> Option<Q> {
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant.strip_prefix('+').unwrap_or(mant)),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() || !ip.chars().chain(fp.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: rug::Integer = format!("{ip}{fp}0").parse().ok()?;
    let e = exp.checked_sub(fp.len() as i64 + 1)?;
    if e.abs() > MAX_EXPONENT {
        return None;
    }
    let p = rug::Integer::from(10).pow(e.unsigned_abs() as u32);
    let q = if e < 0 { Q::from((digits, p)) } else { Q::from(digits * p) };
    Some(if neg { -q } else { q })
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Auto => write!(f, "auto"),
            Tolerance::Exact(q) => {
                let l2 = log2_int(q.numer()) - log2_int(q.denom());
                if q.numer() == &1 && q.denom().is_power_of_two() {
                    write!(f, "2^-{}", q.denom().significant_bits() - 1)
                } else if l2 > -1000.0 && l2 < 1000.0 {
                    write!(f, "{:e}", q.to_f64())
                } else {
                    write!(f, "{q}")
                }
            }
        }
    }
}

impl Serialize for Tolerance {
    fn serialize<Z: Serializer>(&self, s: Z) -> std::result::Result<Z::Ok, Z::Error> {
        match self {
            Tolerance::Auto => s.serialize_str("auto"),
            Tolerance::Exact(q) => s.serialize_str(&q.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Tolerance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        let r = match Raw::deserialize(d)? {
            Raw::Num(x) => Tolerance::from_f64(x, "tol"),
            Raw::Text(t) => Tolerance::parse(&t, "tol"),
        };
        r.map_err(serde::de::Error::custom)
    }
}

/// Reads an `f64` tolerance from a TOML/JSON number or an exact string such as `"1e-300"` or
/// `"2^-1000"`, refusing values an `f64` cannot hold (use the `taylor` integrator for those).
pub fn f64_tolerance<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(x) => Ok(x),
        Raw::Text(t) => {
            let tol = Tolerance::parse(&t, "rtol/atol").map_err(serde::de::Error::custom)?;
            let l2 = tol.log2(53);
            if l2 < -1020.0 {
                return Err(serde::de::Error::custom(format!(
                    "tolerance {t} (2^{l2:.0}) is below what gbs can take (2^-1020); use \
                     integrator = {{ kind = \"taylor\", tol = \"{t}\" }}"
                )));
            }
            Ok(tol.value(53).to_f64())
        }
    }
}

/// Parses `text` (`"1e-300"`, `"2^-1000"`, `"1/3"`, `"auto"`) into a tolerance in the number type
/// of `proto`, rounded to its precision (`"auto"`: $2^{4-p}$ at $p$ bits); errors name `field`.
pub fn tolerance_like<S: Scalar>(text: &str, proto: &S, field: &str) -> Result<S> {
    Ok(Tolerance::parse(text, field)?.to_scalar(proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_forms() {
        let t = Tolerance::parse("2^-2000", "tol").unwrap();
        assert_eq!(t.value(0), Q::from((rug::Integer::from(1), rug::Integer::from(1) << 2000u32)));
        assert!((t.log2(0) + 2000.0).abs() < 1e-9);
        let t = Tolerance::parse("1e-300", "tol").unwrap();
        assert_eq!(t.value(0) * Q::from(rug::Integer::from(10).pow(300)), Q::from(1));
        let t = Tolerance::parse("2.5e-3", "tol").unwrap();
        assert_eq!(t.value(0), Q::from((1, 400)));
        assert_eq!(Tolerance::parse("1/3", "tol").unwrap().value(0), Q::from((1, 3)));
        assert_eq!(Tolerance::parse("auto", "tol").unwrap().value(256), Tolerance::default_for_bits(256));
        for bad in ["0", "-1e-3", "x", "1/0", "2^x", "1e-9999999", "", "1e", "2^-", "."] {
            let e = Tolerance::parse(bad, "tol").unwrap_err().to_string();
            assert!(e.contains("tol"), "{bad}: {e}");
        }
        // In the run's number type: 1e-300 at 1024 bits is within half an ulp of the decimal.
        let x = tolerance_like("1e-300", &crate::scalar::Mp::new(1024), "tol").unwrap();
        let back = Q::from(x.to_rational().unwrap()) * Q::from(rug::Integer::from(10).pow(300));
        let dev = (back - Q::from(1)).abs();
        assert!(dev < Q::from((rug::Integer::from(1), rug::Integer::from(1) << 1020u32)), "{dev}");
        assert_eq!(tolerance_like("auto", &1.0f64, "tol").unwrap(), (-49.0f64).exp2());
    }
}
