//! The poll loop that runs a forwarding role ([`Pipeline`]) on worker
//! lcores.
//!
//! N workers share the ports without locks: worker `w` polls rx queue `q`
//! of every port for the queues with `q % N == w` (RSS spreads flows over
//! the queues of a port, so one flow stays on one worker and keeps its
//! order), and owns tx queue `w` of every port. Each worker receives
//! bursts of at most [`MAX_PKT_BURST`] (or `--burst`: [`launch_burst`]),
//! buffers its output per port and transmits a buffer when it holds a
//! burst, when the oldest packet in any buffer waited
//! [`BURST_TX_DRAIN_US`], or at the end of a loop in which no rx queue
//! returned a full burst (nothing more waiting: no reason to hold packets
//! back); unsent mbufs are freed and counted `tx_full`.
//! Once per iteration the worker reports a quiescent state
//! ([`Pipeline::quiescent`]), which switches to newly published tables,
//! and compares the TSC with the previous iteration's: a gap of at least
//! [`STALL_US`] is counted as a stall ([`RoleCounters::stalls`], the
//! longest in [`RoleCounters::longest_stall_us`]), so that frames refused
//! by a full rx ring can be told from a worker that could not keep up
//! from one that was not running.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use vfex_dataplane::dpdk::{Eal, Mempool, Port, Tsc, DEFAULT_DATA_ROOM};
//! use vfex_dataplane::kernels::Kernels;
//! use vfex_dataplane::pipeline::{Extender, RoleCounters};
//! use vfex_dataplane::tables::{ExtKind, PortKind, Rcu, Role, TablesBuilder, VethConfig};
//! use vfex_dataplane::worker;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let eal = Eal::init(&["-l", "0-2", "--vdev", "net_null0", "--vdev", "net_null1"])?;
//! let pool = Mempool::new(&eal, "pool", 8191, 256, DEFAULT_DATA_ROOM, None)?;
//! // Ports configured with 2 rx (RSS) and 2 tx queues each, started.
//! let ports: Vec<Port> = Vec::new();
//! let mut b = TablesBuilder::new(Role::Extender(ExtKind::VnTag), ports.len());
//! b.port(0, PortKind::Uplink);
//! b.veth(VethConfig::new("vm1", 1, 10));
//! let rcu = Rcu::new(b.build()?);
//! let lcores = eal.worker_lcores();
//! let counters: Vec<RoleCounters> =
//!     lcores.iter().map(|_| RoleCounters::new(ports.len(), 64)).collect();
//! let stop = AtomicBool::new(false);
//! let hz = Tsc::new(&eal).hz();
//! let k = Kernels::detect()?;
//! worker::launch(&eal, &ports, &lcores, &pool, |_| Extender::new(rcu.reader(), k, hz, 0),
//!     &counters, &stop, || {
//!         // Control thread work: rcu.publish(new tables), read counters, ...
//!     })?;
//! # Ok(())
//! # }
//! ```
//!
//! Replicas (multicast, flooding) of frames up to [`SHARE_ABOVE`] bytes
//! are copies (a fresh mbuf from the worker's pool); larger ones share the
//! frame's bytes ([`SharedMbuf`]: a copied [`SHARE_HEAD`]-byte header
//! chained to a refcounted indirect mbuf). Mirror copies are always full
//! copies of single-segment frames (a chained one is counted `no_mbuf`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::dpdk::{
    Burst, Eal, Error, LcoreId, Mbuf, Mempool, Port, QueueId, Result, RxQueue, SharedMbuf, Tsc,
    TxQueue, rdtsc,
};
use crate::fwd::{BURST_TX_DRAIN_US, MAX_PKT_BURST};
use crate::pipeline::{Pipeline, RoleCounters, Sink};

/// Frames longer than this are replicated by reference ([`SharedMbuf`]):
/// each replica is a copied header chained to the shared rest.
pub const SHARE_ABOVE: u32 = 256;
/// Bytes copied into a by-reference replica's own first segment: every
/// header the roles edit or read (MACs, tags, C-tag, L3/L4 for ACLs).
pub const SHARE_HEAD: u16 = 128;

