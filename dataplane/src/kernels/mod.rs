//! Burst kernels: push and strip VN-Tag, E-Tag and S-tag on a whole burst.
//!
//! Kernels are vector nodes (VPP, DPDK l3fwd; `STYLE.md` 7-9): they take a
//! burst of packets, edit them in place and write one [`Disposition`] per
//! packet into `next[]` (`Ok`, or `Drop(reason)` with a
//! [`DropReason`]); the worker then acts on the
//! dispositions in bulk and counts drops per reason. No allocation, lock or
//! system call; per-packet failures are dispositions, never `Result`s.
//!
//! # Buffers
//! Kernels are generic over [`PacketBuf`], implemented for the DPDK
//! [`Mbuf`](crate::dpdk::Mbuf) (so they run on `Burst::as_mut_slice()`)
//! and for [`TestBuf`] (tests, benches, fuzzing; no DPDK).
//!
//! # Tag kinds
//! [`VnTag`] (6 bytes), [`ETag`] (8), [`STag`] (4): the bytes inserted after
//! the MACs (TPID + TCI). The kernels are generic over [`TagKind`].
//!
//! # Encap
//! `encap(pkts, veth, table, next)`: `table` is the vEth tag table, one
//! [`TagBytes`] per vEth compiled by the control plane (`STYLE.md` 3: the
//! fast path never builds a tag); `veth[i]` is packet `i`'s index in it,
//! written by the classify step, which looks each run of packets of the
//! same vEth up once. Per packet, in this order:
//!
//! | check | reason |
//! |---|---|
//! | packet < 14 bytes | `runt` |
//! | first segment < 14 bytes (chained mbuf) | `chained_header` |
//! | outer EtherType 0x8926, 0x893F, 0x88A8, 0x9100 or 0x9200 | `tag_injection` (a VM never chooses its tag) |
//! | headroom < TAG_LEN | `no_headroom` |
//! | `veth[i]` outside `table` | `unknown_vif` |
//!
//! Then: prepend TAG_LEN, move the 12 MAC bytes to the new front, copy the
//! tag bytes. `encap_uniform(pkts, tag, next)` is the same with one tag for
//! the whole burst (a burst from one VF's port is one vEth), which saves
//! the per-packet table lookup. Nothing is read that was not written first (`STYLE.md` 2). A
//! chained mbuf whose first segment holds the MACs and EtherType is
//! encapsulated like any other (the tag goes into the first segment).
//!
//! # Decap
//! `decap(pkts, meta, next, pad)` (or the `PAD` const generic of the
//! per-ISA functions). Per packet, in this order:
//!
//! | check | reason |
//! |---|---|
//! | packet < 14 bytes | `runt` |
//! | first segment < 14 bytes | `chained_header` |
//! | TPID at offset 12 not this kind's (S-tag: 0x88A8, 0x9100, 0x9200) | `bad_tpid` |
//! | packet < 14 + TAG_LEN (no whole TCI + inner EtherType) | `truncated_tag` |
//! | first segment < 14 + TAG_LEN | `chained_header` |
//! | VN-Tag `ver` != 0 | `bad_version` |
//! | E-Tag Ingress_E-CID_ext or E-CID_ext != 0 | `ext_ecid` |
//! | VN-Tag / E-Tag followed by a VN-Tag / E-Tag | `stacked_tag` |
//! | VN-Tag / E-Tag followed by an S-tag; S-tag followed by any of them | `malformed` |
//! | with `pad`: stripped frame < 60 bytes and no tailroom (or chained) | `no_tailroom` |
//!
//! Then: move the 12 MAC bytes forward by TAG_LEN, `adj(TAG_LEN)`, and with
//! `pad` append zeros up to 60 bytes. `meta[i]` gets the tag's header
//! ([`TagHeader`]: the bytes from the TPID on, decoded on demand into
//! [`VnTagMeta`], [`ETagMeta`], [`STagMeta`] or field by field; all zeros
//! for a dropped packet). An inner 802.1Q C-tag stays in the frame: it is the
//! VM's. The direction bit, unknown VIFs and multicast are the pipeline's
//! business, from `meta`.
//!
//! A dropped packet, encap or decap, is left byte-for-byte unchanged. Every
//! kernel returns how many packets it dropped, so the worker skips the
//! disposition scan when that is 0. Kernels do not prefetch: the first
//! stage that reads packet data does (the forwarding engines prefetch the
//! whole burst before the kernel).
//!
//! # Implementations and selection
//! [`scalar`] is the reference, plain safe Rust. [`simd`] (x86_64) has a
//! vector fast path per packet (all checks at once, 16-byte moves) that
//! falls back to the scalar code for anything else, in an SSE4.1 build and
//! an AVX2 build of the same body; both are tested byte-identical to scalar
//! on random bursts (`tests/kernels_equiv.rs`) and fuzzed (`fuzz/`).
//! Measured (`cargo bench -p vfex-dataplane --bench kernels --
//! --interleaved`, 64-byte frames, bursts of 32, 2-vCPU AMD EPYC VM,
//! session 5; ns per packet, SSE4.1 vs scalar): encap with a table
//! VN-Tag 3.60 vs 5.54 (1.54x), E-Tag 3.29 vs 5.27 (1.60x), S-tag 3.00 vs
//! 5.28 (1.76x); encap_uniform 2.55 vs 5.34 (2.09x), 2.48 vs 4.45 (1.79x),
//! 2.42 vs 4.47 (1.85x); decap 3.07 vs 6.18 (2.01x), 3.00 vs 6.29 (2.10x),
//! 3.50 vs 7.16 (2.04x); decap with padding of 60-byte tagged frames
//! (`decap_pad`) 6.12 vs 10.08 (1.65x), 5.83 vs 10.63 (1.82x), 6.17 vs
//! 11.76 (1.91x). AVX2 measures the same as SSE4.1 (the algorithm
//! is 128-bit; AVX2 only brings VEX encoding). The set is chosen once at
//! start-up:
//! [`Kernels::detect`] takes the best the CPU has, unless the environment
//! variable `VFEX_KERNELS` (see [`ENV_VAR`]) says `scalar`, `sse4.1` or
//! `avx2`; an ISA the CPU lacks is refused with an error, never run. The
//! [`Kernels`] value then dispatches with one `match` per burst:
//!
//! ```no_run
//! use vfex_dataplane::kernels::{
//!     Disposition, Kernels, TagBytes, TagHeader, TestBuf, VnTag, VnTagMeta,
//! };
//! use vfex_dataplane::wire::VnTagRepr;
//!
//! let k = Kernels::detect().expect("VFEX_KERNELS");
//! // Control plane: one tag per vEth.
//! let table = [TagBytes::vntag(&VnTagRepr { src: 5, ..Default::default() })];
//! // Fast path, per burst (Burst::as_mut_slice() for mbufs).
//! let mut pkts: Vec<TestBuf> = Vec::new();
//! let veth = [0u16; 32];
//! let mut next = [Disposition::Ok; 32];
//! let drops = k.encap(&mut pkts, &veth, &table, &mut next);
//! let mut meta = [TagHeader::<VnTag>::default(); 32];
//! k.decap::<VnTag, _>(&mut pkts, &mut meta, &mut next, true);
//! let (src, all): (u16, VnTagMeta) = (meta[0].src(), meta[0].decode());
//! ```

