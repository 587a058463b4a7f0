//! Two workers running one port extender over two-queue ring wires: each
//! worker owns rx queue q and tx queue q of every port (no locks), flows
//! keep their order, counters sum over workers, and a table published
//! while they run takes effect once both reported a quiescent state.
//!
//! Its own EAL (this binary only): lcores 1 and 2 are workers; on a
//! 2-CPU machine they share CPU 1 (`--lcores 0@0,1@1,2@1`).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use vfex_dataplane::dpdk::{
    Burst, DEFAULT_DATA_ROOM, Eal, LcoreId, Mempool, Port, PortConfig, QueueId, Tsc, VirtualWire,
};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{Extender, RoleCounters};
use vfex_dataplane::tables::*;
use vfex_dataplane::worker;

fn eal() -> Eal {
    let prefix = "vfex-test-workers";
    let eal = Eal::init(&[
        "--lcores",
        "0@0,1@1,2@1",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        "--file-prefix",
        prefix,
        "--log-level",
        "lib.eal:error",
    ])
    .expect("EAL init (run scripts/setup.sh if DPDK is missing)");
    std::fs::remove_dir(format!("/var/run/dpdk/{prefix}")).ok();
    eal
}

fn started<'a>(mut p: Port<'a>, pool: &'a Mempool<'_>) -> Port<'a> {
    p.configure(
        pool,
        &PortConfig {
            rx_queues: 2,
            tx_queues: 2,
            rx_desc: 256,
            tx_desc: 256,
            ..PortConfig::default()
        },
    )
    .expect("configure");
    p.start().expect("start");
    p
}

/// Frame `seq` of flow `flow` from MAC 1 (60 bytes, the numbers in the
/// payload).
fn frame(flow: u8, seq: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, flow];
    f.extend_from_slice(&seq.to_be_bytes());
    f.resize(60, 0);
    f
}

fn send(pool: &Mempool<'_>, port: &Port<'_>, q: u16, frames: &[Vec<u8>]) {
    let mut txq = port.tx_queue(QueueId(q)).expect("txq");
    for chunk in frames.chunks(32) {
        let mut b: Burst<32> = Burst::new();
        for f in chunk {
            let mut m = pool.alloc().expect("alloc");
            m.set_data(f).expect("set_data");
            b.push(m).expect("room");
        }
        let t0 = Instant::now();
        while !b.is_empty() && t0.elapsed() < Duration::from_secs(5) {
            txq.tx_burst(&mut b);
        }
        assert!(b.is_empty(), "the worker does not drain its rx ring");
    }
}

/// Receives from both queues of `port` until `n` frames arrived.
fn recv(port: &Port<'_>, n: usize) -> [Vec<Vec<u8>>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    let mut qs = [
        port.rx_queue(QueueId(0)).expect("rxq"),
        port.rx_queue(QueueId(1)).expect("rxq"),
    ];
    let t0 = Instant::now();
    while out[0].len() + out[1].len() < n && t0.elapsed() < Duration::from_secs(5) {
        for (q, o) in qs.iter_mut().zip(out.iter_mut()) {
            let mut b: Burst<32> = Burst::new();
            q.rx_burst(&mut b);
            o.extend(b.as_slice().iter().map(|m| m.to_vec()));
        }
    }
    out
}

fn tables(up: bool) -> Tables {
    let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), 2);
    b.port(0, PortKind::Uplink);
    let mut v = VethConfig::new("vm1", 1, 10);
    v.rules.admin_up = up;
    b.veth(v);
    b.build().unwrap()
}

#[test]
fn two_workers_keep_flow_order_and_switch_tables() {
    let eal = eal();
    let lcores: Vec<LcoreId> = eal.worker_lcores();
    assert!(lcores.len() >= 2, "needs two worker lcores: {lcores:?}");
    let lcores = &lcores[..2];
    let pool = Mempool::new(&eal, "rw_pool", 4096, 0, DEFAULT_DATA_ROOM, None).expect("pool");
    let uw = VirtualWire::with_queues(&eal, "rw_up", 1024, 2).expect("wire");
    let vw = VirtualWire::with_queues(&eal, "rw_vf", 1024, 2).expect("wire");
    let (ua, ub) = uw.ports().unwrap();
    let (va, vb) = vw.ports().unwrap();
    let inner = vec![started(ua, &pool), started(va, &pool)];
    let (up, vf) = (started(ub, &pool), started(vb, &pool));
    let rcu = Rcu::new(tables(true));
    let counters = [RoleCounters::new(2, 1), RoleCounters::new(2, 1)];
    let stop = AtomicBool::new(false);
    let tsc = Tsc::new(&eal);
    const N: u16 = 500;
    let flows: [Vec<Vec<u8>>; 2] = [
        (0..N).map(|s| frame(0, s)).collect(),
        (0..N).map(|s| frame(1, s)).collect(),
    ];
    let (got, after) = worker::launch(
        &eal,
        &inner,
        lcores,
        &pool,
        |_| Extender::new(rcu.reader(), Kernels::detect().unwrap(), tsc.hz(), 0),
        &counters,
        &stop,
        || {
            // "RSS": flow 0 on queue 0 (worker 0), flow 1 on queue 1.
            send(&pool, &vf, 0, &flows[0]);
            send(&pool, &vf, 1, &flows[1]);
            let got = recv(&up, 2 * usize::from(N));
            // Take the vEth down while the workers run.
            let old = rcu.publish(tables(false));
            assert!(
                Rcu::synchronize(&old, Duration::from_secs(5)),
                "both workers reported a quiescent state"
            );
            send(&pool, &vf, 1, &flows[1][..10]);
            std::thread::sleep(Duration::from_millis(50));
            (got, recv(&up, 0))
        },
    )
    .expect("launch");
    let tag = [0x89, 0x26, 0, 0, 0, 10];
    for q in 0..2 {
        let want: Vec<Vec<u8>> = flows[q]
            .iter()
            .map(|f| [&f[..12], &tag[..], &f[12..]].concat())
            .collect();
        assert_eq!(
            got[q], want,
            "flow {q}: all frames, tagged, in order, on tx queue {q}"
        );
    }
    assert_eq!(after[0].len() + after[1].len(), 0);
    let rx: u64 = (0..2).map(|w| counters[w].port(1).rx.get()).sum();
    assert_eq!(rx, 2 * u64::from(N) + 10);
    assert_eq!(
        RoleCounters::sum_veth(&counters, 0),
        [2 * u64::from(N), 2 * u64::from(N) * 60, 0, 0]
    );
    assert_eq!(
        RoleCounters::sum_drops(&counters, DropReason::AdminDown),
        10
    );
    assert_eq!(
        counters[1].drop(DropReason::AdminDown).get(),
        10,
        "worker 1 owns queue 1"
    );
    drop(inner);
    drop((up, vf));
    assert_eq!(pool.in_use(), 0);
}
