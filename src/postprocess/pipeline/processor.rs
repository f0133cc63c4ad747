//! The block processor: steps 1–6 of the [pipeline](super) on one closed block, from the
//! QBER sample to the final keys.

use std::time::{Duration, Instant};

use rand::{Rng, RngExt};

use super::block::SiftedBlock;
use super::cascade_frames::reconcile_in_frames;
use super::config::{PipelineConfig, Reconciliation};
use super::report::{AbortReason, BlockCounts, BlockReport};
use crate::photonics::LinkConfig;
use crate::postprocess::bits::BitString;
use crate::postprocess::entropy::binary_entropy;
use crate::postprocess::estimation::{Lim2014, vacuum_weak_bounds};
use crate::postprocess::ldpc::AliceFrames;
use crate::postprocess::privacy::ToeplitzHash;
use crate::postprocess::verify::VerificationHash;
use crate::postprocess::{PostprocessError, PostprocessSettings, Security};
use crate::rng::derive_rng;
use crate::units::InvalidParameter;

/// First element of every random-stream path of the pipeline ("PIPE"), apart from the
/// simulation's chunk streams.
const RNG_DOMAIN: u64 = 0x5049_5045;

/// Final keys of a block, handed to a key sink: Alice's and Bob's (equal).
pub type KeySink<'s> = Box<dyn FnMut(&BlockReport, &BitString, &BitString) + 's>;

/// Processes closed blocks (steps 1–6 of the module docs).
#[derive(Debug, Clone)]
pub struct BlockProcessor {
    config: PipelineConfig,
    link: LinkConfig,
}

