//! The ACL decision of one vEth's frames three ways, on the same rules and
//! frames: vfex's first-match scan of compiled rules (what a decision-cache
//! miss runs), vfex's per-worker decision cache (what a known flow runs),
//! and DPDK's `rte_acl` classifier (`dpdk::Acl`, each classify method this
//! CPU has). The issue asks to use `rte_acl` if it measures faster than
//! what we write; this is that measurement.
//!
//! Rules: the role benchmarks' ACL, `N - 1` denies of UDP to
//! 192.168.i.0/24 ports i*100..=i*100+50 that the traffic misses, then a
//! permit of IPv4 (default deny), for N = 16 (the issue's) and N = 64.
//! Frames: 64 IPv4/UDP flows (destination ports 3000..3064) in bursts of
//! 32, every frame through all N rules. Each case starts from the frame
//! and its parsed L2 header: the scan and the cache build the ACL key
//! from the frame, `rte_acl` builds the key and its 60-byte input tuple
//! and classifies the burst in one call (and, for comparison, one call
//! per frame).
//!
//! The product path rows run what the extender runs on a burst of flows
//! none of which is cached: probe every frame, then look each up, the
//! misses scanned one by one, or (a vEth with a classifier, as the product
//! gives every ACL of `CLASSIFIER_MIN_RULES` rules or more) decided in one
//! `rte_acl` call by `VethRules::acl_resolve` first.
//!
//! Run: `cargo bench -p vfex-dataplane --bench acl -- --interleaved`
//! (every case in turn, 200 rounds of 400 bursts, fastest round, ns per
//! frame and the speed-up over the scan), or without `--interleaved` for
//! criterion. EAL starts with `--no-huge --no-shconf` (the classifier's
//! memory comes from EAL's heap).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use std::sync::Arc;
use vfex_dataplane::dpdk::{Acl, AclAlg, AclTuple, Eal};
use vfex_dataplane::tables::rules::{L2, acl_key, classify};
use vfex_dataplane::tables::{
    AclCache, Action, CLASSIFIER_MIN_RULES, Classifier, CompiledRule, VethRules,
};

const BURST: usize = 32;
const FLOWS: usize = 64;
const ROUNDS: usize = 200;
const BURSTS_PER_ROUND: usize = 400;

#[path = "common/roles_setup.rs"]
mod setup;
use setup::bench_acl as rules;

/// IPv4/UDP 10.0.0.1 -> 10.1.0.2, 1000 -> `dport`, 64 bytes.
fn frame(dport: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 1, 0, 2, 2, 0, 0, 1, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 1, 0, 2]);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.resize(64, 0);
    f
}

/// One rule set's cases: the frames and everything each case needs.
struct Set {
    frames: Vec<(Vec<u8>, L2)>,
    veth: VethRules,
    cache: AclCache,
    acl: Acl,
    /// `veth` with an `rte_acl` classifier attached, as the product has it
    /// for a long ACL.
    veth_cls: VethRules,
}

impl Set {
    fn new(n: usize) -> Set {
        let compiled: Vec<CompiledRule> = rules(n)
            .iter()
            .map(|r| CompiledRule::compile(r).expect("valid"))
            .collect();
        let acl = Acl::build(&compiled, Action::Deny).expect("rte_acl build");
        let cls = Acl::build(&compiled, Action::Deny).expect("rte_acl build");
        let veth = VethRules {
            acl: compiled,
            acl_default: Action::Deny,
            ..VethRules::default()
        };
        let veth_cls = VethRules {
            classifier: Classifier::new(Arc::new(cls)),
            ..veth.clone()
        };
        let frames = (0..FLOWS)
            .map(|i| {
                let f = frame(3000 + i as u16);
                let l2 = classify(&f).expect("IPv4");
                (f, l2)
            })
            .collect();
        let mut s = Set {
            frames,
            veth,
            cache: AclCache::new(),
            acl,
            veth_cls,
        };
        // Every way gives the same answer (all permitted), and the cache
        // holds every flow before timing starts.
        for b in 0..FLOWS / BURST {
            assert_eq!(s.scan(b), 0);
            assert_eq!(s.cached(b), 0);
            assert_eq!(s.rte_acl(b), 0);
            assert_eq!(s.miss_path(b, false), 0);
            assert_eq!(s.miss_path(b, true), 0);
        }
        s
    }

