//! The three tag kinds the kernels push and strip, their precomputed bytes
//! and the metadata a decap hands to the pipeline.

use core::fmt;
use core::marker::PhantomData;

use crate::drop::DropReason;
use crate::wire::{EtherType, etag, stag, vntag};

mod private {
    pub trait Sealed {}
}

/// A tag kind: [`VnTag`], [`ETag`] or [`STag`]. Sealed.
///
/// The kernels are generic over it; everything kind-specific (length,
/// TPID check, TCI checks, metadata) lives here, so scalar and SIMD
/// kernels share the same checks.
pub trait TagKind: private::Sealed + Copy + Default + fmt::Debug + 'static {
    /// Bytes inserted after the MACs (TPID + TCI): 6, 8 or 4.
    const TAG_LEN: usize;
    /// Short name for benches and messages.
    const NAME: &'static str;
    /// The tag's fields, decoded ([`VnTagMeta`], [`ETagMeta`],
    /// [`STagMeta`]).
    type Decoded: Copy + Default + PartialEq + Eq + fmt::Debug;
    /// Bytes of the header a [`TagHeader`] keeps, from the TPID on: the
    /// tag and the inner EtherType, at most 8.
    const META_LEN: usize = if Self::TAG_LEN + 2 < 8 {
        Self::TAG_LEN + 2
    } else {
        8
    };

    /// Whether `tpid` (frame offset 12) is this kind's TPID.
    fn tpid_ok(tpid: u16) -> bool;

    /// Checks the TCI and the inner EtherType and reads the metadata.
    /// `hdr` starts at the TPID and holds at least `TAG_LEN + 2` bytes; the
    /// TPID is already checked.
    fn check(hdr: &[u8]) -> Result<TagHeader<Self>, DropReason>;

    /// Decodes the fields of a header a decap kept.
    fn decode(hdr: &[u8; 8]) -> Self::Decoded;

    /// SIMD fast check of the 16 bytes at frame offset 12: under this
    /// mask they must equal [`TagKind::FAST_EXPECT`] (VN-Tag: the TPID and
    /// `ver` = 0; E-Tag: the TPID and the ext bytes = 0). An all-zero TPID
    /// part means the TPID is checked apart (S-tag: three values). The
    /// inner EtherType is checked apart.
    #[doc(hidden)]
    const FAST_MASK: [u8; 16];
    /// See [`TagKind::FAST_MASK`].
    #[doc(hidden)]
    const FAST_EXPECT: [u8; 16];
}

/// VN-Tag (0x8926), 6 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnTag;
/// 802.1BR E-Tag (0x893F), 8 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ETag;
/// 802.1ad S-tag (0x88A8; 0x9100 / 0x9200 accepted on decap), 4 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct STag;

impl private::Sealed for VnTag {}
impl private::Sealed for ETag {}
impl private::Sealed for STag {}

/// The fields of a VN-Tag a decap accepted ([`TagHeader::decode`]; `ver`
/// is checked to be 0, `r` ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct VnTagMeta {
    /// Destination VIF or VIF-list id, 0..=16383.
    pub dst: u16,
    /// Source VIF, 0..=4095.
    pub src: u16,
    /// d: `true` = from the bridge (downstream).
    pub direction: bool,
    /// p: `true` = `dst` is a VIF-list id.
    pub pointer: bool,
    /// l: looped, prune `src`.
    pub looped: bool,
}

/// The fields of an E-Tag a decap accepted ([`TagHeader::decode`]; the ext
/// bytes are checked to be 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ETagMeta {
    /// Ingress_E-CID_base, 0..=4095 (0 = none).
    pub ingress_ecid_base: u16,
    /// E-CID_base, 0..=4095.
    pub ecid_base: u16,
    /// E-CID = GRP:E-CID_base, 0..=0x3FFF, the working identifier.
    pub ecid: u16,
    /// E-PCP, 0..=7.
    pub pcp: u8,
    /// E-DEI.
    pub dei: bool,
    /// GRP, 0..=3 (0 = point-to-point).
    pub grp: u8,
}

