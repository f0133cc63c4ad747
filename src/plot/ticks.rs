//! Axis ticks at round values, labelled the way a paper labels them: linear axes step by 1, 2
//! or 5 × 10ᵏ; logarithmic axes mark 1, 2, 5 × 10ᵏ (or whole decades when that would be too
//! many); a logarithmic time axis in seconds marks round times (60, 120, 300, 600 s, 1 h ...).
//! Labels are written `0.02`, `300`, `2×10⁻⁵` or `10⁶`, never `6.31e1`.

/// A tick: its value (in data units) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The value marked.
    pub value: f64,
    /// What the axis writes beside it.
    pub label: String,
}

/// Round durations in seconds, finest first: 1, 2, 5, 10, 20, 30 s, 1, 2, 5, 10, 20, 30 min,
/// 1, 2, 3, 6, 12 h, 1, 2, 5, 10, 20, 50, 100 days.
const ROUND_SECONDS: [f64; 24] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0,
    43200.0, 86400.0, 172800.0, 432000.0, 864000.0, 1728000.0, 4320000.0, 8640000.0,
];

/// Coarser round durations in seconds: 1 s, 10 s, 1 min, 10 min, 1 h, 1 day, 10 days.
const COARSE_SECONDS: [f64; 7] = [1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0, 864000.0];

/// Relative slack when deciding whether a tick lies inside the axis range.
const SLACK: f64 = 1e-9;

/// At most `max` ticks at multiples of a 1, 2 or 5 × 10ᵏ step inside `[lo, hi]`.
pub fn linear_ticks(lo: f64, hi: f64, max: usize) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Vec::new();
    }
    let max = max.max(2);
    let raw = (hi - lo) / (max - 1) as f64;
    let mut exponent = raw.log10().floor() as i32;
    let step = loop {
        let found = [1.0, 2.0, 5.0].iter().map(|m| m * 10f64.powi(exponent)).find(|&s| count(lo, hi, s) <= max);
        match found {
            Some(s) => break s,
            None => exponent += 1,
        }
    };
    let slack = SLACK * (hi - lo);
    let first = ((lo - slack) / step).ceil() as i64;
    let last = ((hi + slack) / step).floor() as i64;
    let values: Vec<f64> = (first..=last).map(|i| clean(i as f64 * step, step)).collect();
    let labels = linear_labels(&values, step);
    values.into_iter().zip(labels).map(|(value, label)| Tick { value, label }).collect()
}

fn count(lo: f64, hi: f64, step: f64) -> usize {
    let slack = SLACK * (hi - lo);
    (((hi + slack) / step).floor() - ((lo - slack) / step).ceil() + 1.0).max(0.0) as usize
}

/// `v` rounded to the decimal places of `step` (so 0.30000000000000004 is 0.3).
fn clean(v: f64, step: f64) -> f64 {
    let places = decimals(step) as i32;
    if places > 15 {
        return v;
    }
    let scale = 10f64.powi(places);
    (v * scale).round() / scale
}

/// Decimal places that a multiple of `step` (1, 2 or 5 × 10ᵏ) needs.
fn decimals(step: f64) -> usize {
    (-(step.log10() + SLACK).floor()).max(0.0) as usize
}

fn linear_labels(values: &[f64], step: f64) -> Vec<String> {
    let biggest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(1e-3..1e6).contains(&biggest) {
        // m×10ᴱ with one exponent for the whole axis.
        let e = if biggest > 0.0 { biggest.log10().floor() as i32 } else { 0 };
        let places = decimals(step / 10f64.powi(e));
        return values
            .iter()
            .map(
                |&v| {
                    if v == 0.0 { "0".into() } else { format!("{:.places$}×10{}", v / 10f64.powi(e), superscript(e)) }
                },
            )
            .collect();
    }
    let places = decimals(step);
    values.iter().map(|v| format!("{v:.places$}")).collect()
}

