//! A fixed-capacity burst of owned mbufs: no heap allocation, frees what it
//! still holds on drop.

use super::Mbuf;
use dpdk_sys::rte_mbuf;
use std::ptr::NonNull;

/// Up to `N` owned mbufs in a plain array (`N` = `MAX_PKT_BURST` = 32 on the
/// fast path). Slots `0..len` are owned mbufs; the rest are unused.
pub struct Burst<const N: usize> {
    pkts: [*mut rte_mbuf; N],
    len: usize,
}

// SAFETY: a Burst owns its mbufs exclusively, like Vec<Mbuf>, and Mbuf is Send.
unsafe impl<const N: usize> Send for Burst<N> {}

impl<const N: usize> Default for Burst<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> std::fmt::Debug for Burst<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Burst")
            .field("len", &self.len)
            .field("cap", &N)
            .finish()
    }
}

impl<const N: usize> Burst<N> {
    /// An empty burst.
    pub const fn new() -> Self {
        assert!(
            N > 0 && N <= u16::MAX as usize,
            "burst capacity must be 1..=65535"
        );
        Burst {
            pkts: [std::ptr::null_mut(); N],
            len: 0,
        }
    }

    /// Capacity `N`.
    #[inline(always)]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Number of mbufs held.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the burst holds nothing.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the burst is at capacity.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Free slots.
    #[inline(always)]
    pub fn room(&self) -> usize {
        N - self.len
    }

    /// Adds an mbuf at the end; gives it back when full.
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == N {
            return Err(m);
        }
        self.pkts[self.len] = m.into_raw().as_ptr();
        self.len += 1;
        Ok(())
    }

    /// Removes the last mbuf.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        let p = self.pkts[self.len];
        // SAFETY: slots below the old len hold owned, non-null mbufs; the
        // slot is now outside 0..len so ownership moves to the returned Mbuf.
        Some(unsafe { Mbuf::from_raw(NonNull::new_unchecked(p)) })
    }

    /// The mbufs held, in order.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: Mbuf is repr(transparent) over NonNull<rte_mbuf>, which has
        // the layout of *mut rte_mbuf; slots 0..len are non-null owned mbufs.
        unsafe { std::slice::from_raw_parts(self.pkts.as_ptr().cast::<Mbuf>(), self.len) }
    }

    /// The mbufs held, writable (packet data can be edited in place).
    #[inline(always)]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: as in `as_slice`; &mut self gives exclusive access. Callers
        // cannot move an Mbuf out of a &mut slot without putting one back.
        unsafe { std::slice::from_raw_parts_mut(self.pkts.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }

    /// Frees every mbuf held (one bulk call).
    #[inline]
    pub fn clear(&mut self) {
        if self.len > 0 {
            // SAFETY: slots 0..len are owned mbufs; after this the burst is empty.
            unsafe { dpdk_sys::vfex_pktmbuf_free_bulk(self.pkts.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }

    /// Frees the mbufs from index `at` to the end (one bulk call) and
    /// returns how many were freed.
    #[inline]
    pub fn truncate_free(&mut self, at: usize) -> usize {
        if at >= self.len {
            return 0;
        }
        let n = self.len - at;
        // SAFETY: slots at..len are owned mbufs; len shrinks to `at` so they
        // are no longer referenced.
        unsafe { dpdk_sys::vfex_pktmbuf_free_bulk(self.pkts.as_mut_ptr().add(at), n as u32) };
        self.len = at;
        n
    }

    /// Moves as many mbufs as fit from the front of `src` to the end of
    /// `self`, keeping order; returns how many moved.
    #[inline(always)]
    pub fn take_from<const M: usize>(&mut self, src: &mut Burst<M>) -> usize {
        let n = self.room().min(src.len);
        self.pkts[self.len..self.len + n].copy_from_slice(&src.pkts[..n]);
        self.len += n;
        src.consume_front(n);
        n
    }

    /// Keeps the mbufs for which `keep` returns true, in order, and hands
    /// every other one to `reject` (which may free it, count it, or keep it).
    #[inline]
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&mut Mbuf) -> bool,
        mut reject: impl FnMut(Mbuf),
    ) {
        self.retain_indexed(|_, m| keep(m), |_, m| reject(m));
    }

    /// Like [`Burst::retain`], with each mbuf's index in the burst.
    #[inline]
    pub fn retain_indexed(
        &mut self,
        mut keep: impl FnMut(usize, &mut Mbuf) -> bool,
        mut reject: impl FnMut(usize, Mbuf),
    ) {
        let mut w = 0;
        for r in 0..self.len {
            let p = self.pkts[r];
            // SAFETY: slot r (< len) holds an owned mbuf; we either move it to
            // slot w (<= r) or hand ownership to `reject`, never both.
            let mut m = unsafe { Mbuf::from_raw(NonNull::new_unchecked(p)) };
            if keep(r, &mut m) {
                self.pkts[w] = m.into_raw().as_ptr();
                w += 1;
            } else {
                reject(r, m);
            }
        }
        self.len = w;
    }

    /// Drops ownership of the first `n` slots (already handed to DPDK) and
    /// moves the rest to the front.
    #[inline(always)]
    pub(crate) fn consume_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        if n == self.len {
            self.len = 0;
        } else {
            self.pkts.copy_within(n..self.len, 0);
            self.len -= n;
        }
    }

    /// Pointer to the slots, for rx/tx burst calls.
    #[inline(always)]
    pub(crate) fn raw_parts(&mut self) -> (*mut *mut rte_mbuf, usize) {
        (self.pkts.as_mut_ptr(), self.len)
    }

    /// Records that DPDK filled `n` more slots after the current ones.
    ///
    /// # Safety
    /// Slots `len..len + n` must now hold owned, non-null mbufs.
    #[inline(always)]
    pub(crate) unsafe fn grow(&mut self, n: usize) {
        debug_assert!(self.len + n <= N);
        self.len += n;
    }
}

impl<const N: usize> Drop for Burst<N> {
    fn drop(&mut self) {
        self.clear();
    }
}
