//! Typed physical quantities and parameter validation.
//!
//! Every model parameter is checked where its struct is built; a bad value yields an
//! [`InvalidParameter`] naming the field (as written in scenario files), the value and the
//! allowed range, e.g. `source.signal_intensity = -0.1: must be > 0`.

mod sim_time;

pub use sim_time::{NANOS_PER_SECOND, SimDuration, SimTime};

use std::fmt;

/// A parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value}: {allowed}")]
pub struct InvalidParameter {
    /// Dotted path of the field, as in the scenario file (`detector.efficiency`).
    pub field: String,
    /// The offending value, formatted.
    pub value: String,
    /// What would have been accepted.
    pub allowed: String,
}

impl InvalidParameter {
    /// A new error for `field` holding `value`, which should satisfy `allowed`.
    pub fn new(field: impl Into<String>, value: impl fmt::Display, allowed: impl Into<String>) -> Self {
        let value = value.to_string();
        // A float such as 1e308 displays as 309 digits: show it in scientific notation instead.
        let value = match value.parse::<f64>() {
            Ok(x) if value.len() > 20 => format!("{x:e}"),
            _ => value,
        };
        InvalidParameter { field: field.into(), value, allowed: allowed.into() }
    }
}

/// `x` as its shortest round-trip decimal, or in scientific notation when that is long (1e300).
pub fn short_number(x: f64) -> String {
    let plain = x.to_string();
    if plain.len() > 20 { format!("{x:e}") } else { plain }
}

/// Checks that `value` is a probability (finite, within `[0, 1]`).
pub fn check_probability(field: &str, value: f64) -> Result<f64, InvalidParameter> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidParameter::new(field, value, "must be a probability in [0, 1]"))
    }
}

/// Checks that `value` is a probability strictly inside `(0, 1)`; `why` says what 0 and 1 would
/// lose.
pub fn check_open_unit_interval(field: &str, value: f64, why: &str) -> Result<f64, InvalidParameter> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(InvalidParameter::new(field, value, format!("must be in (0, 1) ({why})")))
    }
}

/// Checks that `value` is finite and `>= 0`.
pub fn check_non_negative(field: &str, value: f64) -> Result<f64, InvalidParameter> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InvalidParameter::new(field, value, "must be finite and >= 0"))
    }
}

/// Checks that `value` is finite and `> 0`.
pub fn check_positive(field: &str, value: f64) -> Result<f64, InvalidParameter> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(InvalidParameter::new(field, value, "must be finite and > 0"))
    }
}

/// Power transmittance of a loss given in decibels: `10^(−dB/10)`.
pub fn transmittance_from_db(loss_db: f64) -> f64 {
    10f64.powf(-loss_db / 10.0)
}

/// Parses a duration such as `24h`, `300s`, `5m`, `250ms`, `2d` or a bare number of seconds,
/// into seconds.
pub fn parse_duration_s(text: &str) -> Result<f64, String> {
    let t = text.trim();
    // The unit is the trailing run of letters, so that `1e5` and `1e5s` read as numbers.
    let split = t.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
    let (number, unit) = t.split_at(split);
    let value: f64 =
        number.trim().parse().map_err(|_| format!("`{text}` is not a duration (e.g. 24h, 300s, 250ms)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use ms, s, m, h or d)")),
    };
    let s = value * scale;
    if s.is_finite() && s >= 0.0 { Ok(s) } else { Err(format!("`{text}`: a duration must be >= 0")) }
}

/// Deserialises a duration written as a string (`"24h"`) or a number of seconds.
pub fn deserialize_duration_s<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }
    match <Raw as serde::Deserialize>::deserialize(d)? {
        Raw::Number(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Raw::Number(x) => Err(serde::de::Error::custom(format!("{x}: a duration must be >= 0"))),
        Raw::Text(s) => parse_duration_s(&s).map_err(serde::de::Error::custom),
    }
}

/// [`deserialize_duration_s`] for optional fields.
pub fn deserialize_optional_duration_s<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    deserialize_duration_s(d).map(Some)
}

/// Deserialises a count that may be written as an integer or as a whole float (`1e9`).
pub fn deserialize_count<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Count {
        Integer(u64),
        Float(f64),
    }
    match <Count as serde::Deserialize>::deserialize(deserializer)? {
        Count::Integer(n) => Ok(n),
        Count::Float(f) => parse_count_f64(f).map_err(serde::de::Error::custom),
    }
}

fn parse_count_f64(f: f64) -> Result<u64, String> {
    if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= 1.8e19 {
        Ok(f as u64)
    } else {
        Err(format!("{f} is not a whole non-negative number"))
    }
}

/// Parses a count from the command line: `1000000`, `1e9` or `2.5e6`.
pub fn parse_count(text: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    let f: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    parse_count_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_outside_unit_interval_is_named() {
        let e = check_probability("detector.efficiency", 1.5).unwrap_err();
        assert_eq!(e.to_string(), "detector.efficiency = 1.5: must be a probability in [0, 1]");
        assert!(check_probability("x", f64::NAN).is_err());
        assert_eq!(check_probability("x", 0.0), Ok(0.0));
    }

    #[test]
    fn decibels_to_transmittance() {
        assert!((transmittance_from_db(10.0) - 0.1).abs() < 1e-15);
        assert!((transmittance_from_db(3.0) - 0.501_187_233_627_272_2).abs() < 1e-12);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_s("24h"), Ok(86400.0));
        assert_eq!(parse_duration_s("300s"), Ok(300.0));
        assert_eq!(parse_duration_s("250ms"), Ok(0.25));
        assert_eq!(parse_duration_s("5m"), Ok(300.0));
        assert_eq!(parse_duration_s("12"), Ok(12.0));
        assert_eq!(parse_duration_s("1e5"), Ok(1e5));
        assert_eq!(parse_duration_s("2.5e3s"), Ok(2500.0));
        assert!(parse_duration_s("3 weeks").is_err());
        assert!(parse_duration_s("-1s").is_err());
    }

    #[test]
    fn counts_accept_scientific_notation() {
        assert_eq!(parse_count("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_count("42"), Ok(42));
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("-3").is_err());
    }
}