mod buf;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod simd;
mod tag;
#[cfg(test)]
mod tests;

pub use buf::{BufError, Head, PacketBuf, TESTBUF_FILL, TestBuf};
pub use tag::{ETag, ETagMeta, STag, STagMeta, TagBytes, TagHeader, TagKind, VnTag, VnTagMeta};

use core::fmt;

use crate::drop::DropReason;

/// Bytes of the two MAC addresses that precede every tag.
pub const MAC_LEN: usize = 12;
/// Minimum Ethernet frame without FCS: decap pads to this for wire ports.
pub const MIN_FRAME_LEN: usize = 60;
/// Environment variable that overrides the detected kernel set:
/// `scalar`, `sse4.1` or `avx2`.
pub const ENV_VAR: &str = "VFEX_KERNELS";

/// What to do with one packet after a kernel: keep it, or drop and count.
/// One byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Disposition {
    /// Edited as asked; goes on.
    #[default]
    Ok,
    /// Left unchanged; to be freed and counted under the reason.
    Drop(DropReason),
}

const _: () = assert!(core::mem::size_of::<Disposition>() == 1);

impl Disposition {
    /// `true` for [`Disposition::Ok`].
    #[inline(always)]
    pub const fn is_ok(self) -> bool {
        matches!(self, Disposition::Ok)
    }

