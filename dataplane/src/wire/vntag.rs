//! VN-Tag (Cisco, 802.1Qbh proposal; TPID 0x8926).
//!
//! The view starts at the TPID (see the [module docs](super)): TPID (2) +
//! 32-bit big-endian TCI (4) + inner EtherType (2). [`TAG_LEN`] = 6 bytes
//! are what a push inserts after the MACs.
//!
//! TCI layout (tshark field names in brackets):
//!
//! | bits   | mask         | field |
//! |--------|--------------|-------|
//! | 31     | `0x80000000` | d, direction (`vntag.dir`): 0 to bridge, 1 from bridge |
//! | 30     | `0x40000000` | p, pointer (`vntag.ptr`): dst is a VIF-list id |
//! | 29..16 | `0x3FFF0000` | dst VIF or VIF-list id, 14 bits (`vntag.dst`) |
//! | 15     | `0x00008000` | l, looped (`vntag.looped`) |
//! | 14     | `0x00004000` | r, reserved (`vntag.r`) |
//! | 13..12 | `0x00003000` | ver (`vntag.version`) |
//! | 11..0  | `0x00000FFF` | src VIF, 12 bits (`vntag.src`) |
//!
//! Receive rules: `ver` != 0 is rejected with [`Error::BadVersion`] (a
//! decision, see `PROTOCOLS.md`); `r` is ignored (not in [`Repr`]); a
//! buffer without the whole TCI and inner EtherType is
//! [`Error::TruncatedTag`]. On send, `r` and `ver` are 0.

use super::{Error, EtherType, Result, field::Field, field::Rest, read_u16, write_u16};

/// Byte ranges of a VN-Tag, relative to its TPID.
pub mod field {
    use super::{Field, Rest};
    /// TPID, 0x8926.
    pub const TPID: Field = 0..2;
    /// 32-bit TCI.
    pub const TCI: Field = 2..6;
    /// Inner EtherType.
    pub const ETHERTYPE: Field = 6..8;
    /// What follows the inner EtherType.
    pub const PAYLOAD: Rest = 8..;
}

/// TPID + TCI + inner EtherType: 8.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Bytes inserted after the MACs by a push (TPID + TCI): 6.
pub const TAG_LEN: usize = field::ETHERTYPE.start;

/// d (direction) bit: 1 = from the bridge (downstream).
pub const DIR_MASK: u32 = 0x8000_0000;
/// p (pointer) bit: 1 = `dst` is a VIF-list id.
pub const PTR_MASK: u32 = 0x4000_0000;
/// Destination VIF / VIF-list id bits.
pub const DST_MASK: u32 = 0x3FFF_0000;
/// Shift of the destination bits.
pub const DST_SHIFT: u32 = 16;
/// l (looped) bit.
pub const LOOPED_MASK: u32 = 0x0000_8000;
/// r (reserved) bit.
pub const R_MASK: u32 = 0x0000_4000;
/// Version bits.
pub const VER_MASK: u32 = 0x0000_3000;
/// Shift of the version bits.
pub const VER_SHIFT: u32 = 12;
/// Source VIF bits.
pub const SRC_MASK: u32 = 0x0000_0FFF;
/// Shift of the source VIF bits.
pub const SRC_SHIFT: u32 = 0;

/// Largest destination VIF / VIF-list id: 16383.
pub const DST_MAX: u16 = (DST_MASK >> DST_SHIFT) as u16;
/// Largest source VIF: 4095.
pub const SRC_MAX: u16 = (SRC_MASK >> SRC_SHIFT) as u16;
/// Largest version value: 3.
pub const VER_MAX: u8 = (VER_MASK >> VER_SHIFT) as u8;

