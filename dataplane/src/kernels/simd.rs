//! x86_64 SIMD kernels (SSE4.1 and AVX2 builds of one body).
//!
//! Each packet first tries a vector fast path that checks everything at
//! once and only applies to packets that the scalar checks accept; any
//! other packet (a drop, a short first segment, padding on a chained
//! packet) takes the scalar path, which finds the reason. So results are the
//! scalar ones by construction, and `tests/kernels_equiv.rs` checks it.
//!
//! The fast paths read the mbuf once ([`PacketBuf::head`]: data pointer,
//! headroom, lengths) and write it once ([`PacketBuf::move_front`]: the
//! offset, and both lengths with one 64-bit add), because their byte
//! stores could alias the mbuf as far as the compiler knows.
//!
//! - encap: one 16-byte load of the front (MACs + EtherType + 2); the
//!   EtherType is broadcast and compared with the five tag TPIDs at once
//!   (`pcmpeqw`); then the first 4 tag bytes go into lanes 12..16
//!   (`pinsrd`), one 16-byte store at the new front, and the last
//!   `TAG_LEN - 4` tag bytes.
//! - decap: one 16-byte load at offset 12 (TPID, TCI, inner EtherType):
//!   TPID and VN-Tag `ver` / E-Tag ext bits checked under one mask, the
//!   inner EtherType against the five tag TPIDs, one `ptest` for all;
//!   the tag header goes to `meta` with one 8-byte store; the 12 MAC bytes
//!   move with an 8- and a 4-byte load and store. A one-segment frame
//!   that needs padding (under 60 bytes once stripped, with the tailroom)
//!   gets its zeros from masked 16-byte stores over the tail (lanes before
//!   the old end keep their bytes; one store for a 64-byte wire frame).
//!
//! Packets go in unrolled groups of 4 (fast paths first, then the scalar
//! path for the ones that need it), then a tail. Every function here is
//! `unsafe` only because of its target feature: [`super::Kernels`] calls them after
//! checking the CPU once.

use core::arch::x86_64::{
    __m128i, _MM_HINT_T0, _mm_and_si128, _mm_cmpeq_epi16, _mm_cmpgt_epi8, _mm_insert_epi32,
    _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_prefetch, _mm_set1_epi8,
    _mm_shuffle_epi8, _mm_storel_epi64, _mm_storeu_si128, _mm_testz_si128, _mm_xor_si128,
};

use super::buf::PacketBuf;
use super::scalar::{self, decap_finish};
use super::tag::{TagBytes, TagHeader, TagKind};
use super::{Disposition, MAC_LEN, MIN_FRAME_LEN};

/// The five TPIDs that may not follow the MACs of a VM's frame, nor an
/// extender tag (wire order; 0x8926 repeated to fill the vector).
static TAG_TPIDS: [u8; 16] = [
    0x89, 0x26, 0x89, 0x3f, 0x88, 0xa8, 0x91, 0x00, 0x92, 0x00, 0x89, 0x26, 0x89, 0x26, 0x89, 0x26,
];

/// The three S-tag TPIDs (wire order; 0x88A8 repeated to fill the vector).
static STAG_TPIDS: [u8; 16] = [
    0x88, 0xa8, 0x91, 0x00, 0x92, 0x00, 0x88, 0xa8, 0x88, 0xa8, 0x88, 0xa8, 0x88, 0xa8, 0x88, 0xa8,
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

/// Whether the 16-bit big-endian value at the bytes of `v` that `ctl`
/// broadcasts is one of the five tag TPIDs.
///
/// # Safety
/// The CPU must support SSE4.1 (implies SSSE3 for `pshufb`).
#[inline(always)]
unsafe fn is_tag_tpid(v: __m128i, ctl: &[u8; 16]) -> bool {
    // SAFETY: SSE4.1 is the caller's contract.
    unsafe { is_tag_tpid_in(v, ctl, &TAG_TPIDS) }
}

/// Whether the 16-bit value at the bytes of `v` that `ctl` broadcasts is
/// one of the TPIDs in `set`.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn is_tag_tpid_in(v: __m128i, ctl: &[u8; 16], set: &[u8; 16]) -> bool {
    // SAFETY: SSE4.1 is the caller's contract; the loads are of 16-byte
    // tables.
    unsafe {
        let et = _mm_shuffle_epi8(v, load_const(ctl));
        _mm_movemask_epi8(_mm_cmpeq_epi16(et, load_const(set))) != 0
    }
}

