//! 802.1BR E-Tag (TPID 0x893F).
//!
//! The view starts at the TPID (see the [module docs](super)): TPID (2) +
//! E-TCI (6) + inner EtherType (2). [`TAG_LEN`] = 8 bytes are what a push
//! inserts after the MACs.
//!
//! E-TCI layout, offsets relative to the TPID (tshark names in brackets):
//!
//! | where          | mask     | field |
//! |----------------|----------|-------|
//! | word 1 (2..4)  | `0xE000` | E-PCP (`etag.pcp`) |
//! |                | `0x1000` | E-DEI (`etag.dei`) |
//! |                | `0x0FFF` | Ingress_E-CID_base (`etag.iecid_base`) |
//! | word 2 (4..6)  | `0xC000` | reserved (`etag.resv`) |
//! |                | `0x3000` | GRP (`etag.group`) |
//! |                | `0x0FFF` | E-CID_base (`etag.ecid_base`) |
//! | byte 6         | `0xFF`   | Ingress_E-CID_ext (`etag.iecid_ext`) |
//! | byte 7         | `0xFF`   | E-CID_ext (`etag.ecid_ext`) |
//!
//! The working identifier is the 14-bit E-CID = GRP:E-CID_base
//! ([`Repr::ecid`], [`ECID_MASK`] on word 2); 0x1000..=0x3FFF (GRP != 0)
//! are multicast E-channels. This is what DPDK's rte_flow E_TAG item
//! matches. Receive rules: the reserved bits are ignored (not in [`Repr`]),
//! a buffer without the whole E-TCI and inner EtherType is
//! [`Error::TruncatedTag`]. The ext bytes are kept in the [`Repr`]; whether
//! ext != 0 is acceptable is the receiver's decision (a receiver not
//! configured for extended E-CIDs treats it as unknown, `PROTOCOLS.md`).

use super::{Error, EtherType, Result, field::Field, field::Rest, read_u16, write_u16};

/// Byte ranges of an E-Tag, relative to its TPID.
pub mod field {
    use super::{Field, Rest};
    /// TPID, 0x893F.
    pub const TPID: Field = 0..2;
    /// E-PCP (3) | E-DEI (1) | Ingress_E-CID_base (12).
    pub const WORD1: Field = 2..4;
    /// reserved (2) | GRP (2) | E-CID_base (12).
    pub const WORD2: Field = 4..6;
    /// Ingress_E-CID_ext.
    pub const INGRESS_ECID_EXT: usize = 6;
    /// E-CID_ext.
    pub const ECID_EXT: usize = 7;
    /// Inner EtherType.
    pub const ETHERTYPE: Field = 8..10;
    /// What follows the inner EtherType.
    pub const PAYLOAD: Rest = 10..;
}

/// TPID + E-TCI + inner EtherType: 10.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Bytes inserted after the MACs by a push (TPID + E-TCI): 8.
pub const TAG_LEN: usize = field::ETHERTYPE.start;

/// E-PCP bits of word 1.
pub const PCP_MASK: u16 = 0xE000;
/// Shift of the E-PCP bits.
pub const PCP_SHIFT: u32 = 13;
/// E-DEI bit of word 1.
pub const DEI_MASK: u16 = 0x1000;
/// Ingress_E-CID_base bits of word 1.
pub const INGRESS_ECID_BASE_MASK: u16 = 0x0FFF;
/// Shift of the Ingress_E-CID_base bits.
pub const INGRESS_ECID_BASE_SHIFT: u32 = 0;
/// Reserved bits of word 2.
pub const RESV_MASK: u16 = 0xC000;
/// Shift of the reserved bits.
pub const RESV_SHIFT: u32 = 14;
/// GRP bits of word 2.
pub const GRP_MASK: u16 = 0x3000;
/// Shift of the GRP bits.
pub const GRP_SHIFT: u32 = 12;
/// E-CID_base bits of word 2.
pub const ECID_BASE_MASK: u16 = 0x0FFF;
/// Shift of the E-CID_base bits.
pub const ECID_BASE_SHIFT: u32 = 0;
/// The 14-bit E-CID (GRP:E-CID_base) in word 2.
pub const ECID_MASK: u16 = GRP_MASK | ECID_BASE_MASK;

