//! Shared set-up for DPDK tests: one EAL per test binary (EAL can start only
//! once per process), virtual devices with unique names, a lock for the one
//! worker lcore, ring wires and their test ends, workers stepped by hand,
//! frame and table fixtures, pcap helpers.
#![allow(dead_code)]

pub mod fixtures;
pub mod pcap;
// (Not every test binary uses the fixtures.)
#[allow(unused_imports)]
pub use fixtures::*;
#[allow(unused_imports)]
pub use pcap::{TempDir, read_pcap, write_pcap};

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use vfex_dataplane::dpdk::{
    Burst, Eal, LcoreId, Mbuf, Mempool, Port, PortConfig, QueueId, Tsc, VirtualWire,
};
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{Bridge, Extender, Pipeline, RoleCounters};
use vfex_dataplane::tables::{LearnTable, Rcu, Tables};
use vfex_dataplane::worker::{RoleQueues, Worker};

static EAL: OnceLock<Eal> = OnceLock::new();
static LCORE: Mutex<()> = Mutex::new(());
static SEQ: AtomicU32 = AtomicU32::new(0);

/// The EAL of this test binary: no hugepages, no PCI, lcores 0 and 1,
/// a file prefix of its own, no shared config files.
pub fn eal() -> &'static Eal {
    EAL.get_or_init(|| {
        // One fixed prefix: with --no-shconf several test processes can share
        // it, and at most one (empty) runtime directory ever exists.
        let prefix = "vfex-test";
        let eal = Eal::init(&[
            "-l",
            "0,1",
            "--no-huge",
            "-m",
            "512",
            "--no-pci",
            "--no-shconf",
            "--file-prefix",
            prefix,
            "--log-level",
            "lib.eal:error",
        ])
        .expect("EAL init (run scripts/setup.sh if DPDK is missing)");
        // With --no-shconf EAL creates its runtime directory but puts nothing
        // in it; remove it now so that test runs leave nothing behind.
        std::fs::remove_dir(format!("/var/run/dpdk/{prefix}")).ok();
        eal
    })
}

/// A name unique in this process.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A small mempool of its own for one test.
pub fn pool(n: u32) -> Mempool<'static> {
    Mempool::new(
        eal(),
        &unique("tp"),
        n,
        0,
        vfex_dataplane::dpdk::DEFAULT_DATA_ROOM,
        None,
    )
    .expect("mempool")
}

/// Exclusive use of the worker lcore (tests run in parallel threads).
pub fn worker_lcore() -> (MutexGuard<'static, ()>, LcoreId) {
    let g = LCORE.lock().unwrap_or_else(|e| e.into_inner());
    let w = eal().worker_lcores();
    assert!(!w.is_empty(), "tests need a worker lcore (-l 0,1)");
    (g, w[0])
}

/// A test frame: dst, src, EtherType 0x88b5 (local experimental), `len`
/// bytes in all, payload bytes derived from `seq`.
pub fn frame(seq: u32, len: usize) -> Vec<u8> {
    assert!(len >= 18);
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[18..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_add(seq) as u8;
    }
    f
}

/// `p` configured with `queues` rx and tx queues of 256 descriptors each,
/// and started.
pub fn started<'a>(mut p: Port<'a>, pool: &'a Mempool<'_>, queues: u16) -> Port<'a> {
    p.configure(
        pool,
        &PortConfig {
            rx_queues: queues,
            tx_queues: queues,
            rx_desc: 256,
            tx_desc: 256,
            ..PortConfig::default()
        },
    )
    .expect("configure");
    p.start().expect("start");
    p
}

/// Ring wires (net_ring pairs), one a size: the role's ends (port index
/// i = wire i) and the test's ends. A wire of size n holds n - 1 frames.
pub struct Wires {
    wires: Vec<VirtualWire<'static>>,
}

/// `sizes.len()` ring wires named `prefix` and a number unique in this
/// process.
pub fn wires(prefix: &str, sizes: &[u32]) -> Wires {
    Wires {
        wires: sizes
            .iter()
            .map(|n| VirtualWire::new(eal(), &unique(prefix), *n).expect("wire"))
            .collect(),
    }
}

