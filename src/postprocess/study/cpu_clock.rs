//! CPU time of the calling thread, the clock the study's throughput is measured with: POSIX
//! `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (IEEE Std 1003.1-2017), which advances only while
//! this thread runs on a core, so other processes on a loaded machine do not slow it down.

/// CPU seconds the calling thread has used so far (user and system), or wall seconds since
/// the first call on a platform without a per-thread CPU clock.
#[cfg(unix)]
pub fn thread_cpu_seconds() -> f64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable `timespec` for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is a clock every supported unix provides.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if rc != 0 {
        return f64::NAN;
    }
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// CPU seconds the calling thread has used so far, or wall seconds since the first call on a
/// platform without a per-thread CPU clock.
#[cfg(not(unix))]
pub fn thread_cpu_seconds() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_advances_with_work_and_not_with_sleep() {
        let start = thread_cpu_seconds();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = thread_cpu_seconds() - start;
        let mut x = 0u64;
        let busy_start = thread_cpu_seconds();
        while thread_cpu_seconds() - busy_start < 0.02 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let busy = thread_cpu_seconds() - busy_start;
        assert!(busy >= 0.02, "busy {busy} s");
        // Sleeping 50 ms costs microseconds of CPU, far below the 20 ms of work.
        assert!(slept < 0.01, "slept {slept} s of CPU");
    }
}
