//! The packet buffer the kernels edit: [`PacketBuf`], implemented for the
//! owned DPDK [`Mbuf`] and for [`TestBuf`] (tests, benches, fuzzing).

use crate::dpdk::{Mbuf, MbufError};

/// Why a buffer edit was refused. The buffer is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BufError {
    /// Not enough headroom for a prepend.
    #[error("not enough headroom")]
    NoHeadroom,
    /// Not enough tailroom for an append.
    #[error("not enough tailroom")]
    NoTailroom,
    /// Asked to remove more bytes than the first segment holds.
    #[error("first segment too short")]
    TooShort,
    /// The operation needs a single-segment buffer.
    #[error("chained (multi-segment) buffer")]
    Chained,
}

impl From<MbufError> for BufError {
    fn from(e: MbufError) -> Self {
        match e {
            MbufError::NoHeadroom { .. } => BufError::NoHeadroom,
            MbufError::NoTailroom { .. } => BufError::NoTailroom,
            MbufError::TooShort { .. } => BufError::TooShort,
            MbufError::Chained => BufError::Chained,
        }
    }
}

/// The first segment of a [`PacketBuf`] in one read ([`PacketBuf::head`]),
/// for the SIMD fast paths.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    /// Start of the data (valid for `data_len` bytes, and `headroom` bytes
    /// in front).
    pub data: *mut u8,
    /// Free bytes in front of the data.
    pub headroom: usize,
    /// Bytes in the first segment.
    pub data_len: usize,
    /// Bytes in the whole packet.
    pub pkt_len: usize,
}

/// Exactly what the burst kernels need from a packet buffer.
///
/// A packet is one or more segments; only the first segment is visible
/// through [`PacketBuf::data`]. Every method that returns `Err` leaves the
/// buffer unchanged. Lengths are in bytes.
pub trait PacketBuf {
    /// Free bytes in front of the data of the first segment.
    fn headroom(&self) -> usize;
    /// Free bytes after the data (of the first segment; appends are refused
    /// on chained buffers anyway).
    fn tailroom(&self) -> usize;
    /// The first segment's data.
    fn data(&self) -> &[u8];
    /// The first segment's data, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet by `n` bytes at the front and returns the whole
    /// first segment, the `n` new bytes first. Their content is
    /// unspecified: the caller writes them before reading them.
    fn prepend(&mut self, n: usize) -> Result<&mut [u8], BufError>;
    /// Removes `n` bytes from the front (of the first segment).
    fn adj(&mut self, n: usize) -> Result<(), BufError>;
    /// Grows a single-segment packet by `n` bytes at the end and returns
    /// them (content unspecified: the caller writes them).
    fn append(&mut self, n: usize) -> Result<&mut [u8], BufError>;
    /// Whether the whole packet is in the first segment.
    fn is_contiguous(&self) -> bool;
    /// Bytes in the first segment.
    fn data_len(&self) -> usize;
    /// Bytes in the whole packet.
    fn pkt_len(&self) -> usize;
    /// The first segment's data pointer, headroom and lengths in one read.
    fn head(&mut self) -> Head;
    /// Moves the start of the data by `delta` bytes (negative: grows the
    /// packet at the front; positive: removes bytes from the front),
    /// adjusting the lengths, without checks and without reading the
    /// buffer again.
    ///
    /// # Safety
    /// `h` is what [`PacketBuf::head`] returned, with no change to the
    /// buffer since, and `-h.headroom <= delta <= h.data_len`.
    unsafe fn move_front(&mut self, h: &Head, delta: isize);
    /// Grows a single-segment packet at the end to `len` bytes, without
    /// checks and without writing the new bytes (the caller wrote them).
    ///
    /// # Safety
    /// The buffer is contiguous and `data_len <= len <= data_len +
    /// tailroom`.
    unsafe fn grow_to(&mut self, len: usize);
    /// Hints the CPU to fetch the first cache line of the data (kernels
    /// call it for the next group of packets). Default: nothing.
    #[inline(always)]
    fn prefetch(&self) {}
}

impl PacketBuf for Mbuf {
    #[inline(always)]
    fn headroom(&self) -> usize {
        usize::from(Mbuf::headroom(self))
    }

    #[inline(always)]
    fn tailroom(&self) -> usize {
        usize::from(Mbuf::tailroom(self))
    }

