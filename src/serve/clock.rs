//! The served store's clock: the live mesh's simulated time counted from a fixed epoch (ns
//! since the Unix epoch), so the audit chain, the keys' issue times and their expiry all read
//! one timeline. The epoch is the wall clock when serve starts, or later than every record
//! of a resumed store, so a restart never stamps a record before the ones it follows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::lifecycle::{Clock, ManualClock};
use crate::units::SimTime;

/// Epoch plus the live mesh's simulated time.
#[derive(Debug, Clone)]
pub struct ServeClock {
    /// ns since the Unix epoch at simulated time 0.
    epoch: Arc<AtomicU64>,
    sim: ManualClock,
}

impl ServeClock {
    /// A clock reading `epoch` plus `sim`'s time.
    pub fn new(epoch: SimTime, sim: ManualClock) -> Self {
        ServeClock { epoch: Arc::new(AtomicU64::new(epoch.0)), sim }
    }

    /// Moves the epoch so that simulated time 0 reads after `last` (a resumed store's last
    /// record), if it does not already.
    pub fn advance_epoch_past(&self, last: SimTime) {
        self.epoch.fetch_max(last.0.saturating_add(1), Ordering::SeqCst);
    }

    /// The simulated clock the mesh sets.
    pub fn sim(&self) -> &ManualClock {
        &self.sim
    }
}

impl Clock for ServeClock {
    fn now(&self) -> SimTime {
        SimTime(self.epoch.load(Ordering::SeqCst).saturating_add(self.sim.now().0))
    }
}
