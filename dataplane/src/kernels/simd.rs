//! x86_64 SIMD kernels (SSE4.1 and AVX2 builds of one body).
//!
//! Each packet first tries a vector fast path that checks everything at
//! once and only applies to packets that the scalar checks accept; any
//! other packet (a drop, a short or chained first segment, padding needed)
//! takes the scalar path, which finds the reason. So results are the
//! scalar ones by construction, and `tests/kernels_equiv.rs` checks it.
//!
//! - encap: one 16-byte load of the front (MACs + EtherType + 2); the
//!   EtherType is broadcast (`pshufb`) and compared with the five tag TPIDs
//!   at once (`pcmpeqw`); then the first 4 tag bytes go into lanes 12..16
//!   (`pinsrd`), one 16-byte store at the new front, and the last
//!   `TAG_LEN - 4` tag bytes.
//! - decap: one 16-byte load at offset 12 (TPID, TCI, inner EtherType):
//!   VN-Tag `ver` / E-Tag ext bytes tested with one `ptest` against a mask,
//!   inner EtherType broadcast and compared with the five tag TPIDs; then
//!   one 16-byte load of the front, `pinsrd` of the 4 bytes that follow
//!   the tag (unchanged), one 16-byte store at front + `TAG_LEN`.
//!
//! Packets go in groups of 4 with the next group prefetched
//! ([`PacketBuf::prefetch`]), then a tail. Every function here is `unsafe`
//! only because of its target feature: [`super::Kernels`] calls them after
//! checking the CPU once.

use core::arch::x86_64::{
    __m128i, _MM_HINT_T0, _mm_cmpeq_epi16, _mm_insert_epi32, _mm_loadu_si128, _mm_movemask_epi8,
    _mm_prefetch, _mm_shuffle_epi8, _mm_storeu_si128, _mm_testz_si128,
};

use super::buf::PacketBuf;
use super::scalar::{self, decap_finish};
use super::tag::{TagBytes, TagKind};
use super::{Disposition, MAC_LEN, MIN_FRAME_LEN};
use crate::drop::DropReason;

/// Packets per group.
const GROUP: usize = 4;

/// The five TPIDs that may not follow the MACs of a VM's frame, nor an
/// extender tag (wire order; 0x8926 repeated to fill the vector).
static TAG_TPIDS: [u8; 16] = [
    0x89, 0x26, 0x89, 0x3f, 0x88, 0xa8, 0x91, 0x00, 0x92, 0x00, 0x89, 0x26, 0x89, 0x26, 0x89, 0x26,
];

/// `pshufb` control that repeats bytes `at`, `at + 1` in every 16-bit lane.
const fn broadcast16(at: usize) -> [u8; 16] {
    let mut c = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        c[i] = (at + i % 2) as u8;
        i += 1;
    }
    c
}

/// Hints the CPU to fetch the line at `p` (any address: a prefetch never
/// faults). Safe; used by [`PacketBuf::prefetch`] for mbufs.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    // SAFETY: a prefetch is only a hint: it never faults and changes no
    // architectural state, whatever the address; SSE is baseline on x86_64.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
}

/// Loads 16 bytes from a constant table.
///
/// # Safety
/// SSE2 (baseline on x86_64); `t` is 16 bytes, so the load is in bounds.
#[inline(always)]
unsafe fn load_const(t: &[u8; 16]) -> __m128i {
    // SAFETY: `t` holds 16 readable bytes; unaligned load.
    unsafe { _mm_loadu_si128(t.as_ptr().cast::<__m128i>()) }
}

/// Whether the 16-bit big-endian value at bytes `at..at + 2` of `v` is one
/// of the five tag TPIDs.
///
/// # Safety
/// The CPU must support SSE4.1 (implies SSSE3 for `pshufb`).
#[inline(always)]
unsafe fn is_tag_tpid(v: __m128i, ctl: &[u8; 16]) -> bool {
    // SAFETY: SSE4.1 is the caller's contract; the loads are of 16-byte
    // tables.
    unsafe {
        let et = _mm_shuffle_epi8(v, load_const(ctl));
        _mm_movemask_epi8(_mm_cmpeq_epi16(et, load_const(&TAG_TPIDS))) != 0
    }
}

/// Encap of one packet.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn encap_one<K: TagKind, B: PacketBuf>(
    b: &mut B,
    table: &[TagBytes<K>],
    veth: u16,
) -> Disposition {
    const ET_CTL: [u8; 16] = broadcast16(MAC_LEN);
    let t = K::TAG_LEN;
    let d = b.data();
    if d.len() >= 16 && b.headroom() >= t {
        // SAFETY: the first segment holds at least 16 bytes; SSE4.1 is the
        // caller's contract.
        let (v, injected) = unsafe {
            let v = _mm_loadu_si128(d.as_ptr().cast::<__m128i>());
            (v, is_tag_tpid(v, &ET_CTL))
        };
        if let (false, Some(tag)) = (injected, table.get(usize::from(veth))) {
            // Every scalar check passes: >= 16 bytes in the first segment,
            // no tag TPID, headroom, known vEth.
            let Ok(d) = b.prepend(t) else {
                return Disposition::Drop(DropReason::NoHeadroom);
            };
            let raw = tag.raw();
            let head = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
            let p = d.as_mut_ptr();
            // SAFETY: after the prepend the first segment holds at least
            // t + 16 bytes, so p .. p + 12 + t is writable (t <= 8 < 16
            // + 4); `v` was loaded before. SSE4.1 is the caller's contract.
            unsafe {
                let v = _mm_insert_epi32::<3>(v, head);
                _mm_storeu_si128(p.cast::<__m128i>(), v);
                core::ptr::copy_nonoverlapping(raw.as_ptr().add(4), p.add(16), t - 4);
            }
            return Disposition::Ok;
        }
    }
    match scalar::encap_check(b, table, veth) {
        Ok(tag) => scalar::encap_push(b, tag),
        Err(r) => Disposition::Drop(r),
    }
}