/// The vector fast path of one encap with `tag`: `true` if done, `false`
/// if the packet needs the scalar path (which finds the reason); then it is
/// untouched.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn encap_fast<K: TagKind, B: PacketBuf>(b: &mut B, tag: &TagBytes<K>) -> bool {
    const ET_CTL: [u8; 16] = broadcast16(MAC_LEN);
    let t = K::TAG_LEN;
    let h = b.head();
    if h.data_len < 16 || h.headroom < t {
        return false;
    }
    // SAFETY: the first segment holds at least 16 bytes from h.data;
    // SSE4.1 is the caller's contract.
    let (v, injected) = unsafe {
        let v = _mm_loadu_si128(h.data.cast::<__m128i>());
        (v, is_tag_tpid(v, &ET_CTL))
    };
    if injected {
        return false;
    }
    // Every scalar check passes: >= 16 bytes in the first segment, no tag
    // TPID, headroom (the vEth is known: the caller has its tag).
    let raw = tag.raw();
    let head = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let p = h.data.wrapping_sub(t);
    // SAFETY: p .. p + 12 + t is h.data - t .. h.data + 12, inside the
    // headroom (>= t) and the first 16 data bytes: one 16-byte store of
    // the MACs + the first 4 tag bytes, then the last t - 4 tag bytes; `v`
    // was loaded before. move_front gets this buffer's head and -t within
    // -headroom..=data_len. SSE4.1 is the caller's contract.
    unsafe {
        let v = _mm_insert_epi32::<3>(v, head);
        _mm_storeu_si128(p.cast::<__m128i>(), v);
        core::ptr::copy_nonoverlapping(raw.as_ptr().add(4), p.add(16), t - 4);
        b.move_front(&h, -(t as isize));
    }
    true
}

/// The scalar path of one encap: the reason, or the scalar edit.
#[cold]
#[inline(never)]
fn encap_slow<K: TagKind, B: PacketBuf>(
    b: &mut B,
    table: &[TagBytes<K>],
    veth: u16,
) -> Disposition {
    match scalar::encap_check(b, table, veth) {
        Ok(tag) => scalar::encap_push(b, tag),
        Err(r) => Disposition::Drop(r),
    }
}

/// The vector fast path of one decap: `true` if done, `false` if the
/// packet needs the scalar path (which finds the reason); then it is
/// untouched.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn decap_fast<K: TagKind, B: PacketBuf, const PAD: bool>(
    b: &mut B,
    meta: &mut TagHeader<K>,
) -> bool {
    let t = K::TAG_LEN;
    // 16 bytes from offset 12 in the first segment (the whole tag and the
    // inner EtherType, whatever the kind): anything shorter takes the
    // scalar path.
    let h = b.head();
    if h.data_len >= MAC_LEN + 16 {
        // SAFETY: the first segment holds at least 28 bytes, so
        // h.data + 12 .. + 28 is readable. SSE4.1 is the caller's contract.
        let (w, ok) = unsafe {
            let w = _mm_loadu_si128(h.data.add(MAC_LEN).cast::<__m128i>());
            // TPID (VN-Tag, E-Tag) and ver / ext bits under one mask ...
            let bad = _mm_and_si128(
                _mm_xor_si128(w, load_const(&const { K::FAST_EXPECT })),
                load_const(&const { K::FAST_MASK }),
            );
            // ... and the inner EtherType against the five tag TPIDs.
            let et = _mm_shuffle_epi8(w, load_const(&const { broadcast16(K::TAG_LEN) }));
            let bad = _mm_or_si128(bad, _mm_cmpeq_epi16(et, load_const(&TAG_TPIDS)));
            (w, _mm_testz_si128(bad, bad) != 0)
        };
        // S-tag: three TPIDs, checked apart (FAST_MASK leaves them out):
        // the TPID broadcast and compared with the three at once.
        // SAFETY: SSE4.1 is the caller's contract; 16-byte constant loads.
        let tpid_ok = K::FAST_MASK[0] != 0
            || unsafe { is_tag_tpid_in(w, &const { broadcast16(0) }, &STAG_TPIDS) };
        if !(ok && tpid_ok) {
            return false;
        }
        // With PAD, a frame under 60 bytes after the strip is padded here
        // when it is one segment with the tailroom, as the scalar check
        // requires, and its two lengths agree; anything else goes to the
        // scalar path, which pads it or finds `no_tailroom`.
        let pad = if PAD && h.data_len < MIN_FRAME_LEN + t {
            let need = (MIN_FRAME_LEN + t).saturating_sub(h.pkt_len);
            if need != 0 && (h.pkt_len != h.data_len || !b.is_contiguous() || b.tailroom() < need) {
                return false;
            }
            need
        } else {
            0
        };
        // Every scalar check passes: the whole tag and inner EtherType in
        // the first segment, TPID, ver / ext, inner EtherType, and the
        // padding fits.
        let p = h.data;
        // SAFETY: the first segment holds at least 28 >= t + 12 bytes: the
        // two loads (p .. p + 12) come before the stores to p + t .. p + t
        // + 12. The meta store writes its 8 bytes (the header from the
        // TPID, zeros past META_LEN). move_front gets this buffer's head
        // and t <= data_len. SSE4.1 is the caller's contract.
        unsafe {
            let w = if K::META_LEN < 8 {
                _mm_and_si128(w, load_const(&const { meta_mask(K::META_LEN) }))
            } else {
                w
            };
            _mm_storel_epi64(meta.bytes_mut().as_mut_ptr().cast::<__m128i>(), w);
            let lo = core::ptr::read_unaligned(p.cast::<u64>());
            let hi = core::ptr::read_unaligned(p.add(8).cast::<u32>());
            core::ptr::write_unaligned(p.add(t + 8).cast::<u32>(), hi);
            core::ptr::write_unaligned(p.add(t).cast::<u64>(), lo);
            b.move_front(&h, t as isize);
        }
        if pad != 0 {
            // SAFETY: one segment of data_len bytes with at least `pad`
            // bytes of tailroom, so p .. p + t + 60 (= data_len + pad) is
            // inside the buffer; the blocks cover p + t + 12 .. p +
            // t + 60, after the moved MACs. SSE4.1 is the caller's
            // contract.
            unsafe { zero_tail(p, t + MAC_LEN, h.data_len) };
            // SAFETY: one segment; the stripped frame has data_len - t
            // bytes and 60 - (data_len - t) = pad <= tailroom.
            unsafe { b.grow_to(MIN_FRAME_LEN) };
        }
        return true;
    }
    false
}

