//! Packet mbuf pools.

use super::{Burst, Eal, Mbuf, Result, errno_error};
use dpdk_sys::rte_mempool;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A pktmbuf pool (`rte_pktmbuf_pool_create`). Freed on drop when no mbuf is
/// in use; if mbufs are still out, it is left allocated (a leak, reported on
/// stderr) rather than freed under them.
#[derive(Debug)]
pub struct Mempool<'eal> {
    mp: NonNull<rte_mempool>,
    name: String,
    _eal: PhantomData<&'eal Eal>,
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
            _eal: PhantomData,
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
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
