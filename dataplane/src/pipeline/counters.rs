//! Per-worker counters of a role: per port, per drop reason, per vEth.
//! One writer (the worker), plain relaxed load + store; readers sum the
//! blocks of all workers.

use crate::drop::DropReason;
use crate::fwd::{Counter, PortCounters};

/// Counters of one vEth in one worker.
#[derive(Debug)]
#[repr(align(64))]
pub struct VethCounters {
    /// Frames received from the VM (that passed the header checks).
    pub rx_pkts: Counter,
    /// Bytes of those frames.
    pub rx_bytes: Counter,
    /// Frames sent to the VM.
    pub tx_pkts: Counter,
    /// Bytes of those frames.
    pub tx_bytes: Counter,
    /// Drops of this vEth's frames by reason (both directions).
    pub drops: [Counter; DropReason::COUNT],
}

impl Default for VethCounters {
    fn default() -> Self {
        VethCounters {
            rx_pkts: Counter::default(),
            rx_bytes: Counter::default(),
            tx_pkts: Counter::default(),
            tx_bytes: Counter::default(),
            drops: std::array::from_fn(|_| Counter::default()),
        }
    }
}

impl VethCounters {
    /// Counts a received frame of `len` bytes.
    #[inline(always)]
    pub fn rx(&self, len: usize) {
        self.rx_pkts.add(1);
        self.rx_bytes.add(len as u64);
    }

    /// Counts a sent frame of `len` bytes.
    #[inline(always)]
    pub fn tx(&self, len: usize) {
        self.tx_pkts.add(1);
        self.tx_bytes.add(len as u64);
    }
}

/// One worker's counters for a role.
#[derive(Debug)]
pub struct RoleCounters {
    ports: Box<[PortCounters]>,
    drops: [Counter; DropReason::COUNT],
    /// vEths `0..n`, then one block for vEth indexes beyond (a table
    /// published with more vEths than the block was sized for).
    veths: Box<[VethCounters]>,
    /// Poll-loop iterations.
    pub loops: Counter,
    /// Gaps of at least [`crate::worker::STALL_US`] between two poll-loop
    /// iterations: the worker was not running (preempted by the kernel or
    /// the hypervisor, an interrupt storm, an SMI), so its rx rings filled
    /// without it.
    pub stalls: Counter,
    /// The longest such gap, in microseconds.
    pub longest_stall_us: Counter,
}

impl RoleCounters {
    /// A block for `ports` ports (at least one) and `veths` vEths.
    pub fn new(ports: usize, veths: usize) -> RoleCounters {
        RoleCounters {
            ports: (0..ports.max(1)).map(|_| PortCounters::default()).collect(),
            drops: std::array::from_fn(|_| Counter::default()),
            veths: (0..=veths).map(|_| VethCounters::default()).collect(),
            loops: Counter::default(),
            stalls: Counter::default(),
            longest_stall_us: Counter::default(),
        }
    }

    /// Ports covered.
    pub fn ports(&self) -> usize {
        self.ports.len()
    }

    /// vEths covered (beyond: counted together in an overflow block).
    pub fn veths(&self) -> usize {
        self.veths.len() - 1
    }

    /// Port `i` (the last port's block for an index beyond).
    #[inline(always)]
    pub fn port(&self, i: usize) -> &PortCounters {
        &self.ports[i.min(self.ports.len() - 1)]
    }

    /// Drops under `r`.
    #[inline(always)]
    pub fn drop(&self, r: DropReason) -> &Counter {
        &self.drops[r.index()]
    }

    /// vEth `v`'s block.
    #[inline(always)]
    pub fn veth(&self, v: u16) -> &VethCounters {
        &self.veths[usize::from(v).min(self.veths.len() - 1)]
    }

    /// Sum over workers of the drops under `r`.
    pub fn sum_drops(blocks: &[RoleCounters], r: DropReason) -> u64 {
        blocks.iter().map(|b| b.drop(r).get()).sum()
    }

    /// Sum over workers of vEth `v`'s (rx pkts, rx bytes, tx pkts, tx bytes).
    pub fn sum_veth(blocks: &[RoleCounters], v: u16) -> [u64; 4] {
        blocks.iter().fold([0; 4], |a, b| {
            let c = b.veth(v);
            [
                a[0] + c.rx_pkts.get(),
                a[1] + c.rx_bytes.get(),
                a[2] + c.tx_pkts.get(),
                a[3] + c.tx_bytes.get(),
            ]
        })
    }

    /// Sum over workers of vEth `v`'s drops under `r`.
    pub fn sum_veth_drops(blocks: &[RoleCounters], v: u16, r: DropReason) -> u64 {
        blocks
            .iter()
            .map(|b| b.veth(v).drops[r.index()].get())
            .sum()
    }

    /// Sum over workers of (rx, tx, tx_full) of port `i`.
    pub fn sum_port(blocks: &[RoleCounters], i: usize) -> (u64, u64, u64) {
        blocks.iter().fold((0, 0, 0), |(r, t, d), b| {
            let p = b.port(i);
            (r + p.rx.get(), t + p.tx.get(), d + p.tx_full.get())
        })
    }

    /// Every non-zero drop counter, `(name, value)` (for reports).
    pub fn drops_nonzero(&self) -> Vec<(&'static str, u64)> {
        DropReason::ALL
            .iter()
            .map(|r| (r.name(), self.drop(*r).get()))
            .filter(|(_, v)| *v != 0)
            .collect()
    }
}
