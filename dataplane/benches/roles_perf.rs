//! Instruction/cycle harness for the forwarding roles (no criterion): runs
//! one case's `process()` over many bursts of 32 TestBufs so that
//! `perf stat -e cycles,instructions` measures it, with a `reset` mode
//! (the per-burst buffer reset alone) to subtract.
//!
//! Cases (the set-ups of `benches/roles.rs`):
//! - `up`: VN-Tag extender, 64 vEths with anti-spoof + 16-rule ACL (15
//!   misses, then a permit) + policer; one VF's burst of 32 flows (UDP
//!   destination ports 3000..3032), the same 32 flows every burst;
//! - `up_new`: the same, but every burst brings 32 flows never seen
//!   before (the ACL's miss path);
//! - `down`: the uplink's burst to 64 VIFs;
//! - `hairpin`: bridge, 1024 vEths on a VN-Tag link, 64K learned MACs,
//!   each frame back down to another vEth.
//!
//! Run `scripts/roleperf.sh` (builds this with the bench profile and
//! prints instructions and cycles per packet, reset subtracted), or by
//! hand: `roles_perf <case> <run|reset> <bursts>`.

use std::hint::black_box;
use std::sync::Arc;

use vfex_dataplane::kernels::{Kernels, TestBuf};
use vfex_dataplane::pipeline::{Bridge, Extender, Pipeline, RoleCounters, VecSink};
use vfex_dataplane::tables::*;

#[path = "common/roles_setup.rs"]
mod setup;
use setup::*;

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
        let mut sink = VecSink::new(ports);
        for o in &mut sink.out {
            o.reserve(BURST);
        }
        Bench {
            frames,
            pkts,
            sink,
            c: RoleCounters::new(ports, veths),
        }
    }

    #[inline(never)]
    fn reset(&mut self) {
        for o in self.sink.out.iter_mut() {
            self.pkts.append(o);
        }
        for (b, f) in self.pkts.iter_mut().zip(&self.frames) {
            b.reset(HEADROOM, f.len(), None);
            b.write_storage(HEADROOM, f);
        }
    }

    fn check(&mut self) {
        let out: usize = self.sink.out.iter().map(Vec::len).sum();
        assert_eq!(out, BURST, "drops: {:?}", self.c.drops_nonzero());
    }
}

fn extender() -> Extender {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 65);
    b.port(0, PortKind::Uplink);
    for i in 1..=64u16 {
        let mut v = VethConfig::new(&format!("veth{i}"), i, i);
        v.rules = heavy_rules(mac(i));
        b.veth(v);
    }
    let rcu = Rcu::new(b.build().unwrap());
    // The reader outlives this function (the writer handle may go).
    let r = rcu.reader();
    std::mem::forget(rcu);
    Extender::new(r, Kernels::detect().unwrap(), HZ, 0)
}

fn up_frames(base: u32) -> Vec<Vec<u8>> {
    (0..BURST as u32)
        .map(|i| {
            let mut f = ipv4(mac(9), mac(1));
            let flow = base + i;
            // Source port and destination port: 32 flows per burst.
            f[34..36].copy_from_slice(&((flow >> 16) as u16 + 1000).to_be_bytes());
            f[36..38].copy_from_slice(&(3000 + flow as u16).to_be_bytes());
            f
        })
        .collect()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let cases = ["up", "up_new", "down", "hairpin"];
    if a.len() < 4 || !cases.contains(&a[1].as_str()) {
        // Run by `cargo test --all-targets` / `cargo bench` without the
        // harness's arguments: a smoke run of every case (with its checks).
        if a.iter().skip(1).any(|x| !x.starts_with("--")) {
            eprintln!("usage: roles_perf <up|up_new|down|hairpin> <run|reset> <bursts>");
            std::process::exit(2);
        }
        for c in cases {
            run_case(c, true, 4);
        }
        println!("roles_perf: smoke run of {cases:?} passed (scripts/roleperf.sh measures)");
        return;
    }
    let (case, mode, n) = (a[1].as_str(), a[2].as_str(), a[3].parse::<u64>().unwrap());
    let run = match mode {
        "run" => true,
        "reset" => false,
        _ => panic!("mode: run or reset"),
    };
    run_case(case, run, n);
}

