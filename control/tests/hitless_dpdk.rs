//! Hitless rule updates with the real dataplane: a VN-Tag port extender on
//! a worker lcore (real DPDK mbufs over in-process virtual wires, the real
//! RCU tables) forwards a steady flow from vEth `vm1` while the control
//! thread applies 1000 rule changes to vEth `vm2`. Every frame of the
//! untouched flow arrives, in order; the worst delay a frame saw is
//! printed (the "worst packet-processing pause" of issue 6); mbufs return
//! to their baseline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vfex_control::control::{self, Command, ControlOptions, Hardware, Response};
use vfex_control::publish::DataplanePublisher;
use vfex_control::testkit::{FakeKernel, FakeNetlink};
use vfex_dataplane::dpdk::{self, Burst, Eal, Mempool, Port, PortConfig, QueueId, VirtualWire};
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{Extender, RoleCounters};
use vfex_dataplane::worker;

const CONFIG: &str = r#"
role = "port-extender"
encap = "vntag"

[ports.p0up]
kind = "uplink"
devargs = "wire-up-a"

[ports.p1vm1]
kind = "downlink"
devargs = "wire-vm1-a"

[ports.p2vm2]
kind = "downlink"
devargs = "wire-vm2-a"

[veths.vm1]
port = "p1vm1"
vif = 1
mac = "02:00:00:00:00:01"
anti_spoof = { allowed_macs = ["02:00:00:00:00:01"] }

[veths.vm2]
port = "p2vm2"
vif = 2
mac = "02:00:00:00:00:02"
"#;

const UPDATES: usize = 1000;

