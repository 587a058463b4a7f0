//! Unit tests of the kernels, run for every ISA this CPU supports.

use super::*;
use crate::drop::DropReason;
use crate::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x06];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x05];

/// MACs, `ethertype`, then `len - 14` payload bytes 0, 1, 2, ...
fn frame(ethertype: u16, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len.max(14));
    f.extend_from_slice(&DST);
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend((0..len.saturating_sub(14)).map(|i| i as u8));
    f.truncate(len);
    f
}

/// MACs, `tag` bytes, then `rest`.
fn tagged(tag: &[u8], rest: &[u8]) -> Vec<u8> {
    [&DST[..], &SRC[..], tag, rest].concat()
}

fn kernels() -> Vec<Kernels> {
    let ks: Vec<Kernels> = Isa::supported().map(|i| Kernels::new(i).unwrap()).collect();
    assert!(ks.contains(&Kernels::scalar()));
    ks
}

fn vn_table() -> [TagBytes<VnTag>; 2] {
    [
        TagBytes::vntag(&VnTagRepr {
            src: 5,
            ..Default::default()
        }),
        TagBytes::vntag(&VnTagRepr {
            direction: true,
            pointer: true,
            dst: 0x3fff,
            looped: true,
            src: 0xfff,
            ethertype: EtherType(0),
        }),
    ]
}

fn et_table() -> [TagBytes<ETag>; 1] {
    let mut r = ETagRepr {
        pcp: 5,
        dei: true,
        ingress_ecid_base: 10,
        ..Default::default()
    };
    r.set_ecid(0x1234);
    [TagBytes::etag(&r)]
}

fn st_table() -> [TagBytes<STag>; 1] {
    [TagBytes::stag(&STagRepr {
        tpid: EtherType::QINQ,
        pcp: 3,
        dei: false,
        svid: 10,
        ethertype: EtherType(0),
    })]
}

/// Encaps one buffer with `k`; returns the disposition.
fn encap1<K: TagKind>(
    k: Kernels,
    b: &mut TestBuf,
    table: &[TagBytes<K>],
    veth: u16,
) -> Disposition {
    let mut next = [Disposition::Ok; 1];
    k.encap(core::slice::from_mut(b), &[veth], table, &mut next);
    next[0]
}

fn decap1<K: TagKind>(k: Kernels, b: &mut TestBuf, pad: bool) -> (Disposition, TagHeader<K>) {
    let mut next = [Disposition::Ok; 1];
    let mut meta = [TagHeader::<K>::default(); 1];
    k.decap::<K, _>(core::slice::from_mut(b), &mut meta, &mut next, pad);
    (next[0], meta[0])
}

/// Checks that encap drops `b` for `reason` and leaves it unchanged.
fn encap_drops<K: TagKind>(b: &TestBuf, table: &[TagBytes<K>], veth: u16, reason: DropReason) {
    for k in kernels() {
        let mut c = b.clone();
        assert_eq!(
            encap1(k, &mut c, table, veth),
            Disposition::Drop(reason),
            "{k:?}"
        );
        assert_eq!(&c, b, "{k:?}: dropped packet changed");
    }
}

fn decap_drops<K: TagKind>(b: &TestBuf, pad: bool, reason: DropReason) {
    for k in kernels() {
        let mut c = b.clone();
        let (d, m) = decap1::<K>(k, &mut c, pad);
        assert_eq!(d, Disposition::Drop(reason), "{k:?} {:02x?}", b.frame());
        assert_eq!(m, TagHeader::<K>::default());
        assert_eq!(&c, b, "{k:?}: dropped packet changed");
    }
}

#[test]
fn disposition_is_one_byte() {
    assert_eq!(core::mem::size_of::<Disposition>(), 1);
    assert!(Disposition::Ok.is_ok());
    assert_eq!(
        Disposition::Drop(DropReason::Runt).reason(),
        Some(DropReason::Runt)
    );
}

#[test]
fn tag_bytes_from_reprs() {
    assert_eq!(vn_table()[0].as_bytes(), &[0x89, 0x26, 0, 0, 0, 5]);
    assert_eq!(
        vn_table()[1].as_bytes(),
        &[0x89, 0x26, 0xff, 0xff, 0x8f, 0xff]
    );
    assert_eq!(
        et_table()[0].as_bytes(),
        &[0x89, 0x3f, 0xb0, 0x0a, 0x12, 0x34, 0, 0]
    );
    assert_eq!(st_table()[0].as_bytes(), &[0x88, 0xa8, 0x60, 0x0a]);
}

