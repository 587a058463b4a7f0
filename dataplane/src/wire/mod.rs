//! Wire formats: views over frame bytes and small `Repr`s, the smoltcp way.
//!
//! Safe Rust only, no DPDK, no allocation. Layouts follow `PROTOCOLS.md`
//! (checked field by field against Wireshark 4.0; the golden frames live in
//! `tests/data/vectors/`).
//!
//! Each header has its own module with the same shape:
//!
//! - `Packet<T: AsRef<[u8]>>`: a view over a byte buffer. [`new_unchecked`]
//!   wraps without checking; `check_len` verifies that every fixed field is
//!   inside the buffer; `new_checked` = `new_unchecked` + `check_len`. After
//!   a successful `check_len`, no getter or setter of the view panics.
//!   Getters read bytes at offsets (`u16::from_be_bytes`), never packed
//!   structs.
//! - `mod field`: the byte ranges; `HEADER_LEN` is derived from them.
//! - Named mask/shift constants for every bit field.
//! - `Repr`: a small `Copy` value with `parse(&Packet)`, `buffer_len()` and
//!   `emit(&mut Packet)`. `emit` writes every byte of the header it covers
//!   and reads none (smoltcp #17), so it is safe on fresh headroom.
//!
//! # Where the tag views start
//!
//! The tag views ([`vlan`], [`stag`], [`vntag`], [`etag`]) start at the
//! **TPID**, i.e. at frame offset 12 for a tag directly after the MACs. A
//! tag view covers TPID + TCI + the inner EtherType, so one view is one unit
//! that can be parsed, emitted or compared as a whole. Each tag module has:
//!
//! - `TAG_LEN`: the bytes an encap inserts after the MACs (TPID + TCI):
//!   VN-Tag 6, E-Tag 8, S-tag and C-tag 4. Stripping a tag removes exactly
//!   `TAG_LEN` bytes at the view's start; the inner EtherType becomes the
//!   frame's EtherType.
//! - `HEADER_LEN` = `TAG_LEN` + 2 (the inner EtherType).
//!
//! The Ethernet view ([`ethernet`]) covers dst, src and the EtherType (14
//! bytes); for a tagged frame that EtherType is the outer TPID.
//!
//! # Frames
//!
//! [`parse_frame`] walks one frame: the MACs, an optional VN-Tag or E-Tag
//! directly after them, or an optional S-tag, then an optional 802.1Q
//! C-tag, then the final EtherType; it returns a [`FrameInfo`] with the
//! `Repr` of every tag found and the payload offset. It implements the
//! parser robustness rules of `PROTOCOLS.md`; see its docs for what is
//! rejected and why.
//!
//! [`new_unchecked`]: ethernet::Packet::new_unchecked

use core::fmt;