/// What one worker owns: its rx queues (with their port index) and one tx
/// queue per port.
pub struct RoleQueues<'p> {
    rx: Vec<(u16, RxQueue<'p>)>,
    tx: Vec<TxQueue<'p>>,
}

impl RoleQueues<'_> {
    /// The (port index, rx queue) pairs this worker polls.
    pub fn rx_queues(&self) -> Vec<(u16, u16)> {
        self.rx.iter().map(|(p, q)| (*p, q.queue().0)).collect()
    }
}

/// Splits the queues of `ports` over `workers` workers: rx queue `q` of a
/// port goes to worker `q % workers` (a port with fewer rx queues than
/// workers has its queues spread round-robin from worker 0); worker `w`
/// takes tx queue `w` of every port, so ports need `workers` tx queues.
pub fn plan<'p>(ports: &'p [Port<'_>], workers: usize) -> Result<Vec<RoleQueues<'p>>> {
    if workers == 0 || ports.is_empty() {
        return Err(Error::InvalidArgument(
            "a role needs ports and at least one worker".into(),
        ));
    }
    let mut plans: Vec<RoleQueues<'p>> = Vec::with_capacity(workers);
    for w in 0..workers {
        let mut tx = Vec::with_capacity(ports.len());
        for p in ports {
            tx.push(p.tx_queue(QueueId(w as u16))?);
        }
        plans.push(RoleQueues { rx: Vec::new(), tx });
    }
    let mut k = 0;
    for (i, p) in ports.iter().enumerate() {
        for q in 0..p.rx_queues() {
            plans[k % workers]
                .rx
                .push((i as u16, p.rx_queue(QueueId(q))?));
            k += 1;
        }
    }
    Ok(plans)
}

/// The sink of one worker: per-port tx buffers over its tx queues.
struct MbufSink<'a, 'p, 'm> {
    tx: &'a mut [TxQueue<'p>],
    bufs: &'a mut [Burst<MAX_PKT_BURST>],
    pool: &'a Mempool<'m>,
    c: &'a RoleCounters,
    /// TSC when a buffer went from empty to holding packets, 0 = all
    /// buffers empty.
    since: &'a mut u64,
    /// A buffer is transmitted when it holds this many (`--burst`).
    burst: usize,
}

/// Transmits `buf` on `txq`; frees and counts what the queue did not take.
#[inline(always)]
fn flush(buf: &mut Burst<MAX_PKT_BURST>, txq: &mut TxQueue<'_>, c: &RoleCounters, p: usize) {
    if buf.is_empty() {
        return;
    }
    let sent = txq.tx_burst(buf);
    let pc = c.port(p);
    pc.tx.add(sent as u64);
    if !buf.is_empty() {
        pc.tx_full.add(buf.len() as u64);
        buf.clear();
    }
}

impl Sink<Mbuf> for MbufSink<'_, '_, '_> {
    #[inline(always)]
    fn send(&mut self, port: u16, b: Mbuf) {
        let p = usize::from(port);
        let (Some(buf), Some(txq)) = (self.bufs.get_mut(p), self.tx.get_mut(p)) else {
            self.c.drop(crate::drop::DropReason::WrongPort).add(1);
            return;
        };
        if *self.since == 0 {
            *self.since = rdtsc().max(1);
        }
        if let Err(b) = buf.push(b) {
            drop(b);
        }
        if buf.len() >= self.burst {
            flush(buf, txq, self.c, p);
        }
    }

    #[inline]
    fn copy(&mut self, b: &Mbuf) -> Option<Mbuf> {
        if !b.is_contiguous() {
            return None;
        }
        let mut m = self.pool.alloc()?;
        m.set_data(b.data()).ok()?;
        Some(m)
    }

    type Shared = SharedMbuf;

    #[inline]
    fn share(&mut self, b: Mbuf) -> std::result::Result<SharedMbuf, Mbuf> {
        if b.pkt_len() > SHARE_ABOVE {
            Ok(b.into_shared())
        } else {
            Err(b)
        }
    }

    #[inline]
    fn replica(&mut self, s: &SharedMbuf) -> Option<Mbuf> {
        s.replica(self.pool, SHARE_HEAD)
    }
}

