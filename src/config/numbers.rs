//! Numbers as users write them, read exactly: TOML integers and floats (at their exact binary
//! value) and strings holding an exact rational.
//!
//! A string is one *term* or a quotient `term/term` of two (no further `/`). A term is a decimal
//! with an optional exponent (`"0.1"`, `"-2.5e-3"`, `"7"`) or a power `base^exponent` with a
//! decimal base and an integer exponent (`"2^-1000"`, `"10^6"`). Sizes are bounded *before* any
//! big number is built: a value whose exact numerator or denominator would need more than
//! [`MAX_BITS`] bits is refused with a message, so a 14-byte `"1e-2147483648"` costs nothing.

use crate::scalar::Q;
use rug::ops::Pow;
use rug::Integer;

/// The largest number of bits the exact numerator or denominator of a written number may need
/// (2²² bits, half a megabyte: far beyond any tolerance or step a run can use, small enough to
/// build instantly).
pub const MAX_BITS: u64 = 1 << 22;

/// log₂ 10, rounded up, for bit-size bounds of powers of ten.
const LOG2_10: f64 = 3.321_928_094_887_363;

/// Parses an exact rational from a string, explaining what is wrong when it is not one.
///
/// ```
/// use linflow::config::parse_number;
/// use linflow::scalar::Q;
/// assert_eq!(parse_number("1/10").unwrap(), Q::from((1, 10)));
/// assert_eq!(parse_number("2^-3").unwrap(), Q::from((1, 8)));
/// assert_eq!(parse_number("-2.5e-1").unwrap(), Q::from((-1, 4)));
/// assert!(parse_number("1/2/3").is_err());
/// assert!(parse_number("1e-2147483648").is_err());
/// ```
pub fn parse_number(s: &str) -> std::result::Result<Q, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty string".into());
    }
    match t.split_once('/') {
        Some((n, d)) => {
            if d.contains('/') {
                return Err(format!("\"{t}\" has more than one '/'; write one quotient like \"1/10\""));
            }
            let (n, d) = (term(n)?, term(d)?);
            if d.is_zero() {
                return Err(format!("\"{t}\" divides by zero"));
            }
            Ok(n / d)
        }
        None => term(t),
    }
}

/// [`parse_number`] without the reason.
pub fn parse_rational(s: &str) -> Option<Q> {
    parse_number(s).ok()
}

/// One term: a decimal with an optional exponent, or `base^exponent`.
fn term(s: &str) -> std::result::Result<Q, String> {
    let t = s.trim();
    if let Some((base, exp)) = t.split_once('^') {
        let (neg, base) = sign(base.trim());
        let b = decimal(base, 0)?;
        let e = int(exp.trim()).ok_or_else(|| format!("\"{t}\": the exponent after '^' must be an integer"))?;
        if b.is_zero() && e < 0 {
            return Err(format!("\"{t}\" divides by zero"));
        }
        let base_bits = (b.numer().significant_bits().max(b.denom().significant_bits())) as u64;
        if (base_bits as f64) * (e.unsigned_abs() as f64) > MAX_BITS as f64 {
            return Err(too_big(t));
        }
        let e32 = e.unsigned_abs() as u32;
        let p = Q::from((b.numer().clone().pow(e32), b.denom().clone().pow(e32)));
        let p = if e < 0 { p.recip() } else { p };
        return Ok(if neg { -p } else { p });
    }
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => {
            let e = int(&t[i + 1..]).ok_or_else(|| format!("\"{t}\": the exponent after 'e' must be an integer"))?;
            (&t[..i], e)
        }
        None => (t, 0),
    };
    let (neg, mant) = sign(mant);
    let q = decimal(mant, exp)?;
    Ok(if neg { -q } else { q })
}

fn sign(s: &str) -> (bool, &str) {
    match s.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    }
}

/// An integer exponent; values beyond `i64` saturate (and are then refused as too big).
fn int(s: &str) -> Option<i64> {
    let (neg, digits) = sign(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = digits.trim_start_matches('0');
    let mag: i64 = if v.len() > 18 { i64::MAX } else { v.parse().unwrap_or(0) };
    Some(if neg { -mag } else { mag })
}

/// `digits[.digits] × 10^exp`, unsigned, exactly.
fn decimal(mant: &str, exp: i64) -> std::result::Result<Q, String> {
    let (int_part, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac.is_empty() || !int_part.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(format!("\"{mant}\" is not a decimal number"));
    }
    let digits = format!("{int_part}{frac}");
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(Q::new());
    }
    // Work in i128 so that no exponent a file can hold wraps around.
    let scale = exp as i128 - frac.len() as i128;
    let bits = (significant.len() as f64 + scale.unsigned_abs() as f64) * LOG2_10;
    if bits > MAX_BITS as f64 {
        return Err(too_big(mant));
    }
    let n: Integer = significant.parse().map_err(|_| format!("\"{mant}\" is not a decimal number"))?;
    let p = Integer::from(Integer::u_pow_u(10, scale.unsigned_abs() as u32));
    Ok(if scale >= 0 { Q::from(n * p) } else { Q::from((n, p)) })
}

fn too_big(s: &str) -> String {
    format!("\"{s}\" needs more than {MAX_BITS} bits exactly; the exponent is out of range")
}

/// Whether `q` rounds to a finite, and for nonzero `q` nonzero, `f64` (used where an `f64`
/// boundary remains).
pub fn f64_of(q: &Q) -> std::result::Result<f64, String> {
    let f = q.to_f64();
    if !f.is_finite() {
        return Err(format!("{} exceeds the f64 range (about 1.8e308)", short(q)));
    }
    if f == 0.0 && !q.is_zero() {
        return Err(format!("{} is below the f64 range (about 4.9e-324)", short(q)));
    }
    Ok(f)
}

/// A short display of a possibly huge rational (its f64 rounding, or its size in bits).
pub fn short(q: &Q) -> String {
    let f = q.to_f64();
    if f.is_finite() && (f != 0.0 || q.is_zero()) {
        format!("{f:e}")
    } else {
        let sgn = if q.cmp0() == std::cmp::Ordering::Less { "-" } else { "" };
        let (nb, db) = (q.numer().significant_bits() as i64, q.denom().significant_bits() as i64);
        format!("{sgn}2^{} (about)", nb - db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotients_powers_and_decimals_are_exact() {
        assert_eq!(parse_number("3/4").unwrap(), Q::from((3, 4)));
        assert_eq!(parse_number(" -0.125 ").unwrap(), Q::from((-1, 8)));
        assert_eq!(parse_number("1e3").unwrap(), Q::from(1000));
        assert_eq!(parse_number("2^10").unwrap(), Q::from(1024));
        assert_eq!(parse_number("-2^-2").unwrap(), Q::from((-1, 4)));
        assert_eq!(parse_number("1/2^3").unwrap(), Q::from((1, 8)));
        let tiny = parse_number("2^-1000").unwrap();
        assert_eq!(tiny.denom().significant_bits(), 1001);
    }

    #[test]
    fn malformed_and_oversized_strings_are_refused() {
        for s in ["1/2/3", "", "abc", "1/0", "0^-1", "1e", "2^x", "1.5e-2147483648", "1e-2147483648", "9^99999999"] {
            assert!(parse_number(s).is_err(), "{s}");
        }
        // Exponents beyond i64 saturate and are refused rather than wrapping.
        assert!(parse_number("1e-99999999999999999999999").is_err());
    }
}
