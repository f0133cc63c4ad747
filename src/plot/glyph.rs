//! A hollow marker as a plotters element: an anchor point (data coordinates on a chart,
//! pixels on a drawing area) and the outline of its [`Marker`] drawn around it in pixels.

use plotters::element::ComposedElement;
use plotters::prelude::*;

use crate::plot::style::Marker;

/// The element [`glyph`] returns.
pub type Glyph<C, DB> = ComposedElement<C, DB, PathElement<(i32, i32)>, PathElement<(i32, i32)>>;

/// `marker` of half-size `r` pixels at `at`, stroked in `style`.
pub fn glyph<C, DB: DrawingBackend>(at: C, marker: Marker, r: i32, style: ShapeStyle) -> Glyph<C, DB> {
    let [first, second] = marker.outline(r);
    EmptyElement::at(at) + PathElement::new(first, style) + PathElement::new(second, style)
}
