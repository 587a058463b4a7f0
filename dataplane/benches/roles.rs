//! Criterion bench of the forwarding roles on TestBufs (no DPDK): ns per
//! packet of the per-vEth rule evaluation and of each role's `process()`
//! over a burst of 32 64-byte frames.
//!
//! - `rules/ingress`: [`VethRules::ingress`] with anti-spoof, a 16-rule ACL
//!   whose first 15 rules miss (the last permits), and the policer.
//! - `extender/up`, `extender/down`: a VN-Tag extender with 64 vEths, each
//!   with anti-spoof + the 16-rule ACL + a policer (the target
//!   set-up); up = one VF's burst of one flow tagged for the uplink (the
//!   ACL runs once per run of one flow), up_mixed = 32 flows (the ACL runs
//!   per frame), down = a burst to 64 VIFs.
//! - `station/up`, `station/down`: a basic VEPA station with 64 VMs.
//! - `bridge/hairpin`: a controlling bridge with 1024 vEths on one VN-Tag
//!   extender link and 64K learned MACs; each frame goes back down the
//!   link to another vEth (learn + lookup + re-tag).
//!
//! Each iteration puts the 32 buffers back (offsets and frame bytes) and
//! runs `process()`; the `*/reset` rows measure the reset alone, so
//! `role - reset` is the role's own cost.
//!
//! Run: `cargo bench -p vfex-dataplane --bench roles -- --warm-up-time 1
//! --measurement-time 2`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput};
use vfex_dataplane::kernels::{Kernels, TestBuf};
use vfex_dataplane::pipeline::{Bridge, Extender, Pipeline, RoleCounters, Station, VecSink};
use vfex_dataplane::tables::rules::{Meter, classify};
use vfex_dataplane::tables::*;

#[path = "common/roles_setup.rs"]
mod setup;
use setup::*;

/// The burst in use and its templates; `run` puts it back and processes.
struct Bench {
    frames: Vec<Vec<u8>>,
    pkts: Vec<TestBuf>,
    sink: VecSink<TestBuf>,
    c: RoleCounters,
}

impl Bench {
    fn new(frames: Vec<Vec<u8>>, ports: usize, veths: usize) -> Bench {
        let pkts = frames
            .iter()
            .map(|f| TestBuf::new(f, HEADROOM, TAILROOM))
            .collect();
        Bench {
            frames,
            pkts,
            sink: VecSink::new(ports),
            c: RoleCounters::new(ports, veths),
        }
    }

    /// Moves the buffers back from the sink and rewrites them.
    fn reset(&mut self) {
        for o in self.sink.out.iter_mut() {
            self.pkts.append(o);
        }
        for (b, f) in self.pkts.iter_mut().zip(&self.frames) {
            b.reset(HEADROOM, f.len(), None);
            b.write_storage(HEADROOM, f);
        }
    }

    fn run<P: Pipeline<TestBuf>>(&mut self, p: &mut P, port: u16, now: u64) {
        self.reset();
        p.process(
            port,
            black_box(&mut self.pkts),
            &mut self.sink,
            now,
            &self.c,
        );
    }

    /// Every packet came out somewhere (none dropped), if the bench ran
    /// (a filter on the command line may have skipped it).
    fn check(&mut self) {
        if self.pkts.len() == BURST {
            return;
        }
        let out: usize = self.sink.out.iter().map(Vec::len).sum();
        assert_eq!(out, BURST, "drops: {:?}", self.c.drops_nonzero());
    }
}

fn bench_rules(c: &mut Criterion) {
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(BURST as u64));
    let r = heavy_rules(mac(1));
    let frames: Vec<Vec<u8>> = (0..BURST).map(|_| ipv4(mac(9), mac(1))).collect();
    let mut m = Meter::new(r.policer.as_ref().unwrap(), HZ, 0);
    let mut now = 0u64;
    g.bench_function("ingress", |b| {
        b.iter(|| {
            now += 1000;
            for f in &frames {
                let f = black_box(&f[..]);
                let l2 = classify(f).unwrap();
                let vlan = r.ingress(f, &l2).unwrap();
                assert!(m.pass(f.len() as u32, now));
                black_box(vlan);
            }
        })
    });
    g.finish();
}

