//! `wire::vlan`: `Packet::new_checked` + `Repr::parse` on arbitrary bytes
//! never panic, and an accepted header emits back to a buffer that parses
//! to the same `Repr`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfex_dataplane::wire::vlan::{Packet, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let Ok(repr) = Repr::parse(&packet) else {
        return;
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let again = Repr::parse(&Packet::new_checked(&buf[..]).expect("emitted header is complete"))
        .expect("emitted header parses");
    assert_eq!(again, repr);
});
