//! LDPC reconciliation at the channel: every bit Alice sends (syndromes, revealed punctured
//! values) is counted, independently of the reconciler, and equals the leak it reports plus the
//! punctured positions it subtracts, which share no check (so their columns of H are
//! independent and the subtraction is exact: see `postprocess::ldpc`).

use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::binary_symmetric_pair;
use qecnet::postprocess::ldpc::{AliceFrames, LdpcChannel, LdpcReconciler, Plan};
use qecnet::rng::derive_rng;

/// Alice's side wrapped: counts every bit and message that crosses, and checks that only
/// punctured positions are ever revealed.
struct CountingChannel<'a> {
    inner: AliceFrames,
    plan: &'a Plan,
    bits: u64,
    messages: u64,
}

impl LdpcChannel for CountingChannel<'_> {
    fn syndromes(&mut self) -> Vec<BitString> {
        let out = self.inner.syndromes();
        self.messages += 1;
        self.bits += out.iter().map(|s| s.len() as u64).sum::<u64>();
        out
    }

    fn reveal(&mut self, requests: &[(usize, Vec<u32>)]) -> Vec<Vec<bool>> {
        for (f, at) in requests {
            let punctured = self.plan.punctured_positions(*f);
            assert!(at.iter().all(|v| punctured.contains(v)), "frame {f}: a non-punctured position revealed");
        }
        let out = self.inner.reveal(requests);
        // Bob's request and Alice's answer.
        self.messages += 2;
        self.bits += out.iter().map(|a| a.len() as u64).sum::<u64>();
        out
    }
}

#[test]
fn every_bit_sent_is_counted_in_the_leak() {
    let reconciler = LdpcReconciler { frame_length: 10_000, efficiency: 1.2, ..LdpcReconciler::default() };
    // A good estimate (no reveal round expected) and a low one (reveal rounds).
    for (i, (qber, estimate)) in [(0.02, 0.02), (0.04, 0.03)].into_iter().enumerate() {
        let mut rng = derive_rng(41, &[i as u64]);
        let (alice, mut bob) = binary_symmetric_pair(25_000, qber, &mut rng);
        let plan = reconciler.plan(alice.len(), estimate).unwrap();
        let mut channel =
            CountingChannel { inner: AliceFrames::new(&plan, &alice, 9), plan: &plan, bits: 0, messages: 0 };
        let out = reconciler.bob_reconcile(&plan, &mut channel, &mut bob);
        let punctured: u64 = plan.frames.iter().map(|f| f.punctured as u64).sum();
        assert_eq!(out.leaked_bits + punctured, channel.bits, "Q {qber}: leak");
        assert_eq!(out.messages, channel.messages, "Q {qber}: messages");
        assert_eq!(out.leaked_bits, out.syndrome_bits - out.punctured_bits + out.revealed_bits);
        assert_eq!(channel.inner.bits_sent(), channel.bits, "Alice's own count");
        // The subtraction is exact: no two punctured positions of a frame share a check.
        let code = &plan.mother.code;
        for f in 0..plan.frames.len() {
            let mut punctured = vec![false; code.len()];
            plan.punctured_positions(f).iter().for_each(|&v| punctured[v as usize] = true);
            for c in 0..code.checks() {
                let on = code.check(c).iter().filter(|&&v| punctured[v as usize]).count();
                assert!(on <= 1, "frame {f}: check {c} has {on} punctured positions");
            }
        }
        if i == 1 {
            assert!(out.rounds >= 1, "the low estimate needed no reveal round: {out:?}");
        }
        assert_eq!(bob, alice, "Q {qber}: not reconciled: {out:?}");
    }
}
