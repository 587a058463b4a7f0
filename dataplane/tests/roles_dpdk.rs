//! The roles on DPDK virtual devices (net_ring wires, no hugepages): a port
//! extender and a controlling bridge linked by a wire, with the link's tags
//! checked by tshark; a VEPA station on a worker lcore; the queue plan for
//! several workers. Exact frames on every port; mbufs back to zero.

mod common;

use common::*;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use vfex_dataplane::dpdk::{Port, Tsc, VirtualWire};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{RoleCounters, Station};
use vfex_dataplane::tables::*;
use vfex_dataplane::worker::{self, Worker};

/// Port extender (VN-Tag) and controlling bridge linked by a wire that the
/// test taps: VM 1 (VIF 10) and VM 2 (VIF 11) on the extender reach each
/// other through the bridge (hairpin) and an external port behind it.
#[test]
fn extender_and_bridge_hairpin_through_a_tapped_link() {
    let pool = pool(2048);
    // Wires: extender uplink <-> tap, tap <-> bridge link, two VFs, external.
    let wr = wires("rw", &[256; 5]);
    let (inner, outer) = wr.ends(&pool);
    let (Ok([tap_a_in, tap_b_in, v1_in, v2_in, x_in]), Ok([tap_a, tap_b, v1, v2, x])) =
        (<[Port; 5]>::try_from(inner), <[Port; 5]>::try_from(outer))
    else {
        unreachable!("five wires")
    };
    let ext_ports = vec![tap_a_in, v1_in, v2_in];
    let br_ports = vec![tap_b_in, x_in];

    // Extender: uplink 0, VFs 1 and 2 (vEth 0 = VM 1, VIF 10; vEth 1 =
    // VM 2, VIF 11); list 300 = both VIFs.
    let ext_tables = extender_tables(2, |_| {});
    let a = 0;
    // Bridge: extender link 0 with VIFs 10, 11 (flood list 300), port 1
    // ordinary.
    let br_tables = link_bridge_tables(
        ExtKind::VnTag,
        &[("veth10", 10), ("veth11", 11)],
        PortKind::Ordinary,
        ("eth1", 0),
        Some(300),
    );
    let learn = Arc::new(LearnTable::new(1024, 8));

    let mut eq = worker::plan(&ext_ports, 1).unwrap();
    let mut bq = worker::plan(&br_ports, 1).unwrap();
    let (ec, bc) = (RoleCounters::new(3, 4), RoleCounters::new(2, 4));
    let mut we = extender_worker(&ext_tables, &mut eq[0], &pool, &ec);
    let mut wb = bridge_worker(&br_tables, &learn, &mut bq[0], &pool, &bc);
    let mut link: Vec<Vec<u8>> = Vec::new();
    let mut pump = |link: &mut Vec<Vec<u8>>| {
        for _ in 0..3 {
            we.poll();
            we.flush();
            let up = recv(&tap_a);
            link.extend(up.iter().cloned());
            if !up.is_empty() {
                send(&pool, &tap_b, &up);
            }
            wb.poll();
            wb.flush();
            let down = recv(&tap_b);
            link.extend(down.iter().cloned());
            if !down.is_empty() {
                send(&pool, &tap_a, &down);
            }
        }
    };

    // 1. VM 1 broadcasts: one list copy comes down with l=1 src=10, the
    //    extender prunes VM 1; VM 2 and the external port get it.
    let bc1 = eth([0xff; 6], mac(1), 0x0806, 60);
    send(&pool, &v1, std::slice::from_ref(&bc1));
    pump(&mut link);
    assert_eq!(recv(&v1), Vec::<Vec<u8>>::new(), "the sender never sees it");
    assert_eq!(recv(&v2), vec![bc1.clone()]);
    assert_eq!(recv(&x), vec![bc1.clone()]);
    // 2. VM 2 answers VM 1: up with src=11, hairpin down with dst=10.
    let u21 = eth(mac(1), mac(2), 0x0800, 60);
    send(&pool, &v2, std::slice::from_ref(&u21));
    pump(&mut link);
    assert_eq!(recv(&v1), vec![u21.clone()]);
    assert_eq!((recv(&v2).len(), recv(&x).len()), (0, 0));
    // 3. External host 0x99 to VM 2.
    let x2 = eth(mac(2), mac(0x99), 0x0800, 60);
    send(&pool, &x, std::slice::from_ref(&x2));
    pump(&mut link);
    assert_eq!(recv(&v2), vec![x2.clone()]);
    // 4. VM 1 to the external host (now learned).
    let v1x = eth(mac(0x99), mac(1), 0x0800, 60);
    send(&pool, &v1, std::slice::from_ref(&v1x));
    pump(&mut link);
    assert_eq!(recv(&x), vec![v1x.clone()]);
    assert_eq!((recv(&v1).len(), recv(&v2).len()), (0, 0));

    // The link, in order: exact frames.
    let expect = vec![
        insert_at12(&bc1, &vntag(false, false, 0, false, 10)),
        insert_at12(&bc1, &vntag(true, true, 300, true, 10)),
        insert_at12(&u21, &vntag(false, false, 0, false, 11)),
        insert_at12(&u21, &vntag(true, false, 10, false, 0)),
        insert_at12(&x2, &vntag(true, false, 11, false, 0)),
        insert_at12(&v1x, &vntag(false, false, 0, false, 10)),
    ];
    assert_eq!(link, expect);
    // And as tshark decodes them.
    let dir = TempDir::new("roles-link");
    let path = dir.join("link.pcap");
    write_pcap(&path, &link);
    assert_eq!(read_pcap(&path), link);
    let out = common::pcap::tshark_fields(
        &path,
        &[
            "vntag.dir",
            "vntag.ptr",
            "vntag.dst",
            "vntag.looped",
            "vntag.src",
            "eth.src",
        ],
    );
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        vec![
            "0,0,0,0,10,02:00:00:00:00:01",
            "1,1,300,1,10,02:00:00:00:00:01",
            "0,0,0,0,11,02:00:00:00:00:02",
            "1,0,10,0,0,02:00:00:00:00:02",
            "1,0,11,0,0,02:00:00:00:00:99",
            "0,0,0,0,10,02:00:00:00:00:01",
        ],
        "tshark:\n{out}"
    );
    assert_eq!(learn.lookup(mac_u64(&mac(1)), 1), Some(0));
    assert_eq!(
        RoleCounters::sum_veth(std::slice::from_ref(&ec), a),
        [2, 120, 1, 60]
    );
    assert_eq!(
        DropReason::ALL
            .iter()
            .map(|r| ec.drop(*r).get() + bc.drop(*r).get())
            .sum::<u64>(),
        0
    );
    drop((we, wb));
    drop((eq, bq));
    assert_eq!(pool.in_use(), 0, "mbufs back to baseline");
}