#[test]
fn encap_each_kind() {
    for k in kernels() {
        for len in [14, 15, 16, 17, 60, 64, 1514] {
            let f = frame(0x0800, len);
            let mut b = TestBuf::new(&f, 64, 0);
            assert_eq!(encap1(k, &mut b, &vn_table(), 1), Disposition::Ok);
            assert_eq!(
                b.frame(),
                tagged(vn_table()[1].as_bytes(), &f[12..]),
                "{k:?}"
            );
            assert_eq!(b.headroom(), 58);
            // Headroom in front of the new frame is untouched.
            assert!(b.storage()[..58].iter().all(|&x| x == TESTBUF_FILL));

            let mut b = TestBuf::new(&f, 8, 0);
            assert_eq!(encap1(k, &mut b, &et_table(), 0), Disposition::Ok);
            assert_eq!(b.frame(), tagged(et_table()[0].as_bytes(), &f[12..]));
            assert_eq!(b.headroom(), 0);

            let mut b = TestBuf::new(&f, 4, 3);
            assert_eq!(encap1(k, &mut b, &st_table(), 0), Disposition::Ok);
            assert_eq!(b.frame(), tagged(st_table()[0].as_bytes(), &f[12..]));
            assert_eq!(b.tailroom(), 3);
        }
    }
}

#[test]
fn encap_guards() {
    let vn = vn_table();
    for len in [0, 1, 13] {
        encap_drops(
            &TestBuf::new(&frame(0x0800, len), 64, 0),
            &vn,
            0,
            DropReason::Runt,
        );
    }
    for first in [0, 5, 13] {
        let b = TestBuf::chained(&frame(0x0800, 100), 64, 0, first);
        encap_drops(&b, &vn, 0, DropReason::ChainedHeader);
    }
    for tpid in [0x8926, 0x893F, 0x88A8, 0x9100, 0x9200] {
        let b = TestBuf::new(&frame(tpid, 64), 64, 0);
        encap_drops(&b, &vn, 0, DropReason::TagInjection);
        encap_drops(&b, &et_table(), 0, DropReason::TagInjection);
        encap_drops(&b, &st_table(), 0, DropReason::TagInjection);
    }
    // A C-tagged frame from a VM is fine.
    let mut b = TestBuf::new(&frame(0x8100, 64), 64, 0);
    assert_eq!(encap1(Kernels::scalar(), &mut b, &vn, 0), Disposition::Ok);
    encap_drops(
        &TestBuf::new(&frame(0x0800, 64), 5, 0),
        &vn,
        0,
        DropReason::NoHeadroom,
    );
    encap_drops(
        &TestBuf::new(&frame(0x0800, 64), 7, 0),
        &et_table(),
        0,
        DropReason::NoHeadroom,
    );
    encap_drops(
        &TestBuf::new(&frame(0x0800, 64), 3, 0),
        &st_table(),
        0,
        DropReason::NoHeadroom,
    );
    encap_drops(
        &TestBuf::new(&frame(0x0800, 64), 64, 0),
        &vn,
        2,
        DropReason::UnknownVif,
    );
    encap_drops::<VnTag>(
        &TestBuf::new(&frame(0x0800, 64), 64, 0),
        &[],
        0,
        DropReason::UnknownVif,
    );
}

#[test]
fn encap_chained_first_segment_holds_header() {
    for k in kernels() {
        for first in [14, 15, 16, 30] {
            let f = frame(0x0800, 200);
            let mut b = TestBuf::chained(&f, 16, 0, first);
            assert_eq!(encap1(k, &mut b, &et_table(), 0), Disposition::Ok);
            assert_eq!(
                b.frame(),
                tagged(et_table()[0].as_bytes(), &f[12..]),
                "{k:?}"
            );
            assert_eq!(b.first_seg_len(), Some(first + 8));
            assert_eq!(b.pkt_len(), 208);
        }
    }
}

#[test]
fn encap_burst_mixed() {
    // Several vEths and drops in one burst: each packet gets its own tag.
    for k in kernels() {
        let vn = vn_table();
        let mut pkts: Vec<TestBuf> = (0..11)
            .map(|i| TestBuf::new(&frame(if i == 7 { 0x893F } else { 0x0800 }, 60 + i), 32, 0))
            .collect();
        let orig = pkts.clone();
        let veth: Vec<u16> = (0..11).map(|i| (i % 3) as u16).collect();
        let mut next = [Disposition::Ok; 11];
        k.encap(&mut pkts, &veth, &vn, &mut next);
        for i in 0..11 {
            if i == 7 {
                assert_eq!(next[i], Disposition::Drop(DropReason::TagInjection));
                assert_eq!(pkts[i], orig[i]);
            } else if veth[i] == 2 {
                assert_eq!(next[i], Disposition::Drop(DropReason::UnknownVif));
                assert_eq!(pkts[i], orig[i]);
            } else {
                assert_eq!(next[i], Disposition::Ok);
                let tag = vn[usize::from(veth[i])].as_bytes();
                assert_eq!(pkts[i].frame(), tagged(tag, &orig[i].frame()[12..]));
            }
        }
    }
}

