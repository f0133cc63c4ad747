//! Time source of the engine: wall clock in real use, a manual clock for tests
//! and the mesh simulator. Time is a [`SimTime`] in integer nanoseconds: since the Unix epoch
//! for the wall clock, from wherever the simulator starts it for a manual one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::units::{SimDuration, SimTime};

/// A source of the current time.
pub trait Clock: Send {
    /// The current time.
    fn now(&self) -> SimTime;
}

/// The operating system's wall clock: ns since the Unix epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> SimTime {
        SimTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        )
    }
}

/// A clock that moves only when told to; clones share the same time, so a
/// simulator can keep one handle and give another to the engine.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: SimTime) -> Self {
        Self(Arc::new(AtomicU64::new(start.0)))
    }

    /// Set the time. Moving backwards is allowed; the audit chain records what it is told.
    pub fn set(&self, now: SimTime) {
        self.0.store(now.0, Ordering::SeqCst);
    }

    /// Move the time forward by `delta`.
    pub fn advance(&self, delta: SimDuration) {
        self.0.fetch_add(delta.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SimTime {
        SimTime(self.0.load(Ordering::SeqCst))
    }
}
