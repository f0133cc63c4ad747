//! Link and mesh scenario files with `--set` overrides: parsing and validation must never
//! panic, hang or accept a value that then breaks the models built from it.
//!
//! Input: TOML text, then optionally a line `%%` and one `--set` item per line.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use qecnet::mesh::MeshScenario;
use qecnet::link_scenario::LinkScenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (toml, sets) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let sets: Vec<String> = sets.lines().map(str::to_string).collect();
    let path = Path::new("fuzz.toml");
    if let Ok(scenario) = qecnet::config::from_text::<LinkScenario>(toml, path, &sets)
        && scenario.validate().is_ok()
    {
        let link = scenario.link();
        if let Ok(model) = qecnet::photonics::LinkModel::new(&link) {
            let q = model.expected_qber();
            assert!(q.is_nan() || (0.0..=1.0).contains(&q), "expected QBER {q} outside [0, 1]");
        }
    }
    if let Ok(mesh) = qecnet::config::from_text::<MeshScenario>(toml, path, &sets)
        && let Ok(topology) = mesh.validate()
    {
        for l in topology.links.iter().take(8) {
            let Ok(config) = mesh.link_config(l) else { continue };
            let _ = qecnet::mesh::Cusum::for_honest_link(&config, &mesh.monitor);
            let _ = qecnet::mesh::QkdLink::new(
                &config,
                mesh.mesh.window_s,
                &mesh.postprocess,
                mesh.mesh.buffer_capacity_bits,
            );
        }
    }
});