#[test]
#[should_panic]
fn encap_short_next_panics() {
    let mut pkts = vec![TestBuf::new(&frame(0x0800, 60), 32, 0); 2];
    Kernels::scalar().encap(&mut pkts, &[0, 0], &vn_table(), &mut [Disposition::Ok; 1]);
}

#[test]
fn decap_vntag() {
    for k in kernels() {
        // vn03-like: d=1 p=1 dst=0x123, ARP; then vn06-like with a C-tag.
        let f = tagged(
            &[0x89, 0x26, 0xc1, 0x23, 0x80, 0x05],
            &[0x08, 0x06, 1, 2, 3, 4],
        );
        let mut b = TestBuf::new(&f, 0, 0);
        let (d, m) = decap1::<VnTag>(k, &mut b, false);
        assert_eq!(d, Disposition::Ok);
        let want = VnTagMeta {
            direction: true,
            pointer: true,
            dst: 0x123,
            looped: true,
            src: 5,
        };
        assert_eq!(m.decode(), want);
        assert_eq!(
            (m.tpid(), m.dst(), m.src(), m.looped()),
            (0x8926, 0x123, 5, true)
        );
        assert_eq!(b.frame(), tagged(&[], &[0x08, 0x06, 1, 2, 3, 4]));
        assert_eq!(b.headroom(), 6);

        // The r bit is ignored.
        let f = tagged(
            &[0x89, 0x26, 0, 0, 0x4f, 0xff],
            &[0x81, 0x00, 0x60, 0x64, 0x08, 0x00, 0x45],
        );
        let mut b = TestBuf::new(&f, 0, 0);
        let (d, m) = decap1::<VnTag>(k, &mut b, false);
        assert_eq!((d, m.src(), m.direction()), (Disposition::Ok, 4095, false));
        // The VM's C-tag stays.
        assert_eq!(
            b.frame(),
            tagged(&[0x81, 0x00, 0x60, 0x64], &[0x08, 0x00, 0x45])
        );
    }
}

#[test]
fn decap_etag_and_stag() {
    for k in kernels() {
        let f = tagged(
            &[0x89, 0x3f, 0xb0, 0x0a, 0x32, 0x34, 0, 0],
            &[0x81, 0x00, 0xe0, 0x07, 0x88, 0xb5, 9, 9],
        );
        let mut b = TestBuf::new(&f, 0, 0);
        let (d, m) = decap1::<ETag>(k, &mut b, false);
        assert_eq!(d, Disposition::Ok);
        assert_eq!((m.ecid(), m.grp(), m.ingress_ecid_base()), (0x3234, 3, 10));
        assert_eq!(
            m.decode(),
            ETagMeta {
                pcp: 5,
                dei: true,
                ingress_ecid_base: 10,
                grp: 3,
                ecid_base: 0x234,
                ecid: 0x3234
            }
        );
        assert_eq!(
            b.frame(),
            tagged(&[0x81, 0x00, 0xe0, 0x07], &[0x88, 0xb5, 9, 9])
        );

        for tpid in [0x88a8u16, 0x9100, 0x9200] {
            let t = tpid.to_be_bytes();
            let f = tagged(&[t[0], t[1], 0xf0, 0x0a], &[0x81, 0x00, 0, 100, 0x08, 0x00]);
            let mut b = TestBuf::new(&f, 0, 0);
            let (d, m) = decap1::<STag>(k, &mut b, false);
            assert_eq!(d, Disposition::Ok);
            assert_eq!((m.tpid(), m.svid(), m.pcp()), (tpid, 10, 7));
            assert_eq!(
                m.decode(),
                STagMeta {
                    pcp: 7,
                    dei: true,
                    svid: 10
                }
            );
            assert_eq!(b.frame(), tagged(&[0x81, 0x00, 0, 100], &[0x08, 0x00]));
        }
    }
}

