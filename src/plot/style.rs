//! How each series is told apart: a colour (the colour-blind-safe palette of Okabe and Ito,
//! 2008, less its yellow), a line pattern and a marker shape, all three changing from one
//! series to the next, so that series which coincide stay visible and the chart still reads
//! in grey.

use plotters::style::RGBColor;

/// The palette: blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A line pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// Unbroken.
    Solid,
    /// Medium dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Long dashes with short gaps.
    LongDashed,
}

impl Dash {
    /// (dash, gap) lengths in pixels; `None` for a solid line.
    pub fn pattern(self) -> Option<(i32, i32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((8, 5)),
            Dash::Dotted => Some((2, 4)),
            Dash::LongDashed => Some((16, 4)),
        }
    }
}

const DASHES: [Dash; 4] = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::LongDashed];

/// A marker shape (drawn hollow, so markers that coincide show through each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// ○
    Circle,
    /// □
    Square,
    /// △
    TriangleUp,
    /// ◇
    Diamond,
    /// ▽
    TriangleDown,
    /// ×
    Cross,
    /// +
    Plus,
}

const MARKERS: [Marker; 7] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Cross,
    Marker::Plus,
];

impl Marker {
    /// The outline as two polylines (the second empty for closed shapes) of pixel offsets
    /// from the centre, for a marker of half-size `r`.
    pub fn outline(self, r: i32) -> [Vec<(i32, i32)>; 2] {
        let d = (f64::from(r) * 1.25).round() as i32;
        match self {
            Marker::Circle => {
                // One pixel larger than the square, so a circle and a square on one point both show.
                let r = r + 1;
                let n = 16;
                let circle = (0..=n)
                    .map(|i| {
                        let a = std::f64::consts::TAU * f64::from(i) / f64::from(n);
                        ((f64::from(r) * a.cos()).round() as i32, (f64::from(r) * a.sin()).round() as i32)
                    })
                    .collect();
                [circle, vec![]]
            }
            Marker::Square => [vec![(-r, -r), (r, -r), (r, r), (-r, r), (-r, -r)], vec![]],
            Marker::TriangleUp => [vec![(0, -d), (d, r), (-d, r), (0, -d)], vec![]],
            Marker::Diamond => [vec![(0, -d), (d, 0), (0, d), (-d, 0), (0, -d)], vec![]],
            Marker::TriangleDown => [vec![(0, d), (d, -r), (-d, -r), (0, d)], vec![]],
            Marker::Cross => [vec![(-r, -r), (r, r)], vec![(-r, r), (r, -r)]],
            Marker::Plus => [vec![(-d, 0), (d, 0)], vec![(0, -d), (0, d)]],
        }
    }
}

/// The look of one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Line and marker colour.
    pub color: RGBColor,
    /// Line pattern.
    pub dash: Dash,
    /// Marker shape.
    pub marker: Marker,
}

/// The style of the `i`-th series: colour and marker cycle through seven values and the
/// line pattern through four, so the first seven series differ in all three and no two of
/// the first 28 share all three.
pub fn style(i: usize) -> Style {
    Style { color: PALETTE[i % PALETTE.len()], dash: DASHES[i % DASHES.len()], marker: MARKERS[i % MARKERS.len()] }
}

/// Styles of the reference lines (thresholds, promises): dark greys in different patterns.
pub fn reference_style(i: usize) -> (RGBColor, Dash) {
    const GREYS: [RGBColor; 3] = [RGBColor(0, 0, 0), RGBColor(60, 60, 60), RGBColor(20, 20, 20)];
    const PATTERNS: [Dash; 3] = [Dash::Solid, Dash::Dashed, Dash::Dotted];
    (GREYS[i % GREYS.len()], PATTERNS[i % PATTERNS.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of series that [`style`] tells apart in every one of colour, line and marker.
    const FULLY_DISTINCT: usize = 4;

    #[test]
    fn the_first_seven_series_differ_in_colour_and_marker() {
        for i in 0..PALETTE.len() {
            for j in 0..i {
                assert_ne!(style(i).color, style(j).color, "series {i} and {j}");
                assert_ne!(style(i).marker, style(j).marker, "series {i} and {j}");
            }
        }
    }

    #[test]
    fn the_first_four_series_differ_in_colour_line_and_marker() {
        for i in 0..FULLY_DISTINCT {
            for j in 0..i {
                let (a, b) = (style(i), style(j));
                assert!(a.color != b.color && a.dash != b.dash && a.marker != b.marker, "series {i} and {j}");
            }
        }
    }

    #[test]
    fn no_two_of_the_first_twenty_eight_series_share_a_style() {
        for i in 0..28 {
            for j in 0..i {
                assert_ne!(style(i), style(j), "series {i} and {j}");
            }
        }
    }

    #[test]
    fn the_palette_has_no_colour_too_pale_for_white_paper() {
        // Relative luminance (sRGB weights, linear approximation) below that of the yellow left out.
        for c in PALETTE {
            let l = 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
            assert!(l < 200.0, "{c:?} is too pale");
        }
    }

    #[test]
    fn reference_lines_differ_in_pattern() {
        assert_ne!(reference_style(0).1, reference_style(1).1);
        assert_ne!(reference_style(1).1, reference_style(2).1);
        assert_ne!(reference_style(0).1, reference_style(2).1);
    }

    #[test]
    fn marker_outlines_stay_within_their_size() {
        for m in MARKERS {
            let [first, second] = m.outline(4);
            assert!(first.len() >= 2 && second.len() != 1, "{m:?}");
            for line in [first, second] {
                assert!(line.iter().all(|&(x, y)| x.abs() <= 5 && y.abs() <= 5), "{m:?}");
            }
        }
    }

    #[test]
    fn a_circle_and_a_square_on_one_point_both_show() {
        let [circle, _] = Marker::Circle.outline(4);
        let [square, _] = Marker::Square.outline(4);
        let reach = |line: &[(i32, i32)]| line.iter().map(|&(x, y)| x.abs().max(y.abs())).max().unwrap_or(0);
        // The circle pokes out of the square's sides, the square's corners out of the circle.
        assert!(reach(&circle) > reach(&square));
        assert!(square.iter().any(|&(x, y)| f64::from(x * x + y * y).sqrt() > f64::from(reach(&circle))));
    }
}