impl BlockProcessor {
    /// A processor for blocks of `link` with `config` (validated).
    pub fn new(config: PipelineConfig, link: &LinkConfig) -> Result<Self, InvalidParameter> {
        config.validate(link)?;
        Ok(BlockProcessor { config, link: link.clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Secret length (bits, floored, at least 0) of a block with `counts` when `disclosed`
    /// bits about its key are public (step 2 and 5 of the module docs).
    pub fn bound(&self, counts: &BlockCounts, disclosed: f64) -> f64 {
        self.bound_and_epsilon_sec(counts, disclosed).0
    }

    /// [`bound`](Self::bound) and the ε_sec it holds at: the fixed `epsilon_sec`, or κ·ℓ when
    /// `epsilon_sec_per_bit` = κ (finite security).
    fn bound_and_epsilon_sec(&self, counts: &BlockCounts, disclosed: f64) -> (f64, f64) {
        let s = &self.config.settings;
        let src = &self.link.source;
        match s.security {
            Security::Finite => {
                let lim = Lim2014 {
                    intensities: [src.signal_intensity, src.decoy_intensity, src.vacuum_intensity],
                    probabilities: [src.signal_probability, src.decoy_probability, src.vacuum_probability],
                    epsilon_sec: s.epsilon_sec,
                };
                s.lim_key_length(&lim, &counts.key, &counts.test, disclosed)
            }
            Security::Asymptotic => {
                // Pulses per class in the range: N·p_k. The event engine never materialises
                // the class of a silent pulse; the relative error ~1/sqrt(N p_k) of this is far
                // below that of the detection counts.
                let p = [src.signal_probability, src.decoy_probability, src.vacuum_probability];
                let gain =
                    |k: usize| counts.detections[k] as f64 / (counts.pulses as f64 * p[k]).max(f64::MIN_POSITIVE);
                let decoy_sifted = counts.key.detections[1] + counts.test.detections[1];
                let decoy_errors = counts.key.errors[1] + counts.test.errors[1];
                let e_nu = if decoy_sifted > 0.0 { decoy_errors / decoy_sifted } else { 0.5 };
                let (mu, q_mu) = (src.signal_intensity, gain(0));
                if q_mu <= 0.0 {
                    return (0.0, s.epsilon_sec);
                }
                let b = vacuum_weak_bounds(mu, src.decoy_intensity, q_mu, gain(1), e_nu, gain(2));
                let single_fraction = (b.yield_lower * mu * (-mu).exp() / q_mu).min(1.0);
                let n = counts.key_bits as f64;
                let length = (n * single_fraction * (1.0 - binary_entropy(b.error_upper)) - disclosed).floor();
                (length.max(0.0), s.epsilon_sec)
            }
        }
    }

    /// Runs the steps of the module docs on block `index`; `sink` receives the final keys.
    pub(super) fn process(
        &self,
        index: u64,
        block: SiftedBlock,
        sink: Option<&mut KeySink<'_>>,
    ) -> Result<BlockReport, PostprocessError> {
        let started = Instant::now();
        let s = &self.config.settings;
        let n = block.len();
        let k = self.config.sample.size(n).min(n);
        let mut report = blank_report(index, &block, s, k as u64, AbortReason::None);
        let finish = |mut report: BlockReport, reason: AbortReason| {
            report.abort_reason = reason;
            report.elapsed = started.elapsed();
            Ok(report)
        };

        // 1. Sample k positions uniformly (selection sampling, Knuth TAOCP vol. 2 §3.4.2
        //    Algorithm S: position i is taken with probability (k − chosen)/(n − i), drawn
        //    without modulo bias), disclose and discard them.
        let m = n - k;
        let mut alice = BitString::zeros(m);
        let mut bob = BitString::zeros(m);
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 0]);
        let (mut sample_errors, mut chosen, mut kept) = (0u64, 0usize, 0usize);
        for (i, &byte) in block.packed.iter().enumerate() {
            let (a, b) = (byte & 1 == 1, byte & 2 == 2);
            if rng.random_range(0..(n - i) as u64) < (k - chosen) as u64 {
                chosen += 1;
                sample_errors += u64::from(a != b);
            } else {
                alice.set(kept, a);
                bob.set(kept, b);
                kept += 1;
            }
        }
        debug_assert_eq!((chosen, kept), (k, m));
        drop(block);
        report.qber_estimated = if k == 0 { 0.0 } else { sample_errors as f64 / k as f64 };
        if report.qber_estimated >= 0.5 {
            return finish(report, AbortReason::QberTooHigh);
        }

        // 2. The bound with only the sample disclosed.
        if m == 0 || self.bound(&report.counts, k as f64) < 1.0 {
            return finish(report, AbortReason::NoKey);
        }

        // 3. Reconciliation, tuned with the estimate (at least 1/k when the sample shows no error).
        let frame_errors = alice.hamming_distance(&bob);
        let tune = report.qber_estimated.max(1.0 / k.max(1) as f64);
        // f = leak_EC / (m·h(e)) at the block's true error rate e (none for an error-free block).
        let efficiency = |leak: u64| {
            (frame_errors > 0).then(|| leak as f64 / (m as f64 * binary_entropy(frame_errors as f64 / m as f64)))
        };
        let leak = match &self.config.reconciler {
            Reconciliation::Cascade(variant) => {
                // In frames of at most about `cascade_frame_bits` (one frame up to that length).
                let frame_bits = s.cascade_frame_bits as usize;
                let outcome = reconcile_in_frames(&alice, &mut bob, *variant, tune, frame_bits, rng.next_u64())?;
                report.reconciler_reported_bits = outcome.reported_bits;
                report.channel_uses = outcome.channel_uses;
                report.reconciliation_efficiency = efficiency(outcome.parity_bits_sent);
                outcome.parity_bits_sent
            }
            Reconciliation::Ldpc(ldpc) => {
                // The code rate is chosen from the estimate; frames that fail ask for reveal rounds.
                let plan = ldpc.plan(m, tune.min(0.49))?;
                let mut channel = AliceFrames::new(&plan, &alice, rng.next_u64());
                let outcome = ldpc.bob_reconcile(&plan, &mut channel, &mut bob);
                report.reconciler_reported_bits = outcome.leaked_bits;
                // Round trips: the syndrome message, then one per reveal round.
                report.channel_uses = 1 + u64::from(outcome.rounds);
                // Counted as it crosses: every syndrome bit and revealed value, less the
                // punctured positions (uniform bits of Alice's, independent of the key: see
                // ldpc::reconcile).
                let leak = channel.bits_sent() - outcome.punctured_bits;
                report.reconciliation_efficiency = efficiency(leak);
                leak
            }
            Reconciliation::LdpcBlind(blind) => {
                // The estimate picks only the mother code; every frame starts fully punctured.
                let plan = blind.plan(m, tune.min(0.49))?;
                let mut channel = AliceFrames::new(&plan, &alice, rng.next_u64());
                let outcome = blind.bob_reconcile(&plan, &mut channel, &mut bob);
                report.reconciler_reported_bits = outcome.leaked_bits;
                report.channel_uses = 1 + u64::from(outcome.rounds);
                // Counted as it crosses, as for rate-adaptive LDPC above.
                let leak = channel.bits_sent() - outcome.punctured_bits;
                report.reconciliation_efficiency = efficiency(leak);
                leak
            }
        };
        report.leak_ec_bits = leak;
        report.residual_errors = alice.hamming_distance(&bob) as u64;

        self.finalise(report, &alice, &bob, sink, started)
    }

    /// Steps 4–6 on the reconciled keys of a block whose report holds the sample and the leak.
    fn finalise(
        &self,
        mut report: BlockReport,
        alice: &BitString,
        bob: &BitString,
        sink: Option<&mut KeySink<'_>>,
        started: Instant,
    ) -> Result<BlockReport, PostprocessError> {
        let finish = |mut report: BlockReport, reason: AbortReason| {
            report.abort_reason = reason;
            report.elapsed = started.elapsed();
            Ok(report)
        };
        let (index, m) = (report.index, alice.len());

        // 4. Verification.
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 1]);
        let hash = VerificationHash::new(m, self.config.settings.epsilon_cor, &mut rng)?;
        let tags = hash.tags(alice)?;
        let verdict = hash.check(&tags, bob)?;
        report.verification_bits = verdict.disclosed_bits;
        if !verdict.matched {
            return finish(report, AbortReason::Verification);
        }

