//! Toeplitz privacy amplification: both fast paths (Karatsuba and additive FFT) equal the
//! O(n·m) definition bit for bit on random sizes and each other on large blocks, on any number
//! of threads; the whole chain (Cascade, verification, amplification) leaves Alice and Bob
//! with identical final keys, while verification catches a single wrong bit.

use proptest::prelude::*;
use qecnet::postprocess::BitString;
use qecnet::postprocess::cascade::{CascadeConfig, CascadeVariant, binary_symmetric_pair, reconcile_pair};
use qecnet::postprocess::{ToeplitzHash, toeplitz_hash_reference};
use qecnet::postprocess::{VerificationHash, verify_keys};
use qecnet::rng::derive_rng;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fast_toeplitz_equals_reference(n in 1usize..2500, ratio in 0.0f64..1.0, seed in any::<u64>()) {
        let m = ((n as f64 * ratio) as usize).clamp(1, n);
        let mut rng = derive_rng(seed, &[n as u64, m as u64]);
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
        let fast = hash.hash(&key).unwrap();
        let reference = toeplitz_hash_reference(&key, hash.seed(), m);
        prop_assert_eq!(&hash.hash_karatsuba(&key), &reference);
        prop_assert_eq!(&hash.hash_fft(&key), &reference);
        prop_assert_eq!(fast, reference);
    }

    #[test]
    fn fft_toeplitz_equals_reference_with_m_close_to_n(n in 1usize..3000, gap in 0usize..40, seed in any::<u64>()) {
        let m = n.saturating_sub(gap).max(1);
        let mut rng = derive_rng(seed, &[n as u64, m as u64, 1]);
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
        prop_assert_eq!(hash.hash_fft(&key), toeplitz_hash_reference(&key, hash.seed(), m));
    }
}

#[test]
fn fft_and_karatsuba_agree_on_large_blocks() {
    // Sizes across the FFT's cache-blocked levels (2^12 words) and the automatic switch at
    // 2^20 output bits, odd lengths and m close to n; at (1_000_003, 500_001) the FFT cuts the
    // key into two parts (2.5n/32 pieces just above 2^16, 2n/32 below it).
    let mut rng = derive_rng(9, &[0]);
    for (n, m) in
        [(300_001, 299_999), (1_048_577, 1_048_576), (2_000_003, 1_100_001), (3_000_000, 17), (1_000_003, 500_001)]
    {
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
        let karatsuba = hash.hash_karatsuba(&key);
        assert_eq!(hash.hash_fft(&key), karatsuba, "n = {n}, m = {m}");
        assert_eq!(hash.hash(&key).unwrap(), karatsuba, "n = {n}, m = {m}");
    }
}

#[test]
fn fast_toeplitz_equals_reference_across_karatsuba_levels() {
    // Sizes whose word counts straddle the schoolbook/Karatsuba threshold (24 words), with odd
    // splits and several recursion levels.
    let mut rng = derive_rng(8, &[0]);
    for (n, m) in [(1536, 1536), (3200, 1600), (4097, 2049), (6000, 100), (10_000, 8_500)] {
        let key = BitString::random(n, &mut rng);
        let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
        assert_eq!(hash.hash(&key).unwrap(), hash.hash_reference(&key).unwrap(), "n = {n}, m = {m}");
    }
}

#[test]
fn reconciled_verified_amplified_keys_are_identical() {
    let n = 20_000;
    for (i, qber) in [0.01, 0.03, 0.06].into_iter().enumerate() {
        let mut rng = derive_rng(31, &[i as u64]);
        let (alice, mut bob) = binary_symmetric_pair(n, qber, &mut rng);
        let config = CascadeConfig::new(CascadeVariant::Option7, qber, n).unwrap();
        let outcome = reconcile_pair(&alice, &mut bob, &config, 5).unwrap();
        let check = verify_keys(&alice, &bob, 1e-12, &mut rng).unwrap();
        assert!(check.epsilon_cor <= 1e-12);
        // A mismatch would make the pipeline abort this block; with this seed it must not happen.
        assert!(check.matched, "verification failed at {qber}");
        let m = n - outcome.leaked_bits as usize - check.disclosed_bits as usize - 1000;
        let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
        assert_eq!(hash.hash(&alice).unwrap(), hash.hash(&bob).unwrap(), "final keys at {qber}");
    }
}

#[test]
fn verification_reports_a_single_flipped_bit() {
    let mut rng = derive_rng(32, &[0]);
    let (alice, mut bob) = binary_symmetric_pair(10_000, 0.02, &mut rng);
    let config = CascadeConfig::new(CascadeVariant::Original, 0.02, 10_000).unwrap();
    reconcile_pair(&alice, &mut bob, &config, 6).unwrap();
    assert_eq!(alice, bob);
    let hash = VerificationHash::new(alice.len(), 1e-15, &mut rng).unwrap();
    let tags = hash.tags(&alice).unwrap();
    assert!(hash.check(&tags, &bob).unwrap().matched);
    for i in [0, 1, 63, 64, 5_000, 9_999] {
        let mut wrong = bob.clone();
        wrong.flip(i);
        assert!(!hash.check(&tags, &wrong).unwrap().matched, "flip of bit {i} not reported");
    }
}

#[test]
fn toeplitz_independent_of_thread_count() {
    let mut rng = derive_rng(33, &[0]);
    let key = BitString::random(200_000, &mut rng);
    let hash = ToeplitzHash::random(200_000, 30_000, &mut rng).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| hash.hash(&key).unwrap())
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn fft_toeplitz_independent_of_thread_count() {
    // Large enough that the transforms split their passes across threads (2^14-word pieces).
    let mut rng = derive_rng(33, &[1]);
    let (n, m) = (4_000_001, 2_500_000);
    let key = BitString::random(n, &mut rng);
    let hash = ToeplitzHash::random(n, m, &mut rng).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| hash.hash_fft(&key))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(5));
}
