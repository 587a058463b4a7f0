//! The embedded default: the real job in one process on virtual devices.
//!
//! ```text
//!  generator ─ vm1..vm4 ─┐                                   ┌─ core ─ generator
//!   (main lcore)         port extender ══ uplink wire ══ controlling bridge   (external host)
//!                        (VN-Tag or E-Tag)                  (hairpin, learning)
//! ```
//!
//! Both instances are configured from TOML through the control plane (two
//! control threads, two table sets), run behind one worker per forwarding
//! lcore ([`Pair`]: on one lcore when there is only one), and are joined by
//! in-process virtual wires (rings). A generator on the main lcore sends
//! VM-to-VM frames (which reach the other VM through the bridge: hairpin),
//! VM-to-external frames, external-to-VM frames and a broadcast now and
//! then, and counts what each end receives. Per-vEth stats every period; a
//! summary with the deliveries at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use vfex_control::compile::Compiled;
use vfex_control::control::{self as ctl, Command, ControlHandle, ControlOptions, Response};
use vfex_control::publish::DataplanePublisher;
use vfex_dataplane::dpdk::{
    self, Burst, DEFAULT_DATA_ROOM, Eal, Mempool, Port, PortConfig, QueueId, RxQueue, TxQueue,
    VirtualWire,
};
use vfex_dataplane::drop::DropReason;
use vfex_dataplane::fwd::MAX_PKT_BURST;
use vfex_dataplane::kernels::Kernels;
use vfex_dataplane::pipeline::{Bridge, Extender, Pair, RoleCounters};
use vfex_dataplane::tables::{LearnTable, Rcu, Tables};
use vfex_dataplane::worker;

use crate::options::Options;
use crate::run::RunError;

const VMS: usize = 4;
const VETH_BLOCKS: usize = 64;

