//! Criterion bench of the burst kernels: ns per packet on a 32-packet burst
//! of 64-byte frames in [`TestBuf`]s, for each tag kind x {encap, decap} x
//! each ISA this CPU supports; and `decap_pad`: decap with padding of
//! 60-byte tagged frames (a minimum-size frame on the wire, FCS stripped),
//! which are under 60 bytes once stripped and get padded back to 60.
//!
//! Each iteration first puts the burst back as it was (cheap: encap resets
//! three offsets per buffer; decap also rewrites the 12 + TAG_LEN header
//! bytes), then runs the kernel. The `reset` rows measure that reset alone,
//! so `kernel - reset` is the kernel's own cost.
//!
//! Run: `cargo bench -p vfex-dataplane --bench kernels -- --warm-up-time 1
//! --measurement-time 2`. `VFEX_KERNELS` is not read here: every supported
//! ISA is measured.
//!
//! Criterion measures one kernel after the other, so on a shared machine
//! whose speed drifts (the 2-vCPU CI VM: identical code measured up to 1.5x
//! apart within one run) its ratios are noisy. `-- --interleaved` instead
//! runs the same bursts with every ISA in turn, 400 rounds of 500 bursts,
//! and prints the fastest round per ISA (ns/packet, the reset subtracted)
//! and the speed-up over scalar: drift hits every ISA alike.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use vfex_dataplane::kernels::{
    Disposition, ETag, Isa, Kernels, STag, TagBytes, TagHeader, TagKind, TestBuf, VnTag,
};
use vfex_dataplane::wire::{ETagRepr, EtherType, STagRepr, VnTagRepr};

const BURST: usize = 32;
const FRAME_LEN: usize = 64;
/// The tagged frames of `decap_pad`: a 64-byte wire frame without its FCS.
const MIN_LEN: usize = 60;
/// DPDK's RTE_PKTMBUF_HEADROOM.
const HEADROOM: usize = 128;
const TAILROOM: usize = 64;
/// Copies of the burst used in turn.
const SETS: usize = 4;

/// A `len`-byte IPv4 frame; with `tag`, the tag bytes sit after the MACs
/// and the frame is still `len` bytes long.
fn frame(i: usize, tag: Option<&[u8]>, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, i as u8, 0x02, 0, 0, 0, 1, i as u8];
    if let Some(t) = tag {
        f.extend_from_slice(t);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(len, 0x45);
    f
}

/// vEth index per packet, untagged burst, tagged headers, tagged burst,
/// tagged burst of MIN_LEN-byte frames.
type Bursts = (
    Vec<u16>,
    Vec<TestBuf>,
    Vec<Vec<u8>>,
    Vec<TestBuf>,
    Vec<TestBuf>,
);

fn bursts<K: TagKind>(table: &[TagBytes<K>]) -> Bursts {
    // Runs of 8 packets per vEth.
    let veth: Vec<u16> = (0..BURST).map(|i| (i / 8 % table.len()) as u16).collect();
    let plain: Vec<TestBuf> = (0..BURST)
        .map(|i| TestBuf::new(&frame(i, None, FRAME_LEN), HEADROOM, TAILROOM))
        .collect();
    let headers: Vec<Vec<u8>> = (0..BURST)
        .map(|i| {
            frame(i, Some(table[usize::from(veth[i])].as_bytes()), FRAME_LEN)[..14 + K::TAG_LEN]
                .to_vec()
        })
        .collect();
    let tagged_len = |len: usize| -> Vec<TestBuf> {
        (0..BURST)
            .map(|i| {
                let mut f = frame(i, None, len);
                f[..headers[i].len()].copy_from_slice(&headers[i]);
                TestBuf::new(&f, HEADROOM, TAILROOM)
            })
            .collect()
    };
    let (tagged, short) = (tagged_len(FRAME_LEN), tagged_len(MIN_LEN));
    (veth, plain, headers, tagged, short)
}

/// Puts an encapsulated burst back (offsets only: the bytes at the old
/// front are still a valid untagged frame).
fn reset_encap(pkts: &mut [TestBuf]) {
    for b in pkts.iter_mut() {
        b.reset(HEADROOM, FRAME_LEN, None);
    }
}

