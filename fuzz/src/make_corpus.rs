//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/`: the repository's
//! own scenario and sweep files, the real proofs of the template store, and a few edits of it.
//! Run from the repository root: `cargo run --manifest-path fuzz/Cargo.toml --example make_corpus`.

#[path = "template.rs"]
mod template;

use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    for entry in std::fs::read_dir("sims").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        if name.starts_with("sweep-") {
            write("sweep", &name, text.as_bytes());
        } else {
            write("scenario", &name, text.as_bytes());
        }
    }
    write(
        "scenario",
        "overrides.toml",
        b"[channel]\nlength_km = 50\n%%\ndetector.misalignment=0.5\nsource.signal_intensity=1e3\nmesh.window=\"10s\"\n",
    );
    let t = template::store();
    for (i, proof) in t.proofs.iter().enumerate() {
        write("proof_check", &format!("proof-{i}.json"), serde_json::to_string_pretty(proof).unwrap().as_bytes());
    }
    // Audit: no edit, one raw byte, and a few cell edits (mode byte 1 = SQL edits).
    write("audit_verify", "none", &[1]);
    write("audit_verify", "raw", &[0, 0x10, 0x20, 0x00, 0x41]);
    write("audit_verify", "state", &[1, 1, 3, 5, 2, 1]);
    write("audit_verify", "receipt", &[1, 2, 1, 2, 4, 0]);
    write("audit_verify", "checkpoint", &[1, 4, 0, 1, 4, 0]);
}
