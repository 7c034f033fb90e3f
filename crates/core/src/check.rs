//! Range checks for config values, shared by every section so that the same mistake gets the same message.
//! Each error names the key: `svalbard validate` points at what to fix.
//!
//! Floats are checked for NaN and infinity first: NaN compares false with everything, so a NaN threshold
//! silently never fires (or always does, depending on how the comparison is written).

use std::fmt::Display;
use std::ops::RangeInclusive;

use crate::error::{Error, Result};

fn fail(key: &str, value: impl Display, expected: &str) -> Result<()> {
    Err(Error::Config(format!("{key} must be {expected}, not {value}")))
}

/// Any finite number.
pub fn finite(key: &str, v: impl Into<f64> + Display + Copy) -> Result<()> {
    if v.into().is_finite() {
        Ok(())
    } else {
        fail(key, v, "a finite number")
    }
}

/// A probability or fraction, in [0, 1].
pub fn unit(key: &str, v: impl Into<f64> + Display + Copy) -> Result<()> {
    if (0.0..=1.0).contains(&v.into()) {
        Ok(())
    } else {
        fail(key, v, "a number in [0, 1]")
    }
}

/// A finite number >= 0: ratios that may exceed 1, lengths.
pub fn non_negative(key: &str, v: impl Into<f64> + Display + Copy) -> Result<()> {
    let x = v.into();
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        fail(key, v, "a finite number >= 0")
    }
}

/// A finite number > 0: perplexities.
pub fn positive(key: &str, v: impl Into<f64> + Display + Copy) -> Result<()> {
    let x = v.into();
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        fail(key, v, "a finite number > 0")
    }
}

/// A count or size within `range`.
pub fn count<T: PartialOrd + Display + Copy>(key: &str, v: T, range: RangeInclusive<T>) -> Result<()> {
    if range.contains(&v) {
        Ok(())
    } else {
        fail(key, v, &format!("between {} and {}", range.start(), range.end()))
    }
}

/// A count or size of at least `min`, and at most 2^63 - 1: the largest integer TOML can hold, so that
/// the config can be printed (`svalbard validate`) and hashed into the manifest, which panicked on 2^63.
pub fn at_least<T: PartialOrd + Display + Copy + TryInto<i64>>(key: &str, v: T, min: T) -> Result<()> {
    if v < min {
        fail(key, v, &format!("at least {min}"))
    } else if v.try_into().is_err() {
        fail(key, v, &format!("at most {}", i64::MAX))
    } else {
        Ok(())
    }
}

/// `check(key, v)` when the optional value is set.
pub fn optional<T: Copy>(key: &str, v: Option<T>, check: impl Fn(&str, T) -> Result<()>) -> Result<()> {
    v.map_or(Ok(()), |v| check(key, v))
}

/// Two bounds that must not cross: `lo_key <= hi_key` (both already checked to be numbers).
pub fn ordered<T: PartialOrd + Display>(lo_key: &str, lo: T, hi_key: &str, hi: T) -> Result<()> {
    if lo <= hi {
        Ok(())
    } else {
        Err(Error::Config(format!("{lo_key} = {lo} is above {hi_key} = {hi}")))
    }
}