impl Wires {
    /// Both ends of every wire, started with one queue: (the role's, the
    /// test's).
    pub fn ends<'a>(&'a self, pool: &'a Mempool<'_>) -> (Vec<Port<'a>>, Vec<Port<'a>>) {
        let mut inner = Vec::new();
        let mut outer = Vec::new();
        for w in &self.wires {
            let (a, b) = w.ports().expect("ports");
            inner.push(started(a, pool, 1));
            outer.push(started(b, pool, 1));
        }
        (inner, outer)
    }
}

/// Sends `mbufs` out of `port` (the test's end of a wire); all must fit.
pub fn send_mbufs(port: &Port<'_>, mbufs: Vec<Mbuf>) {
    let mut q = port.tx_queue(QueueId(0)).expect("txq");
    let mut b: Burst<32> = Burst::new();
    for m in mbufs {
        b.push(m).expect("room");
        if b.len() == 32 {
            assert_eq!(q.tx_burst(&mut b), 32, "the wire takes every frame");
        }
    }
    let n = b.len();
    assert_eq!(q.tx_burst(&mut b), n, "the wire takes every frame");
}

/// An mbuf from `pool` holding `frame`.
pub fn mbuf(pool: &Mempool<'_>, frame: &[u8]) -> Mbuf {
    let mut m = pool.alloc().expect("alloc");
    m.set_data(frame).expect("set_data");
    m
}

/// Sends `frames` out of `port`, each in a fresh single-segment mbuf.
pub fn send(pool: &Mempool<'_>, port: &Port<'_>, frames: &[Vec<u8>]) {
    send_mbufs(port, frames.iter().map(|f| mbuf(pool, f)).collect());
}

/// Everything waiting on `port`, every segment gathered.
pub fn recv(port: &Port<'_>) -> Vec<Vec<u8>> {
    let mut q = port.rx_queue(QueueId(0)).expect("rxq");
    let mut out = Vec::new();
    loop {
        let mut b: Burst<32> = Burst::new();
        if q.rx_burst(&mut b) == 0 {
            return out;
        }
        out.extend(b.as_slice().iter().map(|m| m.to_vec()));
    }
}

/// A worker for a test to step by hand (`poll`, `flush`) over `q`, its
/// replicas from `pool`, counting into `c`; `pipe` builds its pipeline
/// from the TSC's rate (ticks per second).
pub fn worker_with<'a, 'p, 'm, P: Pipeline<Mbuf>>(
    q: &'a mut RoleQueues<'p>,
    pool: &'a Mempool<'m>,
    c: &'a RoleCounters,
    pipe: impl FnOnce(u64) -> P,
) -> Worker<'a, 'p, 'm, P> {
    let tsc = Tsc::new(eal());
    Worker::new(pipe(tsc.hz()), q, pool, c, tsc)
}

/// [`worker_with`] an extender on `tables`, with the best kernels.
pub fn extender_worker<'a, 'p, 'm>(
    tables: &Arc<Rcu<Tables>>,
    q: &'a mut RoleQueues<'p>,
    pool: &'a Mempool<'m>,
    c: &'a RoleCounters,
) -> Worker<'a, 'p, 'm, Extender> {
    worker_with(q, pool, c, |hz| {
        Extender::new(tables.reader(), Kernels::detect().unwrap(), hz, 0)
    })
}

/// [`worker_with`] a bridge on `tables` learning into `learn`, with the
/// best kernels.
pub fn bridge_worker<'a, 'p, 'm>(
    tables: &Arc<Rcu<Tables>>,
    learn: &Arc<LearnTable>,
    q: &'a mut RoleQueues<'p>,
    pool: &'a Mempool<'m>,
    c: &'a RoleCounters,
) -> Worker<'a, 'p, 'm, Bridge> {
    worker_with(q, pool, c, |hz| {
        Bridge::new(
            tables.reader(),
            learn.clone(),
            Kernels::detect().unwrap(),
            hz,
            0,
        )
    })
}
