//! The ETSI GS QKD 014 v1.1.1 REST API as data: the requests a KME accepts, parsed from a
//! method, path, query and body by pure functions ([`parse_request`]; also the fuzz target's
//! entry), and the JSON objects it answers with, every field named and typed as the
//! standard's clause 6 has them.
//!
//! | method | path (clause 5) | request |
//! |---|---|---|
//! | GET | `/api/v1/keys/{slave_SAE_ID}/status` | [`ApiRequest::Status`] (5.1) |
//! | GET | `/api/v1/keys/{slave_SAE_ID}/enc_keys?number=&size=` | [`ApiRequest::EncKeys`] (5.2) |
//! | POST | `/api/v1/keys/{slave_SAE_ID}/enc_keys` + Key request (6.2) | [`ApiRequest::EncKeys`] |
//! | GET | `/api/v1/keys/{master_SAE_ID}/dec_keys?key_ID=` | [`ApiRequest::DecKeys`] (5.3) |
//! | POST | `/api/v1/keys/{master_SAE_ID}/dec_keys` + Key IDs (6.4) | [`ApiRequest::DecKeys`] |
//! | POST | `/admin/v1/events` + an event (not in the standard: the operator's) | [`ApiRequest::Event`] |
//!
//! Errors (clause 5, HTTP status codes): 400 bad request format, 401 unauthorized, 503
//! error on the server side, each with an Error object (6.5): `message`, and `details` (an
//! array of objects) where useful.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::mesh::EventSpec;

/// The largest request body read (bytes); larger is 400.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One parsed API request.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiRequest {
    /// Get status (5.1): the caller is the master, `slave` its peer.
    Status {
        /// The slave SAE named in the path.
        slave: String,
    },
    /// Get key (5.2): the caller is the master.
    EncKeys {
        /// The slave SAE named in the path.
        slave: String,
        /// The Key request (6.2), from the query (GET) or the body (POST).
        request: KeyRequest,
    },
    /// Get key with key IDs (5.3): the caller is a slave.
    DecKeys {
        /// The master SAE named in the path.
        master: String,
        /// The key IDs asked for (6.4), in order.
        key_ids: Vec<String>,
    },
    /// The operator injects a mesh event now: a scenario `[[event]]` table as JSON, whose
    /// `at` (default 0) and `until` count from now (e.g. `{"kind": "eve", "link": "n1-n2",
    /// "attack": "intercept-resend", "strength": 0.5, "until": "60s"}`).
    Event(EventSpec),
}

/// Key request (6.2). Absent `number` means 1, absent `size` the KME's default `key_size`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// Number of keys requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Size of each key in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Further slave SAEs the keys are for.
    #[serde(default, rename = "additional_slave_SAE_IDs", skip_serializing_if = "Vec::is_empty")]
    pub additional_slave_sae_ids: Vec<String>,
    /// Extensions the KME must support (or refuse the request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_mandatory: Vec<Map<String, Value>>,
    /// Extensions the KME may ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_optional: Vec<Map<String, Value>>,
}

/// One entry of Key IDs (6.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIdEntry {
    /// The key's ID (a UUID).
    #[serde(rename = "key_ID")]
    pub key_id: String,
    /// Extension of the entry (ignored).
    #[serde(default, rename = "key_ID_extension", skip_serializing_if = "Option::is_none")]
    pub key_id_extension: Option<Map<String, Value>>,
}

/// Key IDs (6.4), the body of POST dec_keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIds {
    /// The key IDs.
    #[serde(rename = "key_IDs")]
    pub key_ids: Vec<KeyIdEntry>,
    /// Extension of the whole request (ignored).
    #[serde(default, rename = "key_IDs_extension", skip_serializing_if = "Option::is_none")]
    pub key_ids_extension: Option<Map<String, Value>>,
}

