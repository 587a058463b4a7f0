//! x86_64 SIMD kernels (SSE4.1 and AVX2 builds of one body).
//!
//! Same checks as the scalar kernels (shared code); only the byte moves
//! differ:
//!
//! - encap: one 16-byte load of the old front (MACs + EtherType + 2),
//!   `pinsrd` of the first 4 tag bytes into lanes 12..16, one 16-byte store
//!   at the new front, then the last `TAG_LEN - 4` tag bytes (0, 2 or 4);
//! - decap: one 16-byte load of the front, `pinsrd` of the 4 bytes that
//!   follow the tag's end (inner EtherType + 2, unchanged) into lanes
//!   12..16, one 16-byte store at front + `TAG_LEN`.
//!
//! Frames whose first segment is too short for a 16-byte access take the
//! scalar move. Packets go in groups of 4 with the data of the next group
//! prefetched, then a tail. Every function here is `unsafe` only because
//! of its target feature: [`super::Kernels`] calls it after checking the
//! CPU once.

use core::arch::x86_64::{
    __m128i, _MM_HINT_T0, _mm_insert_epi32, _mm_loadu_si128, _mm_prefetch, _mm_storeu_si128,
};

use super::buf::PacketBuf;
use super::scalar::{decap_check, decap_finish, encap_check, encap_move};
use super::tag::{TagBytes, TagKind};
use super::{Disposition, MAC_LEN};
use crate::drop::DropReason;

/// Packets per group.
const GROUP: usize = 4;

/// Prefetches the first cache line of the next group's frames.
#[inline(always)]
fn prefetch_group<B: PacketBuf>(pkts: &[B], from: usize) {
    for b in pkts.iter().skip(from).take(GROUP) {
        let p = b.data().as_ptr();
        // SAFETY: a prefetch is a hint: it never faults and reads nothing
        // observable; `p` is the start of a live slice.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
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
    let tag = match encap_check(b, table, veth) {
        Ok(tag) => tag,
        Err(r) => return Disposition::Drop(r),
    };
    let t = K::TAG_LEN;
    let Ok(d) = b.prepend(t) else {
        return Disposition::Drop(DropReason::NoHeadroom);
    };
    if d.len() < t + 16 {
        encap_move(d, tag);
        return Disposition::Ok;
    }
    let raw = tag.raw();
    let head = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let p = d.as_mut_ptr();
    // SAFETY: `d` is the first segment after the prepend and holds at
    // least t + 16 bytes, so p + t .. p + t + 16 (old front) is readable
    // and p .. p + 16 and p + 16 .. p + 12 + t (t <= 8) are writable; the
    // load happens before the overlapping store. SSE4.1 (pinsrd) is the
    // caller's contract.
    unsafe {
        let v = _mm_loadu_si128(p.add(t).cast::<__m128i>());
        let v = _mm_insert_epi32::<3>(v, head);
        _mm_storeu_si128(p.cast::<__m128i>(), v);
        core::ptr::copy_nonoverlapping(raw.as_ptr().add(4), p.add(16), t - 4);
    }
    Disposition::Ok
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
    let pad = match decap_check::<K, B, PAD>(b, meta) {
        Ok(pad) => pad,
        Err(r) => {
            *meta = K::Meta::default();
            return Disposition::Drop(r);
        }
    };
    let t = K::TAG_LEN;
    let d = b.data_mut();
    if d.len() < t + 16 {
        d.copy_within(0..MAC_LEN, t);
    } else {
        let p = d.as_mut_ptr();
        // SAFETY: the first segment holds at least t + 16 bytes, so
        // p .. p + t + 16 is readable and writable; both loads happen
        // before the store. Lanes 12..16 of the store rewrite the bytes
        // that are already there. SSE4.1 is the caller's contract.
        unsafe {
            let v = _mm_loadu_si128(p.cast::<__m128i>());
            let keep = core::ptr::read_unaligned(p.add(t + MAC_LEN).cast::<i32>());
            let v = _mm_insert_epi32::<3>(v, keep);
            _mm_storeu_si128(p.add(t).cast::<__m128i>(), v);
        }
    }
    decap_finish::<K, B>(b, pad)
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
        prefetch_group(pkts, i + GROUP);
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
        prefetch_group(pkts, i + GROUP);
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
