//! 802.1ad S-tag (TPID 0x88A8, legacy 0x9100 / 0x9200): PCP, DEI, S-VID
//! and the inner EtherType.
//!
//! In 802.1Qbg multichannel the S-VID selects the S-channel (S-VID 1 = the
//! default channel, 2..=4094 extra channels). The view starts at the TPID
//! (see the [module docs](super)): TPID (2) + TCI (2) + inner EtherType
//! (2). [`TAG_LEN`] = 4 bytes are what a push inserts. The TCI layout is
//! the C-tag's.

use super::{Error, EtherType, Result, field::Field, field::Rest, vlan};

/// Byte ranges of an S-tag, relative to its TPID.
pub mod field {
    use super::{Field, Rest};
    /// TPID: 0x88A8, 0x9100 or 0x9200.
    pub const TPID: Field = 0..2;
    /// TCI: PCP (3) | DEI (1) | S-VID (12).
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
pub const PCP_MASK: u16 = vlan::PCP_MASK;
/// Shift of the PCP bits.
pub const PCP_SHIFT: u32 = vlan::PCP_SHIFT;
/// DEI bit of the TCI.
pub const DEI_MASK: u16 = vlan::DEI_MASK;
/// S-VID bits of the TCI.
pub const SVID_MASK: u16 = vlan::VID_MASK;
/// Shift of the S-VID bits.
pub const SVID_SHIFT: u32 = vlan::VID_SHIFT;

/// A read/write view of an 802.1ad S-tag starting at its TPID. The TCI
/// layout is the C-tag's, so this is the C-tag view ([`vlan::Packet`])
/// with S-VID names added; a valid S-tag has TPID 0x88A8, 0x9100 or
/// 0x9200 (checked by [`Repr::parse`]).
pub use super::vlan::Packet;

impl<T: AsRef<[u8]>> Packet<T> {
    /// S-VID, 0..=4095 (the TCI's VID bits).
    pub fn svid(&self) -> u16 {
        self.vid()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the S-VID; bits above 12 are ignored.
    pub fn set_svid(&mut self, value: u16) {
        self.set_vid(value);
    }
}

/// High-level representation of an 802.1ad S-tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// TPID: [`EtherType::QINQ`] (0x88A8), or the legacy
    /// [`EtherType::QINQ_9100`] / [`EtherType::QINQ_9200`]. Kept so that
    /// parse + emit reproduces the frame.
    pub tpid: EtherType,
    /// Priority code point, 0..=7.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// S-VID (S-channel), 0..=4095.
    pub svid: u16,
    /// Inner EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads an S-tag: [`Error::Truncated`] on a short buffer,
    /// [`Error::BadTpid`] unless the TPID is 0x88A8, 0x9100 or 0x9200.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        let tpid = packet.tpid();
        if !tpid.is_stag() {
            return Err(Error::BadTpid);
        }
        Ok(Repr {
            tpid,
            pcp: packet.pcp(),
            dei: packet.dei(),
            svid: packet.svid(),
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
            | ((self.svid << SVID_SHIFT) & SVID_MASK)
    }

    /// Writes `self.tpid` (as is: the caller keeps it one of the S-tag
    /// TPIDs), the TCI and the inner EtherType. Panics if the buffer is
    /// shorter than [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_tpid(self.tpid);
        packet.set_tci(self.tci());
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // From st01: S-tag PCP 3, S-VID 10, then a C-tag.
    static TAG: [u8; 8] = [0x88, 0xa8, 0x60, 0x0a, 0x81, 0x00, 0x00, 0x64];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&TAG[..]).unwrap();
        assert_eq!(p.tpid(), EtherType::QINQ);
        assert_eq!((p.pcp(), p.dei(), p.svid()), (3, false, 10));
        assert_eq!(p.ethertype(), EtherType::VLAN);
        assert_eq!(p.payload(), &[0x00, 0x64]);
        assert_eq!(
            Repr::parse(&p),
            Ok(Repr {
                tpid: EtherType::QINQ,
                pcp: 3,
                dei: false,
                svid: 10,
                ethertype: EtherType::VLAN
            })
        );
    }

    #[test]
    fn emit_round_trip_all_tpids() {
        for tpid in [0x88a8u16, 0x9100, 0x9200] {
            let mut frame = TAG;
            frame[0..2].copy_from_slice(&tpid.to_be_bytes());
            let r = Repr::parse(&Packet::new_unchecked(&frame[..])).unwrap();
            assert_eq!(r.tpid, EtherType(tpid));
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            assert_eq!(buf[..], frame[..HEADER_LEN]);
        }
        assert_eq!(TAG_LEN, 4);
    }

    #[test]
    fn setters_and_extremes() {
        let mut buf = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_tpid(EtherType::QINQ);
        p.set_pcp(7);
        p.set_dei(true);
        p.set_svid(4095);
        assert_eq!(p.tci(), 0xFFFF);
        p.set_dei(false);
        p.set_svid(1);
        assert_eq!((p.pcp(), p.dei(), p.svid()), (7, false, 1));
        p.set_ethertype(EtherType::IPV4);
        assert_eq!(buf, [0x88, 0xa8, 0xE0, 0x01, 0x08, 0x00]);
    }

    #[test]
    fn check_len_short_and_wrong_tpid() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&TAG[..n]), Err(Error::Truncated));
        }
        let mut buf = TAG;
        buf[0..2].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Err(Error::BadTpid)
        );
    }

    proptest! {
        #[test]
        fn repr_round_trip(
            tpid in prop_oneof![Just(0x88a8u16), Just(0x9100), Just(0x9200)],
            pcp in 0u8..=7, dei: bool, svid in 0u16..=4095, et: u16,
        ) {
            let r = Repr { tpid: EtherType(tpid), pcp, dei, svid, ethertype: EtherType(et) };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | svid;
            prop_assert_eq!(&buf[2..4], &tci.to_be_bytes()[..]);
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
    }
}