/// Puts a decapsulated burst of `len`-byte frames back: offsets, length
/// and the tagged header (padding zeros past the old end stay: decap does
/// not read them).
fn reset_decap(pkts: &mut [TestBuf], headers: &[Vec<u8>], len: usize) {
    for (b, h) in pkts.iter_mut().zip(headers) {
        b.reset(HEADROOM, len, None);
        b.write_storage(HEADROOM, h);
    }
}

fn bench_kind<K: TagKind>(c: &mut Criterion, table: &[TagBytes<K>]) {
    let mut g = c.benchmark_group(K::NAME);
    g.throughput(Throughput::Elements(BURST as u64));
    let (veth, plain, headers, tagged, short) = bursts(table);

    // Several copies of the burst, used in turn: the kernel runs on one
    // copy and then resets it, so the reset's stores are long retired when
    // that copy comes round again (no store-forwarding stalls that a NIC's
    // DMA would not cause either). Every ISA runs on the same buffers (same
    // addresses, so the same cache and 4K-aliasing behaviour): allocated
    // apart, identical code measured up to 1.5x apart.
    let mut plain_sets = vec![plain.clone(); SETS];
    // The decap rows: name, bursts, frame length, padding.
    let mut decaps = [
        ("decap", vec![tagged.clone(); SETS], FRAME_LEN, false),
        ("decap_pad", vec![short.clone(); SETS], MIN_LEN, true),
    ];
    let mut k_set = 0;
    let sets = &mut plain_sets;
    g.bench_function("encap/reset", |bch| {
        bch.iter(|| {
            k_set = (k_set + 1) % SETS;
            reset_encap(black_box(&mut sets[k_set]))
        })
    });
    for (name, sets, len, _) in &mut decaps {
        g.bench_function(format!("{name}/reset"), |bch| {
            bch.iter(|| {
                k_set = (k_set + 1) % SETS;
                reset_decap(black_box(&mut sets[k_set]), &headers, *len)
            })
        });
    }

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

        let mut meta = [TagHeader::<K>::default(); BURST];
        for (name, sets, len, pad) in &mut decaps {
            g.bench_function(format!("{name}/{isa}"), |bch| {
                bch.iter(|| {
                    k_set = (k_set + 1) % SETS;
                    let pkts = &mut sets[k_set];
                    k.decap::<K, _>(black_box(&mut pkts[..]), &mut meta, &mut next, *pad);
                    reset_decap(pkts, &headers, *len);
                })
            });
            assert!(next.iter().all(|d| d.is_ok()), "{isa} {name}: {next:?}");
        }
        // The rows measure what they say: every frame stripped and padded
        // back to 60 bytes with TAG_LEN zeros.
        let mut once = short.clone();
        assert_eq!(k.decap::<K, _>(&mut once, &mut meta, &mut next, true), 0);
        assert!(
            once.iter().all(|b| b.frame().len() == MIN_LEN
                && b.frame()[MIN_LEN - K::TAG_LEN..].iter().all(|x| *x == 0)),
            "{isa}: padded to 60"
        );
    }
    g.finish();
}

fn vn_table() -> Vec<TagBytes<VnTag>> {
    (1..=4)
        .map(|src| {
            TagBytes::vntag(&VnTagRepr {
                src,
                ..Default::default()
            })
        })
        .collect()
}

fn et_table() -> Vec<TagBytes<ETag>> {
    (1..=4)
        .map(|ecid| {
            let mut r = ETagRepr {
                pcp: 3,
                ..Default::default()
            };
            r.set_ecid(ecid);
            TagBytes::etag(&r)
        })
        .collect()
}

