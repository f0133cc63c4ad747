//! Monte-Carlo study of any reconciler on a binary symmetric channel: efficiency, frame error
//! rate, round trips, messages and throughput over many independent frames, one row per
//! reconciler × QBER (the shape of Martinez-Mateo et al. 2015 for Cascade and of Elkouss et
//! al. 2010, arXiv:1006.2660, Fig. 3, for rate-adaptive LDPC).
//!
//! Each [`Reconciliation`] has one code path ([`simulate_frame`]'s match), so a new reconciler
//! is one match arm. The leak is counted as the pipeline counts it (Cascade: every parity Alice
//! answers; LDPC: syndrome and revealed bits less the punctured positions). A frame whose keys
//! still differ after reconciliation — the frames the verification hash rejects — counts in the
//! frame error rate and is left out of the efficiency mean. Every field but the throughput (a
//! timing) depends on the seed only, not on the number of threads.
//!
//! Throughput is sifted bits per CPU second of one core: each frame runs on a worker thread
//! of its own with a one-thread rayon pool installed, so the decoders' own parallel loops run
//! on that thread only (no nested parallelism), and its reconciliation is timed with that
//! thread's CPU clock ([`cpu_clock::thread_cpu_seconds`]), which neither the other frames nor
//! other processes on the machine advance.

mod cpu_clock;

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;

pub use cpu_clock::thread_cpu_seconds;

use super::cascade::{CascadeConfig, binary_symmetric_pair, reconcile_pair};
use super::ldpc::{AliceFrames, DELTA};
use super::pipeline::Reconciliation;
use super::{PostprocessError, binary_entropy};
use crate::rng::derive_rng;

/// Random stream of the LDPC frames (the Cascade variants use their own index, 0–5, as before).
const LDPC_STREAM: u64 = 0x1d9c;
/// The random stream of the blind LDPC frames.
const LDPC_BLIND_STREAM: u64 = 0x1d9d;

/// One row of a study: a reconciler at one QBER.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudyRow {
    /// Short name: the Cascade variant's (`option7`, …) or `ldpc`.
    pub variant: &'static str,
    /// Name as `--reconciler` spells it: `cascade-option7`, …, `ldpc`.
    pub reconciler: String,
    /// Channel QBER (also the estimate the reconciler is tuned with).
    pub qber: f64,
    /// Sifted key bits per frame.
    pub block_size: usize,
    /// Frames simulated.
    pub runs: usize,
    /// Mean of `f = leak_EC / (n·h(QBER))` over the frames that were reconciled (NaN when none).
    pub efficiency_mean: f64,
    /// Sample standard deviation of `f` over the same frames.
    pub efficiency_std: f64,
    /// Mean round trips per frame (the name of earlier versions; equal to `round_trips`).
    pub channel_uses_mean: f64,
    /// Fraction of frames whose keys still differ (rejected by verification).
    pub frame_error_rate: f64,
    /// Mean round trips per frame (Cascade: request and parities; LDPC: 1 + reveal rounds).
    pub round_trips: f64,
    /// Mean messages per frame on the public channel, both directions.
    pub messages: f64,
    /// Sifted bits reconciled per CPU second of one core: bits of all frames over the summed
    /// CPU time (user + system, `CLOCK_THREAD_CPUTIME_ID`) of the one thread that reconciled
    /// each frame, both sides, with no nested parallelism; the channel simulation and the LDPC
    /// plan and code construction are not timed. A timing, not seeded.
    pub throughput_bits_per_s: f64,
}

/// One simulated frame.
#[derive(Debug, Clone, Copy)]
pub struct FrameResult {
    /// Efficiency of this frame against the channel QBER.
    pub efficiency: f64,
    /// Bits the reconciler disclosed (the pipeline's `leak_ec_bits`).
    pub leaked_bits: u64,
    /// Round trips.
    pub round_trips: u64,
    /// Messages, both directions.
    pub messages: u64,
    /// Whether the keys still differ.
    pub frame_error: bool,
    /// CPU time of this frame's reconciliation on the thread that ran it (s).
    pub seconds: f64,
}

/// The LDPC settings for a study frame of `n` key bits: one mother-code frame holding all of
/// them (length `⌈n / (1 − δ)⌉`, at least 100 bits).
pub fn ldpc_frame_length(n: usize) -> usize {
    ((n as f64 / (1.0 - DELTA)).ceil() as usize + 1).max(100)
}

