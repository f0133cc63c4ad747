//! Time as the simulators and the lifecycle engine keep it: instants ([`SimTime`]) and spans
//! ([`SimDuration`]) in integer nanoseconds, so that event order is exact and the same on every
//! machine. An instant counts from its clock's origin: the start of a run for a simulation, the
//! Unix epoch for the lifecycle engine's wall clock.

/// Nanoseconds per second.
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// An instant in integer nanoseconds since its clock's origin (serialised as that integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SimTime(pub u64);

/// A span of time in integer nanoseconds (serialised as that integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The instant `s` whole seconds after the clock's origin.
    pub const fn from_secs(s: u64) -> Self {
        SimTime(s * NANOS_PER_SECOND)
    }

    /// The instant `s` seconds after the start, rounded to the nearest nanosecond.
    pub fn from_secs_f64_rounded(s: f64) -> Self {
        SimTime((s * NANOS_PER_SECOND as f64).round() as u64)
    }

    /// Seconds since the start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }
}

impl SimDuration {
    /// `s` whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SECOND)
    }

    /// `s` seconds, truncated to whole nanoseconds (negative and NaN give zero).
    pub fn from_secs_f64(s: f64) -> Self {
        SimDuration((s * NANOS_PER_SECOND as f64) as u64)
    }

    /// The duration in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The duration in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::ops::Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturates at the end of the u64 nanosecond clock (about 584 years).
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl SimTime {
    /// The span from `earlier` to `self`, zero if `earlier` is later (a clock set backwards).
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl std::ops::AddAssign for SimDuration {
    fn add_assign(&mut self, rhs: SimDuration) {
        self.0 += rhs.0;
    }
}

impl std::ops::Sub for SimTime {
    type Output = SimDuration;
    /// The span from `rhs` to `self` (`rhs` must not be later).
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(self.0 - rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_convert_to_nanoseconds_and_back() {
        assert_eq!(SimDuration::from_secs(300), SimDuration(300 * NANOS_PER_SECOND));
        assert_eq!(SimDuration::from_secs_f64(0.25).as_nanos(), 250_000_000);
        assert_eq!(SimTime::from_secs_f64_rounded(1.5e-9), SimTime(2));
        assert_eq!((SimTime(3_500_000_000) - SimTime(1_000_000_000)).as_secs_f64(), 2.5);
        assert_eq!(SimTime(0) + SimDuration::from_secs(2), SimTime(2 * NANOS_PER_SECOND));
    }
}