packet_view! {
    /// A read/write view of a VN-Tag starting at its TPID.
    short => TruncatedTag
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// TPID (0x8926 for a valid VN-Tag).
    pub fn tpid(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::TPID))
    }

    /// Raw 32-bit TCI.
    pub fn tci(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::TCI];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// d: `true` = from the bridge (downstream).
    pub fn direction(&self) -> bool {
        self.tci() & DIR_MASK != 0
    }

    /// p: `true` = [`Packet::dst`] is a VIF-list id.
    pub fn pointer(&self) -> bool {
        self.tci() & PTR_MASK != 0
    }

    /// Destination VIF or VIF-list id, 0..=16383.
    pub fn dst(&self) -> u16 {
        ((self.tci() & DST_MASK) >> DST_SHIFT) as u16
    }

    /// l: looped.
    pub fn looped(&self) -> bool {
        self.tci() & LOOPED_MASK != 0
    }

    /// r: reserved bit (ignored on receive).
    pub fn reserved(&self) -> bool {
        self.tci() & R_MASK != 0
    }

    /// ver, 0..=3.
    pub fn version(&self) -> u8 {
        ((self.tci() & VER_MASK) >> VER_SHIFT) as u8
    }

    /// Source VIF, 0..=4095.
    pub fn src(&self) -> u16 {
        ((self.tci() & SRC_MASK) >> SRC_SHIFT) as u16
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
    fn set_tci_bits(&mut self, mask: u32, shift: u32, value: u32) {
        let tci = (self.tci() & !mask) | ((value << shift) & mask);
        self.set_tci(tci);
    }

    /// Sets the TPID.
    pub fn set_tpid(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::TPID, value.0);
    }

    /// Sets the raw 32-bit TCI.
    pub fn set_tci(&mut self, value: u32) {
        self.buffer.as_mut()[field::TCI].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets d.
    pub fn set_direction(&mut self, value: bool) {
        self.set_tci_bits(DIR_MASK, 0, u32::from(value) * DIR_MASK);
    }

    /// Sets p.
    pub fn set_pointer(&mut self, value: bool) {
        self.set_tci_bits(PTR_MASK, 0, u32::from(value) * PTR_MASK);
    }

    /// Sets the destination VIF / VIF-list id; bits above 14 are ignored.
    pub fn set_dst(&mut self, value: u16) {
        self.set_tci_bits(DST_MASK, DST_SHIFT, u32::from(value));
    }

    /// Sets l.
    pub fn set_looped(&mut self, value: bool) {
        self.set_tci_bits(LOOPED_MASK, 0, u32::from(value) * LOOPED_MASK);
    }

    /// Sets r (send 0; settable for tests of the receive rule).
    pub fn set_reserved(&mut self, value: bool) {
        self.set_tci_bits(R_MASK, 0, u32::from(value) * R_MASK);
    }

    /// Sets ver; bits above 2 are ignored (send 0).
    pub fn set_version(&mut self, value: u8) {
        self.set_tci_bits(VER_MASK, VER_SHIFT, u32::from(value));
    }

    /// Sets the source VIF; bits above 12 are ignored.
    pub fn set_src(&mut self, value: u16) {
        self.set_tci_bits(SRC_MASK, SRC_SHIFT, u32::from(value));
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

/// High-level representation of a VN-Tag.
///
/// `r` and `ver` are not represented: they are sent as 0, `r` is ignored
/// on receive and `ver` != 0 is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// d: `true` = from the bridge (downstream), `false` = to the bridge.
    pub direction: bool,
    /// p: `true` = `dst` is a VIF-list id (multicast).
    pub pointer: bool,
    /// Destination VIF or VIF-list id, 0..=16383.
    pub dst: u16,
    /// l: the frame returns down the link it came from; prune `src`.
    pub looped: bool,
    /// Source VIF, 0..=4095. 0 means "none".
    pub src: u16,
    /// Inner EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads a VN-Tag: [`Error::TruncatedTag`] on a short buffer,
    /// [`Error::BadTpid`] unless the TPID is 0x8926, [`Error::BadVersion`]
    /// if `ver` != 0. The `r` bit is ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.tpid() != EtherType::VNTAG {
            return Err(Error::BadTpid);
        }
        if packet.version() != 0 {
            return Err(Error::BadVersion);
        }
        Ok(Repr {
            direction: packet.direction(),
            pointer: packet.pointer(),
            dst: packet.dst(),
            looped: packet.looped(),
            src: packet.src(),
            ethertype: packet.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`] (the tag plus the inner
    /// EtherType).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The 32-bit TCI this repr encodes, with `r` = 0 and `ver` = 0
    /// (out-of-range `dst` / `src` are masked).
    pub const fn tci(&self) -> u32 {
        (if self.direction { DIR_MASK } else { 0 })
            | (if self.pointer { PTR_MASK } else { 0 })
            | (((self.dst as u32) << DST_SHIFT) & DST_MASK)
            | (if self.looped { LOOPED_MASK } else { 0 })
            | (((self.src as u32) << SRC_SHIFT) & SRC_MASK)
    }

    /// Writes TPID 0x8926, the TCI and the inner EtherType. Panics if the
    /// buffer is shorter than [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_tpid(EtherType::VNTAG);
        packet.set_tci(self.tci());
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // vn03 from offset 12: d=1 p=1 dst=0x123, ARP.
    static VN03: [u8; 10] = [0x89, 0x26, 0xc1, 0x23, 0x00, 0x00, 0x08, 0x06, 0x00, 0x01];
    // vn06 from offset 12: d=0 src=4095, then a C-tag.
    static VN06: [u8; 8] = [0x89, 0x26, 0x00, 0x00, 0x0f, 0xff, 0x81, 0x00];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&VN03[..]).unwrap();
        assert_eq!(p.tpid(), EtherType::VNTAG);
        assert_eq!(p.tci(), 0xc123_0000);
        assert!(p.direction() && p.pointer() && !p.looped() && !p.reserved());
        assert_eq!((p.dst(), p.version(), p.src()), (291, 0, 0));
        assert_eq!(p.ethertype(), EtherType::ARP);
        assert_eq!(p.payload(), &[0x00, 0x01]);
        assert_eq!(
            Repr::parse(&p),
            Ok(Repr {
                direction: true,
                pointer: true,
                dst: 291,
                looped: false,
                src: 0,
                ethertype: EtherType::ARP
            })
        );
        let r = Repr::parse(&Packet::new_checked(&VN06[..]).unwrap()).unwrap();
        assert_eq!(
            (r.direction, r.src, r.ethertype),
            (false, 4095, EtherType::VLAN)
        );
    }

    #[test]
    fn emit_round_trip() {
        for tag in [&VN03[..8], &VN06[..]] {
            let r = Repr::parse(&Packet::new_unchecked(tag)).unwrap();
            let mut buf = [0x55u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(&buf[..], tag);
        }
        assert_eq!(TAG_LEN, 6);
        assert_eq!(HEADER_LEN, 8);
    }

    #[test]
    fn bit_field_extremes() {
        assert_eq!((DST_MAX, SRC_MAX, VER_MAX), (16383, 4095, 3));
        let r = Repr {
            direction: true,
            pointer: true,
            dst: 16383,
            looped: true,
            src: 4095,
            ethertype: EtherType(0xffff),
        };
        let mut buf = [0u8; HEADER_LEN];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        // All bits set except r and ver.
        assert_eq!(buf, [0x89, 0x26, 0xff, 0xff, 0x8f, 0xff, 0xff, 0xff]);
        assert_eq!(Repr::parse(&Packet::new_unchecked(&buf[..])), Ok(r));

        // Each field alone, at its maximum.
        let one = |f: fn(&mut Repr)| {
            let mut r = Repr::default();
            f(&mut r);
            r.tci()
        };
        assert_eq!(one(|r| r.direction = true), 0x8000_0000);
        assert_eq!(one(|r| r.pointer = true), 0x4000_0000);
        assert_eq!(one(|r| r.dst = 16383), 0x3fff_0000);
        assert_eq!(one(|r| r.looped = true), 0x0000_8000);
        assert_eq!(one(|r| r.src = 4095), 0x0000_0fff);
        // Out-of-range values are masked, not spilled into neighbours.
        assert_eq!(one(|r| r.dst = 0xffff), 0x3fff_0000);
        assert_eq!(one(|r| r.src = 0xffff), 0x0000_0fff);
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_tpid(EtherType::VNTAG);
        p.set_direction(true);
        assert_eq!(p.tci(), 0x8000_0000);
        p.set_pointer(true);
        p.set_dst(16383);
        assert_eq!(p.tci(), 0xffff_0000);
        p.set_looped(true);
        p.set_reserved(true);
        p.set_version(3);
        p.set_src(4095);
        assert_eq!(p.tci(), 0xffff_ffff);
        p.set_dst(0);
        assert_eq!(p.tci(), 0xc000_ffff);
        p.set_direction(false);
        p.set_pointer(false);
        p.set_looped(false);
        p.set_reserved(false);
        p.set_version(0);
        assert_eq!(p.tci(), 0x0000_0fff);
        p.set_src(0x1005); // high bits ignored
        assert_eq!(p.src(), 5);
        p.set_ethertype(EtherType::IPV4);
        assert_eq!(buf, [0x89, 0x26, 0, 0, 0, 5, 0x08, 0x00]);
    }

    #[test]
    fn receive_rules() {
        // r is ignored.
        let mut buf = VN06;
        Packet::new_unchecked(&mut buf[..]).set_reserved(true);
        let r = Repr::parse(&Packet::new_unchecked(&buf[..])).unwrap();
        assert_eq!(r, Repr::parse(&Packet::new_unchecked(&VN06[..])).unwrap());
        // ver != 0 is rejected.
        for ver in 1..=3 {
            let mut buf = VN06;
            Packet::new_unchecked(&mut buf[..]).set_version(ver);
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&buf[..])),
                Err(Error::BadVersion)
            );
        }
        // Wrong TPID.
        let mut buf = VN06;
        buf[1] = 0x3f;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Err(Error::BadTpid)
        );
    }

    #[test]
    fn check_len_short() {
        // vn08: 0x8926 and 3 TCI bytes.
        let vn08 = [0x89, 0x26, 0x80, 0x05, 0x00];
        assert_eq!(Packet::new_checked(&vn08[..]), Err(Error::TruncatedTag));
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&VN06[..n]), Err(Error::TruncatedTag));
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&VN06[..n])),
                Err(Error::TruncatedTag)
            );
        }
        assert!(Packet::new_checked(&VN06[..HEADER_LEN]).is_ok());
    }

    proptest! {
        #[test]
        fn repr_round_trip(
            direction: bool, pointer: bool, dst in 0u16..=16383, looped: bool,
            src in 0u16..=4095, et: u16,
        ) {
            let r = Repr { direction, pointer, dst, looped, src, ethertype: EtherType(et) };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let tci = (u32::from(direction) << 31)
                | (u32::from(pointer) << 30)
                | (u32::from(dst) << 16)
                | (u32::from(looped) << 15)
                | u32::from(src);
            prop_assert_eq!(&buf[2..6], &tci.to_be_bytes()[..]);
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn setters_match_repr(tci: u32) {
            let mut buf = [0u8; HEADER_LEN];
            let mut p = Packet::new_unchecked(&mut buf[..]);
            p.set_tpid(EtherType::VNTAG);
            p.set_tci(tci);
            let mut q_buf = [0u8; HEADER_LEN];
            let mut q = Packet::new_unchecked(&mut q_buf[..]);
            q.set_direction(p.direction());
            q.set_pointer(p.pointer());
            q.set_dst(p.dst());
            q.set_looped(p.looped());
            q.set_reserved(p.reserved());
            q.set_version(p.version());
            q.set_src(p.src());
            prop_assert_eq!(q.tci(), tci);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = Packet::new_checked(&data[..]).and_then(|p| Repr::parse(&p));
        }
    }
}
