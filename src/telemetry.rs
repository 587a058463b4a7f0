//! vfex's DPDK telemetry commands (`/vfex/...`), read with
//! `dpdk-telemetry.py -f <file-prefix>`:
//!
//! | command | answer |
//! |---|---|
//! | `/vfex/info` | version, forward mode, kernels, ports, workers, memory |
//! | `/vfex/stats` | totals: rx, tx, tx_full, drops |
//! | `/vfex/port_stats,<port>` | one port: rx, tx, tx_full |
//! | `/vfex/drops` | every drop reason with its count (all workers) |
//! | `/vfex/mempools` | per mbuf pool: `<pool>/size`, `<pool>/in_use`, `<pool>/available` |

use std::sync::Arc;

use vfex_dataplane::dpdk::telemetry::{self, TelValue};
use vfex_dataplane::dpdk::{Eal, PoolMonitor};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::fwd::WorkerCounters;

/// The commands registered by [`register`].
pub const COMMANDS: &[&str] = &[
    "/vfex/info",
    "/vfex/stats",
    "/vfex/port_stats",
    "/vfex/drops",
    "/vfex/mempools",
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
    /// The mbuf pools `/vfex/mempools` reads.
    pub pools: Vec<PoolMonitor>,
}

/// Registers `/vfex/mempools`: per pool, its size and the mbufs in use and
/// free now, as `<pool>/size`, `<pool>/in_use`, `<pool>/available` (DPDK
/// 22.11 nests only arrays in a dict). A leak shows as `in_use` that does
/// not come back down when traffic stops.
fn register_pools(eal: &Eal, pools: Vec<PoolMonitor>) -> anyhow::Result<()> {
    telemetry::register(
        eal,
        "/vfex/mempools",
        "per mbuf pool: <pool>/size, <pool>/in_use, <pool>/available",
        move |_| {
            TelValue::dict(
                pools
                    .iter()
                    .filter_map(|p| p.usage().map(|u| (p, u)))
                    .flat_map(|(p, u)| {
                        [
                            ("size", u.size),
                            ("in_use", u.in_use),
                            ("available", u.available),
                        ]
                        .map(|(k, n)| (format!("{}/{k}", p.name()), TelValue::U64(u64::from(n))))
                    }),
            )
        },
    )?;
    Ok(())
}

/// Registers the commands; they read `counters` while workers forward.
pub fn register(eal: &Eal, info: Info, counters: Arc<Vec<WorkerCounters>>) -> anyhow::Result<()> {
    let nports = info.ports.len();
    register_pools(eal, info.pools)?;
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
    unregister_roles();
}

/// One role instance as telemetry sees it.
pub struct RoleView {
    /// Instance name (`extender`, `bridge`, or the role).
    pub name: String,
    /// Its published tables.
    pub rcu: Arc<vfex_dataplane::tables::Rcu<vfex_dataplane::tables::Tables>>,
    /// Its per-worker counters.
    pub counters: Arc<[vfex_dataplane::pipeline::RoleCounters]>,
}

/// The commands of a role run (and the demo), besides `/vfex/info`:
///
/// | command | answer |
/// |---|---|
/// | `/vfex/veths` | per instance: the vEth names, in index order |
/// | `/vfex/veth,<name>` or `/vfex/veth,<instance>/<name>` | one vEth: port, id, rx/tx packets and bytes, drops |
/// | `/vfex/drops` | drops by reason, all instances |
/// | `/vfex/tables` | per instance: role, ports, vEths, table version |
/// | `/vfex/mempools` | per mbuf pool: `<pool>/size`, `<pool>/in_use`, `<pool>/available` |
/// | `/vfex/workers` | per instance and worker: `<instance>/<w>/loops`, `/stalls`, `/longest_stall_us` |
pub const ROLE_COMMANDS: &[&str] = &[
    "/vfex/info",
    "/vfex/veths",
    "/vfex/veth",
    "/vfex/drops",
    "/vfex/tables",
    "/vfex/mempools",
    "/vfex/workers",
];