/// A VEPA station on a worker lcore: VM 1's broadcast goes up unmodified;
/// when the bridge reflects it back, VM 2 gets it and VM 1 never does.
#[test]
fn vepa_station_sender_never_gets_its_own_broadcast() {
    let eal = eal();
    let pool = pool(1024);
    let wr = wires("rv", &[256; 3]);
    let (inner, outer) = wr.ends(&pool);
    let mut b = TablesBuilder::new(
        Role::Station {
            multichannel: false,
        },
        3,
    );
    b.port(0, PortKind::Uplink);
    for p in [1u16, 2] {
        let mut v = VethConfig::new(&format!("vm{p}"), p, 0);
        v.macs = vec![mac(p as u8)];
        b.veth(v);
    }
    let rcu = Rcu::new(b.build().unwrap());
    let counters = [RoleCounters::new(3, 2)];
    let stop = AtomicBool::new(false);
    let (_g, lcore) = worker_lcore();
    let tsc = Tsc::new(eal);
    let wait = |p: &Port<'_>, n: usize| {
        let t0 = Instant::now();
        let mut got = Vec::new();
        while got.len() < n && t0.elapsed() < Duration::from_secs(5) {
            got.extend(recv(p));
        }
        got
    };
    let bc = eth([0xff; 6], mac(1), 0x0806, 60);
    let (up, at2, at1) = worker::launch(
        eal,
        &inner,
        &[lcore],
        &pool,
        |_| Station::new(rcu.reader(), Kernels::detect().unwrap(), tsc.hz(), 0),
        &counters,
        &stop,
        || {
            send(&pool, &outer[1], std::slice::from_ref(&bc));
            let up = wait(&outer[0], 1);
            // The bridge relays it back (reflective relay).
            send(&pool, &outer[0], &up);
            let at2 = wait(&outer[2], 1);
            std::thread::sleep(Duration::from_millis(20));
            (up, at2, recv(&outer[1]))
        },
    )
    .expect("launch");
    assert_eq!(up, vec![bc.clone()], "unmodified to the uplink");
    assert_eq!(at2, vec![bc]);
    assert_eq!(at1, Vec::<Vec<u8>>::new(), "reflection filter");
    assert_eq!(counters[0].drop(DropReason::Reflection).get(), 0);
    drop(inner);
    drop(outer);
    assert_eq!(pool.in_use(), 0);
}

