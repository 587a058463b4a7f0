//! An owned packet buffer.

use dpdk_sys::rte_mbuf;
use std::ptr::NonNull;

/// Why an mbuf edit was refused (the mbuf is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MbufError {
    /// Not enough headroom for a prepend.
    #[error("not enough headroom ({have} < {need})")]
    NoHeadroom {
        /// Bytes available in front of the data.
        have: u16,
        /// Bytes asked for.
        need: u16,
    },
    /// Not enough tailroom for an append.
    #[error("not enough tailroom ({have} < {need})")]
    NoTailroom {
        /// Bytes available after the data.
        have: u16,
        /// Bytes asked for.
        need: u16,
    },
    /// Asked to remove more bytes than the first segment holds.
    #[error("segment too short ({have} < {need})")]
    TooShort {
        /// Bytes in the segment.
        have: u16,
        /// Bytes asked for.
        need: u16,
    },
    /// The operation needs a single-segment mbuf.
    #[error("chained (multi-segment) mbuf")]
    Chained,
}

/// One packet, owned: `Send`, not `Clone`; dropping it returns it to its pool.
///
/// Layout-compatible with `*mut rte_mbuf` (`repr(transparent)`), so a
/// [`super::Burst`] can hand out `&mut [Mbuf]` over its pointer array.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<rte_mbuf>);

