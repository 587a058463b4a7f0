//! `--gen-rate`: vfex as a traffic generator and latency meter, for the
//! benchmark harness (vfex-perf's `latency` and `rfc2544` scenarios).
//!
//! Sends frames on port 0 at a fixed rate, each stamped near its end with a
//! magic number, a sequence number and the TSC at transmission; receives on
//! port 1 (port 0's receptions are freed) and records `TSC now - stamp` in a
//! log-linear histogram (relative error < 1 %). The device under test runs in
//! another process between the two ports (e.g. through net_memif), so the TSC
//! is the same clock on both ends. Runs on the main lcore; needs no worker.
//!
//! Output (stdout), for the harness: one `gen: ...` summary line and one
//! `gen-hist LOW COUNT` line per non-empty histogram bucket (LOW: the
//! bucket's lowest value in TSC cycles).

use crate::options::Options;
use crate::run::RunError;
use anyhow::anyhow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vfex_dataplane::dpdk::{self, Burst, Mempool, Port, QueueId};
use vfex_dataplane::fwd::MAX_PKT_BURST;

/// Marks a stamped frame.
const MAGIC: u16 = 0x5646;
/// Bytes of the stamp at the end of each frame: magic, sequence, TSC.
const STAMP_LEN: usize = 2 + 4 + 8;
/// Sub-buckets per power of two (2^7 = 128: under 1 % relative error).
const SUB_BITS: u32 = 7;

/// A log-linear histogram of TSC cycles: O(1) record, no allocation after
/// creation.
pub struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram covering all of u64.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; (64 << SUB_BITS) + (1 << SUB_BITS)],
        }
    }

    fn index(v: u64) -> usize {
        let bits = 64 - v.leading_zeros();
        if bits <= SUB_BITS {
            v as usize
        } else {
            let shift = bits - SUB_BITS;
            ((shift as usize) << SUB_BITS) + (v >> shift) as usize
        }
    }

    fn low(i: usize) -> u64 {
        let (shift, m) = (i >> SUB_BITS, (i & ((1 << SUB_BITS) - 1)) as u64);
        if shift == 0 { m } else { m << shift }
    }

    /// Counts `v`.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
    }

    /// (lowest value, count) of each non-empty bucket, in value order.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (Self::low(i), *c))
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the stamp at the end of `d`: (sequence, TSC).
pub fn read_stamp(d: &[u8]) -> Option<(u32, u64)> {
    let s = d.get(d.len().checked_sub(STAMP_LEN)?..)?;
    if u16::from_be_bytes([s[0], s[1]]) != MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&s[6..14]);
    Some((seq, u64::from_le_bytes(t)))
}

/// Writes the stamp at the end of `d`.
pub fn write_stamp(d: &mut [u8], seq: u32, tsc: u64) {
    let n = d.len();
    let s = &mut d[n - STAMP_LEN..];
    s[0..2].copy_from_slice(&MAGIC.to_be_bytes());
    s[2..6].copy_from_slice(&seq.to_be_bytes());
    s[6..14].copy_from_slice(&tsc.to_le_bytes());
}