    fn burst(&self, b: usize) -> &[(Vec<u8>, L2)] {
        let at = (b * BURST) % FLOWS;
        &self.frames[at..at + BURST]
    }

    /// vfex's first-match scan; returns the denies.
    fn scan(&self, b: usize) -> usize {
        self.burst(b)
            .iter()
            .filter(|(f, l2)| self.veth.ingress(f, l2).is_err())
            .count()
    }

    /// vfex's decision cache.
    fn cached(&mut self, b: usize) -> usize {
        let at = (b * BURST) % FLOWS;
        let mut denied = 0;
        for (f, l2) in &self.frames[at..at + BURST] {
            let r = self.veth.ingress_cached(f, l2, 1, &mut self.cache, None);
            denied += usize::from(r.is_err());
        }
        denied
    }

    /// The product's path for a burst of flows none of which is cached
    /// (the cache emptied first): probe every frame, then (with
    /// `classifier`) decide the misses in one `rte_acl` call, then look
    /// each frame up (a miss without the classifier scans and fills).
    fn miss_path(&mut self, b: usize, classifier: bool) -> usize {
        self.cache.invalidate();
        self.product_path(b, classifier)
    }

    /// The product's path on a burst, the cache as it is (after a first
    /// round, every flow cached).
    fn product_path(&mut self, b: usize, classifier: bool) -> usize {
        let at = (b * BURST) % FLOWS;
        let veth = if classifier {
            &self.veth_cls
        } else {
            &self.veth
        };
        let frames = &self.frames[at..at + BURST];
        let mut probes = [None; BURST];
        for (p, (f, _)) in probes.iter_mut().zip(frames) {
            *p = veth.acl_probe(f, 1, &self.cache);
        }
        veth.acl_resolve(&mut probes, &mut self.cache);
        let mut denied = 0;
        for ((f, l2), p) in frames.iter().zip(&probes) {
            let r = veth.ingress_cached(f, l2, 1, &mut self.cache, p.as_ref());
            denied += usize::from(r.is_err());
        }
        denied
    }

    /// The classifier's input: key and tuple per frame.
    fn tuples(&self, b: usize) -> [AclTuple; BURST] {
        let mut tuples = [AclTuple::default(); BURST];
        for (t, (f, l2)) in tuples.iter_mut().zip(self.burst(b)) {
            let vlan = self.veth.vlan_of(l2.ctag_vid).expect("any VLAN");
            *t = AclTuple::of(&acl_key(f, l2, vlan));
        }
        tuples
    }

    /// `rte_acl` called once per frame (as a cache miss would call it).
    fn rte_acl_single(&self, b: usize) -> usize {
        let tuples = self.tuples(b);
        let mut denied = 0;
        for t in &tuples {
            let mut out = [0u32; 1];
            self.acl.classify(std::slice::from_ref(t), &mut out);
            denied += usize::from(self.acl.denies(out[0]));
        }
        denied
    }

    /// `rte_acl`: key and tuple per frame, one classify per burst.
    fn rte_acl(&self, b: usize) -> usize {
        let tuples = self.tuples(b);
        let mut out = [0u32; BURST];
        self.acl.classify(&tuples, &mut out);
        out.iter().filter(|&&r| self.acl.denies(r)).count()
    }
}

const PREFIX: &str = "vfex-bench-acl";

fn eal() -> Eal {
    let eal = Eal::init(&[
        "-l",
        "0",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        PREFIX,
        "--log-level",
        "lib.eal:error",
    ])
    .expect("EAL init (run scripts/setup.sh if DPDK is missing)");
    // With --no-shconf the runtime directory stays empty: leave nothing.
    std::fs::remove_dir(format!("/var/run/dpdk/{PREFIX}")).ok();
    eal
}

/// The classify methods this CPU has.
fn algs() -> Vec<AclAlg> {
    let mut v = vec![AclAlg::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.1") {
            v.push(AclAlg::Sse);
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push(AclAlg::Avx2);
        }
    }
    v
}

