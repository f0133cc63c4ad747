//! A link of the running mesh and one of its monitoring windows: the block rung produces key
//! and a QBER sample, the threshold monitor may switch the link to or from fallback, the
//! CUSUM decision engine may raise an alarm (a triggered rotation, and a compromise when
//! enough of a node's links alarm together), and the session key counts its uses.

use super::Sim;
use super::channels::Channel;
use super::events::{RotationKind, SimEvent};
use crate::lifecycle::Trigger;
use crate::mesh::error::Result;
use crate::mesh::link::QkdLink;
use crate::mesh::monitor::{Cusum, LinkMode, ThresholdMonitor};
use crate::mesh::scenario::Attack;
use crate::photonics::LinkConfig;
use crate::rng::SimRng;
use crate::units::{SimDuration, SimTime};

/// A link of the running mesh.
pub(super) struct LinkState {
    pub(super) id: String,
    /// The two ends (node indices).
    pub(super) a: usize,
    pub(super) b: usize,
    pub(super) length_km: f64,
    /// The link's physics without the scenario's impairments.
    pub(super) base: LinkConfig,
    /// What the scenario's events currently do to the physics.
    pub(super) impairments: Impairments,
    pub(super) qkd: QkdLink,
    pub(super) rng: SimRng,
    pub(super) monitor: ThresholdMonitor,
    pub(super) cusum: Option<Cusum>,
    /// The eavesdropper on the link now, if any.
    pub(super) attack: AttackEpisode,
    /// The last rotation an alarm triggered.
    pub(super) last_triggered: Option<SimTime>,
    /// Cut off by a compromise of one of its ends: no more windows.
    pub(super) severed: bool,
    pub(super) stats: LinkStats,
    /// Counts of the current refresh interval (one time-series row each).
    pub(super) interval: IntervalCounts,
}

/// What the scenario's events currently do to a link's physics.
#[derive(Debug, Clone, Default)]
pub(super) struct Impairments {
    /// Loss added by degrade events (dB).
    pub(super) extra_loss_db: f64,
    /// An eavesdropper's attack and its strength.
    pub(super) eve: Option<(Attack, f64)>,
}

/// The attack episode on a link (an eve event), for detection statistics.
#[derive(Debug, Clone, Default)]
pub(super) struct AttackEpisode {
    /// When the attack started; `None` while the link is honest.
    pub(super) since: Option<SimTime>,
    /// The decision engine has detected it.
    pub(super) detected: bool,
}

/// A link's statistics over the whole run.
#[derive(Debug, Clone, Default)]
pub(super) struct LinkStats {
    pub(super) qber_sum: f64,
    /// The QBER of the latest window (`None` before the first).
    pub(super) last_qber: Option<f64>,
    /// Sum of the buffer level over windows (bits).
    pub(super) buffer_sum: f64,
    /// Windows the link ran.
    pub(super) windows: u64,
    /// When the current fallback period began.
    pub(super) fallback_since: Option<SimTime>,
    /// Time spent in fallback.
    pub(super) fallback: SimDuration,
    pub(super) ever_fallback: bool,
    /// Switches from QKD to fallback.
    pub(super) fallback_switches: u64,
    /// Session keys paid from the QKD buffer.
    pub(super) refreshes_qkd: u64,
    /// Session keys from the ML-KEM fallback.
    pub(super) refreshes_fallback: u64,
    /// Relayed session keys that took a hop over this link.
    pub(super) relay_hops_carried: u64,
}

/// A link's counts over the current refresh interval (bits and errors).
#[derive(Debug, Clone, Default)]
pub(super) struct IntervalCounts {
    pub(super) secret: u64,
    pub(super) sifted: u64,
    pub(super) errors: u64,
}

