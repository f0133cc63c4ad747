//! Same seed ⇒ byte-identical output, on one thread or several, for both engines, both
//! receivers and with detector memory (sequential chunks) or without (parallel chunks).

use std::path::Path;

use crate::util::{TempDir, qecnet_command};

fn run_cli(dir: &Path, tag: &str, threads: usize, extra: &[&str]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let stream = dir.join(format!("{tag}-{threads}-stream.csv"));
    let records = dir.join(format!("{tag}-{threads}-records.csv"));
    let out = qecnet_command()
        .args(["--threads", &threads.to_string(), "link", "--json", "--seed", "42", "--qber-block-bits", "500"])
        .arg("--qber-stream")
        .arg(&stream)
        .arg("--records")
        .arg(&records)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (out.stdout, std::fs::read(&stream).unwrap(), std::fs::read(&records).unwrap())
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = TempDir::new("determinism");
    let cases: [(&str, &[&str]); 4] = [
        ("pulse", &["--engine", "pulse", "--pulses", "5e6", "--distance-km", "5"]),
        ("passive", &["--engine", "event", "--pulses", "3e8", "--distance-km", "5", "--receiver", "passive"]),
        ("event", &["--engine", "event", "--pulses", "3e8", "--distance-km", "5"]),
        (
            "memory",
            &[
                "--engine",
                "event",
                "--pulses",
                "2e8",
                "--distance-km",
                "5",
                "--set",
                "detector.dead_time_ns=2000",
                "--set",
                "detector.afterpulse_probability=0.1",
            ],
        ),
    ];
    for (tag, extra) in cases {
        let one = run_cli(&dir, tag, 1, extra);
        let two = run_cli(&dir, tag, 2, extra);
        assert!(!one.1.is_empty() && one.2.len() > 100, "{tag}: outputs must not be empty");
        assert!(one.0 == two.0, "{tag}: JSON differs between 1 and 2 threads");
        assert!(one.1 == two.1, "{tag}: QBER stream differs between 1 and 2 threads");
        assert!(one.2 == two.2, "{tag}: records differ between 1 and 2 threads");
        let receiver = if tag == "passive" { "passive" } else { "active" };
        let json = String::from_utf8_lossy(&one.0);
        assert!(json.contains(&format!("\"receiver\": \"{receiver}\"")), "{tag}: {json}");
    }
    let other_seed = qecnet_command()
        .args(["link", "--json", "--seed", "43", "--engine", "pulse", "--pulses", "5e6", "--distance-km", "5"])
        .output()
        .unwrap();
    assert_ne!(other_seed.stdout, run_cli(&dir, "pulse", 1, cases[0].1).0, "a different seed must change the output");
}