fn vm_mac(i: usize) -> [u8; 6] {
    [0x02, 0, 0, 0, 0x01, i as u8 + 1]
}
const EXT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x09, 0x01];

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The two configurations (port names sort in the order the wires are
/// listed; devargs name the in-process wire ends).
fn configs(etag: bool) -> (String, String) {
    let (encap, key, list_id) = if etag {
        ("etag", "ecid", "0x1001")
    } else {
        ("vntag", "vif", "100")
    };
    let mut ext = format!(
        "role = \"port-extender\"\nencap = \"{encap}\"\n\n[ports.p0uplink]\nkind = \"uplink\"\ndevargs = \"wire-up-a\"\n"
    );
    let mut br = format!(
        "role = \"controlling-bridge\"\nencap = \"{encap}\"\n\n[ports.p0ext]\nkind = \"downlink\"\ndevargs = \"wire-up-b\"\n\n[ports.p1core]\nkind = \"uplink\"\ndevargs = \"wire-core-a\"\n"
    );
    for i in 0..VMS {
        let n = i + 1;
        ext += &format!("\n[ports.p{n}vm{n}]\nkind = \"downlink\"\ndevargs = \"wire-vm{n}-a\"\n");
    }
    for i in 0..VMS {
        let n = i + 1;
        let m = mac_text(&vm_mac(i));
        ext += &format!(
            "\n[veths.vm{n}]\nport = \"p{n}vm{n}\"\n{key} = {n}\nmac = \"{m}\"\nanti_spoof = {{ allowed_macs = [\"{m}\"] }}\n"
        );
        br += &format!("\n[veths.vm{n}]\nport = \"p0ext\"\n{key} = {n}\n");
    }
    let members = (1..=VMS)
        .map(|n| format!("\"vm{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    ext += &format!("\n[vif_lists.all]\nid = {list_id}\nmembers = [{members}]\n");
    br += &format!("\n[vif_lists.all]\nid = {list_id}\nmembers = [{members}]\n");
    (ext, br)
}

/// One role instance: its control thread and the tables it publishes.
struct Instance {
    control: ControlHandle,
    rcu: Arc<Rcu<Tables>>,
    compiled: Arc<Compiled>,
}

fn instance(
    name: &str,
    text: &str,
    (hk, workers): (usize, &[usize]),
    sysfs_root: &std::path::Path,
) -> Result<Instance, RunError> {
    let cfg = vfex_control::config::parse(name, text).map_err(|e| anyhow!("{e}"))?;
    let (publisher, slot) = DataplanePublisher::new(Duration::from_secs(2));
    let sysfs_root = sysfs_root.to_path_buf();
    let control = ctl::spawn(hk, workers, ControlOptions::default(), move || {
        let hw = crate::role::hardware(&sysfs_root)
            .map_err(|e| ctl::ControlError::Apply(format!("netlink: {e}")))?;
        ctl::Control::new(cfg, Box::new(publisher), hw)
    })
    .map_err(|e| anyhow!("{name}: {e}"))?;
    let rcu = slot
        .get()
        .cloned()
        .ok_or_else(|| anyhow!("{name}: no tables"))?;
    let compiled = match control.call(Command::ShowTables) {
        Response::Tables(c) => c,
        other => return Err(anyhow!("{name}: {other:?}").into()),
    };
    Ok(Instance {
        control,
        rcu,
        compiled,
    })
}

/// A generator end: a wire port the main lcore sends on and drains.
struct End<'p> {
    name: String,
    mac: [u8; 6],
    rx: RxQueue<'p>,
    tx: TxQueue<'p>,
    received: u64,
    /// Frames sent (accepted by the wire) that this end should receive.
    expected: u64,
    sent: u64,
    own_broadcasts: u64,
}

/// Runs the demo until the duration, a signal, or `quit` (with -i).
pub fn run(eal: &Eal, opts: &Options, stop: &AtomicBool, hugepages: bool) -> Result<(), RunError> {
    let etag = match opts.encap.as_deref() {
        None | Some("vntag") => false,
        Some("etag") => true,
        Some(e) => {
            return Err(RunError::Usage(anyhow!(
                "--encap {e}: the embedded demo runs vntag or etag"
            )));
        }
    };
    let workers_avail = eal.worker_lcores();
    if workers_avail.is_empty() {
        return Err(RunError::Usage(anyhow!(
            "no worker lcore: give EAL at least two lcores, e.g. -l 0,1 (the first is the main lcore)"
        )));
    }
    // The extender and the bridge each on its own lcore when there are
    // two, else both behind one worker.
    let nworkers = opts.nb_cores.unwrap_or(2).min(workers_avail.len()).min(2);
    let lcores = &workers_avail[..nworkers];
    // Pin by CPU, not by lcore id (`--lcores 0@1,1@0`).
    let hk = eal.lcore_cpu(eal.main_lcore());
    let wcores: Vec<usize> = lcores.iter().map(|l| eal.lcore_cpu(*l)).collect();

    let (ext_cfg, br_cfg) = configs(etag);
    let ext = instance(
        "(embedded port extender)",
        &ext_cfg,
        (hk, &wcores),
        &opts.sysfs_root,
    )?;
    let br = instance(
        "(embedded controlling bridge)",
        &br_cfg,
        (hk, &wcores),
        &opts.sysfs_root,
    )?;

    let pool = Mempool::new(eal, "vfex_pkts", 32768, 256, DEFAULT_DATA_ROOM, None)
        .context("creating the packet pool")?;
    // The wires, and their ends by devargs name.
    let mut wires = Vec::new();
    for w in ["up", "core", "vm1", "vm2", "vm3", "vm4"] {
        wires.push((
            w,
            VirtualWire::new(eal, &format!("vfexw_{w}"), 4096)
                .with_context(|| format!("wire {w}"))?,
        ));
    }
    let mut ends: HashMap<String, Port<'_>> = HashMap::new();
    for (w, wire) in &wires {
        let (a, b) = wire.ports()?;
        ends.insert(format!("wire-{w}-a"), a);
        ends.insert(format!("wire-{w}-b"), b);
    }
    let mut ports: Vec<Port<'_>> = Vec::new();
    for c in [&ext.compiled, &br.compiled] {
        for p in &c.ports {
            ports.push(
                ends.remove(&p.devargs)
                    .ok_or_else(|| anyhow!("no wire end {}", p.devargs))?,
            );
        }
    }
    let split = ext.compiled.ports.len() as u16;
    let pcfg = PortConfig {
        rx_queues: 1,
        // One worker per port in both layouts.
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        promiscuous: true,
    };
    for p in ports.iter_mut() {
        p.configure(&pool, &pcfg)?;
        p.start()?;
    }
    // Generator ends: the VMs and the external host.
    let gen_cfg = PortConfig {
        tx_queues: 1,
        ..pcfg
    };
    let mut gen_ports: Vec<(String, [u8; 6], Port<'_>)> = Vec::new();
    for i in 0..VMS {
        let p = ends
            .remove(&format!("wire-vm{}-b", i + 1))
            .ok_or_else(|| anyhow!("vm end"))?;
        gen_ports.push((format!("vm{}", i + 1), vm_mac(i), p));
    }
    let p = ends
        .remove("wire-core-b")
        .ok_or_else(|| anyhow!("core end"))?;
    gen_ports.push(("external".into(), EXT_MAC, p));
    for (_, _, p) in gen_ports.iter_mut() {
        p.configure(&pool, &gen_cfg)?;
        p.start()?;
    }
    let mut ends_gen: Vec<End<'_>> = Vec::new();
    for (name, mac, p) in &gen_ports {
        ends_gen.push(End {
            name: name.clone(),
            mac: *mac,
            rx: p.rx_queue(QueueId(0))?,
            tx: p.tx_queue(QueueId(0))?,
            received: 0,
            expected: 0,
            sent: 0,
            own_broadcasts: 0,
        });
    }

    println!(
        "vfex: no ports given: running the embedded demo: a {} port extender with {VMS} VM ports, its uplink wired to a controlling bridge with an external port; {} forwarding core(s) (lcores {}), kernels {}",
        if etag { "E-Tag" } else { "VN-Tag" },
        nworkers,
        lcores
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(","),
        Kernels::detect().map(|k| k.isa().name()).unwrap_or("?")
    );
    for (i, p) in ports.iter().enumerate() {
        let (inst, c) = if (i as u16) < split {
            ("extender", &ext.compiled.ports[i])
        } else {
            ("bridge", &br.compiled.ports[i - split as usize])
        };
        println!("port {i}: {inst} {} ({})", c.name, p.name());
    }

    let ext_counters: Arc<[RoleCounters]> = (0..nworkers)
        .map(|_| RoleCounters::new(ports.len(), VETH_BLOCKS))
        .collect();
    let br_counters: Arc<[RoleCounters]> = (0..nworkers)
        .map(|_| RoleCounters::new(ports.len(), VETH_BLOCKS))
        .collect();
    let learn = Arc::new(LearnTable::new(4096, VETH_BLOCKS));
    crate::telemetry::register_roles(
        eal,
        crate::telemetry::Info {
            mode: format!(
                "demo: port extender + controlling bridge ({})",
                ext.compiled.encap.name()
            ),
            ports: ext
                .compiled
                .ports
                .iter()
                .map(|p| format!("extender/{}", p.name))
                .chain(
                    br.compiled
                        .ports
                        .iter()
                        .map(|p| format!("bridge/{}", p.name)),
                )
                .collect(),
            workers: lcores.iter().map(|l| l.0).collect(),
            hugepages,
            pools: vec![pool.monitor()],
        },
        vec![
            crate::telemetry::RoleView {
                name: "extender".into(),
                rcu: Arc::clone(&ext.rcu),
                counters: Arc::clone(&ext_counters),
            },
            crate::telemetry::RoleView {
                name: "bridge".into(),
                rcu: Arc::clone(&br.rcu),
                counters: Arc::clone(&br_counters),
            },
        ],
    )?;
    let kernels = Kernels::detect().map_err(|e| anyhow!("{e}"))?;
    let hz = dpdk::tsc_hz();
    let start = Instant::now();
    let wstop = AtomicBool::new(false);
    // The shell (-i, --cmdline-file) talks to the extender's control
    // thread; it reads on a thread of its own while the generator runs.
    // The extender learns no MACs: its shell shows the configured ones.
    let no_learning = Arc::new(LearnTable::new(16, VETH_BLOCKS));
    let ctx = crate::role::Ctx {
        ports: &ports[..usize::from(split)],
        counters: &ext_counters,
        control: &ext.control,
        rcu: &ext.rcu,
        learn: &no_learning,
        nworkers,
        config_path: None,
        started: start,
    };
    let mut sh = crate::role::Shell::new(opts)?;
    let mut monitor = || {
        if sh.run_startup_file(&ctx).is_some() {
            wstop.store(true, Ordering::Relaxed);
            return;
        }
        let lines = sh.spawn_reader();
        if lines.is_some() {
            println!(
                "demo running; shell commands act on the port extender (help, show veth stats, quit)"
            );
        }
        let quiet = Options {
            stats_period: if opts.interactive {
                None
            } else {
                opts.stats_period
            },
            ..opts.clone()
        };
        generate(
            &mut ends_gen,
            &pool,
            &quiet,
            stop,
            start,
            |t| {
                print_veths(t, &ext, &ext_counters, "extender");
                print_veths(t, &br, &br_counters, "bridge");
            },
            || {
                let Some(rx) = &lines else {
                    return false;
                };
                loop {
                    match rx.try_recv() {
                        Ok(line) => {
                            if let Some(o) = sh.exec(&ctx, &line, true) {
                                if o != crate::role::Outcome::Start {
                                    return true;
                                }
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Empty) => return false,
                        // End of input: quit.
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => return true,
                    }
                }
            },
        );
        // Let the workers deliver what is in flight: drain the ends until
        // every frame addressed to them arrived or was counted as a drop
        // (floods before learning make more arrive, never fewer), or
        // nothing moved for 1.5 s (a worker sharing its CPU with other
        // busy processes can go that long unscheduled; at most 5 s in all),
        // then stop them.
        let lost = || -> u64 {
            ext_counters
                .iter()
                .chain(br_counters.iter())
                .map(|c| {
                    (0..c.ports()).map(|p| c.port(p).tx_full.get()).sum::<u64>()
                        + DropReason::ALL
                            .iter()
                            .map(|r| c.drop(*r).get())
                            .sum::<u64>()
                })
                .sum()
        };
        let t0 = Instant::now();
        let mut last = (Instant::now(), u64::MAX);
        while t0.elapsed() < Duration::from_secs(5) {
            for e in ends_gen.iter_mut() {
                drain(e);
            }
            let got: u64 = ends_gen.iter().map(|e| e.received).sum();
            let missing: u64 = ends_gen
                .iter()
                .map(|e| e.expected.saturating_sub(e.received))
                .sum();
            if missing <= lost() {
                break;
            }
            if got != last.1 {
                last = (Instant::now(), got);
            } else if last.0.elapsed() >= Duration::from_millis(1500) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        wstop.store(true, Ordering::Relaxed);
    };
    if lcores.len() >= 2 {
        // Each instance on its own lcore, over its own ports.
        let (ext_ports, br_ports) = ports.split_at(usize::from(split));
        let mut qe = worker::plan(ext_ports, 1)?;
        let mut qb = worker::plan(br_ports, 1)?;
        let tsc = dpdk::Tsc::new(eal);
        let (pool_r, wstop_r, burst) = (&pool, &wstop, opts.burst);
        let (ec, bc) = (&ext_counters[0], &br_counters[0]);
        let pe = Extender::new(ext.rcu.reader(), kernels, hz, dpdk::rdtsc());
        let pb = Bridge::new(
            br.rcu.reader(),
            Arc::clone(&learn),
            kernels,
            hz,
            dpdk::rdtsc(),
        );
        eal.scope(|s| -> Result<(), RunError> {
            let qe0 = &mut qe[0];
            let qb0 = &mut qb[0];
            let he = s.launch(lcores[0], move || {
                worker::run_burst(pe, qe0, pool_r, ec, wstop_r, tsc, burst)
            });
            let hb = s.launch(lcores[1], move || {
                worker::run_burst(pb, qb0, pool_r, bc, wstop_r, tsc, burst)
            });
            monitor();
            wstop.store(true, Ordering::Relaxed);
            for h in [he, hb] {
                h?.join()?;
            }
            Ok(())
        })?;
    } else {
        // One lcore: both instances behind one worker.
        worker::launch_burst(
            eal,
            &ports,
            &lcores[..1],
            &pool,
            opts.burst,
            |w| {
                Pair::new(
                    Extender::new(ext.rcu.reader(), kernels, hz, dpdk::rdtsc()),
                    Bridge::new(
                        br.rcu.reader(),
                        Arc::clone(&learn),
                        kernels,
                        hz,
                        dpdk::rdtsc(),
                    ),
                    split,
                    Arc::clone(&br_counters),
                    w,
                )
            },
            &ext_counters,
            &wstop,
            monitor,
        )?;
    }
    // Drain what is still in flight.
    std::thread::sleep(Duration::from_millis(20));
    for e in ends_gen.iter_mut() {
        drain(e);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("\n  ---------------------- Demo summary ({secs:.2} s) ----------------------");
    for e in &ends_gen {
        println!(
            "  {:<9} sent {:>10}  received {:>10} of {:>10} addressed to it  own broadcasts received {}",
            e.name, e.sent, e.received, e.expected, e.own_broadcasts
        );
    }
    summary_veths(&ext, &ext_counters, "extender");
    summary_veths(&br, &br_counters, "bridge");
    let tx_full: u64 = ext_counters
        .iter()
        .chain(br_counters.iter())
        .map(|c| {
            (0..ports.len())
                .map(|p| c.port(p).tx_full.get())
                .sum::<u64>()
        })
        .sum();
    if tx_full > 0 {
        println!("  dropped tx_full          {tx_full}");
    }
    for r in DropReason::ALL {
        let n: u64 = ext_counters
            .iter()
            .chain(br_counters.iter())
            .map(|c| c.drop(r).get())
            .sum();
        if n > 0 {
            println!("  dropped {:<16} {n}", r.name());
        }
    }
    println!(
        "  learned MACs (bridge): {}",
        learn
            .entries()
            .iter()
            .map(|(m, _, v, _)| format!(
                "{m}@{}",
                br.rcu
                    .load()
                    .veth(*v)
                    .map(|x| x.cfg.name.as_str())
                    .unwrap_or("?")
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("  -------------------------------------------------------------------------");
    drop(ends_gen);
    for p in ports
        .iter_mut()
        .chain(gen_ports.iter_mut().map(|g| &mut g.2))
    {
        p.stop().ok();
    }
    drop(gen_ports);
    drop(ports);
    drop(ends);
    drop(wires);
    ext.control.shutdown();
    br.control.shutdown();
    let in_use = pool.in_use();
    if in_use != 0 {
        eprintln!("vfex: warning: {in_use} mbufs still in use at the end of the demo");
    }
    Ok(())
}

fn frame(dst: [u8; 6], src: [u8; 6], seq: u32) -> [u8; 60] {
    let mut f = [0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

fn drain(e: &mut End<'_>) {
    let mut b: Burst<MAX_PKT_BURST> = Burst::new();
    loop {
        let n = e.rx.rx_burst(&mut b);
        if n == 0 {
            break;
        }
        for m in b.as_slice() {
            let d = m.data();
            if d.len() >= 12 && d[..6] == [0xff; 6] && d[6..12] == e.mac {
                e.own_broadcasts += 1;
            }
        }
        e.received += n as u64;
        b.clear();
    }
}

/// The main lcore: sends a round of frames every 100 us (each VM to the
/// next VM and to the external host, the external host to every VM, a
/// broadcast from a VM every 1000 rounds), drains every end, prints the
/// stats each period, until the duration or a signal.
fn generate(
    ends_gen: &mut [End<'_>],
    pool: &Mempool<'_>,
    opts: &Options,
    stop: &AtomicBool,
    start: Instant,
    mut stats: impl FnMut(Duration),
    mut tick: impl FnMut() -> bool,
) {
    let deadline = if opts.interactive {
        None
    } else {
        opts.duration.map(|d| start + d)
    };
    let mut next_stats = opts.stats_period.map(|p| start + p);
    let mut seq = 0u32;
    let ext = ends_gen.len() - 1;
    loop {
        if stop.load(Ordering::Relaxed) {
            println!("\nvfex: signal received, stopping");
            return;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || tick() {
            return;
        }
        seq = seq.wrapping_add(1);
        for i in 0..ends_gen.len() {
            // (frame, destination end; None: broadcast to every other end)
            let mut frames: Vec<([u8; 60], Option<usize>)> = Vec::with_capacity(8);
            if i < ext {
                let me = ends_gen[i].mac;
                let peer = (i + 1) % ext;
                frames.push((frame(ends_gen[peer].mac, me, seq), Some(peer))); // hairpin
                frames.push((frame(EXT_MAC, me, seq), Some(ext))); // to the external host
                if seq % 1000 == i as u32 {
                    frames.push((frame([0xff; 6], me, seq), None));
                }
            } else {
                for (v, vm) in ends_gen.iter().take(ext).enumerate() {
                    frames.push((frame(vm.mac, EXT_MAC, seq), Some(v)));
                }
            }
            let mut b: Burst<MAX_PKT_BURST> = Burst::new();
            if !pool.alloc_bulk(&mut b, frames.len()) {
                break;
            }
            for (m, f) in b.as_mut_slice().iter_mut().zip(&frames) {
                let _ = m.set_data(&f.0);
            }
            let n = ends_gen[i].tx.tx_burst(&mut b);
            ends_gen[i].sent += n as u64;
            for (_, dst) in &frames[..n] {
                match dst {
                    Some(d) => ends_gen[*d].expected += 1,
                    None => {
                        for (j, e) in ends_gen.iter_mut().enumerate() {
                            if j != i {
                                e.expected += 1;
                            }
                        }
                    }
                }
            }
            // Unsent frames are freed with the burst.
        }
        for e in ends_gen.iter_mut() {
            drain(e);
        }
        if let Some(n) = next_stats
            && now >= n
        {
            stats(now - start);
            let line: Vec<String> = ends_gen
                .iter()
                .map(|e| format!("{} {}/{}", e.name, e.received, e.sent))
                .collect();
            println!(
                "[{:>7.1} s] generator received/sent: {}",
                (now - start).as_secs_f64(),
                line.join("  ")
            );
            next_stats = opts.stats_period.map(|p| n + p);
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn veth_sum(c: &[RoleCounters], v: u16) -> (u64, u64, u64) {
    c.iter().fold((0, 0, 0), |a, c| {
        let b = c.veth(v);
        (
            a.0 + b.rx_pkts.get(),
            a.1 + b.tx_pkts.get(),
            a.2 + b.drops.iter().map(|d| d.get()).sum::<u64>(),
        )
    })
}

fn print_veths(t: Duration, inst: &Instance, c: &[RoleCounters], what: &str) {
    let tables = inst.rcu.load();
    let line: Vec<String> = tables
        .veths()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (r, x, d) = veth_sum(c, i as u16);
            format!("{} {r}/{x}/{d}", v.cfg.name)
        })
        .collect();
    println!(
        "[{:>7.1} s] {what} veths from-vm/to-vm/drops: {}",
        t.as_secs_f64(),
        line.join("  ")
    );
}

fn summary_veths(inst: &Instance, c: &[RoleCounters], what: &str) {
    let tables = inst.rcu.load();
    for (i, v) in tables.veths().iter().enumerate() {
        let (r, x, d) = veth_sum(c, i as u16);
        println!(
            "  {what:<8} veth {:<10} from-vm {r:>10}  to-vm {x:>10}  drops {d}",
            v.cfg.name
        );
    }
}
