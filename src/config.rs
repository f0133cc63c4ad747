//! Scenario files: TOML read into typed, defaulted structs, with `--set path.field=value`
//! overrides applied on top.
//!
//! An override must name a field that exists in the scenario's schema (every field has a
//! default, so the schema is the defaulted struct itself); its value is parsed as a TOML value
//! and must have the field's type (an integer is accepted for a float field, and a whole float
//! such as `1e9` for an integer field).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::units::{deserialize_count, parse_count};

/// A scenario that cannot be read or an override that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the line and the key).
        message: String,
    },
    /// `--set` names a field the schema does not have.
    #[error("{option} {field}: unknown field; known fields here: {known}")]
    UnknownField {
        /// The option the override came from (`--set`, or a dedicated one such as `--pulses`).
        option: String,
        /// The dotted path given.
        field: String,
        /// The fields that exist at the deepest level reached.
        known: String,
    },
    /// `--set` without `=`.
    #[error("--set {0}: expected path.to.field=value")]
    Malformed(String),
    /// An override with a value of the wrong type: `--set field=value: ...`, or for a
    /// dedicated option `--pulses value (simulation.pulses): ...`.
    #[error("{}", bad_value(option, field, value, expected))]
    BadValue {
        /// The option the override came from.
        option: String,
        /// The dotted path given.
        field: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
}

impl ConfigError {
    /// Whether this is a failure to read the file (I/O: exit status 1) rather than a file or
    /// override that is wrong (exit status 2).
    pub fn is_runtime(&self) -> bool {
        matches!(self, ConfigError::Read { .. })
    }
}

fn bad_value(option: &str, field: &str, value: &str, expected: &str) -> String {
    if option == "--set" {
        format!("--set {field}={value}: {expected}")
    } else {
        format!("{option} {value} ({field}): {expected}")
    }
}

/// Reads a scenario of type `T` from `path` (or the defaults when `None`) and applies the
/// `overrides` (`path.to.field=value`) in order.
pub fn load<T>(path: Option<&Path>, overrides: &[String]) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_labelled(path, &labelled(overrides))
}

/// `--set` items labelled as such.
fn labelled(overrides: &[String]) -> Vec<(String, &'static str)> {
    overrides.iter().map(|o| (o.clone(), "--set")).collect()
}

/// [`load`] with each override labelled by the option it came from (`--set`, `--pulses`...),
/// which its error messages name.
pub fn load_labelled<T>(path: Option<&Path>, overrides: &[(String, &str)]) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    match path {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
            from_text_labelled(&text, path, overrides)
        }
        None => with_overrides(T::default(), overrides),
    }
}

/// Parses a scenario of type `T` from `text` (read from `path`, which errors name) and
/// applies the `overrides` in order.
pub fn from_text<T>(text: &str, path: &Path, overrides: &[String]) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    from_text_labelled(text, path, &labelled(overrides))
}

fn from_text_labelled<T>(text: &str, path: &Path, overrides: &[(String, &str)]) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let base: T = toml::from_str(text)
        .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: one_line(&e.to_string()) })?;
    with_overrides(base, overrides)
}

fn with_overrides<T>(base: T, overrides: &[(String, &str)]) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    if overrides.is_empty() {
        return Ok(base);
    }
    let mut value = toml::Value::try_from(&base).expect("a scenario always serialises to TOML");
    for (item, option) in overrides {
        apply_override_as(&mut value, item, option)?;
    }
    value.try_into().map_err(|e: toml::de::Error| ConfigError::Parse {
        path: PathBuf::from("--set"),
        message: one_line(&e.to_string()),
    })
}

/// Applies one `path.to.field=value` override to `root`.
pub fn apply_override(root: &mut toml::Value, item: &str) -> Result<(), ConfigError> {
    apply_override_as(root, item, "--set")
}