        // 5. Privacy amplification to the bound with everything disclosed subtracted.
        let disclosed = (report.sample_bits + report.leak_ec_bits + report.verification_bits) as f64;
        let (length, epsilon_sec) = self.bound_and_epsilon_sec(&report.counts, disclosed);
        let length = length.min(m as f64);
        if length < 1.0 {
            return finish(report, AbortReason::NoKey);
        }
        report.eps_sec = epsilon_sec;
        let length = length as usize;
        let mut rng = derive_rng(self.config.seed, &[RNG_DOMAIN, index, 2]);
        let toeplitz = ToeplitzHash::random(m, length, &mut rng)?;
        let final_alice = toeplitz.hash(alice)?;
        // Bob's hash is the same function of his key: when his reconciled key is Alice's bit
        // for bit, his final key is hers, and computing it again would double the step's cost.
        let final_bob = if alice == bob { final_alice.clone() } else { toeplitz.hash(bob)? };

        // 6. The final keys must agree.
        if final_alice != final_bob {
            return finish(report, AbortReason::FinalMismatch);
        }
        report.final_bits = length as u64;
        let mut report = finish(report, AbortReason::None)?;
        if let Some(sink) = sink {
            sink(&report, &final_alice, &final_bob);
            report.elapsed = started.elapsed();
        }
        Ok(report)
    }
}

