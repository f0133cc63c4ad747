//! `sims/link-gys.toml` reproduces Ma, Qi, Zhao, Lo, "Practical decoy state for quantum key
//! distribution", PRA 72, 012326 (2005), on its own defaults: the maximum distances of the
//! GYS link at μ = 0.48, ν = 0.05 with f(E) = 1.22.

use crate::util::qecnet;

/// `qecnet keyrate --model MODEL --config sims/link-gys.toml --max-distance --json`: the
/// intensities and the maximum distance (km).
fn gys_max_distance(model: &str) -> (f64, f64, f64) {
    let out = qecnet(&["keyrate", "--model", model, "--config", "sims/link-gys.toml", "--max-distance", "--json"]);
    assert!(out.status.success(), "{model}: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = |field: &str| json[field].as_f64().unwrap_or_else(|| panic!("{model}: {field} in {json}"));
    (number("mu"), number("nu"), number("max_distance_km"))
}

/// Ma et al. print the GYS distances to 0.1 km (142.0 km with infinitely many decoys, 140.6 km
/// with vacuum + weak decoys): the tolerance is that printed digit plus its rounding, ±0.15 km
/// (the bisection of `max_distance` adds at most 0.01 km).
const PRINTED_PRECISION_KM: f64 = 0.15;

#[test]
fn gys_reaches_ma_et_al_s_maximum_distances_on_the_file_s_defaults() {
    for (model, paper_km) in [("decoy-infinite", 142.0), ("decoy-vacuum-weak", 140.6)] {
        let (mu, nu, km) = gys_max_distance(model);
        assert_eq!((mu, nu), (0.48, 0.05), "{model}: the paper's intensities are the file's defaults");
        assert!(
            (km - paper_km).abs() <= PRINTED_PRECISION_KM,
            "{model}: L_max = {km:.3} km, Ma et al. 2005: {paper_km} km (± {PRINTED_PRECISION_KM})"
        );
    }
}
