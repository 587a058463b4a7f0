//! The poll loop that runs a forwarding role ([`Pipeline`]) on worker
//! lcores.
//!
//! N workers share the ports without locks: worker `w` polls rx queue `q`
//! of every port for the queues with `q % N == w` (RSS spreads flows over
//! the queues of a port, so one flow stays on one worker and keeps its
//! order), and owns tx queue `w` of every port. Each worker buffers its
//! output per port ([`MAX_PKT_BURST`]) and transmits a buffer when it is
//! full or when the oldest packet in any buffer waited
//! [`BURST_TX_DRAIN_US`]; unsent mbufs are freed and counted `tx_full`.
//! Once per iteration the worker reports a quiescent state
//! ([`Pipeline::quiescent`]), which switches to newly published tables.
//!
//! Replicas (multicast, flooding, mirroring) are copies: a fresh mbuf from
//! the worker's pool and a copy of the frame (single-segment frames; a
//! chained one cannot be replicated and is counted `no_mbuf`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::dpdk::{
    Burst, Eal, Error, LcoreId, Mbuf, Mempool, Port, QueueId, Result, RxQueue, Tsc, TxQueue, rdtsc,
};
use crate::fwd::{BURST_TX_DRAIN_US, MAX_PKT_BURST};
use crate::pipeline::{Pipeline, RoleCounters, Sink};

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
    /// TSC when a buffer last went from empty to holding packets, 0 = all
    /// buffers empty.
    since: u64,
}

impl MbufSink<'_, '_, '_> {
    #[inline(always)]
    fn flush(&mut self, p: usize) {
        let (buf, txq) = (&mut self.bufs[p], &mut self.tx[p]);
        if buf.is_empty() {
            return;
        }
        let sent = txq.tx_burst(buf);
        let pc = self.c.port(p);
        pc.tx.add(sent as u64);
        if !buf.is_empty() {
            pc.tx_full.add(buf.len() as u64);
            buf.clear();
        }
    }

    fn flush_all(&mut self) {
        for p in 0..self.bufs.len() {
            self.flush(p);
        }
        self.since = 0;
    }
}

impl Sink<Mbuf> for MbufSink<'_, '_, '_> {
    #[inline(always)]
    fn send(&mut self, port: u16, b: Mbuf) {
        let p = usize::from(port);
        let Some(buf) = self.bufs.get_mut(p) else {
            self.c.drop(crate::drop::DropReason::WrongPort).add(1);
            return;
        };
        if self.since == 0 {
            self.since = rdtsc().max(1);
        }
        if let Err(b) = buf.push(b) {
            drop(b);
        }
        if buf.is_full() {
            self.flush(p);
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
}

/// Runs `pipe` over the queues of `q` until `stop` is set, then flushes.
/// `pool` provides the mbufs of replicas.
pub fn run<P: Pipeline<Mbuf>>(
    mut pipe: P,
    q: &mut RoleQueues<'_>,
    pool: &Mempool<'_>,
    c: &RoleCounters,
    stop: &AtomicBool,
    tsc: Tsc,
) {
    let drain = tsc.us_to_ticks(BURST_TX_DRAIN_US);
    let mut bufs: Vec<Burst<MAX_PKT_BURST>> = q.tx.iter().map(|_| Burst::new()).collect();
    let mut rx: Burst<MAX_PKT_BURST> = Burst::new();
    let mut sink = MbufSink {
        tx: &mut q.tx,
        bufs: &mut bufs,
        pool,
        c,
        since: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        let now = rdtsc();
        pipe.quiescent(now);
        if sink.since != 0 && now.wrapping_sub(sink.since) > drain {
            sink.flush_all();
        }
        for (port, rxq) in q.rx.iter_mut() {
            let n = rxq.rx_burst(&mut rx);
            if n == 0 {
                continue;
            }
            c.port(usize::from(*port)).rx.add(n as u64);
            pipe.process(*port, &mut rx, &mut sink, now, c);
            rx.clear();
        }
        c.loops.add(1);
    }
    sink.flush_all();
}

/// Launches one worker per entry of `lcores`, each with the pipeline
/// `make(worker index)` and counter block `counters[w]`, over `ports`;
/// runs `monitor` on the calling lcore, then stops and joins the workers.
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
            match s.launch(lc, move || run(pipe, q, pool, c, stop, tsc)) {
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
