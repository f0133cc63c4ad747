//! The discrete-event core: a queue of events on integer-nanosecond simulated time, popped in
//! time order with a stable tie-break (insertion order), so a run is deterministic. Scheduling
//! into the past is an error.
//!
//! ```
//! use qecnet::mesh::EventQueue;
//! use qecnet::units::{SimDuration, SimTime};
//! let mut q = EventQueue::new();
//! q.schedule(SimTime(20), "b").unwrap();
//! q.schedule(SimTime(10), "a").unwrap();
//! q.schedule(SimTime(20), "c").unwrap();
//! assert_eq!(q.pop(), Some((SimTime(10), "a")));
//! assert!(q.schedule(SimTime(5), "late").is_err()); // now is 10 ns
//! q.schedule_in(SimDuration(10), "d").unwrap();
//! let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
//! assert_eq!(order, ["b", "c", "d"]);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::units::{SimDuration, SimTime};

/// An attempt to schedule an event before the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot schedule at {at} ns: simulated time is already {now} ns")]
pub struct PastSchedule {
    /// Requested time (ns).
    pub at: u64,
    /// Current time (ns).
    pub now: u64,
}

struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so the max-heap pops the earliest (time, then insertion order).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A deterministic event queue.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    now: SimTime,
    next_seq: u64,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), now: SimTime(0), next_seq: 0, popped: 0 }
    }

    /// The current simulated time: that of the last event popped.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events processed so far.
    pub fn popped(&self) -> u64 {
        self.popped
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `at` (not before now).
    pub fn schedule(&mut self, at: SimTime, event: E) -> Result<(), PastSchedule> {
        if at < self.now {
            return Err(PastSchedule { at: at.0, now: self.now.0 });
        }
        self.heap.push(Entry { at, seq: self.next_seq, event });
        self.next_seq += 1;
        Ok(())
    }

    /// Schedules `event` `delay` after now.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> Result<(), PastSchedule> {
        self.schedule(self.now + delay, event)
    }

    /// The earliest event, advancing the clock to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = self.heap.pop()?;
        self.now = entry.at;
        self.popped += 1;
        Some((entry.at, entry.event))
    }

    /// The time of the earliest event, without popping it.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.at)
    }
}
