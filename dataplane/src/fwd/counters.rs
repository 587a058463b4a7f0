//! Per-worker counters: plain integers written by one worker, read by anyone.
//!
//! Each counter is an `AtomicU64` that only its worker writes, with a relaxed
//! load + store (a plain `mov` on x86_64, no locked instruction); readers sum
//! the blocks of all workers. Blocks are cache-line aligned so workers never
//! share a line.

use crate::drop::DropReason;
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with one writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n` (single writer: not a read-modify-write instruction).
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Raises the value to `v` if it is below (single writer).
    #[inline]
    pub fn max(&self, v: u64) {
        if v > self.0.load(Ordering::Relaxed) {
            self.0.store(v, Ordering::Relaxed);
        }
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters of one port in one worker.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct PortCounters {
    /// Packets received from this port.
    pub rx: Counter,
    /// Packets the port's tx queue accepted.
    pub tx: Counter,
    /// Packets dropped because the tx queue was full (freed, not sent).
    pub tx_full: Counter,
}

/// One worker's counter block.
#[derive(Debug)]
#[repr(align(64))]
pub struct WorkerCounters {
    ports: Box<[PortCounters]>,
    drops: [Counter; DropReason::COUNT],
    /// Poll-loop iterations (for idle/busy accounting).
    pub loops: Counter,
}

impl WorkerCounters {
    /// A block for `nports` ports.
    pub fn new(nports: usize) -> Self {
        WorkerCounters {
            ports: (0..nports).map(|_| PortCounters::default()).collect(),
            drops: std::array::from_fn(|_| Counter::default()),
            loops: Counter::default(),
        }
    }

    /// Number of ports covered.
    pub fn ports(&self) -> usize {
        self.ports.len()
    }

    /// Counters of port index `i`.
    #[inline(always)]
    pub fn port(&self, i: usize) -> &PortCounters {
        &self.ports[i]
    }

    /// Drops counted under `reason` by engines (not `tx_full`, which is
    /// per port).
    #[inline(always)]
    pub fn drop(&self, reason: DropReason) -> &Counter {
        &self.drops[reason as usize]
    }

    /// Sum over workers of the drops under `reason`.
    pub fn sum_drops(blocks: &[WorkerCounters], reason: DropReason) -> u64 {
        blocks.iter().map(|b| b.drop(reason).get()).sum()
    }

    /// Sum over workers of (rx, tx, tx_full) for port index `i`.
    pub fn sum_port(blocks: &[WorkerCounters], i: usize) -> (u64, u64, u64) {
        blocks.iter().fold((0, 0, 0), |(r, t, d), b| {
            let p = b.port(i);
            (r + p.rx.get(), t + p.tx.get(), d + p.tx_full.get())
        })
    }
}
