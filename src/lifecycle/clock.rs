//! Time source of the engine: wall clock in real use, a manual clock for tests
//! and the mesh simulator. Time is integer nanoseconds since the Unix epoch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in nanoseconds since the Unix epoch.
pub trait Clock: Send {
    /// Current time, ns since the Unix epoch.
    fn now_ns(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to; clones share the same time, so a
/// simulator can keep one handle and give another to the engine.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `start_ns`.
    pub fn new(start_ns: u64) -> Self {
        Self(Arc::new(AtomicU64::new(start_ns)))
    }

    /// Set the time (ns). Moving backwards is allowed; the audit chain records what it is told.
    pub fn set(&self, ns: u64) {
        self.0.store(ns, Ordering::SeqCst);
    }

    /// Move the time forward by `delta_ns`.
    pub fn advance(&self, delta_ns: u64) {
        self.0.fetch_add(delta_ns, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