/// A gap between two poll-loop iterations that counts as a stall, in
/// microseconds (an iteration takes a few microseconds at most).
pub const STALL_US: u64 = 1000;

/// One worker: a pipeline, its queues, its tx buffers. [`run`] loops on
/// [`Worker::poll`]; tests may step it themselves.
pub struct Worker<'a, 'p, 'm, P> {
    pipe: P,
    q: &'a mut RoleQueues<'p>,
    bufs: Vec<Burst<MAX_PKT_BURST>>,
    rx: Burst<MAX_PKT_BURST>,
    pool: &'a Mempool<'m>,
    c: &'a RoleCounters,
    since: u64,
    drain: u64,
    burst: usize,
    /// TSC of the previous iteration (0: none yet).
    last: u64,
    /// [`STALL_US`] in TSC ticks.
    stall: u64,
    tsc: Tsc,
}

impl<'a, 'p, 'm, P: Pipeline<Mbuf>> Worker<'a, 'p, 'm, P> {
    /// A worker running `pipe` over `q`; replicas come from `pool`.
    pub fn new(
        pipe: P,
        q: &'a mut RoleQueues<'p>,
        pool: &'a Mempool<'m>,
        c: &'a RoleCounters,
        tsc: Tsc,
    ) -> Self {
        Worker {
            pipe,
            bufs: q.tx.iter().map(|_| Burst::new()).collect(),
            q,
            rx: Burst::new(),
            pool,
            c,
            since: 0,
            drain: tsc.us_to_ticks(BURST_TX_DRAIN_US),
            burst: MAX_PKT_BURST,
            last: 0,
            stall: tsc.us_to_ticks(STALL_US),
            tsc,
        }
    }

