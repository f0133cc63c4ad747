//! What a sweep point measures: named figures (units in the names) for each kind of sweep.

use crate::atomic_file::ScratchDir;
use crate::config::apply_override;
use crate::link_scenario::LinkScenario;
use crate::mesh::link::QkdLink;
use crate::mesh::monitor::Cusum;
use crate::mesh::scenario::MeshScenario;
use crate::mesh::sim::{MeshOutputs, run_mesh};
use crate::photonics::link::LinkSummary;
use crate::photonics::simulate_link;
use crate::postprocess::keyrate::{self, KeyRateModel};
use crate::sweep::figure_names;
use crate::sweep::kind::SweepKind;
use crate::sweep::spec::Sweep;

/// Every figure a point of `sweep` produces, in column order.
pub fn all_figure_names(sweep: &Sweep) -> Vec<String> {
    figure_names::all_figure_names(sweep.kind, &sweep.models, sweep.optimise)
}

/// The figures kept: `outputs` if given, else all.
pub fn figure_names(sweep: &Sweep) -> Vec<String> {
    if sweep.outputs.is_empty() { all_figure_names(sweep) } else { sweep.outputs.clone() }
}

/// The kept figures of one point (its scenario as a TOML value, its seed, its (point,
/// replicate) key), formatted for CSV (shortest round-trip decimal).
pub fn evaluate(sweep: &Sweep, mut value: toml::Value, seed: u64, key: (u64, u32)) -> Result<Vec<String>, String> {
    let set = |value: &mut toml::Value, item: String| apply_override(value, &item).map_err(|e| e.to_string());
    let values: Vec<String> = match sweep.kind {
        SweepKind::Link | SweepKind::Keyrate => {
            if sweep.kind == SweepKind::Link {
                set(&mut value, format!("simulation.seed={seed}"))?;
            }
            let scenario: LinkScenario = value.try_into().map_err(|e: toml::de::Error| e.to_string())?;
            scenario.validate().map_err(|e| e.to_string())?;
            if sweep.kind == SweepKind::Link { link_figures(&scenario)? } else { keyrate_figures(sweep, &scenario)? }
        }
        SweepKind::Mesh | SweepKind::Decision => {
            set(&mut value, format!("mesh.seed={seed}"))?;
            let scenario: MeshScenario = value.try_into().map_err(|e: toml::de::Error| e.to_string())?;
            if sweep.kind == SweepKind::Mesh {
                mesh_figures(&scenario, key)?
            } else {
                decision_figures(&scenario, seed)?
            }
        }
    };
    if sweep.outputs.is_empty() {
        return Ok(values);
    }
    let names = all_figure_names(sweep);
    Ok(sweep.outputs.iter().map(|o| values[names.iter().position(|n| n == o).expect("validated")].clone()).collect())
}

/// Runs a mesh point in a scratch directory (removed afterwards) and reports its summary.
fn mesh_figures(scenario: &MeshScenario, (point, replicate): (u64, u32)) -> Result<Vec<String>, String> {
    // Removed when this function returns or unwinds.
    let dir = ScratchDir::new(&format!("qecnet-sweep-mesh-{point}-{replicate}")).map_err(|e| e.to_string())?;
    let outputs = MeshOutputs {
        db: dir.path().join("store.db"),
        trace: None,
        timeseries: None,
        rotations: None,
        coverage: None,
        overwrite: false,
    };
    let s = run_mesh(scenario, &outputs, &|_, _| {}).map_err(|e| e.to_string())?;
    let refreshes_qkd: u64 = s.per_link.iter().map(|l| l.refreshes_qkd).sum();
    let refreshes_fallback: u64 = s.per_link.iter().map(|l| l.refreshes_fallback).sum();
    let buffer_mean = s.per_link.iter().map(|l| l.buffer_mean_bits).sum::<f64>() / s.per_link.len().max(1) as f64;
    Ok(vec![
        s.key_delivered_bits.to_string(),
        s.fallback_seconds_total.to_string(),
        s.links_in_fallback_ever.to_string(),
        s.buffer_depletions.to_string(),
        refreshes_qkd.to_string(),
        refreshes_fallback.to_string(),
        buffer_mean.to_string(),
        (refreshes_qkd * scenario.mesh.session_key_bits).to_string(),
        s.rotations.scheduled.convergence_ms.p99.to_string(),
        s.rotations.triggered.count.to_string(),
        s.detections.to_string(),
        s.detection_delay_s_mean.to_string(),
        s.false_alarms.to_string(),
        s.audit_records.to_string(),
    ])
}

/// Honest windows watched per decision point, attack trials, and windows per trial.
const HONEST_WINDOWS: u64 = 20_000;
const ATTACK_TRIALS: u64 = 200;
const TRIAL_WINDOWS: u64 = 200;