/// The fields of an S-tag a decap accepted ([`TagHeader::decode`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct STagMeta {
    /// S-VID (S-channel), 0..=4095.
    pub svid: u16,
    /// PCP, 0..=7.
    pub pcp: u8,
    /// DEI.
    pub dei: bool,
}

/// What a decap reports per packet: the tag's header as it was on the
/// wire, from the TPID on ([`TagKind::META_LEN`] bytes: the tag and, when
/// it fits in 8, the inner EtherType; zeros after), decoded on demand.
///
/// A decap keeps it with one 8-byte move; the pipeline reads only the
/// fields it needs (accessors below, or [`TagHeader::decode`] for all).
/// Decoding every field per packet in the kernel cost ~15 instructions a
/// packet that forwarding does not use (measured with perf). The default
/// (all zeros) is what a dropped packet gets.
#[repr(transparent)]
pub struct TagHeader<K: TagKind> {
    bytes: [u8; 8],
    _kind: PhantomData<K>,
}

impl<K: TagKind> Clone for TagHeader<K> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: TagKind> Copy for TagHeader<K> {}
impl<K: TagKind> Default for TagHeader<K> {
    #[inline(always)]
    fn default() -> Self {
        TagHeader {
            bytes: [0; 8],
            _kind: PhantomData,
        }
    }
}
impl<K: TagKind> PartialEq for TagHeader<K> {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl<K: TagKind> Eq for TagHeader<K> {}
impl<K: TagKind> core::hash::Hash for TagHeader<K> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}
impl<K: TagKind> fmt::Debug for TagHeader<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::default() {
            write!(f, "TagHeader<{}>(none)", K::NAME)
        } else {
            write!(f, "TagHeader<{}>({:?})", K::NAME, self.decode())
        }
    }
}

impl<K: TagKind> TagHeader<K> {
    /// Keeps the first [`TagKind::META_LEN`] bytes of `hdr` (which starts
    /// at the TPID and holds at least that many).
    #[inline(always)]
    pub(crate) fn from_hdr(hdr: &[u8]) -> TagHeader<K> {
        let mut bytes = [0u8; 8];
        bytes[..K::META_LEN].copy_from_slice(&hdr[..K::META_LEN]);
        TagHeader {
            bytes,
            _kind: PhantomData,
        }
    }

    /// The kept bytes (TPID first, zeros after [`TagKind::META_LEN`]).
    #[inline(always)]
    pub fn bytes(&self) -> &[u8; 8] {
        &self.bytes
    }

    /// The kept bytes, writable (the SIMD decap stores them in one move).
    #[inline(always)]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; 8] {
        &mut self.bytes
    }

    /// The TPID the tag had (0 for a dropped packet).
    #[inline(always)]
    pub fn tpid(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }

    /// All the fields.
    #[inline(always)]
    pub fn decode(&self) -> K::Decoded {
        K::decode(&self.bytes)
    }
}

impl TagHeader<VnTag> {
    /// d: `true` = from the bridge (downstream).
    #[inline(always)]
    pub fn direction(&self) -> bool {
        self.decode().direction
    }
    /// p: `true` = `dst` is a VIF-list id.
    #[inline(always)]
    pub fn pointer(&self) -> bool {
        self.decode().pointer
    }
    /// Destination VIF or VIF-list id, 0..=16383.
    #[inline(always)]
    pub fn dst(&self) -> u16 {
        self.decode().dst
    }
    /// l: looped, prune `src`.
    #[inline(always)]
    pub fn looped(&self) -> bool {
        self.decode().looped
    }
    /// Source VIF, 0..=4095.
    #[inline(always)]
    pub fn src(&self) -> u16 {
        self.decode().src
    }
}

impl TagHeader<ETag> {
    /// E-PCP, 0..=7.
    #[inline(always)]
    pub fn pcp(&self) -> u8 {
        self.decode().pcp
    }
    /// E-DEI.
    #[inline(always)]
    pub fn dei(&self) -> bool {
        self.decode().dei
    }
    /// Ingress_E-CID_base, 0..=4095 (0 = none).
    #[inline(always)]
    pub fn ingress_ecid_base(&self) -> u16 {
        self.decode().ingress_ecid_base
    }
    /// GRP, 0..=3 (0 = point-to-point).
    #[inline(always)]
    pub fn grp(&self) -> u8 {
        self.decode().grp
    }
    /// E-CID_base, 0..=4095.
    #[inline(always)]
    pub fn ecid_base(&self) -> u16 {
        self.decode().ecid_base
    }
    /// E-CID = GRP:E-CID_base, 0..=0x3FFF, the working identifier.
    #[inline(always)]
    pub fn ecid(&self) -> u16 {
        self.decode().ecid
    }
}

