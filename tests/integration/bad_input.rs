//! Bad input exits non-zero with one message naming the field, the value and what is allowed,
//! and leaves no output file behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{OutputText, TempDir, qecnet_command};

/// `qecnet args...` with its stream and records CSVs in `dir`, on a short link.
fn link_run(dir: &Path, args: &[&str]) -> Output {
    qecnet_command()
        .args(args)
        .arg("--qber-stream")
        .arg(dir.join("stream.csv"))
        .arg("--records")
        .arg(dir.join("records.csv"))
        .args(["--pulses", "1e6"])
        .output()
        .unwrap()
}

fn assert_refused(name: &str, args: &[&str], message: &str) {
    let dir = TempDir::new(name);
    let out = link_run(&dir, args);
    let (code, stderr) = (out.code(), out.stderr_text());
    assert_eq!(code, 2, "{name}: exit code, stderr: {stderr}");
    assert!(stderr.contains(message), "{name}: expected `{message}` in stderr:\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{name}: one line of error:\n{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{name}: files left behind: {left:?}");
}

#[test]
fn probability_outside_unit_interval() {
    assert_refused(
        "probability",
        &["link", "--set", "detector.efficiency=1.5"],
        "error: detector.efficiency = 1.5: must be a probability in [0, 1]",
    );
    assert_refused(
        "intercept",
        &["link", "--intercept-resend", "-0.1"],
        "error: --intercept-resend (eve.intercept_resend_fraction) = -0.1: must be a probability in [0, 1]",
    );
}

#[test]
fn negative_length() {
    assert_refused(
        "length",
        &["link", "--distance-km", "-5"],
        "error: --distance-km (channel.length_km) = -5: must be finite and >= 0",
    );
}

#[test]
fn non_positive_signal_intensity() {
    assert_refused(
        "mu",
        &["link", "--set", "source.signal_intensity=0"],
        "error: source.signal_intensity = 0: must be finite and > 0",
    );
}

#[test]
fn unknown_field_in_set() {
    assert_refused(
        "unknown",
        &["link", "--set", "channel.lenght_km=3"],
        "error: --set channel.lenght_km: unknown field; known fields here: attenuation_db_per_km, insertion_loss_db, length_km",
    );
}

#[test]
fn unknown_receiver() {
    assert_refused(
        "receiver",
        &["link", "--set", "detector.receiver=hybrid"],
        "error: --set: unknown variant `hybrid`, expected `active` or `passive` in `detector.receiver`",
    );
}

#[test]
fn decoy_intensities_out_of_order() {
    assert_refused(
        "order",
        &["link", "--set", "source.decoy_intensity=0.9"],
        "error: source.decoy_intensity = 0.9: must be below source.signal_intensity = 0.48",
    );
    assert_refused(
        "vacuum-order",
        &["link", "--set", "source.vacuum_intensity=0.06"],
        "error: source.vacuum_intensity = 0.06: must be below source.decoy_intensity = 0.05",
    );
}

#[test]
fn malformed_toml() {
    let dir = TempDir::new("toml-input");
    let file = dir.join("broken.toml");
    std::fs::write(&file, "[channel]\nlength_km = = 3\n").unwrap();
    assert_refused("toml", &["link", "--config", file.to_str().unwrap()], "broken.toml: TOML parse error at line 2");
    std::fs::write(&file, "[channel]\nlength = 3\n").unwrap();
    assert_refused("toml-key", &["link", "--config", file.to_str().unwrap()], "unknown field `length`");
}

