//! A store or an output is never lost or corrupted by an ordinary mistake (issue 11, items
//! 4–8): two writers started together, `--overwrite` of a store another writer holds or of a
//! file that is not a store, a refused run, existing CSVs, outputs that name an input or each
//! other, devices and symbolic links as outputs, and a run ended by SIGTERM or SIGINT.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::{OutputText, TempDir, qecnet, qecnet_command};

fn mesh_args(db: &Path) -> Vec<String> {
    vec![
        "mesh".into(),
        "sims/mesh-default.toml".into(),
        "--duration".into(),
        "20m".into(),
        "--db".into(),
        db.to_str().unwrap().into(),
    ]
}

fn run_mesh(db: &Path, extra: &[&str]) -> Output {
    let mut args = mesh_args(db);
    args.extend(extra.iter().map(|s| s.to_string()));
    qecnet(&args)
}

fn verifies(db: &Path) -> bool {
    qecnet(&["audit", "verify", db.to_str().unwrap()]).status.success()
}

#[test]
fn two_writers_started_together_never_lose_a_store() {
    // Regression: the refused writer removed the db, -wal, -shm and .lock of the one that won.
    let dir = TempDir::new("race");
    for round in 0..20 {
        let db = dir.join(format!("r{round}.db"));
        let spawn = |extra: &[&str]| {
            let mut args = mesh_args(&db);
            args.extend(extra.iter().map(|s| s.to_string()));
            qecnet_command()
                .args(&args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        // One plain writer and one with --overwrite, started together.
        let a = spawn(&[]);
        let b = spawn(&["--overwrite"]);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let won = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert!(won >= 1, "round {round}: no writer finished: {} / {}", a.text(), b.text());
        assert!(db.exists(), "round {round}: the store was lost: {} / {}", a.text(), b.text());
        assert!(verifies(&db), "round {round}: the store does not verify");
        for o in [&a, &b].iter().filter(|o| !o.status.success()) {
            let why = o.text();
            let refused = ["locked by another writer", "already exists", "file exists; refusing to overwrite"];
            assert!(refused.iter().any(|r| why.contains(r)), "{why}");
        }
    }
}

#[test]
fn overwrite_refuses_a_store_another_writer_holds_and_a_file_that_is_not_a_store() {
    let dir = TempDir::new("overwrite");
    let db = dir.join("held.db");
    let out = run_mesh(&db, &[]);
    assert!(out.status.success(), "{}", out.text());
    // Another writer holds it: --overwrite is refused and the store stays intact.
    let master = qecnet::crypto::SecretBytes::new(vec![1; 32]);
    let other = dir.join("other.db");
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
    let holder = qecnet::lifecycle::Engine::create(
        &other,
        &master,
        Default::default(),
        Box::new(qecnet::lifecycle::ManualClock::new(qecnet::units::SimTime(0))),
        &mut rng,
    )
    .unwrap();
    let out = run_mesh(&other, &["--overwrite"]);
    assert!(!out.status.success());
    assert!(out.text().contains("locked by another writer"), "{}", out.text());
    assert!(other.exists());
    drop(holder);
    assert!(verifies(&other), "the held store is intact");
    // A file that is not a qecnet store is never replaced.
    let junk = dir.join("notes.db");
    std::fs::write(&junk, "my notes").unwrap();
    let out = run_mesh(&junk, &["--overwrite"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(out.text().contains("not a qecnet key store"), "{}", out.text());
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "my notes");
    assert!(!dir.join("notes.db.lock").exists(), "no lock file left beside a foreign file");
    // --overwrite of the earlier run's store replaces it with a new one.
    let before = std::fs::read(dir.join("held-trace.csv")).unwrap();
    let out = run_mesh(&db, &["--overwrite"]);
    assert!(out.status.success(), "{}", out.text());
    assert!(verifies(&db));
    assert_eq!(std::fs::read(dir.join("held-trace.csv")).unwrap(), before, "same seed, same trace");
}

#[test]
fn a_refused_run_removes_no_file_and_existing_csvs_are_not_rewritten() {
    let dir = TempDir::new("refused");
    let db = dir.join("m.db");
    assert!(run_mesh(&db, &[]).status.success());
    let files = dir.names();
    let trace = std::fs::read(dir.join("m-trace.csv")).unwrap();
    // The store exists: refused, exit 2, nothing removed or changed.
    let out = run_mesh(&db, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert_eq!(dir.names(), files);
    assert!(verifies(&db));
    // A CSV of that name exists but the store does not: refused too.
    let fresh = dir.join("n.db");
    std::fs::write(dir.join("n-links.csv"), "my spreadsheet\n").unwrap();
    let out = run_mesh(&fresh, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(out.text().contains("n-links.csv already exists"), "{}", out.text());
    // With --overwrite, a CSV that is not the mesh's own is still refused.
    let out = run_mesh(&fresh, &["--overwrite"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(out.text().contains("not a CSV of a qecnet mesh run"), "{}", out.text());
    assert_eq!(std::fs::read_to_string(dir.join("n-links.csv")).unwrap(), "my spreadsheet\n");
    assert!(!fresh.exists());
    assert_eq!(std::fs::read(dir.join("m-trace.csv")).unwrap(), trace);
    // The store named as the scenario: refused before anything is written.
    let scenario = dir.join("s.toml");
    std::fs::copy("sims/mesh-default.toml", &scenario).unwrap();
    let out = qecnet(&["mesh", scenario.to_str().unwrap(), "--duration", "10m", "--db", scenario.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert_eq!(std::fs::read(&scenario).unwrap(), std::fs::read("sims/mesh-default.toml").unwrap());
}

#[test]
fn a_mesh_ended_by_sigterm_or_sigint_leaves_no_file() {
    for signal in ["TERM", "INT"] {
        let dir = TempDir::new(&format!("signal-{signal}"));
        let db = dir.join("long.db");
        let mut args = mesh_args(&db);
        args[3] = "2400h".into();
        let child = qecnet_command()
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The store appears once the run has started; then stop it.
        let started = std::time::Instant::now();
        while !db.exists() && started.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(db.exists(), "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let pid = child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "SIG{signal}: the run must not report success");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(why.contains("interrupted"), "SIG{signal}: {why}");
        assert_eq!(dir.names(), Vec::<String>::new(), "SIG{signal} left files: {why}");
    }
}

#[test]
fn outputs_that_name_an_input_or_each_other_are_refused_up_front() {
    let dir = TempDir::new("distinct");
    let cfg = dir.join("cfg.toml");
    std::fs::copy("sims/link-gys.toml", &cfg).unwrap();
    let original = std::fs::read(&cfg).unwrap();
    let c = cfg.to_str().unwrap();
    let x = dir.join("x.csv");
    let x = x.to_str().unwrap();
    for args in [
        vec!["link", "--config", c, "--pulses", "1e5", "--records", c],
        vec!["link", "--config", c, "--pulses", "1e5", "--records", x, "--qber-stream", x],
        vec!["link", "--config", c, "--pulses", "1e5", "--postprocess", "--blocks", c],
    ] {
        let out = qecnet(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.text());
        assert_eq!(std::fs::read(&cfg).unwrap(), original, "{args:?} changed its input");
        assert!(!Path::new(x).exists(), "{args:?} wrote an output");
    }
    // A sweep whose output is its own file.
    let sweep = dir.join("s.toml");
    std::fs::copy("sims/sweep-intercept-resend.toml", &sweep).unwrap();
    std::fs::copy("sims/link-intercept-resend.toml", dir.join("link-intercept-resend.toml")).unwrap();
    let s = sweep.to_str().unwrap();
    let out = qecnet(&["sweep", "run", s, "--output", s]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(out.text().contains("refusing to overwrite an input"), "{}", out.text());
    assert_eq!(std::fs::read(&sweep).unwrap(), std::fs::read("sims/sweep-intercept-resend.toml").unwrap());
    // An audit proof written over the store it proves.
    let db = dir.join("m.db");
    assert!(run_mesh(&db, &[]).status.success());
    let d = db.to_str().unwrap();
    let out = qecnet(&["audit", "prove", d, "--record", "3", "--out", d]);
    assert_eq!(out.status.code(), Some(2), "{}", out.text());
    assert!(verifies(&db));
}

#[test]
fn outputs_go_straight_to_devices_and_standard_output_and_follow_symbolic_links() {
    // Regression: as root, `--records /dev/full` replaced /dev/full with a CSV.
    let dir = TempDir::new("devices");
    let out = qecnet(&["link", "--pulses", "1e5", "--records", "/dev/null", "--qber-stream", "/dev/null"]);
    assert!(out.status.success(), "{}", out.text());
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null is still a device");
    let out = qecnet(&["link", "--pulses", "1e6", "--records", "/dev/full"]);
    assert_eq!(out.status.code(), Some(1), "writing to a full device is a runtime failure: {}", out.text());
    assert!(!std::fs::metadata("/dev/full").unwrap().is_file(), "/dev/full is still a device");
    // `-` is standard output.
    let out = qecnet(&["link", "--pulses", "1e5", "--qber-stream", "-", "--qber-block-bits", "100"]);
    assert!(out.status.success(), "{}", out.text());
    assert!(String::from_utf8_lossy(&out.stdout).contains("block,"), "{}", out.text());
    // A symbolic link stays a link; its target gets the contents.
    std::fs::write(dir.join("real.csv"), "old").unwrap();
    std::os::unix::fs::symlink("real.csv", dir.join("link.csv")).unwrap();
    let link = dir.join("link.csv");
    let out = qecnet(&["link", "--pulses", "1e5", "--qber-stream", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.text());
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(dir.join("real.csv")).unwrap().starts_with("block,"));
    assert_eq!(dir.names(), vec!["link.csv".to_string(), "real.csv".to_string()], "no temporary file left");
}

use rand::SeedableRng;