/// The CUSUM of the first link alone: its false alarms over honest windows, and over attack
/// trials (Eve as in `link_defaults.eve`, the statistic starting at 0) the probability of an
/// alarm within `TRIAL_WINDOWS` windows and the mean delay of those alarms (windows).
fn decision_figures(scenario: &MeshScenario, seed: u64) -> Result<Vec<String>, String> {
    let topology = scenario.validate().map_err(|e| e.to_string())?;
    let link = topology.links.first().ok_or("the mesh has no link")?;
    let attacked = scenario.link_config(link).map_err(|e| e.to_string())?;
    let mut honest = attacked.clone();
    honest.eve = crate::photonics::Eve::default();
    let tuned = Cusum::for_honest_link(&honest, &scenario.monitor).map_err(|e| e.to_string())?;
    let cusum = || tuned.clone();
    let capacity = scenario.mesh.buffer_capacity_bits;
    let mut rng = crate::rng::derive_rng(seed, &[7]);
    let mut link =
        QkdLink::new(&honest, scenario.mesh.window_s, &scenario.postprocess, capacity).map_err(|e| e.to_string())?;
    let mut c = cusum();
    let false_alarms = (0..HONEST_WINDOWS)
        .filter(|_| {
            let w = link.window(&mut rng);
            c.block(w.sifted_bits, w.errors)
        })
        .count();
    let mut link =
        QkdLink::new(&attacked, scenario.mesh.window_s, &scenario.postprocess, capacity).map_err(|e| e.to_string())?;
    let delays: Vec<u64> = (0..ATTACK_TRIALS)
        .filter_map(|_| {
            let mut c = cusum();
            (1..=TRIAL_WINDOWS).find(|_| {
                let w = link.window(&mut rng);
                c.block(w.sifted_bits, w.errors)
            })
        })
        .collect();
    let detected = delays.len() as f64 / ATTACK_TRIALS as f64;
    let delay = if delays.is_empty() { f64::NAN } else { delays.iter().sum::<u64>() as f64 / delays.len() as f64 };
    Ok(vec![
        (false_alarms as f64 / HONEST_WINDOWS as f64).to_string(),
        detected.to_string(),
        delay.to_string(),
        HONEST_WINDOWS.to_string(),
        ATTACK_TRIALS.to_string(),
    ])
}

/// The [`LINK_FIGURES`] of one simulated link scenario, formatted.
pub fn link_figures(scenario: &LinkScenario) -> Result<Vec<String>, String> {
    let config = scenario.link();
    let run = simulate_link(&config, &mut ()).map_err(|e| e.to_string())?;
    let s = LinkSummary::new(&run);
    let measured = keyrate::vacuum_weak_rate_from_counts(&config, &run.totals, &scenario.postprocess);
    let expected = keyrate::key_rate(KeyRateModel::DecoyVacuumWeak, &config, &scenario.postprocess, None)
        .map_err(|e| e.to_string())?;
    let ints = [s.pulses, s.detections, s.sifted_bits, s.sifted_key_bits, s.double_clicks];
    let floats = [
        s.qber,
        s.qber_std_error,
        s.expected_qber,
        s.qber_by_basis.z,
        s.qber_by_basis.x,
        s.signal.gain,
        s.signal.expected.gain,
        s.signal.error_rate,
        s.signal.expected.error_rate,
        s.decoy.gain,
        s.decoy.expected.gain,
        s.decoy.error_rate,
        s.decoy.expected.error_rate,
        s.vacuum.gain,
        s.vacuum.expected.gain,
        s.sifted_key_rate_bps(),
        measured,
        expected.rate_per_pulse,
        measured * config.source.repetition_rate_hz,
    ];
    Ok(ints.iter().map(u64::to_string).chain(floats.iter().map(f64::to_string)).collect())
}

fn keyrate_figures(sweep: &Sweep, scenario: &LinkScenario) -> Result<Vec<String>, String> {
    let config = scenario.link();
    let mut out = Vec::new();
    for &m in &sweep.models {
        let (c, r) = if sweep.optimise {
            keyrate::optimise(m, &config, &scenario.postprocess).map_err(|e| e.to_string())?
        } else {
            (config.clone(), keyrate::key_rate(m, &config, &scenario.postprocess, None).map_err(|e| e.to_string())?)
        };
        out.push(r.rate_per_pulse.to_string());
        out.push(r.rate_bps.to_string());
        if sweep.optimise {
            out.push(c.source.signal_intensity.to_string());
            out.push(c.source.decoy_intensity.to_string());
        }
    }
    Ok(out)
}
