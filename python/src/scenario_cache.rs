//! The key-rate scenarios of recent calls, parsed once: `key_rate` in an optimiser loop would
//! otherwise re-read and re-parse its scenario TOML (and round-trip the defaulted scenario
//! through a TOML value for every keyword override) on every call.
//!
//! A scenario is cached under (its path, the file's modification time and size, the `set`
//! items), so a file rewritten between calls is read again; a rewrite that keeps both the size
//! and the modification time (to the file system's resolution, nanoseconds on ext4) is not
//! seen. The keyword options (`distance_km`, `mu`, `nu`, `block_size`) are then written into
//! the cached scenario's fields directly, which is what their `field=value` override does, and
//! the result is validated as the CLI validates it, with the same messages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use qecnet::api::{self, Overrides};
use qecnet::link_scenario::LinkScenario;

/// Most scenarios kept (a notebook uses a handful; the oldest is dropped past this).
const CAPACITY: usize = 32;

/// What a cached scenario depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: Option<PathBuf>,
    modified: Option<SystemTime>,
    size: u64,
    set: Vec<String>,
}

/// Cached scenarios with the order they were added in.
#[derive(Default)]
struct Cache {
    entries: HashMap<Key, LinkScenario>,
    order: Vec<Key>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The keyword options of `key_rate`, each the override of one scenario field.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyRateOptions {
    /// `channel.length_km` (km).
    pub distance_km: Option<f64>,
    /// `source.signal_intensity` (mean photon number).
    pub mu: Option<f64>,
    /// `source.decoy_intensity` (mean photon number).
    pub nu: Option<f64>,
    /// `postprocess.block_size` (detections).
    pub block_size: Option<u64>,
}

impl KeyRateOptions {
    /// The overrides the CLI builds for these options (`--set` items first), which name the
    /// keyword in an error.
    fn overrides(&self, set: &[String]) -> Overrides {
        let mut overrides = Overrides::new(set);
        overrides.flag("distance_km", "channel.length_km", self.distance_km.map(api::toml_float));
        overrides.flag("mu", "source.signal_intensity", self.mu.map(api::toml_float));
        overrides.flag("nu", "source.decoy_intensity", self.nu.map(api::toml_float));
        overrides.flag("block_size", "postprocess.block_size", self.block_size.map(|n| n.to_string()));
        overrides
    }
}

/// The scenario at `config` (the built-in GYS link when `None`) with `set` and `options`
/// applied and validated: equal to [`api::load_link_scenario`] with the same overrides, from
/// the cache when the file has not changed.
pub fn key_rate_scenario(
    config: Option<&Path>,
    set: &[String],
    options: KeyRateOptions,
) -> qecnet::Result<LinkScenario> {
    let overrides = options.overrides(set);
    // A block size beyond TOML's signed integers is refused by the override: keep its message.
    if options.block_size.is_some_and(|n| i64::try_from(n).is_err()) {
        return api::load_link_scenario(config, &overrides);
    }
    let mut scenario = base(config, set)?;
    if let Some(km) = options.distance_km {
        scenario.channel.length_km = km;
    }
    if let Some(mu) = options.mu {
        scenario.source.signal_intensity = mu;
    }
    if let Some(nu) = options.nu {
        scenario.source.decoy_intensity = nu;
    }
    if let Some(n) = options.block_size {
        scenario.postprocess.block_size = n;
    }
    scenario.validate().map_err(|e| overrides.name(e))?;
    Ok(scenario)
}

/// The file's scenario with the `set` items, not validated (the keyword options come next).
fn base(config: Option<&Path>, set: &[String]) -> qecnet::Result<LinkScenario> {
    let (modified, size) = match config {
        Some(path) => match std::fs::metadata(path) {
            Ok(meta) => (meta.modified().ok(), meta.len()),
            // Unreadable: let the loader report it as the CLI does.
            Err(_) => return Overrides::new(set).load(config),
        },
        None => (None, 0),
    };
    let key = Key { path: config.map(Path::to_owned), modified, size, set: set.to_vec() };
    if let Some(hit) = cache().lock().unwrap_or_else(std::sync::PoisonError::into_inner).entries.get(&key) {
        return Ok(hit.clone());
    }
    let scenario: LinkScenario = Overrides::new(set).load(config)?;
    let mut cache = cache().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.order.len() >= CAPACITY {
        let oldest = cache.order.remove(0);
        cache.entries.remove(&oldest);
    }
    if cache.entries.insert(key.clone(), scenario.clone()).is_none() {
        cache.order.push(key);
    }
    Ok(scenario)
}
