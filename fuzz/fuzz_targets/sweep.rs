//! Sweep files: parsing and validation must never panic, and a sweep that validates can
//! enumerate its first and last points and name its CSV columns.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use qecnet::sweep::Sweep;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A `base = PATH` is resolved beside this (absent) file, so nothing outside is read.
    let Ok(sweep) = Sweep::from_text(text.to_string(), Path::new("/nonexistent/fuzz/sweep.toml")) else { return };
    let points = sweep.points();
    assert!(points > 0);
    let _ = sweep.assignments(0);
    let _ = sweep.assignments(points - 1);
    let _ = qecnet::sweep::header(&sweep);
});
