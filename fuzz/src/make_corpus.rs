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
    // ETSI GS QKD 014 requests: `METHOD PATH[?QUERY]`, a newline, the body.
    let etsi: &[(&str, &str)] = &[
        ("status", "GET /api/v1/keys/sae-bob/status\n"),
        ("enc-get", "GET /api/v1/keys/sae-bob/enc_keys?number=2&size=512\n"),
        ("enc-post", "POST /api/v1/keys/sae-bob/enc_keys\n{\"number\": 2, \"size\": 256, \"additional_slave_SAE_IDs\": [\"sae-carol\"], \"extension_mandatory\": [{\"a\": 1}], \"extension_optional\": [{\"b\": [1, 2]}]}"),
        ("dec-get", "GET /api/v1/keys/sae-alice/dec_keys?key_ID=3fa85f64-5717-4562-b3fc-2c963f66afa6\n"),
        ("dec-post", "POST /api/v1/keys/sae-alice/dec_keys\n{\"key_IDs\": [{\"key_ID\": \"3fa85f64-5717-4562-b3fc-2c963f66afa6\", \"key_ID_extension\": {}}], \"key_IDs_extension\": {}}"),
        ("escaped", "GET /api/v1/keys/sae%2Dbob/enc_keys?number=1+&size=%32%35%36\n"),
    ];
    for (name, text) in etsi {
        write("etsi_request", name, text.as_bytes());
    }
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