/// Queue plan for two workers: rx queue q of each port to worker q, tx
/// queue w of every port to worker w.
#[test]
fn plan_gives_each_worker_its_queues() {
    let eal = eal();
    let pool = pool(512);
    let ports: Vec<Port> = (0..2)
        .map(|_| {
            let p = Port::attach(eal, &unique("net_null_plan")).expect("net_null");
            started(p, &pool, 2)
        })
        .collect();
    let plans = worker::plan(&ports, 2).unwrap();
    assert_eq!(plans[0].rx_queues(), vec![(0, 0), (1, 0)]);
    assert_eq!(plans[1].rx_queues(), vec![(0, 1), (1, 1)]);
    assert!(
        worker::plan(&ports, 3).is_err(),
        "needs a tx queue per worker"
    );
}

/// A tx queue that cannot take the output: the rest is freed and counted
/// `tx_full` on that port, nothing leaks.
#[test]
fn full_tx_queue_frees_and_counts() {
    let eal = eal();
    let pool = pool(512);
    let small = VirtualWire::new(eal, &unique("rs"), 16).expect("wire");
    let big = VirtualWire::new(eal, &unique("rb"), 64).expect("wire");
    let (u_in, u_out) = small.ports().unwrap();
    let (v_in, v_out) = big.ports().unwrap();
    let inner = vec![started(u_in, &pool, 1), started(v_in, &pool, 1)];
    let (u_out, v_out) = (started(u_out, &pool, 1), started(v_out, &pool, 1));
    let mut b = TablesBuilder::new(
        Role::Station {
            multichannel: false,
        },
        2,
    );
    b.port(0, PortKind::Uplink);
    b.veth(VethConfig::new("vm", 1, 0));
    let rcu = Rcu::new(b.build().unwrap());
    let tsc = Tsc::new(eal);
    let mut q = worker::plan(&inner, 1).unwrap();
    let c = RoleCounters::new(2, 1);
    let mut w = Worker::new(
        Station::new(rcu.reader(), Kernels::scalar(), tsc.hz(), 0),
        &mut q[0],
        &pool,
        &c,
        tsc,
    );
    let frames: Vec<Vec<u8>> = (0..32).map(|i| eth(mac(9), mac(i), 0x0800, 60)).collect();
    send(&pool, &v_out, &frames);
    assert_eq!(w.poll(), 32);
    w.flush();
    let got = recv(&u_out);
    assert_eq!(got, frames[..15].to_vec(), "a 16-slot ring holds 15");
    assert_eq!(
        RoleCounters::sum_port(std::slice::from_ref(&c), 0),
        (0, 15, 17)
    );
    drop(w);
    drop(q);
    assert_eq!(pool.in_use(), 0);
}

/// A 1000-byte VIF-list frame reaches both VFs as replicas that share its
/// bytes (header copy + refcounted indirect mbuf); every mbuf comes back.
#[test]
fn large_multicast_shares_the_payload() {
    let pool = pool(512);
    let wr = wires("rm", &[64; 3]);
    let (inner, outer) = wr.ends(&pool);
    let rcu = extender_tables(2, |_| {});
    let mut q = worker::plan(&inner, 1).unwrap();
    let c = RoleCounters::new(3, 2);
    let mut w = extender_worker(&rcu, &mut q[0], &pool, &c);
    let big = eth([0xff; 6], mac(9), 0x0800, 1000);
    let small = eth([0xff; 6], mac(9), 0x0800, 100);
    let frames = [
        insert_at12(&big, &vntag(true, true, 300, false, 0)),
        insert_at12(&small, &vntag(true, true, 300, false, 0)),
    ];
    send(&pool, &outer[0], &frames);
    assert_eq!(w.poll(), 2);
    w.flush();
    // The original was freed; each replica holds a header mbuf and an
    // indirect one (the big frame) or one copy (the small frame).
    assert_eq!(
        pool.in_use(),
        2 * 2 + 2 + 1,
        "big replicas share one buffer"
    );
    assert_eq!(recv(&outer[1]), vec![big.clone(), small.clone()]);
    assert_eq!(recv(&outer[2]), vec![big, small]);
    assert_eq!(c.drops_nonzero(), vec![]);
    drop(w);
    drop(q);
    assert_eq!(pool.in_use(), 0);
}