/// Ticks of a logarithmic axis over `[lo, hi]` (both > 0): 1, 2, 5 × 10ᵏ if at most `max` of
/// them fit, else whole decades (every second, fifth ... decade over very wide ranges); over a
/// range too narrow for two such values, 1 ... 9 × 10ᵏ, and failing that round linear ticks.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<Tick> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let max = max.max(2);
    let within = |v: f64| v >= lo * (1.0 - SLACK) && v <= hi * (1.0 + SLACK);
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let with_mantissas = |ms: &[u32]| -> Vec<(u32, i32)> {
        (k0..=k1).flat_map(|k| ms.iter().map(move |&m| (m, k))).filter(|&(m, k)| within(value(m, k))).collect()
    };
    let one_two_five = with_mantissas(&[1, 2, 5]);
    let chosen = if one_two_five.len() > max {
        let decades = with_mantissas(&[1]);
        let every = [1, 2, 5, 10, 20, 50, 100].into_iter().find(|&n| decades.len().div_ceil(n) <= max).unwrap_or(100);
        decades.into_iter().filter(|&(_, k)| k.rem_euclid(every as i32) == 0).collect()
    } else if one_two_five.len() >= 3 {
        one_two_five
    } else {
        let all = with_mantissas(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        if all.len() >= 2 && all.len() <= max {
            all
        } else if one_two_five.len() >= 2 {
            one_two_five
        } else {
            return linear_ticks(lo, hi, max);
        }
    };
    log_labels(&chosen)
}

fn value(m: u32, k: i32) -> f64 {
    // Exact for the decimal values a reader sees (10⁻³ is 0.001, not 0.0010000000000000002).
    if k >= 0 { f64::from(m) * 10f64.powi(k) } else { f64::from(m) / 10f64.powi(-k) }
}

/// Plain decimals if every tick lies in [0.001, 10⁴), else m×10ᵏ (10ᵏ for m = 1) on the whole axis.
fn log_labels(ticks: &[(u32, i32)]) -> Vec<Tick> {
    let plain = ticks.iter().all(|&(_, k)| (-3..=3).contains(&k));
    ticks
        .iter()
        .map(|&(m, k)| {
            let label = if plain {
                format!("{:.*}", (-k).max(0) as usize, value(m, k))
            } else if m == 1 {
                format!("10{}", superscript(k))
            } else {
                format!("{m}×10{}", superscript(k))
            };
            Tick { value: value(m, k), label }
        })
        .collect()
}

/// Ticks of a logarithmic axis of durations in seconds over `[lo, hi]`: round times
/// (60, 120, 300, 600 s ...) labelled in seconds; coarser ones (1 min, 10 min, 1 h ...) if more
/// than `max` fit; [`log_ticks`] if fewer than two do.
pub fn seconds_ticks(lo: f64, hi: f64, max: usize) -> Vec<Tick> {
    let within = |v: &&f64| **v >= lo * (1.0 - SLACK) && **v <= hi * (1.0 + SLACK);
    let fine: Vec<f64> = ROUND_SECONDS.iter().filter(within).copied().collect();
    let coarse: Vec<f64> = COARSE_SECONDS.iter().filter(within).copied().collect();
    let chosen = if fine.len() <= max.max(2) { fine } else { coarse };
    if chosen.len() < 2 || chosen.len() > max.max(2) {
        return log_ticks(lo, hi, max);
    }
    chosen.into_iter().map(|value| Tick { value, label: format!("{value}") }).collect()
}

/// Minor (unlabelled) grid values of a logarithmic axis over `[lo, hi]`: 1 ... 9 × 10ᵏ, or
/// whole decades over ranges wider than `max_decades`.
pub fn log_minor(lo: f64, hi: f64, max_decades: usize) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let ms: &[u32] = if (k1 - k0) as usize > max_decades { &[1] } else { &[1, 2, 3, 4, 5, 6, 7, 8, 9] };
    (k0..=k1).flat_map(|k| ms.iter().map(move |&m| value(m, k))).filter(|&v| v >= lo && v <= hi).collect()
}

/// Minor grid values of a linear axis: a fifth of the step between `ticks` (a half for 2 × 10ᵏ).
pub fn linear_minor(lo: f64, hi: f64, ticks: &[Tick]) -> Vec<f64> {
    let [a, b, ..] = ticks else { return Vec::new() };
    let step = b.value - a.value;
    let mantissa = step / 10f64.powf(step.log10().floor());
    let minor = if (mantissa - 2.0).abs() < 1e-6 { step / 2.0 } else { step / 5.0 };
    let first = (lo / minor).ceil() as i64;
    let last = (hi / minor).floor() as i64;
    (first..=last).map(|i| i as f64 * minor).collect()
}

