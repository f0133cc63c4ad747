//! The served store's clock: the live mesh's simulated time counted from a fixed epoch (ns
//! since the Unix epoch), so the audit chain, the keys' issue times and their expiry all read
//! one timeline. The epoch is the wall clock when serve starts (less the simulated time a
//! resumed mesh goes on from, so the clock reads the wall clock then at speed 1), or later,
//! so that a restart never stamps a record before the ones it follows.

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

    /// Sets the simulated clock to `t` (a resumed mesh's time), keeping the clock's reading,
    /// and moves the epoch back by `t`, so that the reading stays the wall clock's at the
    /// resume, and then forward as far as needed for it to read after `last` (the resumed
    /// store's last record).
    pub fn resume_at(&self, t: SimTime, last: SimTime) {
        let wall = self.epoch.load(Ordering::SeqCst);
        let epoch = wall.saturating_sub(t.0).max(last.0.saturating_add(1).saturating_sub(t.0));
        self.epoch.store(epoch, Ordering::SeqCst);
        self.sim.set(t);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_clock_reads_the_wall_clock_and_never_before_the_last_record() {
        let wall = SimTime(1_000_000);
        let clock = ServeClock::new(wall, ManualClock::new(SimTime(0)));
        clock.resume_at(SimTime(300), SimTime(10));
        assert_eq!((clock.now(), clock.sim().now()), (wall, SimTime(300)));
        let clock = ServeClock::new(wall, ManualClock::new(SimTime(0)));
        clock.resume_at(SimTime(300), SimTime(2_000_000));
        assert_eq!(clock.now(), SimTime(2_000_001), "after the last record, whatever the wall clock says");
    }
}