/// Registers the role commands over `views`.
pub fn register_roles(eal: &Eal, info: Info, views: Vec<RoleView>) -> anyhow::Result<()> {
    let views = Arc::new(views);
    register_pools(eal, info.pools)?;
    let info = TelValue::dict([
        ("version", TelValue::Str(env!("CARGO_PKG_VERSION").into())),
        ("forward_mode", TelValue::Str(info.mode)),
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
        "vfex version, role, ports and workers",
        move |_| info.clone(),
    )?;
    let v = Arc::clone(&views);
    telemetry::register(
        eal,
        "/vfex/workers",
        "per instance and worker: poll loops, stalls (loop not running for >= 1 ms), longest stall in us",
        move |_| {
            TelValue::dict(v.iter().flat_map(|i| {
                i.counters.iter().enumerate().flat_map(move |(w, c)| {
                    [
                        ("loops", c.loops.get()),
                        ("stalls", c.stalls.get()),
                        ("longest_stall_us", c.longest_stall_us.get()),
                    ]
                    .map(|(k, n)| (format!("{}/{w}/{k}", i.name), TelValue::U64(n)))
                })
            }))
        },
    )?;
    let v = Arc::clone(&views);
    telemetry::register(eal, "/vfex/veths", "vEth names per instance", move |_| {
        TelValue::dict(v.iter().map(|i| {
            let t = i.rcu.load();
            (
                i.name.clone(),
                TelValue::Array(
                    t.veths()
                        .iter()
                        .map(|x| TelValue::Str(x.cfg.name.clone()))
                        .collect(),
                ),
            )
        }))
    })?;
    let v = Arc::clone(&views);
    telemetry::register(
        eal,
        "/vfex/veth",
        "one vEth's counters. Parameter: name, or instance/name",
        move |p| {
            let Some(p) = p.map(str::trim) else {
                return TelValue::dict([("error", TelValue::Str("give a vEth name".into()))]);
            };
            let (inst, name) = p.split_once('/').map_or((None, p), |(a, b)| (Some(a), b));
            for i in v.iter().filter(|i| inst.is_none_or(|n| n == i.name)) {
                let t = i.rcu.load();
                let Some(idx) = t.veth_index(name) else {
                    continue;
                };
                let cfg = &t.veths()[usize::from(idx)].cfg;
                let sum = |f: &dyn Fn(&vfex_dataplane::pipeline::VethCounters) -> u64| -> u64 {
                    i.counters.iter().map(|c| f(c.veth(idx))).sum()
                };
                let mut entries = vec![
                    ("instance".to_string(), TelValue::Str(i.name.clone())),
                    ("name".to_string(), TelValue::Str(cfg.name.clone())),
                    ("port".to_string(), TelValue::U64(u64::from(cfg.port))),
                    ("id".to_string(), TelValue::U64(u64::from(cfg.id))),
                    (
                        "rx_packets".to_string(),
                        TelValue::U64(sum(&|c| c.rx_pkts.get())),
                    ),
                    (
                        "rx_bytes".to_string(),
                        TelValue::U64(sum(&|c| c.rx_bytes.get())),
                    ),
                    (
                        "tx_packets".to_string(),
                        TelValue::U64(sum(&|c| c.tx_pkts.get())),
                    ),
                    (
                        "tx_bytes".to_string(),
                        TelValue::U64(sum(&|c| c.tx_bytes.get())),
                    ),
                ];
                for r in DropReason::ALL {
                    let n = sum(&|c| c.drops[r.index()].get());
                    if n > 0 {
                        entries.push((format!("drop_{}", r.name()), TelValue::U64(n)));
                    }
                }
                return TelValue::Dict(entries);
            }
            TelValue::dict([("error", TelValue::Str(format!("no vEth {p}")))])
        },
    )?;
    let v = Arc::clone(&views);
    telemetry::register(
        eal,
        "/vfex/drops",
        "packets dropped, by reason (all instances)",
        move |_| {
            TelValue::dict(DropReason::ALL.iter().map(|r| {
                let n: u64 = v
                    .iter()
                    .flat_map(|i| i.counters.iter())
                    .map(|c| c.drop(*r).get())
                    .sum();
                (r.name(), TelValue::U64(n))
            }))
        },
    )?;
    let v = views;
    telemetry::register(
        eal,
        "/vfex/tables",
        "per instance: role, ports, vEths, table version",
        move |_| {
            TelValue::dict(v.iter().map(|i| {
                let t = i.rcu.load();
                (
                    i.name.clone(),
                    TelValue::Str(format!(
                        "role {:?}, {} ports, {} vEths, version {}",
                        t.role(),
                        t.ports(),
                        t.veths().len(),
                        i.rcu.version()
                    )),
                )
            }))
        },
    )?;
    Ok(())
}

/// Removes the role commands' closures.
pub fn unregister_roles() {
    for c in ROLE_COMMANDS {
        telemetry::unregister(c);
    }
}