#[test]
fn thousand_rule_changes_under_traffic_lose_nothing_on_an_untouched_veth() {
    // VFEX_TEST_EAL_EXTRA: more EAL options (e.g. `-d DIR` where DPDK's
    // drivers are not installed system-wide, or other lcores).
    let mut args: Vec<String> = [
        "-l",
        "0,1",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        "vfex-hitless",
    ]
    .map(String::from)
    .to_vec();
    if let Ok(x) = std::env::var("VFEX_TEST_EAL_EXTRA") {
        args.extend(x.split_whitespace().map(String::from));
    }
    let eal = Eal::init(&args).expect("EAL");
    let cfg = vfex_control::config::parse("hitless.toml", CONFIG).expect("config");
    let (publisher, slot) = DataplanePublisher::new(Duration::from_secs(2));
    let kernel = FakeKernel::new().unwrap();
    let nl = FakeNetlink::new();
    let main = eal.main_lcore().0 as usize;
    let lcore = eal.worker_lcores()[0];
    let ctl = control::spawn(
        main,
        &[lcore.0 as usize],
        ControlOptions::default(),
        move || {
            let hw = Hardware {
                sysfs: Box::new(kernel.clone()),
                netlink: Box::new(nl.clone()),
                vf_wait: Duration::from_secs(1),
            };
            control::Control::new(cfg, Box::new(publisher), hw)
        },
    )
    .expect("control thread");
    let rcu = slot.get().cloned().expect("published");
    let compiled = match ctl.call(Command::ShowTables) {
        Response::Tables(c) => c,
        r => panic!("{r:?}"),
    };

    let pool = Mempool::new(&eal, "hitless", 8192, 256, dpdk::DEFAULT_DATA_ROOM, None).unwrap();
    let baseline = pool.in_use();
    let wires: Vec<(&str, VirtualWire)> = ["up", "vm1", "vm2"]
        .into_iter()
        .map(|w| (w, VirtualWire::new(&eal, &format!("hl_{w}"), 4096).unwrap()))
        .collect();
    let mut ends: HashMap<String, Port<'_>> = HashMap::new();
    for (w, wire) in &wires {
        let (a, b) = wire.ports().unwrap();
        ends.insert(format!("wire-{w}-a"), a);
        ends.insert(format!("wire-{w}-b"), b);
    }
    let mut ports: Vec<Port<'_>> = compiled
        .ports
        .iter()
        .map(|p| ends.remove(&p.devargs).unwrap())
        .collect();
    let mut vm1 = ends.remove("wire-vm1-b").unwrap();
    let mut up = ends.remove("wire-up-b").unwrap();
    let pc = PortConfig {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        promiscuous: true,
    };
    for p in ports.iter_mut().chain([&mut vm1, &mut up]) {
        p.configure(&pool, &pc).unwrap();
        p.start().unwrap();
    }
    let mut vm1_tx = vm1.tx_queue(QueueId(0)).unwrap();
    let mut up_rx = up.rx_queue(QueueId(0)).unwrap();

    let counters: Vec<RoleCounters> = vec![RoleCounters::new(ports.len(), 16)];
    let kernels = Kernels::detect().unwrap();
    let hz = dpdk::tsc_hz();
    let stop = AtomicBool::new(false);
    let updating = AtomicBool::new(true);
    let (mut sent, mut received, mut next_seq, mut worst) = (0u64, 0u64, 0u64, 0u64);
    let mut in_order = true;
    let mut update_time = Duration::ZERO;
    worker::launch(
        &eal,
        &ports,
        &[lcore],
        &pool,
        |_| Extender::new(rcu.reader(), kernels, hz, dpdk::rdtsc()),
        &counters,
        &stop,
        || {
            std::thread::scope(|s| {
                // The control side: 1000 changes to vm2 (its PCP), one at a
                // time, each published hitlessly.
                let ctl = &ctl;
                let updating = &updating;
                let h = s.spawn(move || {
                    let t0 = Instant::now();
                    for i in 0..UPDATES {
                        let rules = vfex_control::model::RuleSet {
                            pcp: Some((i % 7) as u8 + 1),
                            ..Default::default()
                        };
                        match ctl.call(Command::VethSet {
                            name: "vm2".into(),
                            profile: None,
                            rules,
                        }) {
                            Response::Ok(_) => {}
                            r => panic!("update {i}: {r:?}"),
                        }
                    }
                    updating.store(false, Ordering::Relaxed);
                    t0.elapsed()
                });
                // The data side: a steady flow from vm1, numbered and
                // TSC-stamped; the uplink end checks order and delay.
                let mut frame = [0u8; 64];
                frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
                frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
                frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                let mut rx: Burst<32> = Burst::new();
                let mut drain = |rx: &mut Burst<32>, received: &mut u64| {
                    up_rx.rx_burst(rx);
                    let now = dpdk::rdtsc();
                    for m in rx.as_slice() {
                        // VN-Tag pushed: the payload is 6 bytes further.
                        let d = m.data();
                        let seq = u64::from_be_bytes(d[20..28].try_into().unwrap());
                        let ts = u64::from_be_bytes(d[28..36].try_into().unwrap());
                        in_order &= seq == next_seq;
                        next_seq = seq + 1;
                        worst = worst.max(now.wrapping_sub(ts));
                        *received += 1;
                    }
                    rx.clear();
                };
                while updating.load(Ordering::Relaxed) {
                    let mut b: Burst<32> = Burst::new();
                    if pool.alloc_bulk(&mut b, 8) {
                        for m in b.as_mut_slice() {
                            frame[14..22].copy_from_slice(&sent.to_be_bytes());
                            frame[22..30].copy_from_slice(&dpdk::rdtsc().to_be_bytes());
                            m.set_data(&frame).unwrap();
                            sent += 1;
                        }
                        let n = vm1_tx.tx_burst(&mut b);
                        sent -= (b.len()) as u64;
                        let _ = n;
                    }
                    drain(&mut rx, &mut received);
                    std::thread::sleep(Duration::from_micros(20));
                }
                update_time = h.join().unwrap();
                let t0 = Instant::now();
                while received < sent && t0.elapsed() < Duration::from_secs(2) {
                    drain(&mut rx, &mut received);
                }
            });
        },
    )
    .expect("worker");
    let worst_us = worst as f64 * 1e6 / hz as f64;
    println!(
        "{UPDATES} updates in {update_time:?} ({:.2} ms each); {sent} frames sent from vm1, {received} received in order: {in_order}; worst frame delay {worst_us:.0} us",
        update_time.as_secs_f64() * 1e3 / UPDATES as f64
    );
    assert!(sent > 1000, "traffic flowed: {sent}");
    assert_eq!(received, sent, "every frame of the untouched vEth arrived");
    assert!(in_order, "in order");
    let drops: u64 = vfex_dataplane::drop::DropReason::ALL
        .iter()
        .map(|r| counters[0].drop(*r).get())
        .sum();
    assert_eq!(drops, 0);
    match ctl.call(Command::ShowTables) {
        Response::Tables(c) => assert_eq!(c.generation, 1 + UPDATES as u64),
        r => panic!("{r:?}"),
    }
    assert_eq!(
        rcu.load().veths()[1].cfg.rules.pcp,
        Some(((UPDATES - 1) % 7) as u8 + 1)
    );
    ctl.shutdown();
    drop(vm1_tx);
    drop(up_rx);
    for p in ports.iter_mut().chain([&mut vm1, &mut up]) {
        p.stop().ok();
    }
    drop(ports);
    drop(vm1);
    drop(up);
    drop(ends);
    drop(wires);
    assert_eq!(pool.in_use(), baseline, "mbufs back to baseline");
}