/// The report of block `index` before any step ran: counts and true QBER filled in, every
/// disclosure and the final length still zero, `sample_bits` and `reason` as given.
pub(super) fn blank_report(
    index: u64,
    block: &SiftedBlock,
    s: &PostprocessSettings,
    sample_bits: u64,
    reason: AbortReason,
) -> BlockReport {
    let n = block.len();
    BlockReport {
        index,
        first_pulse: block.first_pulse,
        pulses: block.pulses,
        n_sifted: n as u64,
        sample_bits,
        qber_estimated: 0.0,
        qber_true: if n == 0 { 0.0 } else { block.errors as f64 / n as f64 },
        leak_ec_bits: 0,
        reconciler_reported_bits: 0,
        verification_bits: 0,
        reconciliation_efficiency: None,
        channel_uses: 0,
        residual_errors: 0,
        eps_sec: s.epsilon_sec,
        eps_cor: s.epsilon_cor,
        final_bits: 0,
        abort_reason: reason,
        counts: block.counts(),
        elapsed: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postprocess::pipeline::test_support::{link, settings};

    /// A block of `m` key bits whose counts give a large bound (every detection
    /// single-photon-like), before steps 4–6.
    fn block_with_a_large_bound(m: usize) -> BlockReport {
        let mut counts = BlockCounts { pulses: 10 * m as u64, key_bits: m as u64, ..BlockCounts::default() };
        for (k, share) in [0.7, 0.2, 0.1].into_iter().enumerate() {
            counts.key.detections[k] = share * 10.0 * m as f64;
            counts.test.detections[k] = share * 10.0 * m as f64;
            counts.test.errors[k] = 0.01 * counts.test.detections[k];
        }
        BlockReport {
            index: 0,
            first_pulse: 0,
            pulses: counts.pulses,
            n_sifted: m as u64,
            sample_bits: 0,
            qber_estimated: 0.0,
            qber_true: 0.0,
            leak_ec_bits: 0,
            reconciler_reported_bits: 0,
            verification_bits: 0,
            reconciliation_efficiency: None,
            channel_uses: 0,
            residual_errors: 0,
            eps_sec: 1e-10,
            eps_cor: 1e-15,
            final_bits: 0,
            abort_reason: AbortReason::None,
            counts,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn keys_that_still_differ_abort_at_verification() {
        // Steps 4–6 on keys that differ in one bit (as Cascade may leave them): the block
        // aborts at verification, gives no key, and nothing reaches the sink; equal keys give
        // the bound's length.
        let l = link(10.0, 1);
        let m = 100_000;
        let processor = BlockProcessor::new(PipelineConfig::new(settings(m as u64, Security::Finite), 4), &l).unwrap();
        let report = block_with_a_large_bound(m);
        let counts = report.counts;
        let alice = BitString::random(m, &mut derive_rng(4, &[1]));
        let mut bob = alice.clone();
        bob.flip(12_345);
        let mut reached = 0;
        let mut sink: KeySink<'_> = Box::new(|_, _, _| reached += 1);
        let out = processor.finalise(report.clone(), &alice, &bob, Some(&mut sink), Instant::now()).unwrap();
        assert_eq!((out.abort_reason, out.final_bits, out.verification_bits), (AbortReason::Verification, 0, 64));
        let out = processor.finalise(report, &alice, &alice, Some(&mut sink), Instant::now()).unwrap();
        drop(sink);
        assert_eq!(out.abort_reason, AbortReason::None);
        assert_eq!(out.final_bits as f64, processor.bound(&counts, 64.0).min(m as f64));
        assert_eq!(reached, 1);
    }

    #[test]
    fn a_block_reports_the_secrecy_its_key_was_cut_for() {
        // With ε_sec = κ·ℓ (Lim et al. 2014) the block record carries κ·ℓ, not the fixed ε_sec.
        let l = link(10.0, 1);
        let m = 100_000;
        let kappa = 1e-15;
        let mut s = settings(m as u64, Security::Finite);
        s.epsilon_sec_per_bit = Some(kappa);
        let processor = BlockProcessor::new(PipelineConfig::new(s, 4), &l).unwrap();
        let report = block_with_a_large_bound(m);
        let counts = report.counts;
        let alice = BitString::random(m, &mut derive_rng(4, &[1]));
        let out = processor.finalise(report, &alice, &alice, None, Instant::now()).unwrap();
        assert_eq!(out.abort_reason, AbortReason::None);
        let (length, epsilon_sec) = processor.bound_and_epsilon_sec(&counts, 64.0);
        assert!(length >= 1.0);
        assert_eq!(out.eps_sec, epsilon_sec);
        // The fixed point of ε_sec = κ·ℓ(ε_sec) is sought from ε_sec = κ·n_X down, so it is
        // at most κ·n_X, and it is not the fixed ε_sec of the settings.
        assert!(epsilon_sec > 0.0 && epsilon_sec <= kappa * counts.key.total_detections(), "{epsilon_sec}");
        assert_ne!(out.eps_sec, 1e-10);
    }
}
