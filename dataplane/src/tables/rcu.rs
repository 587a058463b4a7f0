//! Read-copy-update for the table set, in safe Rust, with the semantics of
//! DPDK's `rte_rcu_qsbr` (quiescent-state-based reclamation).
//!
//! - The control thread builds a whole new value and [`Rcu::publish`]es it:
//!   one pointer swap (under a short mutex that only publishers and
//!   refreshing readers take) and one version bump.
//! - Each worker holds an [`RcuReader`]: a cached `Arc` of the value it
//!   uses, and the version it saw. Once per loop iteration, between bursts,
//!   the worker calls [`RcuReader::quiescent`]: one atomic load compares the
//!   version; only when it changed does the reader take the new `Arc` (a
//!   `try_lock`, once per publication: a worker never waits; if the lock is
//!   busy it keeps the old value one more loop) and release the old one. A
//!   burst therefore sees one table set from start to end, never a mix.
//! - The publisher keeps the old value ([`Retired`]) and
//!   [`Rcu::synchronize`] waits until every reader left it, like
//!   `rte_rcu_qsbr_synchronize`; then the publisher frees it, on its own
//!   thread. (Were the last reader its last owner, the worker would free a
//!   whole table set between two bursts: milliseconds of `free` on the fast
//!   path.)
//!
//! Nothing here is on the per-packet path: a reader's cost per loop is one
//! `Acquire` load of a shared, rarely written cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The published value and its version.
#[derive(Debug)]
pub struct Rcu<T> {
    version: AtomicU64,
    current: Mutex<Arc<T>>,
}

impl<T> Rcu<T> {
    /// A handle that publishes `initial` as version 1.
    pub fn new(initial: T) -> Arc<Rcu<T>> {
        Arc::new(Rcu {
            version: AtomicU64::new(1),
            current: Mutex::new(Arc::new(initial)),
        })
    }

    /// Publishes `value`; readers switch at their next quiescent state.
    /// Returns the value replaced: keep it until [`Rcu::synchronize`] says
    /// every reader left it, and drop it then, so that it is freed here and
    /// not by the worker that leaves it last.
    pub fn publish(&self, value: T) -> Retired<T> {
        let new = Arc::new(value);
        let old = {
            let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *cur, new)
        };
        self.version.fetch_add(1, Ordering::Release);
        Retired(old)
    }

    /// The current value (control-plane side).
    pub fn load(&self) -> Arc<T> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The version published last (starts at 1).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A reader for one worker, holding the current value.
    pub fn reader(self: &Arc<Self>) -> RcuReader<T> {
        let version = self.version();
        RcuReader {
            rcu: Arc::clone(self),
            version,
            cached: self.load(),
        }
    }

    /// Waits until `old` (from [`Rcu::publish`]) is freed, i.e. every reader
    /// reported a quiescent state after the publication; `false` on timeout
    /// (a stopped worker that still holds its reader keeps the value alive).
    pub fn synchronize(old: &Retired<T>, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while old.in_use() {
            if t0.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        true
    }
}

/// A value replaced by [`Rcu::publish`], held by the publisher until the
/// readers have left it; dropping it frees the value if no reader holds it
/// any more (else the last reader does).
#[derive(Debug)]
pub struct Retired<T>(Arc<T>);