    #[inline(always)]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }

    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }

    #[inline(always)]
    fn prepend(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        let n = u16::try_from(n).map_err(|_| BufError::NoHeadroom)?;
        Mbuf::prepend(self, n).map_err(BufError::from)
    }

    #[inline(always)]
    fn adj(&mut self, n: usize) -> Result<(), BufError> {
        let n = u16::try_from(n).map_err(|_| BufError::TooShort)?;
        Mbuf::adj(self, n).map_err(BufError::from)
    }

    #[inline(always)]
    fn append(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        let n = u16::try_from(n).map_err(|_| BufError::NoTailroom)?;
        Mbuf::append(self, n).map_err(BufError::from)
    }

    #[inline(always)]
    fn is_contiguous(&self) -> bool {
        Mbuf::is_contiguous(self)
    }

    #[inline(always)]
    fn data_len(&self) -> usize {
        usize::from(Mbuf::data_len(self))
    }

    #[inline(always)]
    fn pkt_len(&self) -> usize {
        Mbuf::pkt_len(self) as usize
    }

    #[inline(always)]
    fn head(&mut self) -> Head {
        let (data, off, dlen, plen) = Mbuf::front(self);
        Head {
            data,
            headroom: usize::from(off),
            data_len: usize::from(dlen),
            pkt_len: plen as usize,
        }
    }

    #[inline(always)]
    unsafe fn move_front(&mut self, h: &Head, delta: isize) {
        let off = h.headroom.wrapping_add_signed(delta) as u16;
        // SAFETY: `h` is this mbuf's state and `delta` is within
        // -headroom..=data_len (the caller's contract): exactly the
        // contract of move_front_unchecked.
        unsafe { Mbuf::move_front_unchecked(self, off, delta.unsigned_abs() as u16, delta < 0) }
    }

    #[inline(always)]
    unsafe fn grow_to(&mut self, len: usize) {
        // SAFETY: contiguous and len <= data_len + tailroom <= buf_len -
        // data_off (the caller's contract), so len fits in u16.
        unsafe { Mbuf::set_len_unchecked(self, len as u16) }
    }

    /// `prefetcht0` of the data (inline, not the FFI `prefetch_data`).
    #[inline(always)]
    fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        super::simd::prefetch(Mbuf::data(self).as_ptr());
    }
}

/// Byte that fills fresh headroom and tailroom of a [`TestBuf`], so that a
/// kernel that forgets to write a byte shows up in comparisons.
pub const TESTBUF_FILL: u8 = 0xA5;

/// A packet buffer on the heap, for tests, benches and fuzzing (no DPDK).
///
/// One `Vec<u8>` holds headroom, the packet and tailroom, like an mbuf's
/// data room. To simulate a chained mbuf, [`TestBuf::chained`] says that
/// the first segment holds only `first_seg_len` bytes: [`PacketBuf::data`]
/// then shows only those, `append` is refused, and `pkt_len` still counts
/// every byte. Prepends grow the first segment and `adj` shrinks it, as
/// DPDK does. Two `TestBuf`s are equal when their whole storage (headroom
/// and tailroom included) and their offsets are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBuf {
    buf: Vec<u8>,
    off: usize,
    len: usize,
    /// `Some(n)`: chained, the first segment holds `n` bytes.
    first_seg: Option<usize>,
}

impl TestBuf {
    /// A single-segment buffer holding `frame`, with `headroom` bytes in
    /// front and `tailroom` after (both filled with [`TESTBUF_FILL`]).
    pub fn new(frame: &[u8], headroom: usize, tailroom: usize) -> TestBuf {
        let mut buf = vec![TESTBUF_FILL; headroom + frame.len() + tailroom];
        buf[headroom..headroom + frame.len()].copy_from_slice(frame);
        TestBuf {
            buf,
            off: headroom,
            len: frame.len(),
            first_seg: None,
        }
    }

    /// Like [`TestBuf::new`], but chained: the first segment holds only
    /// `first_seg_len` bytes (at most the frame's length).
    pub fn chained(
        frame: &[u8],
        headroom: usize,
        tailroom: usize,
        first_seg_len: usize,
    ) -> TestBuf {
        let mut b = TestBuf::new(frame, headroom, tailroom);
        b.first_seg = Some(first_seg_len.min(frame.len()));
        b
    }

    /// The whole packet, all segments.
    pub fn frame(&self) -> &[u8] {
        &self.buf[self.off..self.off + self.len]
    }

    /// The whole storage: headroom, packet, tailroom.
    pub fn storage(&self) -> &[u8] {
        &self.buf
    }

    /// `Some(bytes in the first segment)` for a chained buffer.
    pub fn first_seg_len(&self) -> Option<usize> {
        self.first_seg
    }

    /// Puts the data back at `headroom` with length `len` and the given
    /// first-segment length, without touching the bytes (cheap reset for
    /// benches). Panics if it does not fit the storage.
    pub fn reset(&mut self, headroom: usize, len: usize, first_seg: Option<usize>) {
        assert!(headroom + len <= self.buf.len(), "reset beyond storage");
        self.off = headroom;
        self.len = len;
        self.first_seg = first_seg.map(|n| n.min(len));
    }

