//! The scalar kernels: plain safe Rust, the reference (oracle) that every
//! SIMD kernel must match byte for byte.
//!
//! The per-packet checks (`encap_check`, `decap_check`) and the
//! bookkeeping after a strip (`decap_finish`) are shared with the SIMD
//! kernels, which differ only in how they move the bytes.

use super::buf::PacketBuf;
use super::tag::{TagBytes, TagHeader, TagKind};
use super::{Disposition, MAC_LEN, MIN_FRAME_LEN};
use crate::drop::DropReason;
use crate::wire::{ETHERNET_HEADER_LEN, EtherType};

/// The checks of one encap, in order: `runt` (packet < 14 bytes),
/// `chained_header` (first segment < 14 bytes), `tag_injection` (outer
/// EtherType is 0x8926, 0x893F, 0x88A8, 0x9100 or 0x9200), `no_headroom`,
/// then `unknown_vif` (vEth index outside the tag table). Reads only; on
/// `Err` nothing was touched.
#[inline(always)]
pub(super) fn encap_check<'t, K: TagKind, B: PacketBuf>(
    b: &B,
    table: &'t [TagBytes<K>],
    veth: u16,
) -> Result<&'t TagBytes<K>, DropReason> {
    if b.pkt_len() < ETHERNET_HEADER_LEN {
        return Err(DropReason::Runt);
    }
    let d = b.data();
    if d.len() < ETHERNET_HEADER_LEN {
        return Err(DropReason::ChainedHeader);
    }
    let outer = EtherType(u16::from_be_bytes([d[MAC_LEN], d[MAC_LEN + 1]]));
    if outer.is_extender_tag() || outer.is_stag() {
        return Err(DropReason::TagInjection);
    }
    if b.headroom() < K::TAG_LEN {
        return Err(DropReason::NoHeadroom);
    }
    table.get(usize::from(veth)).ok_or(DropReason::UnknownVif)
}

/// The checks of one decap, in order: `runt` (< 14 bytes),
/// `chained_header` (first segment < 14), `bad_tpid`, `truncated_tag`
/// (packet < 14 + TAG_LEN: no whole TCI + inner EtherType),
/// `chained_header` (tag not all in the first segment), the kind's TCI
/// checks (`bad_version`, `ext_ecid`, `stacked_tag`, `malformed`), and with
/// `PAD`, `no_tailroom` when the stripped frame would be under 60 bytes and
/// cannot grow. Writes the metadata to `meta` (garbage on `Err`: the
/// caller resets it) and returns how many pad bytes to append. Reads the
/// packet only.
///
/// The metadata goes out through `meta` rather than in the `Result`: a
/// returned `(Meta, usize)` was packed through the stack by LLVM with
/// mismatched store/load widths (a store-forwarding stall, measured).
#[inline(always)]
pub(super) fn decap_check<K: TagKind, B: PacketBuf, const PAD: bool>(
    b: &B,
    meta: &mut TagHeader<K>,
) -> Result<usize, DropReason> {
    let total = b.pkt_len();
    if total < ETHERNET_HEADER_LEN {
        return Err(DropReason::Runt);
    }
    let d = b.data();
    if d.len() < ETHERNET_HEADER_LEN {
        return Err(DropReason::ChainedHeader);
    }
    if !K::tpid_ok(u16::from_be_bytes([d[MAC_LEN], d[MAC_LEN + 1]])) {
        return Err(DropReason::BadTpid);
    }
    let need = ETHERNET_HEADER_LEN + K::TAG_LEN;
    if total < need {
        return Err(DropReason::TruncatedTag);
    }
    if d.len() < need {
        return Err(DropReason::ChainedHeader);
    }
    *meta = K::check(&d[MAC_LEN..need])?;
    let mut pad = 0;
    if PAD {
        let stripped = total - K::TAG_LEN;
        if stripped < MIN_FRAME_LEN {
            pad = MIN_FRAME_LEN - stripped;
            if !b.is_contiguous() || b.tailroom() < pad {
                return Err(DropReason::NoTailroom);
            }
        }
    }
    Ok(pad)
}

/// After the MACs were moved forward by TAG_LEN: drop the old front and
/// pad with zeros. Cannot fail after [`decap_check`] (the fallback reasons
/// are for a `PacketBuf` that breaks its contract).
#[cold]
fn broken_buf(r: DropReason) -> Disposition {
    Disposition::Drop(r)
}

