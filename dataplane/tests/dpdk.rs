//! DPDK tests with virtual devices and no hugepages: EAL, mempools, ports,
//! rx/tx with exact frame contents, pcap in -> out, tx back-pressure, worker
//! lcores. Every test that moves packets checks that its pool's mbufs in use
//! return to zero.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use vfex_dataplane::dpdk::{Burst, Eal, Error, MbufError, Port, PortConfig, QueueId, VirtualWire};
use vfex_dataplane::fwd::{self, ForwardMode, Topology, WorkerCounters};

fn started<'a>(mut p: Port<'a>, pool: &'a vfex_dataplane::dpdk::Mempool<'_>, q: u16) -> Port<'a> {
    p.configure(
        pool,
        &PortConfig {
            rx_queues: 1,
            tx_queues: q,
            ..PortConfig::default()
        },
    )
    .expect("configure");
    p.start().expect("start");
    p
}

/// Puts `frames` into `burst` from `pool`.
fn fill<const N: usize>(
    pool: &vfex_dataplane::dpdk::Mempool<'_>,
    burst: &mut Burst<N>,
    frames: &[Vec<u8>],
) {
    for f in frames {
        let mut m = pool.alloc().expect("alloc");
        m.set_data(f).expect("set_data");
        burst.push(m).expect("room");
    }
}

#[test]
fn eal_second_init_is_an_error_not_a_crash() {
    let _ = eal();
    assert!(Eal::is_initialized());
    assert_eq!(
        Eal::init(&["--no-huge"]).unwrap_err(),
        Error::AlreadyInitialized
    );
    assert!(eal().lcore_count() >= 2);
    assert!(!eal().worker_lcores().is_empty());
    assert!(Eal::version().starts_with("DPDK "));
}

#[test]
fn mempool_counts_follow_alloc_and_free() {
    let pool = pool(256);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.available(), 256);
    let mut b: Burst<32> = Burst::new();
    assert!(pool.alloc_bulk(&mut b, 20));
    let one = pool.alloc().unwrap();
    assert_eq!(pool.in_use(), 21);
    assert_eq!(pool.available(), 235);
    drop(one);
    assert_eq!(b.truncate_free(15), 5);
    assert_eq!(pool.in_use(), 15);
    drop(b);
    assert_eq!(pool.in_use(), 0);
    // All-or-nothing bulk alloc beyond what the burst can hold.
    let mut small: Burst<4> = Burst::new();
    assert!(!pool.alloc_bulk(&mut small, 5));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn pool_monitor_reads_counts_from_another_thread_until_the_pool_is_freed() {
    let pool = pool(128);
    let mon = pool.monitor();
    assert_eq!(mon.name(), pool.name());
    let mut b: Burst<32> = Burst::new();
    assert!(pool.alloc_bulk(&mut b, 7));
    let seen = {
        let mon = mon.clone();
        std::thread::spawn(move || mon.usage()).join().unwrap()
    };
    assert_eq!(
        seen,
        Some(vfex_dataplane::dpdk::PoolUsage {
            size: 128,
            in_use: 7,
            available: 121
        })
    );
    drop(b);
    assert_eq!(mon.usage().map(|u| u.in_use), Some(0));
    drop(pool);
    assert_eq!(mon.usage(), None, "a freed pool is not read");
}

#[test]
fn mempool_exhaustion_is_reported_and_recovers() {
    let pool = pool(64);
    let mut held = Vec::new();
    while let Some(m) = pool.alloc() {
        held.push(m);
    }
    assert_eq!(held.len(), 64);
    assert!(pool.alloc().is_none());
    held.clear();
    assert_eq!(pool.in_use(), 0);
    assert!(pool.alloc().is_some());
}