// SAFETY: an Mbuf is the only handle to its rte_mbuf (refcount 1, no other
// pointer kept), and DPDK mbufs may be freed from any thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf that nothing else will use or free.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(m: NonNull<rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership; the caller must free or transmit the pointer.
    #[inline(always)]
    pub(crate) fn into_raw(self) -> NonNull<rte_mbuf> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    #[inline(always)]
    fn raw(&self) -> &rte_mbuf {
        // SAFETY: we own a valid mbuf; shared access through &self.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    fn raw_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: we own a valid mbuf; exclusive access through &mut self.
        unsafe { self.0.as_mut() }
    }

    /// Total packet length over all segments (`pkt_len`).
    #[inline(always)]
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// Bytes in the first segment (`data_len`).
    #[inline(always)]
    pub fn data_len(&self) -> u16 {
        self.raw().data_len
    }

    /// Number of segments.
    #[inline(always)]
    pub fn nb_segs(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Whether the whole packet is in the first segment.
    #[inline(always)]
    pub fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// Bytes free in front of the data of the first segment.
    #[inline(always)]
    pub fn headroom(&self) -> u16 {
        self.raw().data_off
    }

    /// Bytes free after the data of the last segment (first segment here:
    /// appends are refused on chained mbufs).
    #[inline(always)]
    pub fn tailroom(&self) -> u16 {
        let m = self.raw();
        m.buf_len - m.data_off - m.data_len
    }

    /// Input port recorded by the PMD.
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// The first segment's data.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's
        // buffer (DPDK invariant), and we own the mbuf.
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// The first segment's data, writable.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in `data`, and &mut self gives exclusive access.
        unsafe {
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// Grows the packet at the front by `n` bytes and returns the whole
    /// first segment (the new bytes first, uninitialised content: the caller
    /// writes them). Refused without enough headroom.
    #[inline(always)]
    pub fn prepend(&mut self, n: u16) -> Result<&mut [u8], MbufError> {
        let m = self.raw_mut();
        if m.data_off < n {
            return Err(MbufError::NoHeadroom {
                have: m.data_off,
                need: n,
            });
        }
        m.data_off -= n;
        m.data_len += n;
        m.pkt_len += u32::from(n);
        Ok(self.data_mut())
    }

    /// Removes `n` bytes from the front of the packet (`rte_pktmbuf_adj`).
    #[inline(always)]
    pub fn adj(&mut self, n: u16) -> Result<(), MbufError> {
        let m = self.raw_mut();
        if m.data_len < n {
            return Err(MbufError::TooShort {
                have: m.data_len,
                need: n,
            });
        }
        m.data_off += n;
        m.data_len -= n;
        m.pkt_len -= u32::from(n);
        Ok(())
    }

    /// The first segment's data pointer, data offset (headroom), data
    /// length and packet length in one read, for the burst kernels' fast
    /// paths (which then call [`Mbuf::move_front_unchecked`] without reading
    /// the mbuf again: their byte stores could alias it as far as the
    /// compiler knows, so it would reload every field).
    #[inline(always)]
    pub fn front(&mut self) -> (*mut u8, u16, u16, u32) {
        let m = self.raw_mut();
        let (off, dlen, plen) = (m.data_off, m.data_len, m.pkt_len);
        (
            m.buf_addr.cast::<u8>().wrapping_add(usize::from(off)),
            off,
            dlen,
            plen,
        )
    }

    /// Moves the start of the first segment to `data_off` and changes the
    /// data and packet lengths by `n` bytes (`grow`: `n` more, the front
    /// grew; else `n` fewer), without checks: the kernels' fast path, after
    /// their own checks. `pkt_len` and `data_len` are adjacent in the mbuf
    /// (checked at compile time), so both change with one 64-bit add.
    ///
    /// # Safety
    /// The mbuf's fields are as [`Mbuf::front`] returned them, and
    /// `data_off` = old `data_off` - `n` (`grow`, with `n` <= old
    /// `data_off`) or + `n` (else, with `n` <= old `data_len`): the DPDK
    /// invariants that [`Mbuf::data`] relies on then still hold.
    #[inline(always)]
    pub unsafe fn move_front_unchecked(&mut self, data_off: u16, n: u16, grow: bool) {
        const PKT_LEN: usize = std::mem::offset_of!(rte_mbuf, pkt_len);
        const _: () = assert!(std::mem::offset_of!(rte_mbuf, data_len) == PKT_LEN + 4);
        const _: () = assert!(PKT_LEN % 4 == 0);
        // Both lengths: pkt_len in the low 32 bits, data_len above it.
        let both = u64::from(n) | (u64::from(n) << 32);
        let m = self.0.as_ptr();
        // SAFETY: we own the mbuf. `lens` covers pkt_len, data_len and the
        // 16 bits after them (vlan_tci, unchanged: with the caller's
        // contract neither length wraps, so nothing carries or borrows
        // across a field). Unaligned access because pkt_len is only 4-byte
        // aligned.
        unsafe {
            (*m).data_off = data_off;
            let lens = m.cast::<u8>().add(PKT_LEN).cast::<u64>();
            let v = lens.read_unaligned();
            lens.write_unaligned(if grow {
                v.wrapping_add(both)
            } else {
                v.wrapping_sub(both)
            });
        }
    }

    /// Sets both lengths of a single-segment mbuf to `len`, without checks
    /// (the burst kernels' padding after a strip, which checked first).
    ///
    /// # Safety
    /// The mbuf is one segment and `len <= buf_len - data_off`: the data
    /// then stays inside the buffer. Bytes past the old end are whatever
    /// the buffer held: the caller writes them.
    #[inline(always)]
    pub unsafe fn set_len_unchecked(&mut self, len: u16) {
        let m = self.raw_mut();
        m.data_len = len;
        m.pkt_len = u32::from(len);
    }

    /// Grows the packet at the end by `n` bytes and returns them (content
    /// unspecified: the caller writes them). Single-segment mbufs only.
    #[inline]
    pub fn append(&mut self, n: u16) -> Result<&mut [u8], MbufError> {
        if !self.is_contiguous() {
            return Err(MbufError::Chained);
        }
        let have = self.tailroom();
        if have < n {
            return Err(MbufError::NoTailroom { have, need: n });
        }
        let m = self.raw_mut();
        let old = usize::from(m.data_len);
        m.data_len += n;
        m.pkt_len += u32::from(n);
        Ok(&mut self.data_mut()[old..])
    }

    /// Removes `n` bytes from the end of the packet. Single-segment only.
    #[inline]
    pub fn trim(&mut self, n: u16) -> Result<(), MbufError> {
        if !self.is_contiguous() {
            return Err(MbufError::Chained);
        }
        let m = self.raw_mut();
        if m.data_len < n {
            return Err(MbufError::TooShort {
                have: m.data_len,
                need: n,
            });
        }
        m.data_len -= n;
        m.pkt_len -= u32::from(n);
        Ok(())
    }

    /// Replaces the packet's content with `bytes` (single segment; used to
    /// build test and generator frames). Keeps the headroom as it is.
    pub fn set_data(&mut self, bytes: &[u8]) -> Result<(), MbufError> {
        if !self.is_contiguous() {
            return Err(MbufError::Chained);
        }
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        let room = self.raw().buf_len - self.raw().data_off;
        if len > room || bytes.len() > usize::from(u16::MAX) {
            return Err(MbufError::NoTailroom {
                have: room,
                need: len,
            });
        }
        let m = self.raw_mut();
        m.data_len = len;
        m.pkt_len = u32::from(len);
        self.data_mut().copy_from_slice(bytes);
        Ok(())
    }

    /// Copies the whole packet (all segments) into a `Vec` (slow path: tests,
    /// capture, diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pkt_len() as usize);
        let mut seg: *const rte_mbuf = self.0.as_ptr();
        while !seg.is_null() {
            // SAFETY: `seg` walks the chain of a valid owned mbuf; each
            // segment's data range is valid per the DPDK invariant.
            unsafe {
                let s = &*seg;
                v.extend_from_slice(std::slice::from_raw_parts(
                    s.buf_addr.cast::<u8>().add(usize::from(s.data_off)),
                    usize::from(s.data_len),
                ));
                seg = s.next;
            }
        }
        v
    }

    /// Appends `tail` as further segments (`rte_pktmbuf_chain`); on failure
    /// (too many segments) `tail` is given back.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        let t = tail.into_raw();
        // SAFETY: both are valid owned mbufs; on success ownership of `t`
        // passes to the chain headed by self.
        let ret = unsafe { dpdk_sys::vfex_pktmbuf_chain(self.0.as_ptr(), t.as_ptr()) };
        if ret == 0 {
            Ok(())
        } else {
            // SAFETY: the chain call failed and left `t` untouched and ours.
            Err(unsafe { Mbuf::from_raw(t) })
        }
    }

    /// Prefetches the first cache line of the packet data (an inline
    /// `prefetcht0`, not a call).
    #[inline(always)]
    pub fn prefetch_data(&self) {
        let m = self.raw();
        let p = m
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(m.data_off));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint: it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }
}