/// Simulates frame `run` of `reconciler` at `qber` (QBER list index `qber_index`) on `n` bits:
/// Alice's key uniform, Bob's through a binary symmetric channel, both seeded from
/// `(seed, reconciler's stream, qber_index, run)`. `biconf` overrides a Cascade variant's
/// BICONF rounds (ignored by LDPC).
pub fn simulate_frame(
    reconciler: &Reconciliation,
    qber: f64,
    n: usize,
    seed: u64,
    qber_index: usize,
    run: usize,
    biconf: Option<u32>,
) -> Result<FrameResult, PostprocessError> {
    let shannon = n as f64 * binary_entropy(qber);
    match reconciler {
        Reconciliation::Cascade(variant) => {
            let mut config = CascadeConfig::new(*variant, qber, n)?;
            if let Some(rounds) = biconf {
                config.biconf_clean_rounds = rounds;
            }
            let mut rng = derive_rng(seed, &[*variant as u64, qber_index as u64, run as u64]);
            let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
            let public_seed = rng.next_u64();
            let started = thread_cpu_seconds();
            let outcome = reconcile_pair(&alice, &mut bob, &config, public_seed)?;
            let seconds = thread_cpu_seconds() - started;
            Ok(FrameResult {
                efficiency: outcome.efficiency(n, qber),
                leaked_bits: outcome.leaked_bits,
                round_trips: outcome.channel_uses,
                // Each round trip: Bob's requests, Alice's parities.
                messages: 2 * outcome.channel_uses,
                frame_error: alice != bob,
                seconds,
            })
        }
        Reconciliation::Ldpc(ldpc) => {
            let ldpc = super::ldpc::LdpcReconciler { frame_length: ldpc_frame_length(n), ..*ldpc };
            ldpc_frame(
                n,
                qber,
                shannon,
                derive_rng(seed, &[LDPC_STREAM, qber_index as u64, run as u64]),
                |q| ldpc.plan(n, q),
                |plan, channel, bob| ldpc.bob_reconcile(plan, channel, bob),
            )
        }
        Reconciliation::LdpcBlind(blind) => {
            let ldpc = super::ldpc::LdpcReconciler { frame_length: ldpc_frame_length(n), ..blind.ldpc };
            let blind = super::ldpc::BlindReconciler { ldpc, ..*blind };
            let rng = derive_rng(seed, &[LDPC_BLIND_STREAM, qber_index as u64, run as u64]);
            ldpc_frame(
                n,
                qber,
                shannon,
                rng,
                |q| blind.plan(n, q),
                |plan, channel, bob| blind.bob_reconcile(plan, channel, bob),
            )
        }
    }
}

/// One LDPC frame (rate-adaptive or blind) of `n` bits at `qber`: the plan from `plan` (the
/// mother code is built once per process and cached: not timed), Bob's side timed.
fn ldpc_frame(
    n: usize,
    qber: f64,
    shannon: f64,
    mut rng: crate::rng::SimRng,
    plan: impl Fn(f64) -> Result<super::ldpc::Plan, PostprocessError>,
    bob_reconcile: impl Fn(
        &super::ldpc::Plan,
        &mut AliceFrames,
        &mut crate::postprocess::BitString,
    ) -> super::ldpc::LdpcOutcome,
) -> Result<FrameResult, PostprocessError> {
    let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
    let alice_seed = rng.next_u64();
    let plan = plan(qber)?;
    let started = thread_cpu_seconds();
    let mut channel = AliceFrames::new(&plan, &alice, alice_seed);
    let outcome = bob_reconcile(&plan, &mut channel, &mut bob);
    let seconds = thread_cpu_seconds() - started;
    // As the pipeline counts it: every bit that crossed, less the punctured positions.
    let leak = channel.bits_sent() - outcome.punctured_bits;
    Ok(FrameResult {
        efficiency: leak as f64 / shannon,
        leaked_bits: leak,
        round_trips: 1 + u64::from(outcome.rounds),
        messages: outcome.messages,
        frame_error: alice != bob,
        seconds,
    })
}