impl TagHeader<STag> {
    /// S-VID (S-channel), 0..=4095.
    #[inline(always)]
    pub fn svid(&self) -> u16 {
        self.decode().svid
    }
    /// PCP, 0..=7.
    #[inline(always)]
    pub fn pcp(&self) -> u8 {
        self.decode().pcp
    }
    /// DEI.
    #[inline(always)]
    pub fn dei(&self) -> bool {
        self.decode().dei
    }
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The inner EtherType after an extender tag: a C-tag or a payload type is
/// fine, another extender tag is stacked, an S-tag is out of order.
#[inline(always)]
fn check_inner_after_extender(inner: u16) -> Result<(), DropReason> {
    let inner = EtherType(inner);
    if inner.is_extender_tag() {
        Err(DropReason::StackedTag)
    } else if inner.is_stag() {
        Err(DropReason::Malformed)
    } else {
        Ok(())
    }
}

impl TagKind for VnTag {
    const TAG_LEN: usize = vntag::TAG_LEN;
    const NAME: &'static str = "vntag";
    type Decoded = VnTagMeta;

    #[inline(always)]
    fn tpid_ok(tpid: u16) -> bool {
        tpid == EtherType::VNTAG.0
    }

    #[inline(always)]
    fn check(hdr: &[u8]) -> Result<TagHeader<VnTag>, DropReason> {
        let tci = u32::from_be_bytes([hdr[2], hdr[3], hdr[4], hdr[5]]);
        if tci & vntag::VER_MASK != 0 {
            return Err(DropReason::BadVersion);
        }
        check_inner_after_extender(be16(hdr, 6))?;
        Ok(TagHeader::from_hdr(hdr))
    }