/// Runs the generator until `--duration` (plus a drain until the frames
/// stop coming, at most 2 s) or a signal.
pub fn run(
    pool: &Mempool<'_>,
    ports: &[Port<'_>],
    opts: &Options,
    rate: f64,
    frame: &[u8],
    stop: &AtomicBool,
) -> Result<(), RunError> {
    if ports.len() < 2 {
        return Err(RunError::Usage(anyhow!(
            "--gen-rate needs two ports: it sends on port 0 and receives on port 1"
        )));
    }
    // Links of net_memif come up once the peer connected.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline
        && !ports.iter().all(|p| p.link().is_ok_and(|l| l.up))
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let hz = dpdk::tsc_hz();
    let duration = opts
        .duration
        .ok_or_else(|| RunError::Usage(anyhow!("--gen-rate needs a --duration")))?;
    let warm = (opts.gen_warmup.as_secs_f64() * hz as f64) as u64;
    let total = (duration.as_secs_f64() * hz as f64) as u64;
    let drain = hz / 5;
    let mut txq = ports[0].tx_queue(QueueId(0))?;
    let mut rx1 = ports[1].rx_queue(QueueId(0))?;
    let mut rx0 = ports[0].rx_queue(QueueId(0))?;
    let mut hist = Histogram::new();
    let (mut sent, mut tx_failed, mut received, mut foreign) = (0u64, 0u64, 0u64, 0u64);
    let (mut first_measured, mut measured_sent, mut measured_received) = (None::<u32>, 0u64, 0u64);
    let mut measured_attempted = 0u64;
    let t0 = dpdk::rdtsc();
    let mut attempted = 0u64;
    // Frames that fell behind the schedule (the generator was off its CPU)
    // are caught up at no more than CATCH_UP x the rate, from a credit of
    // at most one burst: a stall does not turn into a burst at the speed of
    // the memory (which would measure the generator's scheduling, not the
    // device under test). 1.05: the offered rate stays within 5 % of the
    // nominal one (at 90 % of a zero-loss rate, 94.5 % of it at most), and
    // a generator that waits for its CPU 2-3 % of the time (measured in the
    // soak on 2 CPUs) still repays its debt.
    const CATCH_UP: f64 = 1.05;
    let per_tsc = rate * CATCH_UP / hz as f64;
    let (mut credit, mut credit_at) = (MAX_PKT_BURST as f64, t0);
    let mut last_rx = t0;
    loop {
        let now = dpdk::rdtsc();
        let el = now.wrapping_sub(t0);
        // After the duration: receive until nothing came for `drain`
        // (0.2 s), at most 2 s, so that frames still in the rings when the
        // device under test was late are counted, not lost.
        if (el >= total && now.wrapping_sub(last_rx.max(t0 + total)) >= drain)
            || el >= total + 10 * drain
            || stop.load(Ordering::Relaxed)
        {
            break;
        }
        if el < total {
            let due = ((el as f64) * rate / hz as f64) as u64;
            credit =
                (credit + now.wrapping_sub(credit_at) as f64 * per_tsc).min(MAX_PKT_BURST as f64);
            credit_at = now;
            let n = due
                .saturating_sub(attempted)
                .min(credit as u64)
                .min(MAX_PKT_BURST as u64) as usize;
            if n > 0 {
                credit -= n as f64;
                let mut b: Burst<MAX_PKT_BURST> = Burst::new();
                if pool.alloc_bulk(&mut b, n) {
                    let stamp = dpdk::rdtsc();
                    for (k, m) in b.as_mut_slice().iter_mut().enumerate() {
                        let seq = (attempted + k as u64) as u32;
                        if m.set_data(frame).is_ok() {
                            write_stamp(m.data_mut(), seq, stamp);
                        }
                    }
                    if el >= warm && first_measured.is_none() {
                        first_measured = Some(attempted as u32);
                    }
                    let ok = txq.tx_burst(&mut b) as u64;
                    sent += ok;
                    tx_failed += n as u64 - ok;
                    if first_measured.is_some() {
                        measured_sent += ok;
                        measured_attempted += n as u64;
                    }
                    attempted += n as u64;
                }
            }
        }
        let mut b: Burst<MAX_PKT_BURST> = Burst::new();
        if rx1.rx_burst(&mut b) > 0 {
            let now = dpdk::rdtsc();
            last_rx = now;
            for m in b.as_slice() {
                match read_stamp(m.data()) {
                    Some((seq, t)) => {
                        received += 1;
                        if first_measured.is_some_and(|f| seq >= f) {
                            measured_received += 1;
                            hist.record(now.wrapping_sub(t));
                        }
                    }
                    None => foreign += 1,
                }
            }
        }
        drop(b);
        let mut b: Burst<MAX_PKT_BURST> = Burst::new();
        if rx0.rx_burst(&mut b) > 0 {
            foreign += b.len() as u64;
        }
    }
    let secs = (dpdk::rdtsc().wrapping_sub(t0)) as f64 / hz as f64;
    println!(
        "gen: tsc-hz {hz} rate {rate:.0} sent {sent} tx-failed {tx_failed} received {received} foreign {foreign} measured-attempted {measured_attempted} measured-sent {measured_sent} measured-received {measured_received} lost {} seconds {secs:.3}",
        measured_sent.saturating_sub(measured_received)
    );
    for (low, n) in hist.buckets() {
        println!("gen-hist {low} {n}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_tight() {
        let mut h = Histogram::new();
        for v in [0u64, 1, 127, 128, 129, 1000, 1_000_000, u64::MAX] {
            h.record(v);
            let low = Histogram::low(Histogram::index(v));
            assert!(low <= v, "{v}: {low}");
            assert!((v - low) as f64 <= v as f64 / 64.0 + 1.0, "{v}: {low}");
        }
        assert_eq!(h.buckets().map(|b| b.1).sum::<u64>(), 8);
        let lows: Vec<u64> = h.buckets().map(|b| b.0).collect();
        assert!(lows.windows(2).all(|w| w[0] < w[1]), "{lows:?}");
    }

    #[test]
    fn stamps_round_trip() {
        let mut f = vec![0u8; 60];
        write_stamp(&mut f, 7, 0x1122_3344_5566_7788);
        assert_eq!(read_stamp(&f), Some((7, 0x1122_3344_5566_7788)));
        // A tag pushed at the front does not move the stamp.
        let mut g = vec![0u8; 4];
        g.extend_from_slice(&f);
        assert_eq!(read_stamp(&g), Some((7, 0x1122_3344_5566_7788)));
        assert_eq!(read_stamp(&[0u8; 60]), None);
        assert_eq!(read_stamp(&[0u8; 4]), None);
    }
}
