//! Long calls off the interpreter: the work runs on its own thread (and the lab's rayon pool)
//! without the GIL, while the calling thread polls every 100 ms for signals (Ctrl-C in a
//! notebook raises `KeyboardInterrupt`) and reports progress to an optional Python callback.
//! A signal or a failing callback sets the stop flag the library honours, and the call returns
//! once the work has stopped (the library leaves no partial output behind).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use pyo3::prelude::*;

/// What the work shares with the polling thread.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to stop the work early.
    pub stop: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl Control {
    /// Records progress: `done` of `total` units.
    pub fn progress(&self, done: u64, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }
}

/// How often the calling thread wakes up to check for signals and report progress.
const POLL: Duration = Duration::from_millis(100);

/// Runs `work` on its own thread (inside a pool of `threads` workers when given), polling for
/// signals and calling `progress(done, total)` when it changed.
pub fn run<T, F>(py: Python<'_>, threads: Option<usize>, progress: Option<&Bound<'_, PyAny>>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Control) -> T + Send,
{
    let pool = match threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| crate::QecnetError::new_err(format!("threads = {n}: {e}")))?,
        ),
        None => None,
    };
    let control = Control::default();
    std::thread::scope(|scope| {
        let (tx, mut rx) = mpsc::channel();
        let control = &control;
        let pool = pool.as_ref();
        scope.spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match pool {
                Some(pool) => pool.install(|| work(control)),
                None => work(control),
            }));
            let _ = tx.send(result);
        });
        let mut reported = (u64::MAX, u64::MAX);
        let mut failure: Option<PyErr> = None;
        loop {
            // The receiver is not `Sync`: it moves into the GIL-free wait and back.
            let (received, back) = py.detach(move || (rx.recv_timeout(POLL), rx));
            rx = back;
            let now = (control.done.load(Ordering::Relaxed), control.total.load(Ordering::Relaxed));
            if failure.is_none()
                && now != reported
                && now.1 > 0
                && let Some(callback) = progress
            {
                reported = now;
                if let Err(e) = callback.call1(now) {
                    control.stop.store(true, Ordering::SeqCst);
                    failure = Some(e);
                }
            }
            match received {
                Ok(result) => {
                    return match (failure, result) {
                        (Some(e), _) => Err(e),
                        (None, Ok(value)) => Ok(value),
                        (None, Err(_)) => Err(crate::QecnetError::new_err("internal error: the work panicked")),
                    };
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(failure.unwrap_or_else(|| crate::QecnetError::new_err("internal error: no result")));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if failure.is_none()
                && let Err(e) = py.check_signals()
            {
                control.stop.store(true, Ordering::SeqCst);
                failure = Some(e);
            }
        }
    })
}