/// Times `f` over BURSTS_PER_ROUND bursts; ns per frame.
fn time_round(mut f: impl FnMut(usize) -> usize) -> f64 {
    let start = Instant::now();
    let mut denied = 0;
    for b in 0..BURSTS_PER_ROUND {
        denied += f(black_box(b));
    }
    black_box(denied);
    start.elapsed().as_nanos() as f64 / (BURSTS_PER_ROUND * BURST) as f64
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn interleaved() {
    for n in [16, 64, 256] {
        let mut s = Set::new(n);
        // What a publication pays per distinct long ACL.
        let compiled = s.veth.acl.clone();
        let start = Instant::now();
        const BUILDS: u32 = 20;
        for _ in 0..BUILDS {
            black_box(Acl::build(&compiled, Action::Deny).expect("rte_acl build"));
        }
        let build = start.elapsed() / BUILDS;
        let algs = algs();
        let mut scan = Vec::new();
        let mut cached = Vec::new();
        let mut input = Vec::new();
        let (mut miss_scan, mut miss_cls) = (Vec::new(), Vec::new());
        let (mut hit_plain, mut hit_cls) = (Vec::new(), Vec::new());
        let mut rte = vec![Vec::new(); algs.len()];
        let mut single = vec![Vec::new(); algs.len()];
        for _ in 0..ROUNDS {
            scan.push(time_round(|b| s.scan(b)));
            input.push(time_round(|b| black_box(s.tuples(b)).len()));
            miss_scan.push(time_round(|b| s.miss_path(b, false)));
            miss_cls.push(time_round(|b| s.miss_path(b, true)));
            s.product_path(0, false);
            s.product_path(1, false);
            hit_plain.push(time_round(|b| s.product_path(b, false)));
            hit_cls.push(time_round(|b| s.product_path(b, true)));
            cached.push(time_round(|b| s.cached(b)));
            for (i, alg) in algs.iter().enumerate() {
                s.acl.set_alg(*alg).expect("a method this CPU has");
                rte[i].push(time_round(|b| s.rte_acl(b)));
                single[i].push(time_round(|b| s.rte_acl_single(b)));
            }
        }
        let base = min(&scan);
        println!("{n} rules, 64 flows, bursts of {BURST}: ns per frame (speed-up over the scan)");
        println!("  (building the rte_acl context: {build:.2?})");
        println!("  vfex scan           {base:6.2}");
        let c = min(&cached);
        println!("  vfex cache (hits)   {c:6.2} (x{:.2})", base / c);
        println!("  (rte_acl's input alone: key + tuple {:6.2})", min(&input));
        let (ms, mc) = (min(&miss_scan), min(&miss_cls));
        println!(
            "  product path, every flow new: misses scanned {ms:6.2}, misses classified in one call {mc:6.2} (x{:.2}){}",
            ms / mc,
            if n < CLASSIFIER_MIN_RULES {
                " [below CLASSIFIER_MIN_RULES: the product attaches no classifier]"
            } else {
                ""
            }
        );
        let (hp, hc) = (min(&hit_plain), min(&hit_cls));
        println!(
            "  product path, every flow cached: without a classifier {hp:6.2}, with one {hc:6.2} (x{:.2})",
            hp / hc
        );
        for (i, alg) in algs.iter().enumerate() {
            let r = min(&rte[i]);
            let one = min(&single[i]);
            println!(
                "  rte_acl {:11} {r:6.2} (x{:.2}); one frame per call {one:6.2} (x{:.2})",
                format!("{alg:?}"),
                base / r,
                base / one
            );
        }
    }
}

fn criterion_benches(c: &mut Criterion) {
    for n in [16, 64] {
        let mut s = Set::new(n);
        let mut g = c.benchmark_group(format!("acl_{n}_rules"));
        g.throughput(Throughput::Elements(BURST as u64));
        let mut b = 0usize;
        g.bench_function("vfex_scan", |bch| {
            bch.iter(|| {
                b += 1;
                s.scan(black_box(b))
            })
        });
        g.bench_function("vfex_cache", |bch| {
            bch.iter(|| {
                b += 1;
                s.cached(black_box(b))
            })
        });
        for (name, cls) in [("miss_path_scan", false), ("miss_path_classifier", true)] {
            g.bench_function(name, |bch| {
                bch.iter(|| {
                    b += 1;
                    s.miss_path(black_box(b), cls)
                })
            });
        }
        for alg in algs() {
            s.acl.set_alg(alg).expect("a method this CPU has");
            g.bench_function(format!("rte_acl_{alg:?}"), |bch| {
                bch.iter(|| {
                    b += 1;
                    s.rte_acl(black_box(b))
                })
            });
        }
        g.finish();
    }
}

fn main() {
    // EAL runs for the whole bench: the classifiers are built under it.
    let _eal = eal();
    if std::env::args().any(|a| a == "--interleaved") {
        interleaved();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
