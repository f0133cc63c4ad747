//! ETSI GS QKD 014 request parsing (`qecnet::serve::parse_request`): any method, path, query
//! and body must give a typed request or a 400/404/405 with a JSON Error body, never a panic;
//! a parsed Key request serializes and parses back to itself.
//!
//! Input: a first line `METHOD PATH[?QUERY]`, then the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qecnet::serve::{ApiRequest, parse_key_request, parse_request};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(line) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or(&[]);
    let (method, target) = line.split_once(' ').unwrap_or(("GET", line));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    match parse_request(method, path, query, body) {
        Ok(ApiRequest::EncKeys { request, .. }) => {
            let text = serde_json::to_vec(&request).unwrap();
            assert_eq!(parse_key_request(&text).unwrap(), request, "a Key request round-trips");
        }
        Ok(ApiRequest::DecKeys { key_ids, .. }) => assert!(!key_ids.is_empty()),
        Ok(ApiRequest::Status { slave }) => assert!(!slave.is_empty()),
        Ok(ApiRequest::Event(event)) => assert!(event.at_s.is_finite()),
        Err(e) => {
            assert!(matches!(e.status, 400 | 404 | 405), "status {}", e.status);
            let json: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
            assert!(json["message"].is_string());
        }
    }
});
