//! Frame-level parse: MACs, the tag stack, the final EtherType.
//!
//! [`parse_frame`] accepts exactly these layouts (`PROTOCOLS.md`, "Parser
//! robustness"):
//!
//! ```text
//! dst src [VN-Tag | E-Tag] [C-tag] ethertype payload
//! dst src [S-tag]          [C-tag] ethertype payload
//! ```
//!
//! i.e. at most one port-extender tag, directly after the MACs, or at most
//! one S-tag (0x88A8, 0x9100, 0x9200) there; then at most one 802.1Q
//! C-tag. Anything else is an error, so that the caller can drop and
//! count it by reason. No allocation; the bytes are only read.

use super::{
    Error, EtherType, Result, etag,
    ethernet::{self, EthernetAddress},
    stag, vlan, vntag,
};

/// The port-extender tag found directly after the MACs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtenderTag {
    /// A VN-Tag (0x8926).
    VnTag(vntag::Repr),
    /// An 802.1BR E-Tag (0x893F).
    ETag(etag::Repr),
}

impl ExtenderTag {
    /// Bytes the tag occupies after the MACs (TPID + TCI): 6 or 8. Stripping
    /// it removes these bytes at offset 12.
    pub const fn tag_len(&self) -> usize {
        match self {
            ExtenderTag::VnTag(_) => vntag::TAG_LEN,
            ExtenderTag::ETag(_) => etag::TAG_LEN,
        }
    }

    /// The TPID: [`EtherType::VNTAG`] or [`EtherType::ETAG`].
    pub const fn tpid(&self) -> EtherType {
        match self {
            ExtenderTag::VnTag(_) => EtherType::VNTAG,
            ExtenderTag::ETag(_) => EtherType::ETAG,
        }
    }

    /// The EtherType after the tag (0x8100 if a C-tag follows).
    pub const fn inner_ethertype(&self) -> EtherType {
        match self {
            ExtenderTag::VnTag(r) => r.ethertype,
            ExtenderTag::ETag(r) => r.ethertype,
        }
    }
}

/// What [`parse_frame`] found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameInfo {
    /// Destination MAC.
    pub dst: EthernetAddress,
    /// Source MAC.
    pub src: EthernetAddress,
    /// VN-Tag or E-Tag directly after the MACs, if any.
    pub extender_tag: Option<ExtenderTag>,
    /// 802.1ad S-tag directly after the MACs, if any (never together with
    /// `extender_tag`).
    pub stag: Option<stag::Repr>,
    /// 802.1Q C-tag after the above, if any.
    pub ctag: Option<vlan::Repr>,
    /// The final EtherType (never a tag TPID).
    pub ethertype: EtherType,
    /// Offset of the first byte after the final EtherType.
    pub payload_offset: usize,
}

impl FrameInfo {
    /// Offset of the final EtherType.
    pub const fn ethertype_offset(&self) -> usize {
        self.payload_offset - 2
    }

    /// Total bytes of tags between the MACs and the final EtherType.
    pub const fn tags_len(&self) -> usize {
        self.payload_offset - ethernet::HEADER_LEN
    }
}

