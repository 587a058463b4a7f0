//! Ethernet II header: destination MAC, source MAC, EtherType.
//!
//! For a tagged frame the EtherType read here is the outer TPID; the tag
//! views ([`super::vntag`], [`super::etag`], ...) start at that offset (12).

use core::fmt;

use super::{Error, EtherType, Result, field::Field, field::Rest, read_u16, write_u16};

/// A 48-bit Ethernet (MAC) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The address as bytes, in wire order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// The I/G bit is set (group address). Broadcast is multicast too.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The I/G bit is clear (individual address).
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The U/L bit is set (locally administered).
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl From<[u8; 6]> for EthernetAddress {
    fn from(value: [u8; 6]) -> Self {
        EthernetAddress(value)
    }
}

impl TryFrom<&[u8]> for EthernetAddress {
    type Error = Error;

    /// Fails with [`Error::Truncated`] unless `value` is exactly 6 bytes.
    fn try_from(value: &[u8]) -> Result<Self> {
        <[u8; 6]>::try_from(value)
            .map(EthernetAddress)
            .map_err(|_| Error::Truncated)
    }
}

impl fmt::Display for EthernetAddress {
    /// `02:00:00:00:00:05` (lower case, as Wireshark prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Byte ranges of the Ethernet II header.
pub mod field {
    use super::{Field, Rest};
    /// Destination MAC.
    pub const DESTINATION: Field = 0..6;
    /// Source MAC.
    pub const SOURCE: Field = 6..12;
    /// EtherType (or the outer TPID of a tagged frame).
    pub const ETHERTYPE: Field = 12..14;
    /// Everything after the EtherType.
    pub const PAYLOAD: Rest = 14..;
}

/// Length of the Ethernet II header: 14.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Offset of the EtherType / outer TPID in a frame: where tags are pushed.
pub const TAG_OFFSET: usize = field::ETHERTYPE.start;

packet_view! {
    /// A read/write view of an Ethernet II header.
    short => Truncated
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Destination MAC.
    pub fn dst_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        EthernetAddress(a)
    }

    /// Source MAC.
    pub fn src_addr(&self) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        EthernetAddress(a)
    }

    /// EtherType at offset 12 (the outer TPID for a tagged frame).
    pub fn ethertype(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Bytes after the EtherType.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&value.0);
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, value: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&value.0);
    }

    /// Sets the EtherType at offset 12.
    pub fn set_ethertype(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, value.0);
    }

    /// Mutable bytes after the EtherType.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// High-level representation of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Destination MAC.
    pub dst_addr: EthernetAddress,
    /// Source MAC.
    pub src_addr: EthernetAddress,
    /// EtherType at offset 12.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header. Fails with [`Error::Truncated`] on a short buffer.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            dst_addr: packet.dst_addr(),
            src_addr: packet.src_addr(),
            ethertype: packet.ethertype(),
        })
    }

    /// Bytes [`Repr::emit`] writes: [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header. Panics if the buffer is shorter than
    /// [`Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_dst_addr(self.dst_addr);
        packet.set_src_addr(self.src_addr);
        packet.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // vn01: 02:00:00:00:00:06 <- 02:00:00:00:00:05, TPID 0x8926.
    static FRAME: [u8; 18] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x05, 0x89, 0x26, 0x00,
        0x00, 0x00, 0x05,
    ];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&FRAME[..]).unwrap();
        assert_eq!(p.dst_addr(), EthernetAddress([2, 0, 0, 0, 0, 6]));
        assert_eq!(p.src_addr().to_string(), "02:00:00:00:00:05");
        assert_eq!(p.ethertype(), EtherType::VNTAG);
        assert_eq!(p.payload(), &[0, 0, 0, 5]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.ethertype, EtherType::VNTAG);
        assert_eq!(r.buffer_len(), 14);
    }

    #[test]
    fn emit_round_trip() {
        let r = Repr::parse(&Packet::new_unchecked(&FRAME[..])).unwrap();
        let mut buf = [0xAAu8; 14];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..], FRAME[..14]);
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; 16];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_dst_addr(EthernetAddress::BROADCAST);
        p.set_src_addr(EthernetAddress([0x02, 1, 2, 3, 4, 5]));
        p.set_ethertype(EtherType::ETAG);
        p.payload_mut()[0] = 0x77;
        assert_eq!(buf[..6], [0xff; 6]);
        assert_eq!(buf[6..12], [2, 1, 2, 3, 4, 5]);
        assert_eq!(buf[12..15], [0x89, 0x3f, 0x77]);
    }

    #[test]
    fn check_len_short() {
        assert_eq!(Packet::new_checked(&FRAME[..13]), Err(Error::Truncated));
        assert_eq!(Packet::new_checked(&[][..]), Err(Error::Truncated));
        assert!(Packet::new_checked(&FRAME[..14]).is_ok());
        let short = Packet::new_unchecked(&FRAME[..10]);
        assert_eq!(Repr::parse(&short), Err(Error::Truncated));
    }

    #[test]
    fn address_classes() {
        let b = EthernetAddress::BROADCAST;
        assert!(b.is_broadcast() && b.is_multicast() && !b.is_unicast());
        let m = EthernetAddress([0x01, 0x80, 0xc2, 0, 0, 0]);
        assert!(!m.is_broadcast() && m.is_multicast() && !m.is_local());
        let u = EthernetAddress([0x02, 0, 0, 0, 0, 5]);
        assert!(u.is_unicast() && u.is_local() && !u.is_multicast());
        assert_eq!(format!("{u:?}"), "02:00:00:00:00:05");
        assert_eq!(
            EthernetAddress::try_from(&[1u8, 2, 3][..]),
            Err(Error::Truncated)
        );
        assert_eq!(
            EthernetAddress::try_from(&[1u8, 2, 3, 4, 5, 6][..]),
            Ok(EthernetAddress([1, 2, 3, 4, 5, 6]))
        );
    }

    proptest! {
        #[test]
        fn repr_round_trip(dst in any::<[u8; 6]>(), src in any::<[u8; 6]>(), et in any::<u16>()) {
            let r = Repr {
                dst_addr: EthernetAddress(dst),
                src_addr: EthernetAddress(src),
                ethertype: EtherType(et),
            };
            let mut buf = [0u8; HEADER_LEN];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(&buf[..6], &dst[..]);
            prop_assert_eq!(&buf[6..12], &src[..]);
            prop_assert_eq!(&buf[12..], &et.to_be_bytes()[..]);
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }
    }
}
