//! Nothing to link: this package holds benches (`compare/benches/`) that run qecnet beside
//! independent implementations of the same algorithm on the same inputs.
