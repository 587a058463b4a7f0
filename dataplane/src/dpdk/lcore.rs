//! Worker lcores: launching Rust closures on them (scoped, like
//! `std::thread::scope`), lcore ids, and the TSC.

use super::{Eal, Error, Result, check};
use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// An EAL lcore id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LcoreId(pub u32);

impl std::fmt::Display for LcoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The lcore id of the calling thread (`None` on a non-EAL thread).
#[inline]
pub fn lcore_id() -> Option<LcoreId> {
    // SAFETY: reads the calling thread's per-lcore variable through the shim.
    let id = unsafe { dpdk_sys::vfex_lcore_id() };
    (id < dpdk_sys::RTE_MAX_LCORE).then_some(LcoreId(id))
}

/// Reads the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { dpdk_sys::vfex_rdtsc() }
}

/// TSC ticks per second, as EAL calibrated it.
pub fn tsc_hz() -> u64 {
    // SAFETY: plain read of EAL's calibration.
    unsafe { dpdk_sys::vfex_get_tsc_hz() }
}

/// TSC conversions.
#[derive(Debug, Clone, Copy)]
pub struct Tsc {
    hz: u64,
}

impl Tsc {
    /// Uses EAL's calibrated frequency.
    pub fn new(_eal: &Eal) -> Tsc {
        Tsc {
            hz: tsc_hz().max(1),
        }
    }

    /// Ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Ticks in `us` microseconds.
    pub fn us_to_ticks(&self, us: u64) -> u64 {
        (u128::from(self.hz) * u128::from(us) / 1_000_000) as u64
    }

    /// Seconds in `ticks`.
    pub fn ticks_to_secs(&self, ticks: u64) -> f64 {
        ticks as f64 / self.hz as f64
    }

    /// Whole microseconds in `ticks`.
    pub fn ticks_to_us(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1_000_000 / u128::from(self.hz)) as u64
    }
}

/// Lcores currently running a closure launched through a [`Scope`].
static IN_USE: AtomicU128Compat = AtomicU128Compat::new();

/// A scope in which closures run on worker lcores and may borrow from the
/// enclosing stack frame; every lcore is waited for before the scope ends.
pub struct Scope<'scope, 'env: 'scope> {
    launched: Mutex<Vec<u32>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// Handle to a closure running on a worker lcore.
pub struct ScopedJoinHandle<'scope, T> {
    lcore: u32,
    slot: Arc<Mutex<Option<T>>>,
    scope: &'scope Mutex<Vec<u32>>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// The lcore it runs on.
    pub fn lcore(&self) -> LcoreId {
        LcoreId(self.lcore)
    }

    /// Waits for the closure and returns its result; a panic in it becomes
    /// [`Error::WorkerPanicked`].
    pub fn join(self) -> Result<T> {
        wait(self.lcore);
        self.scope
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&l| l != self.lcore);
        self.slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(Error::WorkerPanicked(self.lcore))
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `Scope::launch`, received once.
    let job: Box<Job> = unsafe { Box::from_raw(arg.cast::<Job>()) };
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

fn wait(lcore: u32) {
    // SAFETY: waits for a lcore this process launched; returns its status.
    unsafe { dpdk_sys::rte_eal_wait_lcore(lcore) };
    IN_USE.clear(lcore);
}

impl<'scope> Scope<'scope, '_> {
    /// Runs `f` on worker lcore `lcore`.
    pub fn launch<F, T>(&'scope self, lcore: LcoreId, f: F) -> Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let id = lcore.0;
        // SAFETY: plain queries of EAL configuration.
        let (enabled, main) = unsafe {
            (
                dpdk_sys::rte_lcore_is_enabled(id),
                dpdk_sys::rte_get_main_lcore(),
            )
        };
        if id >= dpdk_sys::RTE_MAX_LCORE || enabled == 0 || id == main {
            return Err(Error::BadLcore(id));
        }
        if !IN_USE.try_set(id) {
            return Err(Error::Dpdk {
                op: format!("launch on lcore {id}"),
                errno: 16,
                msg: "lcore is busy running another closure".into(),
            });
        }
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let job: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
            let r = f();
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        // SAFETY: the scope waits for this lcore before 'scope ends (in
        // `join` or in `Eal::scope`), so nothing the job borrows dies first;
        // extending the lifetime is therefore sound (as in std::thread::scope).
        let job: Job =
            unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'scope>, Job>(job) };
        let arg = Box::into_raw(Box::new(job));
        // SAFETY: trampoline matches lcore_function_t; `arg` is a leaked Box
        // that the trampoline takes back exactly once.
        let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg.cast(), id) };
        if let Err(e) = check(ret, || format!("rte_eal_remote_launch(lcore {id})")) {
            // SAFETY: launch failed, so the trampoline never received `arg`.
            drop(unsafe { Box::from_raw(arg) });
            IN_USE.clear(id);
            return Err(e);
        }
        self.launched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id);
        Ok(ScopedJoinHandle {
            lcore: id,
            slot,
            scope: &self.launched,
        })
    }
}

struct WaitAll<'a>(&'a Mutex<Vec<u32>>);

impl Drop for WaitAll<'_> {
    fn drop(&mut self) {
        let left: Vec<u32> = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        for l in left {
            wait(l);
        }
    }
}

impl Eal {
    /// Runs `f` with a [`Scope`] for launching closures on worker lcores;
    /// returns after every launched closure has finished (also when `f`
    /// panics).
    pub fn scope<'env, F, T>(&'env self, f: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
    {
        let scope = Scope {
            launched: Mutex::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let _wait = WaitAll(&scope.launched);
        f(&scope)
    }
}

/// A 128-bit set of lcores (RTE_MAX_LCORE = 128) in two atomic words.
pub(crate) struct AtomicU128Compat([std::sync::atomic::AtomicU64; 2]);

impl AtomicU128Compat {
    const fn new() -> Self {
        Self([
            std::sync::atomic::AtomicU64::new(0),
            std::sync::atomic::AtomicU64::new(0),
        ])
    }

    fn try_set(&self, bit: u32) -> bool {
        let (w, b) = ((bit / 64) as usize, 1u64 << (bit % 64));
        self.0[w].fetch_or(b, Ordering::AcqRel) & b == 0
    }

    fn clear(&self, bit: u32) {
        let (w, b) = ((bit / 64) as usize, 1u64 << (bit % 64));
        self.0[w].fetch_and(!b, Ordering::AcqRel);
    }
}