/// `k` in Unicode superscript digits (`-5` → `⁻⁵`).
pub fn superscript(k: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut out = String::new();
    if k < 0 {
        out.push('⁻');
    }
    for c in k.unsigned_abs().to_string().chars() {
        out.push(DIGITS[c.to_digit(10).unwrap_or(0) as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks.iter().map(|t| t.label.as_str()).collect()
    }

    /// Whether `v` is 1, 2 or 5 × 10ᵏ (to 1e-9 relative).
    fn is_one_two_five(v: f64) -> bool {
        let k = v.log10().floor();
        let m = v / 10f64.powf(k);
        [1.0, 2.0, 5.0, 10.0].iter().any(|r| (m - r).abs() < 1e-9 * r)
    }

    #[test]
    fn log_ticks_are_one_two_five_times_a_power_of_ten() {
        // The refresh-interval axis that used to read 6.31e1, 1e2, 1.58e2 ... 3.98e3.
        let ticks = log_ticks(55.0, 3900.0, 10);
        assert_eq!(labels(&ticks), ["100", "200", "500", "1000", "2000"]);
        for (lo, hi) in [(1.3e-5, 0.6), (2.9, 3300.0), (7e-9, 3e-3), (0.8, 1.2e6), (1e-3, 1.0)] {
            let ticks = log_ticks(lo, hi, 10);
            assert!(ticks.len() >= 2 && ticks.len() <= 10, "{lo}..{hi}: {} ticks", ticks.len());
            for t in &ticks {
                assert!(is_one_two_five(t.value), "{lo}..{hi}: tick {} is not 1, 2, 5 × 10^k", t.value);
                assert!(t.value >= lo && t.value <= hi, "{lo}..{hi}: tick {} outside the axis", t.value);
                assert!(!t.label.contains('e'), "label {} is in e-notation", t.label);
            }
        }
    }

    #[test]
    fn log_ticks_fall_back_to_decades_and_write_powers_of_ten() {
        let ticks = log_ticks(1.3e-5, 0.6, 10);
        assert_eq!(labels(&ticks), ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹"]);
        let ticks = log_ticks(2e-6, 9e-6, 10);
        assert_eq!(labels(&ticks), ["2×10⁻⁶", "3×10⁻⁶", "4×10⁻⁶", "5×10⁻⁶", "6×10⁻⁶", "7×10⁻⁶", "8×10⁻⁶", "9×10⁻⁶"]);
    }

    #[test]
    fn log_ticks_over_twenty_decades_skip_decades() {
        let ticks = log_ticks(1e-20, 1.0, 8);
        assert!(ticks.len() <= 8, "{} ticks", ticks.len());
        assert_eq!(ticks.first().map(|t| t.label.as_str()), Some("10⁻²⁰"));
    }

    #[test]
    fn seconds_ticks_mark_round_times() {
        let ticks = seconds_ticks(55.0, 3900.0, 10);
        assert_eq!(labels(&ticks), ["60", "120", "300", "600", "1200", "1800", "3600"]);
        let ticks = seconds_ticks(1.0, 1e6, 10);
        assert_eq!(labels(&ticks), ["1", "10", "60", "600", "3600", "86400", "864000"]);
    }

    #[test]
    fn linear_ticks_step_by_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(labels(&linear_ticks(-0.3, 6.3, 10)), ["0", "1", "2", "3", "4", "5", "6"]);
        assert_eq!(
            labels(&linear_ticks(0.025, 0.135, 12)),
            ["0.03", "0.04", "0.05", "0.06", "0.07", "0.08", "0.09", "0.10", "0.11", "0.12", "0.13"]
        );
        let qber = linear_ticks(0.025, 0.135, 8);
        assert_eq!(labels(&qber), ["0.04", "0.06", "0.08", "0.10", "0.12"]);
        assert_eq!(
            labels(&linear_ticks(-500.0, 7500.0, 10)),
            ["0", "1000", "2000", "3000", "4000", "5000", "6000", "7000"]
        );
        assert_eq!(labels(&linear_ticks(0.0, 3.2e7, 6)), ["0", "1×10⁷", "2×10⁷", "3×10⁷"]);
    }

    #[test]
    fn superscripts_spell_negative_exponents() {
        assert_eq!(superscript(-15), "⁻¹⁵");
        assert_eq!(superscript(0), "⁰");
    }
}
