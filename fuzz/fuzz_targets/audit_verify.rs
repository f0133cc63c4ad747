//! The audit verifier over a mutated store: it must never panic, and when it accepts a store
//! with the genuine key pinned, everything it vouches for must be exactly what the engine
//! wrote — the audit records, the keys' types, channels, participants and states, the
//! receipts and the isolated nodes. A mutation it accepts may only touch what it does not
//! vouch for (usage counters, free pages).
//!
//! Input: a first byte choosing the mutation kind, then its operands: raw byte edits of the
//! file, or edits of table cells through SQL.

#![no_main]

#[path = "../src/template.rs"]
mod template;

use libfuzzer_sys::fuzz_target;
use qecnet::lifecycle::{Verdict, VerifyOptions, open_reader, verify};

fuzz_target!(|data: &[u8]| {
    let t = template::store();
    let Some((&mode, ops)) = data.split_first() else { return };
    let path = template::scratch_file();
    let mut bytes = t.bytes.clone();
    if mode % 2 == 0 {
        // Raw edits: (offset: 3 bytes, value: 1 byte) each.
        for op in ops.chunks_exact(4) {
            let offset = (u32::from_le_bytes([op[0], op[1], op[2], 0]) as usize) % bytes.len();
            bytes[offset] = op[3];
        }
        std::fs::write(&path, &bytes).unwrap();
    } else {
        std::fs::write(&path, &bytes).unwrap();
        let Ok(conn) = rusqlite::Connection::open(&path) else { return };
        for op in ops.chunks(6) {
            let _ = template::cell_edit(&conn, op);
        }
        drop(conn);
    }
    let Ok(conn) = open_reader(&path) else { return };
    let options = VerifyOptions { pinned: vec![t.pin], known_head: None };
    if let Ok(Verdict::Verified(report)) = verify(&conn, &options) {
        assert!(report.authenticated);
        let now = template::Vouched::read(&conn).expect("a verified store is readable");
        assert_eq!(now, t.vouched, "the verifier accepted a store whose vouched content changed");
    }
});