/// A packet frozen for replication by reference (the DPDK idiom for large
/// multicast frames): no mutable access to it remains, and each
/// [`SharedMbuf::replica`] is a fresh mbuf holding a private copy of the
/// headers, chained to an indirect mbuf (`rte_pktmbuf_clone`) that shares
/// the rest of the bytes. The bytes are freed when the last of the shared
/// packet and its replicas is gone (the mbuf refcount).
///
/// Sound because shared bytes are never writable: the original is only
/// readable here, and in a replica they sit in a second segment, which no
/// `Mbuf` method writes (writes go to the first segment; `append`/`trim`
/// refuse chained mbufs).
#[derive(Debug)]
pub struct SharedMbuf(Mbuf);

impl Mbuf {
    /// Freezes the packet for replication by reference.
    pub fn into_shared(self) -> SharedMbuf {
        SharedMbuf(self)
    }
}

impl SharedMbuf {
    /// The first segment's data.
    pub fn data(&self) -> &[u8] {
        self.0.data()
    }

    /// Total length.
    pub fn pkt_len(&self) -> u32 {
        self.0.pkt_len()
    }

    /// Mbufs referring to the shared buffer (the refcount of the first
    /// segment: 1 + live replicas).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: reads the refcount of a valid mbuf we hold.
        unsafe { dpdk_sys::vfex_mbuf_refcnt_read(self.0.0.as_ptr()) }
    }

    /// A replica from `pool`: the first `head` bytes (at most the first
    /// segment) copied, the rest shared. `None` when the pool is empty.
    pub fn replica(&self, pool: &super::Mempool<'_>, head: u16) -> Option<Mbuf> {
        let head = head.min(self.0.data_len());
        let mut h = pool.alloc()?;
        h.set_data(&self.0.data()[..usize::from(head)]).ok()?;
        if self.0.pkt_len() > u32::from(head) {
            // SAFETY: a valid mbuf and pool; on success the clone is a new
            // chain of indirect mbufs that we own (refcount of the direct
            // buffers incremented), attached to bytes nobody writes.
            let c = unsafe { dpdk_sys::vfex_pktmbuf_clone(self.0.0.as_ptr(), pool.as_ptr()) };
            // SAFETY: a fresh clone owned by nobody else.
            let mut c = unsafe { Mbuf::from_raw(NonNull::new(c)?) };
            // Moves the clone's view past the copied head (header only).
            c.adj(head).ok()?;
            h.chain(c).ok()?;
        }
        Some(h)
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; it is not used after this.
        unsafe { dpdk_sys::vfex_pktmbuf_free(self.0.as_ptr()) };
    }
}
