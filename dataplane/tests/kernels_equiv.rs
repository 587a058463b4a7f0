//! Every SIMD kernel set this CPU supports gives exactly what the scalar
//! reference gives: same bytes (whole storage, headroom and tailroom
//! included), same offsets, same dispositions, same metadata, on random
//! bursts of 1..=32 packets mixing valid and invalid frames (wrong TPID,
//! truncated, bad version, E-Tag ext, stacked tags, injected tags, runts,
//! no headroom / tailroom, chained buffers).
//!
//! Also: every packet that encap accepts decaps back to the original frame.

use proptest::prelude::*;
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::kernels::{
    Disposition, ETag, Isa, Kernels, PacketBuf, STag, TagBytes, TagHeader, TagKind, TestBuf, VnTag,
};
use vfex_dataplane::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

/// EtherTypes / TPIDs that matter to the kernels, plus "anything".
const TYPES: [u16; 8] = [
    0x0800, 0x8100, 0x8926, 0x893F, 0x88A8, 0x9100, 0x9200, 0x1234,
];

#[derive(Debug, Clone)]
struct Pkt {
    len: usize,
    headroom: usize,
    tailroom: usize,
    /// `Some(n)`: chained, n bytes in the first segment.
    first_seg: Option<usize>,
    seed: u64,
    outer: u16,
    inner: u16,
    /// Clear the VN-Tag version bits / E-Tag ext bytes (mostly true, so
    /// that valid tags are common).
    clean: bool,
    veth: u16,
}

fn xorshift(mut x: u64) -> impl FnMut() -> u8 {
    x |= 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    }
}

impl Pkt {
    fn frame(&self) -> Vec<u8> {
        let mut rnd = xorshift(self.seed);
        let mut f: Vec<u8> = (0..self.len.max(24)).map(|_| rnd()).collect();
        f[12..14].copy_from_slice(&self.outer.to_be_bytes());
        let tag_len = match self.outer {
            0x8926 => 6,
            0x893F => 8,
            _ => 4,
        };
        f[12 + tag_len..14 + tag_len].copy_from_slice(&self.inner.to_be_bytes());
        if self.clean {
            f[16] &= 0xCF; // VN-Tag ver
            if self.outer == 0x893F {
                f[18] = 0;
                f[19] = 0;
            }
        }
        f.truncate(self.len);
        f
    }

    fn buf(&self) -> TestBuf {
        let f = self.frame();
        match self.first_seg {
            Some(n) => TestBuf::chained(&f, self.headroom, self.tailroom, n),
            None => TestBuf::new(&f, self.headroom, self.tailroom),
        }
    }
}

fn pkt() -> impl Strategy<Value = Pkt> {
    (
        prop_oneof![0usize..30, 30usize..100, 0usize..1600],
        prop_oneof![0usize..=10, 0usize..=128],
        prop_oneof![0usize..=4, 0usize..=64],
        prop_oneof![3 => Just(None), 1 => (0usize..40).prop_map(Some)],
        any::<u64>(),
        (0..TYPES.len(), any::<u16>()).prop_map(|(i, r)| if i == 7 { r } else { TYPES[i] }),
        (0..TYPES.len(), any::<u16>()).prop_map(|(i, r)| if i == 7 { r } else { TYPES[i] }),
        prop::bool::weighted(0.8),
        0u16..5,
    )
        .prop_map(
            |(len, headroom, tailroom, first_seg, seed, outer, inner, clean, veth)| Pkt {
                len,
                headroom,
                tailroom,
                first_seg,
                seed,
                outer,
                inner,
                clean,
                veth,
            },
        )
}

/// Three vEth tags per kind (index 3 and 4 are unknown vEths).
#[derive(Debug, Clone)]
struct Tables {
    vn: Vec<TagBytes<VnTag>>,
    et: Vec<TagBytes<ETag>>,
    st: Vec<TagBytes<STag>>,
}