/// Status (6.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// KME ID of the master's KME.
    #[serde(rename = "source_KME_ID")]
    pub source_kme_id: String,
    /// KME ID of the slave's KME.
    #[serde(rename = "target_KME_ID")]
    pub target_kme_id: String,
    /// The master SAE.
    #[serde(rename = "master_SAE_ID")]
    pub master_sae_id: String,
    /// The slave SAE.
    #[serde(rename = "slave_SAE_ID")]
    pub slave_sae_id: String,
    /// Default key size (bits).
    pub key_size: u64,
    /// Keys of `key_size` stored for the pair now.
    pub stored_key_count: u64,
    /// The most keys of `key_size` the pair can store.
    pub max_key_count: u64,
    /// The most keys one request may ask for.
    pub max_key_per_request: u64,
    /// The largest key size (bits).
    pub max_key_size: u64,
    /// The smallest key size (bits).
    pub min_key_size: u64,
    /// The most additional slave SAEs a request may name.
    #[serde(rename = "max_SAE_ID_count")]
    pub max_sae_id_count: u64,
    /// Ours: the route's mode (`qkd` or `fallback`), QBER and key rate (null where not
    /// measured), and how key reaches the pair (`direct` or `relay`).
    pub status_extension: Value,
}

/// One key of a Key container (6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key's ID (a UUID).
    #[serde(rename = "key_ID")]
    pub key_id: String,
    /// The key, base64 (RFC 4648).
    pub key: String,
    /// Ours: `{"source": "qkd" | "relay" | "pqc-fallback"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_extension: Option<Value>,
}

impl Drop for KeyEntry {
    /// The key's base64 text is key material: erased.
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// Key container (6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyContainer {
    /// The keys.
    pub keys: Vec<KeyEntry>,
}

/// An error answer: HTTP status and the Error object (6.5).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// 400, 401 or 503 (404/405 for paths and methods outside the API).
    pub status: u16,
    /// The Error object's `message`.
    pub message: String,
    /// The Error object's `details` (objects); empty is left out.
    pub details: Vec<Value>,
}

impl ApiError {
    /// A 400 Bad request format.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: 400, message: message.into(), details: Vec::new() }
    }

    /// A 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError { status: 401, message: message.into(), details: Vec::new() }
    }

    /// A 503 Error on the server side.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError { status: 503, message: message.into(), details: Vec::new() }
    }

    /// With one detail object `{name: value}`.
    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        let mut m = Map::new();
        m.insert(name.to_string(), value.into());
        self.details.push(Value::Object(m));
        self
    }

    /// The Error object as JSON text.
    pub fn body(&self) -> String {
        let mut m = Map::new();
        m.insert("message".into(), Value::String(self.message.clone()));
        if !self.details.is_empty() {
            m.insert("details".into(), Value::Array(self.details.clone()));
        }
        Value::Object(m).to_string()
    }
}

/// Decodes `%XX` escapes (and nothing else); a malformed escape or non-UTF-8 result is `None`.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The query's `name=value` pairs, decoded (`+` is a space in a query).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            percent_decode(&s.replace('+', " "))
                .ok_or_else(|| ApiError::bad_request("malformed query").detail("query", part.to_string()))
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// A positive integer query parameter.
fn integer_param(name: &str, value: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("query parameter {name} must be a non-negative integer"))
            .detail(name, value.to_string())
    })
}

/// The Key request of GET enc_keys: `number` and `size` only, each at most once.
pub fn parse_enc_keys_query(query: &str) -> Result<KeyRequest, ApiError> {
    let mut request = KeyRequest::default();
    for (name, value) in query_pairs(query)? {
        let slot = match name.as_str() {
            "number" => &mut request.number,
            "size" => &mut request.size,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {name:?}; enc_keys takes number and size"
                )));
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!("query parameter {name} given twice")));
        }
        *slot = Some(integer_param(&name, &value)?);
    }
    Ok(request)
}

