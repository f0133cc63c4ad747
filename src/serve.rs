//! `qecnet serve`: the mesh's keys delivered to applications through a standard ETSI GS QKD
//! 014 v1.1.1 KME at every node (HTTPS with mutual TLS on loopback), every key a
//! QKD_TRANSPORT key of the real lifecycle engine, recorded durably (group commit) and in
//! the signed audit chain before its response leaves. `qecnet pki init` makes the
//! certificates.
//!
//! | part | provides |
//! |---|---|
//! | [`init_pki`] | CA, KME, SAE and operator certificates (rcgen) |
//! | [`SaeDirectory`] | the scenario's `[[sae]]` tables: which SAE is on which node, the route between nodes |
//! | [`parse_request`] and the API types | the 014 requests and answers as data, parsed by pure functions |
//! | [`KeySupply`], [`LiveSupply`] | where the key bytes come from: the live mesh's link buffers, relay paths and fallback |
//! | [`ServeClock`] | the store's timeline: the live mesh's simulated time after a fixed epoch |
//! | [`IssuedKeys`] | the keys handed to a master and not yet to its slave, rebuilt from the store on a restart |
//! | [`Kmes`] | authorisation, limits, issuing, collecting and expiring keys |
//! | [`ServeMetrics`] | the OpenMetrics text of `GET /metrics` (prometheus-client) |
//! | [`serve`] | the listeners, TLS, HTTP, the ready file and the graceful stop |
//!
//! Everything but the request parser, the directory and the supply needs the default cargo
//! feature `serve` (tokio, hyper, rustls, rcgen).
//!
//! The mesh behind the KMEs is live ([`crate::mesh::LiveMesh`]), paced by the wall clock times
//! `--speed`, driven by the store writer; the operator injects events into it through
//! `POST /admin/v1/events`. A restart on the same store goes on from the mesh's snapshot that
//! every commit saves ([`MESH_SNAPSHOT`], [`crate::mesh::MeshSnapshot`]).

pub(crate) mod api;
#[cfg(feature = "serve")]
pub(crate) mod clock;
pub(crate) mod directory;
#[cfg(feature = "serve")]
pub(crate) mod error;
#[cfg(feature = "serve")]
pub(crate) mod issued;
#[cfg(feature = "serve")]
pub(crate) mod kme;
#[cfg(feature = "serve")]
pub(crate) mod live_supply;
#[cfg(feature = "serve")]
pub(crate) mod metrics;
#[cfg(feature = "serve")]
pub(crate) mod pki;
#[cfg(feature = "serve")]
pub(crate) mod server;
#[cfg(feature = "serve")]
pub(crate) mod store;
pub(crate) mod supply;
#[cfg(feature = "serve")]
pub(crate) mod tls;

pub use api::{
    ApiError, ApiRequest, KeyContainer, KeyEntry, KeyIdEntry, KeyIds, KeyRequest, MAX_BODY_BYTES, Status,
    parse_dec_keys_query, parse_enc_keys_query, parse_event, parse_key_ids, parse_key_request, parse_request,
};
#[cfg(feature = "serve")]
pub use clock::ServeClock;
pub use directory::{OPERATOR, Route, SaeDirectory};
#[cfg(feature = "serve")]
pub use error::ServeError;
#[cfg(feature = "serve")]
pub use issued::{CHANNEL_PREFIX, IssuedKeys, delivery_channel};
#[cfg(feature = "serve")]
pub use kme::{KmeLimits, Kmes};
#[cfg(feature = "serve")]
pub use live_supply::LiveSupply;
#[cfg(feature = "serve")]
pub use metrics::ServeMetrics;
#[cfg(feature = "serve")]
pub use pki::{PkiError, PkiWritten, init_pki};
#[cfg(feature = "serve")]
pub use server::{DRAIN_TIMEOUT, SERVED_KEY_RETENTION, ServeOptions, ServeReport, serve};
#[cfg(feature = "serve")]
pub use store::{KeyStore, MAX_GROUP, MESH_SNAPSHOT, Pacing, STEP_EVERY, StoreWriter, start_writer};
pub use supply::{KeySource, KeySupply, RouteView, SuppliedKey, SupplyError};