/// Decap of one packet.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn decap_one<K: TagKind, B: PacketBuf, const PAD: bool>(
    b: &mut B,
    meta: &mut K::Meta,
) -> Disposition {
    let t = K::TAG_LEN;
    let d = b.data();
    // 16 bytes from offset 12 must be in the first segment; frames that
    // need padding take the scalar path.
    if d.len() >= MAC_LEN + 16 && (!PAD || b.pkt_len() >= MIN_FRAME_LEN + t) {
        let tpid = u16::from_be_bytes([d[MAC_LEN], d[MAC_LEN + 1]]);
        // SAFETY: the first segment holds at least 28 bytes, so
        // p + 12 .. p + 28 is readable. SSE4.1 is the caller's contract.
        let ok = unsafe {
            let w = _mm_loadu_si128(d.as_ptr().add(MAC_LEN).cast::<__m128i>());
            (_mm_testz_si128(w, load_const(&const { K::FAST_MASK })) != 0)
                & !is_tag_tpid(w, &const { broadcast16(K::TAG_LEN) })
        };
        if ok && K::tpid_ok(tpid) {
            // Every scalar check passes: the whole tag and inner EtherType
            // in the first segment, TPID, ver / ext, inner EtherType, no pad.
            *meta = K::fields(&d[MAC_LEN..]);
            let p = b.data_mut().as_mut_ptr();
            // SAFETY: the first segment holds at least 28 >= t + 16 bytes,
            // so p .. p + t + 16 is readable and writable; both loads come
            // before the store, whose lanes 12..16 rewrite the bytes already
            // there. SSE4.1 is the caller's contract.
            unsafe {
                let v = _mm_loadu_si128(p.cast::<__m128i>());
                let keep = core::ptr::read_unaligned(p.add(t + MAC_LEN).cast::<i32>());
                let v = _mm_insert_epi32::<3>(v, keep);
                _mm_storeu_si128(p.add(t).cast::<__m128i>(), v);
            }
            return decap_finish::<K, B>(b, 0);
        }
    }
    match scalar::decap_check::<K, B, PAD>(b, meta) {
        Ok(pad) => {
            b.data_mut().copy_within(0..MAC_LEN, t);
            decap_finish::<K, B>(b, pad)
        }
        Err(r) => {
            *meta = K::Meta::default();
            Disposition::Drop(r)
        }
    }
}

/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn encap_burst<K: TagKind, B: PacketBuf>(
    pkts: &mut [B],
    veth: &[u16],
    table: &[TagBytes<K>],
    next: &mut [Disposition],
) {
    let n = pkts.len();
    let (veth, next) = (&veth[..n], &mut next[..n]);
    let mut i = 0;
    while i + GROUP <= n {
        scalar::prefetch_group(pkts, i + GROUP);
        for j in i..i + GROUP {
            // SAFETY: SSE4.1 is this function's contract.
            next[j] = unsafe { encap_one(&mut pkts[j], table, veth[j]) };
        }
        i += GROUP;
    }
    for j in i..n {
        // SAFETY: as above.
        next[j] = unsafe { encap_one(&mut pkts[j], table, veth[j]) };
    }
}

/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn decap_burst<K: TagKind, B: PacketBuf, const PAD: bool>(
    pkts: &mut [B],
    meta: &mut [K::Meta],
    next: &mut [Disposition],
) {
    let n = pkts.len();
    let (meta, next) = (&mut meta[..n], &mut next[..n]);
    let mut i = 0;
    while i + GROUP <= n {
        scalar::prefetch_group(pkts, i + GROUP);
        for j in i..i + GROUP {
            // SAFETY: SSE4.1 is this function's contract.
            next[j] = unsafe { decap_one::<K, B, PAD>(&mut pkts[j], &mut meta[j]) };
        }
        i += GROUP;
    }
    for j in i..n {
        // SAFETY: as above.
        next[j] = unsafe { decap_one::<K, B, PAD>(&mut pkts[j], &mut meta[j]) };
    }
}

macro_rules! isa_kernels {
    ($feature:literal, $encap:ident, $decap:ident) => {
        #[doc = concat!("[`super::scalar::encap`] built for ", $feature, ".")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $feature, ".")]
        ///
        /// # Panics
        /// If `veth` or `next` is shorter than `pkts`.
        #[target_feature(enable = $feature)]
        pub unsafe fn $encap<K: TagKind, B: PacketBuf>(
            pkts: &mut [B],
            veth: &[u16],
            table: &[TagBytes<K>],
            next: &mut [Disposition],
        ) {
            // SAFETY: this function's target feature implies SSE4.1.
            unsafe { encap_burst(pkts, veth, table, next) }
        }

        #[doc = concat!("[`super::scalar::decap`] built for ", $feature, ".")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $feature, ".")]
        ///
        /// # Panics
        /// If `meta` or `next` is shorter than `pkts`.
        #[target_feature(enable = $feature)]
        pub unsafe fn $decap<K: TagKind, B: PacketBuf, const PAD: bool>(
            pkts: &mut [B],
            meta: &mut [K::Meta],
            next: &mut [Disposition],
        ) {
            // SAFETY: this function's target feature implies SSE4.1.
            unsafe { decap_burst::<K, B, PAD>(pkts, meta, next) }
        }
    };
}

isa_kernels!("sse4.1", encap_sse41, decap_sse41);
isa_kernels!("avx2", encap_avx2, decap_avx2);