/// `frame(0..runs)` in order, computed on `min(runs, rayon::current_num_threads())` worker
/// threads that take the next index as they finish, each with a one-thread rayon pool
/// installed so that a frame's own parallel loops stay on its thread (its CPU clock then
/// counts all of the frame's work, and nothing else).
fn on_solo_threads<T: Send>(
    runs: usize,
    frame: impl Fn(usize) -> Result<T, PostprocessError> + Sync,
) -> Result<Vec<T>, PostprocessError> {
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().clamp(1, runs.max(1));
    let worker = || -> Result<Vec<(usize, T)>, PostprocessError> {
        let solo = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "qecnet-study-frame".into())
            .build()
            .map_err(|e| PostprocessError::Thread(e.to_string()))?;
        solo.install(|| {
            let mut done = Vec::new();
            loop {
                let run = next.fetch_add(1, Ordering::Relaxed);
                if run >= runs {
                    return Ok(done);
                }
                done.push((run, frame(run)?));
            }
        })
    };
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
        let mut all = Vec::with_capacity(runs);
        for handle in handles {
            match handle.join() {
                Ok(done) => all.extend(done?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok::<_, PostprocessError>(all)
    })?;
    results.sort_by_key(|(run, _)| *run);
    Ok(results.into_iter().map(|(_, t)| t).collect())
}

/// `runs` frames of `reconciler` at `qber`, in parallel on as many worker threads as the
/// current rayon pool has (every field but the throughput is independent of their number),
/// summarised as one [`StudyRow`].
pub fn study(
    reconciler: &Reconciliation,
    qber: f64,
    qber_index: usize,
    n: usize,
    runs: usize,
    seed: u64,
    biconf: Option<u32>,
) -> Result<StudyRow, PostprocessError> {
    if runs == 0 {
        return Err(PostprocessError::Size { name: "runs", value: 0, allowed: "must be >= 1".into() });
    }
    if !(qber > 0.0 && qber < 0.5) {
        return Err(PostprocessError::Qber(qber));
    }
    let frames = on_solo_threads(runs, |run| simulate_frame(reconciler, qber, n, seed, qber_index, run, biconf))?;
    let count = frames.len() as f64;
    let good: Vec<f64> = frames.iter().filter(|f| !f.frame_error).map(|f| f.efficiency).collect();
    let mean = good.iter().sum::<f64>() / good.len() as f64;
    let var = if good.len() > 1 {
        good.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (good.len() as f64 - 1.0)
    } else {
        0.0
    };
    let round_trips = frames.iter().map(|f| f.round_trips as f64).sum::<f64>() / count;
    let seconds: f64 = frames.iter().map(|f| f.seconds).sum();
    Ok(StudyRow {
        variant: reconciler.name(),
        reconciler: reconciler.label(),
        qber,
        block_size: n,
        runs,
        efficiency_mean: mean,
        efficiency_std: var.sqrt(),
        channel_uses_mean: round_trips,
        frame_error_rate: frames.iter().filter(|f| f.frame_error).count() as f64 / count,
        round_trips,
        messages: frames.iter().map(|f| f.messages as f64).sum::<f64>() / count,
        throughput_bits_per_s: (n as f64 * count) / seconds.max(f64::MIN_POSITIVE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn each_frame_runs_alone_on_a_one_thread_pool_and_the_results_keep_their_order() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let seen = pool
            .install(|| {
                on_solo_threads(17, |run| {
                    // The frame's own parallel loops see one thread: its own.
                    let inner: Vec<String> = (0..8)
                        .into_par_iter()
                        .map(|_| std::thread::current().name().unwrap_or_default().to_owned())
                        .collect();
                    Ok((run, rayon::current_num_threads(), inner))
                })
            })
            .unwrap();
        assert_eq!(seen.len(), 17);
        for (i, (run, threads, inner)) in seen.iter().enumerate() {
            assert_eq!((*run, *threads), (i, 1));
            assert!(inner.iter().all(|name| name == "qecnet-study-frame"), "{inner:?}");
        }
    }

    #[test]
    fn a_failing_frame_fails_the_study() {
        let out = on_solo_threads(5, |run| if run == 3 { Err(PostprocessError::Qber(0.7)) } else { Ok(run) });
        assert_eq!(out, Err(PostprocessError::Qber(0.7)));
    }
}