fn tables() -> impl Strategy<Value = Tables> {
    let vn = (
        any::<bool>(),
        any::<bool>(),
        0u16..=16383,
        any::<bool>(),
        0u16..=4095,
    )
        .prop_map(|(direction, pointer, dst, looped, src)| {
            TagBytes::vntag(&VnTagRepr {
                direction,
                pointer,
                dst,
                looped,
                src,
                ethertype: EtherType(0),
            })
        });
    let et = (0u8..=7, any::<bool>(), 0u16..=4095, 0u16..=0x3fff).prop_map(
        |(pcp, dei, ingress_ecid_base, ecid)| {
            let mut r = ETagRepr {
                pcp,
                dei,
                ingress_ecid_base,
                ..Default::default()
            };
            r.set_ecid(ecid);
            TagBytes::etag(&r)
        },
    );
    let st = (
        prop_oneof![Just(0x88a8u16), Just(0x9100), Just(0x9200)],
        0u8..=7,
        any::<bool>(),
        0u16..=4095,
    )
        .prop_map(|(tpid, pcp, dei, svid)| {
            TagBytes::stag(&STagRepr {
                tpid: EtherType(tpid),
                pcp,
                dei,
                svid,
                ethertype: EtherType(0),
            })
        });
    (
        prop::collection::vec(vn, 3),
        prop::collection::vec(et, 3),
        prop::collection::vec(st, 3),
    )
        .prop_map(|(vn, et, st)| Tables { vn, et, st })
}

type Out<M> = (Vec<TestBuf>, Vec<Disposition>, Vec<M>);

fn encap<K: TagKind>(k: Kernels, pkts: &[TestBuf], veth: &[u16], table: &[TagBytes<K>]) -> Out<()> {
    let mut pkts = pkts.to_vec();
    let mut next = vec![Disposition::Drop(DropReason::TxFull); pkts.len()];
    let drops = k.encap(&mut pkts, veth, table, &mut next);
    assert_eq!(drops, next.iter().filter(|d| !d.is_ok()).count());
    (pkts, next, Vec::new())
}

fn encap_uniform<K: TagKind>(k: Kernels, pkts: &[TestBuf], tag: &TagBytes<K>) -> Out<()> {
    let mut pkts = pkts.to_vec();
    let mut next = vec![Disposition::Drop(DropReason::TxFull); pkts.len()];
    let drops = k.encap_uniform(&mut pkts, tag, &mut next);
    assert_eq!(drops, next.iter().filter(|d| !d.is_ok()).count());
    (pkts, next, Vec::new())
}

fn decap<K: TagKind>(k: Kernels, pkts: &[TestBuf], pad: bool) -> Out<TagHeader<K>> {
    let mut pkts = pkts.to_vec();
    let mut next = vec![Disposition::Drop(DropReason::TxFull); pkts.len()];
    let mut meta = vec![TagHeader::<K>::default(); pkts.len()];
    let drops = k.decap::<K, _>(&mut pkts, &mut meta, &mut next, pad);
    assert_eq!(drops, next.iter().filter(|d| !d.is_ok()).count());
    (pkts, next, meta)
}