/// Zeros the bytes from `end` to `at + 48` (offsets from `p`) and leaves
/// those before `end` as they are: 16-byte blocks from `at + 32` down to
/// the one holding `end`, each loaded, masked to the lanes before `end`,
/// and stored; blocks wholly before `end` are not touched (a 64-byte wire
/// frame needs only the last). No byte outside `at .. at + 48` is written,
/// so the result is the scalar padding's.
///
/// # Safety
/// `p + at .. p + at + 48` is readable and writable; SSE4.1.
#[inline(always)]
unsafe fn zero_tail(p: *mut u8, at: usize, end: usize) {
    const LANES: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    for blk in (0..3).rev() {
        let o = at + 16 * blk;
        if o + 16 <= end {
            break;
        }
        // Lanes to keep: o + i < end, i.e. i < end - o (clamped to -1..=16).
        let keep = (end as isize - o as isize).clamp(-1, 16) as i8;
        // SAFETY: p + o .. p + o + 16 is inside the caller's range.
        unsafe {
            let q = p.add(o).cast::<__m128i>();
            let mask = _mm_cmpgt_epi8(_mm_set1_epi8(keep), load_const(&LANES));
            _mm_storeu_si128(q, _mm_and_si128(_mm_loadu_si128(q), mask));
        }
    }
}

/// The scalar path of one decap: the reason, or the scalar edit.
#[cold]
#[inline(never)]
fn decap_slow<K: TagKind, B: PacketBuf, const PAD: bool>(
    b: &mut B,
    meta: &mut TagHeader<K>,
) -> Disposition {
    match scalar::decap_check::<K, B, PAD>(b, meta) {
        Ok(pad) => {
            b.data_mut().copy_within(0..MAC_LEN, K::TAG_LEN);
            decap_finish::<K, B>(b, pad)
        }
        Err(r) => {
            *meta = TagHeader::<K>::default();
            Disposition::Drop(r)
        }
    }
}

/// A mask that keeps the first `n` of 16 bytes.
const fn meta_mask(n: usize) -> [u8; 16] {
    let mut m = [0u8; 16];
    let mut i = 0;
    while i < n {
        m[i] = 0xff;
        i += 1;
    }
    m
}

/// Packets per unrolled step: the fast paths of 4 packets, then the
/// scalar path for those that need it (packets are independent).
const GROUP: usize = 4;

