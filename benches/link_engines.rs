//! Throughput of the two link engines on one core: the GYS link at 50 km (no memory), the
//! event engine with dead time and afterpulsing, and both engines with a passive receiver.
//! Throughput is in simulated pulses.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qecnet::photonics::{LinkConfig, LinkEngine, Receiver, simulate_link};

fn gys_50km(engine: LinkEngine, pulses: u64) -> LinkConfig {
    let mut c = LinkConfig::default();
    c.channel.length_km = 50.0;
    c.simulation.engine = engine;
    c.simulation.pulses = pulses;
    c
}

fn one_core() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap()
}

fn engines(c: &mut Criterion) {
    let pool = one_core();
    let mut group = c.benchmark_group("link_gys_50km_one_core");
    group.sample_size(10);

    let passive = |mut c: LinkConfig| {
        c.detector.receiver = Receiver::Passive;
        c
    };

    let pulses = 20_000_000;
    group.throughput(Throughput::Elements(pulses));
    let config = gys_50km(LinkEngine::Pulse, pulses);
    group.bench_function("pulse_engine", |b| b.iter(|| pool.install(|| simulate_link(&config, &mut ()).unwrap())));
    let config = passive(gys_50km(LinkEngine::Pulse, pulses));
    group.bench_function("pulse_engine_passive", |b| {
        b.iter(|| pool.install(|| simulate_link(&config, &mut ()).unwrap()))
    });

    let pulses = 4_000_000_000;
    group.throughput(Throughput::Elements(pulses));
    let config = gys_50km(LinkEngine::Event, pulses);
    group.bench_function("event_engine", |b| b.iter(|| pool.install(|| simulate_link(&config, &mut ()).unwrap())));
    let config = passive(gys_50km(LinkEngine::Event, pulses));
    group.bench_function("event_engine_passive", |b| {
        b.iter(|| pool.install(|| simulate_link(&config, &mut ()).unwrap()))
    });

    let mut memory = gys_50km(LinkEngine::Event, pulses);
    memory.detector.dead_time_ns = 10_000.0;
    memory.detector.afterpulse_probability = 0.05;
    group.bench_function("event_engine_dead_time_afterpulsing", |b| {
        b.iter(|| pool.install(|| simulate_link(&memory, &mut ()).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, engines);
criterion_main!(benches);