    /// The drop reason, if dropped.
    #[inline(always)]
    pub const fn reason(self) -> Option<DropReason> {
        match self {
            Disposition::Ok => None,
            Disposition::Drop(r) => Some(r),
        }
    }
}

/// An instruction set the kernels are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, any CPU; the reference.
    Scalar,
    /// x86_64 with SSE4.1.
    Sse41,
    /// x86_64 with AVX2.
    Avx2,
}

impl Isa {
    /// Every ISA, slowest first.
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Sse41, Isa::Avx2];

    /// Name as `VFEX_KERNELS` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse41 => "sse4.1",
            Isa::Avx2 => "avx2",
        }
    }

    /// The ISA named `s` (as [`Isa::name`] spells it).
    pub fn from_name(s: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == s)
    }

    /// Whether this CPU can run it.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse41 => std::arch::is_x86_feature_detected!("sse4.1"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The ISAs this CPU can run, slowest first.
    pub fn supported() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported())
    }

    /// The best ISA this CPU can run.
    pub fn best() -> Isa {
        Isa::supported().last().unwrap_or(Isa::Scalar)
    }

    /// [`Isa::best`], unless `VFEX_KERNELS` names another; refuses an
    /// unknown name or an ISA the CPU lacks.
    pub fn detect() -> Result<Isa, KernelsError> {
        match std::env::var(ENV_VAR) {
            Ok(v) if !v.is_empty() => Isa::from_env_value(&v),
            _ => Ok(Isa::best()),
        }
    }

    /// Parses a `VFEX_KERNELS` value and checks that the CPU supports it.
    pub fn from_env_value(value: &str) -> Result<Isa, KernelsError> {
        let isa = Isa::from_name(value.trim()).ok_or_else(|| KernelsError::Unknown {
            value: value.to_string(),
        })?;
        if isa.is_supported() {
            Ok(isa)
        } else {
            Err(KernelsError::unsupported(isa))
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a kernel set could not be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelsError {
    /// `VFEX_KERNELS` holds a name that is not a kernel set.
    #[error("VFEX_KERNELS={value:?} is not a kernel set: use scalar, sse4.1 or avx2 (or unset it)")]
    Unknown {
        /// The value found.
        value: String,
    },
    /// The ISA asked for is not supported by this CPU.
    #[error(
        "kernels {isa} asked for, but this CPU does not support {isa}: set VFEX_KERNELS to one of {supported} (or unset it)"
    )]
    Unsupported {
        /// The ISA asked for.
        isa: Isa,
        /// The ISAs this CPU supports, comma-separated.
        supported: String,
    },
}