#[test]
fn decap_guards() {
    let vn_ok = [0x89u8, 0x26, 0x80, 0x06, 0, 0];
    let body = [0x08u8, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0];
    for len in [0, 5, 13] {
        decap_drops::<VnTag>(
            &TestBuf::new(&frame(0x8926, len), 0, 64),
            false,
            DropReason::Runt,
        );
    }
    // Header not in the first segment.
    let f = tagged(&vn_ok, &body);
    for first in [0, 13] {
        decap_drops::<VnTag>(
            &TestBuf::chained(&f, 0, 0, first),
            false,
            DropReason::ChainedHeader,
        );
    }
    for first in [14, 17, 19] {
        decap_drops::<VnTag>(
            &TestBuf::chained(&f, 0, 0, first),
            false,
            DropReason::ChainedHeader,
        );
    }
    // Wrong TPID for each kind.
    for tpid in [0x0800u16, 0x8100, 0x893F, 0x88A8] {
        decap_drops::<VnTag>(
            &TestBuf::new(&frame(tpid, 64), 0, 0),
            false,
            DropReason::BadTpid,
        );
    }
    for tpid in [0x0800u16, 0x8926, 0x88A8] {
        decap_drops::<ETag>(
            &TestBuf::new(&frame(tpid, 64), 0, 0),
            false,
            DropReason::BadTpid,
        );
    }
    for tpid in [0x0800u16, 0x8100, 0x8926, 0x893F] {
        decap_drops::<STag>(
            &TestBuf::new(&frame(tpid, 64), 0, 0),
            false,
            DropReason::BadTpid,
        );
    }
    // Truncated: vn08 / et07-like, and no inner EtherType.
    for cut in 0..8 {
        let f = tagged(&vn_ok, &body);
        decap_drops::<VnTag>(
            &TestBuf::new(&f[..14 + cut.min(5)], 0, 0),
            false,
            DropReason::TruncatedTag,
        );
        let f = tagged(&[0x89, 0x3f, 0, 0x0a, 0, 0x0a, 0, 0], &body);
        decap_drops::<ETag>(
            &TestBuf::new(&f[..14 + cut.min(7)], 0, 0),
            false,
            DropReason::TruncatedTag,
        );
        let f = tagged(&[0x88, 0xa8, 0, 1], &body);
        decap_drops::<STag>(
            &TestBuf::new(&f[..14 + cut.min(3)], 0, 0),
            false,
            DropReason::TruncatedTag,
        );
    }
    // ver != 0.
    for ver in 1..=3u8 {
        let f = tagged(&[0x89, 0x26, 0x80, 0x06, ver << 4, 0], &body);
        decap_drops::<VnTag>(&TestBuf::new(&f, 0, 0), false, DropReason::BadVersion);
    }
    // E-Tag ext.
    for (iext, ext) in [(1u8, 0u8), (0, 1), (0xff, 0xff)] {
        let f = tagged(&[0x89, 0x3f, 0, 0x0a, 0, 0x0a, iext, ext], &body);
        decap_drops::<ETag>(&TestBuf::new(&f, 0, 0), false, DropReason::ExtEcid);
    }
    // Stacked and out-of-order tags.
    for (inner, reason) in [
        (0x8926u16, DropReason::StackedTag),
        (0x893F, DropReason::StackedTag),
        (0x88A8, DropReason::Malformed),
        (0x9100, DropReason::Malformed),
    ] {
        let i = inner.to_be_bytes();
        let f = tagged(&vn_ok, &[i[0], i[1], 0, 0, 0, 0, 0, 0]);
        decap_drops::<VnTag>(&TestBuf::new(&f, 0, 0), false, reason);
        let f = tagged(
            &[0x89, 0x3f, 0, 0, 0, 0x0a, 0, 0],
            &[i[0], i[1], 0, 0, 0, 0, 0, 0],
        );
        decap_drops::<ETag>(&TestBuf::new(&f, 0, 0), false, reason);
        let f = tagged(&[0x88, 0xa8, 0, 1], &[i[0], i[1], 0, 0, 0, 0, 0, 0]);
        decap_drops::<STag>(&TestBuf::new(&f, 0, 0), false, DropReason::Malformed);
    }
}

