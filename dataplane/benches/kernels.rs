//! Criterion bench of the burst kernels: ns per packet on a 32-packet burst
//! of 64-byte frames in [`TestBuf`]s, for each tag kind x {encap, decap} x
//! each ISA this CPU supports.
//!
//! Each iteration first puts the burst back as it was (cheap: encap resets
//! three offsets per buffer; decap also rewrites the 12 + TAG_LEN header
//! bytes), then runs the kernel. The `reset` rows measure that reset alone,
//! so `kernel - reset` is the kernel's own cost.
//!
//! Run: `cargo bench -p vfex-dataplane --bench kernels -- --warm-up-time 1
//! --measurement-time 2`. `VFEX_KERNELS` is not read here: every supported
//! ISA is measured.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vfex_dataplane::kernels::{
    Disposition, ETag, Isa, Kernels, STag, TagBytes, TagKind, TestBuf, VnTag,
};
use vfex_dataplane::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

const BURST: usize = 32;
const FRAME_LEN: usize = 64;
/// DPDK's RTE_PKTMBUF_HEADROOM.
const HEADROOM: usize = 128;
const TAILROOM: usize = 64;
/// Copies of the burst used in turn.
const SETS: usize = 4;

/// A 64-byte IPv4 frame; with `tag`, the tag bytes sit after the MACs and
/// the frame is still 64 bytes long.
fn frame(i: usize, tag: Option<&[u8]>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, i as u8, 0x02, 0, 0, 0, 1, i as u8];
    if let Some(t) = tag {
        f.extend_from_slice(t);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(FRAME_LEN, 0x45);
    f
}

fn bench_kind<K: TagKind>(c: &mut Criterion, table: &[TagBytes<K>]) {
    let mut g = c.benchmark_group(K::NAME);
    g.throughput(Throughput::Elements(BURST as u64));
    let veth: Vec<u16> = (0..BURST).map(|i| (i / 8 % table.len()) as u16).collect();
    let plain: Vec<TestBuf> = (0..BURST)
        .map(|i| TestBuf::new(&frame(i, None), HEADROOM, TAILROOM))
        .collect();
    let headers: Vec<Vec<u8>> = (0..BURST)
        .map(|i| frame(i, Some(table[usize::from(veth[i])].as_bytes()))[..14 + K::TAG_LEN].to_vec())
        .collect();
    let tagged: Vec<TestBuf> = (0..BURST)
        .map(|i| {
            let mut f = frame(i, None);
            f[..headers[i].len()].copy_from_slice(&headers[i]);
            TestBuf::new(&f, HEADROOM, TAILROOM)
        })
        .collect();

    let reset_encap = |pkts: &mut [TestBuf]| {
        for b in pkts.iter_mut() {
            b.reset(HEADROOM, FRAME_LEN, None);
        }
    };
    let reset_decap = |pkts: &mut [TestBuf]| {
        for (b, h) in pkts.iter_mut().zip(&headers) {
            b.reset(HEADROOM, FRAME_LEN, None);
            b.write_storage(HEADROOM, h);
        }
    };

    // Several copies of the burst, used in turn: the kernel runs on one
    // copy and then resets it, so the reset's stores are long retired when
    // that copy comes round again (no store-forwarding stalls that a NIC's
    // DMA would not cause either). Every ISA runs on the same buffers (same
    // addresses, so the same cache and 4K-aliasing behaviour): allocated
    // apart, identical code measured up to 1.5x apart.
    let mut plain_sets = vec![plain.clone(); SETS];
    let mut tagged_sets = vec![tagged.clone(); SETS];
    let mut k_set = 0;
    let sets = &mut plain_sets;
    g.bench_function("encap/reset", |bch| {
        bch.iter(|| {
            k_set = (k_set + 1) % SETS;
            reset_encap(black_box(&mut sets[k_set]))
        })
    });
    let sets = &mut tagged_sets;
    g.bench_function("decap/reset", |bch| {
        bch.iter(|| {
            k_set = (k_set + 1) % SETS;
            reset_decap(black_box(&mut sets[k_set]))
        })
    });

    for isa in Isa::supported() {
        let k = Kernels::new(isa).expect("supported");
        let mut next = [Disposition::Ok; BURST];

        let sets = &mut plain_sets;
        g.bench_function(format!("encap/{isa}"), |bch| {
            bch.iter(|| {
                k_set = (k_set + 1) % SETS;
                let pkts = &mut sets[k_set];
                k.encap(black_box(&mut pkts[..]), &veth, table, &mut next);
                reset_encap(pkts);
            })
        });
        assert!(next.iter().all(|d| d.is_ok()), "{isa}: {next:?}");

        let sets = &mut tagged_sets;
        let mut meta = [K::Meta::default(); BURST];
        g.bench_function(format!("decap/{isa}"), |bch| {
            bch.iter(|| {
                k_set = (k_set + 1) % SETS;
                let pkts = &mut sets[k_set];
                k.decap::<K, _>(black_box(&mut pkts[..]), &mut meta, &mut next, false);
                reset_decap(pkts);
            })
        });
        assert!(next.iter().all(|d| d.is_ok()), "{isa}: {next:?}");
    }
    g.finish();
}

fn kernels(c: &mut Criterion) {
    let vn: Vec<TagBytes<VnTag>> = (1..=4)
        .map(|src| {
            TagBytes::vntag(&VnTagRepr {
                src,
                ..Default::default()
            })
        })
        .collect();
    bench_kind(c, &vn);
    let et: Vec<TagBytes<ETag>> = (1..=4)
        .map(|ecid| {
            let mut r = ETagRepr {
                pcp: 3,
                ..Default::default()
            };
            r.set_ecid(ecid);
            TagBytes::etag(&r)
        })
        .collect();
    bench_kind(c, &et);
    let st: Vec<TagBytes<STag>> = (1..=4)
        .map(|svid| {
            TagBytes::stag(&STagRepr {
                tpid: EtherType::QINQ,
                pcp: 0,
                dei: false,
                svid,
                ethertype: EtherType(0),
            })
        })
        .collect();
    bench_kind(c, &st);
}

criterion_group!(benches, kernels);
criterion_main!(benches);