fn st_table() -> Vec<TagBytes<STag>> {
    (1..=4)
        .map(|svid| {
            TagBytes::stag(&STagRepr {
                tpid: EtherType::QINQ,
                pcp: 0,
                dei: false,
                svid,
                ethertype: EtherType(0),
            })
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    bench_kind(c, &vn_table());
    bench_kind(c, &et_table());
    bench_kind(c, &st_table());
}

/// Rounds and bursts per round of `--interleaved`.
const ROUNDS: usize = 400;
const BURSTS_PER_ROUND: usize = 500;

/// Times `f` (BURSTS_PER_ROUND bursts) and returns ns per packet.
fn time_round(mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for i in 0..BURSTS_PER_ROUND {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / (BURSTS_PER_ROUND * BURST) as f64
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// `--interleaved`: every ISA in turn on the same bursts; fastest round.
fn interleaved_kind<K: TagKind>(table: &[TagBytes<K>]) {
    let (veth, plain, headers, tagged, short) = bursts(table);
    let isas: Vec<Option<Isa>> = Isa::supported().map(Some).chain([None]).collect();
    let mut enc = vec![Vec::new(); isas.len()];
    let mut dec = vec![Vec::new(); isas.len()];
    let mut uni = vec![Vec::new(); isas.len()];
    let mut pad = vec![Vec::new(); isas.len()];
    let mut plain_sets = vec![plain; SETS];
    let mut tagged_sets = vec![tagged; SETS];
    let mut short_sets = vec![short; SETS];
    let mut next = [Disposition::Ok; BURST];
    let mut meta = [TagHeader::<K>::default(); BURST];
    for _ in 0..ROUNDS {
        for (i, isa) in isas.iter().enumerate() {
            // `None`: the reset alone.
            let k = isa.map(|isa| Kernels::new(isa).expect("supported"));
            enc[i].push(time_round(|it| {
                let pkts = &mut plain_sets[it % SETS];
                if let Some(k) = k {
                    k.encap(black_box(&mut pkts[..]), &veth, table, &mut next);
                }
                reset_encap(black_box(pkts));
            }));
            uni[i].push(time_round(|it| {
                let pkts = &mut plain_sets[it % SETS];
                if let Some(k) = k {
                    k.encap_uniform(black_box(&mut pkts[..]), &table[0], &mut next);
                }
                reset_encap(black_box(pkts));
            }));
            dec[i].push(time_round(|it| {
                let pkts = &mut tagged_sets[it % SETS];
                if let Some(k) = k {
                    k.decap::<K, _>(black_box(&mut pkts[..]), &mut meta, &mut next, false);
                }
                reset_decap(black_box(pkts), &headers, FRAME_LEN);
            }));
            pad[i].push(time_round(|it| {
                let pkts = &mut short_sets[it % SETS];
                if let Some(k) = k {
                    k.decap::<K, _>(black_box(&mut pkts[..]), &mut meta, &mut next, true);
                }
                reset_decap(black_box(pkts), &headers, MIN_LEN);
            }));
        }
    }
    let last = isas.len() - 1;
    let (enc_reset, dec_reset) = (min(&enc[last]), min(&dec[last]));
    let uni_reset = min(&uni[last]);
    let (enc_scalar, dec_scalar) = (min(&enc[0]) - enc_reset, min(&dec[0]) - dec_reset);
    let uni_scalar = min(&uni[0]) - uni_reset;
    let pad_reset = min(&pad[last]);
    let pad_scalar = min(&pad[0]) - pad_reset;
    for (i, isa) in isas[..last].iter().enumerate() {
        let (e, d) = (min(&enc[i]) - enc_reset, min(&dec[i]) - dec_reset);
        let (u, p) = (min(&uni[i]) - uni_reset, min(&pad[i]) - pad_reset);
        println!(
            "{:6} {:7} encap {e:5.2} ns/pkt (x{:.2})   encap_uniform {u:5.2} ns/pkt (x{:.2})   decap {d:5.2} ns/pkt (x{:.2})   decap_pad {p:5.2} ns/pkt (x{:.2})",
            K::NAME,
            isa.expect("an ISA").name(),
            enc_scalar / e,
            uni_scalar / u,
            dec_scalar / d,
            pad_scalar / p
        );
    }
}

mod group {
    // In a private module: criterion_group! makes an undocumented `pub fn`.
    use super::kernels;
    criterion::criterion_group!(benches, kernels);
}

fn main() {
    if std::env::args().any(|a| a == "--interleaved") {
        interleaved_kind(&vn_table());
        interleaved_kind(&et_table());
        interleaved_kind(&st_table());
        return;
    }
    group::benches();
    Criterion::default().configure_from_args().final_summary();
}
