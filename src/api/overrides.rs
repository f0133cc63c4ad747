//! A command's scenario overrides: `--set path=value` items and dedicated options (`--pulses`,
//! or a Python keyword), each remembering its name so that an error names what the user typed.

use crate::{Error, Result};

/// The overrides of a command: its `--set` items, then its dedicated options (`--pulses`,
/// `--distance-km`...) as `field=value`, each remembering the option the user typed so that an
/// error names that option, not `--set`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    items: Vec<(String, &'static str)>,
    /// (option, field) of each dedicated option given.
    flags: Vec<(&'static str, &'static str)>,
}

impl Overrides {
    /// The `--set` items.
    pub fn new(set: &[String]) -> Self {
        Overrides { items: set.iter().map(|s| (s.clone(), "--set")).collect(), flags: Vec::new() }
    }

    /// Adds `field=value` from `option`, if it was given.
    pub fn flag(&mut self, option: &'static str, field: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.items.push((format!("{field}={v}"), option));
            self.flags.push((option, field));
        }
    }

    /// Reads the scenario at `path` (defaults when `None`) with these overrides.
    pub fn load<T>(&self, path: Option<&std::path::Path>) -> Result<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Default,
    {
        Ok(crate::config::load_labelled(path, &self.items)?)
    }

    /// `e`, with a parameter set by a dedicated option named by that option:
    /// `--pulses (simulation.pulses) = 0: must be at least 1`.
    pub fn name(&self, e: impl Into<Error>) -> Error {
        match e.into() {
            Error::Invalid(mut p) => {
                if let Some((option, field)) = self.flags.iter().rev().find(|(_, f)| *f == p.field) {
                    p.field = format!("{option} ({field})");
                }
                Error::Invalid(p)
            }
            other => other,
        }
    }
}

/// A float as a TOML literal (always with a decimal point or exponent; `inf` and `nan` as
/// TOML spells them, so that validation reports them).
pub fn toml_float(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x:?}")
    }
}