#[test]
fn mbuf_edits_check_headroom_and_tailroom() {
    let pool = pool(16);
    let mut m = pool.alloc().unwrap();
    m.set_data(&frame(7, 64)).unwrap();
    assert_eq!(m.headroom(), 128);
    assert_eq!(m.pkt_len(), 64);
    let front = m.prepend(4).unwrap();
    front[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(m.pkt_len(), 68);
    assert_eq!(&m.data()[..4], &[0xde, 0xad, 0xbe, 0xef]);
    m.adj(4).unwrap();
    assert_eq!(m.data(), &frame(7, 64)[..]);
    assert_eq!(
        m.prepend(200).unwrap_err(),
        MbufError::NoHeadroom {
            have: 128,
            need: 200
        }
    );
    let room = m.tailroom();
    assert!(matches!(
        m.append(room + 1),
        Err(MbufError::NoTailroom { .. })
    ));
    m.append(2).unwrap().copy_from_slice(&[1, 2]);
    assert_eq!(m.pkt_len(), 66);
    m.trim(2).unwrap();
    assert_eq!(m.data(), &frame(7, 64)[..]);
    assert!(matches!(m.adj(65), Err(MbufError::TooShort { .. })));
    assert!(matches!(m.trim(65), Err(MbufError::TooShort { .. })));
    // Chained mbufs: to_vec sees both segments, append/trim refuse.
    let mut t = pool.alloc().unwrap();
    t.set_data(&[9; 10]).unwrap();
    m.chain(t).unwrap();
    assert_eq!(m.nb_segs(), 2);
    assert_eq!(m.pkt_len(), 74);
    assert_eq!(m.to_vec().len(), 74);
    assert_eq!(m.append(1).unwrap_err(), MbufError::Chained);
    assert_eq!(m.trim(1).unwrap_err(), MbufError::Chained);
    drop(m);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn port_configure_start_stop_and_query() {
    let eal = eal();
    let pool = pool(2048);
    let name = unique("net_ring_cfg");
    let mut p = Port::attach(eal, &name).expect("attach net_ring");
    assert_eq!(p.name(), name);
    assert_eq!(p.driver(), "net_ring");
    assert!(p.start().is_err(), "start before configure must fail");
    let bad = PortConfig {
        rx_queues: 0,
        ..PortConfig::default()
    };
    assert!(matches!(
        p.configure(&pool, &bad),
        Err(Error::InvalidArgument(_))
    ));
    let too_many = PortConfig {
        rx_queues: 1000,
        ..PortConfig::default()
    };
    assert!(matches!(
        p.configure(&pool, &too_many),
        Err(Error::InvalidArgument(_))
    ));
    p.configure(&pool, &PortConfig::default()).unwrap();
    p.start().unwrap();
    assert!(p.is_started());
    assert!(p.link().unwrap().up);
    // net_ring reports an all-zero MAC; the call itself must work.
    assert_eq!(p.mac().unwrap().len(), 6);
    p.set_promiscuous(true).unwrap();
    assert!(p.promiscuous());
    let s = p.stats().unwrap();
    assert_eq!(s.ipackets, 0);
    let x = p.xstats().unwrap();
    assert!(
        x.iter().any(|x| x.name == "rx_good_packets"),
        "xstats: {x:?}"
    );
    // Queues are handed out once.
    let q = p.rx_queue(QueueId(0)).unwrap();
    assert!(matches!(
        p.rx_queue(QueueId(0)),
        Err(Error::QueueTaken { .. })
    ));
    assert!(matches!(
        p.rx_queue(QueueId(1)),
        Err(Error::InvalidArgument(_))
    ));
    drop(q);
    assert!(p.rx_queue(QueueId(0)).is_ok());
    p.stop().unwrap();
    assert!(!p.is_started());
    p.start().unwrap();
    drop(p);
    // Run-time detach happened: the name is free again.
    let again = Port::attach(eal, &name).expect("re-attach after detach");
    drop(again);
    assert!(matches!(
        Port::attach(eal, "net_nosuchdriver0"),
        Err(Error::Dpdk { .. })
    ));
}

/// A wire closes only its own ports when it goes: an id its handles gave
/// back may already belong to a newer wire, whose ports must keep working;
/// a wire dropped without ever opening its ports closes them.
#[test]
fn dropped_wire_closes_only_its_own_ports() {
    let eal = eal();
    let pool = pool(256);
    let old = VirtualWire::new(eal, &unique("old"), 64).unwrap();
    let (a, b) = old.ports().unwrap();
    let ids = (a.id(), b.id());
    drop((a, b));
    let new = VirtualWire::new(eal, &unique("new"), 64).unwrap();
    drop(old);
    let (a, b) = new.ports().unwrap();
    let reused = (a.id(), b.id()) == ids;
    let a = started(a, &pool, 1);
    let b = started(b, &pool, 1);
    let mut burst: Burst<32> = Burst::new();
    assert!(pool.alloc_bulk(&mut burst, 1));
    burst.as_mut_slice()[0].set_data(&frame(7, 60)).unwrap();
    assert_eq!(a.tx_queue(QueueId(0)).unwrap().tx_burst(&mut burst), 1);
    let mut got: Burst<32> = Burst::new();
    assert_eq!(
        b.rx_queue(QueueId(0)).unwrap().rx_burst(&mut got),
        1,
        "ids reused: {reused}"
    );
    assert_eq!(got.as_slice()[0].data(), &frame(7, 60)[..]);
    drop(got);
    drop((a, b));
    drop(new);

    let unused = VirtualWire::new(eal, &unique("unused"), 64).unwrap();
    let name = format!("{}_a", unused.name());
    drop(unused);
    assert!(
        Port::attach(eal, &name).is_err(),
        "{name} was closed with its wire"
    );
}

#[test]
fn ring_wire_carries_exact_frames_both_ways() {
    let eal = eal();
    let pool = pool(512);
    let wire = VirtualWire::new(eal, &unique("w"), 1024).unwrap();
    let (a, b) = wire.ports().unwrap();
    let a = started(a, &pool, 1);
    let b = started(b, &pool, 1);
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|i| frame(i, 60 + (i as usize * 37) % 1400))
        .collect();
    {
        let (mut atx, mut brx) = (
            a.tx_queue(QueueId(0)).unwrap(),
            b.rx_queue(QueueId(0)).unwrap(),
        );
        let (mut btx, mut arx) = (
            b.tx_queue(QueueId(0)).unwrap(),
            a.rx_queue(QueueId(0)).unwrap(),
        );
        let mut got = Vec::new();
        for chunk in frames.chunks(32) {
            let mut out: Burst<32> = Burst::new();
            fill(&pool, &mut out, chunk);
            assert_eq!(atx.tx_burst(&mut out), chunk.len());
            assert!(out.is_empty());
        }
        let mut rx: Burst<32> = Burst::new();
        while got.len() < frames.len() {
            let n = brx.rx_burst(&mut rx);
            assert!(n > 0, "frames lost on the wire");
            got.extend(rx.as_slice().iter().map(|m| m.to_vec()));
            // Send them back the other way, unchanged.
            assert_eq!(btx.tx_burst(&mut rx), n);
        }
        assert_eq!(got, frames);
        let mut back = Vec::new();
        while back.len() < frames.len() {
            let n = arx.rx_burst(&mut rx);
            assert!(n > 0);
            back.extend(rx.as_slice().iter().map(|m| m.to_vec()));
            rx.clear();
        }
        assert_eq!(back, frames);
        assert_eq!(brx.rx_burst(&mut rx), 0);
    }
    assert_eq!(a.stats().unwrap().opackets, 40);
    assert_eq!(b.stats().unwrap().ipackets, 40);
    drop((a, b));
    drop(wire);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn tx_back_pressure_returns_the_unsent_tail() {
    let eal = eal();
    let pool = pool(256);
    // Ring of 64 slots holds 63 packets; nobody drains the far side.
    let wire = VirtualWire::new(eal, &unique("bp"), 64).unwrap();
    let (a, b) = wire.ports().unwrap();
    let a = started(a, &pool, 1);
    let _b = started(b, &pool, 1);
    let mut txq = a.tx_queue(QueueId(0)).unwrap();
    let mut sent = 0;
    let mut unsent = 0;
    for i in 0..4 {
        let mut burst: Burst<32> = Burst::new();
        fill(
            &pool,
            &mut burst,
            &(0..32).map(|j| frame(i * 32 + j, 64)).collect::<Vec<_>>(),
        );
        sent += txq.tx_burst(&mut burst);
        unsent += burst.len();
        // The unsent tail is still ours and is the end of what we offered.
        if let Some(first) = burst.as_slice().first() {
            let seq = u32::from_be_bytes(first.data()[14..18].try_into().unwrap());
            assert_eq!(seq, i * 32 + 32 - burst.len() as u32);
        }
    }
    assert_eq!(sent, 63);
    assert_eq!(unsent, 128 - 63);
    assert_eq!(
        pool.in_use(),
        63,
        "unsent mbufs were freed with their bursts"
    );
    drop(txq);
    drop((a, _b));
    drop(wire); // frees what is still queued in the rings
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn pcap_in_to_out_through_the_port() {
    let eal = eal();
    let pool = pool(512);
    let dir = TempDir::new("pcap");
    let (inp, out) = (dir.join("in.pcap"), dir.join("out.pcap"));
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(i, 64 + i as usize)).collect();
    write_pcap(&inp, &frames);
    let dev = format!(
        "{},rx_pcap={},tx_pcap={}",
        unique("net_pcap_t"),
        inp.display(),
        out.display()
    );
    let p = Port::attach(eal, &dev).expect("attach net_pcap");
    let p = started(p, &pool, 1);
    {
        let mut rx = p.rx_queue(QueueId(0)).unwrap();
        let mut tx = p.tx_queue(QueueId(0)).unwrap();
        let mut burst: Burst<32> = Burst::new();
        let mut n = 0;
        for _ in 0..1000 {
            let got = rx.rx_burst(&mut burst);
            n += got;
            assert_eq!(tx.tx_burst(&mut burst), got);
            if n == frames.len() {
                break;
            }
        }
        assert_eq!(n, frames.len());
        assert_eq!(rx.rx_burst(&mut burst), 0, "pcap rx stops at end of file");
    }
    drop(p); // closes the pcap dumper
    assert_eq!(read_pcap(&out), frames);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn worker_lcore_runs_scoped_closures_and_reports_panics() {
    let eal = eal();
    let (_g, lc) = worker_lcore();
    let data = [1u64, 2, 3];
    let sum = eal.scope(|s| {
        let h = s.launch(lc, || {
            assert_eq!(vfex_dataplane::dpdk::lcore_id(), Some(lc));
            data.iter().sum::<u64>()
        });
        h.unwrap().join().unwrap()
    });
    assert_eq!(sum, 6);
    let r = eal.scope(|s| s.launch(lc, || panic!("boom")).unwrap().join());
    assert_eq!(r.unwrap_err(), Error::WorkerPanicked(lc.0));
    let main = eal.main_lcore();
    assert!(matches!(
        eal.scope(|s| s.launch(main, || ()).map(|_| ())),
        Err(Error::BadLcore(_))
    ));
    // After a panic the lcore is usable again.
    assert_eq!(
        eal.scope(|s| s.launch(lc, || 5).unwrap().join().unwrap()),
        5
    );
}

/// Injects `n` frames into the rx side of `port` through the wire's other end.
fn inject(pool: &vfex_dataplane::dpdk::Mempool<'_>, far: &Port<'_>, frames: &[Vec<u8>]) {
    let mut txq = far.tx_queue(QueueId(0)).unwrap();
    for chunk in frames.chunks(32) {
        let mut b: Burst<32> = Burst::new();
        fill(pool, &mut b, chunk);
        assert_eq!(txq.tx_burst(&mut b), chunk.len());
    }
}

fn drain(port: &Port<'_>) -> Vec<Vec<u8>> {
    let mut rx = port.rx_queue(QueueId(0)).unwrap();
    let mut b: Burst<32> = Burst::new();
    let mut v = Vec::new();
    while rx.rx_burst(&mut b) > 0 {
        v.extend(b.as_slice().iter().map(|m| m.to_vec()));
        b.clear();
    }
    v
}

fn run_fwd(
    mode: ForwardMode,
    ports: &[Port<'_>],
    counters: &[WorkerCounters],
    until: impl Fn() -> bool,
) {
    let eal = eal();
    let (_g, lc) = worker_lcore();
    let stop = AtomicBool::new(false);
    fwd::forward(
        eal,
        ports,
        &[lc],
        (mode, Topology::Paired),
        counters,
        &stop,
        || {
            let t0 = std::time::Instant::now();
            while !until() && t0.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        },
    )
    .expect("forward");
}

#[test]
fn io_and_macswap_forward_exact_frames_between_wires() {
    let eal = eal();
    for mode in [ForwardMode::Io, ForwardMode::MacSwap] {
        let pool = pool(1024);
        let w1 = VirtualWire::new(eal, &unique("f1"), 1024).unwrap();
        let w2 = VirtualWire::new(eal, &unique("f2"), 1024).unwrap();
        let (h1, d1) = w1.ports().unwrap();
        let (h2, d2) = w2.ports().unwrap();
        let (h1, h2) = (started(h1, &pool, 1), started(h2, &pool, 1));
        let (d1, d2) = (started(d1, &pool, 1), started(d2, &pool, 1));
        let frames: Vec<Vec<u8>> = (0..300)
            .map(|i| frame(i, 60 + (i as usize % 200)))
            .collect();
        inject(&pool, &h1, &frames);
        let counters = [WorkerCounters::new(2)];
        let dut = [d1, d2];
        run_fwd(mode, &dut, &counters, || {
            counters[0].port(1).tx.get() >= 300
        });
        let out = drain(&h2);
        let expect: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if mode == ForwardMode::MacSwap {
                    fwd::swap_macs(&mut f);
                }
                f
            })
            .collect();
        assert_eq!(out, expect, "{mode}");
        let (rx, tx, full) = WorkerCounters::sum_port(&counters, 0);
        assert_eq!((rx, tx, full), (300, 0, 0));
        assert_eq!(WorkerCounters::sum_port(&counters, 1), (0, 300, 0));
        drop(dut);
        drop((h1, h2));
        drop((w1, w2));
        assert_eq!(pool.in_use(), 0, "{mode}");
    }
}

#[test]
fn worker_counts_tx_full_drops_and_conserves_packets() {
    let eal = eal();
    let pool = pool(1024);
    let w1 = VirtualWire::new(eal, &unique("c1"), 1024).unwrap();
    // The egress wire holds only 63 packets and nobody drains it.
    let w2 = VirtualWire::new(eal, &unique("c2"), 64).unwrap();
    let (h1, d1) = w1.ports().unwrap();
    let (h2, d2) = w2.ports().unwrap();
    let (h1, h2) = (started(h1, &pool, 1), started(h2, &pool, 1));
    let dut = [started(d1, &pool, 1), started(d2, &pool, 1)];
    let frames: Vec<Vec<u8>> = (0..500).map(|i| frame(i, 64)).collect();
    inject(&pool, &h1, &frames);
    let counters = [WorkerCounters::new(2)];
    let c = &counters[0];
    run_fwd(ForwardMode::Io, &dut, &counters, || {
        c.port(1).tx.get() + c.port(1).tx_full.get() >= 500
    });
    let (rx, _, _) = WorkerCounters::sum_port(&counters, 0);
    let (_, tx, full) = WorkerCounters::sum_port(&counters, 1);
    assert_eq!(rx, 500);
    assert_eq!(tx, 63);
    assert_eq!(full, 500 - 63);
    assert_eq!(rx, tx + full, "conservation: received = sent + dropped");
    assert_eq!(drain(&h2).len(), 63);
    drop(dut);
    drop((h1, h2));
    drop((w1, w2));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn stop_flag_ends_the_worker_promptly() {
    let eal = eal();
    let pool = pool(512);
    let w = VirtualWire::new(eal, &unique("s"), 256).unwrap();
    let (a, b) = w.ports().unwrap();
    let dut = [started(a, &pool, 1), started(b, &pool, 1)];
    let (_g, lc) = worker_lcore();
    let stop = AtomicBool::new(false);
    let counters = [WorkerCounters::new(2)];
    let t0 = std::time::Instant::now();
    fwd::forward(
        eal,
        &dut,
        &[lc],
        (ForwardMode::Io, Topology::Paired),
        &counters,
        &stop,
        || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            stop.store(true, Ordering::Relaxed);
        },
    )
    .unwrap();
    assert!(t0.elapsed().as_millis() < 1000);
    assert!(counters[0].loops.get() > 0);
    drop(dut);
    drop(w);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn vntag_mode_pushes_on_even_ports_strips_on_odd_and_counts_drops() {
    use vfex_dataplane::drop::DropReason;
    let eal = eal();
    let pool = pool(1024);
    let w1 = VirtualWire::new(eal, &unique("t1"), 1024).unwrap();
    let w2 = VirtualWire::new(eal, &unique("t2"), 1024).unwrap();
    let (h1, d1) = w1.ports().unwrap();
    let (h2, d2) = w2.ports().unwrap();
    let (h1, h2) = (started(h1, &pool, 1), started(h2, &pool, 1));
    let dut = [started(d1, &pool, 1), started(d2, &pool, 1)];
    // VM side (port index 0): 50 plain frames and one that tries to carry
    // its own VN-Tag.
    let plain: Vec<Vec<u8>> = (0..50).map(|i| frame(i, 64 + i as usize)).collect();
    let mut injected = frame(99, 64);
    injected[12..14].copy_from_slice(&[0x89, 0x26]);
    let mut up = plain.clone();
    up.push(injected);
    inject(&pool, &h1, &up);
    // Uplink side (port index 1): a downstream VN-Tag frame (runt after the
    // strip: padded to 60) and one without a tag.
    let mut down = frame(7, 40);
    down.splice(12..12, [0x89, 0x26, 0x80, 0x01, 0x00, 0x00]);
    let untagged = frame(8, 64);
    inject(&pool, &h2, &[down, untagged]);
    let counters = [WorkerCounters::new(2)];
    let c = &counters[0];
    run_fwd(ForwardMode::VnTag, &dut, &counters, || {
        c.port(1).tx.get() >= 50 && c.port(0).tx.get() >= 1
    });
    let tagged = drain(&h2);
    let expect: Vec<Vec<u8>> = plain
        .iter()
        .map(|f| {
            let mut t = f[..12].to_vec();
            t.extend_from_slice(&[0x89, 0x26, 0x00, 0x00, 0x00, 0x01]);
            t.extend_from_slice(&f[12..]);
            t
        })
        .collect();
    assert_eq!(tagged, expect, "upstream VN-Tag d=0 src=1");
    let mut want_down = frame(7, 40);
    want_down.resize(60, 0);
    assert_eq!(drain(&h1), vec![want_down], "stripped and padded to 60");
    assert_eq!(
        WorkerCounters::sum_drops(&counters, DropReason::TagInjection),
        1
    );
    assert_eq!(WorkerCounters::sum_drops(&counters, DropReason::BadTpid), 1);
    let (rx0, _, _) = WorkerCounters::sum_port(&counters, 0);
    let (_, tx1, full1) = WorkerCounters::sum_port(&counters, 1);
    assert_eq!(rx0, tx1 + full1 + 1, "conservation: rx = tx + drops");
    drop(dut);
    drop((h1, h2));
    drop((w1, w2));
    assert_eq!(pool.in_use(), 0);
}