/// Runs `case` over `n` bursts (`run`: the pipeline; else only the reset).
fn run_case(case: &str, run: bool, n: u64) {
    match case {
        "up" | "up_new" => {
            let mut e = extender();
            let mut bu = Bench::new(up_frames(0), 65, 64);
            let fresh = case == "up_new";
            let mut now = 0u64;
            for it in 0..n {
                bu.reset();
                if fresh {
                    // New flows each burst: rewrite the ports (both modes).
                    let base = (it as u32).wrapping_mul(BURST as u32);
                    for (i, b) in bu.pkts.iter_mut().enumerate() {
                        let flow = base.wrapping_add(i as u32);
                        let mut p = [0u8; 4];
                        p[..2].copy_from_slice(&((flow >> 16) as u16 + 1000).to_be_bytes());
                        p[2..].copy_from_slice(&(3000u16.wrapping_add(flow as u16)).to_be_bytes());
                        b.write_storage(HEADROOM + 34, &p);
                    }
                }
                if run {
                    now += 1000;
                    e.process(1, black_box(&mut bu.pkts), &mut bu.sink, now, &bu.c);
                }
            }
            if run && n > 0 {
                bu.check();
            }
        }
        "down" => {
            let mut e = extender();
            let down: Vec<Vec<u8>> = (0..BURST as u16)
                .map(|i| insert_at12(&ipv4(mac(i % 64 + 1), mac(9)), &vntag(true, i % 64 + 1, 0)))
                .collect();
            let mut bd = Bench::new(down, 65, 64);
            for _ in 0..n {
                bd.reset();
                if run {
                    e.process(0, black_box(&mut bd.pkts), &mut bd.sink, 0, &bd.c);
                }
            }
            if run && n > 0 {
                bd.check();
            }
        }
        "hairpin" => {
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
            let m64 = |v: u16, j: u16| {
                let (a, b) = (v.to_be_bytes(), j.to_be_bytes());
                [2, 0, a[0], a[1], b[0], b[1]]
            };
            for m in 0..MACS {
                let (v, j) = ((m % u32::from(VETHS)) as u16, (m / u32::from(VETHS)) as u16);
                learn.learn(mac_u64(&m64(v, j)), 10, v, 0, u32::MAX);
            }
            let mut br = Bridge::new(rcu.reader(), learn, Kernels::detect().unwrap(), HZ, 0);
            // Bursts walk over the vEths: burst k, frame i from vEth
            // (7(32k + i)) % 1024 MAC 1 to the next vEth's MAC 2.
            let sets: Vec<Vec<Vec<u8>>> = (0..32u16)
                .map(|k| {
                    (0..BURST as u16)
                        .map(|i| {
                            let x = k * BURST as u16 + i;
                            let (s, d) = ((x * 7) % VETHS, (x * 7 + 1) % VETHS);
                            insert_at12(&ipv4(m64(d, 2), m64(s, 1)), &vntag(false, 0, s + 1))
                        })
                        .collect()
                })
                .collect();
            let mut benches: Vec<Bench> = sets
                .into_iter()
                .map(|f| Bench::new(f, 2, usize::from(VETHS)))
                .collect();
            for it in 0..n {
                let bh = &mut benches[(it % 32) as usize];
                bh.reset();
                if run {
                    br.process(0, black_box(&mut bh.pkts), &mut bh.sink, 0, &bh.c);
                }
            }
            if run && n >= 32 {
                for bh in &mut benches {
                    bh.check();
                }
            }
        }
        _ => panic!("unknown case {case}"),
    }
}
