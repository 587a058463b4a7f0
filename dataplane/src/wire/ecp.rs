//! 802.1Qbg Edge Control Protocol header (EtherType 0x8940).
//!
//! Only the 4-byte ECP header is modelled: version (4) = 1, operation (2:
//! 0 request, 1 acknowledgement), subtype (10: 1 = VDP, 2 = PE CSP) and a
//! 16-bit sequence number. The view starts right after the Ethernet
//! EtherType. The ECPDU body (VDP TLVs) is exposed as raw
//! [`Packet::payload`] bytes and not parsed here (later work, see
//! `PROTOCOLS.md`).

use super::{Error, Result, field::Field, field::Rest, read_u16, write_u16};

/// Byte ranges of the ECP header.
pub mod field {
    use super::{Field, Rest};
    /// version (4) | operation (2) | subtype (10).
    pub const VER_OP_SUBTYPE: Field = 0..2;
    /// Sequence number.
    pub const SEQUENCE: Field = 2..4;
    /// ULPDU (e.g. VDP TLVs).
    pub const PAYLOAD: Rest = 4..;
}

/// Length of the ECP header: 4.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Version bits.
pub const VERSION_MASK: u16 = 0xF000;
/// Shift of the version bits.
pub const VERSION_SHIFT: u32 = 12;
/// Operation bits.
pub const OP_MASK: u16 = 0x0C00;
/// Shift of the operation bits.
pub const OP_SHIFT: u32 = 10;
/// Subtype bits.
pub const SUBTYPE_MASK: u16 = 0x03FF;
/// Shift of the subtype bits.
pub const SUBTYPE_SHIFT: u32 = 0;

/// The only ECP version accepted and sent.
pub const VERSION: u8 = 1;
/// Operation: request.
pub const OP_REQUEST: u8 = 0;
/// Operation: acknowledgement.
pub const OP_ACK: u8 = 1;
/// Subtype: VSI Discovery Protocol.
pub const SUBTYPE_VDP: u16 = 1;
/// Subtype: Port Extender Control and Status Protocol.
pub const SUBTYPE_PE_CSP: u16 = 2;

packet_view! {
    /// A read/write view of an ECP header.
    short => Truncated
}

impl<T: AsRef<[u8]>> Packet<T> {
    fn word(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::VER_OP_SUBTYPE)
    }

    /// Version, 0..=15 (1 for a valid header).
    pub fn version(&self) -> u8 {
        ((self.word() & VERSION_MASK) >> VERSION_SHIFT) as u8
    }

    /// Operation, 0..=3.
    pub fn op(&self) -> u8 {
        ((self.word() & OP_MASK) >> OP_SHIFT) as u8
    }

    /// Subtype, 0..=1023.
    pub fn subtype(&self) -> u16 {
        (self.word() & SUBTYPE_MASK) >> SUBTYPE_SHIFT
    }

    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SEQUENCE)
    }

    /// Bytes after the header (not parsed here).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_bits(&mut self, mask: u16, shift: u32, value: u16) {
        let w = (self.word() & !mask) | ((value << shift) & mask);
        write_u16(self.buffer.as_mut(), field::VER_OP_SUBTYPE, w);
    }

    /// Sets the version; bits above 4 are ignored.
    pub fn set_version(&mut self, value: u8) {
        self.set_bits(VERSION_MASK, VERSION_SHIFT, u16::from(value));
    }

    /// Sets the operation; bits above 2 are ignored.
    pub fn set_op(&mut self, value: u8) {
        self.set_bits(OP_MASK, OP_SHIFT, u16::from(value));
    }

    /// Sets the subtype; bits above 10 are ignored.
    pub fn set_subtype(&mut self, value: u16) {
        self.set_bits(SUBTYPE_MASK, SUBTYPE_SHIFT, value);
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SEQUENCE, value);
    }

    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// High-level representation of an ECP header (version 1 implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Repr {
    /// Operation: [`OP_REQUEST`] or [`OP_ACK`] (0..=3).
    pub op: u8,
    /// Subtype: [`SUBTYPE_VDP`], [`SUBTYPE_PE_CSP`], ... (0..=1023).
    pub subtype: u16,
    /// Sequence number.
    pub sequence: u16,
}

impl Repr {
    /// Reads the header: [`Error::Truncated`] on a short buffer,
    /// [`Error::BadVersion`] unless the version is 1.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(Error::BadVersion);
        }
        Ok(Repr {
            op: packet.op(),
            subtype: packet.subtype(),
            sequence: packet.sequence(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with version 1. Panics if the buffer is shorter
    /// than [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let w = ((u16::from(VERSION) << VERSION_SHIFT) & VERSION_MASK)
            | ((u16::from(self.op) << OP_SHIFT) & OP_MASK)
            | ((self.subtype << SUBTYPE_SHIFT) & SUBTYPE_MASK);
        write_u16(packet.buffer.as_mut(), field::VER_OP_SUBTYPE, w);
        packet.set_sequence(self.sequence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ec02 from offset 14: version 1, ACK, VDP, sequence 1.
    static EC02: [u8; 6] = [0x14, 0x01, 0x00, 0x01, 0x00, 0x00];

    #[test]
    fn parse_and_emit() {
        let p = Packet::new_checked(&EC02[..]).unwrap();
        assert_eq!(
            (p.version(), p.op(), p.subtype(), p.sequence()),
            (1, 1, 1, 1)
        );
        assert_eq!(p.payload(), &[0, 0]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                op: OP_ACK,
                subtype: SUBTYPE_VDP,
                sequence: 1
            }
        );
        let mut buf = [0u8; HEADER_LEN];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..], EC02[..HEADER_LEN]);
    }

    #[test]
    fn setters_and_extremes() {
        let mut buf = [0u8; HEADER_LEN];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(15);
        p.set_op(3);
        p.set_subtype(1023);
        p.set_sequence(0xffff);
        assert_eq!(buf, [0xff; 4]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(1);
        p.set_op(0);
        p.set_subtype(SUBTYPE_PE_CSP);
        assert_eq!(buf, [0x10, 0x02, 0xff, 0xff]);
    }

    #[test]
    fn check_len_and_version() {
        for n in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&EC02[..n]), Err(Error::Truncated));
        }
        let mut buf = EC02;
        Packet::new_unchecked(&mut buf[..]).set_version(2);
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&buf[..])),
            Err(Error::BadVersion)
        );
    }

    proptest! {
        #[test]
        fn repr_round_trip(op in 0u8..=3, subtype in 0u16..=1023, sequence: u16) {
            let r = Repr { op, subtype, sequence };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
    }
}
