//! `qecnet pki init`: the CA, KME, SAE and operator certificates of sims/serve-default.toml,
//! private keys mode 0600, each leaf signed by the CA, and no file ever overwritten.

use std::os::unix::fs::PermissionsExt;

use crate::util::{OutputText, TempDir, qecnet};

#[test]
fn pki_init_writes_every_certificate_and_never_overwrites() {
    let dir = TempDir::new("serve-pki");
    let pki = dir.join("pki");
    let out = qecnet(&["pki", "init", pki.to_str().unwrap(), "--scenario", "sims/serve-default.toml"]);
    assert_eq!(out.code(), 0, "{}", out.text());
    let mut expected = vec!["ca.crt".to_string()];
    for name in ["hub", "n1", "n2", "n3", "sae-alice", "sae-bob", "sae-carol", "operator"] {
        expected.push(format!("{name}.crt"));
        expected.push(format!("{name}.key"));
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&pki).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    for name in &names {
        let mode = std::fs::metadata(pki.join(name)).unwrap().permissions().mode() & 0o777;
        let text = std::fs::read_to_string(pki.join(name)).unwrap();
        if name.ends_with(".key") {
            assert_eq!(mode, 0o600, "{name}");
            assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{name} is PKCS#8 PEM");
        } else {
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{name} is PEM");
        }
    }
    // Every leaf chains to the CA (openssl is on the machine; it is the independent check).
    let leaves: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".crt") && *n != "ca.crt")
        .map(|n| pki.join(n).display().to_string())
        .collect();
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-CAfile", pki.join("ca.crt").to_str().unwrap()])
        .args(&leaves)
        .output()
        .expect("openssl runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-ext", "subjectAltName", "-in", pki.join("n1.crt").to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("CN = n1") && text.contains("IP Address:127.0.0.1") && text.contains("DNS:localhost"),
        "{text}"
    );
    let text = std::process::Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
            "-in",
            pki.join("sae-bob.crt").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("CN = sae-bob") && text.contains("DNS:sae-bob"), "{text}");

    // A second run refuses and leaves every file as it was.
    let before = std::fs::read(pki.join("sae-alice.key")).unwrap();
    let out = qecnet(&["pki", "init", pki.to_str().unwrap(), "--scenario", "sims/serve-default.toml"]);
    assert_eq!(out.code(), 2, "{}", out.text());
    assert!(out.stderr_text().contains("already exists"), "{}", out.text());
    assert_eq!(std::fs::read(pki.join("sae-alice.key")).unwrap(), before);
}

#[test]
fn an_sae_on_an_unknown_node_is_refused_naming_the_field() {
    let dir = TempDir::new("serve-pki-bad");
    let scenario = dir.join("bad.toml");
    let text = std::fs::read_to_string("sims/serve-default.toml").unwrap().replace("node = \"n3\"", "node = \"n9\"");
    std::fs::write(&scenario, text).unwrap();
    let out = qecnet(&["pki", "init", dir.join("pki").to_str().unwrap(), "--scenario", scenario.to_str().unwrap()]);
    assert_eq!(out.code(), 2, "{}", out.text());
    assert!(out.stderr_text().contains("sae.2.node") && out.stderr_text().contains("n9"), "{}", out.text());
    assert!(!dir.join("pki").exists(), "nothing is written for a bad scenario");
}
