//! Failed distributions and their retries (the spec: GENERATED/DISTRIBUTED
//! ──[distribution_failure]──> DESTROYED, "failed distributions trigger automatic retry with
//! new key material"). A distribution whose receipts are not all in by its deadline fails:
//! the key is DESTROYED (material erased) and, in the same transaction, a retry with new
//! material — from the channel's QKD buffer(s), else the ML-KEM-1024 fallback exchange, or
//! local entropy for the key types that are not session keys — is GENERATED and DISTRIBUTED;
//! its messages leave after a back-off (`rotation.retry_backoff`, doubled for every further
//! attempt), up to `rotation.max_distribution_attempts` attempts. When a participant is down
//! at the deadline, the failed key is destroyed without a retry and the rotation waits: when
//! every participant is up again it is retried with material drawn then, never with the
//! material outstanding during the outage. A rotation's old key stays ACTIVE throughout
//! (the replacement was prepared with `Engine::prepare_replacement`).

use super::Sim;
use super::messages::Pending;
use crate::lifecycle::{KeyId, KeyState};
use crate::mesh::error::Result;
use crate::units::{SimDuration, SimTime};

impl Sim<'_> {
    /// The deadline of the distribution of `key`: if receipts are missing it fails, and is
    /// retried now, given up, or left waiting for a participant that is down.
    pub(super) fn distribution_deadline(&mut self, now: SimTime, key: KeyId) -> Result<()> {
        let Some(mut p) = self.pending.remove(&key) else { return Ok(()) };
        let max = self.scenario.rotation.max_distribution_attempts;
        self.stats.failures[p.kind.index()] += 1;
        let missing: Vec<String> = p.waiting.iter().cloned().collect();
        let reason = format!(
            "attempt {} of {max}: no receipt from {} within {} ms",
            p.attempt,
            missing.join(","),
            self.deadline_ns as f64 / 1e6
        );
        let subject = self.subject(&p, key)?;
        let down: Vec<&str> = p
            .nodes
            .iter()
            .filter(|&&n| self.nodes.down_until[n].is_some())
            .map(|&n| self.topology.nodes[n].name.as_str())
            .collect();
        if p.attempt >= max {
            let why = format!("{reason}; attempts spent, the old key stays ACTIVE");
            self.engine.fail_distribution_without_retry(key, &why)?;
            self.csv.trace(now, &subject, "distribution:exhausted", "DESTROYED", (0.0, 0), &why)?;
            return self.give_up(now, &p);
        }
        if !down.is_empty() {
            let why = format!("{reason}; {} down: retried with new material when it returns", down.join(","));
            self.engine.fail_distribution_without_retry(key, &why)?;
            self.csv.trace(now, &subject, "distribution:failed", "DESTROYED", (0.0, 0), &why)?;
            p.delayed_by_crash = true;
            self.parked.insert(key, p);
            return Ok(());
        }
        self.csv.trace(now, &subject, "distribution:failed", "DESTROYED", (0.0, 0), &reason)?;
        let backoff = self.scenario.rotation.retry_backoff_s * f64::from(1u32 << (p.attempt - 1).min(30));
        let send_at = now + SimDuration::from_secs_f64(backoff);
        self.retry(now, send_at, key, p, Some(&reason))
    }

    /// A node came back: every waiting rotation whose participants are all up is retried with
    /// new material (dropped if its channel moved on meanwhile, e.g. re-keyed after a
    /// compromise, or its old key is no longer ACTIVE).
    pub(super) fn retry_parked(&mut self, now: SimTime) -> Result<()> {
        let ready: Vec<KeyId> = self
            .parked
            .iter()
            .filter(|(_, p)| p.nodes.iter().all(|&n| self.nodes.down_until[n].is_none()))
            .map(|(&k, _)| k)
            .collect();
        for failed in ready {
            let p = self.parked.remove(&failed).expect("listed");
            if p.nodes.iter().any(|n| self.nodes.isolated.contains(n)) {
                continue;
            }
            if let Some(ch) = p.channel {
                if self.channels[&ch].pending != Some(failed) {
                    continue;
                }
                let old = self.engine.key(failed)?.replaces;
                if let Some(old) = old
                    && self.engine.key(old)?.state != KeyState::Active
                {
                    self.channels.get_mut(&ch).expect("channel").pending = None;
                    continue;
                }
            }
            self.retry(now, now, failed, p, None)?;
        }
        Ok(())
    }

    /// The next attempt of `p` after the failure of `failed`: new material, the retry
    /// GENERATED and DISTRIBUTED (with `fail_reason`, in the transaction that destroys
    /// `failed`; without, `failed` was destroyed earlier), its messages sent at `send_at`.
    fn retry(
        &mut self,
        now: SimTime,
        send_at: SimTime,
        failed: KeyId,
        mut p: Pending,
        fail_reason: Option<&str>,
    ) -> Result<()> {
        let material = match p.channel {
            Some(ch) => match self.material(ch)? {
                Some(m) => Some(m),
                None => {
                    // Neither QKD key nor the fallback: no new material to retry with.
                    let why = "no new material (QKD buffer empty, fallback not allowed); the old key stays ACTIVE";
                    if let Some(reason) = fail_reason {
                        self.engine.fail_distribution_without_retry(failed, &format!("{reason}; {why}"))?;
                    }
                    let subject = self.subject(&p, failed)?;
                    self.csv.trace(now, &subject, "distribution:exhausted", "DESTROYED", (0.0, 0), why)?;
                    return self.give_up(now, &p);
                }
            },
            None => None,
        };
        let (bytes, origin) = match material {
            Some((m, origin)) => (Some(m), origin),
            None => (None, String::new()),
        };
        let material = bytes.map(|m| (m, origin.as_str()));
        let retry = match fail_reason {
            Some(reason) => self.engine.fail_distribution_and_retry(failed, reason, material, &mut self.crypto_rng)?,
            None => self.engine.retry_failed_distribution(failed, material, &mut self.crypto_rng)?,
        };
        self.stats.retries[p.kind.index()] += 1;
        p.attempt += 1;
        let subject = self.subject(&p, retry)?;
        let detail = format!("attempt {} replaces failed {failed}", p.attempt);
        self.csv.trace(now, &subject, "distribution:retry", "DISTRIBUTED", (0.0, 0), &detail)?;
        if let Some(ch) = p.channel {
            self.channels.get_mut(&ch).expect("channel").pending = Some(retry);
        }
        self.send_attempt(send_at, retry, p)
    }

    /// A rotation that will not converge: counted, its channel free for the next refresh (or
    /// a queued triggered rotation, started now); the old key stays ACTIVE.
    fn give_up(&mut self, now: SimTime, p: &Pending) -> Result<()> {
        self.stats.exhausted[p.kind.index()] += 1;
        let Some(ch) = p.channel else { return Ok(()) };
        let state = self.channels.get_mut(&ch).expect("channel");
        state.pending = None;
        if let Some(trigger) = state.queued_trigger.take() {
            self.refresh(now, ch, super::events::RotationKind::Triggered, Some(trigger))?;
        }
        Ok(())
    }

    /// What a trace row about `p` names: its channel, else the key's channel in the store.
    fn subject(&self, p: &Pending, key: KeyId) -> Result<String> {
        Ok(match p.channel {
            Some(ch) => self.channels[&ch].name.clone(),
            None => self.engine.key(key)?.channel,
        })
    }
}