/// [`apply_override`] of an override that came from `option`.
pub fn apply_override_as(root: &mut toml::Value, item: &str, option: &str) -> Result<(), ConfigError> {
    let (field, raw) = item.split_once('=').ok_or_else(|| ConfigError::Malformed(item.to_owned()))?;
    let (field, raw) = (field.trim(), raw.trim());
    let mut node = root;
    for (depth, key) in field.split('.').enumerate() {
        if let toml::Value::Array(items) = node {
            // `link.0.length_km`: an index into an array of tables.
            let len = items.len();
            node =
                key.parse::<usize>().ok().and_then(|i| items.get_mut(i)).ok_or_else(|| ConfigError::UnknownField {
                    option: option.to_owned(),
                    field: field.to_owned(),
                    known: format!(
                        "indices 0..{len} of `{}`",
                        field.split('.').take(depth).collect::<Vec<_>>().join(".")
                    ),
                })?;
            continue;
        }
        let table = node.as_table_mut().ok_or_else(|| ConfigError::UnknownField {
            option: option.to_owned(),
            field: field.to_owned(),
            known: format!("(`{}` is not a table)", field.split('.').take(depth).collect::<Vec<_>>().join(".")),
        })?;
        if !table.contains_key(key) {
            let mut known: Vec<&str> = table.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(ConfigError::UnknownField {
                option: option.to_owned(),
                field: field.to_owned(),
                known: known.join(", "),
            });
        }
        node = table.get_mut(key).expect("checked above");
    }
    *node = coerce(node, parse_value(raw)).map_err(|expected| ConfigError::BadValue {
        option: option.to_owned(),
        field: field.to_owned(),
        value: raw.to_owned(),
        expected,
    })?;
    Ok(())
}

/// A raw override value as TOML (numbers, booleans, arrays...), or as a bare string.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// `new` converted to the type of `old`, or a message saying which type was expected.
fn coerce(old: &toml::Value, new: toml::Value) -> Result<toml::Value, String> {
    use toml::Value as V;
    match (old, new) {
        (V::Float(_), V::Integer(i)) => Ok(V::Float(i as f64)),
        (V::Integer(_), V::Float(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 => {
            Ok(V::Integer(f as i64))
        }
        (old, new) if std::mem::discriminant(old) == std::mem::discriminant(&new) => Ok(new),
        // A duration such as `10s` or `5m` for a float field: the field's own deserialiser
        // decides (durations read it as the scenario file would; other floats refuse it).
        (V::Float(_), V::String(text)) if crate::units::parse_duration_s(&text).is_ok() => Ok(V::String(text)),
        (V::Integer(_), V::String(text)) if text.parse::<u64>().is_ok() || text.parse::<f64>().is_ok() => {
            Err(format!("expected an integer of at most {} (TOML integers are signed 64-bit)", i64::MAX))
        }
        (old, _) => Err(format!("expected {}", old.type_str())),
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::photonics::LinkConfig;

    #[test]
    fn override_sets_nested_float_from_integer() {
        let c: LinkConfig = load(None, &["channel.length_km=80".into()]).unwrap();
        assert_eq!(c.channel.length_km, 80.0);
        let c: LinkConfig = load(None, &["simulation.pulses=1e9".into()]).unwrap();
        assert_eq!(c.simulation.pulses, 1_000_000_000);
    }

    #[test]
    fn unknown_field_is_named_with_alternatives() {
        let e = load::<LinkConfig>(None, &["channel.lenght_km=80".into()]).unwrap_err().to_string();
        assert_eq!(
            e,
            "--set channel.lenght_km: unknown field; known fields here: attenuation_db_per_km, insertion_loss_db, length_km"
        );
    }

    #[test]
    fn wrong_type_is_refused() {
        let e = load::<LinkConfig>(None, &["channel.length_km=far".into()]).unwrap_err().to_string();
        assert_eq!(e, "--set channel.length_km=far: expected float");
    }
}