/// Defines a header's view `Packet<T>` (smoltcp's shape): the struct,
/// `new_unchecked`, `new_checked`, `check_len` (failing with the given
/// [`Error`] variant when the buffer is shorter than the module's
/// `HEADER_LEN`) and `into_inner`. Field accessors stay in each header's
/// module.
macro_rules! packet_view {
    ($(#[$doc:meta])* short => $short:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct Packet<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> Packet<T> {
            /// Wraps `buffer` without checking its length.
            ///
            /// Accessors panic if the buffer is shorter than [`HEADER_LEN`];
            /// use [`Packet::new_checked`] on untrusted input.
            pub const fn new_unchecked(buffer: T) -> Packet<T> {
                Packet { buffer }
            }

            /// [`Packet::new_unchecked`] followed by [`Packet::check_len`].
            ///
            /// On success no accessor of the returned view panics. Field
            /// values (TPID, version) are checked by `Repr::parse`, not here.
            pub fn new_checked(buffer: T) -> Result<Packet<T>> {
                let packet = Self::new_unchecked(buffer);
                packet.check_len()?;
                Ok(packet)
            }

            #[doc = concat!("[`Error::", stringify!($short), "`] unless the buffer holds the whole header ([`HEADER_LEN`] bytes).")]
            pub fn check_len(&self) -> Result<()> {
                if self.buffer.as_ref().len() < HEADER_LEN {
                    Err(Error::$short)
                } else {
                    Ok(())
                }
            }

            /// Gives the buffer back.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}

pub mod ecp;
pub mod etag;
pub mod ethernet;
pub mod frame;
pub mod stag;
pub mod vlan;
pub mod vntag;

pub use ecp::{Packet as EcpPacket, Repr as EcpRepr};
pub use etag::{Packet as ETagPacket, Repr as ETagRepr};
pub use ethernet::{
    EthernetAddress, HEADER_LEN as ETHERNET_HEADER_LEN, Packet as EthernetPacket,
    Repr as EthernetRepr,
};
pub use frame::{ExtenderTag, FrameInfo, parse_frame};
pub use stag::{Packet as STagPacket, Repr as STagRepr};
pub use vlan::{Packet as VlanPacket, Repr as VlanRepr};
pub use vntag::{Packet as VnTagPacket, Repr as VnTagRepr};

/// Byte ranges used by the `mod field` of each header.
pub(crate) mod field {
    /// A fixed field: `start..end` bytes from the start of the view.
    pub type Field = core::ops::Range<usize>;
    /// The rest of the buffer from `start`.
    pub type Rest = core::ops::RangeFrom<usize>;
}

/// Why a frame or header could not be parsed.
///
/// Each variant is a drop reason; [`Error::name`] gives its counter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the fixed part of the header (Ethernet,
    /// 802.1Q C-tag, 802.1ad S-tag, ECP).
    #[error("frame truncated: shorter than the header it should hold")]
    Truncated,
    /// A VN-Tag (0x8926) or E-Tag (0x893F) is incomplete: fewer than 4
    /// (VN-Tag) or 6 (E-Tag) TCI bytes, or no inner EtherType, after the
    /// TPID. Wireshark marks these frames malformed (vectors vn08, et07).
    #[error("VN-Tag or E-Tag truncated: TCI or inner EtherType missing")]
    TruncatedTag,
    /// The TPID at the start of a tag view is not one that this header
    /// accepts (e.g. 0x8100 handed to the VN-Tag parser).
    #[error("wrong TPID/EtherType for this header")]
    BadTpid,
    /// A version field has a value we do not accept: VN-Tag `ver` != 0
    /// (a decision, see `PROTOCOLS.md`), or ECP version != 1.
    #[error("unsupported version in VN-Tag or ECP header")]
    BadVersion,
    /// A second VN-Tag or E-Tag follows the first one: exactly one is
    /// allowed, directly after the MACs.
    #[error("more than one VN-Tag/E-Tag in a frame")]
    StackedTag,
    /// Tags in an order the parser does not accept: a VN-Tag/E-Tag that is
    /// not directly after the MACs, an S-tag after a VN-Tag/E-Tag, or any
    /// tag after the 802.1Q C-tag.
    #[error("malformed tag stack: tags in an unsupported order")]
    Malformed,
}

impl Error {
    /// Every variant, in declaration order (for counter tables).
    pub const ALL: [Error; 6] = [
        Error::Truncated,
        Error::TruncatedTag,
        Error::BadTpid,
        Error::BadVersion,
        Error::StackedTag,
        Error::Malformed,
    ];

    /// Short `snake_case` name, used as the drop-reason counter name.
    pub const fn name(self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::TruncatedTag => "truncated_tag",
            Error::BadTpid => "bad_tpid",
            Error::BadVersion => "bad_version",
            Error::StackedTag => "stacked_tag",
            Error::Malformed => "malformed",
        }
    }
}

/// Result of the wire parsers.
pub type Result<T> = core::result::Result<T, Error>;

/// An EtherType / TPID value (host order).
///
/// A newtype rather than an enum: any 16-bit value can appear on the wire;
/// the associated constants name the ones vfex cares about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP.
    pub const ARP: EtherType = EtherType(0x0806);
    /// 802.1Q C-tag TPID.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// 802.1ad S-tag TPID.
    pub const QINQ: EtherType = EtherType(0x88A8);
    /// Legacy QinQ S-tag TPID 0x9100.
    pub const QINQ_9100: EtherType = EtherType(0x9100);
    /// Legacy QinQ S-tag TPID 0x9200.
    pub const QINQ_9200: EtherType = EtherType(0x9200);
    /// Cisco VN-Tag TPID.
    pub const VNTAG: EtherType = EtherType(0x8926);
    /// 802.1BR E-Tag TPID.
    pub const ETAG: EtherType = EtherType(0x893F);
    /// 802.1Qbg Edge Control Protocol.
    pub const ECP: EtherType = EtherType(0x8940);
    /// LLDP.
    pub const LLDP: EtherType = EtherType(0x88CC);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86DD);

    /// The raw value.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// A port-extender tag TPID: VN-Tag or E-Tag.
    pub const fn is_extender_tag(self) -> bool {
        self.0 == Self::VNTAG.0 || self.0 == Self::ETAG.0
    }

    /// An S-tag TPID: 0x88A8 or the legacy 0x9100 / 0x9200.
    pub const fn is_stag(self) -> bool {
        self.0 == Self::QINQ.0 || self.0 == Self::QINQ_9100.0 || self.0 == Self::QINQ_9200.0
    }

    /// Any tag TPID that vfex knows: C-tag, S-tag, VN-Tag or E-Tag.
    pub const fn is_tag(self) -> bool {
        self.0 == Self::VLAN.0 || self.is_stag() || self.is_extender_tag()
    }
}

impl From<u16> for EtherType {
    fn from(value: u16) -> Self {
        EtherType(value)
    }
}

impl From<EtherType> for u16 {
    fn from(value: EtherType) -> Self {
        value.0
    }
}

impl fmt::Display for EtherType {
    /// Formats as Wireshark does: `0x0800`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EtherType({:#06x})", self.0)
    }
}

/// Reads a big-endian `u16` at `field`. The caller has checked the length.
#[inline]
pub(crate) fn read_u16(data: &[u8], field: field::Field) -> u16 {
    let b = &data[field];
    u16::from_be_bytes([b[0], b[1]])
}

/// Writes a big-endian `u16` at `field`. The caller has checked the length.
#[inline]
pub(crate) fn write_u16(data: &mut [u8], field: field::Field, value: u16) {
    data[field].copy_from_slice(&value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethertype_display_and_classes() {
        assert_eq!(EtherType::IPV4.to_string(), "0x0800");
        assert_eq!(EtherType::ETAG.to_string(), "0x893f");
        assert_eq!(format!("{:?}", EtherType::VNTAG), "EtherType(0x8926)");
        assert!(EtherType::VNTAG.is_extender_tag());
        assert!(EtherType::ETAG.is_extender_tag());
        assert!(!EtherType::VLAN.is_extender_tag());
        for t in [EtherType::QINQ, EtherType::QINQ_9100, EtherType::QINQ_9200] {
            assert!(t.is_stag() && t.is_tag());
        }
        assert!(EtherType::VLAN.is_tag());
        assert!(!EtherType::IPV4.is_tag());
        assert_eq!(u16::from(EtherType::from(0x1234)), 0x1234);
    }

    #[test]
    fn error_names_are_unique() {
        let mut names: Vec<_> = Error::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Error::ALL.len());
        assert_eq!(Error::TruncatedTag.name(), "truncated_tag");
    }
}
