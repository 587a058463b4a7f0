//! 802.1Q C-tag (TPID 0x8100): PCP, DEI, VID and the inner EtherType.
//!
//! The view starts at the TPID (see the [module docs](super)): TPID (2) +
//! TCI (2) + inner EtherType (2). [`TAG_LEN`] = 4 bytes are what a push
//! inserts.

use super::{Error, EtherType, Result, field::Field, field::Rest, read_u16, write_u16};

/// Byte ranges of a C-tag, relative to its TPID.
pub mod field {
    use super::{Field, Rest};
    /// TPID, 0x8100.
    pub const TPID: Field = 0..2;
    /// TCI: PCP (3) | DEI (1) | VID (12).
    pub const TCI: Field = 2..4;
    /// Inner EtherType.
    pub const ETHERTYPE: Field = 4..6;
    /// What follows the inner EtherType.
    pub const PAYLOAD: Rest = 6..;
}

/// TPID + TCI + inner EtherType: 6.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Bytes inserted by a push (TPID + TCI): 4.
pub const TAG_LEN: usize = field::ETHERTYPE.start;

/// PCP bits of the TCI.
pub const PCP_MASK: u16 = 0xE000;
/// Shift of the PCP bits.
pub const PCP_SHIFT: u32 = 13;
/// DEI bit of the TCI.
pub const DEI_MASK: u16 = 0x1000;
/// VID bits of the TCI.
pub const VID_MASK: u16 = 0x0FFF;
/// Shift of the VID bits.
pub const VID_SHIFT: u32 = 0;
/// Largest PCP.
pub const PCP_MAX: u8 = (PCP_MASK >> PCP_SHIFT) as u8;
/// Largest VID (4095, reserved on the wire but representable).
pub const VID_MAX: u16 = VID_MASK;

packet_view! {
    /// A read/write view of an 802.1Q C-tag starting at its TPID.
    short => Truncated
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// TPID (0x8100 for a valid C-tag).
    pub fn tpid(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::TPID))
    }

    /// Raw 16-bit TCI.
    pub fn tci(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point, 0..=7.
    pub fn pcp(&self) -> u8 {
        ((self.tci() & PCP_MASK) >> PCP_SHIFT) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & DEI_MASK != 0
    }

    /// VLAN id, 0..=4095.
    pub fn vid(&self) -> u16 {
        (self.tci() & VID_MASK) >> VID_SHIFT
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
    fn set_tci_bits(&mut self, mask: u16, shift: u32, value: u16) {
        let tci = (self.tci() & !mask) | ((value << shift) & mask);
        self.set_tci(tci);
    }

    /// Sets the TPID.
    pub fn set_tpid(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::TPID, value.0);
    }

    /// Sets the raw TCI.
    pub fn set_tci(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::TCI, value);
    }

    /// Sets the PCP; bits above 3 are ignored.
    pub fn set_pcp(&mut self, value: u8) {
        self.set_tci_bits(PCP_MASK, PCP_SHIFT, u16::from(value));
    }

    /// Sets the DEI bit.
    pub fn set_dei(&mut self, value: bool) {
        self.set_tci_bits(DEI_MASK, 0, u16::from(value) * DEI_MASK);
    }

    /// Sets the VID; bits above 12 are ignored.
    pub fn set_vid(&mut self, value: u16) {
        self.set_tci_bits(VID_MASK, VID_SHIFT, value);
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

/// High-level representation of an 802.1Q C-tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN id, 0..=4095.
    pub vid: u16,
    /// Inner EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads a C-tag: [`Error::Truncated`] on a short buffer,
    /// [`Error::BadTpid`] unless the TPID is 0x8100.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.tpid() != EtherType::VLAN {
            return Err(Error::BadTpid);
        }
        Ok(Repr {
            pcp: packet.pcp(),
            dei: packet.dei(),
            vid: packet.vid(),
            ethertype: packet.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The 16-bit TCI this repr encodes (out-of-range fields are masked).
    pub const fn tci(&self) -> u16 {
        (((self.pcp as u16) << PCP_SHIFT) & PCP_MASK)
            | if self.dei { DEI_MASK } else { 0 }
            | ((self.vid << VID_SHIFT) & VID_MASK)
    }

    /// Writes TPID 0x8100, the TCI and the inner EtherType. Panics if the
    /// buffer is shorter than [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_tpid(EtherType::VLAN);
        packet.set_tci(self.tci());
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // From vn06: C-tag PCP 3, VID 100, then IPv4.
    static TAG: [u8; 8] = [0x81, 0x00, 0x60, 0x64, 0x08, 0x00, 0x45, 0x00];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&TAG[..]).unwrap();
        assert_eq!(p.tpid(), EtherType::VLAN);
        assert_eq!((p.pcp(), p.dei(), p.vid()), (3, false, 100));
        assert_eq!(p.ethertype(), EtherType::IPV4);
        assert_eq!(p.payload(), &[0x45, 0x00]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                pcp: 3,
                dei: false,
                vid: 100,
                ethertype: EtherType::IPV4
            }
        );
    }

    #[test]
    fn emit_round_trip() {
        let r = Repr::parse(&Packet::new_unchecked(&TAG[..])).unwrap();
        let mut buf = [0xFFu8; HEADER_LEN];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..], TAG[..HEADER_LEN]);
        assert_eq!(r.buffer_len(), 6);
        assert_eq!(TAG_LEN, 4);
    }

    #[test]
    fn setters_and_extremes() {
        let mut buf = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_tpid(EtherType::VLAN);
        p.set_pcp(7);
        assert_eq!(p.tci(), 0xE000);
        p.set_dei(true);
        assert_eq!(p.tci(), 0xF000);
        p.set_vid(4095);
        assert_eq!(p.tci(), 0xFFFF);
        p.set_pcp(0);
        p.set_dei(false);
        assert_eq!(p.tci(), 0x0FFF);
        p.set_vid(0x1_005); // high bits ignored
        assert_eq!(p.vid(), 5);
        assert_eq!(p.pcp(), 0);
        p.set_ethertype(EtherType::ARP);
        assert_eq!(buf, [0x81, 0x00, 0x00, 0x05, 0x08, 0x06]);
        assert_eq!(PCP_MAX, 7);
    }

    #[test]
    fn check_len_short() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&TAG[..n]), Err(Error::Truncated));
            assert_eq!(
                Repr::parse(&Packet::new_unchecked(&TAG[..n])),
                Err(Error::Truncated)
            );
        }
        assert!(Packet::new_checked(&TAG[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn wrong_tpid() {
        let mut buf = TAG;
        buf[0..2].copy_from_slice(&[0x88, 0xa8]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Err(Error::BadTpid)
        );
    }

    proptest! {
        #[test]
        fn repr_round_trip(pcp in 0u8..=7, dei: bool, vid in 0u16..=4095, et: u16) {
            let r = Repr { pcp, dei, vid, ethertype: EtherType(et) };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | vid;
            prop_assert_eq!(&buf[2..4], &tci.to_be_bytes()[..]);
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = Packet::new_checked(&data[..]).and_then(|p| Repr::parse(&p));
        }
    }
}
