//! Lifecycle engine throughput: audited transitions into the on-disk store
//! (batch mode and one durable transaction each) and verification of a
//! 1,000,000-record audit chain.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qecnet::crypto::{KeyType, SecretBytes};
use qecnet::lifecycle::{Durability, Engine, EngineConfig, KeyId, ManualClock, VerifyOptions, verify};
use qecnet::units::{NANOS_PER_SECOND, SimDuration, SimTime};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const BATCH: u64 = 2_000;

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("qecnet-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn engine(path: &Path, durability: Durability, rng: &mut ChaCha20Rng) -> (Engine, ManualClock) {
    let master = SecretBytes::random(32, "master", rng).unwrap();
    let clock = ManualClock::new(SimTime::from_secs(1_000));
    let config = EngineConfig { durability, ..EngineConfig::default() };
    let e = Engine::create(path, &master, config, Box::new(clock.clone()), rng).unwrap();
    (e, clock)
}

fn generated(e: &mut Engine, rng: &mut ChaCha20Rng, n: u64) -> Vec<KeyId> {
    e.batch(|e| {
        (0..n).map(|i| e.generate(KeyType::MeshSession, &format!("c{}", i % 64), &["hub", "n1"], rng)).collect()
    })
    .unwrap()
}

fn transitions(c: &mut Criterion) {
    let dir = temp("tx");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (mut batch_engine, clock) = engine(&dir.join("batch.db"), Durability::Full, &mut rng);
    let mut g = c.benchmark_group("lifecycle_transitions");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("batch_mode_2000_distribute_per_commit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ids = generated(&mut batch_engine, &mut rng, BATCH);
                clock.advance(SimDuration::from_secs(1));
                let t = Instant::now();
                batch_engine
                    .batch(|e| {
                        for id in &ids {
                            e.distribute(*id)?;
                        }
                        Ok(())
                    })
                    .unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    drop(batch_engine);

    let (mut durable, clock) = engine(&dir.join("durable.db"), Durability::Full, &mut rng);
    const SINGLE: u64 = 200;
    g.throughput(Throughput::Elements(SINGLE));
    g.bench_function("durable_one_transaction_each_200_distribute", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ids = generated(&mut durable, &mut rng, SINGLE);
                clock.advance(SimDuration::from_secs(1));
                let t = Instant::now();
                for id in &ids {
                    durable.distribute(*id).unwrap();
                }
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
    drop(durable);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Build a store with at least 1,000,000 audit records (batch mode); returns its record count.
fn build_million(path: &Path) -> u64 {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (mut e, clock) = engine(path, Durability::Normal, &mut rng);
    let built = Instant::now();
    while e.audit_len() < 1_000_000 {
        clock.advance(SimDuration(NANOS_PER_SECOND / 100));
        e.batch(|e| {
            for i in 0..5_000u32 {
                let id = e.generate(KeyType::MeshSession, &format!("c{i}"), &["hub"], &mut rng)?;
                e.distribute(id)?;
                e.confirm_receipt(id, "hub")?;
                let p = e.receipt_proof(id)?;
                e.activate(p)?;
                e.revoke(id, "bench")?;
            }
            Ok(())
        })
        .unwrap();
    }
    let records = e.audit_len();
    eprintln!(
        "built a {records}-record store in {:.1} s ({:.0} audited records/s in batch mode)",
        built.elapsed().as_secs_f64(),
        records as f64 / built.elapsed().as_secs_f64()
    );
    records
}

fn verify_million(c: &mut Criterion) {
    let dir = temp("verify");
    let path = dir.join("million.db");
    let mut records = None;
    let mut g = c.benchmark_group("lifecycle_audit_verify");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    // The store holds 1,000,000 records plus the few of its bootstrap.
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("verify_1m_record_chain", |b| {
        // Built on first use only, so a filtered run skips the 20 s setup.
        let n = *records.get_or_insert_with(|| build_million(&path));
        b.iter(|| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let report = verify(&conn, &VerifyOptions::default()).unwrap().into_result().unwrap();
            assert_eq!(report.records, n);
            report
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, transitions, verify_million);
criterion_main!(benches);