/// Largest E-PCP: 7.
pub const PCP_MAX: u8 = (PCP_MASK >> PCP_SHIFT) as u8;
/// Largest GRP: 3.
pub const GRP_MAX: u8 = (GRP_MASK >> GRP_SHIFT) as u8;
/// Largest E-CID_base / Ingress_E-CID_base: 4095.
pub const ECID_BASE_MAX: u16 = ECID_BASE_MASK;
/// Largest E-CID (GRP:base): 0x3FFF.
pub const ECID_MAX: u16 = ECID_MASK;
/// Smallest multicast E-CID (GRP = 1): 0x1000.
pub const ECID_MULTICAST_MIN: u16 = 1 << GRP_SHIFT;

packet_view! {
    /// A read/write view of an E-Tag starting at its TPID.
    short => TruncatedTag
}

impl<T: AsRef<[u8]>> Packet<T> {
    fn word1(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WORD1)
    }

    fn word2(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WORD2)
    }

    /// TPID (0x893F for a valid E-Tag).
    pub fn tpid(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::TPID))
    }

    /// E-PCP, 0..=7.
    pub fn pcp(&self) -> u8 {
        ((self.word1() & PCP_MASK) >> PCP_SHIFT) as u8
    }

    /// E-DEI.
    pub fn dei(&self) -> bool {
        self.word1() & DEI_MASK != 0
    }

    /// Ingress_E-CID_base, 0..=4095.
    pub fn ingress_ecid_base(&self) -> u16 {
        (self.word1() & INGRESS_ECID_BASE_MASK) >> INGRESS_ECID_BASE_SHIFT
    }

    /// Reserved bits, 0..=3 (ignored on receive).
    pub fn resv(&self) -> u8 {
        ((self.word2() & RESV_MASK) >> RESV_SHIFT) as u8
    }

    /// GRP, 0..=3: 0 = point-to-point, else a multicast E-channel.
    pub fn grp(&self) -> u8 {
        ((self.word2() & GRP_MASK) >> GRP_SHIFT) as u8
    }

    /// E-CID_base, 0..=4095.
    pub fn ecid_base(&self) -> u16 {
        (self.word2() & ECID_BASE_MASK) >> ECID_BASE_SHIFT
    }

    /// E-CID = GRP:E-CID_base, 0..=0x3FFF.
    pub fn ecid(&self) -> u16 {
        self.word2() & ECID_MASK
    }

    /// Ingress_E-CID_ext.
    pub fn ingress_ecid_ext(&self) -> u8 {
        self.buffer.as_ref()[field::INGRESS_ECID_EXT]
    }

    /// E-CID_ext.
    pub fn ecid_ext(&self) -> u8 {
        self.buffer.as_ref()[field::ECID_EXT]
    }

    /// Inner EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Bytes after the inner EtherType.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_word1_bits(&mut self, mask: u16, shift: u32, value: u16) {
        let w = (self.word1() & !mask) | ((value << shift) & mask);
        write_u16(self.buffer.as_mut(), field::WORD1, w);
    }

    fn set_word2_bits(&mut self, mask: u16, shift: u32, value: u16) {
        let w = (self.word2() & !mask) | ((value << shift) & mask);
        write_u16(self.buffer.as_mut(), field::WORD2, w);
    }

    /// Sets the TPID.
    pub fn set_tpid(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::TPID, value.0);
    }

    /// Sets E-PCP; bits above 3 are ignored.
    pub fn set_pcp(&mut self, value: u8) {
        self.set_word1_bits(PCP_MASK, PCP_SHIFT, u16::from(value));
    }

    /// Sets E-DEI.
    pub fn set_dei(&mut self, value: bool) {
        self.set_word1_bits(DEI_MASK, 0, u16::from(value) * DEI_MASK);
    }

    /// Sets Ingress_E-CID_base; bits above 12 are ignored.
    pub fn set_ingress_ecid_base(&mut self, value: u16) {
        self.set_word1_bits(INGRESS_ECID_BASE_MASK, INGRESS_ECID_BASE_SHIFT, value);
    }

    /// Sets the reserved bits (send 0; settable for tests of the receive
    /// rule); bits above 2 are ignored.
    pub fn set_resv(&mut self, value: u8) {
        self.set_word2_bits(RESV_MASK, RESV_SHIFT, u16::from(value));
    }

    /// Sets GRP; bits above 2 are ignored.
    pub fn set_grp(&mut self, value: u8) {
        self.set_word2_bits(GRP_MASK, GRP_SHIFT, u16::from(value));
    }

    /// Sets E-CID_base; bits above 12 are ignored.
    pub fn set_ecid_base(&mut self, value: u16) {
        self.set_word2_bits(ECID_BASE_MASK, ECID_BASE_SHIFT, value);
    }

    /// Sets E-CID = GRP:E-CID_base; bits above 14 are ignored.
    pub fn set_ecid(&mut self, value: u16) {
        self.set_word2_bits(ECID_MASK, 0, value);
    }

    /// Sets Ingress_E-CID_ext.
    pub fn set_ingress_ecid_ext(&mut self, value: u8) {
        self.buffer.as_mut()[field::INGRESS_ECID_EXT] = value;
    }

    /// Sets E-CID_ext.
    pub fn set_ecid_ext(&mut self, value: u8) {
        self.buffer.as_mut()[field::ECID_EXT] = value;
    }

    /// Sets the inner EtherType.
    pub fn set_ethertype(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, value.0);
    }

    /// Mutable bytes after the inner EtherType.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// High-level representation of an E-Tag.
