//! Where the SOVEREIGN_MASTER key comes from when a store is opened: a key
//! file or an environment variable holding 64 hex digits (32 bytes).

use std::path::Path;

use zeroize::Zeroizing;

use super::LifecycleError;
use crate::crypto::SecretBytes;

/// Environment variable read when no key file is given.
pub const MASTER_KEY_ENV: &str = "QECNET_MASTER_KEY";

fn parse_hex(text: &str, source: &str) -> Result<SecretBytes, LifecycleError> {
    let t = text.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LifecycleError::Input(format!("{source}: a SOVEREIGN_MASTER key is 64 hex digits (32 bytes)")));
    }
    let mut out = Zeroizing::new(vec![0u8; 32]);
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)
            .map_err(|_| LifecycleError::Input(format!("{source}: not hex")))?;
    }
    Ok(SecretBytes::new(std::mem::take(&mut *out)))
}

/// Read the master key from `file` if given, else from `QECNET_MASTER_KEY`.
///
/// On Unix a key file readable by group or others is refused.
pub fn load_master_key(file: Option<&Path>) -> Result<SecretBytes, LifecycleError> {
    match file {
        Some(path) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(LifecycleError::Input(format!(
                        "{}: master key file is accessible by group or others (mode {:o}); chmod 600 it",
                        path.display(),
                        mode & 0o777
                    )));
                }
            }
            let text = Zeroizing::new(std::fs::read_to_string(path)?);
            parse_hex(&text, &path.display().to_string())
        }
        None => {
            let text = Zeroizing::new(std::env::var(MASTER_KEY_ENV).map_err(|_| {
                LifecycleError::Input(format!("no master key: give a key file or set {MASTER_KEY_ENV}"))
            })?);
            parse_hex(&text, MASTER_KEY_ENV)
        }
    }
}