#[inline(always)]
pub(super) fn decap_finish<K: TagKind, B: PacketBuf>(b: &mut B, pad: usize) -> Disposition {
    if b.adj(K::TAG_LEN).is_err() {
        return broken_buf(DropReason::ChainedHeader);
    }
    if pad != 0 {
        match b.append(pad) {
            Ok(tail) => tail.fill(0),
            Err(_) => return broken_buf(DropReason::NoTailroom),
        }
    }
    Disposition::Ok
}

/// Pushes `tag` on one packet that passed [`encap_check`].
#[inline(always)]
pub(super) fn encap_push<K: TagKind, B: PacketBuf>(b: &mut B, tag: &TagBytes<K>) -> Disposition {
    let Ok(d) = b.prepend(K::TAG_LEN) else {
        return broken_buf(DropReason::NoHeadroom);
    };
    encap_move(d, tag);
    Disposition::Ok
}

/// The byte moves of an encap on the first segment after the prepend:
/// MACs to the new front, then the tag.
#[inline(always)]
pub(super) fn encap_move<K: TagKind>(d: &mut [u8], tag: &TagBytes<K>) {
    d.copy_within(K::TAG_LEN..K::TAG_LEN + MAC_LEN, 0);
    d[MAC_LEN..MAC_LEN + K::TAG_LEN].copy_from_slice(tag.as_bytes());
}

/// Encapsulates one packet: checks, prepend, move the MACs, copy the tag.
#[inline(always)]
fn encap_one<K: TagKind, B: PacketBuf>(b: &mut B, table: &[TagBytes<K>], veth: u16) -> Disposition {
    match encap_check(b, table, veth) {
        Ok(tag) => encap_push(b, tag),
        Err(r) => Disposition::Drop(r),
    }
}

/// Decapsulates one packet: checks, move the MACs forward, adj, pad.
#[inline(always)]
fn decap_one<K: TagKind, B: PacketBuf, const PAD: bool>(
    b: &mut B,
    meta: &mut TagHeader<K>,
) -> Disposition {
    match decap_check::<K, B, PAD>(b, meta) {
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

/// Pushes a tag of kind `K` on every packet of `pkts`; returns how many
/// were dropped.
///
/// `veth[i]` is packet `i`'s vEth index into `table`, the tag bytes the
/// control plane compiled per vEth. The result goes to `next[i]`: `Ok`, or
/// `Drop(reason)` with the packet left byte-for-byte unchanged (see
/// [`crate::kernels`] for the checks).
///
/// # Panics
/// If `veth` or `next` is shorter than `pkts`.
pub fn encap<K: TagKind, B: PacketBuf>(
    pkts: &mut [B],
    veth: &[u16],
    table: &[TagBytes<K>],
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    let (veth, next) = (&veth[..n], &mut next[..n]);
    let mut drops = 0;
    for i in 0..n {
        let d = encap_one(&mut pkts[i], table, veth[i]);
        drops += usize::from(!d.is_ok());
        next[i] = d;
    }
    drops
}

/// Pushes the same tag on every packet of `pkts` (a burst of one vEth, as
/// from a VF's port): [`encap`] with one tag instead of a table; returns
/// how many were dropped.
///
/// # Panics
/// If `next` is shorter than `pkts`.
pub fn encap_uniform<K: TagKind, B: PacketBuf>(
    pkts: &mut [B],
    tag: &TagBytes<K>,
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    let next = &mut next[..n];
    let table = core::slice::from_ref(tag);
    let mut drops = 0;
    for i in 0..n {
        let d = encap_one(&mut pkts[i], table, 0);
        drops += usize::from(!d.is_ok());
        next[i] = d;
    }
    drops
}

/// Strips the tag of kind `K` from every packet of `pkts`; with `PAD`,
/// pads frames under 60 bytes with zeros (for a wire port). Returns how
/// many were dropped.
///
/// `meta[i]` gets packet `i`'s tag header (the default value for a dropped
/// packet), `next[i]` its disposition. A dropped packet is left
/// byte-for-byte unchanged.
///
/// # Panics
/// If `meta` or `next` is shorter than `pkts`.
pub fn decap<K: TagKind, B: PacketBuf, const PAD: bool>(
    pkts: &mut [B],
    meta: &mut [TagHeader<K>],
    next: &mut [Disposition],
) -> usize {
    let n = pkts.len();
    let (meta, next) = (&mut meta[..n], &mut next[..n]);
    let mut drops = 0;
    for i in 0..n {
        let d = decap_one::<K, B, PAD>(&mut pkts[i], &mut meta[i]);
        drops += usize::from(!d.is_ok());
        next[i] = d;
    }
    drops
}