///
/// The reserved bits are not represented: sent as 0, ignored on receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// E-PCP, 0..=7.
    pub pcp: u8,
    /// E-DEI.
    pub dei: bool,
    /// Ingress_E-CID_base, 0..=4095: where the frame entered (0 = none);
    /// used to prune the sender from a multicast.
    pub ingress_ecid_base: u16,
    /// GRP, 0..=3: 0 = point-to-point, 1..=3 = multicast E-channel.
    pub grp: u8,
    /// E-CID_base, 0..=4095.
    pub ecid_base: u16,
    /// Ingress_E-CID_ext (send 0).
    pub ingress_ecid_ext: u8,
    /// E-CID_ext (send 0).
    pub ecid_ext: u8,
    /// Inner EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads an E-Tag: [`Error::TruncatedTag`] on a short buffer,
    /// [`Error::BadTpid`] unless the TPID is 0x893F. Reserved bits are
    /// ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.tpid() != EtherType::ETAG {
            return Err(Error::BadTpid);
        }
        Ok(Repr {
            pcp: packet.pcp(),
            dei: packet.dei(),
            ingress_ecid_base: packet.ingress_ecid_base(),
            grp: packet.grp(),
            ecid_base: packet.ecid_base(),
            ingress_ecid_ext: packet.ingress_ecid_ext(),
            ecid_ext: packet.ecid_ext(),
            ethertype: packet.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`] (the tag plus the inner
    /// EtherType).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// E-CID = GRP:E-CID_base (14 bits), the working identifier.
    pub const fn ecid(&self) -> u16 {
        (((self.grp as u16) << GRP_SHIFT) & GRP_MASK) | (self.ecid_base & ECID_BASE_MASK)
    }

    /// Sets GRP and E-CID_base from a 14-bit E-CID (higher bits ignored).
    pub const fn set_ecid(&mut self, ecid: u16) {
        self.grp = ((ecid & GRP_MASK) >> GRP_SHIFT) as u8;
        self.ecid_base = ecid & ECID_BASE_MASK;
    }

    /// GRP != 0: a multicast E-channel (E-CID 0x1000..=0x3FFF).
    pub const fn is_multicast(&self) -> bool {
        self.grp & GRP_MAX != 0
    }

    /// Word 1 as emitted (out-of-range fields masked).
    pub const fn word1(&self) -> u16 {
        (((self.pcp as u16) << PCP_SHIFT) & PCP_MASK)
            | if self.dei { DEI_MASK } else { 0 }
            | ((self.ingress_ecid_base << INGRESS_ECID_BASE_SHIFT) & INGRESS_ECID_BASE_MASK)
    }

    /// Word 2 as emitted: reserved bits 0, then the E-CID.
    pub const fn word2(&self) -> u16 {
        self.ecid()
    }

    /// Writes TPID 0x893F, the E-TCI (reserved bits 0) and the inner
    /// EtherType. Panics if the buffer is shorter than
    /// [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_tpid(EtherType::ETAG);
        let buf = packet.buffer.as_mut();
        write_u16(buf, field::WORD1, self.word1());
        write_u16(buf, field::WORD2, self.word2());
        buf[field::INGRESS_ECID_EXT] = self.ingress_ecid_ext;
        buf[field::ECID_EXT] = self.ecid_ext;
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // et03 from offset 12: GRP 1, E-CID_base 0x234, Ingress 10, ARP.
    static ET03: [u8; 12] = [
        0x89, 0x3f, 0x00, 0x0a, 0x12, 0x34, 0x00, 0x00, 0x08, 0x06, 0x00, 0x01,
    ];
    // et02 from offset 12: PCP 5, E-CID 10, IPv4.
    static ET02: [u8; 10] = [0x89, 0x3f, 0xa0, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x08, 0x00];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&ET03[..]).unwrap();
        assert_eq!(p.tpid(), EtherType::ETAG);
        assert_eq!((p.pcp(), p.dei(), p.ingress_ecid_base()), (0, false, 10));
        assert_eq!(
            (p.resv(), p.grp(), p.ecid_base(), p.ecid()),
            (0, 1, 0x234, 0x1234)
        );
        assert_eq!((p.ingress_ecid_ext(), p.ecid_ext()), (0, 0));
        assert_eq!(p.ethertype(), EtherType::ARP);
        assert_eq!(p.payload(), &[0x00, 0x01]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                pcp: 0,
                dei: false,
                ingress_ecid_base: 10,
                grp: 1,
                ecid_base: 0x234,
                ingress_ecid_ext: 0,
                ecid_ext: 0,
                ethertype: EtherType::ARP
            }
        );
        assert!(r.is_multicast());
        assert_eq!(r.ecid(), 0x1234);

        let r = Repr::parse(&Packet::new_checked(&ET02[..]).unwrap()).unwrap();
        assert_eq!((r.pcp, r.ecid(), r.is_multicast()), (5, 10, false));
    }

    #[test]
    fn emit_round_trip() {
        for tag in [&ET03[..HEADER_LEN], &ET02[..]] {
            let r = Repr::parse(&Packet::new_unchecked(tag)).unwrap();
            let mut buf = [0xAAu8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(&buf[..], tag);
        }
        assert_eq!((TAG_LEN, HEADER_LEN), (8, 10));
    }

    #[test]
    fn ecid_helpers() {
        assert_eq!(
            (ECID_MAX, ECID_MULTICAST_MIN, GRP_MAX, PCP_MAX),
            (0x3fff, 0x1000, 3, 7)
        );
        let mut r = Repr::default();
        r.set_ecid(0x3fff);
        assert_eq!((r.grp, r.ecid_base, r.ecid()), (3, 0xfff, 0x3fff));
        assert!(r.is_multicast());
        r.set_ecid(0x0fff);
        assert_eq!((r.grp, r.ecid_base), (0, 0xfff));
        assert!(!r.is_multicast());
        for grp in 1..=3u8 {
            r.grp = grp;
            assert!(r.is_multicast());
            assert_eq!(r.ecid(), (u16::from(grp) << 12) | 0xfff);
        }
        r.set_ecid(0xffff); // high bits ignored
        assert_eq!(r.ecid(), 0x3fff);
    }

    #[test]
    fn bit_field_extremes() {
        let r = Repr {
            pcp: 7,
            dei: true,
            ingress_ecid_base: 4095,
            grp: 3,
            ecid_base: 4095,
            ingress_ecid_ext: 0xff,
            ecid_ext: 0xff,
            ethertype: EtherType(0xffff),
        };
        let mut buf = [0u8; HEADER_LEN];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        // Everything set except the reserved bits.
        assert_eq!(
            buf,
            [0x89, 0x3f, 0xff, 0xff, 0x3f, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(Repr::parse(&Packet::new_unchecked(&buf[..])), Ok(r));
        let only = |f: fn(&mut Repr)| {
            let mut r = Repr::default();
            f(&mut r);
            (r.word1(), r.word2())
        };
        assert_eq!(only(|r| r.pcp = 7), (0xe000, 0));
        assert_eq!(only(|r| r.dei = true), (0x1000, 0));
        assert_eq!(only(|r| r.ingress_ecid_base = 4095), (0x0fff, 0));
        assert_eq!(only(|r| r.grp = 3), (0, 0x3000));
        assert_eq!(only(|r| r.ecid_base = 4095), (0, 0x0fff));
        // Out-of-range values are masked, not spilled into neighbours.
        assert_eq!(only(|r| r.pcp = 0xff), (0xe000, 0));
        assert_eq!(only(|r| r.grp = 0xff), (0, 0x3000));
        assert_eq!(only(|r| r.ecid_base = 0xffff), (0, 0x0fff));
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_tpid(EtherType::ETAG);
        p.set_pcp(7);
        p.set_dei(true);
        p.set_ingress_ecid_base(4095);
        p.set_resv(3);
        p.set_grp(3);
        p.set_ecid_base(4095);
        p.set_ingress_ecid_ext(0x12);
        p.set_ecid_ext(0x34);
        p.set_ethertype(EtherType::IPV6);
        assert_eq!(
            buf,
            [0x89, 0x3f, 0xff, 0xff, 0xff, 0xff, 0x12, 0x34, 0x86, 0xdd]
        );
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_pcp(5);
        p.set_dei(false);
        p.set_ingress_ecid_base(10);
        p.set_resv(0);
        p.set_ecid(0x1234);
        assert_eq!((p.pcp(), p.dei(), p.ingress_ecid_base()), (5, false, 10));
        assert_eq!((p.resv(), p.grp(), p.ecid_base()), (0, 1, 0x234));
        assert_eq!(buf[2..6], [0xa0, 0x0a, 0x12, 0x34]);
    }

    #[test]
    fn reserved_ignored_and_wrong_tpid() {
        let mut buf = ET03;
        Packet::new_unchecked(&mut buf[..]).set_resv(3);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Repr::parse(&Packet::new_unchecked(&ET03[..]))
        );
        let mut buf = ET03;
        buf[1] = 0x26;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Err(Error::BadTpid)
        );
    }

    #[test]
    fn check_len_short() {
        // et07: 0x893F and 4 of 6 E-TCI bytes.
        let et07 = [0x89, 0x3f, 0x00, 0x00, 0x00, 0x0a];
        assert_eq!(Packet::new_checked(&et07[..]), Err(Error::TruncatedTag));
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ET03[..n]), Err(Error::TruncatedTag));
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&ET03[..n])),
                Err(Error::TruncatedTag)
            );
        }
        assert!(Packet::new_checked(&ET03[..HEADER_LEN]).is_ok());
    }

    proptest! {
        #[test]
        fn repr_round_trip(
            pcp in 0u8..=7, dei: bool, ingress_ecid_base in 0u16..=4095, grp in 0u8..=3,
            ecid_base in 0u16..=4095, ingress_ecid_ext: u8, ecid_ext: u8, et: u16,
        ) {
            let r = Repr {
                pcp, dei, ingress_ecid_base, grp, ecid_base, ingress_ecid_ext, ecid_ext,
                ethertype: EtherType(et),
            };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let w1 = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | ingress_ecid_base;
            let w2 = (u16::from(grp) << 12) | ecid_base;
            prop_assert_eq!(&buf[2..4], &w1.to_be_bytes()[..]);
            prop_assert_eq!(&buf[4..6], &w2.to_be_bytes()[..]);
            prop_assert_eq!(&buf[6..8], &[ingress_ecid_ext, ecid_ext][..]);
            let parsed = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
            prop_assert_eq!(parsed, r);
            prop_assert_eq!(parsed.ecid(), w2);
            prop_assert_eq!(parsed.is_multicast(), w2 >= ECID_MULTICAST_MIN);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..14)) {
            let _ = Packet::new_checked(&data[..]).and_then(|p| Repr::parse(&p));
        }
    }
}