impl KernelsError {
    fn unsupported(isa: Isa) -> KernelsError {
        KernelsError::Unsupported {
            isa,
            supported: Isa::supported()
                .map(Isa::name)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The kernel set chosen at start-up. Holds an ISA this CPU supports (the
/// constructors check), and dispatches with one `match` per burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
}

impl Kernels {
    /// Kernels for `isa`; refused if the CPU does not support it.
    pub fn new(isa: Isa) -> Result<Kernels, KernelsError> {
        if isa.is_supported() {
            Ok(Kernels { isa })
        } else {
            Err(KernelsError::unsupported(isa))
        }
    }

    /// Kernels for [`Isa::detect`]: the best ISA, or `VFEX_KERNELS`.
    pub fn detect() -> Result<Kernels, KernelsError> {
        Isa::detect().map(|isa| Kernels { isa })
    }

    /// The scalar reference kernels (any CPU).
    pub const fn scalar() -> Kernels {
        Kernels { isa: Isa::Scalar }
    }

    /// The ISA in use.
    pub const fn isa(&self) -> Isa {
        self.isa
    }

    /// Pushes a tag of kind `K` on every packet; see [`scalar::encap`] and
    /// the [module docs](self).
    ///
    /// # Panics
    /// If `veth` or `next` is shorter than `pkts`.
    #[inline]
    pub fn encap<K: TagKind, B: PacketBuf>(
        &self,
        pkts: &mut [B],
        veth: &[u16],
        table: &[TagBytes<K>],
        next: &mut [Disposition],
    ) -> usize {
        match self.isa {
            Isa::Scalar => scalar::encap(pkts, veth, table, next),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a Kernels holds only an ISA the CPU supports.
            Isa::Sse41 => unsafe { simd::encap_sse41(pkts, veth, table, next) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { simd::encap_avx2(pkts, veth, table, next) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => scalar::encap(pkts, veth, table, next),
        }
    }

    /// Pushes the same tag on every packet (a burst of one vEth, as from a
    /// VF's port); see [`scalar::encap_uniform`]. Returns how many were
    /// dropped.
    ///
    /// # Panics
    /// If `next` is shorter than `pkts`.
    #[inline]
    pub fn encap_uniform<K: TagKind, B: PacketBuf>(
        &self,
        pkts: &mut [B],
        tag: &TagBytes<K>,
        next: &mut [Disposition],
    ) -> usize {
        match self.isa {
            Isa::Scalar => scalar::encap_uniform(pkts, tag, next),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a Kernels holds only an ISA the CPU supports.
            Isa::Sse41 => unsafe { simd::encap_uniform_sse41(pkts, tag, next) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { simd::encap_uniform_avx2(pkts, tag, next) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => scalar::encap_uniform(pkts, tag, next),
        }
    }

    /// Strips the tag of kind `K` from every packet, padding to 60 bytes
    /// when `pad` (the frame goes to a wire port); see [`scalar::decap`]
    /// and the [module docs](self).
    ///
    /// # Panics
    /// If `meta` or `next` is shorter than `pkts`.
    #[inline]
    pub fn decap<K: TagKind, B: PacketBuf>(
        &self,
        pkts: &mut [B],
        meta: &mut [TagHeader<K>],
        next: &mut [Disposition],
        pad: bool,
    ) -> usize {
        match (self.isa, pad) {
            (Isa::Scalar, false) => scalar::decap::<K, B, false>(pkts, meta, next),
            (Isa::Scalar, true) => scalar::decap::<K, B, true>(pkts, meta, next),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a Kernels holds only an ISA the CPU supports.
            (Isa::Sse41, false) => unsafe { simd::decap_sse41::<K, B, false>(pkts, meta, next) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Isa::Sse41, true) => unsafe { simd::decap_sse41::<K, B, true>(pkts, meta, next) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Isa::Avx2, false) => unsafe { simd::decap_avx2::<K, B, false>(pkts, meta, next) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Isa::Avx2, true) => unsafe { simd::decap_avx2::<K, B, true>(pkts, meta, next) },
            #[cfg(not(target_arch = "x86_64"))]
            (_, false) => scalar::decap::<K, B, false>(pkts, meta, next),
            #[cfg(not(target_arch = "x86_64"))]
            (_, true) => scalar::decap::<K, B, true>(pkts, meta, next),
        }
    }
}