#[test]
fn run_time_write_failure_leaves_nothing() {
    let dir = TempDir::new("io");
    let out = qecnet_command()
        .args(["link", "--pulses", "1e6", "--qber-stream"])
        .arg(dir.join("stream.csv"))
        .arg("--records")
        .arg(dir.join("missing-dir/records.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-dir/records.csv"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no partial output");
}

/// A scenario or sweep file of the repository (`sims/...`).
fn sims(name: &str) -> String {
    format!("{}/sims/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `qecnet args...` (no extra arguments), in the temp dir so that nothing can land in the
/// repository; returns the exit code, stdout and stderr.
fn run_raw(args: &[&str]) -> (i32, String, String) {
    run_with_env(args, &[])
}

fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    qecnet_command().args(args).envs(env.iter().copied()).current_dir(std::env::temp_dir()).output().unwrap().parts()
}

/// Files in `dir`, by name.
fn files_in(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect()
}

/// `qecnet args...` exits 2 with one line containing `message` and creates nothing in `dir`
/// (which the arguments may name as `{dir}`).
fn assert_refused_in(dir: &Path, args: &[&str], message: &str) {
    let d = dir.to_str().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", d)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = run_raw(&args);
    assert_eq!(code, 2, "{args:?}: exit code, stderr: {stderr}");
    assert!(stderr.contains(message), "{args:?}: expected `{message}` in stderr:\n{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line of error:\n{stderr}");
    assert!(files_in(dir).is_empty(), "{args:?}: files left behind: {:?}", files_in(dir));
}

/// A mesh run of `sims/mesh-default.toml` for one hour with `--set` overrides, storing into
/// `{dir}/x.db`.
fn mesh_args<'a>(scenario: &'a str, sets: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["mesh", scenario, "--duration", "1h", "--db", "{dir}/x.db"];
    for s in sets {
        args.extend(["--set", s]);
    }
    args
}

#[test]
fn a_link_whose_honest_qber_reaches_one_half_is_refused_naming_the_link() {
    let dir = TempDir::new("qber-half");
    let scenario = sims("mesh-default.toml");
    for set in ["link_defaults.detector.misalignment=0.5", "link_defaults.channel.attenuation_db_per_km=50"] {
        assert_refused_in(&dir, &mesh_args(&scenario, &[set]), "error: link hub-n1: expected honest QBER = 0.5");
    }
    assert_refused_in(
        &dir,
        &mesh_args(&scenario, &["link_defaults.detector.efficiency=0"]),
        "error: link_defaults.detector.efficiency = 0: must be in (0, 1]",
    );
    // A store that does not exist yet in a directory that does not exist yet: neither is made.
    let (code, _, _) = run_raw(&[
        "mesh",
        &scenario,
        "--db",
        dir.join("new/x.db").to_str().unwrap(),
        "--set",
        "link_defaults.detector.misalignment=0.5",
    ]);
    assert_eq!(code, 2);
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

#[test]
fn a_mesh_sweep_point_whose_link_cannot_carry_key_fails_in_its_row_leaving_no_scratch_store() {
    let dir = TempDir::new("qber-half-sweep");
    let sweep = dir.join("sweep.toml");
    let csv = dir.join("out.csv");
    std::fs::write(
        &sweep,
        format!(
            "[sweep]\nname = \"half\"\nkind = \"mesh\"\nbase = {:?}\noutput = {:?}\n\
             set = [\"mesh.duration=600.0\"]\n\n[[axis]]\nfield = \"link_defaults.detector.misalignment\"\n\
             values = [0.01, 0.5]\n",
            sims("mesh-one-link.toml"),
            csv.to_str().unwrap()
        ),
    )
    .unwrap();
    let child = qecnet_command()
        .args(["sweep", "run", sweep.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 of 2 points failed"), "{stderr}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("expected honest QBER")).collect();
    assert_eq!(failed.len(), 1, "the failing point names the link in its error column:\n{text}");
    assert!(failed[0].contains("link hub-n1"), "{}", failed[0]);
    let prefix = format!("qecnet-sweep-mesh-{pid}-");
    let scratch_left: Vec<_> =
        files_in(&std::env::temp_dir()).into_iter().filter(|n| n.to_string_lossy().starts_with(&prefix)).collect();
    assert!(scratch_left.is_empty(), "scratch stores left in the temp dir: {scratch_left:?}");
}

#[test]
fn a_mean_photon_number_beyond_the_exact_photon_number_table_is_refused() {
    for mu in ["1000", "1e300"] {
        assert_refused(
            "mu-table",
            &["link", "--set", &format!("source.signal_intensity={mu}")],
            "must be at most 100 (photon numbers are tabulated up to 200",
        );
    }
    let dir = TempDir::new("mu-table-keyrate");
    assert_refused_in(
        &dir,
        &["keyrate", "--model", "gllp", "--set", "source.signal_intensity=150"],
        "error: source.signal_intensity = 150: must be at most 100",
    );
}

#[test]
fn a_thread_count_beyond_sixteen_per_core_is_refused_instead_of_hanging() {
    let dir = TempDir::new("threads");
    let args = ["--threads", "1000000", "keyrate", "--model", "gllp"];
    assert_refused_in(&dir, &args, "error: --threads = 1000000: must be a whole number in 1..=");
    assert_refused_in(&dir, &["--threads", "0", "keyrate", "--model", "gllp"], "error: --threads = 0:");
    let (code, _, stderr) =
        run_with_env(&["keyrate", "--model", "gllp"], &[("SLURM_JOB_ID", "1"), ("SLURM_CPUS_PER_TASK", "1000000")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: SLURM_CPUS_PER_TASK = 1000000: must be a whole number in 1..="), "{stderr}");
    let (code, _, stderr) =
        run_with_env(&["keyrate", "--model", "gllp"], &[("SLURM_JOB_ID", "1"), ("SLURM_CPUS_PER_TASK", "2")]);
    assert_eq!(code, 0, "a Slurm allotment within the bound runs: {stderr}");
}

#[test]
fn a_sweep_of_more_than_ten_million_tasks_is_refused_before_anything_is_allocated() {
    let input = TempDir::new("sweep-size");
    let out = TempDir::new("sweep-size-out");
    let sweep = input.join("sweep.toml");
    let header = format!("[sweep]\nname = \"big\"\nkind = \"keyrate\"\noutput = {:?}\n", out.join("out.csv"));
    let axis = |field: &str, n: &str| format!("[[axis]]\nfield = \"{field}\"\nlinspace = [0.0, 1.0, {n}]\n");
    for (body, message) in [
        (axis("channel.length_km", "1000000000000"), "axis 1: 1000000000000 values: must be at most 10000000"),
        (
            format!("{}{}", axis("channel.length_km", "10000"), axis("eve.intercept_resend_fraction", "10000")),
            "points × replicates = 100000000: must be at most 10000000",
        ),
        (
            format!("replicates = 1000000000\n{}", axis("channel.length_km", "1")),
            "points × replicates = 1000000000: must be at most 10000000",
        ),
    ] {
        std::fs::write(&sweep, format!("{header}{body}")).unwrap();
        assert_refused_in(&out, &["sweep", "run", sweep.to_str().unwrap()], message);
    }
}

#[test]
fn a_refresh_interval_shorter_than_a_monitoring_window_is_refused_instead_of_never_finishing() {
    let dir = TempDir::new("refresh");
    assert_refused_in(
        &dir,
        &mesh_args(&sims("mesh-default.toml"), &["mesh.refresh_interval=0.01"]),
        "error: mesh.refresh_interval = 0.01 s: must be at least mesh.window = 10 s",
    );
}

#[test]
fn a_distance_whose_loss_underflows_the_transmittance_is_refused() {
    for km in ["1e9", "1e308"] {
        assert_refused(
            "distance-underflow",
            &["link", "--set", &format!("channel.length_km={km}")],
            "channel.length_km = ",
        );
        assert_refused(
            "distance-underflow-message",
            &["link", "--set", &format!("channel.length_km={km}")],
            ": must be at most 14285.714286 km at 0.21 dB/km and 0 dB insertion loss (a total loss above 3000 dB",
        );
    }
    assert_refused(
        "insertion-underflow",
        &["link", "--set", "channel.insertion_loss_db=1e4"],
        "error: channel.insertion_loss_db = 10000: must be at most 3000 dB",
    );
}

#[test]
fn a_basis_probability_of_zero_or_one_is_refused() {
    for side in ["source", "detector"] {
        for p in ["0", "1"] {
            assert_refused(
                "basis",
                &["link", "--set", &format!("{side}.z_basis_probability={p}")],
                &format!("error: {side}.z_basis_probability = {p}: must be in (0, 1)"),
            );
        }
    }
}

#[test]
fn a_dark_count_probability_of_one_is_refused() {
    assert_refused(
        "dark-one",
        &["link", "--set", "detector.dark_count_probability=1"],
        "error: detector.dark_count_probability = 1: must be in [0, 1)",
    );
}

#[test]
fn mesh_settings_that_cannot_work_are_refused_naming_field_value_and_range() {
    let dir = TempDir::new("mesh-nonsense");
    let scenario = sims("mesh-default.toml");
    for (set, message) in [
        (
            "postprocess.block_size=1",
            "error: postprocess.block_size = 1: must be at least 277 with finite-key security",
        ),
        ("topology.route_factor=0", "error: topology.route_factor = 0: must be in [1, 10]"),
        ("topology.max_link_km=0", "error: topology.max_link_km = 0: must be finite and > 0"),
        ("monitor.qber_threshold=0", "error: monitor.qber_threshold = 0: must be in (0, 0.5)"),
        ("mesh.overlap=1e12", "error: mesh.overlap = 1000000000000 s: must be at most mesh.refresh_interval = 300 s"),
        (
            "mesh.buffer_capacity_bits=0",
            "error: mesh.buffer_capacity_bits = 0: must be at least mesh.session_key_bits = 256",
        ),
        ("node.0.name=\"\"", "error: node.0.name = \"\": must be non-empty, of letters, digits, `_` and `.`"),
        ("hub.name=\"a-b\"", "error: hub.name = \"a-b\": must be non-empty"),
    ] {
        assert_refused_in(&dir, &mesh_args(&scenario, &[set]), message);
    }
    assert_refused_in(
        &dir,
        &["mesh", &scenario, "--db", "{dir}/x.db", "--duration", "1e300"],
        "error: --duration (mesh.duration) = 1e300 s: must be at most 1e9 s",
    );
}

#[test]
fn an_empty_mesh_scenario_file_is_refused_instead_of_running_a_mesh_without_links() {
    let input = TempDir::new("mesh-empty-in");
    let dir = TempDir::new("mesh-empty");
    let empty = input.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    assert_refused_in(&dir, &mesh_args(empty, &[]), "error: node = (none): a mesh needs at least one [[node]]");
    // A node too far from every other one for a direct link has no key at all.
    let lonely = input.join("lonely.toml");
    std::fs::write(&lonely, "[topology]\nmax_link_km = 100.0\n\n[[node]]\nname = \"far\"\nx_km = 500.0\n").unwrap();
    assert_refused_in(
        &dir,
        &mesh_args(lonely.to_str().unwrap(), &[]),
        "error: topology = far: has no quantum link (all its pairs are longer than topology.max_link_km = 100 km)",
    );
}

#[test]
fn plotting_a_csv_without_data_rows_is_refused() {
    let input = TempDir::new("plot-empty-in");
    let out = TempDir::new("plot-empty-out");
    let csv = input.join("header-only.csv");
    std::fs::write(
        &csv,
        "point,replicate,seed,eve.intercept_resend_fraction,qber,expected_qber,signal_gain,\
         key_rate_vacuum_weak_per_pulse,key_rate_vacuum_weak_expected_per_pulse,error\n",
    )
    .unwrap();
    let args = [
        "plot",
        &sims("sweep-intercept-resend.toml"),
        "--recipe",
        "intercept-resend",
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        "{dir}/charts",
    ];
    assert_refused_in(&out, &args, "header-only.csv: no data rows (a header alone)");
}

#[test]
fn the_reconcile_study_figure_names_the_column_its_csv_lacks_and_wants_no_sweep() {
    let input = TempDir::new("plot-reconcile-in");
    let out = TempDir::new("plot-reconcile-out");
    let csv = input.join("study.csv");
    // A study CSV without `round_trips`.
    std::fs::write(
        &csv,
        "reconciler,qber,block_size,runs,efficiency_mean,efficiency_std,frame_error_rate\n\
         ldpc,0.02,10000,4,1.18,0.03,0.0\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let plot = |extra: &[&'static str]| {
        let mut args = vec!["plot", "--recipe", "reconcile-study", "--out", "{dir}/charts"];
        args.extend_from_slice(extra);
        args
    };
    let mut with_csv = plot(&[]);
    with_csv.extend(["--csv", csv]);
    assert_refused_in(&out, &with_csv, "no column `round_trips`");
    assert_refused_in(&out, &plot(&[]), "--recipe reconcile-study needs --csv FILE.csv");
    let sweep = sims("sweep-intercept-resend.toml");
    let mut with_sweep = plot(&[]);
    with_sweep.extend([sweep.as_str(), "--csv", csv]);
    assert_refused_in(&out, &with_sweep, "--recipe reconcile-study draws from its CSV alone, not a sweep file");
    assert_refused_in(
        &out,
        &["plot", "--recipe", "intercept-resend", "--csv", csv, "--out", "{dir}/charts"],
        "--recipe intercept-resend draws a sweep's CSV beside its base scenario",
    );
}

/// Deserialises `value` as a link or mesh scenario (by `mesh`) and validates it.
fn validate_value(value: toml::Value, mesh: bool) -> Result<(), String> {
    if mesh {
        let s: qecnet::mesh::MeshScenario = value.try_into().map_err(|e| e.to_string())?;
        s.validate().map(|_| ()).map_err(|e| e.to_string())
    } else {
        let s: qecnet::link_scenario::LinkScenario = value.try_into().map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())
    }
}

/// Every point of `sweep` (after the `extra` overrides) is a valid scenario.
fn validate_sweep_points(path: &Path, extra: &[String]) {
    let sweep = qecnet::sweep::Sweep::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for point in 0..sweep.points() {
        let mut value = sweep.base.clone();
        for item in extra {
            qecnet::config::apply_override(&mut value, item).unwrap();
        }
        for (field, v) in sweep.assignments(point) {
            qecnet::config::apply_override(&mut value, &format!("{field}={v}")).unwrap();
        }
        validate_value(value, sweep.kind.uses_mesh())
            .unwrap_or_else(|e| panic!("{} point {point}: {e}", path.display()));
    }
}

#[test]
fn every_scenario_and_sweep_point_in_sims_and_the_quick_start_is_still_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("mesh-") {
            let s: qecnet::mesh::MeshScenario = qecnet::config::load(Some(&path), &[]).unwrap();
            s.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("link-") {
            let s: qecnet::link_scenario::LinkScenario = qecnet::config::load(Some(&path), &[]).unwrap();
            s.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("sweep-") {
            validate_sweep_points(&path, &[]);
        } else {
            continue;
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} files checked");
    // The quick start's jobs, with their overrides.
    let run: toml::Table = toml::from_str(&std::fs::read_to_string(dir.join("quickstart.toml")).unwrap()).unwrap();
    let jobs = run["job"].as_array().unwrap();
    for job in jobs {
        let set: Vec<String> = job
            .get("set")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        if let Some(mesh) = job.get("mesh") {
            let path = dir.join(mesh.as_str().unwrap());
            let s: qecnet::mesh::MeshScenario = qecnet::config::load(Some(&path), &set).unwrap();
            s.validate().unwrap_or_else(|e| panic!("quickstart mesh job: {e}"));
        } else if let Some(csvs) = job.get("csv") {
            // A chart drawn from committed data (the reconcile-study dataset): each file is
            // there, with the columns its recipe reads.
            for csv in csvs.as_array().unwrap() {
                let path = dir.join(csv.as_str().unwrap());
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let header = text.lines().next().unwrap_or_default();
                for column in ["reconciler", "qber", "block_size", "efficiency_mean", "round_trips"] {
                    assert!(header.split(',').any(|c| c == column), "{}: no column `{column}`", path.display());
                }
            }
        } else {
            validate_sweep_points(&dir.join(job["sweep"].as_str().unwrap()), &set);
        }
    }
    assert_eq!(jobs.len(), 8);
}

/// A store written by a 3 h run of the default mesh in `dir` (over 100 kB of `keys list`).
fn mesh_store(dir: &Path) -> PathBuf {
    let db = dir.join("m.db");
    let (code, _, stderr) =
        run_raw(&["mesh", &sims("mesh-default.toml"), "--duration", "3h", "--db", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    db
}

#[test]
fn check_proof_exits_2_for_an_unreadable_or_malformed_file_and_1_only_when_the_proof_fails() {
    let dir = TempDir::new("check-proof");
    let db = mesh_store(&dir);
    let proof = dir.join("proof.json");
    let (code, _, stderr) =
        run_raw(&["audit", "prove", db.to_str().unwrap(), "--record", "3", "--out", proof.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let check = |file: &Path| run_raw(&["audit", "check-proof", file.to_str().unwrap()]);
    assert_eq!(check(&proof).0, 0, "the genuine proof holds");
    let text = std::fs::read_to_string(&proof).unwrap();
    assert!(text.contains("\"detail\": \"to operator\""), "{text}");
    let forged = dir.join("forged.json");
    std::fs::write(&forged, text.replace("\"detail\": \"to operator\"", "\"detail\": \"to attacker\"")).unwrap();
    let (code, stdout, _) = check(&forged);
    assert_eq!((code, stdout.starts_with("FAILED")), (1, true), "a forged record: {stdout}");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    for (file, message) in [
        (dir.join("missing.json"), "missing.json"),
        (dir.to_path_buf(), "Is a directory"),
        (garbage, "garbage.json: not an audit proof"),
        (truncated, "truncated.json: not an audit proof"),
    ] {
        let (code, _, stderr) = check(&file);
        assert_eq!(code, 2, "{}: {stderr}", file.display());
        assert!(stderr.contains(message) && stderr.lines().count() == 1, "{stderr}");
    }
}

#[test]
fn a_store_that_will_not_open_exits_1_in_mesh_as_in_link_and_keys() {
    let (code, _, stderr) =
        run_raw(&["mesh", &sims("mesh-one-link.toml"), "--duration", "10m", "--db", "/proc/qecnet-cannot-be-here.db"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("/proc/qecnet-cannot-be-here") && stderr.lines().count() == 1, "{stderr}");
    let dir = TempDir::new("no-store");
    let (code, _, stderr) = run_raw(&["keys", "list", dir.join("missing.db").to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("missing.db: no such store"), "{stderr}");
    // Usage errors stay 2: a file that is not a store, an unknown state.
    let text = dir.join("text.db");
    std::fs::write(&text, "not a store").unwrap();
    assert_eq!(run_raw(&["keys", "list", text.to_str().unwrap()]).0, 2);
}

#[test]
fn an_interrupted_sweep_exits_130_keeping_its_rows() {
    let dir = TempDir::new("sigint");
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        "[sweep]\nname = \"slow\"\nkind = \"link\"\noutput = \"out.csv\"\n\n[base.simulation]\npulses = 3e7\n\n\
         [[axis]]\nfield = \"channel.length_km\"\nlinspace = [0.0, 100.0, 400]\n",
    )
    .unwrap();
    let mut child = qecnet_command()
        .args(["--threads", "1", "sweep", "run", sweep.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once a row is in the partial file the Ctrl-C handler is installed: interrupt.
    let partial = dir.join("out.csv.partial");
    let mut polls = 0;
    while std::fs::read_to_string(&partial).map_or(true, |t| t.lines().count() < 3) {
        assert!(polls < 6000 && child.try_wait().unwrap().is_none(), "no row appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
        polls += 1;
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: ") && stderr.contains("--resume"), "{stderr}");
    assert!(!dir.join("out.csv").exists() && partial.exists());
}

#[test]
fn a_closed_standard_output_ends_keys_list_quietly() {
    use std::io::BufRead;
    let dir = TempDir::new("broken-pipe");
    let db = mesh_store(&dir);
    let mut child = qecnet_command()
        .args(["keys", "list", db.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: read one line and close the pipe; the rest (over 64 kB, more than a pipe
    // holds) can then only be written into a closed pipe.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("ID "), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "no message on a closed pipe: {stderr}");
}

#[test]
fn errors_name_the_option_the_user_typed_not_set() {
    for (args, message) in [
        (&["link", "--pulses", "0"][..], "error: --pulses (simulation.pulses) = 0: must be at least 1"),
        (
            &["link", "--pulses", "1e19"],
            "error: --pulses 10000000000000000000 (simulation.pulses): expected an integer",
        ),
        (&["link", "--distance-km", "inf"], "error: --distance-km (channel.length_km) = inf: must be finite"),
        (&["link", "--distance-km", "1e308"], "error: --distance-km (channel.length_km) = 1e308: must be at most"),
        (&["link", "--seed", "18446744073709551615"], "error: --seed 18446744073709551615 (simulation.seed)"),
        (&["link", "--intercept-resend", "nan"], "error: --intercept-resend (eve.intercept_resend_fraction) = NaN"),
    ] {
        let (code, _, stderr) = run_raw(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with(message), "{args:?}: expected `{message}`:\n{stderr}");
        assert!(!stderr.contains("--set") && stderr.lines().count() == 1, "{stderr}");
    }
    let dir = TempDir::new("option-named-mesh");
    for (args, message) in [
        (&["keyrate", "--model", "gllp", "--mu", "150"][..], "error: --mu (source.signal_intensity) = 150"),
        (
            &["mesh", &sims("mesh-default.toml"), "--db", "{dir}/x.db", "--duration", "1e300"],
            "error: --duration (mesh.duration)",
        ),
        (
            &["mesh", &sims("mesh-default.toml"), "--db", "{dir}/x.db", "--seed", "18446744073709551615"],
            "error: --seed 18446744073709551615 (mesh.seed)",
        ),
    ] {
        assert_refused_in(&dir, args, message);
    }
    // --set itself is still named as --set.
    assert_refused_in(&dir, &mesh_args(&sims("mesh-default.toml"), &["mesh.seed=-1"]), "error: --set: ");
}

#[test]
fn a_duration_in_set_accepts_the_strings_a_scenario_file_uses() {
    let dir = TempDir::new("duration-string");
    let mut csvs = Vec::new();
    for (tag, window) in [("string", "mesh.window=\"10s\""), ("seconds", "mesh.window=10.0")] {
        let db = dir.join(format!("{tag}.db"));
        let args = [
            "mesh",
            &sims("mesh-one-link.toml"),
            "--duration",
            "20m",
            "--db",
            db.to_str().unwrap(),
            "--set",
            window,
            "--set",
            "mesh.refresh_interval=\"5m\"",
        ];
        let (code, _, stderr) = run_raw(&args);
        assert_eq!(code, 0, "{window}: {stderr}");
        csvs.push(std::fs::read(dir.join(format!("{tag}-links.csv"))).unwrap());
    }
    assert!(csvs[0].len() > 100, "{}", String::from_utf8_lossy(&csvs[0]));
    assert_eq!(csvs[0], csvs[1], "\"10s\" and 10.0 are the same window");
    // A duration string for a field that is not a duration is still refused.
    let (code, _, stderr) = run_raw(&["link", "--set", "detector.efficiency=\"10s\""]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("expected f64 in `detector.efficiency`"), "{stderr}");
}

#[test]
fn a_bad_node_coordinate_is_reported_as_the_field_not_as_a_topology_error() {
    let dir = TempDir::new("node-coordinate");
    for (value, shown) in [("nan", "NaN"), ("1e308", "1e308")] {
        assert_refused_in(
            &dir,
            &mesh_args(&sims("mesh-default.toml"), &[&format!("node.0.x_km={value}")]),
            &format!("error: node.0.x_km = {shown}: must be finite and within ±20000 km"),
        );
    }
}