fn check_kind<K: TagKind>(
    pkts: &[TestBuf],
    veth: &[u16],
    table: &[TagBytes<K>],
) -> Result<(), TestCaseError> {
    let scalar = Kernels::scalar();
    let want_encap = encap(scalar, pkts, veth, table);
    let encapped = &want_encap.0;
    let want_decap: Vec<_> = [false, true]
        .into_iter()
        .map(|pad| {
            (
                decap::<K>(scalar, pkts, pad),
                decap::<K>(scalar, encapped, pad),
            )
        })
        .collect();

    // One tag for the whole burst (a VF's port) = the table path with every
    // packet on vEth 0, on every ISA.
    let want_uniform = encap(scalar, pkts, &vec![0; pkts.len()], &table[..1]);
    for isa in Isa::supported() {
        prop_assert_eq!(
            &encap_uniform(Kernels::new(isa).unwrap(), pkts, &table[0]),
            &want_uniform,
            "{} encap_uniform {}",
            K::NAME,
            isa
        );
    }

    for isa in Isa::supported().filter(|i| *i != Isa::Scalar) {
        let k = Kernels::new(isa).unwrap();
        prop_assert_eq!(
            &encap(k, pkts, veth, table),
            &want_encap,
            "{} encap {}",
            K::NAME,
            isa
        );
        for (pad, (raw, round)) in [false, true].into_iter().zip(&want_decap) {
            prop_assert_eq!(
                &decap::<K>(k, pkts, pad),
                raw,
                "{} decap {} pad {}",
                K::NAME,
                isa,
                pad
            );
            prop_assert_eq!(
                &decap::<K>(k, encapped, pad),
                round,
                "{} decap after encap {} pad {}",
                K::NAME,
                isa,
                pad
            );
        }
    }

    // Dropped packets are unchanged; accepted ones decap back to the
    // original frame (the tables have no E-Tag ext bytes).
    let (round, round_next, _) = &want_decap[0].1;
    for i in 0..pkts.len() {
        match want_encap.1[i] {
            Disposition::Drop(_) => prop_assert_eq!(&encapped[i], &pkts[i]),
            Disposition::Ok => {
                prop_assert_eq!(encapped[i].pkt_len(), pkts[i].pkt_len() + K::TAG_LEN);
                prop_assert_eq!(round_next[i], Disposition::Ok, "{} packet {}", K::NAME, i);
                // Same frame and offsets (the headroom keeps old bytes).
                let r = &round[i];
                prop_assert_eq!(r.frame(), pkts[i].frame());
                prop_assert_eq!(
                    (r.headroom(), r.tailroom(), r.first_seg_len()),
                    (
                        pkts[i].headroom(),
                        pkts[i].tailroom(),
                        pkts[i].first_seg_len()
                    )
                );
            }
        }
        for (raw, _) in &want_decap {
            if !raw.1[i].is_ok() {
                prop_assert_eq!(&raw.0[i], &pkts[i]);
                prop_assert_eq!(raw.2[i], TagHeader::<K>::default());
            }
        }
    }
    Ok(())
}

proptest! {
    // No regression files: a failure prints the minimal burst to paste
    // into a unit test.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn simd_equals_scalar(burst in prop::collection::vec(pkt(), 1..=32), t in tables()) {
        let pkts: Vec<TestBuf> = burst.iter().map(Pkt::buf).collect();
        let veth: Vec<u16> = burst.iter().map(|p| p.veth).collect();
        check_kind(&pkts, &veth, &t.vn)?;
        check_kind(&pkts, &veth, &t.et)?;
        check_kind(&pkts, &veth, &t.st)?;
    }
}

/// The generator does produce every disposition (guards the test itself).
#[test]
fn generator_covers_every_reason() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut seen = std::collections::HashSet::new();
    let mut runner = TestRunner::deterministic();
    let t = tables().new_tree(&mut runner).unwrap().current();
    let k = Kernels::scalar();
    for _ in 0..3000 {
        let p = pkt().new_tree(&mut runner).unwrap().current();
        let b = [p.buf()];
        seen.extend(encap(k, &b, &[p.veth], &t.vn).1);
        seen.extend(encap(k, &b, &[p.veth], &t.et).1);
        for pad in [false, true] {
            seen.extend(decap::<VnTag>(k, &b, pad).1);
            seen.extend(decap::<ETag>(k, &b, pad).1);
            seen.extend(decap::<STag>(k, &b, pad).1);
        }
    }
    use DropReason::*;
    for r in [
        Runt,
        TruncatedTag,
        BadTpid,
        BadVersion,
        ExtEcid,
        StackedTag,
        Malformed,
        TagInjection,
        NoHeadroom,
        NoTailroom,
        ChainedHeader,
        UnknownVif,
    ] {
        assert!(seen.contains(&Disposition::Drop(r)), "never saw {r}");
    }
    assert!(seen.contains(&Disposition::Ok));
}