/// The key IDs of GET dec_keys: exactly one `key_ID`.
pub fn parse_dec_keys_query(query: &str) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    for (name, value) in query_pairs(query)? {
        if name != "key_ID" {
            return Err(ApiError::bad_request(format!("unknown query parameter {name:?}; dec_keys takes key_ID")));
        }
        ids.push(value);
    }
    if ids.len() != 1 {
        return Err(ApiError::bad_request(format!("dec_keys by GET takes exactly one key_ID, got {}", ids.len())));
    }
    Ok(ids)
}

/// The JSON body of a POST as `T`; anything else is 400 naming serde's complaint.
fn parse_body<T: for<'de> Deserialize<'de>>(what: &str, body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::bad_request(format!("request body over {MAX_BODY_BYTES} bytes")));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed {what} JSON")).detail("parse_error", e.to_string()))
}

/// The Key request of POST enc_keys (6.2).
pub fn parse_key_request(body: &[u8]) -> Result<KeyRequest, ApiError> {
    parse_body("Key request", body)
}

/// The key IDs of POST dec_keys (6.4), at least one.
pub fn parse_key_ids(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let ids: KeyIds = parse_body("Key IDs", body)?;
    if ids.key_ids.is_empty() {
        return Err(ApiError::bad_request("key_IDs is empty"));
    }
    Ok(ids.key_ids.into_iter().map(|e| e.key_id).collect())
}

/// The event of POST /admin/v1/events: a JSON object with the fields of a scenario event,
/// `at` defaulting to 0 (now).
pub fn parse_event(body: &[u8]) -> Result<EventSpec, ApiError> {
    let mut value: Value = parse_body("event", body)?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request("an event is a JSON object"));
    };
    object.entry("at").or_insert(Value::from(0.0));
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("malformed event JSON").detail("parse_error", e.to_string()))
}

