//! The decision engine's compromise signal (the spec's DETECT step): CUSUM alarms on
//! `m = escalate_links` distinct links of one node within `escalate_within` validate a
//! compromise of that node, and the mesh runs the six-step recovery.
//!
//! **False positives.** On an honest link each CUSUM window alarms with probability at most α
//! (`cusum_false_alarm_per_block`, Ville's inequality; see [`crate::mesh::monitor::Cusum`]),
//! so within a span of `K = ⌈W/w⌉ + 1` windows (span W, window w) at most `K·α`, and honest
//! links are independent. A node with `L` links then sees `m` of them alarm within one span
//! with probability at most `C(L, m)·(K·α)^m`; a day has at most `86 400/w` spans starting at a
//! window, so the false compromise signals per node and day are bounded by
//! `(86 400/w)·C(L, m)·(K·α)^m` ([`false_signal_bound_per_node_day`]). The spec asks for a
//! false-positive rate below 0.01 % at this stage; the mesh refuses a configuration whose
//! bound is higher.

use crate::units::{InvalidParameter, SimDuration, SimTime};

/// The spec's ceiling on false compromise signals (0.01 %), per node and day.
pub const MAX_FALSE_SIGNALS_PER_NODE_DAY: f64 = 1e-4;

/// `C(n, k)` as a float.
fn choose(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// Bound on false compromise signals per node and day (see the module documentation) for
/// `links_per_node` links at the busiest node, `m` links needed, a span of `within_s`,
/// windows of `window_s` and a per-window false-alarm bound `alpha`.
pub fn false_signal_bound_per_node_day(links_per_node: u64, m: u32, within_s: f64, window_s: f64, alpha: f64) -> f64 {
    let k = (within_s / window_s).ceil() + 1.0;
    let per_span = choose(links_per_node, m as u64) * (k * alpha).min(1.0).powi(m as i32);
    (86_400.0 / window_s).ceil() * per_span
}

/// Checks that the escalation meets the spec's false-positive ceiling; returns the bound.
pub fn check_bound(
    links_per_node: u64,
    m: u32,
    within_s: f64,
    window_s: f64,
    alpha: f64,
) -> Result<f64, InvalidParameter> {
    if m as u64 > links_per_node {
        return Err(InvalidParameter::new(
            "monitor.escalate_links",
            m,
            format!("can never be reached: the busiest node has {links_per_node} links"),
        ));
    }
    let bound = false_signal_bound_per_node_day(links_per_node, m, within_s, window_s, alpha);
    if bound > MAX_FALSE_SIGNALS_PER_NODE_DAY {
        return Err(InvalidParameter::new(
            "monitor.escalate_links",
            m,
            format!(
                "with {links_per_node} links at the busiest node, CUSUM alarms at most {alpha:e} per window and \
                 {within_s} s spans, false compromise signals are bounded only by {bound:.2e} per node and day; \
                 the spec requires below {MAX_FALSE_SIGNALS_PER_NODE_DAY:e}: raise monitor.escalate_links or \
                 lower monitor.cusum_false_alarm_per_block"
            ),
        ));
    }
    Ok(bound)
}

/// Recent alarms per node, and the rule that turns them into a compromise signal.
#[derive(Debug, Clone)]
pub struct CompromiseDetector {
    links_needed: u32,
    within: SimDuration,
    /// Per node: (time, link index) of its recent alarms, oldest first.
    recent: Vec<Vec<(SimTime, usize)>>,
}

impl CompromiseDetector {
    /// A detector for `nodes` nodes; `links_needed = 0` never signals.
    pub fn new(nodes: usize, links_needed: u32, within_s: f64) -> Self {
        CompromiseDetector {
            links_needed,
            within: SimDuration::from_secs_f64(within_s),
            recent: vec![Vec::new(); nodes],
        }
    }

    /// Records an alarm at `now` on `link` between nodes `ends`; returns each end node
    /// whose recent alarms now cover enough distinct links, with those links (ascending).
    /// A node that signalled starts afresh.
    pub fn alarm(&mut self, now: SimTime, link: usize, ends: [usize; 2]) -> Vec<(usize, Vec<usize>)> {
        if self.links_needed == 0 {
            return Vec::new();
        }
        let mut signals = Vec::new();
        for node in ends {
            let recent = &mut self.recent[node];
            recent.retain(|&(t, _)| now.saturating_since(t) <= self.within);
            recent.push((now, link));
            let mut links: Vec<usize> = recent.iter().map(|&(_, l)| l).collect();
            links.sort_unstable();
            links.dedup();
            if links.len() >= self.links_needed as usize {
                recent.clear();
                signals.push((node, links));
            }
        }
        signals
    }

    /// Forgets the alarms of `links` at every node: once a node is isolated, the alarms on its
    /// links are explained and must not count towards its neighbours' signals.
    pub fn forget_links(&mut self, links: &[usize]) {
        for recent in &mut self.recent {
            recent.retain(|(_, l)| !links.contains(l));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_on_enough_links_within_the_span_signal_the_node() {
        let mut d = CompromiseDetector::new(4, 3, 300.0);
        let at = SimTime::from_secs;
        assert!(d.alarm(at(0), 0, [0, 1]).is_empty());
        assert!(d.alarm(at(10), 0, [0, 1]).is_empty(), "the same link twice is one link");
        assert!(d.alarm(at(20), 1, [1, 2]).is_empty());
        // Node 1 has alarms on links 0, 1 and now 2 within 300 s.
        assert_eq!(d.alarm(at(30), 2, [1, 3]), vec![(1, vec![0, 1, 2])]);
        // Too far apart: the first alarm has left the span.
        let mut d = CompromiseDetector::new(4, 2, 300.0);
        assert!(d.alarm(at(0), 0, [0, 1]).is_empty());
        assert!(d.alarm(at(301), 1, [1, 2]).is_empty());
        assert!(CompromiseDetector::new(4, 0, 300.0).alarm(at(0), 0, [0, 1]).is_empty());
        // Node 0 isolated after alarms on its links 0 (to 1) and 1 (to 2): node 1 keeps no
        // alarm of link 0, so one more alarm on its link 2 does not signal it.
        let mut d = CompromiseDetector::new(4, 2, 300.0);
        assert!(d.alarm(at(0), 0, [0, 1]).is_empty());
        assert_eq!(d.alarm(at(1), 1, [0, 2]), vec![(0, vec![0, 1])]);
        d.forget_links(&[0, 1]);
        assert!(d.alarm(at(2), 2, [1, 3]).is_empty());
    }

    #[test]
    fn the_bound_follows_the_union_bound_and_refuses_weak_rules() {
        // 8 links, 3 needed, 300 s span in 10 s windows (K = 31), alpha 1e-6.
        let b = false_signal_bound_per_node_day(8, 3, 300.0, 10.0, 1e-6);
        let expected = 8640.0 * 56.0 * (31e-6f64).powi(3);
        assert!(check_bound(8, 9, 300.0, 10.0, 1e-6).unwrap_err().to_string().contains("can never be reached"));
        assert!((b - expected).abs() < 1e-12 * expected.max(1e-30), "{b} vs {expected}");
        assert!(check_bound(8, 3, 300.0, 10.0, 1e-6).is_ok());
        // One alarm suffices: bounded only by 8 links × 31 windows × 1e-6 × 8640 spans.
        let e = check_bound(8, 1, 300.0, 10.0, 1e-6).unwrap_err().to_string();
        assert!(e.starts_with("monitor.escalate_links = 1: with 8 links at the busiest node"), "{e}");
    }
}