impl<T> Retired<T> {
    /// Whether a reader (or another `Arc` of the control plane) still holds
    /// the value.
    pub fn in_use(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

/// One worker's view of an [`Rcu`] value.
#[derive(Debug)]
pub struct RcuReader<T> {
    rcu: Arc<Rcu<T>>,
    version: u64,
    cached: Arc<T>,
}

impl<T> RcuReader<T> {
    /// The value this reader uses until its next quiescent state.
    #[inline(always)]
    pub fn get(&self) -> &T {
        &self.cached
    }

    /// The version of [`RcuReader::get`].
    #[inline(always)]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Reports a quiescent state (no reference into the value is held by
    /// the caller): switches to the newest value if one was published.
    /// Returns `true` when it switched.
    #[inline(always)]
    pub fn quiescent(&mut self) -> bool {
        if self.rcu.version.load(Ordering::Acquire) == self.version {
            return false;
        }
        self.refresh()
    }

    #[cold]
    fn refresh(&mut self) -> bool {
        // Never wait on the fast path: if the publisher (or another reader)
        // holds the lock right now, keep the old value one more loop.
        let cur = match self.rcu.current.try_lock() {
            Ok(g) => Arc::clone(&g),
            Err(std::sync::TryLockError::Poisoned(p)) => Arc::clone(&p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        // Read under the lock, so the version is at most the value's (a
        // publication racing with us bumps it after the swap: seen next
        // time).
        self.version = self.rcu.version.load(Ordering::Acquire);
        self.cached = cur;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_value_freed_after_every_reader_is_quiescent() {
        let rcu = Rcu::new(1u32);
        let mut a = rcu.reader();
        let mut b = rcu.reader();
        assert_eq!(*a.get(), 1);
        let old = rcu.publish(2);
        // Readers keep the old value until their quiescent state.
        assert_eq!((*a.get(), *b.get()), (1, 1));
        assert!(old.in_use());
        assert!(a.quiescent());
        assert_eq!(*a.get(), 2);
        assert!(old.in_use(), "b still holds it");
        assert!(!Rcu::synchronize(&old, Duration::from_millis(1)));
        assert!(b.quiescent());
        assert!(!b.quiescent());
        assert!(Rcu::synchronize(&old, Duration::from_millis(1)));
        assert!(!old.in_use());
        assert_eq!(rcu.version(), 2);
        assert_eq!(*rcu.load(), 2);
    }

    /// The old value is freed by the publisher, never by the worker that
    /// left it last (freeing a table set is not fast-path work).
    #[test]
    fn the_publisher_frees_the_old_value_not_the_reader() {
        struct Noisy(std::sync::mpsc::Sender<std::thread::ThreadId>);
        impl Drop for Noisy {
            fn drop(&mut self) {
                let _ = self.0.send(std::thread::current().id());
            }
        }
        let (tx, freed) = std::sync::mpsc::channel();
        let rcu = Rcu::new(Noisy(tx.clone()));
        let mut r = rcu.reader();
        let old = rcu.publish(Noisy(tx));
        let worker = std::thread::spawn(move || {
            assert!(r.quiescent());
            drop(r);
            std::thread::current().id()
        })
        .join()
        .unwrap();
        assert!(Rcu::synchronize(&old, Duration::from_secs(1)));
        assert!(freed.try_recv().is_err(), "nobody freed it yet");
        drop(old);
        let by = freed.try_recv().unwrap();
        assert_eq!(by, std::thread::current().id());
        assert_ne!(by, worker);
    }

    #[test]
    fn a_reader_never_waits_for_the_lock() {
        let rcu = Rcu::new(1u32);
        let mut r = rcu.reader();
        rcu.publish(2);
        let held = rcu.current.lock().unwrap();
        assert!(!r.quiescent(), "lock busy: keep the old value");
        assert_eq!(*r.get(), 1);
        drop(held);
        assert!(r.quiescent());
        assert_eq!(*r.get(), 2);
    }

    #[test]
    fn readers_on_threads_switch() {
        let rcu = Rcu::new(0u64);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let mut r = rcu.reader();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut max = 0;
                    while !stop.load(Ordering::Relaxed) {
                        r.quiescent();
                        assert!(*r.get() >= max, "never goes back");
                        max = *r.get();
                        std::thread::yield_now();
                    }
                    max
                })
            })
            .collect();
        for v in 1..=50u64 {
            let old = rcu.publish(v);
            assert!(Rcu::synchronize(&old, Duration::from_secs(10)));
        }
        stop.store(true, Ordering::Relaxed);
        for h in hs {
            assert_eq!(h.join().unwrap(), 50);
        }
    }
}
