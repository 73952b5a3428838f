//! Numbers as text at the precision they were computed in, for output files.
//!
//! * `f64`: the shortest decimal that reads back to the same double (`NaN`, `inf`, `-inf` spelled
//!   out, never `null`);
//! * [`Mp`]: $\lceil \text{bits}\cdot\log_{10}2\rceil + 2$ significant digits (79 at 256 bits), enough
//!   to read back the same MPFR value, with MPFR's exponent range (so $10^{400}$ is written as such);
//! * [`Q`]: the exact fraction `p/q` (or the integer `p`).

use crate::scalar::{Mp, Scalar, Q};
use std::any::Any;

/// Significant decimal digits written for an MPFR value of `bits` bits:
/// $\lceil \text{bits}\cdot\log_{10}2\rceil + 2$.
pub fn digits_for_bits(bits: u32) -> usize {
    (bits as f64 * std::f64::consts::LOG10_2).ceil() as usize + 2
}

/// `x` as decimal text at its own precision (see the module documentation).
pub fn text<S: Scalar>(x: &S) -> String {
    let any = x as &dyn Any;
    if let Some(v) = any.downcast_ref::<f64>() {
        return f64_text(*v);
    }
    if let Some(v) = any.downcast_ref::<Mp>() {
        if !v.is_finite() {
            return f64_text(v.to_f64());
        }
        return v.to_string_radix(10, Some(digits_for_bits(v.prec())));
    }
    if let Some(v) = any.downcast_ref::<Q>() {
        return v.to_string();
    }
    x.to_string()
}

/// An `f64` as the shortest text that reads back to it; non-finite values as `NaN`, `inf`, `-inf`.
pub fn f64_text(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x:e}")
    }
}

/// Serde for an `f64` field that may be NaN or infinite: finite values as JSON numbers, the
/// others as the strings `"NaN"`, `"inf"`, `"-inf"` (serde_json would write `null`). Use with
/// `#[serde(with = "linflow::decimal::f64_serde")]`.
pub mod f64_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `x`.
    pub fn serialize<Z: Serializer>(x: &f64, s: Z) -> Result<Z::Ok, Z::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_str(&super::f64_text(*x))
        }
    }

    /// Reads a number or one of `"NaN"`, `"inf"`, `"-inf"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrText {
            Num(f64),
            Text(String),
        }
        match NumOrText::deserialize(d)? {
            NumOrText::Num(x) => Ok(x),
            NumOrText::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => other.parse().map_err(serde::de::Error::custom),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_round_trips_and_names_non_finite() {
        for x in [0.1, -1.0 / 3.0, 1e-310, f64::MAX, 0.0] {
            assert_eq!(text(&x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(text(&f64::NAN), "NaN");
        assert_eq!(text(&f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn mp_round_trips_at_its_precision_beyond_f64_range() {
        // 10^400 / 3 at 256 bits: beyond f64's range, must read back to the same 256-bit value.
        let x = Mp::with_val(256, Mp::i_pow_u(10, 400)) / 3u32;
        let s = text(&x);
        let back = Mp::with_val(256, Mp::parse(&s).unwrap());
        assert_eq!(back, x, "{s}");
        assert!(s.ends_with("e399"), "{s}");
    }

    #[test]
    fn rationals_are_exact_fractions() {
        assert_eq!(text(&Q::from((1, 7))), "1/7");
        assert_eq!(text(&Q::from((-6, 3))), "-2");
    }
}