#[test]
fn decap_pad() {
    for k in kernels() {
        // 20-byte VN-Tag frame -> 14 bytes after strip -> padded to 60.
        let f = tagged(&[0x89, 0x26, 0x80, 0x06, 0, 0], &[0x08, 0x00]);
        let mut b = TestBuf::new(&f, 0, 46);
        let (d, _) = decap1::<VnTag>(k, &mut b, true);
        assert_eq!(d, Disposition::Ok);
        let mut want = tagged(&[], &[0x08, 0x00]);
        want.resize(60, 0);
        assert_eq!(b.frame(), want, "{k:?}");
        assert_eq!(b.tailroom(), 0);
        // Without padding the frame stays short.
        let mut b = TestBuf::new(&f, 0, 46);
        assert_eq!(decap1::<VnTag>(k, &mut b, false).0, Disposition::Ok);
        assert_eq!(b.pkt_len(), 14);
        // 66 bytes with an E-Tag -> 58 -> 2 pad bytes.
        let f = tagged(&[0x89, 0x3f, 0, 0, 0, 0x0a, 0, 0], &[0x55; 46]);
        let mut b = TestBuf::new(&f, 0, 2);
        assert_eq!(decap1::<ETag>(k, &mut b, true).0, Disposition::Ok);
        assert_eq!(b.pkt_len(), 60);
        assert_eq!(&b.frame()[56..], &[0x55, 0x55, 0, 0]);
        // Already 60 after strip: no tailroom needed.
        let f = tagged(&[0x88, 0xa8, 0, 1], &[0x55; 48]);
        let mut b = TestBuf::new(&f, 0, 0);
        assert_eq!(decap1::<STag>(k, &mut b, true).0, Disposition::Ok);
        assert_eq!(b.pkt_len(), 60);
    }
    // Not enough tailroom, or chained: no_tailroom, unchanged.
    let f = tagged(&[0x89, 0x26, 0x80, 0x06, 0, 0], &[0x08, 0x00]);
    decap_drops::<VnTag>(&TestBuf::new(&f, 0, 45), true, DropReason::NoTailroom);
    decap_drops::<VnTag>(
        &TestBuf::chained(&f, 0, 64, 20),
        true,
        DropReason::NoTailroom,
    );
}

#[test]
fn decap_chained_header_in_first_segment() {
    for k in kernels() {
        let f = tagged(&[0x89, 0x3f, 0, 0, 0, 0x0a, 0, 0], &[0x55; 100]);
        for first in [22, 23, 24, 40] {
            let mut b = TestBuf::chained(&f, 0, 0, first);
            assert_eq!(decap1::<ETag>(k, &mut b, true).0, Disposition::Ok);
            assert_eq!(b.frame(), tagged(&[], &[0x55; 100]));
            assert_eq!(b.first_seg_len(), Some(first - 8));
        }
    }
}

fn round_trip<K: TagKind>(table: &[TagBytes<K>]) {
    for k in kernels() {
        for et in [0x0800u16, 0x8100, 0x86dd] {
            for len in [14, 15, 16, 17, 18, 30, 60, 64, 128, 1514] {
                let f = frame(et, len);
                let orig = TestBuf::new(&f, 16, 16);
                let mut b = orig.clone();
                assert_eq!(encap1(k, &mut b, table, 0), Disposition::Ok);
                assert_eq!(decap1::<K>(k, &mut b, false).0, Disposition::Ok);
                assert_eq!(b.frame(), &f[..], "{k:?} {} len {len}", K::NAME);
                assert_eq!((b.headroom(), b.tailroom()), (16, 16));
                if len >= 60 {
                    let mut b = orig.clone();
                    assert_eq!(encap1(k, &mut b, table, 0), Disposition::Ok);
                    assert_eq!(decap1::<K>(k, &mut b, true).0, Disposition::Ok);
                    assert_eq!(b.frame(), &f[..]);
                }
            }
        }
    }
}

#[test]
fn round_trips() {
    round_trip(&vn_table()[..1]);
    round_trip(&vn_table()[1..]);
    round_trip(&et_table());
    round_trip(&st_table());
}

#[test]
fn isa_selection() {
    assert_eq!(Isa::from_name("sse4.1"), Some(Isa::Sse41));
    assert_eq!(Isa::from_name("avx512"), None);
    assert!(Isa::Scalar.is_supported());
    assert_eq!(Kernels::new(Isa::Scalar), Ok(Kernels::scalar()));
    assert_eq!(Isa::from_env_value("scalar"), Ok(Isa::Scalar));
    let e = Isa::from_env_value("avx512").unwrap_err();
    assert!(e.to_string().contains("VFEX_KERNELS=\"avx512\""), "{e}");
    for isa in Isa::ALL {
        match Kernels::new(isa) {
            Ok(k) => assert_eq!(k.isa(), isa),
            Err(e) => {
                assert!(!isa.is_supported());
                assert!(e.to_string().contains("does not support"), "{e}");
            }
        }
    }
    assert!(Isa::best().is_supported());
}