impl Sim<'_> {
    /// The end of a monitoring window of link `i`.
    pub(super) fn window(&mut self, now: SimTime, i: usize) -> Result<()> {
        let window = SimDuration::from_secs_f64(self.scenario.mesh.window_s);
        let link = &mut self.links[i];
        if link.severed {
            return Ok(());
        }
        self.queue.schedule(now + window, SimEvent::Window(i))?;
        if self.nodes.down_until[link.a].is_some() || self.nodes.down_until[link.b].is_some() {
            return Ok(()); // a crashed end produces nothing
        }
        let stats = link.qkd.window(&mut link.rng);
        let qber = stats.qber();
        link.stats.windows += 1;
        link.stats.qber_sum += qber;
        link.stats.last_qber = Some(qber);
        link.stats.buffer_sum += link.qkd.buffer_bits as f64;
        link.interval.secret += stats.secret_bits;
        link.interval.sifted += stats.sifted_bits;
        link.interval.errors += stats.errors;
        let rate = if link.qkd.produced_bits > 0 || link.stats.windows as f64 * self.scenario.mesh.window_s > 60.0 {
            link.qkd.key_rate_bps
        } else {
            f64::INFINITY // no post-processing block finished yet: judge by QBER only
        };
        let change = link.monitor.window(qber, rate);
        let alarm = match &mut link.cusum {
            Some(c) => c.block(stats.sifted_bits, stats.errors),
            None => false,
        };
        let (id, buffer) = (link.id.clone(), link.qkd.buffer_bits);
        if link.attack.since.is_none() {
            self.stats.honest_windows += 1;
        }
        if let Some(change) = change {
            let link = &mut self.links[i];
            let (event, state) = match change.mode {
                LinkMode::Fallback => {
                    link.stats.fallback_since = Some(now);
                    link.stats.ever_fallback = true;
                    link.stats.fallback_switches += 1;
                    ("link:fallback", "fallback")
                }
                LinkMode::Qkd => {
                    if let Some(since) = link.stats.fallback_since.take() {
                        link.stats.fallback += now - since;
                    }
                    ("link:qkd", "qkd")
                }
            };
            self.engine.record_event(event, &format!("link={id}; {}", change.reason))?;
            self.csv.trace(now, &id, event, state, (qber, buffer), &change.reason)?;
            self.reconfigure(now, &format!("link {id} to {state}"))?;
        }
        if alarm {
            self.alarm(now, i, &id, (qber, buffer))?;
        }
        // The session key carries traffic this window: the ACTIVE key encrypts, also while a
        // rotation (and its retries) is in flight, since the old key stays ACTIVE until its
        // replacement activates. Uses are counted here and recorded in the store (which
        // refuses any use of a key that is no longer allowed) whenever the channel's key
        // changes, and at the end.
        if let Some(state) = self.channels.get_mut(&Channel::Link(i))
            && state.active.is_some()
        {
            state.uses.0 += 1;
        }
        let interval = (self.scenario.mesh.refresh_interval_s / self.scenario.mesh.window_s).round().max(1.0) as u64;
        let link = &mut self.links[i];
        if link.stats.windows.is_multiple_of(interval) {
            let counts = std::mem::take(&mut link.interval);
            let q = if counts.sifted > 0 { counts.errors as f64 / counts.sifted as f64 } else { 0.0 };
            let mode = match link.monitor.mode() {
                LinkMode::Qkd => "qkd",
                LinkMode::Fallback => "fallback",
            };
            let row = format!(
                "{},{},{},{},{},{},{}",
                now.as_secs_f64(),
                link.id,
                q,
                counts.sifted,
                counts.secret,
                link.qkd.buffer_bits,
                mode
            );
            self.csv.timeseries(&row)?;
        }
        Ok(())
    }

    /// A CUSUM alarm on link `i` (named `id`, with the window's QBER and buffer bits): counted
    /// as a detection or a false alarm, it triggers a rotation (at most one per refresh
    /// interval) and may escalate to a compromise of an end.
    fn alarm(&mut self, now: SimTime, i: usize, id: &str, (qber, buffer): (f64, u64)) -> Result<()> {
        // The first alarm of an attack episode is its detection; later ones are not
        // counted again. An alarm on an honest link is a false alarm.
        let link = &mut self.links[i];
        match link.attack.since {
            Some(since) if !link.attack.detected => {
                link.attack.detected = true;
                self.stats.detections += 1;
                self.stats.detection_delays_s.push((now - since).as_secs_f64());
            }
            Some(_) => {}
            None => self.stats.false_alarms += 1,
        }
        // The alarm triggers a rotation, at most one per refresh interval per link.
        let refresh_ns = SimDuration::from_secs_f64(self.scenario.mesh.refresh_interval_s).as_nanos();
        let rotate = link.last_triggered.is_none_or(|t| now.0 - t.0 >= refresh_ns);
        if rotate {
            link.last_triggered = Some(now);
        }
        self.engine.record_event("decision:alarm", &format!("link={id}; CUSUM above threshold"))?;
        self.csv.trace(now, id, "decision:alarm", "alarm", (qber, buffer), "CUSUM")?;
        if rotate {
            self.refresh(now, Channel::Link(i), RotationKind::Triggered, Some(Trigger::Anomaly))?;
        }
        let ends = [self.links[i].a, self.links[i].b];
        for (node, links) in self.escalation.alarm(now, i, ends) {
            if self.nodes.isolated.contains(&node) {
                continue;
            }
            let names: Vec<&str> = links.iter().map(|&l| self.links[l].id.as_str()).collect();
            let reason = format!(
                "decision engine: CUSUM alarms on {} links of {} within {} s ({})",
                links.len(),
                self.topology.nodes[node].name,
                self.scenario.monitor.escalate_within_s,
                names.join(", ")
            );
            self.stats.escalations += 1;
            self.compromise(now, node, &reason)?;
        }
        Ok(())
    }
}
