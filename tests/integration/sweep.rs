//! Sweeps: same CSV bytes whatever the thread count or sharding, resume after an interruption,
//! merge refusing what does not belong together, bad sweep files refused with a clear message.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use qecnet::sweep::{RunOptions, Shard, Sweep, run};

use crate::util::{OutputText, TempDir, qecnet};

const LINK_SWEEP: &str = r#"
[sweep]
name = "small"
kind = "link"
seed = 11
replicates = 2
outputs = ["detections", "qber", "signal_gain", "key_rate_vacuum_weak_per_pulse"]

[base.simulation]
engine = "event"
pulses = 2e7

[[axis]]
field = "channel.length_km"
values = [0, 25, 50]

[[axis]]
field = "eve.intercept_resend_fraction"
linspace = [0.0, 0.5, 2]
"#;

fn write_sweep(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn same_bytes_on_any_thread_count_and_after_sharding() {
    let dir = TempDir::new("bytes");
    let file = write_sweep(&dir, LINK_SWEEP);
    let f = file.to_str().unwrap();
    let one = dir.join("one.csv");
    let two = dir.join("two.csv");
    assert_eq!(qecnet(&["--threads", "1", "sweep", "run", f, "--output", one.to_str().unwrap()]).code(), 0);
    assert_eq!(qecnet(&["--threads", "2", "sweep", "run", f, "--output", two.to_str().unwrap()]).code(), 0);
    let reference = std::fs::read(&one).unwrap();
    assert_eq!(reference, std::fs::read(&two).unwrap(), "1 vs 2 threads");
    assert_eq!(String::from_utf8_lossy(&reference).lines().count(), 1 + 6 * 2);
    let shard_out = dir.join("part.csv");
    for i in 0..4 {
        let shard = format!("{i}/4");
        assert_eq!(qecnet(&["sweep", "run", f, "--shard", &shard, "--output", shard_out.to_str().unwrap()]).code(), 0);
    }
    let shards: Vec<String> =
        (0..4).map(|i| dir.join(format!("part.shard-{i}-of-4.csv")).display().to_string()).collect();
    let merged = dir.join("merged.csv");
    let mut args = vec!["merge", merged.to_str().unwrap()];
    args.extend(shards.iter().map(String::as_str));
    assert_eq!(qecnet(&args).code(), 0);
    assert_eq!(reference, std::fs::read(&merged).unwrap(), "merged shards vs unsharded");

    // A missing shard is named in `sbatch --array=` form.
    let (code, _, err) = qecnet(&["merge", merged.to_str().unwrap(), &shards[0], &shards[3]]).parts();
    assert_eq!(code, 2);
    assert!(err.contains("--array=1-2"), "{err}");
}

#[test]
fn shards_of_different_seeds_are_not_merged() {
    let dir = TempDir::new("seeds");
    let a = write_sweep(&dir, LINK_SWEEP);
    let other = dir.join("other.toml");
    std::fs::write(&other, LINK_SWEEP.replace("seed = 11", "seed = 12")).unwrap();
    let out = dir.join("x.csv");
    qecnet(&["sweep", "run", a.to_str().unwrap(), "--shard", "0/2", "--output", out.to_str().unwrap()]);
    let out2 = dir.join("y.csv");
    qecnet(&["sweep", "run", other.to_str().unwrap(), "--shard", "1/2", "--output", out2.to_str().unwrap()]);
    let (code, _, err) = qecnet(&[
        "merge",
        dir.join("m.csv").to_str().unwrap(),
        dir.join("x.shard-0-of-2.csv").to_str().unwrap(),
        dir.join("y.shard-1-of-2.csv").to_str().unwrap(),
    ])
    .parts();
    assert_eq!(code, 2);
    assert!(err.contains("belongs to another sweep or seed"), "{err}");
    assert!(!dir.join("m.csv").exists());
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_csv() {
    let dir = TempDir::new("resume");
    let file = write_sweep(&dir, LINK_SWEEP);
    let sweep = Sweep::load(&file).unwrap();
    let full = RunOptions { output: Some(dir.join("full.csv")), ..RunOptions::default() };
    run(&sweep, &full, &AtomicBool::new(false), &|_, _| {}).unwrap();

    let partial_opts = RunOptions { output: Some(dir.join("cut.csv")), ..RunOptions::default() };
    let stop = AtomicBool::new(false);
    let outcome = run(&sweep, &partial_opts, &stop, &|done, _| {
        if done >= 3 {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(outcome.interrupted && outcome.rows >= 3 && outcome.rows < 12, "{outcome:?}");
    // Without --resume the partial results are protected.
    let err = run(&sweep, &partial_opts, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    let resumed = RunOptions { resume: true, ..partial_opts };
    let outcome = run(&sweep, &resumed, &AtomicBool::new(false), &|_, _| {}).unwrap();
    assert!(!outcome.interrupted);
    assert_eq!(std::fs::read(dir.join("full.csv")).unwrap(), std::fs::read(dir.join("cut.csv")).unwrap());
}

#[test]
fn a_row_cut_before_its_newline_is_dropped_and_run_again_on_resume() {
    // Regression: rows and their newlines were two writes; a kill between them left a row
    // that resume glued to the next one.
    let dir = TempDir::new("torn");
    let file = write_sweep(&dir, LINK_SWEEP);
    let sweep = Sweep::load(&file).unwrap();
    let full = RunOptions { output: Some(dir.join("full.csv")), ..RunOptions::default() };
    run(&sweep, &full, &AtomicBool::new(false), &|_, _| {}).unwrap();
    let complete = std::fs::read_to_string(dir.join("full.csv")).unwrap();
    let rows: Vec<&str> = complete.lines().skip(1).collect();
    let marker = qecnet::sweep::Marker::new(&sweep, 0, 1).line();
    let header = complete.lines().next().unwrap();
    let cut = dir.join("cut.csv");
    let partial = qecnet::sweep::partial_path(&cut);
    let resumed = RunOptions { output: Some(cut.clone()), resume: true, ..RunOptions::default() };
    // Three whole rows and half of the fourth, without its newline.
    let torn = &rows[3][..rows[3].len() / 2];
    std::fs::write(&partial, format!("{marker}\n{header}\n{}\n{}\n{}\n{torn}", rows[0], rows[1], rows[2])).unwrap();
    let outcome = run(&sweep, &resumed, &AtomicBool::new(false), &|_, _| {}).unwrap();
    assert!(!outcome.interrupted);
    assert_eq!(std::fs::read_to_string(&cut).unwrap(), complete);
    // A row with a column missing, or one of another sweep, is refused with the line named.
    let short = rows[1].rsplit_once(',').unwrap().0;
    std::fs::write(&partial, format!("{marker}\n{header}\n{}\n{short}\n", rows[0])).unwrap();
    let err = run(&sweep, &resumed, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(err.contains("line 4") && err.contains("fields where the header has"), "{err}");
    let foreign = rows[1].replacen(&format!(",{},", rows[1].split(',').nth(2).unwrap()), ",12345,", 1);
    std::fs::write(&partial, format!("{marker}\n{header}\n{}\n{foreign}\n", rows[0])).unwrap();
    let err = run(&sweep, &resumed, &AtomicBool::new(false), &|_, _| {}).unwrap_err().to_string();
    assert!(err.contains("does not belong to this sweep"), "{err}");
}

#[test]
fn a_failing_point_is_recorded_and_the_run_exits_non_zero() {
    let dir = TempDir::new("failing");
    let text = LINK_SWEEP.replace("values = [0, 25, 50]", "values = [0, -5]");
    let file = write_sweep(&dir, &text);
    let out = dir.join("out.csv");
    let (code, _, err) = qecnet(&["sweep", "run", file.to_str().unwrap(), "--output", out.to_str().unwrap()]).parts();
    assert_eq!(code, 2);
    assert!(err.contains("4 of 8 points failed"), "{err}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.contains("\"channel.length_km = -5: must be finite and >= 0\""), "{csv}");
}

#[test]
fn bad_sweep_files_are_refused() {
    let dir = TempDir::new("bad");
    let cases = [
        (LINK_SWEEP.replace("channel.length_km", "channel.lenght_km"), "unknown field"),
        (LINK_SWEEP.replace("values = [0, 25, 50]", "values = []"), "empty axis"),
        (LINK_SWEEP.replace("\"qber\"", "\"qbr\""), "unknown figure `qbr`"),
    ];
    for (text, message) in cases {
        let file = write_sweep(&dir, &text);
        let (code, _, err) = qecnet(&["sweep", "run", file.to_str().unwrap()]).parts();
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(message), "expected `{message}` in {err}");
    }
    let file = write_sweep(&dir, LINK_SWEEP);
    let (code, _, err) = qecnet(&["sweep", "run", file.to_str().unwrap(), "--shard", "3/2"]).parts();
    assert_eq!(code, 2);
    assert!(err.contains("need 0 <= I < N"), "{err}");
    assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
}

const KEYRATE_SWEEP: &str = r#"
[sweep]
name = "set-test"
kind = "keyrate"
models = ["decoy-vacuum-weak"]

[[axis]]
field = "channel.length_km"
values = [10, 60]
"#;

#[test]
fn a_set_override_gives_the_csv_of_the_same_value_written_in_the_sweep_file() {
    let dir = TempDir::new("set");
    let file = write_sweep(&dir, KEYRATE_SWEEP);
    let written = dir.join("written.toml");
    std::fs::write(&written, format!("{KEYRATE_SWEEP}\n[base.detector]\ndark_count_probability = 1e-5\n")).unwrap();
    let (ours, theirs, plain) = (dir.join("set.csv"), dir.join("written.csv"), dir.join("plain.csv"));
    let set = ["--set", "detector.dark_count_probability=1e-5"];
    let run = |f: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec!["sweep", "run", f.to_str().unwrap(), "--output", out.to_str().unwrap()];
        args.extend(extra);
        qecnet(&args).code()
    };
    assert_eq!(run(&file, &ours, &set), 0);
    assert_eq!(run(&written, &theirs, &[]), 0);
    assert_eq!(run(&file, &plain, &[]), 0);
    let ours_text = std::fs::read_to_string(&ours).unwrap();
    assert_eq!(ours_text, std::fs::read_to_string(&theirs).unwrap());
    assert_ne!(ours_text, std::fs::read_to_string(&plain).unwrap(), "the override changed nothing");
    let manifest = std::fs::read_to_string(dir.join("set.csv.manifest.json")).unwrap();
    assert!(manifest.contains("\"detector.dark_count_probability=1e-5\""), "{manifest}");
}

#[test]
fn a_bad_set_override_of_a_sweep_is_refused_naming_the_field() {
    let dir = TempDir::new("badset");
    let file = write_sweep(&dir, KEYRATE_SWEEP);
    let f = file.to_str().unwrap();
    let out = dir.join("out.csv");
    let refuse = |item: &str| {
        let (code, _, err) = qecnet(&["sweep", "run", f, "--output", out.to_str().unwrap(), "--set", item]).parts();
        assert_eq!(code, 2, "{item}: {err}");
        assert!(!out.exists(), "{item}: an output was written");
        err
    };
    // The messages of `qecnet link --set`.
    let err = refuse("detector.dark_count=1e-5");
    assert!(err.contains("--set detector.dark_count: unknown field; known fields here:"), "{err}");
    let err = refuse("detector.dark_count_probability=high");
    assert!(err.contains("--set detector.dark_count_probability=high: expected float"), "{err}");
    let err = refuse("detector.dark_count_probability=2");
    let (_, _, link_err) = qecnet(&["link", "--set", "detector.dark_count_probability=2"]).parts();
    let first = |s: &str| s.lines().next().unwrap_or_default().to_owned();
    assert!(link_err.contains("detector.dark_count_probability = 2:"), "{link_err}");
    assert_eq!(first(&err), first(&link_err));
    // A swept field: its axis would replace the value at every point.
    let err = refuse("channel.length_km=5");
    assert!(err.contains("channel.length_km is swept by axis 1"), "{err}");
}