/// Runs `fast` on every index of `0..n` in unrolled groups of [`GROUP`],
/// then `slow` on each index whose `fast` returned `false`, and writes
/// `next`: `Ok` for a whole group with one 4-byte store, then the slow
/// path's disposition where it ran (no `memset` call per burst, no
/// per-packet store on the fast path). Evaluates to the number of drops.
/// A macro rather than a function taking two closures: both borrow the
/// burst mutably.
///
/// Inside a group, the per-packet slices named in `mut [..]` and `ref [..]`
/// are shadowed by `&mut [_; GROUP]` / `&[_; GROUP]` views of the group
/// (one bounds check per slice and group), and `fast` and `slow` get the
/// index within the group: with constant indices into arrays, the
/// unrolled fast paths carry no bounds checks. The tail (fewer than
/// `GROUP` packets) indexes the whole slices.
macro_rules! unrolled {
    (
        $n:expr, $next:expr, mut [$($m:ident),*], ref [$($r:ident),*],
        |$j:ident| $fast:expr, |$k:ident| $slow:expr
    ) => {{
        let n: usize = $n;
        let next: &mut [Disposition] = $next;
        let mut drops = 0usize;
        let mut base = 0;
        while base + GROUP <= n {
            let group: &mut [Disposition; GROUP] = (&mut next[base..base + GROUP])
                .try_into()
                .expect("a group is GROUP long");
            $(
                let $m: &mut [_; GROUP] = (&mut $m[base..base + GROUP])
                    .try_into()
                    .expect("a group is GROUP long");
            )*
            $(
                let $r: &[_; GROUP] = (&$r[base..base + GROUP])
                    .try_into()
                    .expect("a group is GROUP long");
            )*
            let done = [
                {
                    let $j = 0;
                    $fast
                },
                {
                    let $j = 1;
                    $fast
                },
                {
                    let $j = 2;
                    $fast
                },
                {
                    let $j = 3;
                    $fast
                },
            ];
            *group = [Disposition::Ok; GROUP];
            if !(done[0] & done[1] & done[2] & done[3]) {
                for (i, ok) in done.into_iter().enumerate() {
                    if !ok {
                        let $k = i;
                        let d: Disposition = $slow;
                        drops += usize::from(!d.is_ok());
                        group[i] = d;
                    }
                }
            }
            base += GROUP;
        }
        for i in base..n {
            let ok = {
                let $j = i;
                $fast
            };
            next[i] = if ok {
                Disposition::Ok
            } else {
                let $k = i;
                let d: Disposition = $slow;
                drops += usize::from(!d.is_ok());
                d
            };
        }
        drops
    }};
}

/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn encap_burst<K: TagKind, B: PacketBuf>(
    pkts: &mut [B],
    veth: &[u16],
    table: &[TagBytes<K>],
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    let veth = &veth[..n];
    unrolled!(
        n,
        &mut next[..n],
        mut [pkts],
        ref [veth],
        |j| match table.get(usize::from(veth[j])) {
            // SAFETY: SSE4.1 is this function's contract.
            Some(tag) => unsafe { encap_fast(&mut pkts[j], tag) },
            None => false,
        },
        |k| encap_slow(&mut pkts[k], table, veth[k])
    )
}

/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn encap_uniform_burst<K: TagKind, B: PacketBuf>(
    pkts: &mut [B],
    tag: &TagBytes<K>,
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    unrolled!(
        n,
        &mut next[..n],
        mut [pkts],
        ref [],
        // SAFETY: SSE4.1 is this function's contract.
        |j| unsafe { encap_fast(&mut pkts[j], tag) },
        |k| encap_slow(&mut pkts[k], core::slice::from_ref(tag), 0)
    )
}

/// # Safety
/// The CPU must support SSE4.1.
#[inline(always)]
unsafe fn decap_burst<K: TagKind, B: PacketBuf, const PAD: bool>(
    pkts: &mut [B],
    meta: &mut [TagHeader<K>],
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    let meta = &mut meta[..n];
    unrolled!(
        n,
        &mut next[..n],
        mut [pkts, meta],
        ref [],
        // SAFETY: SSE4.1 is this function's contract.
        |j| unsafe { decap_fast::<K, B, PAD>(&mut pkts[j], &mut meta[j]) },
        |k| decap_slow::<K, B, PAD>(&mut pkts[k], &mut meta[k])
    )
}

macro_rules! isa_kernels {
    ($feature:literal, $encap:ident, $encap_uniform:ident, $decap:ident) => {
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
        ) -> usize {
            // SAFETY: this function's target feature implies SSE4.1.
            unsafe { encap_burst(pkts, veth, table, next) }
        }

        #[doc = concat!("[`super::scalar::encap_uniform`] built for ", $feature, ".")]
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $feature, ".")]
        ///
        /// # Panics
        /// If `next` is shorter than `pkts`.
        #[target_feature(enable = $feature)]
        pub unsafe fn $encap_uniform<K: TagKind, B: PacketBuf>(
            pkts: &mut [B],
            tag: &TagBytes<K>,
            next: &mut [Disposition],
        ) -> usize {
            // SAFETY: this function's target feature implies SSE4.1.
            unsafe { encap_uniform_burst(pkts, tag, next) }
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
            meta: &mut [TagHeader<K>],
            next: &mut [Disposition],
        ) -> usize {
            // SAFETY: this function's target feature implies SSE4.1.
            unsafe { decap_burst::<K, B, PAD>(pkts, meta, next) }
        }
    };
}

isa_kernels!("sse4.1", encap_sse41, encap_uniform_sse41, decap_sse41);
isa_kernels!("avx2", encap_avx2, encap_uniform_avx2, decap_avx2);