/// Parses the Ethernet header and tag stack of `frame`.
///
/// Errors, in the order they are checked:
/// - [`Error::Truncated`]: shorter than an Ethernet header, or an S-tag /
///   C-tag without its TCI and inner EtherType.
/// - [`Error::TruncatedTag`]: VN-Tag / E-Tag without its whole TCI (4 /
///   6 bytes) and inner EtherType.
/// - [`Error::BadVersion`]: VN-Tag `ver` != 0 (the `r` bit and the E-Tag
///   reserved bits are ignored).
/// - [`Error::StackedTag`]: a second VN-Tag / E-Tag after the first.
/// - [`Error::Malformed`]: any other tag where none is allowed: a VN-Tag /
///   E-Tag after an S-tag or C-tag, an S-tag after a VN-Tag / E-Tag, or
///   any tag after the C-tag.
pub fn parse_frame(frame: &[u8]) -> Result<FrameInfo> {
    let eth = ethernet::Packet::new_checked(frame)?;
    let mut info = FrameInfo {
        dst: eth.dst_addr(),
        src: eth.src_addr(),
        extender_tag: None,
        stag: None,
        ctag: None,
        ethertype: eth.ethertype(),
        payload_offset: ethernet::HEADER_LEN,
    };
    // Offset of the EtherType / TPID being looked at; tag views start here.
    let mut at = ethernet::TAG_OFFSET;

    if info.ethertype == EtherType::VNTAG {
        let repr = vntag::Repr::parse(&vntag::Packet::new_unchecked(&frame[at..]))?;
        info.extender_tag = Some(ExtenderTag::VnTag(repr));
        info.ethertype = repr.ethertype;
        at += vntag::TAG_LEN;
    } else if info.ethertype == EtherType::ETAG {
        let repr = etag::Repr::parse(&etag::Packet::new_unchecked(&frame[at..]))?;
        info.extender_tag = Some(ExtenderTag::ETag(repr));
        info.ethertype = repr.ethertype;
        at += etag::TAG_LEN;
    } else if info.ethertype.is_stag() {
        let repr = stag::Repr::parse(&stag::Packet::new_unchecked(&frame[at..]))?;
        info.stag = Some(repr);
        info.ethertype = repr.ethertype;
        at += stag::TAG_LEN;
    }

    if info.ethertype == EtherType::VLAN {
        let repr = vlan::Repr::parse(&vlan::Packet::new_unchecked(&frame[at..]))?;
        info.ctag = Some(repr);
        info.ethertype = repr.ethertype;
        at += vlan::TAG_LEN;
    }

    if info.ethertype.is_extender_tag() {
        return Err(if info.extender_tag.is_some() {
            Error::StackedTag
        } else {
            Error::Malformed
        });
    }
    if info.ethertype.is_tag() {
        return Err(Error::Malformed);
    }
    info.payload_offset = at + 2;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MACS: [u8; 12] = [2, 0, 0, 0, 0, 6, 2, 0, 0, 0, 0, 5];

    /// MACs followed by `rest`, in a fixed buffer (no allocation needed).
    fn frame(rest: &[u8]) -> ([u8; 64], usize) {
        let mut buf = [0u8; 64];
        buf[..12].copy_from_slice(&MACS);
        buf[12..12 + rest.len()].copy_from_slice(rest);
        (buf, 12 + rest.len())
    }

    fn parse(rest: &[u8]) -> Result<FrameInfo> {
        let (buf, len) = frame(rest);
        parse_frame(&buf[..len])
    }

    #[test]
    fn untagged() {
        let info = parse(&[0x08, 0x00, 0x45]).unwrap();
        assert_eq!(info.dst, EthernetAddress([2, 0, 0, 0, 0, 6]));
        assert_eq!(info.src, EthernetAddress([2, 0, 0, 0, 0, 5]));
        assert_eq!(
            (info.extender_tag, info.stag, info.ctag),
            (None, None, None)
        );
        assert_eq!(info.ethertype, EtherType::IPV4);
        assert_eq!((info.payload_offset, info.tags_len()), (14, 0));
        // A bare header with no payload is fine.
        assert_eq!(parse(&[0x08, 0x06]).unwrap().payload_offset, 14);
    }

    #[test]
    fn vntag_then_ctag() {
        // vn06.
        let info = parse(&[
            0x89, 0x26, 0x00, 0x00, 0x0f, 0xff, 0x81, 0x00, 0x60, 0x64, 0x08, 0x00, 0x45,
        ])
        .unwrap();
        let Some(ExtenderTag::VnTag(vn)) = info.extender_tag else {
            panic!("no VN-Tag: {info:?}");
        };
        assert_eq!(
            (vn.src, vn.direction, vn.ethertype),
            (4095, false, EtherType::VLAN)
        );
        let c = info.ctag.unwrap();
        assert_eq!((c.pcp, c.vid), (3, 100));
        assert_eq!(info.ethertype, EtherType::IPV4);
        assert_eq!((info.payload_offset, info.ethertype_offset()), (24, 22));
        assert_eq!(info.tags_len(), 10);
        assert_eq!(info.extender_tag.unwrap().tag_len(), 6);
    }

    #[test]
    fn etag_then_ctag() {
        // et05.
        let info = parse(&[
            0x89, 0x3f, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00,
        ])
        .unwrap();
        let Some(ExtenderTag::ETag(et)) = info.extender_tag else {
            panic!("no E-Tag: {info:?}");
        };
        assert_eq!(et.ecid(), 1000);
        assert_eq!(info.extender_tag.unwrap().tpid(), EtherType::ETAG);
        assert_eq!(info.extender_tag.unwrap().tag_len(), 8);
        assert_eq!(info.ctag.unwrap().vid, 100);
        assert_eq!((info.ethertype, info.payload_offset), (EtherType::IPV4, 26));
    }

    #[test]
    fn stag_then_ctag() {
        // st01.
        let info = parse(&[0x88, 0xa8, 0x60, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00]).unwrap();
        assert_eq!(info.stag.unwrap().svid, 10);
        assert_eq!(info.ctag.unwrap().vid, 100);
        assert_eq!(info.extender_tag, None);
        assert_eq!((info.ethertype, info.payload_offset), (EtherType::IPV4, 22));
        // Legacy TPID, no C-tag.
        let info = parse(&[0x91, 0x00, 0x00, 0x0a, 0x08, 0x06]).unwrap();
        assert_eq!(info.stag.unwrap().tpid, EtherType::QINQ_9100);
        assert_eq!((info.ctag, info.ethertype), (None, EtherType::ARP));
    }

    #[test]
    fn truncation() {
        assert_eq!(parse_frame(&MACS), Err(Error::Truncated));
        assert_eq!(parse_frame(&[]), Err(Error::Truncated));
        // vn08 / et07.
        assert_eq!(
            parse(&[0x89, 0x26, 0x80, 0x05, 0x00]),
            Err(Error::TruncatedTag)
        );
        assert_eq!(
            parse(&[0x89, 0x3f, 0x00, 0x00, 0x00, 0x0a]),
            Err(Error::TruncatedTag)
        );
        // TCI complete, inner EtherType missing.
        assert_eq!(
            parse(&[0x89, 0x26, 0x80, 0x05, 0x00, 0x00]),
            Err(Error::TruncatedTag)
        );
        assert_eq!(parse(&[0x89, 0x26]), Err(Error::TruncatedTag));
        // C-tag / S-tag cut short.
        assert_eq!(parse(&[0x81, 0x00, 0x00]), Err(Error::Truncated));
        assert_eq!(parse(&[0x88, 0xa8, 0x00, 0x01]), Err(Error::Truncated));
        assert_eq!(
            parse(&[0x89, 0x26, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x64, 0x08]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn vntag_receive_rules() {
        // ver = 1 -> BadVersion; r = 1 -> ignored.
        assert_eq!(
            parse(&[0x89, 0x26, 0x80, 0x05, 0x10, 0x00, 0x08, 0x00]),
            Err(Error::BadVersion)
        );
        let info = parse(&[0x89, 0x26, 0x80, 0x05, 0x40, 0x07, 0x08, 0x00]).unwrap();
        let Some(ExtenderTag::VnTag(vn)) = info.extender_tag else {
            panic!()
        };
        assert_eq!((vn.dst, vn.src), (5, 7));
    }

    #[test]
    fn tag_stack_rules() {
        let vn = [0x89, 0x26, 0x80, 0x05, 0x00, 0x00];
        let et = [0x89, 0x3f, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00];
        let ct = [0x81, 0x00, 0x00, 0x64];
        let st = [0x88, 0xa8, 0x00, 0x0a];
        let ip = [0x08, 0x00];
        let cat = |parts: &[&[u8]]| {
            let mut buf = [0u8; 48];
            let mut n = 0;
            for p in parts {
                buf[n..n + p.len()].copy_from_slice(p);
                n += p.len();
            }
            parse(&buf[..n])
        };
        assert!(cat(&[&vn, &ip]).is_ok());
        assert!(cat(&[&et, &ct, &ip]).is_ok());
        assert!(cat(&[&st, &ct, &ip]).is_ok());
        assert_eq!(cat(&[&vn, &vn, &ip]), Err(Error::StackedTag));
        assert_eq!(cat(&[&vn, &et, &ip]), Err(Error::StackedTag));
        assert_eq!(cat(&[&et, &et, &ip]), Err(Error::StackedTag));
        assert_eq!(cat(&[&et, &ct, &vn, &ip]), Err(Error::StackedTag));
        assert_eq!(cat(&[&ct, &vn, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&st, &et, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&vn, &st, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&ct, &ct, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&st, &st, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&vn, &ct, &ct, &ip]), Err(Error::Malformed));
        assert_eq!(cat(&[&st, &ct, &st, &ip]), Err(Error::Malformed));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(info) = parse_frame(&data) {
                prop_assert!(info.payload_offset <= data.len());
                prop_assert!(!info.ethertype.is_tag());
            }
        }

        #[test]
        fn tagged_frames_never_panic(
            tags in proptest::collection::vec(
                prop_oneof![Just(0x8926u16), Just(0x893f), Just(0x8100), Just(0x88a8), Just(0x0800)],
                1..4,
            ),
            filler in any::<[u8; 8]>(),
            len in 12usize..48,
        ) {
            // Tag TPIDs at plausible places, random TCIs.
            let mut buf = [0u8; 48];
            buf[..8].copy_from_slice(&filler);
            let mut at = 12;
            for t in tags {
                if at + 2 > buf.len() { break; }
                buf[at..at + 2].copy_from_slice(&t.to_be_bytes());
                at += 2 + usize::from(filler[at % 8] % 7);
            }
            if let Ok(info) = parse_frame(&buf[..len]) {
                prop_assert!(info.payload_offset <= len);
            }
        }
    }
}
