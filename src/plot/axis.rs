//! A plotters coordinate whose grid lines are given: the major ticks (labelled) and the minor
//! grid of [`crate::plot::ticks`], on a linear map from `[lo, hi]` to pixels.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// `[lo, hi]` mapped linearly, with its major and minor grid values.
#[derive(Debug, Clone)]
pub struct TickedAxis {
    /// Lower end of the axis.
    pub lo: f64,
    /// Upper end of the axis.
    pub hi: f64,
    /// Labelled grid values.
    pub major: Vec<f64>,
    /// Light grid values.
    pub minor: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let length = limit.1 - limit.0;
        if length == 0 || self.hi <= self.lo {
            return limit.0;
        }
        let fraction = ((value - self.lo) / (self.hi - self.lo)).clamp(-10.0, 10.0);
        limit.0 + (f64::from(length) * fraction + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.minor.clone() } else { self.major.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}
