//! The legend: where it goes (the candidate position inside the plot area that covers the
//! fewest data pixels, or the corner a chart asks for) and how it is drawn (a sample of each
//! series' line and marker, or a swatch, beside its label).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::Legend;
use crate::plot::glyph::glyph;
use crate::plot::style::Style;

/// Font size of legend labels (pixels).
pub const FONT_SIZE: u32 = 14;
/// Width of the sample line (pixels).
const SAMPLE_WIDTH: i32 = 30;
/// Inner padding of the legend box (pixels).
const PAD: i32 = 7;
/// Data this close to the legend box count as covered (pixels).
const CLEARANCE: i32 = 10;
/// Distance from the plot area's edge (pixels).
const INSET: i32 = 8;

/// What a legend entry shows left of its label.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// A series: its line (if `line`) and its marker (if `marker`).
    Series {
        /// The series' look.
        style: Style,
        /// Whether it draws a line.
        line: bool,
        /// Whether it draws markers.
        marker: bool,
    },
    /// A filled swatch (bars, shaded bands).
    Swatch(RGBAColor),
}

/// A pixel rectangle: left, top, right, bottom.
pub type Rect = (i32, i32, i32, i32);

/// The top-left corner of a `size` legend inside `area`: `preference` if it names a corner,
/// else the candidate (corners first, then edge middles, then the centre) covering the fewest
/// of the `occupied` pixels.
pub fn place(area: Rect, size: (i32, i32), occupied: &[(i32, i32)], preference: Legend) -> (i32, i32) {
    let (l, t, r, b) = area;
    let (w, h) = size;
    let left = l + INSET;
    let right = (r - INSET - w).max(left);
    let centre_x = (l + r - w) / 2;
    let top = t + INSET;
    let bottom = (b - INSET - h).max(top);
    let middle_y = (t + b - h) / 2;
    match preference {
        Legend::UpperLeft => return (left, top),
        Legend::UpperRight => return (right, top),
        Legend::LowerLeft => return (left, bottom),
        Legend::Auto => {}
    }
    let candidates = [
        (right, top),
        (left, top),
        (left, bottom),
        (right, bottom),
        (centre_x, top),
        (centre_x, bottom),
        (right, middle_y),
        (left, middle_y),
        (centre_x, middle_y),
    ];
    let covered = |&(x, y): &(i32, i32)| {
        let m = CLEARANCE;
        occupied.iter().filter(|&&(px, py)| px >= x - m && px <= x + w + m && py >= y - m && py <= y + h + m).count()
    };
    // The first of the least covered (min_by_key keeps the first of equal keys).
    candidates.iter().copied().min_by_key(covered).unwrap_or((left, top))
}

/// Width and height of the legend of `entries` in `font`.
pub fn size<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(Key, String)],
) -> Result<(i32, i32), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = TextStyle::from(("sans-serif", FONT_SIZE).into_font());
    let mut width = 0;
    for (_, label) in entries {
        width = width.max(root.estimate_text_size(label, &font)?.0 as i32);
    }
    Ok((width + SAMPLE_WIDTH + 3 * PAD, row_height() * entries.len() as i32 + 2 * PAD - 4))
}

fn row_height() -> i32 {
    FONT_SIZE as i32 + 5
}

/// Draws the legend of `entries` with its top-left corner at `at`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[(Key, String)],
    at: (i32, i32),
    size: (i32, i32),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x, y) = at;
    let (w, h) = size;
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], WHITE.mix(0.9).filled()))?;
    root.draw(&Rectangle::new([(x, y), (x + w, y + h)], RGBColor(120, 120, 120).stroke_width(1)))?;
    let font = TextStyle::from(("sans-serif", FONT_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (key, label)) in entries.iter().enumerate() {
        let cy = y + PAD + row_height() * i as i32 + row_height() / 2 - 2;
        let (sx, ex) = (x + PAD, x + PAD + SAMPLE_WIDTH);
        match *key {
            Key::Series { style, line, marker } => {
                let stroke = style.color.stroke_width(2);
                if line {
                    match style.dash.pattern() {
                        None => root.draw(&PathElement::new(vec![(sx, cy), (ex, cy)], stroke))?,
                        Some((dash, gap)) => {
                            root.draw(&DashedPathElement::new(vec![(sx, cy), (ex, cy)], dash, gap, stroke))?
                        }
                    }
                }
                if marker {
                    root.draw(&glyph((sx + SAMPLE_WIDTH / 2, cy), style.marker, 4, stroke))?;
                }
            }
            Key::Swatch(color) => {
                root.draw(&Rectangle::new([(sx, cy - 6), (ex, cy + 6)], color.filled()))?;
            }
        }
        root.draw(&Text::new(label.clone(), (ex + PAD, cy), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: Rect = (100, 50, 880, 500);

    #[test]
    fn an_auto_legend_avoids_data_in_the_upper_right() {
        // Data along the top edge's right half and the right edge: the legend goes upper left.
        let occupied: Vec<(i32, i32)> =
            (500..880).step_by(5).map(|x| (x, 60)).chain((50..500).step_by(5).map(|y| (870, y))).collect();
        assert_eq!(place(AREA, (200, 80), &occupied, Legend::Auto), (108, 58));
    }

    #[test]
    fn an_auto_legend_with_nothing_to_avoid_goes_upper_right() {
        assert_eq!(place(AREA, (200, 80), &[], Legend::Auto), (672, 58));
    }

    #[test]
    fn an_auto_legend_takes_the_least_covered_place_when_none_is_free() {
        // Data everywhere, thinnest in the lower left.
        let occupied: Vec<(i32, i32)> = (100..880)
            .step_by(4)
            .flat_map(|x| (50..500).step_by(4).map(move |y| (x, y)))
            .filter(|&(x, y)| !(x < 330 && y > 400) || (x + y) % 3 == 0)
            .collect();
        assert_eq!(place(AREA, (200, 80), &occupied, Legend::Auto), (108, 412));
    }

    #[test]
    fn a_named_corner_is_kept() {
        let occupied = [(120, 460)];
        assert_eq!(place(AREA, (200, 80), &occupied, Legend::LowerLeft), (108, 412));
    }
}