    /// Receives at most `burst` packets per rx burst and transmits a tx
    /// buffer when it holds `burst` (`--burst`; clamped to
    /// 1..=[`MAX_PKT_BURST`], the default).
    pub fn with_burst(mut self, burst: usize) -> Self {
        self.burst = burst.clamp(1, MAX_PKT_BURST);
        self
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &P {
        &self.pipe
    }

    /// One loop iteration: quiescent state, drain timer, one rx burst per
    /// queue through the pipeline. Returns the packets received.
    #[inline]
    pub fn poll(&mut self) -> usize {
        let now = rdtsc();
        if self.last != 0 && now.wrapping_sub(self.last) >= self.stall {
            self.stalled(now.wrapping_sub(self.last));
        }
        self.last = now;
        self.pipe.quiescent(now);
        if self.since != 0 && now.wrapping_sub(self.since) > self.drain {
            self.flush();
        }
        let mut total = 0;
        let mut sink = MbufSink {
            tx: &mut self.q.tx,
            bufs: &mut self.bufs,
            pool: self.pool,
            c: self.c,
            since: &mut self.since,
            burst: self.burst,
        };
        let mut saturated = false;
        for (port, rxq) in self.q.rx.iter_mut() {
            let n = rxq.rx_burst_max(&mut self.rx, self.burst);
            if n == 0 {
                continue;
            }
            saturated |= n == self.burst;
            total += n;
            self.c.port(usize::from(*port)).rx.add(n as u64);
            self.pipe
                .process(*port, &mut self.rx, &mut sink, now, self.c);
            self.rx.clear();
        }
        // No queue had a full burst: nothing more is waiting, so send what
        // is buffered now rather than at the drain timer (latency).
        if self.since != 0 && !saturated {
            self.flush();
        }
        self.c.loops.add(1);
        total
    }

    /// Counts a gap of `ticks` between two iterations.
    #[cold]
    #[inline(never)]
    fn stalled(&self, ticks: u64) {
        self.c.stalls.add(1);
        self.c.longest_stall_us.max(self.tsc.ticks_to_us(ticks));
    }

    /// Transmits every tx buffer now.
    pub fn flush(&mut self) {
        for (p, (b, q)) in self.bufs.iter_mut().zip(self.q.tx.iter_mut()).enumerate() {
            flush(b, q, self.c, p);
        }
        self.since = 0;
    }
}

/// Runs `pipe` over the queues of `q` until `stop` is set, then flushes.
/// `pool` provides the mbufs of replicas.
pub fn run<P: Pipeline<Mbuf>>(
    pipe: P,
    q: &mut RoleQueues<'_>,
    pool: &Mempool<'_>,
    c: &RoleCounters,
    stop: &AtomicBool,
    tsc: Tsc,
) {
    run_burst(pipe, q, pool, c, stop, tsc, MAX_PKT_BURST);
}

/// [`run`] with at most `burst` packets per rx burst and per tx flush
/// ([`Worker::with_burst`]).
pub fn run_burst<P: Pipeline<Mbuf>>(
    pipe: P,
    q: &mut RoleQueues<'_>,
    pool: &Mempool<'_>,
    c: &RoleCounters,
    stop: &AtomicBool,
    tsc: Tsc,
    burst: usize,
) {
    let mut w = Worker::new(pipe, q, pool, c, tsc).with_burst(burst);
    while !stop.load(Ordering::Relaxed) {
        w.poll();
    }
    w.flush();
}

/// Launches one worker per entry of `lcores`, each with the pipeline
/// `make(worker index)` and counter block `counters[w]`, over `ports`;
/// runs `monitor` on the calling lcore, then stops and joins the workers.
/// Bursts of [`MAX_PKT_BURST`]: [`launch_burst`] takes the size.
#[allow(clippy::too_many_arguments)] // each is a separate resource of the run
pub fn launch<P, T>(
    eal: &Eal,
    ports: &[Port<'_>],
    lcores: &[LcoreId],
    pool: &Mempool<'_>,
    make: impl Fn(usize) -> P,
    counters: &[RoleCounters],
    stop: &AtomicBool,
    monitor: impl FnOnce() -> T,
) -> Result<T>
where
    P: Pipeline<Mbuf>,
{
    launch_burst(
        eal,
        ports,
        lcores,
        pool,
        MAX_PKT_BURST,
        make,
        counters,
        stop,
        monitor,
    )
}

/// [`launch`] with at most `burst` packets per rx burst and per tx flush
/// (1..=[`MAX_PKT_BURST`], `--burst`).
#[allow(clippy::too_many_arguments)] // each is a separate resource of the run
pub fn launch_burst<P, T>(
    eal: &Eal,
    ports: &[Port<'_>],
    lcores: &[LcoreId],
    pool: &Mempool<'_>,
    burst: usize,
    make: impl Fn(usize) -> P,
    counters: &[RoleCounters],
    stop: &AtomicBool,
    monitor: impl FnOnce() -> T,
) -> Result<T>
where
    P: Pipeline<Mbuf>,
{
    if !(1..=MAX_PKT_BURST).contains(&burst) {
        return Err(Error::InvalidArgument(format!(
            "burst {burst}: expected 1 to {MAX_PKT_BURST}"
        )));
    }
    if counters.len() < lcores.len() {
        return Err(Error::InvalidArgument(
            "one counter block per worker is needed".into(),
        ));
    }
    let mut plans = plan(ports, lcores.len())?;
    let tsc = Tsc::new(eal);
    eal.scope(|s| {
        let mut handles = Vec::with_capacity(lcores.len());
        for (w, ((q, &lc), c)) in plans.iter_mut().zip(lcores).zip(counters).enumerate() {
            let pipe = make(w);
            match s.launch(lc, move || run_burst(pipe, q, pool, c, stop, tsc, burst)) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        let out = monitor();
        stop.store(true, Ordering::Relaxed);
        let mut first = None;
        for h in handles {
            if let Err(e) = h.join() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(out), Err)
    })
}
