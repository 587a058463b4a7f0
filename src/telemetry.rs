//! vfex's DPDK telemetry commands (`/vfex/...`), read with
//! `dpdk-telemetry.py -f <file-prefix>`:
//!
//! | command | answer |
//! |---|---|
//! | `/vfex/info` | version, forward mode, kernels, ports, workers, memory |
//! | `/vfex/stats` | totals: rx, tx, tx_full, drops |
//! | `/vfex/port_stats,<port>` | one port: rx, tx, tx_full |
//! | `/vfex/drops` | every drop reason with its count (all workers) |

use std::sync::Arc;

use vfex_dataplane::dpdk::Eal;
use vfex_dataplane::dpdk::telemetry::{self, TelValue};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::fwd::WorkerCounters;

/// The commands registered by [`register`].
pub const COMMANDS: &[&str] = &[
    "/vfex/info",
    "/vfex/stats",
    "/vfex/port_stats",
    "/vfex/drops",
];

/// What `/vfex/info` reports.
pub struct Info {
    /// Forward mode name.
    pub mode: String,
    /// Port names, by index.
    pub ports: Vec<String>,
    /// Worker lcores.
    pub workers: Vec<u32>,
    /// Whether EAL runs on hugepages.
    pub hugepages: bool,
}

/// Registers the commands; they read `counters` while workers forward.
pub fn register(eal: &Eal, info: Info, counters: Arc<Vec<WorkerCounters>>) -> anyhow::Result<()> {
    let nports = info.ports.len();
    let kernels = vfex_dataplane::kernels::Isa::detect()
        .map(|i| i.name().to_string())
        .unwrap_or_else(|e| e.to_string());
    let info = TelValue::dict([
        ("version", TelValue::Str(env!("CARGO_PKG_VERSION").into())),
        ("forward_mode", TelValue::Str(info.mode)),
        ("kernels", TelValue::Str(kernels)),
        (
            "ports",
            TelValue::Array(info.ports.into_iter().map(TelValue::Str).collect()),
        ),
        (
            "workers",
            TelValue::Array(
                info.workers
                    .iter()
                    .map(|l| TelValue::U64(u64::from(*l)))
                    .collect(),
            ),
        ),
        ("hugepages", TelValue::Int(i64::from(info.hugepages))),
    ]);
    telemetry::register(
        eal,
        "/vfex/info",
        "vfex version, mode, ports and workers",
        move |_| info.clone(),
    )?;
    let c = Arc::clone(&counters);
    telemetry::register(
        eal,
        "/vfex/stats",
        "vfex totals over all ports: rx, tx, tx_full, drops",
        move |_| {
            let (mut rx, mut tx, mut full) = (0, 0, 0);
            for p in 0..nports {
                let (r, t, f) = WorkerCounters::sum_port(&c, p);
                rx += r;
                tx += t;
                full += f;
            }
            let drops: u64 = DropReason::ALL
                .iter()
                .map(|r| WorkerCounters::sum_drops(&c, *r))
                .sum();
            TelValue::dict([
                ("rx", TelValue::U64(rx)),
                ("tx", TelValue::U64(tx)),
                ("tx_full", TelValue::U64(full)),
                ("drops", TelValue::U64(drops)),
            ])
        },
    )?;
    let c = Arc::clone(&counters);
    telemetry::register(
        eal,
        "/vfex/port_stats",
        "one port's counters. Parameter: port index",
        move |p| match p
            .and_then(|p| p.trim().parse::<usize>().ok())
            .filter(|p| *p < nports)
        {
            Some(p) => {
                let (r, t, f) = WorkerCounters::sum_port(&c, p);
                TelValue::dict([
                    ("port", TelValue::U64(p as u64)),
                    ("rx", TelValue::U64(r)),
                    ("tx", TelValue::U64(t)),
                    ("tx_full", TelValue::U64(f)),
                ])
            }
            None => TelValue::dict([(
                "error",
                TelValue::Str(format!("give a port index 0..{}", nports.saturating_sub(1))),
            )]),
        },
    )?;
    let c = counters;
    telemetry::register(
        eal,
        "/vfex/drops",
        "packets dropped, by reason",
        move |_| {
            TelValue::dict(
                DropReason::ALL
                    .iter()
                    .map(|r| (r.name(), TelValue::U64(WorkerCounters::sum_drops(&c, *r)))),
            )
        },
    )?;
    Ok(())
}

/// Removes the commands' closures (DPDK keeps the names; they then answer
/// with an error).
pub fn unregister() {
    for c in COMMANDS {
        telemetry::unregister(c);
    }
}
