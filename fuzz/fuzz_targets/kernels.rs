//! The burst kernels on arbitrary frames in `TestBuf`s.
//!
//! Input: 4 control bytes (headroom, tailroom, first-segment length or
//! 0xFF for a single segment, flags), 8 tag bytes, then the frame. For
//! each tag kind, decap and encap run with every ISA this CPU supports:
//! no panic, every ISA gives exactly the scalar result, a dropped packet
//! is unchanged, and a frame that encap accepts decaps back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfex_dataplane::kernels::{
    Disposition, ETag, Isa, Kernels, PacketBuf, STag, TagBytes, TagHeader, TagKind, TestBuf, VnTag,
};
use vfex_dataplane::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

fn buf(ctl: &[u8], frame: &[u8]) -> TestBuf {
    let (headroom, tailroom) = (usize::from(ctl[0] & 0x7f), usize::from(ctl[1] & 0x3f));
    match ctl[2] {
        0xff => TestBuf::new(frame, headroom, tailroom),
        n => TestBuf::chained(frame, headroom, tailroom, usize::from(n)),
    }
}

fn check<K: TagKind>(b: &TestBuf, tag: TagBytes<K>, pad: bool) {
    let scalar = Kernels::scalar();
    // Decap of the raw frame.
    let mut want = [b.clone()];
    let (mut next, mut meta) = ([Disposition::Ok], [TagHeader::<K>::default()]);
    scalar.decap::<K, _>(&mut want, &mut meta, &mut next, pad);
    if !next[0].is_ok() {
        assert_eq!(&want[0], b);
    }
    for isa in Isa::supported() {
        let k = Kernels::new(isa).unwrap();
        let mut got = [b.clone()];
        let (mut n2, mut m2) = ([Disposition::Ok], [TagHeader::<K>::default()]);
        k.decap::<K, _>(&mut got, &mut m2, &mut n2, pad);
        assert_eq!((&got, n2, m2), (&want, next, meta), "decap {isa}");
    }
    // Encap, then decap back.
    let mut enc = [b.clone()];
    scalar.encap(&mut enc, &[0], &[tag], &mut next);
    for isa in Isa::supported() {
        let k = Kernels::new(isa).unwrap();
        let mut got = [b.clone()];
        let mut n2 = [Disposition::Ok];
        k.encap(&mut got, &[0], &[tag], &mut n2);
        assert_eq!((&got, n2), (&enc, next), "encap {isa}");
    }
    match next[0] {
        Disposition::Drop(_) => assert_eq!(&enc[0], b),
        Disposition::Ok => {
            scalar.decap::<K, _>(&mut enc, &mut meta, &mut next, false);
            assert_eq!(next[0], Disposition::Ok);
            assert_eq!(enc[0].frame(), b.frame());
            assert_eq!(enc[0].headroom(), b.headroom());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (ctl, rest) = data.split_at(4);
    let (t, frame) = rest.split_at(8);
    let b = buf(ctl, frame);
    let pad = ctl[3] & 1 != 0;
    let u16at = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
    let vn = TagBytes::vntag(&VnTagRepr {
        direction: t[0] & 1 != 0,
        pointer: t[0] & 2 != 0,
        dst: u16at(1) & 0x3fff,
        looped: t[0] & 4 != 0,
        src: u16at(3) & 0xfff,
        ethertype: EtherType(0),
    });
    let mut er = ETagRepr {
        pcp: t[5] & 7,
        dei: t[5] & 8 != 0,
        ingress_ecid_base: u16at(1) & 0xfff,
        ..Default::default()
    };
    er.set_ecid(u16at(3));
    let stpid = [0x88a8, 0x9100, 0x9200][usize::from(t[6] % 3)];
    let st = TagBytes::stag(&STagRepr {
        tpid: EtherType(stpid),
        pcp: t[5] >> 5,
        dei: t[5] & 16 != 0,
        svid: u16at(6) & 0xfff,
        ethertype: EtherType(0),
    });
    check::<VnTag>(&b, vn, pad);
    check::<ETag>(&b, TagBytes::etag(&er), pad);
    check::<STag>(&b, st, pad);
    let _ = b.pkt_len();
});