/// Parses one request: `method` (`GET`, `POST`), the path, the query (without `?`) and the
/// body. Paths outside `/api/v1/keys/` and `/admin/v1/events` are 404; a method the endpoint
/// does not take is 405.
pub fn parse_request(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Result<ApiRequest, ApiError> {
    if path == "/admin/v1/events" {
        return match method {
            "POST" => Ok(ApiRequest::Event(parse_event(body)?)),
            _ => Err(ApiError {
                status: 405,
                message: format!("{method} is not allowed on {path}"),
                details: Vec::new(),
            }),
        };
    }
    let rest = path.strip_prefix("/api/v1/keys/").ok_or_else(|| ApiError {
        status: 404,
        message: format!("no such endpoint {path:?}"),
        details: Vec::new(),
    })?;
    let (sae, endpoint) = rest.split_once('/').ok_or_else(|| ApiError {
        status: 404,
        message: format!("no such endpoint {path:?}; expected /api/v1/keys/{{SAE_ID}}/status|enc_keys|dec_keys"),
        details: Vec::new(),
    })?;
    let sae = percent_decode(sae).ok_or_else(|| ApiError::bad_request("malformed SAE ID in path"))?;
    if sae.is_empty() {
        return Err(ApiError::bad_request("empty SAE ID in path"));
    }
    let query = query.unwrap_or("");
    let wrong_method =
        || ApiError { status: 405, message: format!("{method} is not allowed on {endpoint}"), details: Vec::new() };
    match (endpoint, method) {
        ("status", "GET") => {
            if !query.is_empty() {
                return Err(ApiError::bad_request("status takes no query parameters"));
            }
            Ok(ApiRequest::Status { slave: sae })
        }
        ("enc_keys", "GET") => Ok(ApiRequest::EncKeys { slave: sae, request: parse_enc_keys_query(query)? }),
        ("enc_keys", "POST") => Ok(ApiRequest::EncKeys { slave: sae, request: parse_key_request(body)? }),
        ("dec_keys", "GET") => Ok(ApiRequest::DecKeys { master: sae, key_ids: parse_dec_keys_query(query)? }),
        ("dec_keys", "POST") => Ok(ApiRequest::DecKeys { master: sae, key_ids: parse_key_ids(body)? }),
        ("status" | "enc_keys" | "dec_keys", _) => Err(wrong_method()),
        _ => Err(ApiError { status: 404, message: format!("no such endpoint {path:?}"), details: Vec::new() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_event_parses_with_at_defaulting_to_now() {
        let body =
            br#"{"kind": "eve", "link": "n1-n2", "attack": "intercept-resend", "strength": 0.5, "until": "60s"}"#;
        let Ok(ApiRequest::Event(e)) = parse_request("POST", "/admin/v1/events", None, body) else { panic!() };
        assert_eq!((e.at_s, e.until_s, e.link.as_deref()), (0.0, Some(60.0), Some("n1-n2")));
        let rotate = parse_request("POST", "/admin/v1/events", None, br#"{"kind": "rotate", "link": "n1-n2"}"#);
        assert!(matches!(rotate, Ok(ApiRequest::Event(_))), "{rotate:?}");
        for bad in [&b"[]"[..], br#"{"kind": "party"}"#, br#"{"kind": "eve", "colour": 1}"#] {
            assert_eq!(parse_request("POST", "/admin/v1/events", None, bad).unwrap_err().status, 400);
        }
        assert_eq!(parse_request("GET", "/admin/v1/events", None, b"").unwrap_err().status, 405);
    }

    #[test]
    fn both_get_key_forms_parse_to_the_same_request() {
        let get = parse_request("GET", "/api/v1/keys/sae-bob/enc_keys", Some("number=2&size=512"), b"").unwrap();
        let post =
            parse_request("POST", "/api/v1/keys/sae-bob/enc_keys", None, br#"{"number": 2, "size": 512}"#).unwrap();
        assert_eq!(get, post);
        assert_eq!(
            get,
            ApiRequest::EncKeys {
                slave: "sae-bob".into(),
                request: KeyRequest { number: Some(2), size: Some(512), ..KeyRequest::default() }
            }
        );
    }

    #[test]
    fn both_key_id_forms_parse_to_the_same_request() {
        let id = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
        let get = parse_request("GET", "/api/v1/keys/sae-alice/dec_keys", Some(&format!("key_ID={id}")), b"").unwrap();
        let body = format!(r#"{{"key_IDs": [{{"key_ID": "{id}"}}]}}"#);
        let post = parse_request("POST", "/api/v1/keys/sae-alice/dec_keys", None, body.as_bytes()).unwrap();
        assert_eq!(get, post);
    }

    #[test]
    fn malformed_input_is_a_400_or_404_never_a_panic() {
        // (method, path, query, body, status)
        type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16);
        let cases: &[Case] = &[
            ("GET", "/api/v1/keys/sae-bob/enc_keys", Some("number=-1"), b"", 400),
            ("GET", "/api/v1/keys/sae-bob/enc_keys", Some("number=1&number=2"), b"", 400),
            ("GET", "/api/v1/keys/sae-bob/enc_keys", Some("colour=red"), b"", 400),
            ("POST", "/api/v1/keys/sae-bob/enc_keys", None, b"{not json", 400),
            ("POST", "/api/v1/keys/sae-bob/enc_keys", None, br#"{"number": "2"}"#, 400),
            ("POST", "/api/v1/keys/sae-bob/enc_keys", None, br#"{"nmber": 2}"#, 400),
            ("POST", "/api/v1/keys/sae-alice/dec_keys", None, br#"{"key_IDs": []}"#, 400),
            ("GET", "/api/v1/keys/sae-alice/dec_keys", None, b"", 400),
            ("GET", "/api/v1/keys/%zz/status", None, b"", 400),
            ("GET", "/api/v2/keys/sae-bob/status", None, b"", 404),
            ("DELETE", "/api/v1/keys/sae-bob/status", None, b"", 405),
        ];
        for &(method, path, query, body, status) in cases {
            let e = parse_request(method, path, query, body).unwrap_err();
            assert_eq!(e.status, status, "{method} {path} {query:?}");
            let json: Value = serde_json::from_str(&e.body()).unwrap();
            assert!(json["message"].is_string());
        }
    }
}