    const FAST_MASK: [u8; 16] = [0xff, 0xff, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const FAST_EXPECT: [u8; 16] = [0x89, 0x26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    #[inline(always)]
    fn decode(hdr: &[u8; 8]) -> VnTagMeta {
        let tci = u32::from_be_bytes([hdr[2], hdr[3], hdr[4], hdr[5]]);
        VnTagMeta {
            direction: tci & vntag::DIR_MASK != 0,
            pointer: tci & vntag::PTR_MASK != 0,
            dst: ((tci & vntag::DST_MASK) >> vntag::DST_SHIFT) as u16,
            looped: tci & vntag::LOOPED_MASK != 0,
            src: ((tci & vntag::SRC_MASK) >> vntag::SRC_SHIFT) as u16,
        }
    }
}

impl TagKind for ETag {
    const TAG_LEN: usize = etag::TAG_LEN;
    const NAME: &'static str = "etag";
    type Decoded = ETagMeta;

    #[inline(always)]
    fn tpid_ok(tpid: u16) -> bool {
        tpid == EtherType::ETAG.0
    }

    #[inline(always)]
    fn check(hdr: &[u8]) -> Result<TagHeader<ETag>, DropReason> {
        if hdr[etag::field::INGRESS_ECID_EXT] | hdr[etag::field::ECID_EXT] != 0 {
            return Err(DropReason::ExtEcid);
        }
        check_inner_after_extender(be16(hdr, etag::field::ETHERTYPE.start))?;
        Ok(TagHeader::from_hdr(hdr))
    }

    const FAST_MASK: [u8; 16] = [0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
    const FAST_EXPECT: [u8; 16] = [0x89, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    #[inline(always)]
    fn decode(hdr: &[u8; 8]) -> ETagMeta {
        let w1 = be16(hdr, etag::field::WORD1.start);
        let w2 = be16(hdr, etag::field::WORD2.start);
        ETagMeta {
            pcp: ((w1 & etag::PCP_MASK) >> etag::PCP_SHIFT) as u8,
            dei: w1 & etag::DEI_MASK != 0,
            ingress_ecid_base: (w1 & etag::INGRESS_ECID_BASE_MASK) >> etag::INGRESS_ECID_BASE_SHIFT,
            grp: ((w2 & etag::GRP_MASK) >> etag::GRP_SHIFT) as u8,
            ecid_base: (w2 & etag::ECID_BASE_MASK) >> etag::ECID_BASE_SHIFT,
            ecid: w2 & etag::ECID_MASK,
        }
    }
}

impl TagKind for STag {
    const TAG_LEN: usize = stag::TAG_LEN;
    const NAME: &'static str = "stag";
    type Decoded = STagMeta;

    #[inline(always)]
    fn tpid_ok(tpid: u16) -> bool {
        EtherType(tpid).is_stag()
    }

    #[inline(always)]
    fn check(hdr: &[u8]) -> Result<TagHeader<STag>, DropReason> {
        let inner = EtherType(be16(hdr, stag::field::ETHERTYPE.start));
        if inner.is_extender_tag() || inner.is_stag() {
            return Err(DropReason::Malformed);
        }
        Ok(TagHeader::from_hdr(hdr))
    }

    const FAST_MASK: [u8; 16] = [0; 16];
    const FAST_EXPECT: [u8; 16] = [0; 16];

    #[inline(always)]
    fn decode(hdr: &[u8; 8]) -> STagMeta {
        let tci = be16(hdr, stag::field::TCI.start);
        STagMeta {
            pcp: ((tci & stag::PCP_MASK) >> stag::PCP_SHIFT) as u8,
            dei: tci & stag::DEI_MASK != 0,
            svid: (tci & stag::SVID_MASK) >> stag::SVID_SHIFT,
        }
    }
}

/// The precomputed bytes one encap inserts after the MACs (TPID + TCI) for
/// one vEth: what the control plane compiles per vEth and the fast path
/// copies (`STYLE.md` 3). Stored in 8 bytes; the first
/// [`TagKind::TAG_LEN`] are the tag.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TagBytes<K: TagKind> {
    bytes: [u8; 8],
    _kind: PhantomData<K>,
}

impl<K: TagKind> fmt::Debug for TagBytes<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagBytes<{}>({:02x?})", K::NAME, self.as_bytes())
    }
}

impl<K: TagKind> TagBytes<K> {
    fn from_header(header: &[u8]) -> TagBytes<K> {
        let mut bytes = [0u8; 8];
        bytes[..K::TAG_LEN].copy_from_slice(&header[..K::TAG_LEN]);
        TagBytes {
            bytes,
            _kind: PhantomData,
        }
    }

    /// The tag: TPID + TCI, [`TagKind::TAG_LEN`] bytes.
    #[inline(always)]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..K::TAG_LEN]
    }

    /// All 8 stored bytes (the tag, then zeros).
    #[inline(always)]
    pub(crate) fn raw(&self) -> &[u8; 8] {
        &self.bytes
    }
}

impl TagBytes<VnTag> {
    /// The VN-Tag `repr` encodes (`repr.ethertype` is not used: the inner
    /// EtherType is the frame's own).
    pub fn vntag(repr: &vntag::Repr) -> TagBytes<VnTag> {
        let mut h = [0u8; vntag::HEADER_LEN];
        repr.emit(&mut vntag::Packet::new_unchecked(&mut h[..]));
        TagBytes::from_header(&h)
    }
}

impl TagBytes<ETag> {
    /// The E-Tag `repr` encodes (inner EtherType not used).
    pub fn etag(repr: &etag::Repr) -> TagBytes<ETag> {
        let mut h = [0u8; etag::HEADER_LEN];
        repr.emit(&mut etag::Packet::new_unchecked(&mut h[..]));
        TagBytes::from_header(&h)
    }
}

impl TagBytes<STag> {
    /// The S-tag `repr` encodes, with its TPID (inner EtherType not used).
    pub fn stag(repr: &stag::Repr) -> TagBytes<STag> {
        let mut h = [0u8; stag::HEADER_LEN];
        repr.emit(&mut stag::Packet::new_unchecked(&mut h[..]));
        TagBytes::from_header(&h)
    }
}
