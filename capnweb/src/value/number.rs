//! [`Number`]: a JSON/JavaScript number that keeps integers exact.

use std::fmt;

/// A number. Integers are kept exact (also beyond 2^53, which JavaScript would round);
/// everything else is an `f64`, including `Infinity`, `-Infinity` and `NaN`.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
}

impl Number {
    /// The value as an `f64` (possibly rounded).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::UInt(u) => u as f64,
            Number::Float(f) => f,
        }
    }

    /// The value as an `i64`, if it is integral and in range.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::UInt(_) => None,
            Number::Float(f) => float_to_int(f),
        }
    }

    /// The value as a `u64`, if it is integral, non-negative and in range.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Number::Int(i) => u64::try_from(i).ok(),
            Number::UInt(u) => Some(u),
            // 2^64 is exactly representable; anything at or above it does not fit.
            Number::Float(f)
                if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) =>
            {
                Some(f as u64)
            }
            Number::Float(_) => None,
        }
    }

    /// Whether the value is finite (integers always are).
    pub fn is_finite(&self) -> bool {
        match *self {
            Number::Float(f) => f.is_finite(),
            _ => true,
        }
    }
}

fn float_to_int(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or above it does not fit.
    if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (*self, *other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::UInt(a), Number::UInt(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (a, b) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64() && a.as_u64() == b.as_u64(),
            },
        }
    }
}

impl fmt::Display for Number {
    /// Formats as JavaScript's `String(n)` would for the common cases.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => write!(f, "{i}"),
            Number::UInt(u) => write!(f, "{u}"),
            Number::Float(x) if x.is_nan() => f.write_str("NaN"),
            Number::Float(x) if x.is_infinite() => {
                f.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Number::Float(x) => {
                let mut buf = String::new();
                crate::wire::write_f64(&mut buf, x);
                f.write_str(&buf)
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number { Number::Int(n as i64) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, isize);

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        i64::try_from(n).map_or(Number::UInt(n), Number::Int)
    }
}
impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number::from(n as u64)
    }
}
impl From<f64> for Number {
    fn from(n: f64) -> Number {
        Number::Float(n)
    }
}
impl From<f32> for Number {
    fn from(n: f32) -> Number {
        Number::Float(n as f64)
    }
}