fn bench_extender(c: &mut Criterion) {
    let mut g = c.benchmark_group("extender");
    g.throughput(Throughput::Elements(BURST as u64));
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 65);
    b.port(0, PortKind::Uplink);
    for i in 1..=64u16 {
        let mut v = VethConfig::new(&format!("veth{i}"), i, i);
        v.rules = heavy_rules(mac(i));
        b.veth(v);
    }
    let rcu = Rcu::new(b.build().unwrap());
    let k = Kernels::detect().unwrap();
    let mut e = Extender::new(rcu.reader(), k, HZ, 0);
    let mut now = 0u64;

    let up: Vec<Vec<u8>> = (0..BURST).map(|_| ipv4(mac(9), mac(1))).collect();
    let mut bu = Bench::new(up, 65, 64);
    g.bench_function("up/reset", |bch| bch.iter(|| bu.reset()));
    g.bench_function("up", |bch| {
        bch.iter(|| {
            now += 1000;
            bu.run(&mut e, 1, now)
        })
    });
    bu.check();

    // 32 flows (UDP destination ports): every frame runs the whole ACL.
    let mixed: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| {
            let mut f = ipv4(mac(9), mac(1));
            f[36..38].copy_from_slice(&(3000 + i).to_be_bytes());
            f
        })
        .collect();
    let mut bm = Bench::new(mixed, 65, 64);
    g.bench_function("up_mixed", |bch| {
        bch.iter(|| {
            now += 1000;
            bm.run(&mut e, 1, now)
        })
    });
    bm.check();

    let down: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| insert_at12(&ipv4(mac(i % 64 + 1), mac(9)), &vntag(true, i % 64 + 1, 0)))
        .collect();
    let mut bd = Bench::new(down, 65, 64);
    g.bench_function("down/reset", |bch| bch.iter(|| bd.reset()));
    g.bench_function("down", |bch| bch.iter(|| bd.run(&mut e, 0, 0)));
    bd.check();
    g.finish();
}

fn bench_station(c: &mut Criterion) {
    let mut g = c.benchmark_group("station");
    g.throughput(Throughput::Elements(BURST as u64));
    let mut b = TablesBuilder::new(
        Role::Station {
            multichannel: false,
        },
        65,
    );
    b.port(0, PortKind::Uplink);
    for i in 1..=64u16 {
        let mut v = VethConfig::new(&format!("vm{i}"), i, 0);
        v.macs = vec![mac(i)];
        b.veth(v);
    }
    let rcu = Rcu::new(b.build().unwrap());
    let mut s = Station::new(rcu.reader(), Kernels::detect().unwrap(), HZ, 0);
    let up: Vec<Vec<u8>> = (0..BURST).map(|_| ipv4(mac(9), mac(1))).collect();
    let mut bu = Bench::new(up, 65, 64);
    g.bench_function("up", |bch| bch.iter(|| bu.run(&mut s, 1, 0)));
    bu.check();
    let down: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| ipv4(mac(i % 64 + 1), mac(999)))
        .collect();
    let mut bd = Bench::new(down, 65, 64);
    g.bench_function("down", |bch| bch.iter(|| bd.run(&mut s, 0, 0)));
    bd.check();
    g.finish();
}

fn bench_bridge(c: &mut Criterion) {
    let mut g = c.benchmark_group("bridge");
    g.throughput(Throughput::Elements(BURST as u64));
    const VETHS: u16 = 1024;
    const MACS: u32 = 65536;
    let mut b = TablesBuilder::new(Role::Bridge, 2);
    b.port(0, PortKind::ExtenderLink(ExtKind::VnTag))
        .port(1, PortKind::Ordinary);
    for i in 1..=VETHS {
        let mut v = VethConfig::new(&format!("veth{i}"), 0, i);
        v.rules.vlan = VlanMode::Access(10);
        b.veth(v);
    }
    let rcu = Rcu::new(b.build().unwrap());
    let learn = Arc::new(LearnTable::new(4 * MACS as usize, usize::from(VETHS)));
    // 64 MACs per vEth: 2:0:vv:vv:mm:mm.
    let m64 = |v: u16, j: u16| {
        let (a, b) = (v.to_be_bytes(), j.to_be_bytes());
        [2, 0, a[0], a[1], b[0], b[1]]
    };
    for m in 0..MACS {
        let (v, j) = ((m % u32::from(VETHS)) as u16, (m / u32::from(VETHS)) as u16);
        learn.learn(mac_u64(&m64(v, j)), 10, v, 0, u32::MAX);
    }
    // The burst's destinations must be learned (else they flood).
    for i in 0..BURST as u16 {
        let d = (i * 7 + 1) % VETHS;
        assert_eq!(learn.lookup(mac_u64(&m64(d, 2)), 10), Some(d));
    }
    let learned = learn.entries().len();
    assert!(
        learned * 1000 >= MACS as usize * 999,
        "{learned} of {MACS} learned"
    );
    let mut br = Bridge::new(rcu.reader(), learn, Kernels::detect().unwrap(), HZ, 0);
    // Frame i: from vEth (7i % 1024) MAC j=1 to vEth (7i + 1) MAC j=2.
    let frames: Vec<Vec<u8>> = (0..BURST as u16)
        .map(|i| {
            let (s, d) = ((i * 7) % VETHS, (i * 7 + 1) % VETHS);
            insert_at12(&ipv4(m64(d, 2), m64(s, 1)), &vntag(false, 0, s + 1))
        })
        .collect();
    let mut bh = Bench::new(frames, 2, usize::from(VETHS));
    g.bench_function("hairpin/reset", |bch| bch.iter(|| bh.reset()));
    g.bench_function("hairpin", |bch| bch.iter(|| bh.run(&mut br, 0, 0)));
    bh.check();
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_rules(&mut c);
    bench_extender(&mut c);
    bench_station(&mut c);
    bench_bridge(&mut c);
    c.final_summary();
}