    /// Overwrites the storage at offset `at` (test set-up).
    pub fn write_storage(&mut self, at: usize, bytes: &[u8]) {
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn seg_len(&self) -> usize {
        self.first_seg.unwrap_or(self.len)
    }
}

impl PacketBuf for TestBuf {
    #[inline]
    fn headroom(&self) -> usize {
        self.off
    }

    #[inline]
    fn tailroom(&self) -> usize {
        self.buf.len() - self.off - self.len
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.off..self.off + self.seg_len()]
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let end = self.off + self.seg_len();
        &mut self.buf[self.off..end]
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        if self.off < n {
            return Err(BufError::NoHeadroom);
        }
        self.off -= n;
        self.len += n;
        if let Some(s) = &mut self.first_seg {
            *s += n;
        }
        Ok(self.data_mut())
    }

    #[inline]
    fn adj(&mut self, n: usize) -> Result<(), BufError> {
        if self.seg_len() < n {
            return Err(BufError::TooShort);
        }
        self.off += n;
        self.len -= n;
        if let Some(s) = &mut self.first_seg {
            *s -= n;
        }
        Ok(())
    }

    #[inline]
    fn append(&mut self, n: usize) -> Result<&mut [u8], BufError> {
        if self.first_seg.is_some() {
            return Err(BufError::Chained);
        }
        if self.tailroom() < n {
            return Err(BufError::NoTailroom);
        }
        let old = self.off + self.len;
        self.len += n;
        Ok(&mut self.buf[old..old + n])
    }

    #[inline]
    fn is_contiguous(&self) -> bool {
        self.first_seg.is_none()
    }

    #[inline]
    fn data_len(&self) -> usize {
        self.seg_len()
    }

    #[inline]
    fn pkt_len(&self) -> usize {
        self.len
    }

    #[inline]
    fn head(&mut self) -> Head {
        Head {
            data: self.buf.as_mut_ptr().wrapping_add(self.off),
            headroom: self.off,
            data_len: self.seg_len(),
            pkt_len: self.len,
        }
    }

    #[inline]
    unsafe fn move_front(&mut self, h: &Head, delta: isize) {
        debug_assert!(h.headroom == self.off && h.pkt_len == self.len);
        self.off = self.off.wrapping_add_signed(delta);
        self.len = self.len.wrapping_add_signed(-delta);
        if let Some(s) = &mut self.first_seg {
            *s = s.wrapping_add_signed(-delta);
        }
    }

    unsafe fn grow_to(&mut self, len: usize) {
        debug_assert!(
            self.first_seg.is_none() && len >= self.len && len - self.len <= self.tailroom()
        );
        self.len = len;
    }

    // `prefetch`: the default no-op; a TestBuf's data is in cache anyway.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testbuf_ops() {
        let mut b = TestBuf::new(&[1, 2, 3, 4], 2, 1);
        assert_eq!(
            (b.headroom(), b.tailroom(), b.data_len(), b.pkt_len()),
            (2, 1, 4, 4)
        );
        assert_eq!(b.prepend(3), Err(BufError::NoHeadroom));
        assert_eq!(b.append(2), Err(BufError::NoTailroom));
        b.prepend(2).unwrap()[..2].copy_from_slice(&[9, 9]);
        assert_eq!(b.frame(), &[9, 9, 1, 2, 3, 4]);
        b.append(1).unwrap()[0] = 7;
        assert_eq!(b.data(), &[9, 9, 1, 2, 3, 4, 7]);
        assert_eq!(b.adj(8), Err(BufError::TooShort));
        b.adj(3).unwrap();
        assert_eq!(b.data(), &[2, 3, 4, 7]);
        assert!(b.is_contiguous());
    }

    #[test]
    fn testbuf_chained() {
        let mut b = TestBuf::chained(&[1, 2, 3, 4, 5, 6], 4, 4, 2);
        assert!(!b.is_contiguous());
        assert_eq!((b.data(), b.pkt_len()), (&[1u8, 2][..], 6));
        assert_eq!(b.append(1), Err(BufError::Chained));
        assert_eq!(b.adj(3), Err(BufError::TooShort));
        assert_eq!(b.prepend(2).unwrap().len(), 4);
        assert_eq!((b.data_len(), b.pkt_len()), (4, 8));
        b.adj(4).unwrap();
        assert_eq!(
            (b.data_len(), b.pkt_len(), b.frame()),
            (0, 4, &[3u8, 4, 5, 6][..])
        );
    }
}
