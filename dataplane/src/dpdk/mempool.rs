//! Packet mbuf pools.

use super::{Burst, Eal, Mbuf, Result, errno_error};
use dpdk_sys::rte_mempool;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Arc, RwLock};

/// A pktmbuf pool (`rte_pktmbuf_pool_create`). Freed on drop when no mbuf is
/// in use; if mbufs are still out, it is left allocated (a leak, reported on
/// stderr) rather than freed under them.
#[derive(Debug)]
pub struct Mempool<'eal> {
    mp: NonNull<rte_mempool>,
    name: String,
    /// What [`PoolMonitor`]s read; emptied (under the write lock) before the
    /// pool is freed.
    live: Arc<RwLock<Option<PoolPtr>>>,
    _eal: PhantomData<&'eal Eal>,
}

/// The pool pointer a [`PoolMonitor`] reads through.
#[derive(Debug)]
struct PoolPtr(NonNull<rte_mempool>);

// SAFETY: the counting functions a monitor calls (`rte_mempool_avail_count`,
// `rte_mempool_in_use_count`) may run on any thread; the pointer is only
// used while the `RwLock` holding it says the pool exists.
unsafe impl Send for PoolPtr {}
// SAFETY: as above.
unsafe impl Sync for PoolPtr {}

/// A pool's counts at one moment (the per-lcore caches included, read
/// without stopping the workers, as DPDK's own counters are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Mbufs the pool was created with.
    pub size: u32,
    /// Mbufs allocated from it (held by ports, rings, bursts, ...).
    pub in_use: u32,
    /// Mbufs free in it.
    pub available: u32,
}

/// Reads a pool's counts from any thread (telemetry's) for as long as the
/// pool exists: [`PoolMonitor::usage`] is `None` once it is freed. Costs
/// nothing on the fast path.
#[derive(Debug, Clone)]
pub struct PoolMonitor {
    name: Arc<str>,
    live: Arc<RwLock<Option<PoolPtr>>>,
}

impl PoolMonitor {
    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool's counts now, or `None` if it was freed.
    pub fn usage(&self) -> Option<PoolUsage> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        let mp = live.as_ref()?.0.as_ptr();
        // SAFETY: the pool is not freed while this read lock is held (Drop
        // takes the write lock and empties `live` first); the counting
        // functions are thread-safe and `size` is set once at creation.
        // One count (in use = size - free, as DPDK computes it), so that
        // the two add up even while workers allocate and free.
        let (size, available) = unsafe { ((*mp).size, dpdk_sys::rte_mempool_avail_count(mp)) };
        Some(PoolUsage {
            size,
            in_use: size.saturating_sub(available),
            available,
        })
    }
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe; the pool is
// only freed in Drop, which needs exclusive ownership.
unsafe impl Send for Mempool<'_> {}
// SAFETY: as above: every method through &self is thread-safe in DPDK.
unsafe impl Sync for Mempool<'_> {}

/// Default data room: 2048 bytes of data + 128 bytes of headroom.
pub const DEFAULT_DATA_ROOM: u16 = 2048 + 128;

impl<'eal> Mempool<'eal> {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` and
    /// `data_room` bytes of buffer each (headroom included), on `socket`
    /// (`None`: any socket).
    pub fn new(
        _eal: &'eal Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: Option<i32>,
    ) -> Result<Self> {
        let c = super::eal::cstring(name)?;
        let socket = socket.unwrap_or(-1); // SOCKET_ID_ANY
        // SAFETY: valid NUL-terminated name; other arguments are plain values.
        let mp = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(c.as_ptr(), n, cache, 0, data_room, socket)
        };
        let mp = NonNull::new(mp).ok_or_else(|| {
            errno_error(format!(
                "rte_pktmbuf_pool_create({name}, n={n}, cache={cache}, data_room={data_room})"
            ))
        })?;
        Ok(Mempool {
            mp,
            name: name.to_owned(),
            live: Arc::new(RwLock::new(Some(PoolPtr(mp)))),
            _eal: PhantomData,
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle that reads this pool's counts from another thread.
    pub fn monitor(&self) -> PoolMonitor {
        PoolMonitor {
            name: Arc::from(self.name.as_str()),
            live: Arc::clone(&self.live),
        }
    }

    /// Mbufs free in the pool (ring plus per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.mp.as_ptr()) }
    }

    /// Mbufs currently allocated from the pool (held by ports, bursts, ...).
    pub fn in_use(&self) -> u32 {
        // SAFETY: valid pool pointer.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.mp.as_ptr()) }
    }

    /// Allocates one mbuf (reset, empty), or `None` when the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: valid pool pointer; a non-null result is a fresh mbuf we own.
        let m = unsafe { dpdk_sys::vfex_pktmbuf_alloc(self.mp.as_ptr()) };
        // SAFETY: fresh mbuf, refcount 1, owned by nobody else.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Fills `burst` up to `n` more mbufs, all or nothing; returns whether
    /// it succeeded.
    #[inline]
    pub fn alloc_bulk<const N: usize>(&self, burst: &mut Burst<N>, n: usize) -> bool {
        if n > burst.room() {
            return false;
        }
        let (p, len) = burst.raw_parts();
        // SAFETY: slots len..len+n are within the array; on success DPDK
        // wrote n fresh mbufs there, which `grow` hands to the burst.
        unsafe {
            if dpdk_sys::vfex_pktmbuf_alloc_bulk(self.mp.as_ptr(), p.add(len), n as u32) == 0 {
                burst.grow(n);
                true
            } else {
                false
            }
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut rte_mempool {
        self.mp.as_ptr()
    }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        // Monitors stop reading first (a leaked pool stays allocated, but
        // nobody reads it any more either).
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = None;
        let in_use = self.in_use();
        if in_use != 0 {
            eprintln!(
                "vfex: mempool {} still has {in_use} mbufs in use; leaving it allocated",
                self.name
            );
            return;
        }
        // SAFETY: no mbuf of this pool is in use and no port references it
        // (ports borrow the pool, so they are gone).
        unsafe { dpdk_sys::rte_mempool_free(self.mp.as_ptr()) };
    }
}
